//! Snapshot files of `cxsync test`: one readable file per (spec, rule, fixture).
//!
//! A snapshot is a few `#` header lines naming the spec, rule, fixture, frozen instant and outcome,
//! then the output as pretty JSON with keys in the order the transform produced them. Filtered
//! events are snapshots too (`# outcome: filtered` and the condition that failed), so a change to
//! a rule's conditions shows up in review like a change to its mapping.
//!
//! A changed or missing snapshot leaves `NAME.snap.new` beside `NAME.snap`; accepting renames it.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// What a fixture produced.
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureResult {
    /// The transform's output (after redaction).
    Output(Value),
    /// The transform produced JSONata's undefined: nothing would be sent.
    Undefined,
    /// The rule's event type or conditions dropped the event; the text says which.
    Filtered(String),
}

/// The header of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The spec's file name and `name`.
    pub spec: String,
    /// The rule's id and name.
    pub rule: String,
    /// The fixture path relative to the spec's folder.
    pub fixture: String,
    /// The frozen `$now()`.
    pub now: String,
}

/// The snapshot text for an outcome. Every line is [`crate::diag::printable`]: a bidi override or
/// isolate in an event's text (U+202E) would reorder the lines a reviewer reads in a pull
/// request ("Trojan Source"), and a control character act on their terminal; in the JSON they
/// are written `\u202e`, the same value (tester #199).
pub fn render(header: &Header, outcome: &FixtureResult) -> String {
    printable_lines(&render_raw(header, outcome))
}

/// Each line of `text` through [`crate::diag::printable`] (a JSON text holds no raw newline
/// inside a string, so escaping line by line keeps it the same JSON).
fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(crate::diag::printable)
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_raw(header: &Header, outcome: &FixtureResult) -> String {
    let mut s = String::new();
    s.push_str("# cxsync snapshot\n");
    s.push_str(&format!("# spec: {}\n", one_line(&header.spec)));
    s.push_str(&format!("# rule: {}\n", one_line(&header.rule)));
    s.push_str(&format!("# fixture: {}\n", one_line(&header.fixture)));
    s.push_str(&format!("# now: {}\n", header.now));
    match outcome {
        FixtureResult::Output(v) => {
            s.push_str("# outcome: output\n");
            // `JSON.stringify(v, null, 2)`: the text jsonata-js and `cxsync eval` print.
            s.push_str(&crate::transform::json::to_pretty(v));
            s.push('\n');
        }
        FixtureResult::Undefined => s.push_str(&format!(
            "# outcome: undefined ({})\n",
            super::transformed::NOTHING_SENT
        )),
        FixtureResult::Filtered(why) => {
            s.push_str("# outcome: filtered\n");
            s.push_str(&format!("# filtered by: {}\n", one_line(why)));
        }
    }
    s
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// How a rendered snapshot compares with the file on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Same bytes.
    Matches,
    /// No snapshot yet.
    Missing,
    /// The snapshot differs; the unified diff (old → new) is attached.
    Changed(String),
}

/// The `.new` file beside a snapshot.
pub fn new_path(snap: &Path) -> PathBuf {
    let mut s = snap.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// Compares `text` with the snapshot at `path`.
pub fn compare(path: &Path, text: &str) -> std::io::Result<Status> {
    match std::fs::read_to_string(path) {
        Ok(old) if old == text => Ok(Status::Matches),
        Ok(old) => Ok(Status::Changed(diff(&old, text, path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Status::Missing),
        Err(e) => Err(e),
    }
}

/// A unified diff of two snapshot texts, labelled with the snapshot path.
pub fn diff(old: &str, new: &str, path: &Path) -> String {
    let old_label = format!("{} (committed)", path.display());
    let new_label = format!("{} (new)", new_path(path).display());
    // A committed snapshot written before its characters were escaped is shown escaped too.
    let text = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&old_label, &new_label)
        .to_string();
    printable_lines(&text)
}

/// Writes the pending `.new` file for a failed comparison.
pub fn write_pending(path: &Path, text: &str) -> std::io::Result<()> {
    crate::fsutil::write_atomic(&new_path(path), text.as_bytes())
}

/// Accepts `text` as the snapshot and removes any pending `.new` file.
pub fn accept(path: &Path, text: &str) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, text.as_bytes())?;
    remove_pending(path)
}

/// Removes the pending `.new` file, if any.
pub fn remove_pending(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(new_path(path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Replaces each redacted field of `output` with `"[redacted]"`. A redaction is a JSON pointer
/// (`/metadata/queueName`) or a dotted path (`metadata.queueName`); fields that are absent stay
/// absent, so a redaction never invents a field.
pub fn redact(output: &mut Value, redactions: &[String]) {
    for r in redactions {
        let pointer = to_pointer(r);
        if let Some(v) = output.pointer_mut(&pointer) {
            *v = Value::String("[redacted]".to_string());
        }
    }
}

/// A dotted path or JSON pointer as a JSON pointer.
pub fn to_pointer(path: &str) -> String {
    if path.starts_with('/') || path.is_empty() {
        return path.to_string();
    }
    path.split('.')
        .map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> Header {
        Header {
            spec: "crm_sync.yaml (crm-sync)".into(),
            rule: "R1 (Rule one)".into(),
            fixture: "../fixtures/events/a.json".into(),
            now: "2024-01-15T14:00:00Z".into(),
        }
    }

    #[test]
    fn output_snapshots_keep_key_order_and_end_with_a_newline() {
        let text = render(
            &header(),
            &FixtureResult::Output(json!({"z": 1, "a": {"b": "é"}})),
        );
        assert!(text.starts_with("# cxsync snapshot\n# spec: crm_sync.yaml (crm-sync)\n"));
        assert!(
            text.ends_with("{\n  \"z\": 1,\n  \"a\": {\n    \"b\": \"é\"\n  }\n}\n"),
            "{text}"
        );
    }

    #[test]
    fn filtered_snapshots_name_the_condition() {
        let text = render(
            &header(),
            &FixtureResult::Filtered("conditions[x]: \"sms\"".into()),
        );
        assert!(text.ends_with("# outcome: filtered\n# filtered by: conditions[x]: \"sms\"\n"));
    }

    #[test]
    fn redaction_takes_dotted_paths_and_pointers_and_never_adds_fields() {
        let mut v = json!({"a": {"b": 1}, "c": 2, "d/e": 3});
        redact(
            &mut v,
            &[
                "a.b".into(),
                "/c".into(),
                "missing.x".into(),
                "/d~1e".into(),
            ],
        );
        assert_eq!(
            v,
            json!({"a": {"b": "[redacted]"}, "c": "[redacted]", "d/e": "[redacted]"})
        );
    }

    #[test]
    fn compare_reports_missing_changed_and_matching() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.snap");
        assert_eq!(compare(&p, "a\n").unwrap(), Status::Missing);
        accept(&p, "a\nb\n").unwrap();
        assert_eq!(compare(&p, "a\nb\n").unwrap(), Status::Matches);
        match compare(&p, "a\nc\n").unwrap() {
            Status::Changed(d) => assert!(d.contains("-b\n+c\n"), "{d}"),
            other => panic!("{other:?}"),
        }
        write_pending(&p, "a\nc\n").unwrap();
        assert!(new_path(&p).exists());
        accept(&p, "a\nc\n").unwrap();
        assert!(!new_path(&p).exists());
    }
}
