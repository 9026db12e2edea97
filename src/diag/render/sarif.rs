//! SARIF 2.1.0 (OASIS), written by hand with serde_json: the log GitHub code scanning and most
//! review tools ingest. Every rule of the catalogue is listed in `tool.driver.rules` so a viewer
//! can show a rule's documentation even for results it did not see before.

use serde_json::{json, Map, Value};

use super::{Diagnostic, RenderExtra, Severity};

/// The schema URI written into `$schema`.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A relative file path as a URI reference: forward slashes, and the few characters that cannot
/// appear raw in a URI percent-encoded.
pub fn uri_of(path: &std::path::Path) -> String {
    let s = super::shown_path(path).replace('\\', "/");
    crate::diag::xml::replace_chars(&s, |ch| match ch {
        '%' => Some("%25"),
        ' ' => Some("%20"),
        '#' => Some("%23"),
        '?' => Some("%3F"),
        '[' => Some("%5B"),
        ']' => Some("%5D"),
        _ => None,
    })
}

pub(super) fn render(diags: &[Diagnostic], extra: &RenderExtra) -> String {
    let rules: Vec<Value> = extra
        .rules
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.summary },
                "help": { "text": r.help, "markdown": r.help },
                "defaultConfiguration": { "level": level(r.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(h) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(h);
            }
            let mut r = Map::new();
            r.insert("ruleId".into(), json!(d.code));
            if let Some(i) = extra.rules.iter().position(|m| m.code == d.code) {
                r.insert("ruleIndex".into(), json!(i));
            }
            r.insert("level".into(), json!(level(d.severity)));
            r.insert("message".into(), json!({ "text": text }));
            if let Some(file) = &d.file {
                let mut phys = Map::new();
                phys.insert("artifactLocation".into(), json!({ "uri": uri_of(file) }));
                if let Some(s) = d.span {
                    let start_line = s.start.line.max(1);
                    let start_col = s.start.column.max(1);
                    let (end_line, end_col) = if s.end.line < start_line
                        || (s.end.line == start_line && s.end.column < start_col)
                    {
                        (start_line, start_col)
                    } else {
                        (s.end.line, s.end.column.max(1))
                    };
                    phys.insert(
                        "region".into(),
                        json!({
                            "startLine": start_line,
                            "startColumn": start_col,
                            "endLine": end_line,
                            "endColumn": end_col,
                        }),
                    );
                }
                r.insert(
                    "locations".into(),
                    json!([{ "physicalLocation": Value::Object(phys) }]),
                );
            }
            Value::Object(r)
        })
        .collect();
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "cxsync",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "invocations": [{ "executionSuccessful": true }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    s.push('\n');
    s
}
