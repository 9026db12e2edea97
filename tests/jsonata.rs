//! Our JSONata parser against the official jsonata-js test suite, and the guide's dialect through
//! `cxsync fix`.

use std::path::{Path, PathBuf};

use cxsync::transform::syntax;
use serde_json::Value;

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
    let dir = super::common::jsonata_suite();
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

/// The guide's `$if` and its standard form, as they appear in the fixtures.
const GUIDE_IF: &str = r#"$if(interaction.customer.contactId != null) $string(interaction.customer.contactId) $else "UNKNOWN_CONTACT" $end"#;
const STANDARD_IF: &str = r#"interaction.customer.contactId != null ? $string(interaction.customer.contactId) : "UNKNOWN_CONTACT""#;

/// A scratch copy of `fixtures/dialect`.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = super::common::root().join("fixtures/dialect");
    std::fs::create_dir(dir.path().join("dialect")).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join("dialect").join(p.file_name().unwrap())).unwrap();
    }
    // The dialect specs read their fixtures from `../events/`.
    std::fs::create_dir(dir.path().join("events")).unwrap();
    for e in std::fs::read_dir(super::common::root().join("fixtures/events")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join("events").join(p.file_name().unwrap())).unwrap();
    }
    // A project, as the repository is one: files a spec names stay inside it (E311).
    std::fs::write(dir.path().join("cxsync.toml"), "").unwrap();
    dir
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn fix(args: &[&str], file: &Path) -> std::process::Output {
    super::common::cxsync()
        .arg("fix")
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn fix_rewrites_the_guides_escaped_one_line_string_and_nothing_else() {
    let dir = scratch();
    let spec = dir.path().join("dialect/guide_inline_quoted.yaml");
    let before = read(&spec);
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let escaped = |s: &str| s.replace('"', "\\\"");
    // Expected bytes built without our rewriter: the two constructs replaced, nothing else.
    let expected = before
        .replace(&escaped(GUIDE_IF), &escaped(STANDARD_IF))
        .replace("?.", ".")
        .replace(
            r#""$if($length($string($)) > 524288) $error(\"PAYLOAD_TOO_LARGE\") $else $ $end""#,
            r#""$length($string($)) > 524288 ? $error(\"PAYLOAD_TOO_LARGE\") : $""#,
        );
    assert_ne!(expected, before);
    assert_eq!(read(&spec), expected);
    let again = fix(&["--check"], &spec);
    assert_eq!(
        again.status.code(),
        Some(0),
        "fixed file still has dialect: {again:?}"
    );
}

#[test]
fn fix_rewrites_block_scalars_keeping_their_layout() {
    let dir = scratch();
    let spec = dir.path().join("dialect/guide_block.yaml");
    let before = read(&spec);
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let expected = before
        .replace(GUIDE_IF, STANDARD_IF)
        .replace("?.", ".")
        .replace(
            "$if($length($string($)) > 524288) $error(\"PAYLOAD_TOO_LARGE\")\n      $else $ $end",
            "$length($string($)) > 524288 ? $error(\"PAYLOAD_TOO_LARGE\") : $",
        );
    assert_eq!(read(&spec), expected);
}

#[test]
fn fix_rewrites_a_transform_file_and_the_result_compiles_in_the_engine() {
    let dir = scratch();
    let spec = dir.path().join("dialect/guide_file.yaml");
    let file = dir.path().join("dialect/guide_transform.jsonata");
    let spec_before = read(&spec);
    let before = read(&file);
    assert!(syntax::parse(&before).is_err());
    assert!(cxsync::transform::Transform::compile(&before).is_err());
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let after = read(&file);
    assert_eq!(
        after,
        before.replace(GUIDE_IF, STANDARD_IF).replace("?.", ".")
    );
    assert_eq!(
        read(&spec),
        spec_before,
        "the spec itself had nothing to fix"
    );
    syntax::parse(&after).unwrap();
    cxsync::transform::Transform::compile(&after).unwrap();
    // The rewritten guide transform is the repository's valid one, up to layout.
    let valid = read(&super::common::root().join("specs/transforms/interaction_ended.jsonata"));
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squash(&after), squash(&valid));
}

#[test]
fn check_and_diff_write_nothing_and_exit_1_when_something_would_change() {
    let dir = scratch();
    let spec = dir.path().join("dialect/guide_block.yaml");
    let before = read(&spec);
    let out = fix(&["--check"], &spec);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("would fix 8 uses"));
    let out = fix(&["--diff"], &spec);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(
        diff.contains(&format!("-      \"contactId\": {GUIDE_IF},")),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("+      \"contactId\": {STANDARD_IF},")),
        "{diff}"
    );
    assert_eq!(read(&spec), before);
}

#[test]
fn fix_on_standard_jsonata_changes_nothing() {
    let spec = super::common::root().join("specs/crm_sync.yaml");
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to fix"));
}

#[test]
fn fix_reports_an_if_without_end_and_exits_1() {
    let dir = scratch();
    let spec = dir.path().join("dialect/guide_block.yaml");
    let text = read(&spec).replace(" $else \"UNKNOWN_CONTACT\" $end,", ",");
    std::fs::write(&spec, &text).unwrap();
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("E501") && err.contains("without a matching `$end`"),
        "{err}"
    );
    // The `?.` uses around it are still fixed.
    assert!(!read(&spec).contains("?."));
}

#[test]
fn fix_of_a_missing_spec_is_a_tool_error() {
    let out = fix(&[], Path::new("no/such/spec.yaml"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// The block fixture with its first rule's transform replaced by `transform_yaml`.
fn spec_with_inline(dir: &Path, transform_yaml: &str) -> PathBuf {
    let base = read(&dir.join("dialect/guide_file.yaml"));
    let text = base.replace(
        "    transformFile: guide_transform.jsonata\n",
        &format!("    transform: {transform_yaml}\n"),
    );
    let path = dir.join("dialect/inline.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn fix_keeps_a_single_quoted_scalar_single_quoted() {
    let dir = scratch();
    let spec = spec_with_inline(
        dir.path(),
        "'{ \"n\": $if(a = ''x'') b?.c $else \"none\" $end }'",
    );
    let before = read(&spec);
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        read(&spec),
        before.replace(
            "$if(a = ''x'') b?.c $else \"none\" $end",
            "a = ''x'' ? b.c : \"none\""
        )
    );
}

#[test]
fn fix_quotes_a_plain_scalar_that_could_not_hold_the_standard_form() {
    let dir = scratch();
    let spec = spec_with_inline(dir.path(), "$if(a) b $else c $end");
    let before = read(&spec);
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        read(&spec),
        before.replace(
            "transform: $if(a) b $else c $end",
            "transform: \"a ? b : c\""
        )
    );
}

#[test]
fn fix_keeps_the_indentation_of_a_multi_line_construct_in_a_literal_block() {
    let dir = scratch();
    let spec = spec_with_inline(
        dir.path(),
        "|\n      {\n        \"a\": $if(x)\n          $join([\n            a?.b,\n            c\n          ])\n        $else\n          1\n        $end\n      }",
    );
    let before = read(&spec);
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let after = read(&spec);
    assert_eq!(
        after,
        before.replace(
            "$if(x)\n          $join([\n            a?.b,\n            c\n          ])\n        $else\n          1\n        $end",
            "x ? $join([\n            a.b,\n            c\n          ]) : 1"
        ),
        "{after}"
    );
}

/// `fix` re-parses what it would write: a rewrite that is not JSONata (`$if(c) $then a $else b
/// $end`, where the guide's dialect has no `$then`) is refused for that transform with E504 and
/// exit 1, and the file is left as it was; `?.["name"]` becomes the field, not a filter (tester
/// #99).
#[test]
fn fix_refuses_a_rewrite_that_does_not_parse_and_reads_a_string_subscript_as_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    let fixture = dir.path().join("f.json");
    std::fs::write(
        &fixture,
        r#"{"event": {"id": "E1", "type": "t"}, "interaction": {"customer": {"name": "n"}}}"#,
    )
    .unwrap();
    let body = |transform: &str| {
        format!(
            r#"version: 1
name: d
channel:
  name: D
  destinationUri: https://crm.example.com/api
  auth: {{ type: none }}
  timeoutMilliseconds: 2000
idempotency: {{ header: Idempotency-Key, key: "${{event.id}}" }}
retry:
  maxRetries: 1
  initialDelaySeconds: 1
  maxDelaySeconds: 2
  backoffMultiplier: 2
  retryableStatusCodes: [503]
  nonRetryableStatusCodes: [400, 422]
deadLetterQueue: {{ enabled: true, bucketName: d-dlq }}
rules:
  - id: R
    name: r
    eventType: t
    transform: '{transform}'
    fixtures: [f.json]
"#
        )
    };
    std::fs::write(&spec, body(r#"{"d": interaction?.customer?.["name"]}"#)).unwrap();
    let out = fix(&[], &spec);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        read(&spec).contains("{\"d\": interaction.customer.`name`}"),
        "{}",
        read(&spec)
    );
    let eval = super::common::cxsync()
        .args(["eval", "--spec"])
        .arg(&spec)
        .args(["--rule", "R", "--compact", "--event"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&eval.stdout).trim(),
        r#"{"d":"n"}"#,
        "{eval:?}"
    );

    let then = body(r#"{"a": $if(interaction.x) $then 1 $else 2 $end}"#);
    std::fs::write(&spec, &then).unwrap();
    let out = fix(&[], &spec);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        err.contains("E504") && err.contains("would not give JSONata that parses"),
        "{err}"
    );
    assert!(!err.contains("fixed"), "{err}");
    assert_eq!(read(&spec), then);
}
