//! JUnit XML: one test suite per checked file, one failing test case per finding, and one passing
//! case for a clean file, so CI test-report views show lint next to the tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::{Diagnostic, RenderExtra, Severity};

/// Escapes text for XML attribute values and character data.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn render(diags: &[Diagnostic], extra: &RenderExtra) -> String {
    let mut by_file: BTreeMap<Option<PathBuf>, Vec<&Diagnostic>> = BTreeMap::new();
    for f in &extra.files {
        by_file.entry(Some(f.clone())).or_default();
    }
    for d in diags {
        by_file.entry(d.file.clone()).or_default().push(d);
    }
    let name = if extra.tool.is_empty() {
        "cxsync"
    } else {
        extra.tool.as_str()
    };
    let failures = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let tests: usize = by_file.values().map(|v| v.len().max(1)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">",
        xml(name)
    );
    for (file, ds) in &by_file {
        let fname = file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_else(|| "<input>".into());
        let fails = ds.iter().filter(|d| d.severity == Severity::Error).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"0\">",
            xml(&fname),
            ds.len().max(1)
        );
        if ds.is_empty() {
            let _ = writeln!(
                out,
                "    <testcase name=\"no findings\" classname=\"{}\"/>",
                xml(&fname)
            );
        }
        for d in ds {
            let loc = d
                .span
                .map(|s| format!("{}:{}", s.start.line, s.start.column))
                .unwrap_or_default();
            let case = format!("{} {fname}:{loc}", d.code);
            let mut body = format!("{fname}:{loc}: {}", d.message);
            if let Some(h) = &d.help {
                body.push_str("\nhelp: ");
                body.push_str(h);
            }
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\">",
                xml(&case),
                xml(&fname)
            );
            // Warnings are reported but do not fail the case; `--deny warnings` decides the exit code.
            let tag = if d.severity == Severity::Error {
                "failure"
            } else {
                "system-out"
            };
            if tag == "failure" {
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    xml(&d.message),
                    xml(&d.code),
                    xml(&body)
                );
            } else {
                let _ = writeln!(
                    out,
                    "      <system-out>{}: {}</system-out>",
                    d.severity.as_str(),
                    xml(&body)
                );
            }
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_files_pass_and_findings_fail_with_escaped_text() {
        let extra = RenderExtra {
            tool: "cxsync lint".into(),
            rules: vec![],
            files: vec!["a.yaml".into(), "b.yaml".into()],
        };
        let d = Diagnostic::error("CX004", "header <Authorization> & co").in_file("b.yaml");
        let x = render(&[d], &extra);
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(x.contains("<testcase name=\"no findings\" classname=\"a.yaml\"/>"));
        assert!(x.contains("header &lt;Authorization&gt; &amp; co"));
    }
}
