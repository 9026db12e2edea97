//! JUnit XML: one test suite per checked file, one failing test case per finding, and one passing
//! case for a clean file, so CI test-report views show lint next to the tests.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Diagnostic, RenderExtra, Severity};
use crate::diag::xml::{Case, CaseResult, Junit, Suite};

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
    let suites = by_file
        .iter()
        .map(|(file, ds)| {
            let fname = file
                .as_ref()
                .map(|f| super::shown_path(f))
                .unwrap_or_else(|| "<input>".into());
            let mut cases: Vec<Case> = ds.iter().map(|d| case(d, &fname)).collect();
            if cases.is_empty() {
                cases.push(Case {
                    attrs: vec![("name", "no findings".into()), ("classname", fname.clone())],
                    ..Case::default()
                });
            }
            Suite { name: fname, cases }
        })
        .collect();
    Junit {
        name: name.to_string(),
        suites,
    }
    .to_xml()
}

/// One finding as a case: errors fail it; warnings are reported but do not fail the case
/// (`--deny warnings` decides the exit code).
fn case(d: &Diagnostic, fname: &str) -> Case {
    let loc = d
        .span
        .map(|s| format!("{}:{}", s.start.line, s.start.column))
        .unwrap_or_default();
    let mut body = format!("{fname}:{loc}: {}", d.message);
    if let Some(h) = &d.help {
        body.push_str("\nhelp: ");
        body.push_str(h);
    }
    let result = if d.severity == Severity::Error {
        CaseResult::Failed {
            message: d.message.clone(),
            kind: Some(d.code.clone()),
            text: body,
        }
    } else {
        CaseResult::Output(format!("{}: {body}", d.severity.as_str()))
    };
    Case {
        attrs: vec![
            ("name", format!("{} {fname}:{loc}", d.code)),
            ("classname", fname.to_string()),
        ],
        result,
    }
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
