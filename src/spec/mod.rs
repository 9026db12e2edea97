//! Load a spec: read the file (bounded), parse YAML with spans, merge the `--env` overlay,
//! validate against the JSON Schema, deserialize into [`RawSpec`], resolve `${env:…}` and file
//! references, and run semantic checks. Every problem of a run is collected as a
//! [`Diagnostic`] pointing into the YAML.

pub mod checks;
pub mod env;
pub mod files;
pub mod interp;
pub mod json;
pub mod model;
pub mod payload;
pub mod schema;
pub mod secret;
pub mod yaml;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diag::{Diagnostic, Sources, Span};
pub use model::RawSpec;
pub use yaml::SourceMap;

/// Largest spec (or fixture, transform) file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Inputs to loading that come from outside the file: the environment overlay and the process
/// environment (handed in, so the loader stays testable).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--env NAME`.
    pub env: Option<String>,
    /// Variables `${env:NAME}` may read.
    pub vars: std::collections::BTreeMap<String, String>,
    /// What an unset (or empty) `${env:NAME}` in a secret field is.
    pub secrets: EnvSecrets,
    /// Whether the files a spec names may lie outside its project folder (or be absolute
    /// paths): `--allow-outside-project`. Without it they may not ([`files::Confine`]).
    pub outside_project: bool,
}

/// What an `${env:NAME}` whose variable is unset or empty is, in a secret field (a
/// [`interp::SECRET_POINTERS`] field or a credential-named header, [`interp::is_sensitive`]).
/// Any other field always needs its variable (E201): a URL or a name is checked, a secret only
/// sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EnvSecrets {
    /// An error (E201): the command puts the value into what it writes or sends at once
    /// (`compile`, `plan`, `apply`, `metrics`).
    #[default]
    Required,
    /// Left as its reference text in `raw` (as a `${VAULT_SECRET:…}` is), for commands that never
    /// send it (`validate`, `lint`, `test`, `sim` in virtual time or against the mock, `eval`)
    /// or resolve it when they do (`sim --http --target`, `dlq replay` to a real target, through
    /// [`secret::resolve`], which names the variable if it is still unset).
    Deferred,
}

/// Where a rule's transform text came from.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformOrigin {
    /// Inline in the spec at this JSON pointer (e.g. `/rules/0/transform`).
    Inline { pointer: String },
    /// A `.jsonata` file (path as resolved against the spec's folder).
    File { path: PathBuf },
}

/// A rule's JSONata source.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformSource {
    pub text: String,
    pub origin: TransformOrigin,
}

/// One fixture event.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// Path as resolved against the spec's folder.
    pub path: PathBuf,
    /// File stem, used in snapshot names.
    pub name: String,
    pub event: Value,
}

/// A rule with its files loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRule {
    /// Index in `raw.rules`.
    pub index: usize,
    pub transform: Option<TransformSource>,
    pub fixtures: Vec<Fixture>,
}

/// A loaded, resolved spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The spec file as the user named it.
    pub path: PathBuf,
    /// The text of `path` as it was loaded (positions in `map` point into it).
    pub text: String,
    /// The folder relative references resolve against.
    pub dir: PathBuf,
    /// The selected environment, if any.
    pub env: Option<String>,
    /// The spec after the overlay and `${env:…}` interpolation.
    pub raw: RawSpec,
    /// The merged, interpolated JSON tree `raw` was read from. Secret fields resolved from
    /// `${env:…}` keep their reference text here (see `sensitive`), so printing the tree never
    /// prints a secret.
    pub tree: Value,
    /// JSON pointer → position in `path`.
    pub map: SourceMap,
    pub rules: Vec<ResolvedRule>,
    /// The CRM payload JSON Schema, when `crm.payloadSchema` names one: the default of every
    /// rule without its own (see [`payload::PayloadSchemas`]).
    pub payload_schema: Option<payload::SchemaDoc>,
    /// Each rule's own `payloadSchema`, by index in `raw.rules` (`None`: it has none).
    pub rule_payload_schemas: Vec<Option<payload::SchemaDoc>>,
    /// JSON pointer → original `${env:…}` reference of each secret field whose value `raw` holds
    /// resolved. Output meant for a terminal shows these as sensitive.
    pub sensitive: std::collections::BTreeMap<String, String>,
    /// JSON pointer → original text of every string whose `${env:…}` references `raw` holds
    /// resolved (secret fields included), so a check can tell `Bearer ${env:TOKEN}` from a
    /// literal.
    pub interpolated: std::collections::BTreeMap<String, String>,
}

impl Spec {
    /// The span of the value at a JSON pointer (or its nearest ancestor).
    pub fn span(&self, pointer: &str) -> Option<Span> {
        self.map.value_span(pointer)
    }

    /// The span of the key at a JSON pointer (or its nearest ancestor).
    pub fn key_span(&self, pointer: &str) -> Option<Span> {
        self.map.key_span(pointer)
    }

    /// A diagnostic located at `pointer` in this spec.
    pub fn diag_at(&self, d: Diagnostic, pointer: &str) -> Diagnostic {
        d.in_file(&self.path).at_opt(self.span(pointer))
    }
}

/// The result of a load: the spec when it could be built, every diagnostic found, and the text
/// of every file they point into.
#[derive(Debug, Default)]
pub struct Loaded {
    pub spec: Option<Spec>,
    pub diags: Vec<Diagnostic>,
    pub sources: Sources,
}

/// Parses an RFC 3339 instant (`--now`, `test.now`, a scenario's `start`) between 1970-01-01
/// and 9999-12-31 (UTC): epoch milliseconds before 1970 are negative and years past 9999 have no
/// RFC 3339 form, so neither has a meaning for event times.
pub fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 instant ({e}); e.g. 2024-01-15T14:00:00Z")
        })?;
    use chrono::Datelike;
    if !(1970..=9999).contains(&t.year()) {
        return Err(format!(
            "`{text}` is outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z, the instants event \
             times can have"
        ));
    }
    Ok(t)
}

/// Where the loader gets the text of a file: the disk ([`Disk`]), or an editor's unsaved buffers
/// laid over it (`cxsync lsp`). Every file the loader reads (the spec, transform files, fixtures,
/// the payload schema) goes through this one seam.
pub trait TextSource {
    /// The text of `path` as UTF-8 within [`MAX_FILE_BYTES`]; errors are diagnostics naming the
    /// file.
    fn read(&self, path: &Path) -> Result<String, Diagnostic>;
    /// Whether `path` names a file this source can read.
    fn is_file(&self, path: &Path) -> bool;
    /// Whether `path` exists at all (a folder counts), for the message when it is not a file.
    fn exists(&self, path: &Path) -> bool {
        self.is_file(path) || path.exists()
    }
}

/// Files as they are on disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl TextSource for Disk {
    fn read(&self, path: &Path) -> Result<String, Diagnostic> {
        read_text(path)
    }
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
}

/// The E011 diagnostic of a file over the size limit.
pub fn too_large(path: &Path, len: u64) -> Diagnostic {
    Diagnostic::error(
        "E011",
        format!("file is {len} bytes; the limit is {MAX_FILE_BYTES} bytes"),
    )
    .in_file(path)
    .with_help("specs, fixtures and transforms are small text files; is this the right file?")
}

/// Reads a file as UTF-8 within the size limit; errors are diagnostics naming the file.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Diagnostic::error("E010", format!("cannot read file: {e}")).in_file(path))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(path, meta.len()));
    }
    // The reported length is not trusted (`/dev/zero`, a pipe, a file that grows): the read
    // itself stops one byte past the limit.
    let cannot = |e: std::io::Error| {
        Diagnostic::error("E010", format!("cannot read file: {e}")).in_file(path)
    };
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        std::fs::File::open(path)
            .map_err(cannot)?
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            "E011",
            format!("file is larger than the limit of {MAX_FILE_BYTES} bytes (read stopped there)"),
        )
        .in_file(path)
        .with_help(
            "specs, fixtures and transforms are small text files; is this the right file?",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let text = std::str::from_utf8(valid).unwrap_or("");
        let at = crate::diag::pos_at(text, text.chars().count());
        Diagnostic::error(
            "E012",
            format!(
                "file is not valid UTF-8 (byte 0x{:02x})",
                e.as_bytes()[e.utf8_error().valid_up_to()]
            ),
        )
        .in_file(path)
        .at(Span::point(at))
        .with_help("save the file as UTF-8")
    })
}

/// Loads a spec file. Never panics on bad input: everything wrong is in `diags`, in this order
/// of stages: YAML syntax (stops the load), environment overlay, JSON Schema, interpolation, file
/// references, semantic checks. The stages after the schema read the tree leniently, so one run
/// reports every independent mistake. `spec` is `Some` only when there is no error.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    load_from(path, opts, &Disk)
}

/// [`load`], reading every file through `files` (an editor's unsaved buffers, say).
pub fn load_from(path: &Path, opts: &LoadOptions, files: &dyn TextSource) -> Loaded {
    let mut out = load_stages(path, opts, files);
    // A diagnostic may quote a value (a URL's host): none shows what an `${env:…}` resolved
    // to, whichever command prints it (validate, lint and test as well as plan; tester #115).
    if let Some(text) = out.sources.get(path) {
        let mut r = secret::Redactor::default();
        r.add(secret::env_secrets(text, &opts.vars));
        for d in &mut out.diags {
            d.message = r.scrub(&d.message);
            d.help = d.help.as_deref().map(|h| r.scrub(h));
        }
    }
    out
}

fn load_stages(path: &Path, opts: &LoadOptions, files: &dyn TextSource) -> Loaded {
    let mut out = Loaded::default();
    let text = match files.read(path) {
        Ok(t) => t,
        Err(d) => {
            out.diags.push(d);
            return out;
        }
    };
    out.sources.add(path, text.clone());
    let doc = match yaml::parse(&text) {
        Ok(d) => d,
        Err(ds) => {
            out.diags.extend(ds.into_iter().map(|d| d.in_file(path)));
            return out;
        }
    };
    let dir = spec_dir(path);
    let yaml::Document {
        value: mut tree,
        mut map,
    } = doc;
    let mut diags: Vec<Diagnostic> = Vec::new();
    if !tree.is_object() {
        out.diags.push(
            Diagnostic::error(
                "E103",
                format!(
                    "a spec is a mapping of fields, found {}",
                    schema::found(&tree)
                ),
            )
            .in_file(path)
            .at_opt(map.value_span(""))
            .with_help("start from specs/crm_sync.yaml or see docs/spec.md"),
        );
        return out;
    }
    if let Some(name) = &opts.env {
        if let Err(d) = env::apply(&mut tree, &mut map, name) {
            out.diags.push(d.in_file(path));
            return out;
        }
    }
    diags.extend(schema::validate(&tree, &map));
    if opts.env.is_none() {
        diags.extend(check_overlays(&tree, &map));
    }
    diags.extend(interp::check_url_authorities(
        &tree,
        &map,
        opts.env.is_none(),
    ));
    let interpolated = interp::resolve(&mut tree, &map, opts, &mut diags);
    diags.extend(interp::check_resolved(&tree, &map, &interpolated));
    // What the file writes as secrets, and what `${env:}` put in the tree (a snippet never
    // shows it; the file holds the reference, but a line may hold the same text).
    out.sources.hide(secret_values(&tree));
    out.sources.hide(
        interpolated
            .keys()
            .filter_map(|p| tree.pointer(p)?.as_str().map(str::to_string)),
    );
    let sensitive: std::collections::BTreeMap<String, String> = interpolated
        .iter()
        .filter(|(p, _)| interp::is_sensitive(p))
        .map(|(p, o)| (p.clone(), o.clone()))
        .collect();
    out.diags.extend(diags.drain(..).map(|d| d.in_file(path)));
    let confine = (!opts.outside_project).then(|| files::Confine::of(&dir));
    let resolved = files::resolve(
        &tree,
        &files::Ctx {
            spec_path: path,
            dir: &dir,
            map: &map,
            files,
            confine: confine.as_ref(),
        },
        &mut out.sources,
        &mut out.diags,
    );
    out.diags.extend(
        checks::run(&tree, &map)
            .into_iter()
            .map(|d| d.in_file(path)),
    );
    if out
        .diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        return out;
    }
    // The schema accepts `3000.0` as an integer (JSON Schema does); serde would not.
    integral_floats_to_integers(&mut tree);
    // The author's own `x-…` keys (anchors to merge) are no part of the model.
    let extensions = tree
        .as_object()
        .is_some_and(|m| m.keys().any(|k| schema::is_extension(k)));
    let without;
    let model_tree = if extensions {
        let mut t = tree.clone();
        if let Some(m) = t.as_object_mut() {
            m.retain(|k, _| !schema::is_extension(k));
        }
        without = t;
        &without
    } else {
        &tree
    };
    let raw: RawSpec = match serde_path_to_error::deserialize(model_tree) {
        Ok(r) => r,
        Err(e) => {
            // The schema is generated from the same types, so this is a gap between the two;
            // report it like a schema error rather than failing.
            let pointer = path_to_pointer(e.path());
            out.diags.push(
                Diagnostic::error(
                    "E100",
                    format!("`{}`: {}", schema::dotted(&pointer), e.inner()),
                )
                .in_file(path)
                .at_opt(map.value_span(&pointer)),
            );
            return out;
        }
    };
    // Secrets resolved from the environment stay references in the tree others may print.
    for (p, reference) in &sensitive {
        if let Some(slot) = tree.pointer_mut(p) {
            *slot = Value::String(reference.clone());
        }
    }
    let spec = Spec {
        path: path.to_path_buf(),
        text,
        dir,
        env: opts.env.clone(),
        rules: resolved.rules,
        raw,
        tree,
        map,
        payload_schema: resolved.payload_schema,
        rule_payload_schemas: resolved.rule_payload_schemas,
        sensitive,
        interpolated,
    };
    out.spec = Some(spec);
    out
}

/// The secret values a spec's tree holds, as the one masking rule (`spec::secret`) names them:
/// the value of a credential-named field or header ([`secret::is_secret_name`]) that is not a
/// `${…}` reference, and each credential part of a URL ([`secret::url_credentials`]: a password,
/// `?api_key=`). Overlays count; transforms do not (they hold no secrets, and hiding a word that
/// happens to equal one would mangle them). A snippet of the file shows these as `(sensitive)`
/// ([`crate::diag::Sources::hide`]): lint's CX004 must not reprint the secret it reports.
pub fn secret_values(tree: &Value) -> Vec<String> {
    fn walk(v: &Value, key: Option<&str>, pointer: &str, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if key.is_some_and(secret::is_secret_name) && secret::origin_of(s).is_none() {
                    out.push(s.clone());
                }
                if s.contains("://") {
                    for (range, _) in secret::url_credentials(s) {
                        out.push(s[range].to_string());
                    }
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, None, &format!("{pointer}/{i}"), out);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    let p = yaml::child(pointer, k);
                    let transform = p.starts_with("/rules/")
                        && p.ends_with("/transform")
                        && p.split('/').count() == 4;
                    if !transform {
                        walk(x, Some(k), &p, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(tree, None, "", &mut out);
    out
}

/// Without `--env`, each declared overlay is still merged and checked (schema, literal secrets,
/// semantic checks; not `${env:…}`, whose variables may exist only where that environment is deployed),
/// keeping the problems located inside the overlay: a typo in `production` should not wait for
/// the production deploy to surface.
fn check_overlays(tree: &Value, map: &SourceMap) -> Vec<Diagnostic> {
    let Some(envs) = tree.get("environments").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Each overlay is merged into a copy of the base alone (without the other overlays), so the
    // work is linear in the size of the spec however many environments it declares.
    let mut base = tree.clone();
    if let Some(obj) = base.as_object_mut() {
        obj.insert("environments".into(), Value::Object(serde_json::Map::new()));
    }
    let base_map = map.without_subtree("/environments");
    for (name, overlay) in envs {
        let pointer = yaml::child("/environments", name);
        let Some(region) = map.value_span(&pointer) else {
            continue;
        };
        let (mut t, mut m) = (base.clone(), base_map.clone());
        if let Some(e) = t.get_mut("environments").and_then(Value::as_object_mut) {
            e.insert(name.clone(), overlay.clone());
        }
        if let Some(l) = map.get("/environments") {
            m.insert("/environments".into(), *l);
        }
        m.copy_subtree(map, &pointer);
        if let Err(d) = env::apply(&mut t, &mut m, name) {
            out.push(d);
            continue;
        }
        let mut secrets = Vec::new();
        interp::check_secrets(&t, &m, &mut secrets);
        let found = schema::validate(&t, &m)
            .into_iter()
            .chain(secrets)
            .chain(checks::run(&t, &m));
        out.extend(
            found
                .filter(|d| {
                    d.span.is_some_and(|s| {
                        s.start.offset >= region.start.offset && s.start.offset < region.end.offset
                    })
                })
                .map(|mut d| {
                    d.message = format!("{} (environment `{name}`)", d.message);
                    d
                }),
        );
    }
    out
}

/// Turns every float with no fraction that an integer holds exactly (`3000.0`, `1e3`) into that
/// integer, so serde reads it where the model wants an integer, as the schema already allowed.
/// Fields that want a float read an integer just as well.
pub(crate) fn integral_floats_to_integers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(m) => m.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// The folder a spec's relative references resolve against.
fn spec_dir(path: &Path) -> PathBuf {
    path.parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A serde_path_to_error path as a JSON pointer.
pub(crate) fn path_to_pointer(p: &serde_path_to_error::Path) -> String {
    let mut s = String::new();
    for seg in p.iter() {
        use serde_path_to_error::Segment;
        match seg {
            Segment::Seq { index } => s.push_str(&format!("/{index}")),
            Segment::Map { key } => s.push_str(&format!("/{}", yaml::escape_token(key))),
            Segment::Enum { variant } => s.push_str(&format!("/{}", yaml::escape_token(variant))),
            Segment::Unknown => {}
        }
    }
    s
}
