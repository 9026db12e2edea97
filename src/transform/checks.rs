//! Static checks of a rule's transform, reported at the exact `file:line:col` of the token:
//! JSONata syntax errors (`E500`, the jsonata-js code in the message), the guide's dialect
//! (`E501` for `$if … $end`, `E502` for `?.`), and input paths no fixture event has (`E503`, a
//! warning with a did-you-mean). Also the rewrite plan `cxsync fix` applies: the dialect replaced
//! in place, encoded for the YAML scalar style it sits in, every other byte kept.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use super::position::{self, locate};
use super::syntax::{self, DialectFix, DialectKind, PathRef};
use crate::diag::Diagnostic;
use crate::spec::yaml::{self, Style};
use crate::spec::{ResolvedRule, Spec, TransformOrigin, TransformSource};

/// Code of a JSONata syntax error.
pub const SYNTAX: &str = "E500";
/// Code of the guide's `$if … $else … $end`.
pub const DIALECT_IF: &str = "E501";
/// Code of the guide's `?.`.
pub const DIALECT_OPTIONAL_CHAIN: &str = "E502";
/// Code of an input path no fixture event has.
pub const UNKNOWN_PATH: &str = "E503";
/// Code of a call of a `$name` that is neither a builtin nor bound by the expression.
pub const UNKNOWN_FUNCTION: &str = "E505";

/// Every check on every rule of the spec.
pub fn check_spec(spec: &Spec) -> Vec<Diagnostic> {
    spec.rules
        .iter()
        .flat_map(|r| check_rule(spec, r))
        .collect()
}

/// The checks of one rule's transform.
pub fn check_rule(spec: &Spec, rule: &ResolvedRule) -> Vec<Diagnostic> {
    let Some(src) = &rule.transform else {
        return Vec::new();
    };
    check_expression(&src.text, &fixture_paths(rule), PathSource::Fixtures)
        .into_iter()
        .map(|(d, start, end)| {
            let (file, span) = locate(spec, &src.origin, start, end);
            d.in_file(file).at(span)
        })
        .collect()
}

/// Where the known input paths of [`check_expression`] come from (it words `E503` for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSource {
    /// The rule's fixture events.
    Fixtures,
    /// The event(s) `cxsync eval` was given.
    Event,
}

/// The checks of one expression: syntax (`E500`), the guide's dialect (`E501`, `E502`) and,
/// when `known` has paths, input paths none of them has (`E503`). Each diagnostic comes with
/// its character offsets `[start, end)` in `text`; the caller places them in a file. `cxsync
/// eval --expr` checks against the event it is given, a rule against its fixtures.
pub fn check_expression(
    text: &str,
    known: &BTreeSet<String>,
    source: PathSource,
) -> Vec<(Diagnostic, usize, usize)> {
    let mut out = Vec::new();
    let fixes = syntax::dialect(text);
    for f in fixes.iter().flat_map(DialectFix::flatten) {
        out.push((dialect_diagnostic(f), f.start, dialect_end(f)));
    }
    // With the dialect present the text is analysed as `cxsync fix` would leave it, and positions
    // are mapped back to the original.
    let (rewritten, origins) = if fixes.is_empty() {
        (text.to_string(), None)
    } else {
        let (t, m) = syntax::rewrite_mapped(text);
        (t, Some(m))
    };
    let back = |o: usize| -> usize {
        match &origins {
            None => o,
            Some(m) => m.get(o).copied().unwrap_or_else(|| text.chars().count()),
        }
    };
    let range = |start: usize, end: usize| -> (usize, usize) {
        let s = back(start);
        (s, if end > start { back(end - 1) + 1 } else { s })
    };
    match syntax::analyse(&rewritten) {
        Err(e) => {
            let (start, end) = range(e.start, e.end);
            let mut d = Diagnostic::error(SYNTAX, format!("JSONata syntax error {e}"));
            d = d.with_help(e.help.clone().unwrap_or_else(|| syntax_help(&e.code)));
            out.push((d, start, end));
        }
        Ok(analysis) => {
            if let Ok(tree) = syntax::parse(&rewritten) {
                for (start, end, why) in super::regex::refusals(&tree) {
                    let (start, end) = range(start, end);
                    let d = Diagnostic::error(
                        super::regex::JS_ONLY,
                        format!("regex literal with {why}"),
                    )
                    .with_help(
                        "JSONata's regexes are JavaScript's; write it without the construct \
                         (split the work between `$match`/`$replace` calls, or use `$contains` \
                         and string functions), so both engines give one answer",
                    );
                    out.push((d, start, end));
                }
            }
            for (name, start, end) in &analysis.unknown_functions {
                let (start, end) = range(*start, *end);
                out.push((unknown_function(name, &analysis.bound), start, end));
            }
            if !known.is_empty() {
                for (p, count) in unknown_paths(&analysis.paths, known) {
                    let (start, end) = range(p.start, p.end);
                    out.push((
                        unknown_path_diagnostic(&p, count, known, source),
                        start,
                        end,
                    ));
                }
            }
        }
    }
    out
}

/// `$name(…)` calls nothing: not a builtin, and the expression binds no `$name` (`bound` are
/// the names it does bind, for the did-you-mean).
pub fn unknown_function(name: &str, bound: &BTreeSet<String>) -> Diagnostic {
    if syntax::is_refused(name) {
        return Diagnostic::error(
            UNKNOWN_FUNCTION,
            format!(
                "`${name}` is a jsonata-js builtin that cxsync transforms do not have: a \
                 transform gives the same output for the same event and instant (snapshots, \
                 seeded `sim` runs, a retried event's payload); the call fails at run time \
                 (T1006)"
            ),
        )
        .with_help(if name == "shuffle" {
            "order the items by a field instead: `$sort(items, function($a, $b) { $a.id > $b.id })`"
        } else {
            "derive the value from the event (its id), which is the same on every retry and replay"
        });
    }
    let d = Diagnostic::error(
        UNKNOWN_FUNCTION,
        format!(
            "`${name}` is not a JSONata function and the transform does not bind it; the call \
             fails at run time (T1006)"
        ),
    );
    // The closest builtin, or a name the expression binds (`$formatDate := function…`).
    let candidates = syntax::BUILTINS
        .iter()
        .copied()
        .filter(|b| !syntax::is_refused(b))
        .chain(bound.iter().map(String::as_str));
    match crate::spec::schema::suggest(name, candidates) {
        Some(s) => d.with_help(format!("did you mean `${s}`?")),
        None => d.with_help(format!(
            "call a builtin (docs.jsonata.org lists them) or bind your own first: \
             `${name} := function($x) {{ … }}`"
        )),
    }
}

/// Where a dialect diagnostic ends: `$if` only (the construct can span lines), `?.` whole.
fn dialect_end(f: &DialectFix) -> usize {
    match f.kind {
        DialectKind::IfElse => (f.start + 3).min(f.end),
        DialectKind::OptionalChain => f.end,
    }
}

fn dialect_diagnostic(f: &DialectFix) -> Diagnostic {
    let code = match f.kind {
        DialectKind::IfElse => DIALECT_IF,
        DialectKind::OptionalChain => DIALECT_OPTIONAL_CHAIN,
    };
    let help = if f.fixable {
        format!("{}; `cxsync fix` rewrites it", f.help)
    } else {
        f.help.clone()
    };
    Diagnostic::error(code, format!("{} (the guide's dialect)", f.message)).with_help(help)
}

fn syntax_help(code: &str) -> String {
    match code {
        "S0101" | "S0105" => "close the string with the same quote it opened with".into(),
        "S0102" => "the number is too large for a double".into(),
        "S0103" | "S0104" => {
            "JSONata strings allow \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX".into()
        }
        "S0106" => "close the comment with `*/`".into(),
        "S0202" | "S0203" => "check the brackets and commas before this point".into(),
        "S0211" => "an operand is missing before this operator".into(),
        "S0212" => "only a variable (`$name`) can be assigned with `:=`".into(),
        _ => "see https://docs.jsonata.org for the JSONata syntax".into(),
    }
}

/// Every dotted path (and prefix) present in the rule's fixture events; arrays are transparent,
/// as JSONata maps a path over array items.
pub fn fixture_paths(rule: &ResolvedRule) -> BTreeSet<String> {
    event_paths(rule.fixtures.iter().map(|f| &f.event))
}

/// Every dotted path (and prefix) present in the events; arrays are transparent.
pub fn event_paths<'a>(events: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in events {
        collect(e, &mut String::new(), &mut out);
    }
    out
}

fn collect(v: &Value, prefix: &mut String, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let len = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(k);
                out.insert(prefix.clone());
                collect(child, prefix, out);
                prefix.truncate(len);
            }
        }
        Value::Array(items) => {
            for i in items {
                collect(i, prefix, out);
            }
        }
        _ => {}
    }
}

/// Paths read that no fixture has (first occurrence of each, with how often it is read).
fn unknown_paths(paths: &[PathRef], known: &BTreeSet<String>) -> Vec<(PathRef, usize)> {
    let mut out: Vec<(PathRef, usize)> = Vec::new();
    for p in paths {
        if p.segments.is_empty() || p.has_wildcard() {
            continue;
        }
        let dotted = p.dotted();
        if known.contains(&dotted) {
            continue;
        }
        match out.iter_mut().find(|(q, _)| q.segments == p.segments) {
            Some((_, n)) => *n += 1,
            None => out.push((p.clone(), 1)),
        }
    }
    out
}

/// The known path closest to `dotted`: same depth, small edit distance.
pub fn did_you_mean(dotted: &str, known: &BTreeSet<String>) -> Option<String> {
    let depth = dotted.split('.').count();
    let limit = (dotted.len() / 5).clamp(1, 3);
    known
        .iter()
        .filter(|k| k.split('.').count() == depth)
        .map(|k| (strsim::damerau_levenshtein(dotted, k), k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k.clone())
}

fn unknown_path_diagnostic(
    p: &PathRef,
    count: usize,
    known: &BTreeSet<String>,
    source: PathSource,
) -> Diagnostic {
    let dotted = p.dotted();
    let more = if count > 1 {
        format!(" (read {count} times)")
    } else {
        String::new()
    };
    let absent = match source {
        PathSource::Fixtures => "is in no fixture event",
        PathSource::Event => "is not in the event",
    };
    let d = Diagnostic::warning(
        UNKNOWN_PATH,
        format!("`{dotted}` {absent}{more}; the transform reads undefined there"),
    );
    match did_you_mean(&dotted, known) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => {
            // Name the deepest part that does exist, so the typo is easy to find.
            let mut prefix = p.segments.clone();
            while !prefix.is_empty() && !known.contains(&prefix.join(".")) {
                prefix.pop();
            }
            match (prefix.is_empty(), source) {
                (true, PathSource::Fixtures) => {
                    d.with_help("no fixture has any part of this path; add a fixture that has it")
                }
                (true, PathSource::Event) => d.with_help("the event has no part of this path"),
                (false, PathSource::Fixtures) => d.with_help(format!(
                    "fixtures have `{}` but nothing below it by this name; add a fixture \
                     that has the field if it is optional",
                    prefix.join(".")
                )),
                (false, PathSource::Event) => d.with_help(format!(
                    "the event has `{}` but nothing below it by this name",
                    prefix.join(".")
                )),
            }
        }
    }
}

/// One file `cxsync fix` would rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFix {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
    /// Uses rewritten (nested ones included).
    pub fixed: usize,
}

/// The rewrites of a spec: its inline transforms (in the spec file) and its `.jsonata` files,
/// plus diagnostics for uses that cannot be rewritten. Rules are taken from `spec.rules` when
/// loaded, else from the raw spec.
pub fn plan_fixes(spec: &Spec) -> Result<(Vec<FileFix>, Vec<Diagnostic>), Diagnostic> {
    let mut files = Vec::new();
    let mut remaining = Vec::new();
    let sources = transforms(spec)?;
    let yaml_text = spec.text.clone();
    let mut yaml_edits: Vec<(usize, usize, String)> = Vec::new();
    let mut yaml_fixed = 0;
    for (src, text) in &sources {
        let fixes = syntax::dialect(text);
        for f in fixes
            .iter()
            .flat_map(DialectFix::flatten)
            .filter(|f| !f.fixable)
        {
            let (file, span) = locate(spec, &src.origin, f.start, dialect_end(f));
            remaining.push(dialect_diagnostic(f).in_file(file).at(span));
        }
        let count: usize = fixes
            .iter()
            .filter(|f| f.fixable)
            .map(|f| f.flatten().len())
            .sum();
        if count == 0 {
            continue;
        }
        // What `fix` writes must be JSONata: a rewrite that does not parse (and has no use left
        // that could explain it) is refused for this transform, with the parser's error.
        if fixes
            .iter()
            .flat_map(DialectFix::flatten)
            .all(|f| f.fixable)
        {
            if let Err(e) = syntax::parse(&syntax::rewrite(text)) {
                let (file, span) = locate(spec, &src.origin, 0, text.chars().count());
                remaining.push(
                    Diagnostic::error(
                        "E504",
                        format!(
                            "rewriting the guide's dialect in this transform would not give \
                             JSONata that parses ({}); nothing written for it",
                            e.message
                        ),
                    )
                    .in_file(file)
                    .at(span)
                    .with_help("rewrite it by hand (JSONata's conditional is `c ? a : b`)"),
                );
                continue;
            }
        }
        match &src.origin {
            // Two rules may share a file: it is rewritten once.
            TransformOrigin::File { path } if files.iter().any(|f: &FileFix| &f.path == path) => {}
            TransformOrigin::File { path } => files.push(FileFix {
                path: path.clone(),
                before: text.clone(),
                after: syntax::rewrite(text),
                fixed: count,
            }),
            TransformOrigin::Inline { pointer } => {
                yaml_edits.extend(yaml_edits_for(spec, &yaml_text, pointer, text, &fixes)?);
                yaml_fixed += count;
            }
        }
    }
    if !yaml_edits.is_empty() {
        let after = apply_edits(&yaml_text, &mut yaml_edits);
        verify(spec, &after, &sources)?;
        files.insert(
            0,
            FileFix {
                path: spec.path.clone(),
                before: yaml_text,
                after,
                fixed: yaml_fixed,
            },
        );
    }
    Ok((files, remaining))
}

/// Each rule's transform source and text.
fn transforms(spec: &Spec) -> Result<Vec<(TransformSource, String)>, Diagnostic> {
    if !spec.rules.is_empty() {
        return Ok(spec
            .rules
            .iter()
            .filter_map(|r| r.transform.clone())
            .map(|t| {
                let text = t.text.clone();
                (t, text)
            })
            .collect());
    }
    let mut out = Vec::new();
    for (i, rule) in spec.raw.rules.iter().enumerate() {
        if let Some(t) = &rule.transform {
            let origin = TransformOrigin::Inline {
                pointer: format!("/rules/{i}/transform"),
            };
            out.push((
                TransformSource {
                    text: t.clone(),
                    origin,
                },
                t.clone(),
            ));
        }
        if let Some(f) = &rule.transform_file {
            let path = spec.dir.join(f);
            let text = crate::spec::read_text(&path)?;
            out.push((
                TransformSource {
                    text: text.clone(),
                    origin: TransformOrigin::File { path },
                },
                text,
            ));
        }
    }
    Ok(out)
}

/// Source edits (character ranges of the YAML file) that rewrite the dialect in the scalar at
/// `pointer`, encoded for the scalar's style.
fn yaml_edits_for(
    spec: &Spec,
    source: &str,
    pointer: &str,
    text: &str,
    fixes: &[DialectFix],
) -> Result<Vec<(usize, usize, String)>, Diagnostic> {
    let cannot = |why: &str| {
        Diagnostic::error(
            "E504",
            format!("cannot rewrite the transform at `{pointer}`: {why}"),
        )
        .in_file(&spec.path)
        .at_opt(spec.span(pointer))
        .with_help("rewrite it by hand, or move it to a `transformFile`")
    };
    let loc = spec
        .map
        .get(pointer)
        .ok_or_else(|| cannot("its position in the file is unknown"))?;
    let ranges = position::scalar_ranges(source, loc, text)
        .ok_or_else(|| cannot("its YAML form could not be decoded"))?;
    let chars: Vec<char> = text.chars().collect();
    let src_chars: Vec<char> = source.chars().collect();
    let fixable: Vec<&DialectFix> = fixes.iter().filter(|f| f.fixable).collect();
    if loc.style == Style::Plain
        && fixable
            .iter()
            .any(|f| !plain_safe(&f.replacement) || f.replacement.contains('\n'))
    {
        // The standard form needs characters a plain scalar cannot hold (`: `, ` #`): the one
        // scalar becomes double-quoted.
        let (s, e) = (ranges[0].0, ranges[ranges.len() - 1].1);
        let new = double_quote(&syntax::rewrite(text));
        return Ok(vec![(s, e, new)]);
    }
    let indent = block_indent(&src_chars, &chars, &ranges);
    // YAML reads CRLF as LF; lines written back keep the file's own line ending.
    let newline = if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut edits = Vec::new();
    for f in fixable {
        let (s, e) = if f.end > f.start {
            (ranges[f.start].0, ranges[f.end - 1].1)
        } else {
            (ranges[f.start].0, ranges[f.start].0)
        };
        let body = match loc.style {
            Style::DoubleQuoted => escape_double(&f.replacement),
            Style::SingleQuoted => f.replacement.replace('\n', " ").replace('\'', "''"),
            Style::Plain | Style::Folded => f.replacement.replace('\n', " "),
            Style::Literal => f
                .replacement
                .replace('\n', &format!("{newline}{}", " ".repeat(indent))),
            Style::Collection => return Err(cannot("it is not a string")),
        };
        edits.push((s, e, body));
    }
    Ok(edits)
}

/// Whether text can sit inside a plain scalar unchanged.
fn plain_safe(s: &str) -> bool {
    !s.contains(": ") && !s.contains(" #") && !s.ends_with(':')
}

/// Indentation of a block scalar's lines: the least source column of a decoded line start.
fn block_indent(src: &[char], decoded: &[char], ranges: &[(usize, usize)]) -> usize {
    let column = |o: usize| (0..o).rev().take_while(|&k| src[k] != '\n').count();
    (0..decoded.len())
        .filter(|&i| (i == 0 || decoded[i - 1] == '\n') && decoded[i] != '\n')
        .map(|i| column(ranges[i].0))
        .min()
        .unwrap_or(0)
}

fn escape_double(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn double_quote(s: &str) -> String {
    format!("\"{}\"", escape_double(s))
}

/// Applies non-overlapping character-range edits to `source`.
fn apply_edits(source: &str, edits: &mut [(usize, usize, String)]) -> String {
    edits.sort_by_key(|e| e.0);
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for (s, e, text) in edits.iter() {
        out.extend(&chars[at..*s]);
        out.push_str(text);
        at = *e;
    }
    out.extend(&chars[at..]);
    out
}

/// The rewritten YAML must parse and hold exactly the rewritten transforms, or nothing is written.
fn verify(
    spec: &Spec,
    after: &str,
    sources: &[(TransformSource, String)],
) -> Result<(), Diagnostic> {
    let doc = yaml::parse(after).map_err(|ds| {
        let first = ds.into_iter().next().map(|d| d.message).unwrap_or_default();
        Diagnostic::error(
            "E504",
            format!("rewriting the dialect would make the YAML invalid ({first}); nothing written"),
        )
        .in_file(&spec.path)
    })?;
    for (src, text) in sources {
        if let TransformOrigin::Inline { pointer } = &src.origin {
            let got = doc.value.pointer(pointer).and_then(Value::as_str);
            if got != Some(syntax::rewrite(text).as_str()) {
                return Err(Diagnostic::error(
                    "E504",
                    format!(
                        "rewriting the transform at `{pointer}` would not give the standard \
                         form; nothing written"
                    ),
                )
                .in_file(&spec.path)
                .at_opt(spec.span(pointer))
                .with_help("rewrite it by hand, or move it to a `transformFile`"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diag::Severity;
    use crate::spec::{Fixture, LoadOptions};

    fn fixtures() -> Vec<Fixture> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/events");
        let mut out: Vec<Fixture> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|path| Fixture {
                name: path.file_stem().unwrap().to_string_lossy().into(),
                event: serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap(),
                path,
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Loads a spec and builds its rules as the loader will (inline or file transforms).
    fn load(path: &Path) -> Spec {
        // Copies in a temp dir name the repository's events by absolute path.
        let opts = LoadOptions {
            outside_project: true,
            ..LoadOptions::default()
        };
        let mut spec = crate::spec::load(path, &opts).spec.expect("spec loads");
        let sources = transforms(&spec).unwrap();
        spec.rules = sources
            .into_iter()
            .enumerate()
            .map(|(index, (t, _))| ResolvedRule {
                index,
                transform: Some(t),
                fixtures: fixtures(),
            })
            .collect();
        spec
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/dialect")
            .join(name)
    }

    /// (code, line, column) of every diagnostic.
    fn places(ds: &[Diagnostic]) -> Vec<(String, usize, usize)> {
        let mut v: Vec<_> = ds
            .iter()
            .map(|d| {
                let s = d.span.unwrap();
                (d.code.clone(), s.start.line, s.start.column)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn dialect_in_a_block_scalar_is_reported_at_each_token() {
        let spec = load(&fixture("guide_block.yaml"));
        let ds = check_spec(&spec);
        let p = places(&ds);
        assert!(p.contains(&("E501".into(), 42, 20)), "{p:?}");
        assert!(p.contains(&("E502".into(), 45, 49)), "{p:?}");
        assert!(p.contains(&("E502".into(), 50, 57)), "{p:?}");
        assert!(p.contains(&("E501".into(), 61, 7)), "{p:?}");
        assert_eq!(p.iter().filter(|x| x.0 == "E502").count(), 6);
        // Once rewritten the transform parses, and every path it reads is in a fixture.
        assert!(
            !p.iter().any(|x| x.0 == SYNTAX || x.0 == UNKNOWN_PATH),
            "{p:?}"
        );
        let d = ds.iter().find(|d| d.code == DIALECT_IF).unwrap();
        assert!(d.help.as_deref().unwrap().contains(
            r#"write `interaction.customer.contactId != null ? $string(interaction.customer.contactId) : "UNKNOWN_CONTACT"`"#
        ));
    }

    #[test]
    fn dialect_in_the_guides_escaped_string_is_reported_at_each_token() {
        let spec = load(&fixture("guide_inline_quoted.yaml"));
        let p = places(&check_spec(&spec));
        assert!(p.contains(&("E501".into(), 39, 75)), "{p:?}");
        assert!(p.contains(&("E502".into(), 39, 370)), "{p:?}");
        assert!(p.contains(&("E501".into(), 46, 17)), "{p:?}");
    }

    #[test]
    fn dialect_in_a_transform_file_is_reported_in_that_file() {
        let spec = load(&fixture("guide_file.yaml"));
        let ds = check_spec(&spec);
        assert!(ds.iter().all(|d| d
            .file
            .as_deref()
            .unwrap()
            .ends_with("guide_transform.jsonata")));
        let p = places(&ds);
        assert!(p.contains(&("E501".into(), 3, 14)), "{p:?}");
        assert!(p.contains(&("E502".into(), 6, 43)), "{p:?}");
    }

    /// The checks' findings on the guide's spec with its rule's transform written inline as
    /// `transform_yaml` (a YAML scalar).
    fn check_inline(transform_yaml: &str) -> Vec<Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        check_spec(&spec_with_transform(dir.path(), transform_yaml))
    }

    /// Where a finding is: its line, and the columns it starts and ends at.
    fn line_columns(d: &Diagnostic) -> (usize, usize, usize) {
        let s = d.span.unwrap();
        (s.start.line, s.start.column, s.end.column)
    }

    fn spec_with_transform(dir: &Path, transform_yaml: &str) -> Spec {
        let base = std::fs::read_to_string(fixture("guide_file.yaml")).unwrap();
        // The copy lives in a temp dir: point its fixture glob back at the repository's events.
        let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/events/*.json");
        let text = base
            .replace(
                "    transformFile: guide_transform.jsonata\n",
                &format!("    transform: {transform_yaml}\n"),
            )
            .replace("../events/*.json", &events.to_string_lossy());
        let path = dir.join("spec.yaml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn a_path_typo_is_a_warning_with_did_you_mean_at_its_position() {
        let ds = check_inline(
            "|\n      {\n        \"agentEmail\": interaction.agent.emial,\n        \"q\": interaction.queue.name\n      }",
        );
        assert_eq!(ds.len(), 1, "{ds:?}");
        let d = &ds[0];
        assert_eq!(d.code, UNKNOWN_PATH);
        assert_eq!(d.severity, Severity::Warning);
        assert!(d.message.contains("`interaction.agent.emial`"), "{d:?}");
        assert_eq!(
            d.help.as_deref(),
            Some("did you mean `interaction.agent.email`?")
        );
        assert_eq!(line_columns(d), (40, 23, 46), "{d:?}");
    }

    #[test]
    fn a_typo_behind_the_dialect_is_found_at_its_original_position() {
        let ds = check_inline("'{ \"a\": $if(x) interaction.agnet?.email $else 1 $end }'");
        let typo = ds
            .iter()
            .find(|d| d.code == UNKNOWN_PATH && d.message.contains("agnet"))
            .expect("typo found");
        // `interaction.agnet?.email` starts at column 31 of the spec line.
        assert_eq!(line_columns(typo), (38, 31, 55), "{ds:?}");
        assert_eq!(
            typo.help.as_deref(),
            Some("did you mean `interaction.agent.email`?")
        );
    }

    #[test]
    fn a_syntax_error_in_a_double_quoted_string_points_at_the_token() {
        let ds = check_inline(r#""{ \"a\": interaction.id \"b\": 1 }""#);
        assert_eq!(ds.len(), 1, "{ds:?}");
        assert_eq!(ds[0].code, SYNTAX);
        assert!(ds[0].message.contains("S0202"), "{:?}", ds[0]);
        // The offending token is the string `\"b\"`, escapes included.
        assert_eq!(line_columns(&ds[0]), (38, 41, 46));
    }

    #[test]
    fn did_you_mean_needs_a_close_path_of_the_same_depth() {
        let known: BTreeSet<String> = ["a.agent.email", "a.agent", "a"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            did_you_mean("a.agent.emial", &known).as_deref(),
            Some("a.agent.email")
        );
        assert_eq!(did_you_mean("a.agent.phone", &known), None);
    }

    fn unknown_functions(text: &str) -> Vec<(String, Option<String>, usize, usize)> {
        check_expression(text, &BTreeSet::new(), PathSource::Event)
            .into_iter()
            .filter(|(d, _, _)| d.code == UNKNOWN_FUNCTION)
            .map(|(d, s, e)| (d.message, d.help, s, e))
            .collect()
    }

    #[test]
    fn a_misspelt_function_is_an_error_at_its_name_with_did_you_mean() {
        let found = unknown_functions("{\"kind\": $uppercas(\"a\"), \"n\": $lenght(b)}");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].0.contains("`$uppercas` is not a JSONata function"));
        assert_eq!(found[0].1.as_deref(), Some("did you mean `$uppercase`?"));
        assert_eq!((found[0].2, found[0].3), (9, 18));
        assert_eq!(found[1].1.as_deref(), Some("did you mean `$length`?"));
        // A name close to one the transform binds is suggested too.
        let found = unknown_functions("($formatDate := function($d) { $d }; $formatDat(a))");
        assert_eq!(found[0].1.as_deref(), Some("did you mean `$formatDate`?"));
        // Nothing close: how to bind one.
        let found = unknown_functions("$zzqx(1)");
        assert!(found[0].1.as_deref().unwrap().contains("$zzqx := function"));
        // Behind the guide's dialect, at the original position.
        let found = unknown_functions("$if(a) $uppercas(b) $else 1 $end");
        assert_eq!((found[0].2, found[0].3), (7, 16));
    }

    #[test]
    fn functions_the_transform_binds_are_not_unknown() {
        for text in [
            "($f := function($x) { $x + 1 }; $f(1))",
            // Bound after the lambda that calls it, and recursion.
            "($g := function() { $h() }; $h := function() { 1 }; $g())",
            "($fact := function($n) { $n <= 1 ? 1 : $n * $fact($n - 1) }; $fact(5))",
            // A lambda parameter called as a function, in a higher-order call.
            "(function($cb) { $cb(1) })(function($x) { $x })",
            "$map(xs, function($v, $i, $a) { $v })",
            // Focus and index variables, builtins (the context form too), `$clone`.
            "a@$x.$x.b",
            "{'u': $uppercase(a), 's': a.$string(), 'c': $clone(b), 'n': $now()}",
            // A block's function used from inside an object.
            "($cap := function($s) { $uppercase($substring($s, 0, 1)) }; {'n': $cap(name)})",
        ] {
            assert!(
                unknown_functions(text).is_empty(),
                "{text}: {:?}",
                unknown_functions(text)
            );
        }
    }
}
