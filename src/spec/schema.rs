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
        *m = out;
    }
    v
}

/// The schema as pretty JSON with a trailing newline: the bytes of the checked-in file.
pub fn to_pretty() -> String {
    let mut s = serde_json::to_string_pretty(schema()).expect("a JSON value serializes");
    s.push('\n');
    s
}

/// The schema, generated once per process.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(generate)
}

/// The schema validator, compiled once per process (compiling costs far more than validating).
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::options()
            .build(schema())
            .expect("the generated spec schema compiles")
    })
}

/// Validates the merged YAML tree against the schema. Every error becomes a diagnostic (without a
/// file: the caller adds it) at the key (unknown or missing fields) or value (wrong types and
/// values) it is about.
pub fn validate(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // The common case, a valid tree, takes the fast path that builds no error values.
    if validator().is_valid(tree) {
        return out;
    }
    for err in validator().iter_errors(tree) {
        describe(
            err.kind(),
            err.instance_path().as_str(),
            err.schema_path().as_str(),
            err.instance(),
            map,
            &mut out,
        );
    }
    drop_missing_explained_by_typo(&mut out);
    out
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
fn deref(node: &Value) -> &Value {
    let root = schema();
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
            let words: Vec<&str> = ts.iter().filter_map(Value::as_str).map(type_word).collect();
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

fn const_values(variants: &[Value]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for v in variants {
        let v = deref(v);
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
fn variant_tags(variants: &[Value]) -> Option<(String, Vec<String>)> {
    let mut tag_key = None;
    let mut tags = Vec::new();
    for v in variants {
        let v = deref(v);
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

#[allow(clippy::too_many_arguments)]
fn describe(
    kind: &ValidationErrorKind,
    instance_path: &str,
    schema_path: &str,
    instance: &Value,
    map: &SourceMap,
    out: &mut Vec<Diagnostic>,
) {
    let root = schema();
    let keyword = resolve_schema_path(root, schema_path);
    // The subschema holding the failing keyword.
    let parent_path = schema_path
        .rfind('/')
        .map(|i| &schema_path[..i])
        .unwrap_or("");
    let parent = resolve_schema_path(root, parent_path).map(deref);
    let what = dotted(instance_path);
    let at_value = map.value_span(instance_path);
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
                let mut d = Diagnostic::error(
                    "E101",
                    if instance_path.is_empty() {
                        format!("unknown field `{key}` at the top level")
                    } else {
                        format!("unknown field `{key}` in `{what}`")
                    },
                )
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
            let mut d = Diagnostic::error(
                "E102",
                if instance_path.is_empty() {
                    format!("missing required field `{name}` at the top level")
                } else {
                    format!("missing required field `{name}` in `{what}`")
                },
            )
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
            out.push(
                Diagnostic::error(
                    "E103",
                    format!(
                        "`{what}`: expected {}, found {}",
                        expected_types(keyword),
                        found(instance)
                    ),
                )
                .at_opt(at_value)
                .with_help(type_help(keyword, instance)),
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
                        "`{what}`: expected `{}`, found {}",
                        scalar_text(expected_value),
                        found(instance)
                    ),
                )
                .at_opt(at_value),
            );
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let variants: Vec<Value> = keyword
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(values) = const_values(&variants) {
                out.push(one_of_values(&what, &values, instance, at_value));
            } else if let Some((tag_key, tags)) = variant_tags(&variants) {
                let tag_ptr = super::yaml::child(instance_path, &tag_key);
                match instance.get(&tag_key) {
                    Some(Value::String(t)) if tags.contains(t) => {
                        // The variant the person chose: report its own errors.
                        let i = tags.iter().position(|x| x == t).unwrap_or(0);
                        for e in context.get(i).into_iter().flatten() {
                            describe(
                                e.kind(),
                                e.instance_path().as_str(),
                                e.schema_path().as_str(),
                                e.instance(),
                                map,
                                out,
                            );
                        }
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
            } else {
                out.push(
                    Diagnostic::error(
                        "E104",
                        format!(
                            "`{what}`: {} matches none of the allowed forms",
                            found(instance)
                        ),
                    )
                    .at_opt(at_value),
                );
            }
        }
        ValidationErrorKind::Minimum { limit } => {
            out.push(range(&what, "at least", limit, instance, at_value))
        }
        ValidationErrorKind::Maximum { limit } => {
            out.push(range(&what, "at most", limit, instance, at_value))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            out.push(range(&what, "greater than", limit, instance, at_value))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            out.push(range(&what, "less than", limit, instance, at_value))
        }
        ValidationErrorKind::MinLength { limit } => out.push(
            Diagnostic::error(
                "E106",
                if *limit == 1 {
                    format!("`{what}` must not be empty")
                } else {
                    format!("`{what}` must be at least {limit} characters long")
                },
            )
            .at_opt(at_value),
        ),
        ValidationErrorKind::MaxLength { limit } => out.push(
            Diagnostic::error(
                "E106",
                format!("`{what}` must be at most {limit} characters long"),
            )
            .at_opt(at_value),
        ),
        ValidationErrorKind::MinItems { limit } => out.push(
            Diagnostic::error(
                "E106",
                if *limit == 1 {
                    format!("`{what}` must list at least one item")
                } else {
                    format!("`{what}` must list at least {limit} items")
                },
            )
            .at_opt(at_value),
        ),
        ValidationErrorKind::Pattern { pattern } => {
            let help = if pattern == r"^[A-Za-z0-9_.\-]+$" {
                "use only letters, digits, `_`, `.` and `-` (the value goes into an API path)"
                    .to_string()
            } else {
                format!("the value must match the regular expression `{pattern}`")
            };
            out.push(
                Diagnostic::error(
                    "E106",
                    format!("`{what}`: {} is not allowed here", found(instance)),
                )
                .at_opt(at_value)
                .with_help(help),
            )
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

fn range(what: &str, rel: &str, limit: &Value, instance: &Value, at: Option<Span>) -> Diagnostic {
    Diagnostic::error(
        "E105",
        format!("`{what}` must be {rel} {limit}, found {instance}"),
    )
    .at_opt(at)
}
