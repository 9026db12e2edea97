//! The idempotency key template: literal text and `${path}` references into the event. A
//! reference that is missing, null, or not a scalar is an error, never an empty string: two
//! events would otherwise share a key and the CRM would drop one of them as a duplicate.
//!
//! A path is dotted segments; a segment that is a whole number indexes an array
//! (`${participants.0.id}`), as it does in lint's and the rule matcher's reading of events. This
//! one type serves the machine (rendering), lint (`vars()`) and DLQ replay.

use serde_json::Value;

/// A parsed `${path}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Path(Vec<String>),
}

/// Why a template did not parse or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `${{` at character {0}")]
    Unclosed(usize),
    #[error("empty reference `${{}}` at character {0}")]
    Empty(usize),
    #[error("`${{{0}}}` is missing from the event")]
    Missing(String),
    #[error("`${{{0}}}` is not a string, number or boolean")]
    NotScalar(String),
}

impl Template {
    /// Parses a template. `$${` is not special: only `${` opens a reference.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find("${") {
            if i > 0 {
                parts.push(Part::Text(rest[..i].to_string()));
            }
            let after = &rest[i + 2..];
            let close = after.find('}').ok_or(TemplateError::Unclosed(offset + i))?;
            let path = after[..close].trim();
            if path.is_empty() {
                return Err(TemplateError::Empty(offset + i));
            }
            parts.push(Part::Path(path.split('.').map(str::to_string).collect()));
            let consumed = i + 2 + close + 1;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The `${path}` variables, dotted, in order (`interaction.id`, `event.type`).
    pub fn vars(&self) -> impl Iterator<Item = String> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Path(segs) => Some(segs.join(".")),
            Part::Text(_) => None,
        })
    }

    /// The template's literal text with `placeholder` for every `${path}` (lint's reading of the
    /// part every key shares).
    pub fn render_literal(&self, placeholder: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Path(_) => placeholder,
            })
            .collect()
    }

    /// Renders the key for one event.
    pub fn render(&self, event: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Path(segs) => {
                    let mut v = event;
                    for s in segs {
                        let next = match v {
                            Value::Object(m) => m.get(s),
                            Value::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get(i)),
                            _ => None,
                        };
                        v = match next {
                            Some(x) => x,
                            None => return Err(TemplateError::Missing(segs.join("."))),
                        };
                    }
                    match v {
                        Value::String(s) => out.push_str(s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                        Value::Null => return Err(TemplateError::Missing(segs.join("."))),
                        _ => return Err(TemplateError::NotScalar(segs.join("."))),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The idempotency key of a batch request: its members' keys, in the batch's order, joined
/// with `,` (what the CRM sees in the header, and what every attempt and a DLQ replay of the
/// batch carry). The one spelling of the join: the machine's batches, lint's CX036 (a full
/// batch's key against the header limit) and the tests ask it.
pub fn batch_key<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k.as_ref());
    }
    out
}

/// Why `key` cannot be sent as the value of the `header` header byte for byte (a phrase that
/// follows "the idempotency key"), or `None` when it can. A header value is visible ASCII, spaces
/// and tabs (RFC 9110 §5.5): a control character would end the header, and bytes above ASCII are
/// obsolete text that clients refuse or re-encode and servers decode as they please (Latin-1,
/// UTF-8, or a 400), so the CRM would hold another key than the one rendered, or none. A space or
/// tab at either end is stripped by the receiving parser, so `a` and `a ` would arrive as one key.
/// The one judgement of the machine (which dead-letters such an event unsent, in every driver),
/// lint (CX036) and `dlq replay`.
pub fn unsendable(key: &str, header: &str) -> Option<String> {
    let bad = key
        .chars()
        .enumerate()
        .find(|(_, c)| !(matches!(c, ' '..='~') || *c == '\t'));
    if let Some((i, c)) = bad {
        let code = u32::from(c);
        let at = i + 1;
        return Some(if c.is_ascii() {
            format!(
                "holds the control character U+{code:04X} at character {at}, which the {header} \
                 header cannot carry"
            )
        } else {
            // A letter is shown; anything else (an emoji, a bidi mark, a space) by its code only.
            let shown = if c.is_alphanumeric() {
                format!(" (`{c}`)")
            } else {
                String::new()
            };
            format!(
                "holds the non-ASCII character U+{code:04X}{shown} at character {at}, which the \
                 {header} header cannot carry as it is (header values are ASCII, RFC 9110 §5.5)"
            )
        });
    }
    let ends = [' ', '\t'];
    if key.starts_with(ends) || key.ends_with(ends) {
        return Some(format!(
            "{} with a space or tab, which the server strips from the {header} header, so it \
             would hold another key",
            if key.starts_with(ends) {
                "starts"
            } else {
                "ends"
            }
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_batch_key_is_its_members_keys_in_order_with_a_comma_between_two() {
        assert_eq!(batch_key(["a", "b", "c"]), "a,b,c");
        assert_eq!(batch_key(["INT-1_x"]), "INT-1_x");
        assert_eq!(batch_key(Vec::<String>::new()), "");
        // n keys of length l: n × l + (n − 1) bytes, what CX036 measures a full batch by.
        for (n, l) in [(1usize, 1usize), (2, 26), (148, 54), (1000, 8)] {
            let key = "k".repeat(l);
            assert_eq!(batch_key(std::iter::repeat_n(&key, n)).len(), n * l + n - 1);
        }
    }

    /// The loader (E403) and this parser read one template two ways: the loader with spans for
    /// its messages, the machine to render. Whatever the loader lets through must parse here
    /// with the same event paths, array indices included, or a valid spec would fail at run time.
    #[test]
    fn every_key_the_loader_accepts_parses_with_the_same_paths() {
        use crate::spec::interp::{scan, RefKind};
        for key in [
            "${interaction.id}_${event.type}",
            "${participants.0.id}-${event.type}",
            "crm:${interaction.id}",
            "${a_b.c-d}${e}",
            "${interaction.id}_${env:SUFFIX}",
            "${interaction..id}",
            "${ interaction.id }",
            "${}",
            "${interaction.id",
            "${interaction.id}}",
            "constant",
            "${VAULT_SECRET:X}_${interaction.id}",
            "${a${b}}",
        ] {
            let text = format!("idempotency:\n  key: \"{key}\"\n");
            let d = crate::spec::yaml::parse(&text).unwrap();
            if !crate::spec::checks::check_idempotency_template(&d.value, &d.map).is_empty() {
                continue;
            }
            let loader: Vec<String> = scan(key)
                .unwrap()
                .iter()
                .filter_map(|r| match r.kind() {
                    RefKind::Event(p) => Some(p.to_string()),
                    _ => None,
                })
                .collect();
            let t = Template::parse(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            let ours: Vec<String> = t.vars().filter(|v| !v.starts_with("env:")).collect();
            assert_eq!(ours, loader, "{key}");
        }
    }

    #[test]
    fn renders_the_guide_template() {
        let t = Template::parse("${interaction.id}_${event.type}").unwrap();
        let e = json!({"interaction": {"id": 918273645}, "event": {"type": "interaction.ended"}});
        assert_eq!(t.render(&e).unwrap(), "918273645_interaction.ended");
    }

    #[test]
    fn a_missing_or_null_variable_is_an_error_not_an_empty_string() {
        let t = Template::parse("${interaction.id}_${agent.id}").unwrap();
        let e = json!({"interaction": {"id": 1}});
        assert_eq!(t.render(&e), Err(TemplateError::Missing("agent.id".into())));
        let e = json!({"interaction": {"id": 1}, "agent": {"id": null}});
        assert_eq!(t.render(&e), Err(TemplateError::Missing("agent.id".into())));
    }

    #[test]
    fn an_object_is_not_a_key() {
        let t = Template::parse("${agent}").unwrap();
        assert_eq!(
            t.render(&json!({"agent": {"id": 1}})),
            Err(TemplateError::NotScalar("agent".into()))
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert_eq!(Template::parse("a_${x"), Err(TemplateError::Unclosed(2)));
        assert_eq!(Template::parse("${ }"), Err(TemplateError::Empty(0)));
    }

    /// Lint read `${participants.0.id}` as the first participant's id and the machine as a key
    /// `"0"` of an array, so lint passed a spec whose every event sim dead-lettered.
    #[test]
    fn a_whole_number_segment_indexes_an_array() {
        let t = Template::parse("${participants.0.id}_${event.type}").unwrap();
        let e = json!({"participants": [{"id": "a1"}, {"id": "a2"}], "event": {"type": "t"}});
        assert_eq!(t.render(&e).unwrap(), "a1_t");
        let one = json!({"participants": [], "event": {"type": "t"}});
        assert_eq!(
            t.render(&one),
            Err(TemplateError::Missing("participants.0.id".into()))
        );
        let obj = json!({"participants": {"0": {"id": "k"}}, "event": {"type": "t"}});
        assert_eq!(t.render(&obj).unwrap(), "k_t", "on an object it is a key");
    }

    #[test]
    fn vars_are_the_paths_in_order() {
        let t = Template::parse("${interaction.id}_${event.type}_${agent.id}").unwrap();
        assert_eq!(
            t.vars().collect::<Vec<_>>(),
            vec!["interaction.id", "event.type", "agent.id"]
        );
        assert_eq!(Template::parse("static").unwrap().vars().count(), 0);
    }

    #[test]
    fn literal_text_only_is_allowed() {
        let t = Template::parse("static").unwrap();
        assert_eq!(t.render(&json!({})).unwrap(), "static");
    }

    #[test]
    fn a_key_is_sendable_only_as_visible_ascii_spaces_and_tabs_inside() {
        for ok in [
            "918273645_interaction.ended",
            "a b\tc",
            "~!#$%&'*+-.^_`|",
            "",
        ] {
            assert_eq!(unsendable(ok, "X-Key"), None, "{ok:?}");
        }
        for (bad, says) in [
            ("a\nb", "control character U+000A at character 2"),
            ("\u{7f}", "control character U+007F at character 1"),
            ("a\u{0}", "control character U+0000 at character 2"),
            (
                "INT-1/Zoë Åström",
                "non-ASCII character U+00EB (`ë`) at character 9",
            ),
            ("k-李", "non-ASCII character U+674E (`李`) at character 3"),
            ("k-🐉", "non-ASCII character U+1F409 at character 3"),
            ("\u{a0}k", "non-ASCII character U+00A0 at character 1"),
            (" k", "starts with a space or tab"),
            ("k\t", "ends with a space or tab"),
        ] {
            let why = unsendable(bad, "X-Key").unwrap_or_else(|| panic!("{bad:?} passed"));
            assert!(why.contains(says), "{bad:?}: {why}");
            assert!(why.contains("X-Key header"), "{why}");
        }
    }
}
