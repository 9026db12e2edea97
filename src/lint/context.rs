//! What a rule sees: the loaded spec, each rule's transform with its analysis (paths read, output
//! fields, dialect uses) computed once, and helpers that turn a JSON pointer or a transform offset
//! into a located [`Diagnostic`].

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diag::{Diagnostic, Sources, Span};
use crate::spec::{Fixture, ResolvedRule, Spec, TransformOrigin, TransformSource};
use crate::transform::syntax::{self, Analysis, DialectFix, SyntaxError};

/// One spec rule's transform, analysed once for every lint rule.
#[derive(Debug, Clone)]
pub struct TransformView {
    pub source: TransformSource,
    pub analysis: Result<Analysis, SyntaxError>,
    pub dialect: Vec<DialectFix>,
}

impl TransformView {
    /// Analyses a transform's text.
    pub fn new(source: TransformSource) -> Self {
        let analysis = syntax::analyse(&source.text);
        let dialect = syntax::dialect(&source.text);
        TransformView {
            source,
            analysis,
            dialect,
        }
    }

    /// Builds a view from an analysis made elsewhere (tests construct analyses directly, so rule
    /// logic is tested independently of the parser).
    pub fn with_analysis(source: TransformSource, analysis: Analysis) -> Self {
        TransformView {
            source,
            analysis: Ok(analysis),
            dialect: Vec::new(),
        }
    }
}

/// A spec rule as lint sees it.
#[derive(Debug, Clone)]
pub struct RuleView {
    /// Index in `spec.raw.rules`.
    pub index: usize,
    pub transform: Option<TransformView>,
    pub fixtures: Vec<Fixture>,
}

/// Everything the lint rules read.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub rules: Vec<RuleView>,
}

impl<'a> Context<'a> {
    /// Builds the context, analysing each rule's transform.
    pub fn new(spec: &'a Spec, resolved: &[ResolvedRule]) -> Self {
        let rules = resolved
            .iter()
            .map(|r| RuleView {
                index: r.index,
                transform: r.transform.clone().map(TransformView::new),
                fixtures: r.fixtures.clone(),
            })
            .collect();
        Context { spec, rules }
    }

    /// A diagnostic on the value at `pointer` (or its nearest written ancestor).
    pub fn at_value(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error("", message)
            .in_file(&self.spec.path)
            .at_opt(self.spec.span(pointer))
    }

    /// A diagnostic on the key at `pointer` (or its nearest written ancestor).
    pub fn at_key(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error("", message)
            .in_file(&self.spec.path)
            .at_opt(self.spec.key_span(pointer))
    }

    /// Whether `pointer` was written in the spec (as opposed to a default).
    pub fn written(&self, pointer: &str) -> bool {
        self.spec.map.get(pointer).is_some()
    }

    /// A diagnostic on characters `[start, end)` of a transform.
    pub fn in_transform(
        &self,
        source: &TransformSource,
        start: usize,
        end: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (file, span) =
            crate::transform::position::locate(self.spec, &source.origin, start, end);
        let span = if span == Span::default() {
            None
        } else {
            Some(span)
        };
        Diagnostic::error("", message).in_file(file).at_opt(span)
    }

    /// The spec rules that are enabled, with their raw definitions.
    pub fn enabled_rules(&self) -> impl Iterator<Item = (&RuleView, &crate::spec::model::Rule)> {
        self.rules.iter().filter_map(|r| {
            let raw = self.spec.raw.rules.get(r.index)?;
            raw.enabled.then_some((r, raw))
        })
    }
}

/// Reads a dotted path (`interaction.agent.id`) from an event; `None` when any step is missing or
/// null.
pub fn lookup<'v>(event: &'v Value, dotted: &str) -> Option<&'v Value> {
    let mut v = event;
    for seg in dotted.split('.') {
        v = match v {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!v.is_null()).then_some(v)
}

/// Resolves rules when the loader has not (`Spec.rules` empty although the spec declares rules):
/// inline transforms, `transformFile`s and fixture files or `*` globs relative to the spec. The
/// loader's resolution wins whenever it ran; this keeps lint useful on specs whose rules the loader
/// left unresolved. Files read are added to `sources` so findings in them render with snippets.
pub fn resolve_rules(spec: &Spec, sources: &mut Sources) -> (Vec<ResolvedRule>, Vec<Diagnostic>) {
    if !spec.rules.is_empty() || spec.raw.rules.is_empty() {
        return (spec.rules.clone(), Vec::new());
    }
    let mut diags = Vec::new();
    let mut out = Vec::new();
    for (i, raw) in spec.raw.rules.iter().enumerate() {
        let transform = if let Some(text) = &raw.transform {
            Some(TransformSource {
                text: text.clone(),
                origin: TransformOrigin::Inline {
                    pointer: format!("/rules/{i}/transform"),
                },
            })
        } else if let Some(file) = &raw.transform_file {
            let path = spec.dir.join(file);
            match crate::spec::read_text(&path) {
                Ok(text) => {
                    sources.add(&path, text.clone());
                    Some(TransformSource {
                        text,
                        origin: TransformOrigin::File { path },
                    })
                }
                Err(d) => {
                    diags.push(d);
                    None
                }
            }
        } else {
            None
        };
        let mut fixtures = Vec::new();
        for (j, pattern) in raw.fixtures.iter().enumerate() {
            for path in expand(&spec.dir, pattern) {
                match crate::spec::read_text(&path).and_then(|t| {
                    serde_json::from_str::<Value>(&t).map_err(|e| {
                        Diagnostic::error("E300", format!("fixture is not JSON: {e}"))
                            .in_file(&path)
                    })
                }) {
                    Ok(event) => fixtures.push(Fixture {
                        name: path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        path,
                        event,
                    }),
                    Err(d) => diags.push(spec.diag_at(d, &format!("/rules/{i}/fixtures/{j}"))),
                }
            }
        }
        out.push(ResolvedRule {
            index: i,
            transform,
            fixtures,
        });
    }
    (out, diags)
}

/// A fixture entry: a file, or a `*`/`?` pattern matched against the files of its folder.
fn expand(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let full = dir.join(pattern);
    if !pattern.contains(['*', '?', '[']) {
        return vec![full];
    }
    let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
        return Vec::new();
    };
    let Ok(glob) = globset::Glob::new(&name.to_string_lossy()) else {
        return Vec::new();
    };
    let m = glob.compile_matcher();
    let mut found: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.file_name().is_some_and(|n| m.is_match(n)))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}
