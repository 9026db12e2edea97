//! What a rule sees: the loaded spec, each rule's transform with its analysis (paths read, output
//! fields, dialect uses) computed once, and helpers that turn a JSON pointer or a transform offset
//! into a located [`Diagnostic`].

use serde_json::Value;

use crate::diag::{Diagnostic, Span};
use crate::spec::{Fixture, ResolvedRule, Spec, TransformSource};
use crate::transform::syntax::{self, Analysis, DialectFix, OutputField, PathRef, SyntaxError};

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
        let dialect = syntax::dialect(&source.text);
        let mut analysis = syntax::analyse(&source.text);
        // The guide's dialect does not parse; analyse its standard rewrite instead so the data-flow
        // rules (personal data, blobs) still see what the transform reads, at original offsets.
        if analysis.is_err() && !dialect.is_empty() {
            let (text, map) = rewrite(&source.text, &dialect);
            if let Ok(a) = syntax::analyse(&text) {
                analysis = Ok(remap(a, &map));
            }
        }
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

/// Offsets of a rewritten text mapped back to the original: `(new_start, new_end, old_start,
/// old_end)` of each replaced range, in order.
type OffsetMap = Vec<(usize, usize, usize, usize)>;

/// Applies non-overlapping dialect fixes (character offsets) and returns the new text.
fn rewrite(text: &str, fixes: &[DialectFix]) -> (String, OffsetMap) {
    let chars: Vec<char> = text.chars().collect();
    let mut fixes: Vec<&DialectFix> = fixes.iter().collect();
    fixes.sort_by_key(|f| (f.start, f.end));
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::new();
    let mut at = 0;
    let mut new_len = 0;
    for f in fixes {
        if f.start < at || f.end > chars.len() || f.start > f.end {
            continue;
        }
        out.extend(&chars[at..f.start]);
        new_len += f.start - at;
        let repl = f.replacement.chars().count();
        map.push((new_len, new_len + repl, f.start, f.end));
        out.push_str(&f.replacement);
        new_len += repl;
        at = f.end;
    }
    out.extend(&chars[at..]);
    (out, map)
}

/// Maps an offset of the rewritten text back to the original.
fn old_offset(map: &OffsetMap, n: usize) -> usize {
    let mut delta: isize = 0;
    for &(ns, ne, os, oe) in map {
        if n < ns {
            break;
        }
        if n < ne {
            // Inside a replacement: point at the replaced range.
            return if n == ns { os } else { oe };
        }
        delta = oe as isize - ne as isize;
    }
    (n as isize + delta).max(0) as usize
}

fn remap(mut a: Analysis, map: &OffsetMap) -> Analysis {
    let fix = |p: &mut crate::transform::syntax::PathRef| {
        p.start = old_offset(map, p.start);
        p.end = old_offset(map, p.end);
    };
    a.paths.iter_mut().for_each(fix);
    for o in a.outputs.iter_mut().chain(a.result.iter_mut()) {
        o.key_start = old_offset(map, o.key_start);
        o.key_end = old_offset(map, o.key_end);
        o.inputs.iter_mut().for_each(fix);
        o.carries.iter_mut().for_each(fix);
    }
    for f in &mut a.functions {
        f.1 = old_offset(map, f.1);
        f.2 = old_offset(map, f.2);
    }
    a
}

/// An input path that reaches an output field ([`Context::carried`]).
pub struct Carried<'c> {
    /// The rule whose transform it is (its fixtures show what the path holds).
    pub rule: &'c RuleView,
    pub source: &'c TransformSource,
    pub analysis: &'c Analysis,
    pub field: &'c OutputField,
    pub path: &'c PathRef,
    /// What the path is, as the kind test said (`a phone number`).
    pub what: &'static str,
}

impl Carried<'_> {
    /// The output field as a dotted name (`/contact/phone` → `contact.phone`); `""` for the
    /// payload itself ([`Analysis::result`]).
    pub fn field_name(&self) -> String {
        self.field.pointer.trim_start_matches('/').replace('/', ".")
    }

    /// What a finding calls the place: ``output field `contact.phone` `` or `the payload`.
    pub fn place(&self) -> String {
        if self.field.pointer.is_empty() {
            "the payload".to_string()
        } else {
            format!("output field `{}`", self.field_name())
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

    /// The spec's CRM profile and how that CRM deduplicates its deliveries, as the simulator's
    /// CRM model reads them (`crm::dedup`, with no scenario's overrides): the one question every
    /// rule on deduplication asks.
    pub fn crm(&self) -> (crate::crm::Profile, crate::crm::Dedup) {
        let profile = crate::crm::profile(self.spec.raw.crm.profile);
        let dedup = crate::crm::dedup(&self.spec.raw, &profile, &Default::default());
        (profile, dedup)
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

    /// A diagnostic on the key of output field `field` of a transform.
    pub fn at_output(
        &self,
        source: &TransformSource,
        field: &OutputField,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.in_transform(source, field.key_start, field.key_end, message)
    }

    /// Every input path of a kind `kind` recognises (`Some(what it is)`) that reaches an output
    /// field of a rule's transform, once, at the innermost output field that carries it (a field
    /// whose nested field carries the same path leaves it to that one).
    pub fn carried(&self, kind: fn(&[String]) -> Option<&'static str>) -> Vec<Carried<'_>> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let Some(t) = &rule.transform else { continue };
            let Ok(a) = &t.analysis else { continue };
            for f in a.outputs.iter().chain(a.result.iter()) {
                for p in &f.carries {
                    let Some(what) = kind(&p.segments) else {
                        continue;
                    };
                    let nested = a.outputs.iter().any(|g| {
                        g.pointer.starts_with(&format!("{}/", f.pointer))
                            && g.carries.iter().any(|q| q.segments == p.segments)
                    });
                    if !nested {
                        out.push(Carried {
                            rule,
                            source: &t.source,
                            analysis: a,
                            field: f,
                            path: p,
                            what,
                        });
                    }
                }
            }
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_after_a_rewrite_map_back_to_the_original_text() {
        let text = "{ \"a\": x?.y, \"b\": z }";
        let fixes = vec![crate::lint::rules::tests_support::dialect_fix(8, 10, ".")];
        let (new, map) = rewrite(text, &fixes);
        assert_eq!(new, "{ \"a\": x.y, \"b\": z }");
        let z_new = new.find('z').unwrap();
        assert_eq!(old_offset(&map, z_new), text.find('z').unwrap());
        assert_eq!(old_offset(&map, 7), 7);
    }
}
