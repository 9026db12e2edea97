//! The JSON Schema of the spec format: generated from [`RawSpec`] by schemars (so the schema and
//! the serde model cannot disagree), checked in under `schemas/`, and used to validate the merged
//! YAML tree before serde sees it. Validation errors are turned into diagnostics at the exact
//! key or value in the YAML, in words a person can act on.

use std::sync::OnceLock;

use serde_json::Value;

use jsonschema::error::ValidationErrorKind;

use super::model::RawSpec;
use super::yaml::SourceMap;
use crate::diag::{Diagnostic, Span};

/// Where the checked-in schema lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "schemas/cxsync-spec.v1.json";

/// The `$id` of the schema: a URN, since the schema is not served from any URL.
pub const SCHEMA_ID: &str = "urn:cxsync:spec:v1";

/// Generates the JSON Schema (draft 2020-12) of the spec format.
pub fn generate() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawSpec>();
    let mut v = schema.to_value();
    if let Value::Object(m) = &mut v {
        // `$schema` and `$id` first, so a reader of the file sees what it is.
        let mut out = serde_json::Map::new();
        if let Some(s) = m.remove("$schema") {
            out.insert("$schema".into(), s);
        }
        out.insert("$id".into(), Value::String(SCHEMA_ID.into()));
        out.extend(std::mem::take(m));
        // Top-level `x-…` keys are the author's own (a place for YAML anchors that `<<: *name`
        // merges elsewhere, as in Compose and OpenAPI files); the loader reads past them.
        out.insert(
            "patternProperties".into(),
            serde_json::json!({ EXTENSION_PATTERN: true }),
        );
        *m = out;
    }
    v
}

/// Top-level keys the spec format leaves to the author: those starting with `x-`.
pub const EXTENSION_PATTERN: &str = "^x-";

/// Whether a top-level key is one of the author's own ([`EXTENSION_PATTERN`]).
pub fn is_extension(key: &str) -> bool {
    key.starts_with("x-")
}

/// The schema as pretty JSON with a trailing newline: the bytes of the checked-in file.
pub fn to_pretty() -> String {
    let mut s = serde_json::to_string_pretty(schema()).expect("a JSON value serializes");
    s.push('\n');
    s
}

/// The schema, generated once per process.
pub fn schema() -> &'static Value {
    spec().root()
}

/// The spec's schema with its validator, compiled once per process (compiling costs far more
/// than validating).
pub fn spec() -> &'static Schema {
    static SPEC: OnceLock<Schema> = OnceLock::new();
    SPEC.get_or_init(|| Schema::new(generate(), SPEC_PATTERNS))
}

/// Validates the merged YAML tree against the spec's schema. Every error becomes a diagnostic
/// (without a file: the caller adds it) at the key (unknown or missing fields) or value (wrong
/// types and values) it is about.
pub fn validate(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    spec().validate(tree, map)
}

/// What a pattern violation means, in words: the message (after `` `field`: ``), the help, and
/// the characters of the value to point at, when one part of it is the problem.
pub struct Explained {
    pub message: String,
    pub help: String,
    pub at: Option<(usize, usize)>,
}

/// How the violations of one `pattern` of a schema are told.
pub struct PatternRule {
    pub pattern: &'static str,
    pub explain: fn(&str) -> Explained,
}

/// A JSON Schema (the spec's, or a scenario's) with its compiled validator and the words for its
/// patterns. The same code turns every format's violations into diagnostics, so a scenario is
/// reported exactly like a spec.
pub struct Schema {
    root: Value,
    validator: jsonschema::Validator,
    patterns: &'static [PatternRule],
}

impl Schema {
    /// Compiles `root` (draft 2020-12). Panics if the schema is invalid: schemas are generated
    /// from cxsync's own types, and a test compiles each.
    pub fn new(root: Value, patterns: &'static [PatternRule]) -> Schema {
        let validator = jsonschema::draft202012::options()
            .build(&root)
            .expect("a generated schema compiles");
        Schema {
            root,
            validator,
            patterns,
        }
    }

    /// The schema document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Every violation of `tree`, as diagnostics located through `map`.
    pub fn validate(&self, tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        // The common case, a valid tree, takes the fast path that builds no error values.
        if self.validator.is_valid(tree) {
            return out;
        }
        for err in self.validator.iter_errors(tree) {
            self.describe_error(&err, map, &mut out);
        }
        drop_missing_explained_by_typo(&mut out);
        out
    }

    /// The violations of `tree` at exactly the given pointers (`(pointer, diagnostics)`): the
    /// loader re-checks the strings `${env:…}` filled against the literal's limits.
    pub fn validate_at(
        &self,
        tree: &Value,
        map: &SourceMap,
        pointers: &std::collections::BTreeMap<String, String>,
    ) -> Vec<(String, Diagnostic)> {
        let mut out = Vec::new();
        if self.validator.is_valid(tree) {
            return out;
        }
        for err in self.validator.iter_errors(tree) {
            let at = err.instance_path().as_str().to_string();
            if pointers.contains_key(&at) {
                let mut ds = Vec::new();
                self.describe_error(&err, map, &mut ds);
                out.extend(ds.into_iter().map(|d| (at.clone(), d)));
            }
        }
        out
    }
}

/// The spec's patterns, in words.
const SPEC_PATTERNS: &[PatternRule] = &[
    PatternRule {
        pattern: super::model::ID_PATTERN,
        explain: explain_id,
    },
    PatternRule {
        pattern: super::model::HEADER_NAME_PATTERN,
        explain: explain_header_name,
    },
    PatternRule {
        pattern: super::model::HEADER_VALUE_PATTERN,
        explain: explain_header_value,
    },
    PatternRule {
        pattern: super::model::BUCKET_PATTERN,
        explain: explain_bucket,
    },
    PatternRule {
        pattern: super::model::PREFIX_PATTERN,
        explain: explain_prefix,
    },
    PatternRule {
        pattern: super::model::NAME_PATTERN,
        explain: explain_name,
    },
];

fn explain_name(v: &str) -> Explained {
    let bad = v
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && (*c as u32) < 0x80);
    let what = match bad.map(|(_, c)| c) {
        Some('\t') => "a tab".to_string(),
        Some('\n') => "a line feed (LF)".to_string(),
        Some('\r') => "a carriage return (CR)".to_string(),
        Some(c) => format!("the control character U+{:04X}", c as u32),
        None => "a character that is not allowed".to_string(),
    };
    Explained {
        message: format!("the name contains {what}"),
        help: "a name is one line of text without control characters: it is printed in reports, \
               snapshot headers and on the terminal, where they would act (a bell, an escape \
               sequence)"
            .to_string(),
        at: bad.map(|(i, _)| (i, i + 1)),
    }
}

fn explain_bucket(v: &str) -> Explained {
    Explained {
        message: format!("`{}` is not a bucket name", short(v)),
        help:
            "use 1–63 lower-case letters, digits, `.` and `-`, starting and ending with a letter \
               or digit, with no two `.` side by side (S3's bucket naming): the name is one folder of `--dlq-dir` and one part \
               of every record's key"
                .to_string(),
        at: None,
    }
}

fn explain_prefix(v: &str) -> Explained {
    Explained {
        message: format!("`{}` is not a key prefix", short(v)),
        help: "write folders separated by `/` (`crm-sync-failed/`), none of them empty, `.` or \
               `..`, with no `\\` or control characters: a prefix may not climb out of the bucket"
            .to_string(),
        at: None,
    }
}

fn explain_id(v: &str) -> Explained {
    Explained {
        message: format!("`{}` is not a safe name", short(v)),
        help: "use 1–128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-` and not \
               ending with `.`: the name goes into API paths and file names"
            .to_string(),
        at: None,
    }
}

fn explain_header_name(v: &str) -> Explained {
    let bad = v
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)));
    Explained {
        message: format!("`{}` is not an HTTP header name", short(v)),
        help: "a header name is letters, digits and ``!#$%&'*+-.^_`|~`` (an RFC 9110 token): no \
               spaces, colons or control characters"
            .to_string(),
        at: bad.map(|i| (i, i + 1)),
    }
}

fn explain_header_value(v: &str) -> Explained {
    let bad = v
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && *c != '\t' && (*c as u32) < 0x80);
    let what = match bad.map(|(_, c)| c) {
        Some('\r') => "a carriage return (CR)".to_string(),
        Some('\n') => "a line feed (LF)".to_string(),
        Some('\0') => "a NUL character".to_string(),
        Some(c) => format!("the control character U+{:04X}", c as u32),
        None => "a character that is not allowed".to_string(),
    };
    Explained {
        message: format!("the header value contains {what}"),
        help: "header values cannot hold CR, LF, NUL or other control characters: they would end \
               the header and let the value inject others"
            .to_string(),
        at: bad.map(|(i, _)| (i, i + 1)),
    }
}

/// `destinationUrl` (unknown; did you mean `destinationUri`?) already explains the missing
/// `destinationUri`: reporting both is noise.
fn drop_missing_explained_by_typo(diags: &mut Vec<Diagnostic>) {
    let parent_of = |msg: &str| msg.split(" in `").nth(1).unwrap_or("").to_string();
    let typos: Vec<(String, String)> = diags
        .iter()
        .filter(|d| d.code == "E101")
        .filter_map(|d| {
            let s = d.help.as_deref()?.strip_prefix("did you mean `")?;
            Some((s.split('`').next()?.to_string(), parent_of(&d.message)))
        })
        .collect();
    diags.retain(|d| {
        let Some(rest) = d.message.strip_prefix("missing required field `") else {
            return true;
        };
        let name = rest.split('`').next().unwrap_or("").to_string();
        !typos.contains(&(name, parent_of(&d.message)))
    });
}

/// Resolves a schema path (as jsonschema reports it, with `$ref` segments) in the root schema.
fn resolve_schema_path<'s>(root: &'s Value, path: &str) -> Option<&'s Value> {
    let mut node = root;
    for raw in path.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg == "$ref" {
            let target = node.get("$ref")?.as_str()?;
            node = root.pointer(target.strip_prefix('#')?)?;
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(&seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Follows a local `$ref` of a subschema.
fn deref<'s>(root: &'s Value, node: &'s Value) -> &'s Value {
    let mut n = node;
    for _ in 0..8 {
        match n.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(t) => n = t,
                None => break,
            },
            None => break,
        }
    }
    n
}

/// A JSON pointer as the dotted path a person reads (`channel.auth.clientId`, `rules[0].id`).
pub fn dotted(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the spec".to_string();
    }
    let mut s = String::new();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() && !s.is_empty() {
            s.push_str(&format!("[{seg}]"));
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(&seg);
        }
    }
    s
}

/// A value a person wrote, escaped, and cut at 60 characters so a 100,000-character id does not
/// become a 100,000-character message.
pub fn short(v: &str) -> String {
    let mut out: String = v.chars().take(60).flat_map(char::escape_debug).collect();
    if v.chars().nth(60).is_some() {
        out.push('…');
    }
    out
}

/// `a string ("x")`, `a list`, … — what a person wrote, in YAML words.
pub fn found(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("an integer ({n})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let ell = if s.chars().count() > 40 { "…" } else { "" };
            format!("a string ({short:?}{ell})")
        }
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

fn type_word(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        "array" => "a list",
        "object" => "a mapping",
        "null" => "null",
        _ => "a value of another type",
    }
}

fn expected_types(node: Option<&Value>) -> String {
    match node {
        Some(Value::String(t)) => type_word(t).to_string(),
        Some(Value::Array(ts)) => {
            // `null` is how an optional field's schema says "may be left out": not worth saying.
            let words: Vec<&str> = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null" || ts.len() == 1)
                .map(type_word)
                .collect();
            words.join(" or ")
        }
        _ => "another type".to_string(),
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = if c.to_ascii_lowercase() == lower {
            1.0
        } else {
            strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
        };
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn const_values(root: &Value, variants: &[Value]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for v in variants {
        let v = deref(root, v);
        if let Some(c) = v.get("const") {
            out.push(scalar_text(c));
        } else if let Some(Value::Array(e)) = v.get("enum") {
            out.extend(e.iter().map(scalar_text));
        } else {
            return None;
        }
    }
    Some(out)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The tag (`type` const) of each variant of a tagged `oneOf`, when every variant has one.
fn variant_tags(root: &Value, variants: &[Value]) -> Option<(String, Vec<String>)> {
    let mut tag_key = None;
    let mut tags = Vec::new();
    for v in variants {
        let v = deref(root, v);
        let props = v.get("properties")?.as_object()?;
        let (k, c) = props
            .iter()
            .find_map(|(k, p)| p.get("const").map(|c| (k.clone(), scalar_text(c))))?;
        if tag_key.get_or_insert_with(|| k.clone()) != &k {
            return None;
        }
        tags.push(c);
    }
    Some((tag_key?, tags))
}

/// The key of each variant of an externally tagged `oneOf` (`- maintenance: {…}`): every
/// variant an object with exactly one property, required.
fn external_tags(root: &Value, variants: &[Value]) -> Option<Vec<String>> {
    variants
        .iter()
        .map(|v| {
            let v = deref(root, v);
            let props = v.get("properties")?.as_object()?;
            let req = v.get("required")?.as_array()?;
            match (props.len(), req.as_slice()) {
                (1, [Value::String(k)]) if props.contains_key(k) => Some(k.clone()),
                _ => None,
            }
        })
        .collect()
}

/// The JSON type names a (dereferenced) subschema allows, if it says: its `type`, or the types
/// of the forms of an `anyOf`/`oneOf` without one (an optional choice such as `Option<Band>` is
/// `anyOf: [{$ref: Band}, {type: null}]`, and `Band` itself a choice of forms).
fn schema_types<'s>(root: &'s Value, node: &'s Value) -> Vec<&'s str> {
    fn walk<'s>(root: &'s Value, node: &'s Value, depth: usize, out: &mut Vec<&'s str>) {
        match node.get("type") {
            Some(Value::String(t)) => out.push(t.as_str()),
            Some(Value::Array(ts)) => out.extend(ts.iter().filter_map(Value::as_str)),
            _ if depth < 8 => {
                let forms = node.get("anyOf").or_else(|| node.get("oneOf"));
                for v in forms.and_then(Value::as_array).into_iter().flatten() {
                    walk(root, deref(root, v), depth + 1, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(root, node, 0, &mut out);
    out
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_allows(types: &[&str], v: &Value) -> bool {
    let t = json_type(v);
    types.iter().any(|&x| {
        x == t
            || (x == "number" && t == "integer")
            || (x == "integer" && v.as_f64().is_some_and(|f| f.fract() == 0.0))
    })
}

/// What was written at `pointer`, in YAML words: the text itself for numbers that have no exact
/// JSON value (`.nan`, `.inf`, `1e400`, integers past 64 bits).
pub fn found_at(v: &Value, pointer: &str, map: &SourceMap) -> String {
    match map.written(pointer) {
        Some(w) => {
            let l = w.to_ascii_lowercase();
            if l.ends_with("nan") {
                format!("`{w}` (not a number)")
            } else if l.ends_with("inf") {
                format!("`{w}` (infinity)")
            } else if w
                .trim_start_matches(['+', '-'])
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                format!("`{w}`, an integer past 64 bits")
            } else {
                format!("`{w}`, a number too large to represent")
            }
        }
        None => found(v),
    }
}

/// ` from 1 to 86400`, ` of at least 0`, … from a subschema's bounds.
fn bounds_text(node: Option<&Value>) -> String {
    let Some(node) = node else {
        return String::new();
    };
    let num = |k: &str| node.get(k).filter(|v| v.is_number()).map(num_text);
    match (num("minimum"), num("maximum")) {
        (Some(lo), Some(hi)) => format!(" from {lo} to {hi}"),
        (Some(lo), None) => format!(" of at least {lo}"),
        (None, Some(hi)) => format!(" of at most {hi}"),
        (None, None) => String::new(),
    }
}

/// A schema number as a person writes it (`86400`, not `86400.0`).
fn num_text(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

impl Schema {
    /// [`Schema::describe`] of one validation error where it occurred.
    fn describe_error(
        &self,
        e: &jsonschema::ValidationError<'_>,
        map: &SourceMap,
        out: &mut Vec<Diagnostic>,
    ) {
        self.describe(
            e.kind(),
            e.instance_path().as_str(),
            e.schema_path().as_str(),
            e.instance(),
            map,
            out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn describe(
        &self,
        kind: &ValidationErrorKind,
        instance_path: &str,
        schema_path: &str,
        instance: &Value,
        map: &SourceMap,
        out: &mut Vec<Diagnostic>,
    ) {
        let root = &self.root;
        let keyword = resolve_schema_path(root, schema_path);
        // The subschema holding the failing keyword.
        let parent_path = schema_path
            .rfind('/')
            .map(|i| &schema_path[..i])
            .unwrap_or("");
        let parent = resolve_schema_path(root, parent_path).map(|p| deref(root, p));
        let what = dotted(instance_path);
        // Where a field is unknown or missing, in words.
        let within = if instance_path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{what}`")
        };
        let at_value = map.value_span(instance_path);
        let found_here = found_at(instance, instance_path, map);
        // For ranges, the number as written (`found 1e17`), not a description.
        let raw_here = map
            .written(instance_path)
            .map(str::to_string)
            .unwrap_or_else(|| match instance.as_f64() {
                Some(_) => num_text(instance),
                None => instance.to_string(),
            });
        match kind {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let known: Vec<&str> = parent
                    .and_then(|p| p.get("properties"))
                    .and_then(Value::as_object)
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for key in unexpected {
                    let p = super::yaml::child(instance_path, key);
                    let mut d =
                        Diagnostic::error("E101", format!("unknown field `{key}` {within}"))
                            .at_opt(map.key_span(&p));
                    d = match suggest(key, known.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "expected one of {}",
                            quoted_list(&known.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                        )),
                    };
                    out.push(d);
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = scalar_text(property);
                let mut d =
                    Diagnostic::error("E102", format!("missing required field `{name}` {within}"))
                        .at_opt(map.key_span(instance_path));
                if let Some(desc) = parent
                    .and_then(|p| p.get("properties"))
                    .and_then(|p| p.get(&name))
                    .and_then(|p| p.get("description"))
                    .and_then(Value::as_str)
                {
                    d = d.with_help(format!("`{name}`: {}", first_sentence(desc)));
                }
                out.push(d);
            }
            ValidationErrorKind::Type { .. } => {
                let written = map.written(instance_path).is_some();
                let help = if written {
                    format!("write a finite number{}", bounds_text(parent))
                } else {
                    type_help(keyword, instance)
                };
                out.push(
                    Diagnostic::error(
                        "E103",
                        format!(
                            "`{what}`: expected {}{}, found {found_here}",
                            expected_types(keyword),
                            bounds_text(parent)
                        ),
                    )
                    .at_opt(at_value)
                    .with_help(help),
                );
            }
            ValidationErrorKind::Enum { options } => {
                let opts: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().map(scalar_text).collect())
                    .unwrap_or_default();
                out.push(one_of_values(&what, &opts, instance, at_value));
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(
                    Diagnostic::error(
                        "E104",
                        format!(
                            "`{what}`: expected `{}`, found {found_here}",
                            scalar_text(expected_value),
                        ),
                    )
                    .at_opt(at_value),
                );
            }
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context } => {
                let variants: Vec<Value> = keyword
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let describe_variant = |i: usize, out: &mut Vec<Diagnostic>| {
                    for e in context.get(i).into_iter().flatten() {
                        self.describe_error(e, map, out);
                    }
                };
                if let Some(values) = const_values(root, &variants) {
                    out.push(one_of_values(&what, &values, instance, at_value));
                } else if let Some((tag_key, tags)) = variant_tags(root, &variants) {
                    let tag_ptr = super::yaml::child(instance_path, &tag_key);
                    match instance.get(&tag_key) {
                        Some(Value::String(t)) if tags.contains(t) => {
                            // The variant the person chose: report its own errors.
                            describe_variant(tags.iter().position(|x| x == t).unwrap_or(0), out);
                        }
                        Some(t) => out.push(one_of_values(
                            &dotted(&tag_ptr),
                            &tags,
                            t,
                            map.value_span(&tag_ptr),
                        )),
                        None => out.push(
                            Diagnostic::error(
                                "E102",
                                format!("missing required field `{tag_key}` in `{what}`"),
                            )
                            .at_opt(map.key_span(instance_path))
                            .with_help(format!("`{tag_key}` is one of {}", quoted_list(&tags))),
                        ),
                    }
                } else if let Some(tags) = external_tags(root, &variants) {
                    self.describe_external(
                        &what,
                        instance_path,
                        instance,
                        &tags,
                        map,
                        out,
                        |i, o| describe_variant(i, o),
                    );
                } else {
                    let fits: Vec<usize> = variants
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| type_allows(&schema_types(root, deref(root, v)), instance))
                        .map(|(i, _)| i)
                        .collect();
                    if let [only] = fits.as_slice() {
                        // One form has the type written: its own errors say what is wrong.
                        describe_variant(*only, out);
                    } else {
                        let expected = parent
                            .and_then(|p| p.get("description"))
                            .and_then(Value::as_str)
                            .map(|d| lower_first(first_sentence(d).trim_end_matches('.')))
                            .unwrap_or_else(|| {
                                // Without a description, the types of the forms.
                                let mut words: Vec<&str> = Vec::new();
                                for v in &variants {
                                    for t in schema_types(root, deref(root, v)) {
                                        let w = type_word(t);
                                        if t != "null" && !words.contains(&w) {
                                            words.push(w);
                                        }
                                    }
                                }
                                match words.split_last() {
                                    Some((last, rest)) if !rest.is_empty() => {
                                        format!("{} or {last}", rest.join(", "))
                                    }
                                    Some((last, _)) => last.to_string(),
                                    None => "one of the allowed forms".to_string(),
                                }
                            });
                        out.push(
                            Diagnostic::error(
                                "E104",
                                format!("`{what}`: expected {expected}, found {found_here}"),
                            )
                            .at_opt(at_value),
                        );
                    }
                }
            }
            ValidationErrorKind::Minimum { limit } => {
                out.push(range(&what, "at least", limit, &raw_here, parent, at_value))
            }
            ValidationErrorKind::Maximum { limit } => {
                out.push(range(&what, "at most", limit, &raw_here, parent, at_value))
            }
            ValidationErrorKind::ExclusiveMinimum { limit } => out.push(range(
                &what,
                "greater than",
                limit,
                &raw_here,
                parent,
                at_value,
            )),
            ValidationErrorKind::ExclusiveMaximum { limit } => out.push(range(
                &what,
                "less than",
                limit,
                &raw_here,
                parent,
                at_value,
            )),
            ValidationErrorKind::MinLength { limit } => out.push(length(
                &what,
                "at least",
                *limit,
                "characters long",
                at_value,
            )),
            ValidationErrorKind::MaxLength { limit } => out.push(length(
                &what,
                "at most",
                *limit,
                "characters long",
                at_value,
            )),
            ValidationErrorKind::MinItems { limit } => {
                out.push(length(&what, "at least", *limit, "items", at_value))
            }
            ValidationErrorKind::MaxItems { limit } => {
                out.push(length(&what, "at most", *limit, "items", at_value))
            }
            ValidationErrorKind::Pattern { pattern } => {
                let text = instance.as_str().unwrap_or("");
                match self.patterns.iter().find(|r| r.pattern == pattern) {
                    Some(rule) => {
                        let e = (rule.explain)(text);
                        let at =
                            e.at.and_then(|(a, b)| {
                                super::interp::sub_span(map, instance_path, text, a, b)
                            })
                            .or(at_value);
                        out.push(
                            Diagnostic::error("E106", format!("`{what}`: {}", e.message))
                                .at_opt(at)
                                .with_help(e.help),
                        )
                    }
                    None => out.push(
                        Diagnostic::error(
                            "E106",
                            format!("`{what}`: {found_here} is not allowed here"),
                        )
                        .at_opt(at_value)
                        .with_help(format!(
                            "the value must match the regular expression `{pattern}`"
                        )),
                    ),
                }
            }
            ValidationErrorKind::PropertyNames { error } => {
                // The inner error is about the key itself: point at the key.
                let key = error.instance().as_str().unwrap_or("").to_string();
                let kp = super::yaml::child(instance_path, &key);
                let mut inner = Vec::new();
                self.describe(
                    error.kind(),
                    &kp,
                    error.schema_path().as_str(),
                    error.instance(),
                    map,
                    &mut inner,
                );
                for mut d in inner {
                    let key_span = map.key_span(&kp);
                    // A span inside the key when the rule named a character, else the key.
                    let inside = d.span.filter(|s| {
                        key_span.is_some_and(|k| {
                            s.start.offset >= k.start.offset && s.end.offset <= k.end.offset
                        })
                    });
                    d.span = inside.or(key_span);
                    d.message = d.message.replacen(
                        &format!("`{}`:", dotted(&kp)),
                        &format!("`{what}`: the key"),
                        1,
                    );
                    out.push(d);
                }
            }
            other => out.push(
                Diagnostic::error(
                    "E100",
                    format!("`{what}`: {}", other_message(other, instance)),
                )
                .at_opt(at_value),
            ),
        }
    }

    /// An externally tagged choice (`- maintenance: {…}`): an unknown tag gets a did-you-mean,
    /// a known one its own errors.
    #[allow(clippy::too_many_arguments)]
    fn describe_external(
        &self,
        what: &str,
        instance_path: &str,
        instance: &Value,
        tags: &[String],
        map: &SourceMap,
        out: &mut Vec<Diagnostic>,
        variant: impl Fn(usize, &mut Vec<Diagnostic>),
    ) {
        let keys: Vec<&String> = instance
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        match keys.as_slice() {
            [k] => match tags.iter().position(|t| t == *k) {
                Some(i) => variant(i, out),
                None => {
                    let d = Diagnostic::error("E104", format!("`{what}`: unknown kind `{k}`"))
                        .at_opt(map.key_span(&super::yaml::child(instance_path, k)));
                    out.push(match suggest(k, tags.iter().map(String::as_str)) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!("expected one of {}", quoted_list(tags))),
                    });
                }
            },
            _ => out.push(
                Diagnostic::error(
                    "E104",
                    format!(
                        "`{what}`: expected one of {} with its settings, found {}",
                        quoted_list(tags),
                        found(instance)
                    ),
                )
                .at_opt(map.value_span(instance_path))
                .with_help("write one kind per list item, e.g. `- partition: {from: 1m, to: 2m}`"),
            ),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn other_message(kind: &ValidationErrorKind, instance: &Value) -> String {
    format!("{} does not satisfy `{}`", found(instance), kind.keyword())
}

fn first_sentence(desc: &str) -> String {
    let flat = desc.replace('\n', " ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

fn type_help(keyword: Option<&Value>, instance: &Value) -> String {
    let wants_string = matches!(keyword, Some(Value::String(t)) if t == "string");
    let wants_number = matches!(keyword, Some(Value::String(t)) if t == "integer" || t == "number");
    match instance {
        Value::String(s) if wants_number => {
            if s.trim().parse::<f64>().is_ok() {
                "remove the quotes: a quoted number is a string in YAML".to_string()
            } else {
                "write a plain number without units".to_string()
            }
        }
        Value::Number(_) | Value::Bool(_) if wants_string => {
            "quote the value to make it a string".to_string()
        }
        Value::Null => "the value is empty; write one after the colon".to_string(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) if matches!(keyword, Some(Value::String(t)) if t == "array") => {
            "write a list, e.g. `[a, b]` (one item is `[a]`)".to_string()
        }
        _ => "see `cxsync schema` or docs/spec.md for this field".to_string(),
    }
}

fn one_of_values(what: &str, values: &[String], instance: &Value, at: Option<Span>) -> Diagnostic {
    let d = Diagnostic::error(
        "E104",
        format!(
            "`{what}`: expected one of {}, found {}",
            quoted_list(values),
            found(instance)
        ),
    )
    .at_opt(at);
    match instance
        .as_str()
        .and_then(|s| suggest(s, values.iter().map(String::as_str)))
    {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d,
    }
}

/// A string or list of the wrong length (E106): `at least 1` reads as "must not be empty" / "must
/// list at least one item".
fn length(what: &str, rel: &str, limit: u64, unit: &str, at: Option<Span>) -> Diagnostic {
    let message = match (rel, limit, unit) {
        ("at least", 1, "items") => format!("`{what}` must list at least one item"),
        ("at least", 1, _) => format!("`{what}` must not be empty"),
        (_, _, "items") => format!("`{what}` must list {rel} {limit} items"),
        _ => format!("`{what}` must be {rel} {limit} {unit}"),
    };
    Diagnostic::error("E106", message).at_opt(at)
}

/// A number out of range. A subschema whose number has a unit says so with the annotation
/// `"x-unit": "s"` (a scenario duration in seconds): the limit is then written with its unit and
/// in days, so `86400000` reads `86,400,000 s (1000 days)`.
fn range(
    what: &str,
    rel: &str,
    limit: &Value,
    found: &str,
    node: Option<&Value>,
    at: Option<Span>,
) -> Diagnostic {
    let message = match node.and_then(|n| n.get("x-unit")).and_then(Value::as_str) {
        Some(unit) => {
            let days = match (unit, limit.as_u64()) {
                ("s", Some(s)) if s >= 86_400 && s % 86_400 == 0 => {
                    format!(" ({} days)", s / 86_400)
                }
                _ => String::new(),
            };
            format!(
                "`{what}` must be {rel} {} {unit}{days}, found {found} {unit}",
                grouped(&num_text(limit))
            )
        }
        None => format!("`{what}` must be {rel} {}, found {found}", num_text(limit)),
    };
    Diagnostic::error("E105", message).at_opt(at)
}

/// `86400000` as `86,400,000` (the digits before any fraction, in threes).
fn grouped(number: &str) -> String {
    let (int, rest) = number
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .map_or((number, ""), |i| number.split_at(i));
    let (sign, digits) = int.split_at(usize::from(int.starts_with('-')));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}{rest}")
}
