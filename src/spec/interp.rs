//! Interpolation of `${…}` in string values.
//!
//! - `${VAULT_SECRET:NAME}` passes through verbatim: the Event Hub resolves it.
//! - `${env:NAME}` is replaced at load time by the variable from [`LoadOptions::vars`]; a missing
//!   variable is an error at that scalar, except in a secret field when the command defers its
//!   secrets ([`EnvSecrets::Deferred`]): that field keeps its reference text.
//! - Anything else (`${interaction.id}`) is an event reference and is kept for the Event Hub.
//!
//! Secret fields (`channel.auth.clientSecret`, bearer `channel.auth.token`) must be a single
//! `${VAULT_SECRET:…}` or `${env:…}` reference; a literal is an error whose message never repeats
//! the value.
//!
//! [`LoadOptions::vars`]: super::LoadOptions::vars

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::yaml::{SourceMap, Style};
use super::{EnvSecrets, LoadOptions};
use crate::diag::{Diagnostic, Pos, Span};

/// Pointers of the fields that hold secrets.
pub const SECRET_POINTERS: [&str; 2] = ["/channel/auth/clientSecret", "/channel/auth/token"];

/// One `${…}` occurrence in a string: character offsets of `${` and one past `}`, and the inner text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub start: usize,
    pub end: usize,
    pub inner: String,
}

/// What a reference refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefKind<'a> {
    /// `${VAULT_SECRET:NAME}`.
    Vault(&'a str),
    /// `${env:NAME}`.
    Env(&'a str),
    /// `${a.b.c}`: a field of the event.
    Event(&'a str),
}

impl Reference {
    /// Classifies the reference.
    pub fn kind(&self) -> RefKind<'_> {
        if let Some(n) = self.inner.strip_prefix("VAULT_SECRET:") {
            RefKind::Vault(n)
        } else if let Some(n) = self.inner.strip_prefix("env:") {
            RefKind::Env(n)
        } else {
            RefKind::Event(&self.inner)
        }
    }
}

/// A template that does not scan: an unclosed `${` or a stray `}` (character offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub offset: usize,
    pub message: String,
}

/// Finds every `${…}` in `s`. References do not nest.
pub fn scan(s: &str) -> Result<Vec<Reference>, ScanError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            let start = i;
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '}' {
                if chars[j] == '$' && chars.get(j + 1) == Some(&'{') {
                    return Err(ScanError {
                        offset: j,
                        message: "`${` inside another `${…}`".into(),
                    });
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(ScanError {
                    offset: start,
                    message: "`${` is never closed with `}`".into(),
                });
            }
            out.push(Reference {
                start,
                end: j + 1,
                inner: chars[i + 2..j].iter().collect(),
            });
            i = j + 1;
        } else {
            i += 1;
        }
    }
    Ok(out)
}

/// The span of characters `[start, end)` of a scalar's decoded text, when it can be mapped exactly
/// (single-line plain or quoted scalars without escapes before the range); otherwise the scalar.
pub fn sub_span(
    map: &SourceMap,
    pointer: &str,
    text: &str,
    start: usize,
    end: usize,
) -> Option<Span> {
    let loc = map.get(pointer)?;
    let v = loc.value;
    let quote = match loc.style {
        Style::Plain => 0,
        Style::SingleQuoted | Style::DoubleQuoted => 1,
        _ => return Some(v),
    };
    let prefix: String = text.chars().take(end).collect();
    let exact = v.start.line == v.end.line
        && !text.contains('\n')
        && (loc.style != Style::DoubleQuoted || !prefix.contains('\\'))
        && (loc.style != Style::SingleQuoted || !prefix.contains('\''));
    if !exact {
        return Some(v);
    }
    let at = |o: usize| Pos {
        line: v.start.line,
        column: v.start.column + quote + o,
        offset: v.start.offset + quote + o,
    };
    Some(Span::new(at(start), at(end)))
}

/// Tester #129: a `${env:…}` or `${VAULT_SECRET:…}` in a URL's scheme or authority (user
/// info, host, port) is refused (E416, at the reference), in every URL field
/// ([`super::checks::URL_FIELDS`]) and, with `overlays`, in each environment overlay's: the
/// environment of whoever runs cxsync (or the hub's vault) would decide where events and
/// credentials go, past every check of the spec's text. A path, query or header may be
/// templated; a host per environment is an overlay's literal.
pub fn check_url_authorities(tree: &Value, map: &SourceMap, overlays: bool) -> Vec<Diagnostic> {
    let mut pointers: Vec<String> = super::checks::URL_FIELDS
        .iter()
        .map(|p| p.to_string())
        .collect();
    if overlays {
        for name in tree
            .get("environments")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(n, _)| n)
        {
            let base = super::yaml::child("/environments", name);
            pointers.extend(
                super::checks::URL_FIELDS
                    .iter()
                    .map(|p| format!("{base}{p}")),
            );
        }
    }
    let mut out = Vec::new();
    for pointer in pointers {
        let Some(url) = tree.pointer(&pointer).and_then(Value::as_str) else {
            continue;
        };
        let Ok(refs) = scan(url) else { continue };
        let chars: Vec<char> = url.chars().collect();
        // Where the authority ends: the first `/`, `?` or `#` after `://` (outside a reference);
        // without `://` the whole text is scheme and authority.
        let text: String = chars.iter().collect();
        let authority_end = text
            .find("://")
            .map(|b| text[..b].chars().count() + 3)
            .and_then(|from| {
                (from..chars.len()).find(|&i| {
                    matches!(chars[i], '/' | '?' | '#')
                        && !refs.iter().any(|r| r.start <= i && i < r.end)
                })
            })
            .unwrap_or(chars.len());
        let field = pointer.rsplit('/').next().unwrap_or(&pointer).to_string();
        for r in &refs {
            let what = match r.kind() {
                RefKind::Env(_) => "`${env:…}`",
                RefKind::Vault(_) => "`${VAULT_SECRET:…}`",
                RefKind::Event(_) => continue,
            };
            if r.start >= authority_end {
                continue;
            }
            out.push(
                Diagnostic::error(
                    "E416",
                    format!("{what} in the scheme, host, port or user info of `{field}`: a variable would decide where it sends, past every check of the spec"),
                )
                .at_opt(sub_span(map, &pointer, url, r.start, r.end))
                .with_help(
                    "write the host literally and template only the path or query (`https://crm.example.com/${env:TENANT}/v1`); for a host per environment, write it in an `environments:` overlay",
                ),
            );
        }
    }
    out
}

/// Resolves `${env:…}` in every string of the tree except the environment overlays and JSONata
/// transforms. Returns the pointer of every string it resolved with its original text (so output
/// can mark secrets sensitive, and lint can tell a reference from a literal).
pub fn resolve(
    tree: &mut Value,
    map: &SourceMap,
    opts: &LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let vars = &opts.vars;
    let mut interpolated = BTreeMap::new();
    check_secrets(tree, map, diags);
    let mut strings = Vec::new();
    collect_strings(tree, String::new(), &mut strings);
    let secrets: BTreeSet<&str> = SECRET_POINTERS.into_iter().collect();
    for pointer in strings {
        if pointer.starts_with("/environments") || is_transform(&pointer) {
            continue;
        }
        let Some(Value::String(s)) = tree.pointer(&pointer) else {
            continue;
        };
        let Ok(refs) = scan(s) else { continue };
        if !refs.iter().any(|r| matches!(r.kind(), RefKind::Env(_))) {
            continue;
        }
        let original = s.clone();
        let unset = |r: &Reference| match r.kind() {
            RefKind::Env(name) => vars.get(name).is_none_or(String::is_empty),
            _ => false,
        };
        if opts.secrets == EnvSecrets::Deferred && is_sensitive(&pointer) && refs.iter().any(unset)
        {
            // Left as written: the reference text is what `raw` holds, as for a vault secret.
            continue;
        }
        let chars: Vec<char> = original.chars().collect();
        let mut resolved = String::new();
        let mut last = 0;
        let mut ok = true;
        for r in &refs {
            resolved.extend(&chars[last..r.start]);
            last = r.end;
            match r.kind() {
                RefKind::Env(name) => match vars.get(name) {
                    Some(v) if control_char(v).is_some() => {
                        // Checked here, after the schema saw only `${env:NAME}`: a CR or LF would
                        // end a header or a request line and inject what follows. The value is
                        // never quoted (it may be a secret).
                        ok = false;
                        diags.push(
                            Diagnostic::error(
                                "E106",
                                format!(
                                    "environment variable `{name}` holds {}",
                                    control_char(v).unwrap_or_default()
                                ),
                            )
                            .at_opt(sub_span(map, &pointer, &original, r.start, r.end))
                            .with_help(
                                "a header, URL, name or secret cannot carry CR, LF, NUL or other \
                                 control characters: they would end the header or request line \
                                 and let the rest inject another; set the variable without them",
                            ),
                        );
                    }
                    Some(v) if url_part_problem(&pointer, &chars[..r.start], v).is_some() => {
                        // What the value would do to the URL it lands in (a parameter of its
                        // own, a fragment that is never sent, another host). Never quoted.
                        ok = false;
                        let (c, what) =
                            url_part_problem(&pointer, &chars[..r.start], v).unwrap_or_default();
                        diags.push(
                            Diagnostic::error(
                                "E409",
                                format!(
                                    "environment variable `{name}` holds `{c}`, which in the URL's {what}"
                                ),
                            )
                            .at_opt(sub_span(map, &pointer, &original, r.start, r.end))
                            .with_help(format!(
                                "percent-encode it in the variable (`{c}` is `%{:02X}`): a value put into a URL is inserted as it is",
                                c as u32
                            )),
                        );
                    }
                    Some(v) if !(v.is_empty() && secrets.contains(pointer.as_str())) => {
                        resolved.push_str(v)
                    }
                    Some(_) => {
                        ok = false;
                        diags.push(
                            Diagnostic::error(
                                "E201",
                                format!("environment variable `{name}` is empty"),
                            )
                            .at_opt(sub_span(map, &pointer, &original, r.start, r.end))
                            .with_help("a secret cannot be empty; set the variable to the secret"),
                        );
                    }
                    None => {
                        ok = false;
                        let mut d = Diagnostic::error(
                            "E201",
                            format!("environment variable `{name}` is not set"),
                        )
                        .at_opt(sub_span(map, &pointer, &original, r.start, r.end));
                        d = if name.is_empty() {
                            d.with_help("name the variable: `${env:NAME}`")
                        } else {
                            d.with_help(format!(
                                "set it where cxsync runs (`export {name}=…`), or write \
                                 `${{VAULT_SECRET:{name}}}` to let the Event Hub resolve it"
                            ))
                        };
                        diags.push(d);
                    }
                },
                _ => resolved.extend(&chars[r.start..r.end]),
            }
        }
        resolved.extend(&chars[last..]);
        if ok {
            if let Some(slot) = tree.pointer_mut(&pointer) {
                *slot = Value::String(resolved);
            }
            interpolated.insert(pointer.clone(), original);
        }
    }
    interpolated
}

/// What a value from the environment would change in the URL field at `pointer` when inserted
/// after the text `before` (the characters of the field before the reference): the character
/// and what it does there. In the query, `&` starts another parameter and `#` a fragment (never
/// sent); in the path, `?` starts a query and `#` a fragment; in the host, `/`, `?`, `#` and `@`
/// end it or make what precedes a user name, so the request goes to another host. `None` for a
/// field that is no URL, or a value that is safe where it lands.
fn url_part_problem(pointer: &str, before: &[char], v: &str) -> Option<(char, &'static str)> {
    if !super::checks::URL_FIELDS.contains(&pointer) {
        return None;
    }
    let before: String = before.iter().collect();
    let part = if before.contains('#') {
        return None;
    } else if before.contains('?') {
        "query"
    } else if before
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'))
    {
        "path"
    } else if before.contains("://") {
        "host"
    } else {
        return None;
    };
    v.chars().find_map(|c| {
        let what = match (part, c) {
            ("query", '&') => "query starts another parameter",
            ("query", '#') => "query starts a fragment, which is never sent",
            ("path", '#') => "path starts a fragment, which is never sent",
            ("path", '?') => "path starts the query",
            ("host", '/' | '?' | '#') => {
                "host ends the host: the request would go to the text before it"
            }
            ("host", '@') => {
                "host makes what precedes it a user name: the request would go to the host after it"
            }
            _ => return None,
        };
        Some((c, what))
    })
}

/// The strings `${env:…}` filled, checked against the limits a literal meets (the schema's
/// lengths and patterns: a header value of at most 8,192 characters, a bucket name): the schema
/// saw only the reference. The message never quotes the value (it may be a secret) and names
/// the variables.
pub fn check_resolved(
    tree: &Value,
    map: &SourceMap,
    interpolated: &BTreeMap<String, String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (pointer, mut d) in super::schema::spec().validate_at(tree, map, interpolated) {
        let original = &interpolated[&pointer];
        if let Some(v) = tree.pointer(&pointer).and_then(Value::as_str) {
            for shown in [super::schema::short(v), v.to_string()] {
                if !shown.is_empty() {
                    d.message = d.message.replace(&shown, "…");
                }
            }
        }
        let names: Vec<String> = scan(original)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| match r.kind() {
                RefKind::Env(n) => Some(format!("`${{env:{n}}}`")),
                _ => None,
            })
            .collect();
        d.message = format!("{}, once {} is resolved", d.message, names.join(" and "));
        d.help = Some(
            "a value from the environment meets the limits of one written in the spec; set the variable to a value that does"
                .into(),
        );
        out.push(d);
    }
    out
}

/// What control character (C0 but tab, or DEL) a value from the environment holds, named for a
/// message, or `None`.
fn control_char(v: &str) -> Option<String> {
    let c = v
        .chars()
        .find(|c| (c.is_ascii_control() && *c != '\t') || *c == '\u{7f}')?;
    Some(match c {
        '\r' => "a carriage return (CR)".to_string(),
        '\n' => "a line feed (LF)".to_string(),
        '\0' => "a NUL character".to_string(),
        c => format!("the control character U+{:04X}", c as u32),
    })
}

/// Whether a string resolved from `${env:…}` at `pointer` is a secret: a [`SECRET_POINTERS`]
/// field, or one whose key names a credential ([`super::secret::is_secret_name`]: a header
/// `Authorization: Bearer ${env:T}`, `X-Api-Key: ${env:K}`), which `plan` masks by that name.
pub fn is_sensitive(pointer: &str) -> bool {
    if SECRET_POINTERS.contains(&pointer) {
        return true;
    }
    let last = pointer.rsplit('/').next().unwrap_or("");
    super::secret::is_secret_name(&last.replace("~1", "/").replace("~0", "~"))
}

fn is_transform(pointer: &str) -> bool {
    let parts: Vec<&str> = pointer.split('/').collect();
    parts.len() == 4 && parts[1] == "rules" && parts[3] == "transform"
}

fn collect_strings(v: &Value, pointer: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(pointer),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_strings(x, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                collect_strings(x, super::yaml::child(&pointer, k), out);
            }
        }
        _ => {}
    }
}

/// A secret field must be exactly one `${VAULT_SECRET:NAME}` or `${env:NAME}` reference.
pub fn check_secrets(tree: &Value, map: &SourceMap, diags: &mut Vec<Diagnostic>) {
    for pointer in SECRET_POINTERS {
        let Some(Value::String(s)) = tree.pointer(pointer) else {
            continue;
        };
        let field = pointer.rsplit('/').next().unwrap_or(pointer);
        let whole_ref = match scan(s.trim()) {
            Ok(refs) => {
                refs.len() == 1
                    && refs[0].start == 0
                    && refs[0].end == s.trim().chars().count()
                    && match refs[0].kind() {
                        RefKind::Vault(n) | RefKind::Env(n) => !n.is_empty(),
                        RefKind::Event(_) => false,
                    }
            }
            Err(_) => false,
        };
        if !whole_ref {
            // Never echo the value: it may be a real secret.
            diags.push(
                Diagnostic::error(
                    "E202",
                    format!("`{field}` holds a literal value; secrets must be references"),
                )
                .at_opt(map.value_span(pointer))
                .with_help(format!(
                    "write `{field}: ${{VAULT_SECRET:NAME}}` (resolved by the Event Hub) or \
                     `{field}: ${{env:NAME}}` (resolved by cxsync at compile time), and rotate the \
                     secret if this file was ever committed"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_every_reference_and_its_kind() {
        let refs = scan("${interaction.id}_${env:X}-${VAULT_SECRET:Y}").unwrap();
        let kinds: Vec<_> = refs.iter().map(|r| r.kind()).collect();
        assert_eq!(
            kinds,
            vec![
                RefKind::Event("interaction.id"),
                RefKind::Env("X"),
                RefKind::Vault("Y")
            ]
        );
        assert_eq!((refs[1].start, refs[1].end), (18, 26));
    }

    #[test]
    fn an_environment_value_with_a_line_break_is_refused_at_its_reference_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("specs/crm_sync.yaml"))
            .unwrap()
            .replace("https://crm-api.company.com", "${env:CRM_BASE}")
            .replace(
                "X-Request-Source: CXone-EventHub",
                "X-Request-Source: ${env:SRC}",
            );
        assert!(text.contains("${env:CRM_BASE}") && text.contains("${env:SRC}"));
        let spec = dir.path().join("spec.yaml");
        std::fs::write(&spec, &text).unwrap();
        for (value, what) in [
            (
                "https://crm.example.com\r\nHost: evil",
                "a carriage return (CR)",
            ),
            ("https://crm.example.com\nX: 1", "a line feed (LF)"),
            ("https://crm.example.com\0", "a NUL character"),
        ] {
            let opts = crate::spec::LoadOptions {
                vars: [
                    ("CRM_BASE".to_string(), value.to_string()),
                    ("SRC".to_string(), "CXone-EventHub".to_string()),
                ]
                .into(),
                ..Default::default()
            };
            let loaded = crate::spec::load(&spec, &opts);
            assert!(loaded.spec.is_none(), "{value:?} was accepted");
            let d = loaded
                .diags
                .iter()
                .find(|d| d.code == "E106")
                .unwrap_or_else(|| panic!("no E106 for {value:?}: {:?}", loaded.diags));
            assert!(d.message.contains(what), "{}", d.message);
            assert!(!d.message.contains("evil") && !d.message.contains("X: 1"));
        }
        // A tab is allowed (RFC 9110 field values may hold one).
        let opts = crate::spec::LoadOptions {
            vars: [
                (
                    "CRM_BASE".to_string(),
                    "https://crm.example.com".to_string(),
                ),
                ("SRC".to_string(), "CXone\tEventHub".to_string()),
            ]
            .into(),
            ..Default::default()
        };
        // (The copy lacks the example's transform and fixture files: only E106 matters here.)
        let loaded = crate::spec::load(&spec, &opts);
        assert!(
            !loaded.diags.iter().any(|d| d.code == "E106"),
            "{:?}",
            loaded.diags
        );
    }

    #[test]
    fn scan_reports_an_unclosed_reference_at_its_opening() {
        let e = scan("a_${interaction.id").unwrap_err();
        assert_eq!(e.offset, 2);
    }
}
