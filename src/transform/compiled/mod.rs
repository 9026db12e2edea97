//! The compiled evaluator: the JSONata that CRM mappings are made of, lowered once from
//! cxsync's own syntax tree ([`crate::transform::syntax`]) and evaluated directly over the event
//! (borrowed, never converted), with regex literals compiled once.
//!
//! Correctness rule: it gives exactly the engine's result, or declines. An expression outside
//! the compiled subset is not compiled at all ([`lower::NoCompile`]); an evaluation that meets
//! anything the evaluator does not decide exactly as the engine does — any error, an operand of
//! a type the engine would reject, a non-object event, a limit — declines ([`Bail`]) and the
//! engine evaluates that event from the start. Errors therefore come from the engine, with its
//! codes and messages — all but one: an evaluation past the step budget ([`Decline::Steps`])
//! fails with `STEP_BUDGET_EXCEEDED` here, because the engine could bound it only by the wall
//! clock.
//!
//! For JSON text input only the fields the expression can read are parsed ([`reads`]); every
//! other value is skipped without allocating.

mod builtins;
mod dates;
mod eval;
mod input;
mod ir;
mod lower;
mod reads;
mod value;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

use super::{Bindings, Limits};
use eval::Ev;
use value::Val;

/// The compiled path declined this evaluation; the engine must run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

pub(super) type R<T> = Result<T, Bail>;

/// Why a compiled evaluation gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decline {
    /// The engine must run it ([`Bail`]).
    Engine,
    /// It took more than [`eval::STEP_BUDGET`] steps: a deterministic failure
    /// ([`crate::transform::limits::STEP_BUDGET_EXCEEDED`]), not handed to the engine, whose only
    /// bound on time is a wall clock.
    Steps,
}

impl From<Bail> for Decline {
    fn from(_: Bail) -> Decline {
        Decline::Engine
    }
}

/// A compiled evaluation's result, or why it gave none.
pub(super) type Tried<T> = Result<T, Decline>;

/// A compiled transform.
pub struct Program {
    root: ir::Node,
    vars: Vec<Box<str>>,
    regexes: Vec<Regex>,
    reads: input::Trie,
    limits: Limits,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("regexes", &self.regexes.len())
            .finish_non_exhaustive()
    }
}

impl Program {
    /// Compiles `text` when every construct is in the compiled subset.
    pub(super) fn compile(text: &str, limits: Limits) -> Option<Program> {
        let tree = super::syntax::parse_shallow(text)?;
        let lowered = lower::lower(&tree).ok()?;
        let reads = reads::reads(&lowered.root);
        Some(Program {
            root: lowered.root,
            vars: lowered.vars,
            regexes: lowered.regexes,
            reads,
            limits,
        })
    }

    /// Evaluates against an event (with optional `$name` bindings).
    pub(super) fn try_eval(
        &self,
        event: Option<&Value>,
        now: DateTime<Utc>,
        bindings: Option<&Bindings>,
    ) -> Tried<Option<Value>> {
        let event = input::Json::from_value(event.ok_or(Bail)?, &self.reads);
        let mut bound = Vec::new();
        for (name, v) in bindings.into_iter().flatten() {
            // A binding may shadow a builtin the compiled program resolved statically.
            if lower::is_builtin(name) {
                return Err(Decline::Engine);
            }
            if let Some(i) = self.vars.iter().position(|x| **x == **name) {
                bound.push((i as ir::Var, input::Json::from_value(v, &input::WHOLE)));
            }
        }
        guarded(|| {
            let v = self.run(&event, now, &bound)?;
            Ok(value::to_output(&v, &mut self.budget())?)
        })
    }

    /// Parses only the fields the transform reads, evaluates, writes compact JSON text.
    pub(super) fn try_eval_json_text(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Tried<Option<String>> {
        let event = input::parse_pruned(text, &self.reads).ok_or(Bail)?;
        guarded(|| {
            let v = self.run(&event, now, &[])?;
            let mut out = String::with_capacity(256);
            if !value::write_json(&v, &mut out, &mut self.budget())? {
                return Ok(None);
            }
            Ok(Some(out))
        })
    }

    /// The output budget of one evaluation (`limits`): past it the compiled path declines and
    /// the engine reports the limit.
    fn budget(&self) -> crate::transform::limits::OutputBudget {
        crate::transform::limits::OutputBudget::new(self.limits.max_output_bytes, "the result")
    }

    fn run<'a>(
        &'a self,
        event: &'a input::Json<'a>,
        now: DateTime<Utc>,
        bound: &'a [(ir::Var, input::Json<'a>)],
    ) -> Tried<Val<'a>> {
        // The engine treats an array or scalar input specially (jsonata-js's outer wrapper).
        if !event.is_object() {
            return Err(Decline::Engine);
        }
        let root = Val::In(event);
        let mut ev = Ev::new(self, root.clone(), now.timestamp_millis());
        for (var, v) in bound {
            ev.bind_global(*var, Val::from_input(v));
        }
        let out = ev.eval(&self.root, &root, 0);
        out.map_err(|Bail| {
            if ev.exhausted() {
                Decline::Steps
            } else {
                Decline::Engine
            }
        })
    }
}

/// The builtins whose regex literal the engine path compiles once and hands here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RegexFn {
    Contains,
    Split,
    Replace,
    Match,
}

impl RegexFn {
    /// The builtin called `name` and the argument counts of a call whose second argument (the
    /// pattern) can be handed over.
    pub(super) fn named(name: &str) -> Option<(RegexFn, usize, usize)> {
        Some(match name {
            "contains" => (RegexFn::Contains, 2, 2),
            "split" => (RegexFn::Split, 2, 3),
            "replace" => (RegexFn::Replace, 3, 4),
            "match" => (RegexFn::Match, 2, 3),
            _ => return None,
        })
    }
}

/// `f` with the engine's evaluated arguments (the regex literal's slot left out) and its
/// compiled regex, by the compiled path's implementation; `None` where that declines (an
/// argument of an unusual type, an error), so the engine decides.
pub(super) fn call_regex(
    f: RegexFn,
    args: &[jsonata_core::value::JValue],
    re: &Regex,
    limits: Limits,
) -> Option<jsonata_core::value::JValue> {
    let mut vals: Vec<Val<'_>> = Vec::with_capacity(args.len() + 1);
    for (i, a) in args.iter().enumerate() {
        if i == 1 {
            vals.push(Val::Undef);
        }
        vals.push(value::from_jvalue(a).ok()?);
    }
    if args.len() == 1 {
        vals.push(Val::Undef);
    }
    let b = match f {
        RegexFn::Contains => ir::Builtin::Contains,
        RegexFn::Split => ir::Builtin::Split,
        RegexFn::Replace => ir::Builtin::Replace,
        RegexFn::Match => ir::Builtin::Match,
    };
    let v = builtins::pattern_builtin(
        b,
        &vals,
        Some(re),
        limits.max_sequence,
        limits.max_output_bytes,
    )
    .ok()?;
    value::to_jvalue(&v).ok()
}

/// `$distinct` of an engine array by the compiled path's linear implementation
/// ([`builtins::distinct`]); `None` where a value is outside the compiled path's (a function),
/// so the engine's own `$distinct` runs.
pub(super) fn distinct(arg: &jsonata_core::value::JValue) -> Option<jsonata_core::value::JValue> {
    let v = value::from_jvalue(arg).ok()?;
    if !v.is_array() || v.len() <= 1 {
        return None;
    }
    let items = builtins::distinct(&v).ok()?;
    let flags = value::Flags {
        seq: v.is_seq(),
        ..value::Flags::PLAIN
    };
    value::to_jvalue(&Val::Arr(std::rc::Rc::new(value::Items(items)), flags)).ok()
}

/// Runs one compiled evaluation behind the engine's firewall: the compiled path calls
/// jsonata-core's functions directly (`$substring` with a start of 1e300 overflows inside it),
/// so a panic there is a decline, and the engine, behind its own firewall, answers.
fn guarded<T>(f: impl FnOnce() -> Tried<T>) -> Tried<T> {
    super::engine::firewall(f).unwrap_or(Err(Decline::Engine))
}

/// Maps a declined evaluation to the engine, and one out of steps to its error.
pub(super) fn or_engine<T>(
    compiled: Tried<T>,
    engine: impl FnOnce() -> Result<T, super::TransformError>,
) -> Result<T, super::TransformError> {
    match compiled {
        Ok(v) => Ok(v),
        Err(Decline::Engine) => engine(),
        Err(Decline::Steps) => Err(super::limits::step_budget_exceeded(eval::STEP_BUDGET)),
    }
}

#[cfg(test)]
mod tests;
