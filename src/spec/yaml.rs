//! YAML to a JSON tree with a span for every node, built on `saphyr-parser` events.
//!
//! We build the tree ourselves instead of using a YAML-to-serde bridge so that every key and value
//! keeps its position, duplicate keys are errors, and hostile input (alias bombs, deep nesting)
//! is refused within fixed budgets instead of exhausting memory or the stack.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};
use serde_json::{Map, Number, Value};

use crate::diag::{Diagnostic, Pos, Span};

/// Nesting deeper than this is refused (a spec is a few levels deep).
pub const MAX_DEPTH: usize = 128;
/// Nodes created, counting every alias expansion, before the document is refused.
pub const MAX_NODES: usize = 1_000_000;
/// Bytes of scalars and keys created, counting every alias expansion, before the document is
/// refused: twice the largest file read, so only aliases that multiply can reach it.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// How a scalar was written: transforms need it to map positions inside the decoded string back
/// to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
    /// A mapping or sequence.
    Collection,
}

/// Where one node of the tree came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// The key's span, for mapping entries.
    pub key: Option<Span>,
    /// The value's span.
    pub value: Span,
    pub style: Style,
}

/// JSON pointer (RFC 6901) of every node → where it was written.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    locs: BTreeMap<String, Loc>,
    /// The text of plain scalars that look like numbers but have no exact JSON value (`.nan`,
    /// `.inf`, `1e400`, integers past 64 bits), so messages can show what was written.
    written: BTreeMap<String, String>,
}

impl SourceMap {
    pub fn insert(&mut self, pointer: String, loc: Loc) {
        self.locs.insert(pointer, loc);
    }

    pub fn get(&self, pointer: &str) -> Option<&Loc> {
        self.locs.get(pointer)
    }

    /// The text of the number-like scalar at `pointer` when its JSON value is not that number:
    /// `.nan`, `.inf` and `1e400` (kept as strings), integers past 64 bits (kept as the nearest
    /// float).
    pub fn written(&self, pointer: &str) -> Option<&str> {
        self.written.get(pointer).map(String::as_str)
    }

    /// The value span of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn value_span(&self, pointer: &str) -> Option<Span> {
        self.nearest(pointer).map(|l| l.value)
    }

    /// The key span of the node at `pointer` (its value span for array items and the root), or the
    /// nearest ancestor's.
    pub fn key_span(&self, pointer: &str) -> Option<Span> {
        self.nearest(pointer).map(|l| l.key.unwrap_or(l.value))
    }

    fn nearest(&self, pointer: &str) -> Option<&Loc> {
        let mut p = pointer;
        loop {
            if let Some(l) = self.locs.get(p) {
                return Some(l);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// Re-roots every entry under `prefix` (used when overlays are merged).
    pub fn entries(&self) -> impl Iterator<Item = (&String, &Loc)> {
        self.locs.iter()
    }
}

/// Escapes one JSON pointer reference token.
pub fn escape_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Appends a token to a pointer.
pub fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_token(token))
}

fn pos(m: saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
        offset: m.index(),
    }
}

fn span(s: YSpan) -> Span {
    Span::new(pos(s.start), pos(s.end))
}

#[derive(Clone)]
enum Tree {
    /// A scalar; the text when it is a number without an exact JSON value.
    Scalar(Value, Span, Style, Option<Box<str>>),
    Seq(Vec<Tree>, Span),
    Map(Vec<(String, Span, Tree)>, Span),
}

impl Tree {
    fn span(&self) -> Span {
        match self {
            Tree::Scalar(_, s, _, _) | Tree::Seq(_, s) | Tree::Map(_, s) => *s,
        }
    }
}

/// A parsed YAML document: the JSON value and where each node came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub map: SourceMap,
}

/// Parses one YAML document into JSON with spans. Errors carry positions but no file; the caller
/// adds it. Every problem found (duplicate keys, non-string keys) is reported, but a syntax error
/// stops the parse since nothing after it can be trusted.
pub fn parse(text: &str) -> Result<Document, Vec<Diagnostic>> {
    let mut b = Builder {
        parser: Parser::new_from_str(text),
        anchors: BTreeMap::new(),
        nodes: 0,
        bytes: 0,
        diags: Vec::new(),
        text,
    };
    let tree = b.document()?;
    if !b.diags.is_empty() {
        return Err(b.diags);
    }
    let mut map = SourceMap::default();
    let value = match tree {
        Some(t) => to_value(t, "", None, &mut map),
        None => Value::Null,
    };
    Ok(Document { value, map })
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Each anchored node with its size (nodes, bytes), so an alias is charged before it is
    /// copied.
    anchors: BTreeMap<usize, (Tree, usize, usize)>,
    nodes: usize,
    bytes: usize,
    diags: Vec<Diagnostic>,
    text: &'a str,
}

type Fatal = Vec<Diagnostic>;

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, YSpan), Fatal> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                let at = pos(*e.marker());
                Err(vec![syntax_error(e.info(), self.text, at)])
            }
            None => Err(vec![Diagnostic::error(
                "E001",
                "invalid YAML: unexpected end of input",
            )]),
        }
    }

    fn document(&mut self) -> Result<Option<Tree>, Fatal> {
        let mut root = None;
        let mut docs = 0;
        loop {
            let (ev, sp) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    docs += 1;
                    if docs > 1 {
                        return Err(vec![Diagnostic::error(
                            "E002",
                            "a spec file holds one YAML document, found a second",
                        )
                        .at(span(sp))
                        .with_help("remove the `---` separator or split the file")]);
                    }
                }
                other => {
                    root = Some(self.node(other, sp, 0)?);
                }
            }
        }
        Ok(root)
    }

    /// Charges `n` nodes and `b` bytes; an error once either budget is spent.
    fn count(&mut self, n: usize, b: usize, sp: Span) -> Result<(), Fatal> {
        self.nodes = self.nodes.saturating_add(n);
        self.bytes = self.bytes.saturating_add(b);
        if self.nodes > MAX_NODES || self.bytes > MAX_BYTES {
            let what = if self.nodes > MAX_NODES {
                format!("{MAX_NODES} nodes")
            } else {
                format!("{} MiB of text", MAX_BYTES / (1024 * 1024))
            };
            // Without anchors nothing multiplied: the file itself is that large.
            let d = if self.anchors.is_empty() {
                Diagnostic::error("E003", format!("document has more than {what}"))
                    .with_help("a spec or scenario is far smaller; is this the file you meant?")
            } else {
                Diagnostic::error(
                    "E003",
                    format!("document expands to more than {what} (an alias bomb?)"),
                )
                .with_help("specs do not need aliases that multiply; write the values out")
            };
            return Err(vec![d.at(sp)]);
        }
        Ok(())
    }

    fn node(&mut self, ev: Event<'a>, sp: YSpan, depth: usize) -> Result<Tree, Fatal> {
        let s = span(sp);
        if depth > MAX_DEPTH {
            return Err(vec![Diagnostic::error(
                "E004",
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .at(s)]);
        }
        self.count(1, 0, s)?;
        match ev {
            Event::Scalar(v, style, anchor, tag) => {
                self.count(0, v.len(), s)?;
                let (value, inexact) = scalar(&v, style, tag.as_deref());
                let written = inexact.then(|| v.as_ref().into());
                let t = Tree::Scalar(value, s, style_of(style), written);
                self.anchor(anchor, &t);
                Ok(t)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(&(_, n, b)) => {
                    // Charged before the copy, so a bomb is refused without being built.
                    self.count(n, b, s)?;
                    Ok(self.anchors[&id].0.clone())
                }
                None => Err(vec![Diagnostic::error(
                    "E001",
                    "alias to an unknown anchor",
                )
                .at(s)]),
            },
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                let end = loop {
                    let (ev, sp2) = self.next()?;
                    if let Event::SequenceEnd = ev {
                        break span(sp2);
                    }
                    items.push(self.node(ev, sp2, depth + 1)?);
                };
                let t = Tree::Seq(items, Span::new(s.start, end.end.max(s.end)));
                self.anchor(anchor, &t);
                Ok(t)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(String, Span, Tree)> = Vec::new();
                // Keys written in this mapping, and keys a merge key (`<<: *base`) brought in with
                // their index in `entries`: a written key overrides a merged one wherever it is
                // written, as YAML's merge key says; only a key written twice is a duplicate.
                let mut seen: BTreeMap<String, Span> = BTreeMap::new();
                let mut merged: BTreeMap<String, usize> = BTreeMap::new();
                let end = loop {
                    let (ev, sp2) = self.next()?;
                    if let Event::MappingEnd = ev {
                        break span(sp2);
                    }
                    let key = self.node(ev, sp2, depth + 1)?;
                    let (kev, ksp) = self.next()?;
                    let val = self.node(kev, ksp, depth + 1)?;
                    let kspan = key.span();
                    let name = match key {
                        Tree::Scalar(Value::String(k), _, _, _) => k,
                        Tree::Scalar(Value::Null, _, _, _) => {
                            self.diags
                                .push(Diagnostic::error("E005", "empty mapping key").at(kspan));
                            continue;
                        }
                        Tree::Scalar(other, _, _, _) => other.to_string(),
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    "E005",
                                    "mapping keys must be plain strings, found a collection",
                                )
                                .at(kspan),
                            );
                            continue;
                        }
                    };
                    if name == "<<" {
                        // YAML 1.1 merge keys: splice the aliased mapping's entries in (of a list
                        // of mappings, the first that has a key gives it).
                        let vspan = val.span();
                        let sources = match val {
                            Tree::Map(items, _) => vec![items],
                            Tree::Seq(items, _)
                                if items.iter().all(|i| matches!(i, Tree::Map(..))) =>
                            {
                                items
                                    .into_iter()
                                    .filter_map(|i| match i {
                                        Tree::Map(m, _) => Some(m),
                                        _ => None,
                                    })
                                    .collect()
                            }
                            _ => {
                                self.diags.push(
                                    Diagnostic::error(
                                        "E008",
                                        "a merge key `<<` takes a mapping: an alias such as `*defaults`, or a list of them",
                                    )
                                    .at(vspan)
                                    .with_help("define the shared fields once with an anchor (`x-defaults: &defaults {…}`) and write `<<: *defaults`"),
                                );
                                continue;
                            }
                        };
                        for (k, ks, v) in sources.into_iter().flatten() {
                            if !seen.contains_key(&k) && !merged.contains_key(&k) {
                                merged.insert(k.clone(), entries.len());
                                entries.push((k, ks, v));
                            }
                        }
                        continue;
                    }
                    if let Some(first) = seen.get(&name) {
                        self.diags.push(
                            Diagnostic::error("E006", format!("duplicate key `{name}`"))
                                .at(kspan)
                                .with_help(format!(
                                    "first defined at line {}, column {}; YAML keeps only one",
                                    first.start.line, first.start.column
                                )),
                        );
                        continue;
                    }
                    seen.insert(name.clone(), kspan);
                    match merged.remove(&name) {
                        Some(i) => entries[i] = (name, kspan, val),
                        None => entries.push((name, kspan, val)),
                    }
                };
                let t = Tree::Map(entries, Span::new(s.start, end.end.max(s.end)));
                self.anchor(anchor, &t);
                Ok(t)
            }
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing
            | Event::SequenceEnd
            | Event::MappingEnd => Err(vec![
                Diagnostic::error("E001", "invalid YAML structure").at(s)
            ]),
        }
    }

    fn anchor(&mut self, id: usize, t: &Tree) {
        if id > 0 {
            let (n, b) = size(t);
            self.anchors.insert(id, (t.clone(), n, b));
        }
    }
}

/// Nodes and bytes of a tree, as [`Builder::count`] charges them.
fn size(t: &Tree) -> (usize, usize) {
    match t {
        Tree::Scalar(v, ..) => (1, v.as_str().map_or(8, str::len)),
        Tree::Seq(items, _) => items.iter().fold((1, 0), |(n, b), i| {
            let (n2, b2) = size(i);
            (n.saturating_add(n2), b.saturating_add(b2))
        }),
        Tree::Map(items, _) => items.iter().fold((1, 0), |(n, b), (k, _, v)| {
            let (n2, b2) = size(v);
            (
                n.saturating_add(n2 + 1),
                b.saturating_add(b2).saturating_add(k.len()),
            )
        }),
    }
}

fn style_of(s: ScalarStyle) -> Style {
    match s {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

/// YAML 1.2 core-schema resolution of a scalar, and whether it is a number without an exact
/// JSON value (`.nan`, `.inf`, `1e400`, integers past 64 bits: those become a string, or the
/// nearest float for big integers, and the caller keeps the text).
fn scalar(v: &str, style: ScalarStyle, tag: Option<&saphyr_parser::Tag>) -> (Value, bool) {
    if let Some(tag) = tag {
        if (tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!") && tag.suffix == "str" {
            return (Value::String(v.to_string()), false);
        }
    }
    if style != ScalarStyle::Plain {
        return (Value::String(v.to_string()), false);
    }
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return (Value::Null, false),
        "true" | "True" | "TRUE" => return (Value::Bool(true), false),
        "false" | "False" | "FALSE" => return (Value::Bool(false), false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return (Value::String(v.to_string()), true),
        _ => {}
    }
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = v.parse::<i64>() {
            return (Value::Number(i.into()), false);
        }
        if let Ok(u) = v.parse::<u64>() {
            return (Value::Number(u.into()), false);
        }
        // Past 64 bits: the nearest float, marked inexact.
        if let Some(n) = v.parse::<f64>().ok().and_then(Number::from_f64) {
            return (Value::Number(n), true);
        }
    }
    if let Some(h) = v.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return (Value::Number(i.into()), false);
        }
    }
    if let Some(o) = v.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(o, 8) {
            return (Value::Number(i.into()), false);
        }
    }
    let looks_float = v
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && v.bytes().any(|b| b.is_ascii_digit());
    if looks_float {
        if let Ok(f) = v.parse::<f64>() {
            match Number::from_f64(f) {
                Some(n) => return (Value::Number(n), false),
                // `1e400`: past the largest float.
                None => return (Value::String(v.to_string()), true),
            }
        }
    }
    (Value::String(v.to_string()), false)
}

fn to_value(t: Tree, pointer: &str, key: Option<Span>, map: &mut SourceMap) -> Value {
    let style = match &t {
        Tree::Scalar(_, _, style, _) => *style,
        Tree::Seq(..) | Tree::Map(..) => Style::Collection,
    };
    map.insert(
        pointer.to_string(),
        Loc {
            key,
            value: t.span(),
            style,
        },
    );
    match t {
        Tree::Scalar(v, _, _, written) => {
            if let Some(w) = written {
                map.written.insert(pointer.to_string(), w.into());
            }
            v
        }
        Tree::Seq(items, _) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, t)| to_value(t, &format!("{pointer}/{i}"), None, map))
                .collect(),
        ),
        Tree::Map(items, _) => {
            let mut obj = Map::new();
            for (k, ks, v) in items {
                let p = child(pointer, &k);
                let v = to_value(v, &p, Some(ks), map);
                obj.insert(k, v);
            }
            Value::Object(obj)
        }
    }
}

/// A hint for the commonest syntax errors.
fn syntax_hint(info: &str, text: &str, at: Pos) -> String {
    let line = text.lines().nth(at.line.saturating_sub(1)).unwrap_or("");
    if info.contains("tab") || line.starts_with('\t') {
        "YAML indentation must use spaces, not tabs".to_string()
    } else if info.contains("flow sequence") || info.contains("']'") {
        "a `[` flow sequence must be closed with `]` before the next key".to_string()
    } else if info.contains("flow mapping") || info.contains("'}'") {
        "a `{` flow mapping must be closed with `}`".to_string()
    } else if info.contains("quoted") || info.contains("quote") {
        "a quoted string must be closed with the same quote on the same scalar".to_string()
    } else if info.contains("mapping values are not allowed") {
        "quote a value that contains `: `, or fix the indentation of the key".to_string()
    } else {
        "check the indentation and brackets around this position".to_string()
    }
}

impl SourceMap {
    /// Keys of the node at `pointer` and everything below it, found by a range query (the
    /// pointers of a subtree are contiguous in the map's order).
    fn subtree_keys<'m, V>(
        m: &'m BTreeMap<String, V>,
        pointer: &'m str,
    ) -> impl Iterator<Item = (&'m String, &'m V)> + 'm {
        m.range::<str, _>((
            std::ops::Bound::Included(pointer),
            std::ops::Bound::Unbounded,
        ))
        .take_while(move |(k, _)| k.starts_with(pointer))
        .filter(move |(k, _)| k.len() == pointer.len() || k[pointer.len()..].starts_with('/'))
    }

    /// Removes the node at `pointer` and everything below it.
    pub fn remove_subtree(&mut self, pointer: &str) {
        let gone: Vec<String> = Self::subtree_keys(&self.locs, pointer)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.locs.remove(&k);
            self.written.remove(&k);
        }
    }

    /// A copy without the node at `pointer` and everything below it.
    pub fn without_subtree(&self, pointer: &str) -> SourceMap {
        let keep = |k: &String| {
            !(k.starts_with(pointer)
                && (k.len() == pointer.len() || k[pointer.len()..].starts_with('/')))
        };
        SourceMap {
            locs: self
                .locs
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, l)| (k.clone(), *l))
                .collect(),
            written: self
                .written
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, w)| (k.clone(), w.clone()))
                .collect(),
        }
    }

    /// Copies the node at `pointer` and everything below it from `other`, at the same place.
    pub fn copy_subtree(&mut self, other: &SourceMap, pointer: &str) {
        for (k, l) in Self::subtree_keys(&other.locs, pointer) {
            self.locs.insert(k.clone(), *l);
        }
        for (k, w) in Self::subtree_keys(&other.written, pointer) {
            self.written.insert(k.clone(), w.clone());
        }
    }

    /// Copies every entry under `from` to the same relative place under `to` (overlay merging:
    /// merged nodes keep the overlay's own positions).
    pub fn graft(&mut self, from: &str, to: &str, keep_existing_root: bool) {
        let moved: Vec<(String, Loc)> = Self::subtree_keys(&self.locs, from)
            .map(|(k, l)| (format!("{to}{}", &k[from.len()..]), *l))
            .collect();
        for (k, l) in moved {
            if keep_existing_root && k == to && self.locs.contains_key(&k) {
                continue;
            }
            self.locs.insert(k, l);
        }
        let moved: Vec<(String, String)> = Self::subtree_keys(&self.written, from)
            .map(|(k, w)| (format!("{to}{}", &k[from.len()..]), w.clone()))
            .collect();
        self.written.extend(moved);
    }
}

/// An opener (`[`, `{`, `"`, `'`) still open at some point of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unclosed {
    pub opener: char,
    pub at: Pos,
}

/// Finds the innermost bracket or quote still open at character offset `until`.
///
/// saphyr reports a syntax error where it noticed it, often lines after the real mistake (an
/// unclosed `[` on line 2 is noticed at the next key). This small scanner follows flow brackets
/// and quoted scalars the way YAML opens them (only at the start of a scalar, so `don't` opens
/// nothing), skips comments and block scalars, and tells where the person must look.
pub fn unclosed_at(text: &str, until: usize) -> Option<Unclosed> {
    let chars: Vec<char> = text.chars().collect();
    let until = until.min(chars.len());
    let mut stack: Vec<Unclosed> = Vec::new();
    let mut quote: Option<Unclosed> = None;
    let (mut line, mut col) = (1usize, 1usize);
    // The last significant character on the current scalar path, to decide "scalar start".
    let mut prev: Option<char> = None;
    let mut prev_ws = true;
    let mut line_indent: usize = 0;
    let mut at_line_start = true;
    let mut skip_block_above: Option<usize> = None;
    let mut i = 0;
    while i < until {
        let c = chars[i];
        let here = Pos {
            line,
            column: col,
            offset: i,
        };
        // Advance position bookkeeping first.
        let advance = |line: &mut usize, col: &mut usize, c: char| {
            if c == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
        };
        if at_line_start && quote.is_none() {
            // Measure indentation; inside a block scalar, skip lines indented deeper than its key.
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let indent = j - i;
            let blank = j >= chars.len() || chars[j] == '\n' || chars[j] == '\r';
            if let Some(parent) = skip_block_above {
                if blank || indent > parent {
                    // Skip the whole line, newline included.
                    while i < until && chars[i] != '\n' {
                        advance(&mut line, &mut col, chars[i]);
                        i += 1;
                    }
                    if i < until {
                        advance(&mut line, &mut col, '\n');
                        i += 1;
                    }
                    continue;
                }
                skip_block_above = None;
            }
            if stack.is_empty() {
                line_indent = indent;
                prev = None;
                prev_ws = true;
            }
            at_line_start = false;
        }
        if let Some(q) = quote {
            if q.opener == '"' && c == '\\' {
                advance(&mut line, &mut col, c);
                i += 1;
                if i < until {
                    advance(&mut line, &mut col, chars[i]);
                    if chars[i] == '\n' {
                        at_line_start = true;
                    }
                    i += 1;
                }
                continue;
            }
            if c == q.opener {
                if q.opener == '\'' && chars.get(i + 1) == Some(&'\'') {
                    advance(&mut line, &mut col, c);
                    advance(&mut line, &mut col, c);
                    i += 2;
                    continue;
                }
                quote = None;
                prev = Some('x');
                prev_ws = false;
            }
        } else {
            let scalar_start = match prev {
                None => true,
                Some('[' | '{' | ',') => true,
                Some(':' | '-' | '?') => prev_ws,
                _ => false,
            };
            match c {
                '#' if prev_ws => {
                    while i < until && chars[i] != '\n' {
                        advance(&mut line, &mut col, chars[i]);
                        i += 1;
                    }
                    continue;
                }
                '"' | '\'' if scalar_start => {
                    quote = Some(Unclosed {
                        opener: c,
                        at: here,
                    });
                }
                '[' | '{' if scalar_start || !stack.is_empty() => {
                    stack.push(Unclosed {
                        opener: c,
                        at: here,
                    });
                }
                ']' | '}' if !stack.is_empty() => {
                    let want = if c == ']' { '[' } else { '{' };
                    if stack.last().map(|u| u.opener) == Some(want) {
                        stack.pop();
                    } else {
                        // A mismatched closer: the innermost opener is the culprit.
                        return stack.last().copied();
                    }
                }
                '|' | '>' if scalar_start && stack.is_empty() => {
                    // A block scalar header: the rest of the line is indicators or a comment.
                    let rest: String = chars[i + 1..]
                        .iter()
                        .take_while(|&&ch| ch != '\n')
                        .collect();
                    let rest = rest.split('#').next().unwrap_or("").trim().to_string();
                    if rest
                        .chars()
                        .all(|ch| ch.is_ascii_digit() || ch == '-' || ch == '+')
                    {
                        skip_block_above = Some(line_indent);
                    }
                }
                _ => {}
            }
            if !c.is_whitespace() {
                prev = Some(c);
            }
            prev_ws = c.is_whitespace();
        }
        advance(&mut line, &mut col, c);
        if c == '\n' {
            at_line_start = true;
            prev_ws = true;
        }
        i += 1;
    }
    quote.or_else(|| stack.last().copied())
}

/// The first tab used for indentation at or before `line` (1-based), outside block scalars.
fn tab_in_indent(text: &str, up_to_line: usize) -> Option<Pos> {
    let mut offset = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if n + 1 > up_to_line {
            break;
        }
        let lead: Vec<char> = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        if let Some(k) = lead.iter().position(|c| *c == '\t') {
            return Some(Pos {
                line: n + 1,
                column: k + 1,
                offset: offset + k,
            });
        }
        offset += l.chars().count();
    }
    None
}

/// Turns saphyr's syntax error into the diagnostic a person needs: at the unclosed opener or
/// the indenting tab when there is one, else where saphyr stopped.
fn syntax_error(info: &str, text: &str, at: Pos) -> Diagnostic {
    let noticed = format!(
        "the YAML parser stopped at line {}, column {} ({info})",
        at.line, at.column
    );
    if info.contains("tab") || tab_in_indent(text, at.line).is_some_and(|t| t.line + 1 >= at.line) {
        if let Some(t) = tab_in_indent(text, at.line + 1) {
            return Diagnostic::error("E007", "tab character in indentation")
                .at(Span::new(
                    t,
                    Pos {
                        column: t.column + 1,
                        offset: t.offset + 1,
                        ..t
                    },
                ))
                .with_help(
                    "YAML indentation must use spaces, not tabs; replace the tab with spaces",
                );
        }
    }
    if info.contains("recursion limit") {
        return Diagnostic::error("E004", "nesting is too deep")
            .at(Span::point(at))
            .with_help(format!(
                "a spec is a few levels deep; the parser refuses nesting this deep (at line {}, column {})",
                at.line, at.column
            ));
    }
    if let Some(u) = unclosed_at(text, at.offset + 1) {
        let one = Span::new(
            u.at,
            Pos {
                column: u.at.column + 1,
                offset: u.at.offset + 1,
                ..u.at
            },
        );
        let (what, close) = match u.opener {
            '[' => ("flow sequence `[`", "`]`"),
            '{' => ("flow mapping `{`", "`}`"),
            '"' => ("double-quoted string", "`\"`"),
            _ => ("single-quoted string", "`'`"),
        };
        return Diagnostic::error("E001", format!("invalid YAML: unclosed {what}"))
            .at(one)
            .with_help(format!("close it with {close}; {noticed}"));
    }
    Diagnostic::error("E001", format!("invalid YAML: {info}"))
        .at(Span::point(at))
        .with_help(syntax_hint(info, text, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(text: &str) -> Diagnostic {
        parse(text).unwrap_err().remove(0)
    }

    fn at(d: &Diagnostic) -> (usize, usize) {
        let s = d.span.expect("a span");
        (s.start.line, s.start.column)
    }

    #[test]
    fn a_syntax_error_is_reported_where_it_must_be_mended() {
        // What each case shows, the text, where its first error is (line, column), and words its
        // message must hold.
        let cases = [
            (
                "an unclosed bracket is reported at the bracket",
                "version: 1\nname: [a, b\nchannel:\n  x: 1\n",
                (2, 7),
                "unclosed flow sequence",
            ),
            (
                "an unclosed brace inside brackets is the culprit",
                "a:\n  b: [1, {c: 2]\n  d: 3\n",
                (2, 10),
                "",
            ),
            (
                "an unclosed quote is reported at the quote even when noticed at the end",
                "version: 1\nname: \"abc\n  desc: x\n  more: y\n",
                (2, 7),
                "double-quoted",
            ),
            (
                "apostrophes in plain scalars and brackets in block scalars open nothing",
                "a: |\n  { \"x\": [1,\n  zz\nb: don't\nc: [1, 2\nd: 1\n",
                (5, 4),
                "",
            ),
            (
                "columns count characters, not bytes",
                "é: \"ü\"\nname: [a, b\nchannel:\n  x: 1\n",
                (2, 7),
                "",
            ),
            (
                "a tab in indentation gets its own message at the tab",
                "version: 1\nchannel:\n  name: x\n\tfoo: 1\n",
                (4, 1),
                "",
            ),
        ];
        for (what, text, pos, says) in cases {
            let d = first_error(text);
            assert_eq!(at(&d), pos, "{what}: {d:?}");
            assert!(d.message.contains(says), "{what}: {d:?}");
        }
    }

    #[test]
    fn a_tab_in_indentation_gets_its_own_code() {
        let d = first_error("version: 1\nchannel:\n  name: x\n\tfoo: 1\n");
        assert_eq!(d.code, "E007");
    }

    #[test]
    fn duplicate_keys_are_all_reported_with_the_first_position() {
        let ds = parse("a: 1\nb: 2\na: 3\nb: 4\n").unwrap_err();
        assert_eq!(ds.len(), 2);
        assert_eq!(at(&ds[0]), (3, 1));
        assert!(ds[0].help.as_deref().unwrap().contains("line 1"));
    }

    #[test]
    fn a_written_key_overrides_a_merged_one_wherever_it_is_written() {
        let text = "base: &b {x: 1, y: 2, z: 3}\nafter:\n  <<: *b\n  x: 10\nbefore:\n  y: 20\n  <<: *b\nlist:\n  <<: [{x: 100}, *b]\n";
        let doc = parse(text).unwrap();
        assert_eq!(
            doc.value["after"],
            serde_json::json!({"x": 10, "y": 2, "z": 3})
        );
        assert_eq!(
            doc.value["before"],
            serde_json::json!({"y": 20, "x": 1, "z": 3})
        );
        assert_eq!(
            doc.value["list"],
            serde_json::json!({"x": 100, "y": 2, "z": 3})
        );
        // The override is where it is written, not inside the anchor.
        assert_eq!(doc.map.get("/after/x").unwrap().key.unwrap().start.line, 4);
        // Written twice is still a duplicate, merge or not.
        let ds = parse("base: &b {x: 1}\na:\n  <<: *b\n  x: 2\n  x: 3\n").unwrap_err();
        assert_eq!(
            (ds.len(), ds[0].code.as_str(), at(&ds[0])),
            (1, "E006", (5, 3))
        );
        assert!(ds[0].help.as_deref().unwrap().contains("line 4"), "{ds:?}");
    }

    #[test]
    fn a_merge_key_of_something_other_than_a_mapping_is_an_error_at_the_value() {
        let ds = parse("a:\n  <<: 5\n  x: 1\n").unwrap_err();
        assert_eq!((ds[0].code.as_str(), at(&ds[0])), ("E008", (2, 7)));
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, c) in ('b'..='j').enumerate() {
            let prev = (b'a' + i as u8) as char;
            let refs = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{c}: &{c} [{refs}]\n"));
        }
        // Expanded, the document would be 10^10 nodes: hours, and memory no machine has. The bound
        // only tells "refused before expanding" from "expanded"; it is wide, because a loaded
        // machine took 5 s for the refusal in a debug build.
        let started = std::time::Instant::now();
        let d = first_error(&text);
        assert_eq!(d.code, "E003");
        assert!(started.elapsed() < std::time::Duration::from_secs(120));
    }

    #[test]
    fn every_node_has_a_key_and_value_span() {
        let doc = parse("channel:\n  name: C\n  list: [1, 2]\n").unwrap();
        let l = doc.map.get("/channel/name").unwrap();
        assert_eq!(l.key.unwrap().start.column, 3);
        assert_eq!((l.value.start.line, l.value.start.column), (2, 9));
        assert_eq!(
            doc.map.get("/channel/list/1").unwrap().value.start.column,
            13
        );
    }
}
