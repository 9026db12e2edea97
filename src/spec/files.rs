//! Files a spec refers to, relative to the spec's folder: a rule's `transformFile`, its fixture
//! files and globs, `crm.payloadSchema` and each rule's own `payloadSchema`. Each is read bounded and as UTF-8; problems are
//! diagnostics at the key that names the file (or inside the file, for its own syntax errors).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::payload::SchemaDoc;
use super::yaml::SourceMap;
use super::{Fixture, ResolvedRule, TextSource, TransformOrigin, TransformSource};
use crate::diag::{Diagnostic, Sources, Span};

/// What resolving file references produced.
#[derive(Debug, Default)]
pub struct Resolved {
    pub rules: Vec<ResolvedRule>,
    pub payload_schema: Option<SchemaDoc>,
    /// Each rule's own `payloadSchema`, by index in `rules` of the tree.
    pub rule_payload_schemas: Vec<Option<SchemaDoc>>,
}

/// The project file: its folder is the project root, and every file a spec names lies in it.
pub const PROJECT_FILE: &str = "cxsync.toml";

/// The folder of the nearest [`PROJECT_FILE`] at or above `dir` (absolute, `.` and `..`
/// removed), or `None`.
pub fn project_root(dir: &Path) -> Option<PathBuf> {
    crate::fsutil::normalize(dir)
        .ancestors()
        .find(|d| d.join(PROJECT_FILE).is_file())
        .map(Path::to_path_buf)
}

/// The folder the files a spec names must lie in (tester #143): its project root, else the
/// spec's own folder; `None` when the command allows any path (`--allow-outside-project`).
#[derive(Debug, Clone)]
pub struct Confine {
    /// The folder as named (absolute, normalized), for the lexical check and the messages.
    root: PathBuf,
    /// Whether a [`PROJECT_FILE`] made it the project folder (else it is the spec's folder).
    project: bool,
    /// The same with symlinks resolved, for the check of where a file really is.
    real: Option<PathBuf>,
}

impl Confine {
    /// The confinement of a spec in `dir`.
    pub fn of(dir: &Path) -> Self {
        let found = project_root(dir);
        let project = found.is_some();
        let root = found.unwrap_or_else(|| crate::fsutil::normalize(dir));
        let real = std::fs::canonicalize(&root).ok();
        Self {
            root,
            project,
            real,
        }
    }

    /// Whether `path` (the spec's folder joined with what the spec wrote) lies in the folder,
    /// as written and with its symlinks resolved; the error says how it escapes.
    fn check(&self, path: &Path) -> Result<(), String> {
        if !crate::fsutil::normalize(path).starts_with(&self.root) {
            return Err("is outside the project folder".into());
        }
        if let (Some(real), Ok(found)) = (&self.real, std::fs::canonicalize(path)) {
            if !found.starts_with(real) {
                return Err("leads outside the project folder through a symbolic link".into());
            }
        }
        Ok(())
    }
}

/// Everything a diagnostic needs to point into the spec.
pub struct Ctx<'a> {
    pub spec_path: &'a Path,
    pub dir: &'a Path,
    pub map: &'a SourceMap,
    /// Where file text comes from.
    pub files: &'a dyn TextSource,
    /// Where the files it names must be (`None`: anywhere).
    pub confine: Option<&'a Confine>,
}

impl Ctx<'_> {
    fn at_value(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        d.in_file(self.spec_path)
            .at_opt(self.map.value_span(pointer))
    }
    fn at_key(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        d.in_file(self.spec_path).at_opt(self.map.key_span(pointer))
    }

    /// The E311 of a path the spec may not name: absolute, or (as written or through a symbolic
    /// link) outside the project folder. `path` is what the spec's folder joined with `rel`
    /// gives (for a glob, each file it matched).
    /// `written` says `rel` is what the spec wrote (not a file a glob matched, which the walk
    /// names from the spec's folder, absolute when that is).
    fn confined(
        &self,
        rel: &str,
        path: &Path,
        what: &str,
        pointer: &str,
        written: bool,
    ) -> Result<(), Diagnostic> {
        let Some(confine) = self.confine else {
            return Ok(());
        };
        let why = if written && (Path::new(rel).has_root() || Path::new(rel).is_absolute()) {
            "is an absolute path".to_string()
        } else {
            match confine.check(path) {
                Ok(()) => return Ok(()),
                Err(why) => why,
            }
        };
        // Without a project file the usual fix is one in the folder holding both (tester #171).
        let both = crate::fsutil::normalize(path)
            .ancestors()
            .find(|a| confine.root.starts_with(a))
            .filter(|a| a.parent().is_some())
            .map(Path::to_path_buf);
        let help = match both {
            Some(both) if !confine.project => format!(
                "without a {PROJECT_FILE} the project folder is the spec's own (`{}`); to make `{}`, which holds both, the project folder, create an empty {PROJECT_FILE} there; or pass --allow-outside-project",
                confine.root.display(),
                both.display()
            ),
            _ => format!(
                "a spec names files relative to its folder, inside its project folder `{}` (the folder of the nearest {PROJECT_FILE}, else the spec's); move the file there, or pass --allow-outside-project",
                confine.root.display()
            ),
        };
        Err(self
            .at_value(
                Diagnostic::error("E311", format!("{what} `{rel}` {why}")),
                pointer,
            )
            .with_help(help))
    }
}

/// Loads every rule's transform and fixtures and the CRM payload schema.
pub fn resolve(
    tree: &Value,
    cx: &Ctx,
    sources: &mut Sources,
    diags: &mut Vec<Diagnostic>,
) -> Resolved {
    let mut r = Resolving { cx, sources, diags };
    let mut out = Resolved::default();
    if let Some(rules) = tree.get("rules").and_then(Value::as_array) {
        for (i, rule) in rules.iter().enumerate() {
            let base = format!("/rules/{i}");
            let transform = r.transform(rule, &base);
            let fixtures = r.fixtures(rule, &base);
            out.rules.push(ResolvedRule {
                index: i,
                transform,
                fixtures,
            });
            out.rule_payload_schemas
                .push(match rule.get("payloadSchema") {
                    Some(Value::String(rel)) => {
                        r.payload_schema(rel, &format!("{base}/payloadSchema"))
                    }
                    _ => None,
                });
        }
    }
    if let Some(Value::String(rel)) = tree.pointer("/crm/payloadSchema") {
        out.payload_schema = r.payload_schema(rel, "/crm/payloadSchema");
    }
    out
}

/// Reads a referenced file; a missing or unreadable file is reported at the key naming it, a
/// too-large or non-UTF-8 file in the file itself.
fn read_ref(
    path: &Path,
    rel: &str,
    what: &str,
    pointer: &str,
    cx: &Ctx,
) -> Result<String, Diagnostic> {
    if !cx.files.is_file(path) {
        let why = if cx.files.exists(path) {
            "is not a file"
        } else {
            "does not exist"
        };
        return Err(cx
            .at_value(
                Diagnostic::error("E302", format!("{what} `{rel}` {why}")),
                pointer,
            )
            .with_help(format!(
                "paths are relative to the spec's folder; this resolves to `{}`",
                path.display()
            )));
    }
    cx.files.read(path).map_err(|d| {
        if d.code == "E010" {
            cx.at_value(
                Diagnostic::error("E302", format!("cannot read {what} `{rel}`: {}", d.message)),
                pointer,
            )
        } else {
            d
        }
    })
}

/// One resolution under way: where its diagnostics point, and what it collects (the text of
/// every file read, the diagnostics).
struct Resolving<'r, 'a> {
    cx: &'r Ctx<'a>,
    sources: &'r mut Sources,
    diags: &'r mut Vec<Diagnostic>,
}

impl Resolving<'_, '_> {
    /// Keeps a referenced file's text for snippets, with what looks like a credential in it
    /// hidden from them ([`super::secret::text_secrets`]).
    fn keep(&mut self, path: &Path, text: String) {
        self.sources.hide(super::secret::text_secrets(&text));
        self.sources.add(path, text);
    }

    /// Reads a referenced file ([`read_ref`]); a problem is a diagnostic and `None`.
    fn read(&mut self, path: &Path, rel: &str, what: &str, pointer: &str) -> Option<String> {
        match read_ref(path, rel, what, pointer, self.cx) {
            Ok(text) => Some(text),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// [`Ctx::confined`]; a path the spec may not name is a diagnostic and `None`.
    fn confined(&mut self, rel: &str, path: &Path, what: &str, pointer: &str) -> Option<()> {
        self.confined_as(rel, path, what, pointer, true)
    }

    fn confined_as(
        &mut self,
        rel: &str,
        path: &Path,
        what: &str,
        pointer: &str,
        written: bool,
    ) -> Option<()> {
        match self.cx.confined(rel, path, what, pointer, written) {
            Ok(()) => Some(()),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    fn transform(&mut self, rule: &Value, base: &str) -> Option<TransformSource> {
        let cx = self.cx;
        let inline = rule.get("transform");
        let file = rule.get("transformFile");
        match (inline, file) {
            (Some(_), Some(_)) => {
                self.diags.push(
                    cx.at_key(
                        Diagnostic::error(
                            "E301",
                            "a rule has both `transform` and `transformFile`",
                        ),
                        &format!("{base}/transformFile"),
                    )
                    .with_help(
                        "keep one: an inline `transform` or a `transformFile` beside the spec",
                    ),
                );
                None
            }
            (None, None) => {
                self.diags.push(
                cx.at_key(
                    Diagnostic::error("E301", "a rule needs a `transform` or a `transformFile`"),
                    base,
                )
                .with_help(
                    "add `transformFile: transforms/NAME.jsonata` or an inline `transform: |` block",
                ),
            );
                None
            }
            (Some(Value::String(text)), None) => Some(TransformSource {
                text: text.clone(),
                origin: TransformOrigin::Inline {
                    pointer: format!("{base}/transform"),
                },
            }),
            (None, Some(Value::String(rel))) => {
                let pointer = format!("{base}/transformFile");
                let path = cx.dir.join(rel);
                self.confined(rel, &path, "transform file", &pointer)?;
                let text = self.read(&path, rel, "transform file", &pointer)?;
                self.keep(&path, text.clone());
                Some(TransformSource {
                    text,
                    origin: TransformOrigin::File { path },
                })
            }
            // Wrong types were reported by the schema.
            _ => None,
        }
    }

    fn fixtures(&mut self, rule: &Value, base: &str) -> Vec<Fixture> {
        let cx = self.cx;
        let Some(entries) = rule.get("fixtures").and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut paths: Vec<(PathBuf, String)> = Vec::new();
        for (j, e) in entries.iter().enumerate() {
            let Some(rel) = e.as_str() else { continue };
            let pointer = format!("{base}/fixtures/{j}");
            // A glob is checked before the walk (its folder part) and for each file it matched.
            let literal: PathBuf = Path::new(rel)
                .components()
                .take_while(|c| !crate::fsutil::is_glob(&c.as_os_str().to_string_lossy()))
                .collect();
            if self
                .confined(rel, &cx.dir.join(&literal), "fixture", &pointer)
                .is_none()
            {
                continue;
            }
            if crate::fsutil::is_glob(rel) {
                let mut refused = false;
                let found = expand_glob(cx.dir, rel).map(|found| {
                    found
                        .into_iter()
                        .filter(|p| {
                            let shown = p.display().to_string();
                            let inside = self
                                .confined_as(&shown, p, "fixture", &pointer, false)
                                .is_some();
                            refused |= !inside;
                            inside
                        })
                        .collect::<Vec<_>>()
                });
                match found {
                Ok(found) if found.is_empty() && refused => {}
                Ok(found) if found.is_empty() => self.diags.push(
                    cx.at_value(
                        Diagnostic::error("E303", format!("fixture glob `{rel}` matches no file")),
                        &pointer,
                    )
                    .with_help(
                        "globs are relative to the spec's folder; check the folder and extension",
                    ),
                ),
                Ok(found) => paths.extend(found.into_iter().map(|p| (p, pointer.clone()))),
                Err(msg) => self.diags.push(cx.at_value(Diagnostic::error("E303", msg), &pointer)),
            }
            } else {
                paths.push((cx.dir.join(rel), pointer));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        // Snapshot name (the file stem) → the fixture that has it: `test` writes
        // `<rule id>/<stem>.snap`, so two stems alike in one rule are one snapshot.
        let mut names: std::collections::BTreeMap<String, PathBuf> =
            std::collections::BTreeMap::new();
        let mut out = Vec::new();
        for (path, pointer) in paths {
            // One file however it is spelt (`a.json`, `x/../a.json`, its absolute path).
            if !seen.insert(crate::fsutil::normalize(&path)) {
                continue;
            }
            let rel = path.display().to_string();
            let Some(text) = self.read(&path, &rel, "fixture", &pointer) else {
                continue;
            };
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(first) = names.get(&name) {
                let rule_id = rule.get("id").and_then(Value::as_str).unwrap_or("?");
                self.diags.push(
                cx.at_value(
                    Diagnostic::error(
                        "E306",
                        format!(
                            "rule `{rule_id}` has two fixtures named `{name}` ({} and {rel}): both would be snapshot `{rule_id}/{name}.snap`",
                            first.display()
                        ),
                    ),
                    &pointer,
                )
                .with_help("rename one of the fixture files: a rule's fixtures need distinct file names (without the extension)"),
            );
            } else {
                names.insert(name.clone(), path.clone());
            }
            if let Some(event) = read_json(&path, &text, Json::Fixture, self.diags) {
                out.push(Fixture {
                    name,
                    path: path.clone(),
                    event,
                });
            }
            self.keep(&path, text);
        }
        out
    }

    fn payload_schema(&mut self, rel: &str, pointer: &str) -> Option<SchemaDoc> {
        let path = self.cx.dir.join(rel);
        self.confined(rel, &path, "payload schema", pointer)?;
        let text = self.read(&path, rel, "payload schema", pointer)?;
        let value = read_json(&path, &text, Json::PayloadSchema, self.diags);
        let root = crate::fsutil::normalize(&path);
        let mut doc = SchemaDoc {
            root: value.clone().unwrap_or_default(),
            path: Some(root.clone()),
            files: std::collections::BTreeMap::new(),
        };
        let refs_ok = match value {
            Some(v) => self.schema_refs(&root, &path, text, v, &mut doc),
            None => {
                self.keep(&path, text);
                return None;
            }
        };
        if !refs_ok {
            return None;
        }
        if let Err(e) = doc.compile() {
            self.diags.push(
                self.cx
                    .at_value(
                        Diagnostic::error(
                            "E305",
                            format!("payload schema `{rel}` is not a valid JSON Schema: {e}"),
                        ),
                        pointer,
                    )
                    .with_help(format!("at `{}` in the schema", e.instance_path())),
            );
            return None;
        }
        Some(doc)
    }

    /// Loads every schema file the relative `$ref`s of the file at `path` reach, transitively,
    /// into `doc.files` (finding #210). A `$ref` is a path relative to the folder of the file it is
    /// in, with an optional `#` fragment; one with a scheme (`https://…`) is refused, as cxsync
    /// never fetches a schema; a file already loaded is not read again (a cycle ends there). A
    /// problem is a diagnostic at the `$ref` in its file, and `false`.
    fn schema_refs(
        &mut self,
        root: &Path,
        path: &Path,
        text: String,
        value: Value,
        doc: &mut SchemaDoc,
    ) -> bool {
        let mut ok = true;
        let mut seen = std::collections::BTreeSet::from([root.to_path_buf()]);
        let mut queue = std::collections::VecDeque::from([(path.to_path_buf(), text, value, 0)]);
        while let Some((file, text, value, depth)) = queue.pop_front() {
            let shown = json_text(&text).into_owned();
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut refs = Vec::new();
            external_refs(&value, &mut refs);
            for r in refs {
                let at = ref_span(&shown, &r);
                let here = |d: Diagnostic| d.in_file(&file).at_opt(at);
                let target = r.split('#').next().unwrap_or_default();
                if target.is_empty() {
                    continue;
                }
                if has_scheme(target) {
                    self.diags.push(here(Diagnostic::error(
                        "E312",
                        format!("payload schema `$ref` `{r}` names a URI; cxsync never fetches a schema"),
                    ))
                    .with_help("copy the schema into the project and refer to it by a path relative to this file, e.g. `\"$ref\": \"common.json#/definitions/phone\"`"));
                    ok = false;
                    continue;
                }
                let next = crate::fsutil::normalize(&dir.join(target));
                if seen.contains(&next) {
                    continue;
                }
                if depth + 1 > MAX_REF_DEPTH || seen.len() >= MAX_SCHEMA_FILES {
                    self.diags.push(here(Diagnostic::error(
                        "E312",
                        format!("payload schema `$ref` `{r}` goes beyond the limit of {MAX_SCHEMA_FILES} schema files, {MAX_REF_DEPTH} `$ref`s deep"),
                    ))
                    .with_help("merge the schema files, or refer to the definitions from fewer files"));
                    ok = false;
                    continue;
                }
                seen.insert(next.clone());
                if let Some(confine) = self.cx.confine {
                    if let Err(why) = confine.check(&next) {
                        self.diags.push(here(Diagnostic::error(
                            "E311",
                            format!("payload schema `$ref` `{r}` {why}"),
                        ))
                        .with_help(format!("a schema file a `$ref` names must be in the project folder `{}`; move it there, or pass --allow-outside-project", confine.root.display())));
                        ok = false;
                        continue;
                    }
                }
                if !self.cx.files.is_file(&next) {
                    let why = if self.cx.files.exists(&next) {
                        "is not a file"
                    } else {
                        "does not exist"
                    };
                    self.diags.push(here(Diagnostic::error(
                        "E302",
                        format!("payload schema `$ref` `{r}` names a file that {why}: expected a JSON Schema file at `{}`", next.display()),
                    ))
                    .with_help("a `$ref` to another file is a path relative to the folder of the file it is in; fix the path or add the file"));
                    ok = false;
                    continue;
                }
                let sub = match self.cx.files.read(&next) {
                    Ok(t) => t,
                    Err(d) => {
                        self.diags.push(if d.code == "E010" {
                            here(Diagnostic::error(
                                "E302",
                                format!("cannot read payload schema `$ref` `{r}`: {}", d.message),
                            ))
                        } else {
                            d
                        });
                        ok = false;
                        continue;
                    }
                };
                match read_json(&next, &sub, Json::PayloadSchema, self.diags) {
                    Some(v) => {
                        doc.files.insert(next.clone(), v.clone());
                        queue.push_back((next, sub, v, depth + 1));
                    }
                    None => {
                        self.keep(&next, sub);
                        ok = false;
                    }
                }
            }
            self.keep(&file, text);
        }
        ok
    }
}

/// How many schema files one payload schema may span, and how long a chain of `$ref`s to other
/// files may be (finding #210): a bound on what a spec makes cxsync read.
const MAX_SCHEMA_FILES: usize = 64;
const MAX_REF_DEPTH: usize = 16;

/// Every string a `$ref` key holds in `value`, in document order.
fn external_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => external_refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| external_refs(v, out)),
        _ => {}
    }
}

/// Whether a reference starts with a URI scheme (`https:`, `file:`, `urn:`), RFC 3986 §3.1.
fn has_scheme(r: &str) -> bool {
    match r.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// Where the string `r` stands as the value of a `"$ref"` key in `text` (the first such place).
fn ref_span(text: &str, r: &str) -> Option<Span> {
    let enc = serde_json::to_string(r).ok()?;
    text.match_indices(&enc).find_map(|(i, _)| {
        let before = text[..i].trim_end().strip_suffix(':')?;
        before.trim_end().ends_with("\"$ref\"").then(|| {
            let start = text[..i].chars().count();
            Span::from_offsets(text, start, start + enc.chars().count())
        })
    })
}

/// The text of a JSON file as cxsync reads it: a UTF-8 byte order mark before the value (Windows
/// editors write one; RFC 8259 §8.1 lets a reader ignore it) reads as a space, so a position in
/// the text is a position in the file (tester #169). Every reader of a file an event or a schema
/// comes from goes through this: fixtures and payload schemas here, `eval --event` and the first
/// line of `eval --events`.
pub fn json_text(text: &str) -> std::borrow::Cow<'_, str> {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => format!(" {rest}").into(),
        None => text.into(),
    }
}

/// Which JSON file [`read_json`] reads: a fixture is one event (an object, whose integers a
/// transform reads as 64-bit floats); a payload schema is any JSON Schema.
#[derive(Clone, Copy, PartialEq)]
enum Json {
    Fixture,
    PayloadSchema,
}

/// Parses a referenced JSON file. A syntax error, a key written twice in one object and (in a
/// fixture) a root that is not an object are errors inside the file, and the value is `None`; an
/// integer a float cannot hold exactly is a warning at the integer.
fn read_json(path: &Path, text: &str, kind: Json, diags: &mut Vec<Diagnostic>) -> Option<Value> {
    let what = match kind {
        Json::Fixture => "fixture",
        Json::PayloadSchema => "payload schema",
    };
    let text = json_text(text);
    let text = text.as_ref();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(json_error(path, text, &e, what));
            return None;
        }
    };
    let mut ok = true;
    if kind == Json::Fixture && !value.is_object() {
        let start = text.chars().take_while(|c| c.is_whitespace()).count();
        let found = match &value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::Object(_) => "an object",
        };
        diags.push(
            Diagnostic::error(
                "E307",
                format!("a fixture is one event, a JSON object; found {found}"),
            )
            .in_file(path)
            .at(Span::point(crate::diag::pos_at(text, start)))
            .with_help("write one Event Hub event per fixture file, as `{\"event\": {…}, …}`"),
        );
        ok = false;
    }
    for h in super::json::hidden(text) {
        match h {
            super::json::Hidden::DuplicateKey { key, at, first } => {
                diags.push(
                    Diagnostic::error(
                        "E308",
                        format!(
                            "duplicate key `{key}` in one object (first at {}:{}); JSON readers disagree on which one counts",
                            first.line, first.column
                        ),
                    )
                    .in_file(path)
                    .at(at)
                    .with_help("remove one of the two"),
                );
                ok = false;
            }
            super::json::Hidden::InexactInteger { text: n, at } if kind == Json::Fixture => {
                diags.push(
                    Diagnostic::warning(
                        "E309",
                        format!(
                            "integer `{n}` is beyond 2^53: a transform reads it as the 64-bit float {}",
                            super::json::as_float(&n)
                        ),
                    )
                    .in_file(path)
                    .at(at)
                    .with_help("an id this long must be a string (`\"…\"`) to reach the CRM unchanged"),
                );
            }
            super::json::Hidden::InexactInteger { .. } => {}
        }
    }
    ok.then_some(value)
}

/// A serde_json error as a diagnostic inside the JSON file.
fn json_error(path: &Path, text: &str, e: &serde_json::Error, what: &str) -> Diagnostic {
    let line = e.line().max(1);
    let col = e.column().max(1);
    let offset: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(|l| l.chars().count())
        .sum::<usize>()
        + col
        - 1;
    let at = crate::diag::Pos {
        line,
        column: col,
        offset,
    };
    let msg = super::json::error_message(e);
    let d = match super::json::error_help(e) {
        // Too deep for cxsync is not "not valid JSON" (#231).
        Some(help) => Diagnostic::error("E304", format!("{what} {msg}")).with_help(help),
        None => Diagnostic::error("E304", format!("{what} is not valid JSON: {msg}")),
    };
    d.in_file(path).at(Span::point(at))
}

/// Expands a fixture glob relative to `dir` into sorted existing files (on disk: an editor's
/// unsaved new file is not matched until it is saved), through the one bounded glob walker.
pub(crate) fn expand_glob(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    crate::fsutil::glob(&dir.join(pattern)).map_err(|e| format!("fixture {e}"))
}

#[cfg(test)]
mod ref_tests {
    use super::*;

    #[test]
    fn a_scheme_is_a_uri_and_a_path_is_not() {
        for r in [
            "https://x/y.json",
            "http://x",
            "file:///etc/p.json",
            "urn:x:y",
        ] {
            assert!(has_scheme(r), "{r}");
        }
        for r in ["common.json", "./defs/a.json", "../a.json", "C:x.json"] {
            assert!(!has_scheme(r), "{r}");
        }
    }

    #[test]
    fn external_refs_are_every_ref_string_in_order() {
        let v: Value = serde_json::from_str(
            r##"{"a": {"$ref": "x.json"}, "b": [{"$ref": "#/c"}], "$ref": {"not": "a string"}}"##,
        )
        .unwrap();
        let mut out = Vec::new();
        external_refs(&v, &mut out);
        assert_eq!(out, ["x.json", "#/c"]);
    }

    #[test]
    fn ref_span_points_at_the_ref_value_not_at_another_string() {
        let text = "{\"title\": \"a.json\",\n  \"p\": {\"$ref\" : \"a.json\"}}";
        let s = ref_span(text, "a.json").unwrap();
        assert_eq!((s.start.line, s.start.column), (2, 18));
    }
}
