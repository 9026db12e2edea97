//! Our JSONata parser against the official jsonata-js test suite, and the guide's dialect through
//! `cxsync fix`.

use std::path::{Path, PathBuf};

use cxsync::transform::syntax;
use serde_json::Value;

/// The official suite: `../shared/jsonata-test-suite` beside the clone (CI), or
/// `$CXSYNC_JSONATA_SUITE`.
fn suite_dir() -> PathBuf {
    if let Ok(p) = std::env::var("CXSYNC_JSONATA_SUITE") {
        return PathBuf::from(p);
    }
    let root = super::common::root();
    for rel in [
        "../shared/jsonata-test-suite",
        "../../shared/jsonata-test-suite",
    ] {
        let p = root.join(rel);
        if p.join("groups").is_dir() {
            return p;
        }
    }
    panic!(
        "the JSONata test suite is not at ../shared/jsonata-test-suite; clone \
         https://github.com/jsonata-js/jsonata (test/test-suite) there or set CXSYNC_JSONATA_SUITE"
    );
}

struct Case {
    name: String,
    expr: String,
    /// The expected error code, when the case expects one.
    code: Option<String>,
}

fn cases(dir: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut groups: Vec<_> = std::fs::read_dir(dir.join("groups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    groups.sort();
    for g in groups {
        let mut files: Vec<_> = std::fs::read_dir(&g)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            // Two cases hold lone UTF-16 surrogates, which no Rust string can: skipped.
            let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&f).unwrap()) else {
                continue;
            };
            let list = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            for (i, c) in list.into_iter().enumerate() {
                let expr = match (c.get("expr"), c.get("expr-file")) {
                    (Some(Value::String(e)), _) => e.clone(),
                    (_, Some(Value::String(file))) => {
                        std::fs::read_to_string(g.join(file)).unwrap()
                    }
                    _ => continue,
                };
                let code = c
                    .get("code")
                    .or_else(|| c.get("error").and_then(|e| e.get("code")))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                out.push(Case {
                    name: format!("{}[{i}]", f.strip_prefix(dir).unwrap().display()),
                    expr,
                    code,
                });
            }
        }
    }
    out
}

#[test]
fn parser_accepts_every_expression_the_official_suite_does_not_reject_at_parse_time() {
    let dir = suite_dir();
    let all = cases(&dir);
    assert!(
        all.len() > 1600,
        "only {} cases found in {}",
        all.len(),
        dir.display()
    );
    let mut wrongly_rejected = Vec::new();
    let mut syntax_cases = 0;
    let mut rejected = 0;
    let mut same_code = 0;
    let mut code_mismatch = Vec::new();
    for c in &all {
        let parsed = syntax::parse(&c.expr);
        match (&c.code, parsed) {
            (Some(code), parsed) if code.starts_with("S0") => {
                syntax_cases += 1;
                if let Err(e) = parsed {
                    rejected += 1;
                    if &e.code == code {
                        same_code += 1;
                    } else {
                        code_mismatch.push(format!("{}: expected {code}, got {}", c.name, e.code));
                    }
                } else {
                    code_mismatch.push(format!("{}: expected {code}, parsed", c.name));
                }
            }
            (_, Err(e)) => wrongly_rejected.push(format!("{}: {e} in {:?}", c.name, c.expr)),
            (_, Ok(_)) => {}
        }
    }
    eprintln!(
        "suite: {} cases; {syntax_cases} expect a syntax error: {rejected} rejected, \
         {same_code} with the same code",
        all.len()
    );
    for m in &code_mismatch {
        eprintln!("  {m}");
    }
    assert!(
        wrongly_rejected.is_empty(),
        "{} valid expressions rejected:\n{}",
        wrongly_rejected.len(),
        wrongly_rejected.join("\n")
    );
    // Every case that expects a syntax error must fail to parse, with the same code: the count is
    // the recorded baseline (see docs/jsonata-analysis.md), it may only go up.
    assert_eq!(rejected, syntax_cases, "{}", code_mismatch.join("\n"));
    assert!(same_code >= syntax_cases, "{}", code_mismatch.join("\n"));
}
