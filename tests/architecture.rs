//! The floors of `docs/architecture.md`, enforced: the top-level modules under `src/` form no
//! cycle (no two import each other, directly or through others), and the delivery machine's
//! folder names no IO, clock or runtime crate and none of the modules that drive it.
//!
//! The check reads `src/**/*.rs` as text with comments, string and character literals blanked
//! out, expands `use` groups (`crate::{a, b::c}`), and takes every `crate::NAME` path as an edge
//! to the top-level module `NAME`. It is a reader's check, not the compiler's: a path spelled
//! through a re-export or a macro is seen as written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::root;

/// The folder holding the delivery machine.
const DELIVERY: &str = "delivery";

/// What the delivery folder must not name: IO, clock and runtime crates, and the floors above it.
const DELIVERY_FORBIDDEN: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "wiremock",
    "object_store",
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "Instant::now",
    "SystemTime::now",
    "Utc::now",
    "crate::dlq",
    "crate::http",
    "crate::cxone",
    "crate::cli",
    "crate::sim",
    "crate::lint",
];

/// One source file: its path below `src/` and its code with comments and literals blanked.
struct Source {
    rel: PathBuf,
    code: String,
}

fn sources(src: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a UTF-8 source file");
                out.push(Source {
                    rel: path.strip_prefix(src).expect("below src/").to_path_buf(),
                    code: blank_comments_and_literals(&text),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// The top-level module a file belongs to (`sim/engine.rs` → `sim`, `fsutil.rs` → `fsutil`);
/// `None` for the crate root files.
fn top_level(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// Replaces comments and the contents of string, byte-string, raw-string and character literals
/// with spaces (newlines kept), so that prose and data never look like paths.
fn blank_comments_and_literals(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j.min(b.len()));
                i = j;
            }
            b'r' if !ident_before(b, i) && matches!(b.get(i + 1), Some(b'"') | Some(b'#')) => {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let body = i + 2 + hashes;
                let end = text[body..].find(&close).map_or(b.len(), |n| body + n);
                blank(&mut out, body, end);
                i = end + close.len();
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i + 1, j.min(b.len()));
                i = j + 1;
            }
            b'\'' => {
                // A character literal ('x', '\n', '\u{..}'), not a lifetime ('a).
                let end = if b.get(i + 1) == Some(&b'\\') {
                    text[i + 2..].find('\'').map(|n| i + 2 + n)
                } else {
                    let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (b.get(i + 1 + ch) == Some(&b'\'')).then_some(i + 1 + ch)
                };
                match end {
                    Some(e) => {
                        blank(&mut out, i + 1, e);
                        i = e + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).expect("only ASCII bytes were replaced")
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Every path in the code with `use` groups expanded, with the byte offset it starts at:
/// `crate::{a, b::{c, d}}` gives `crate::a`, `crate::b::c` and `crate::b::d`; other paths are
/// taken as written.
fn paths(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if (b[i].is_ascii_alphabetic() || b[i] == b'_') && !ident_before(b, i) {
            let (p, end) = path_at(code, i);
            out.extend(p.into_iter().map(|p| (i, p)));
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The path(s) starting at `i`, and where they end.
fn path_at(code: &str, i: usize) -> (Vec<String>, usize) {
    let b = code.as_bytes();
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    let head = &code[i..j];
    let after = skip_ws(b, j);
    if !code[after..].starts_with("::") {
        return (vec![head.to_string()], j);
    }
    let next = skip_ws(b, after + 2);
    if b.get(next) == Some(&b'{') {
        let mut out = Vec::new();
        let mut k = next + 1;
        loop {
            k = skip_ws(b, k);
            match b.get(k) {
                None => return (out, k),
                Some(b'}') => return (out, k + 1),
                Some(b',') => k += 1,
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                    let (inner, end) = path_at(code, k);
                    out.extend(inner.into_iter().map(|p| format!("{head}::{p}")));
                    k = end;
                }
                Some(_) => k += 1,
            }
        }
    }
    if b.get(next)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        let (rest, end) = path_at(code, next);
        return (
            rest.into_iter().map(|p| format!("{head}::{p}")).collect(),
            end,
        );
    }
    (vec![head.to_string()], j)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Which top-level module imports which: `crate::NAME` paths to another top-level module.
fn module_graph(srcs: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let tops: BTreeSet<String> = srcs.iter().filter_map(|s| top_level(&s.rel)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> =
        tops.iter().map(|t| (t.clone(), BTreeSet::new())).collect();
    for s in srcs {
        let Some(from) = top_level(&s.rel) else {
            continue;
        };
        for (_, p) in paths(&s.code) {
            let Some(rest) = p.strip_prefix("crate::") else {
                continue;
            };
            let to = rest.split("::").next().unwrap_or("");
            if to != from && tops.contains(to) {
                graph
                    .get_mut(&from)
                    .expect("every top is a key")
                    .insert(to.to_string());
            }
        }
    }
    graph
}

/// A cycle in the graph, as the list of modules along it (first = last), if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let at = stack.iter().position(|s| s == m).expect("on the stack");
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// `(file, line, name)` for every forbidden name in the delivery folder.
fn delivery_violations(srcs: &[Source]) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    for s in srcs
        .iter()
        .filter(|s| top_level(&s.rel).as_deref() == Some(DELIVERY))
    {
        for (at, p) in paths(&s.code) {
            let line = 1 + s.code[..at].matches('\n').count();
            for bad in DELIVERY_FORBIDDEN {
                let hit = p == *bad
                    || p.starts_with(&format!("{bad}::"))
                    || p.contains(&format!("::{bad}"))
                    || (bad.contains("::") && p.ends_with(bad));
                if hit {
                    out.push((s.rel.clone(), line, (*bad).to_string()));
                }
            }
        }
    }
    out
}

fn render(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    graph
        .iter()
        .map(|(k, v)| {
            format!(
                "  {k} -> {}\n",
                v.iter().cloned().collect::<Vec<_>>().join(" ")
            )
        })
        .collect()
}

#[test]
fn no_two_top_level_modules_import_each_other_directly_or_through_others() {
    let srcs = sources(&root().join("src"));
    let graph = module_graph(&srcs);
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the top-level modules import each other in a cycle: {}\nthe graph (module -> what it imports):\n{}",
            cycle.join(" -> "),
            render(&graph)
        );
    }
}

#[test]
fn the_delivery_machine_names_no_io_clock_runtime_or_upper_floor() {
    let srcs = sources(&root().join("src"));
    assert!(
        srcs.iter()
            .any(|s| top_level(&s.rel).as_deref() == Some(DELIVERY)),
        "src/{DELIVERY}/ is missing"
    );
    let bad = delivery_violations(&srcs);
    assert!(
        bad.is_empty(),
        "src/{DELIVERY}/ must stay sans-IO and below its drivers:\n{}",
        bad.iter()
            .map(|(f, l, n)| format!("  src/{}:{l}: names `{n}`\n", f.display()))
            .collect::<String>()
    );
}

/// The CRM facts sit on the lowest floor with the machine: the simulator and lint both read
/// them, so they may read nothing but the spec's model.
#[test]
fn the_crm_facts_import_only_the_spec_model() {
    let srcs = sources(&root().join("src"));
    let graph = module_graph(&srcs);
    let deps = graph.get("crm").expect("src/crm/ exists");
    assert!(
        deps.iter().all(|d| d == "spec"),
        "src/crm/ imports {deps:?}; it must stay below sim and lint"
    );
}

/// The checker itself, on sources made up here: it must see what it is there to see.
mod checker {
    use super::*;

    fn src(rel: &str, text: &str) -> Source {
        Source {
            rel: PathBuf::from(rel),
            code: blank_comments_and_literals(text),
        }
    }

    #[test]
    fn a_cycle_through_a_third_module_is_found() {
        let srcs = [
            src("a/mod.rs", "use crate::b::X;"),
            src("b/x.rs", "use crate::{c::{self, Y}, diag};"),
            src("c.rs", "fn f() { crate::a::g() }"),
            src("diag.rs", ""),
        ];
        let graph = module_graph(&srcs);
        assert_eq!(
            find_cycle(&graph),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }

    #[test]
    fn comments_strings_and_chars_are_not_imports() {
        let srcs = [
            src(
                "a.rs",
                "// crate::b\n/* crate::b */ const S: &str = \"crate::b\"; const R: &str = r#\"crate::b\"#; const C: char = '\"'; fn f<'x>() {}",
            ),
            src("b.rs", "use crate::a;"),
        ];
        assert_eq!(find_cycle(&module_graph(&srcs)), None);
    }

    #[test]
    fn forbidden_names_in_the_delivery_folder_are_reported_with_their_line() {
        let srcs = [src(
            "delivery/machine.rs",
            "use std::{fs, time::Duration};\nuse crate::{\n    dlq::record::Record,\n};\nlet t = std::time::Instant::now();\n// tokio in a comment is fine\n",
        )];
        let got: Vec<(usize, String)> = delivery_violations(&srcs)
            .into_iter()
            .map(|(_, l, n)| (l, n))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "std::fs".to_string()),
                (2, "crate::dlq".to_string()),
                (5, "Instant::now".to_string()),
            ]
        );
    }
}
