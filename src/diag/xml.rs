//! XML output, written once: the escaper every XML writer uses (JUnit reports, the simulator's
//! SVG timeline) and the JUnit report model that `lint --format junit` and `test --junit` fill.
//!
//! JUnit has no formal standard; this writes the shape CI test-report views read (Jenkins,
//! GitLab, GitHub test reporters): `<testsuites>` of `<testsuite>` of `<testcase>`, a failing case
//! holding `<failure message type>`, a warning as `<system-out>`. `quick-junit` (nextest's writer)
//! was evaluated: it writes the same elements with its own attribute set and order, which would
//! change every byte of both reports, which are checked as text, for no gain in what a CI view
//! shows.

use std::fmt::Write as _;

/// Escapes text for XML attribute values and character data. Control characters other than tab,
/// newline and carriage return are not allowed in XML 1.0, escaped or not: they become U+FFFD.
pub fn escape(s: &str) -> String {
    replace_chars(s, |ch| match ch {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => Some("\u{FFFD}"),
        _ => None,
    })
}

/// `s` with every character that `replacement` names replaced by its text (the escapers of
/// XML here and of URIs in SARIF).
pub fn replace_chars(s: &str, replacement: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match replacement(ch) {
            Some(r) => out.push_str(r),
            None => out.push(ch),
        }
    }
    out
}

/// A JUnit report: suites of cases.
#[derive(Debug, Clone, Default)]
pub struct Junit {
    pub name: String,
    pub suites: Vec<Suite>,
}

/// One `<testsuite>`.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

/// One `<testcase>`: its attributes in the order written (`name`, `classname`, `file`, …; the
/// reports checked as text fix their order) and its result.
#[derive(Debug, Clone, Default)]
pub struct Case {
    pub attrs: Vec<(&'static str, String)>,
    pub result: CaseResult,
}

/// What a case came to.
#[derive(Debug, Clone, Default)]
pub enum CaseResult {
    #[default]
    Passed,
    /// Failed: a one-line message, an optional type (a code) and the full text.
    Failed {
        message: String,
        kind: Option<String>,
        text: String,
    },
    /// Passed with something to show (a warning).
    Output(String),
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.result, CaseResult::Failed { .. }))
            .count()
    }
}

impl Junit {
    /// The report as XML text.
    pub fn to_xml(&self) -> String {
        let tests: usize = self.suites.iter().map(|s| s.cases.len()).sum();
        let failures: usize = self.suites.iter().map(Suite::failures).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">",
            escape(&self.name)
        );
        for s in &self.suites {
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
                escape(&s.name),
                s.cases.len(),
                s.failures()
            );
            for c in &s.cases {
                out.push_str("    <testcase");
                for (k, v) in &c.attrs {
                    let _ = write!(out, " {k}=\"{}\"", escape(v));
                }
                match &c.result {
                    CaseResult::Passed => out.push_str("/>\n"),
                    CaseResult::Failed {
                        message,
                        kind,
                        text,
                    } => {
                        let kind = kind
                            .as_ref()
                            .map(|k| format!(" type=\"{}\"", escape(k)))
                            .unwrap_or_default();
                        let _ = writeln!(
                            out,
                            ">\n      <failure message=\"{}\"{kind}>{}</failure>\n    </testcase>",
                            escape(message),
                            escape(text)
                        );
                    }
                    CaseResult::Output(text) => {
                        let _ = writeln!(
                            out,
                            ">\n      <system-out>{}</system-out>\n    </testcase>",
                            escape(text)
                        );
                    }
                }
            }
            let _ = writeln!(out, "  </testsuite>");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\t"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}\t"
        );
    }

    #[test]
    fn counts_add_up_and_cases_render_by_result() {
        let j = Junit {
            name: "t".into(),
            suites: vec![Suite {
                name: "s".into(),
                cases: vec![
                    Case {
                        attrs: vec![("name", "ok".into()), ("classname", "c".into())],
                        ..Case::default()
                    },
                    Case {
                        attrs: vec![
                            ("name", "bad".into()),
                            ("classname", "c".into()),
                            ("file", "f.json".into()),
                        ],
                        result: CaseResult::Failed {
                            message: "m".into(),
                            kind: Some("CX1".into()),
                            text: "long".into(),
                        },
                    },
                ],
            }],
        };
        let x = j.to_xml();
        assert!(
            x.contains("<testsuites name=\"t\" tests=\"2\" failures=\"1\" errors=\"0\">"),
            "{x}"
        );
        assert!(x.contains("<testcase name=\"ok\" classname=\"c\"/>"), "{x}");
        assert!(x.contains("<testcase name=\"bad\" classname=\"c\" file=\"f.json\">\n      <failure message=\"m\" type=\"CX1\">long</failure>\n    </testcase>"), "{x}");
    }
}
