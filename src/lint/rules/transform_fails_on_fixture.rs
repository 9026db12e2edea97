//! ## What it does
//! Runs each rule's transform on each of its fixture events that the rule selects, through the
//! transform `cxsync test` and `cxsync sim` run (`transform::runner::compile_rule`, the same
//! matcher and evaluation, at `test.now`), and flags a transform that fails on one: a `$number`
//! of an id that is not numeric, `$substring(x, "a")`, a type error (`T…`), `$error("…")`, an
//! evaluation limit. The finding names the fixture files, the engine's error code and message,
//! and points at the failing expression where the engine says where. Only the fixtures run, not
//! generated events, so lint stays fast; `sim` tries the varied ones.
//!
//! ## Why is this bad?
//! A transform that fails produces no payload: `cxsync test` fails on the fixture, `sim`
//! dead-letters every such event as `TRANSFORM_FAILED`, and so would the Event Hub. The
//! fixtures are the events the spec says it handles, so each of them is an event lost. A
//! transform stopped by the 1 s wall-clock guard (`D1012`, a runaway loop) is different: how long
//! it runs depends on the machine, so `cxsync test` gives the case no verdict and `sim` stops
//! without one (exit 2), and the finding says so. One kind of failure is cxsync's alone:
//! `$random()` and `$shuffle()` are jsonata-js builtins the hub evaluates, but cxsync refuses
//! them because it cannot simulate them deterministically (CX025 says so at the call); the
//! finding then says the hub evaluates the call, not that it dead-letters the event.
//!
//! ## Example
//! ```yaml
//! transform: '{ "caseNumber": $number(interaction.id) }'   # interaction.id is "CHAT-7F3A"
//! ```
//!
//! Use instead:
//! ```yaml
//! transform: '{ "caseNumber": $string(interaction.id) }'
//! ```
//!
//! ## Fix safety
//! No automatic fix: what the transform should do with such an event is the author's decision
//! (`cxsync eval --spec SPEC --rule ID --event FIXTURE` runs the transform on one event).

use super::prelude::*;
use crate::transform::limits::past_wall_clock_guard;
use crate::transform::runner::{compile_rule, filter, snapshot_now};
use crate::transform::syntax;
use crate::transform::transformed::{transformed, Transformed};
use crate::transform::TransformError;

/// A path as the user would type it again (no leading `./`).
fn typed(path: &std::path::Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

/// What `cxsync test`, `sim` and the hub do with an event whose transform fails with `e`, as
/// the simulator decides it (`sim::engine::feed`): a deterministic error (a type error, a
/// sequence or depth limit, `$error`) is dead-lettered; the wall-clock guard's D1012 depends on
/// the machine's speed, so `test` and `sim` give no verdict (#243).
fn consequence(e: &TransformError) -> String {
    if past_wall_clock_guard(e) {
        format!(
            "it ran past the {} ms wall-clock guard, so the outcome depends on the machine: `cxsync test` gives the case no verdict and `sim` stops without a verdict (a tool error, exit 2); the hub's own time limit decides what happens to such an event",
            crate::transform::Limits::default()
                .time_budget_ms
                .unwrap_or_default()
        )
    } else if let Some(name) = syntax::refused_call(e.code.as_deref(), &e.message) {
        // A builtin jsonata-js has and cxsync refuses runs on the hub (#252).
        format!(
            "`cxsync test` fails and `sim` dead-letters each such event as TRANSFORM_FAILED; the hub (jsonata-js) evaluates `${name}`, but cxsync cannot simulate it deterministically"
        )
    } else {
        "`cxsync test` fails, and `sim` and the hub dead-letter each such event as TRANSFORM_FAILED"
            .to_string()
    }
}

/// Fixture files named in one finding; the rest are counted.
const SHOWN: usize = 3;

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let spec = cx.spec;
    // `cxsync test`'s instant; a `test.now` that does not parse is `test`'s own error (E300).
    let now = snapshot_now(spec, None).unwrap_or_else(|_| crate::transform::default_now());
    for resolved in &spec.rules {
        let (Some(rule), Some(source)) = (spec.raw.rules.get(resolved.index), &resolved.transform)
        else {
            continue;
        };
        if resolved.fixtures.is_empty() {
            continue;
        }
        // One that does not compile is CX024's or CX025's finding.
        let Ok(transform) = compile_rule(spec, resolved) else {
            continue;
        };
        // One finding per distinct error: (error, the fixtures it happened on).
        let mut failures: Vec<(TransformError, Vec<String>, &std::path::Path)> = Vec::new();
        for fx in &resolved.fixtures {
            if filter(&fx.event, &rule.event_type, &rule.conditions).is_some() {
                continue;
            }
            let Transformed::Failed(e) = transformed(transform.eval(&fx.event, now)) else {
                continue;
            };
            let file = fx
                .path
                .file_name()
                .map_or_else(|| fx.name.clone(), |n| n.to_string_lossy().into_owned());
            match failures.iter_mut().find(|(f, _, _)| *f == e) {
                Some((_, files, _)) => files.push(file),
                None => failures.push((e, vec![file], &fx.path)),
            }
        }
        let selected = resolved
            .fixtures
            .iter()
            .filter(|fx| filter(&fx.event, &rule.event_type, &rule.conditions).is_none())
            .count();
        for (e, files, first) in failures {
            let mut shown: Vec<String> =
                files.iter().take(SHOWN).map(|f| format!("`{f}`")).collect();
            if files.len() > SHOWN {
                shown.push(format!("{} more", files.len() - SHOWN));
            }
            let (start, end) = match (crate::transform::locate::span(&source.text, &e), e.offset) {
                (Some(at), _) => at,
                (None, Some(o)) => (o, o + 1),
                (None, None) => (0, source.text.chars().count()),
            };
            let code = e.code.as_deref().unwrap_or("an error");
            out.push(
                cx.in_transform(
                    source,
                    start,
                    end,
                    format!(
                        "rule `{}`'s transform fails on {} of its {selected} selected fixture event(s) ({}) with {code}: {}; {}",
                        rule.id,
                        files.len(),
                        shown.join(", "),
                        e.message,
                        consequence(&e)
                    ),
                )
                .with_help(format!(
                    "{}; `cxsync eval --spec {} --rule {} --event {}` shows the failure",
                    if past_wall_clock_guard(&e) {
                        "make the transform cheaper (a recursion without an end, or a nested map over a large array?)"
                    } else {
                        "make the transform handle such an event, or fix the fixture if the hub never sends one"
                    },
                    typed(&spec.path),
                    rule.id,
                    typed(first)
                )),
            );
        }
    }
}
