//! The adapter to `jsonata-core`: parse, frozen clock, limits, value conversion, error codes.
//!
//! Why the pieces look the way they do:
//! - The frozen clock is two host functions (`$now`, `$millis`) registered with
//!   `register_fn_override`, reading an instant from a cell that each evaluation sets. `$now`
//!   with a picture or timezone is rewritten once at compile time to
//!   `$fromMillis($millis(), picture, tz)`, which is exactly its jsonata-js definition.
//! - Host functions need the engine's tree-walking `Evaluator`, which caches compiled step bodies
//!   per evaluator; building one per call would recompile them every time. So each thread keeps a
//!   few evaluators, keyed by the compiled transform's id, and reuses them.
//! - Values cross the boundary by walking the trees (no JSON text round-trip); numbers that are
//!   whole and exactly representable come back as JSON integers, as `JSON.stringify` prints them.
//!   Every walk charges an [`OutputBudget`], so a result built of shared structure (2^40 nodes
//!   from 40 doublings) stops at the budget instead of exhausting memory.
//! - The engine is behind a firewall: a panic inside it (its date and number pictures have some,
//!   listed in docs/transforms.md) is caught, kept off stderr and returned as an
//!   [`ENGINE_DEFECT`] error; the evaluator it happened in is thrown away. Two builtins that can
//!   build unbounded values in a single call are guarded by rewriting their calls at compile
//!   time: `$string(x)` measures `x` first, `$pad(s, w)` checks `w`, both against the output
//!   budget.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use jsonata_core::ast::{AstNode, BinaryOp, Stage, UnaryOp};
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::Value;

use super::context::{Resolved, Signature};
use super::limits::{OutputBudget, OutputTooLarge, ENGINE_DEFECT, OUTPUT_TOO_LARGE};
use super::{Limits, TransformError};

/// Variables bound for one evaluation, by name without `$`.
pub type Bindings = serde_json::Map<String, Value>;

/// How many evaluators one thread keeps (one per recently used transform).
const CACHED_EVALUATORS: usize = 8;

/// Host function wrapped around the argument of `$string`: returns it unchanged when its size is
/// within the output budget.
const SIZED: &str = "__cxsync_sized";
/// Host function wrapped around the width of `$pad`: returns it unchanged when it is within the
/// output budget.
const WIDTH: &str = "__cxsync_width";
/// Host function wrapped around an object the engine builds with keys it does not know at
/// compile time (or an array-index key), and around `$merge`: returns it with its keys in
/// JavaScript's order ([`order_objects`]).
const ORDERED: &str = "__cxsync_ordered";
/// Host function wrapped around the limit of `$split(s, separator, limit)`, handed the
/// separator too: the limit as jsonata-js reads it ([`super::numbers::js_split_limit`]).
const SPLIT_LIMIT: &str = "__cxsync_split_limit";

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A parsed expression and the limits it runs under.
pub(super) struct Compiled {
    id: u64,
    /// The tree the engine evaluates (with the builtin guards).
    ast: AstNode,
    limits: Limits,
    /// The expression's regex-literal calls, compiled once (see [`rewrite_regex_calls`]).
    regex_calls: std::sync::Arc<[RegexCall]>,
    /// The expression as written: an error's position is found in it ([`super::locate`]).
    text: Box<str>,
}

/// A call of `$contains`/`$split`/`$replace`/`$match` whose pattern is a regex literal: in the
/// tree it became a call of a host function named `name` (a name no expression can write)
/// without the literal, which runs the compiled path's implementation with `re`, compiled
/// once; where that declines, `original` (the call itself, over `a0`, `a1`, … of its
/// arguments) is evaluated by the engine, so results and errors are the builtin's own.
struct RegexCall {
    name: String,
    f: super::compiled::RegexFn,
    re: regex::Regex,
    original: AstNode,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("id", &self.id)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

struct CachedEvaluator {
    id: u64,
    ev: Evaluator,
    clock: Rc<Cell<i64>>,
}

thread_local! {
    static EVALUATORS: RefCell<Vec<CachedEvaluator>> = const { RefCell::new(Vec::new()) };
}

impl Compiled {
    pub(super) fn new(text: &str, limits: Limits) -> Result<Compiled, TransformError> {
        let mut ast =
            firewall(|| jsonata_core::parser::parse(text))?.map_err(|e| parse_error(&e))?;
        let bound = bound_variables(&mut ast);
        if !bound.contains("now") {
            rewrite_now_with_arguments(&mut ast);
        }
        // JavaScript's ASCII `\w`/`\d` in every regex literal, whichever way the engine uses it.
        visit_mut(&mut ast, &mut |n| {
            if let AstNode::Regex { pattern, .. } = n {
                // A pattern it refuses never gets here: `Transform::compile` refused it (E506).
                if let Ok(t) = super::regex::translate(pattern) {
                    *pattern = t;
                }
            }
        });
        rewrite_context_calls(&mut ast, &bound);
        replace_builtins(&mut ast, &bound);
        rewrite_js_calls(&mut ast, &bound);
        guard_arithmetic(&mut ast, &bound);
        guard_split_limit(&mut ast, &bound);
        let regex_calls = rewrite_regex_calls(&mut ast, &bound).into();
        guard_builtins(&mut ast, &bound);
        guard_numbers(&mut ast, &bound);
        guard_units(&mut ast, &bound);
        order_objects(&mut ast, &bound);
        Ok(Compiled {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            ast,
            limits,
            regex_calls,
            text: text.into(),
        })
    }

    fn options(&self) -> EvaluatorOptions {
        EvaluatorOptions {
            timeout_ms: self.limits.time_budget_ms,
            cancel: None,
            max_stack_depth: Some(self.limits.max_depth),
            max_sequence_length: Some(self.limits.max_sequence),
        }
    }

    pub(super) fn eval(
        &self,
        event: Option<&Value>,
        now: DateTime<Utc>,
        bindings: Option<&Bindings>,
    ) -> Result<Option<Value>, TransformError> {
        let data = event.map(to_jvalue).unwrap_or(JValue::Undefined);
        let out = self.run(&data, now, bindings)?;
        Ok(from_jvalue(&out, &mut self.budget())?)
    }

    fn budget(&self) -> OutputBudget {
        OutputBudget::new(self.limits.max_output_bytes, "the result")
    }

    pub(super) fn eval_json_text(
        &self,
        event_json: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, TransformError> {
        let not_json = |e: &dyn std::fmt::Display| TransformError {
            code: None,
            message: format!("the event is not JSON: {e}"),
            offset: None,
        };
        // jsonata-core's parser reads a lone surrogate escape (`"\ud800x"`) as NUL (tester
        // #125); jsonata-js keeps it, which no Rust string can. serde_json refuses it, with its
        // position: asked only when the text has a surrogate escape at all.
        if has_surrogate_escape(event_json) {
            serde_json::from_str::<Value>(event_json).map_err(|e| {
                not_json(&format!(
                    "{e} (a lone UTF-16 surrogate escape such as \\ud800 is no character; \
                     cxsync cannot hold it)"
                ))
            })?;
        }
        let mut data = JValue::from_json_str(event_json).map_err(|e| {
            match crate::spec::json::error_help(&e) {
                // Too deep for cxsync's JSON reader is no syntax error of the event (#231).
                Some(_) => TransformError {
                    code: Some("EVENT_TOO_DEEP".into()),
                    message: format!("the event {}", crate::spec::json::error_message(&e)),
                    offset: None,
                },
                None => not_json(&e),
            }
        })?;
        if may_have_index_key(event_json) {
            data = js_ordered(&data);
        }
        let out = self.run(&data, now, None)?;
        let mut buf = Vec::with_capacity(256);
        if !write_json(&out, &mut buf, &mut self.budget())? {
            return Ok(None);
        }
        // Only valid UTF-8 is ever written: escaped strings, numbers and punctuation.
        Ok(Some(String::from_utf8(buf).expect("JSON text is UTF-8")))
    }

    fn run(
        &self,
        data: &JValue,
        now: DateTime<Utc>,
        bindings: Option<&Bindings>,
    ) -> Result<JValue, TransformError> {
        self.run_unlocated(data, now, bindings).map_err(|e| {
            if e.offset.is_some() {
                return e;
            }
            let at = super::locate::span(&self.text, &e).or_else(|| {
                super::locate::pinpoint(&self.text, &e, |variant| {
                    // A fresh evaluator (bindings given), so the cache keeps its transforms.
                    let empty = Bindings::new();
                    Compiled::new(variant, self.limits).map_or(true, |c| {
                        c.run_unlocated(data, now, Some(bindings.unwrap_or(&empty)))
                            .is_err_and(|again| again.code == e.code && again.message == e.message)
                    })
                })
            });
            TransformError {
                offset: at.map(|(start, _)| start),
                ..e
            }
        })
    }

    /// [`Compiled::run`] without looking for the error's position.
    fn run_unlocated(
        &self,
        data: &JValue,
        now: DateTime<Utc>,
        bindings: Option<&Bindings>,
    ) -> Result<JValue, TransformError> {
        let millis = now.timestamp_millis();
        if let Some(b) = bindings {
            // Bindings live in the evaluator's context: a fresh evaluator keeps them from leaking
            // into later evaluations on this thread.
            let mut ctx = Context::new();
            for (k, v) in b {
                ctx.bind(k.clone(), to_jvalue(v));
            }
            let clock = Rc::new(Cell::new(millis));
            let mut ev = new_evaluator(ctx, self.options(), self.limits, &clock, &self.regex_calls);
            return firewall(|| ev.evaluate(&self.ast, data))?.map_err(|e| eval_error(&e));
        }
        EVALUATORS.with(|cell| {
            let mut cache = cell.borrow_mut();
            let pos = cache.iter().position(|c| c.id == self.id);
            let mut entry = match pos {
                Some(i) => cache.remove(i),
                None => {
                    let clock = Rc::new(Cell::new(millis));
                    CachedEvaluator {
                        id: self.id,
                        ev: new_evaluator(
                            Context::new(),
                            self.options(),
                            self.limits,
                            &clock,
                            &self.regex_calls,
                        ),
                        clock,
                    }
                }
            };
            // Release the borrow while evaluating: `$eval` or a nested transform may re-enter.
            drop(cache);
            entry.clock.set(millis);
            // An evaluator that panicked may be left inconsistent: it is not cached again.
            let result = firewall(|| entry.ev.evaluate(&self.ast, data))?;
            let mut cache = cell.borrow_mut();
            cache.insert(0, entry);
            cache.truncate(CACHED_EVALUATORS);
            result.map_err(|e| eval_error(&e))
        })
    }
}

thread_local! {
    /// Set while the engine runs on this thread: a panic then is the engine's, caught by
    /// [`firewall`], and the process-wide hook keeps it off stderr.
    static IN_ENGINE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a call into the engine), turning a panic into an [`ENGINE_DEFECT`] error. Every
/// call into jsonata-core goes through here.
pub(super) fn firewall<T>(f: impl FnOnce() -> T) -> Result<T, TransformError> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ENGINE.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = IN_ENGINE.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    IN_ENGINE.with(|c| c.set(was));
    result.map_err(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        TransformError {
            code: Some(ENGINE_DEFECT.to_string()),
            message: format!(
                "the JSONata engine (jsonata-core) crashed on this expression: {why}; this is a \
                 defect of the engine (docs/transforms.md lists the known ones), rewrite the \
                 expression around it"
            ),
            offset: None,
        }
    })
}

fn new_evaluator(
    ctx: Context,
    options: EvaluatorOptions,
    limits: Limits,
    clock: &Rc<Cell<i64>>,
    regex_calls: &std::sync::Arc<[RegexCall]>,
) -> Evaluator {
    let mut ev = Evaluator::with_options(ctx, options);
    for i in 0..regex_calls.len() {
        let calls = std::sync::Arc::clone(regex_calls);
        let name = calls[i].name.clone();
        ev.register_fn(name, move |args: &[JValue]| {
            let c = &calls[i];
            if let Some(JValue::String(s)) = args.first() {
                use super::regex::Use;
                // The host's arguments leave the regex out: the replacement is the second.
                let use_ = match (c.f, args.get(1)) {
                    (super::compiled::RegexFn::Contains, _) => Use::Contains,
                    (super::compiled::RegexFn::Split, _) => Use::Split,
                    (super::compiled::RegexFn::Match, _) => Use::Match,
                    (_, Some(JValue::String(r))) if r.is_empty() => Use::Delete,
                    _ => Use::Replace,
                };
                if super::regex::has_astral(s) && !super::regex::astral_safe(c.re.as_str(), use_) {
                    return Err(EvaluatorError::EvaluationError(
                        super::regex::astral_refusal(),
                    ));
                }
                if use_ == Use::Split {
                    // jsonata-js's D1004 (jsonata-core splits on an empty match).
                    let limit = match args.get(1) {
                        Some(JValue::Number(n)) if *n >= 0.0 => {
                            Some(super::numbers::js_split_parts(*n, false))
                        }
                        _ => None,
                    };
                    if super::regex::js_split(&c.re, s, limit).is_err() {
                        return Err(EvaluatorError::EvaluationError(
                            super::regex::ZERO_LENGTH_MATCH.to_string(),
                        ));
                    }
                }
            }
            match super::compiled::call_regex(c.f, args, &c.re, limits) {
                Some(v) => Ok(v),
                None => call(&c.original, args),
            }
        })
        .expect("the host function's name is not a builtin's");
    }
    let max = limits.max_output_bytes;
    ev.register_fn(SIZED, move |args: &[JValue]| {
        let v = args.first().cloned().unwrap_or(JValue::Undefined);
        measure(&v, &mut OutputBudget::new(max, "the argument of $string"))
            .map_err(budget_error)?;
        Ok(v)
    })
    .expect("the guard's name is not a builtin");
    ev.register_fn(WIDTH, move |args: &[JValue]| {
        let w = args.first().cloned().unwrap_or(JValue::Undefined);
        if let JValue::Number(n) = w {
            if n.abs() > max as f64 {
                return Err(budget_error(OutputTooLarge {
                    limit: max,
                    what: "the width of $pad",
                    too_deep: false,
                }));
            }
        }
        Ok(w)
    })
    .expect("the guard's name is not a builtin");
    ev.register_fn(SPLIT_LIMIT, |args: &[JValue]| {
        Ok(match args {
            [sep, JValue::Number(n)] if *n >= 0.0 => JValue::Number(
                super::numbers::js_split_limit(*n, matches!(sep, JValue::String(_))),
            ),
            [_, limit] => limit.clone(),
            _ => JValue::Undefined,
        })
    })
    .expect("the guard's name is not a builtin");
    ev.register_fn(ORDERED, |args: &[JValue]| {
        Ok(match args.first() {
            Some(JValue::Object(map))
                if !crate::jsjson::in_js_order(map.keys().map(String::as_str)) =>
            {
                let mut entries: Vec<(&String, &JValue)> = map.iter().collect();
                crate::jsjson::js_order(&mut entries, |e| e.0);
                JValue::object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            }
            Some(v) => v.clone(),
            None => JValue::Undefined,
        })
    })
    .expect("the guard's name is not a builtin");
    register_number_guards(&mut ev, max);
    register_js_builtins(&mut ev);
    register_context_builtins(&mut ev);
    register_arithmetic_guards(&mut ev);
    register_units_guards(&mut ev);
    for &name in REPLACED {
        register_guarded(&mut ev, name, move |args: &[JValue]| {
            js_string_builtin(name, args)
        });
    }
    let original = placeholder_call("distinct", 1).expect("a builtin call parses");
    ev.register_fn(guarded_name("distinct"), move |args: &[JValue]| match args
        .first()
        .and_then(super::compiled::distinct)
    {
        Some(v) => Ok(v),
        None => call(&original, args),
    })
    .expect("the guard's name is not a builtin");
    // The clock's builtins read the evaluation's instant and take no arguments. `$now` with
    // arguments is only reached when it was passed around as a value: direct calls with
    // arguments were rewritten to `$fromMillis`.
    type ClockBuiltin = (&'static str, &'static str, fn(i64) -> JValue);
    let clock_builtins: [ClockBuiltin; 2] = [
        (
            "now",
            "T0410: $now called with arguments through a reference; call it directly",
            |ms| JValue::string(iso_millis(ms)),
        ),
        (
            "millis",
            "T0410: Argument 1 of function \"millis\" does not match function signature",
            |ms| JValue::Number(ms as f64),
        ),
    ];
    for (name, refusal, read) in clock_builtins {
        let c = Rc::clone(clock);
        ev.register_fn_override(name, move |args: &[JValue]| {
            if !args.is_empty() {
                return Err(EvaluatorError::EvaluationError(refusal.to_string()));
            }
            Ok(read(c.get()))
        })
        .unwrap_or_else(|e| panic!("{name} is not a compilable builtin: {e:?}"));
    }
    ev
}

fn signature_error(name: &str) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument 1 of function \"{name}\" does not match function signature"
    ))
}

/// The jsonata-js builtins jsonata-core lacks or computes otherwise, on every evaluator (the
/// compiled path's engine calls included), so both evaluators answer alike:
/// - `$encodeUrl`, `$encodeUrlComponent`, `$decodeUrl`, `$decodeUrlComponent` as ECMAScript's
///   URI functions ([`super::uri`]; a malformed escape is D3140);
/// - `$clone(x)`: jsonata-js's `JSON.parse($string(x))` of an object or array;
/// - `$random()` and `$shuffle(a)` are refused: a transform gives one output for one event and
///   instant (snapshots, the simulator's seeded runs, a retried event's payload), and
///   jsonata-core's `$shuffle` draws from the operating system. Validate says so at the call
///   (E505).
///
/// Host functions receive no context, so the context forms (`$encodeUrl()` on a string input)
/// are T0410 here; [`rewrite_context_calls`] and [`register_guarded`] hand it over.
fn register_js_builtins(ev: &mut Evaluator) {
    for (name, component, decode) in [
        ("encodeUrl", false, false),
        ("encodeUrlComponent", true, false),
        ("decodeUrl", false, true),
        ("decodeUrlComponent", true, true),
    ] {
        ev.register_fn_override(name, move |args: &[JValue]| match args {
            [] | [JValue::Undefined] => Ok(JValue::Undefined),
            [JValue::String(s)] if decode => match super::uri::decode(s, component) {
                Some(d) => Ok(JValue::string(d)),
                None => Err(EvaluatorError::EvaluationError(format!(
                    "D3140: Malformed URL passed to ${name}(): {}",
                    Value::String(s.to_string())
                ))),
            },
            [JValue::String(s)] => Ok(JValue::string(super::uri::encode(s, component))),
            _ => Err(signature_error(name)),
        })
        .expect("the URL functions are not compilable builtins");
    }
    // `$toMillis(s)`: jsonata-js's ISO test and V8's `Date.parse` (`transform/dates.rs`).
    let original = placeholder_call("toMillis", 1).expect("a builtin call parses");
    register_guarded(ev, "toMillis", move |args: &[JValue]| match args {
        [JValue::String(s)] => super::dates::js_to_millis(s)
            .map(JValue::Number)
            .map_err(EvaluatorError::EvaluationError),
        _ => call(&original, args),
    });
    // `$substring(s, start[, length])`: jsonata-js's arithmetic on fractional bounds
    // (`strings::js_substring`); other arguments (undefined, wrong types) are the builtin's.
    let originals: Vec<AstNode> = (0..=3)
        .map(|argc| placeholder_call("substring", argc).expect("a builtin call parses"))
        .collect();
    register_guarded(ev, "substring", move |args: &[JValue]| {
        // `Some(length)` when the arguments are jsonata-js's arithmetic case.
        let len = match args.get(2) {
            None => Some(None),
            Some(JValue::Number(l)) => Some(Some(*l)),
            Some(_) => None,
        };
        match (args.first(), args.get(1), len) {
            (Some(JValue::String(s)), Some(JValue::Number(start)), Some(len))
                if args.len() <= 3 =>
            {
                Ok(JValue::string(super::strings::js_substring(s, *start, len)))
            }
            _ => call(&originals[args.len().min(3)], args),
        }
    });
    for name in ["base64encode", "base64decode"] {
        ev.register_fn_override(name, move |args: &[JValue]| js_string_builtin(name, args))
            .expect("the base64 functions are not compilable builtins");
    }
    ev.register_fn_override("clone", |args: &[JValue]| match args {
        [] | [JValue::Undefined] => Ok(JValue::Undefined),
        [v @ (JValue::Object(_) | JValue::Array(_))] => {
            let text = jsonata_core::functions::string::string(v, None)
                .map_err(|e| EvaluatorError::EvaluationError(e.to_string()))?;
            let JValue::String(text) = text else {
                return Err(signature_error("clone"));
            };
            JValue::from_json_str(&text).map_err(|e| EvaluatorError::EvaluationError(e.to_string()))
        }
        _ => Err(signature_error("clone")),
    })
    .expect("clone is not a compilable builtin");
    // `$formatBase`: jsonata-js's rounding and JavaScript's `toString(radix)`
    // (`numbers::js_format_base`).
    ev.register_fn_override("formatBase", |args: &[JValue]| {
        let radix = match args.get(1) {
            None | Some(JValue::Undefined) => None,
            Some(JValue::Number(r)) => Some(*r),
            Some(_) => return Err(EvaluatorError::TypeError(
                "T0410: Argument 2 of function \"formatBase\" does not match function signature"
                    .into(),
            )),
        };
        match args.first() {
            None | Some(JValue::Undefined) => Ok(JValue::Undefined),
            Some(JValue::Number(v)) if args.len() <= 2 => super::numbers::js_format_base(*v, radix)
                .map(JValue::string)
                .map_err(EvaluatorError::EvaluationError),
            _ => Err(signature_error("formatBase")),
        }
    })
    .expect("formatBase is not a compilable builtin");
    for &name in super::syntax::REFUSED {
        ev.register_fn_override(name, move |_: &[JValue]| {
            Err(EvaluatorError::ReferenceError(format!(
                "T1006: {}",
                super::syntax::refusal(name)
            )))
        })
        .expect("random and shuffle are not compilable builtins");
    }
}

/// jsonata-js's `$trim`, `$base64encode`, `$base64decode` ([`super::strings`]) and `$number`
/// ([`super::numbers::js_number`]) over argument values.
fn js_string_builtin(name: &str, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let f: fn(&str) -> String = match name {
        "trim" => super::strings::js_trim,
        "base64encode" => super::strings::js_base64encode,
        "base64decode" => super::strings::js_base64decode,
        _ => {
            return match args {
                [] | [JValue::Undefined] => Ok(JValue::Undefined),
                [JValue::Number(x)] => Ok(JValue::Number(*x)),
                [JValue::Bool(b)] => Ok(JValue::Number(if *b { 1.0 } else { 0.0 })),
                [JValue::String(s)] => match super::numbers::js_number(s) {
                    Some(x) => Ok(JValue::Number(x)),
                    None => Err(EvaluatorError::EvaluationError(format!(
                        "D3030: Unable to cast value to a number: {}",
                        Value::String(s.to_string())
                    ))),
                },
                _ => Err(signature_error(name)),
            }
        }
    };
    match args {
        [] | [JValue::Undefined] => Ok(JValue::Undefined),
        [JValue::String(s)] => Ok(JValue::string(f(s))),
        _ => Err(signature_error(name)),
    }
}

/// The builtins jsonata-core does not let a host function override (it inlines them), so
/// [`replace_builtins`] rewrites their calls to `cxsync <name>`: jsonata-js's definitions.
const REPLACED: &[&str] = &["number", "trim"];

/// `$trim(s)` → `cxsync trim(s)` and `$trim` as a value → `function($a0) { cxsync trim($a0) }`
/// (arity 1, as in jsonata-js), the same for `$number`; a `$trim()` on the right of `~>` too
/// (the left side becomes its argument). A name the expression binds itself stays its own.
fn replace_builtins(ast: &mut AstNode, bound: &BTreeSet<String>) {
    rewrite_builtins(
        ast,
        bound,
        |name, args| REPLACED.contains(&name) && !has_placeholder(args),
        |v| REPLACED.contains(&v).then_some(1),
    );
}

fn has_placeholder(args: &[AstNode]) -> bool {
    args.iter().any(|a| matches!(a, AstNode::Placeholder))
}

/// Renames the builtin calls `call(name, args)` accepts to their host function
/// (`cxsync <name>`), and turns a builtin used as a value, which `value(name)` gives an arity,
/// into [`guarded_lambda`]. A name the expression binds itself stays its own.
///
/// A call that may leave the builtin's context parameter unfilled (`s.$substring(1, 2)`) is
/// handed the context first, to `cxsync with context <name>` ([`register_guarded`]), except on
/// the right of `~>`, where the left side is the first argument.
fn rewrite_builtins(
    ast: &mut AstNode,
    bound: &BTreeSet<String>,
    call: impl Fn(&str, &[AstNode]) -> bool,
    value: impl Fn(&str) -> Option<usize>,
) {
    let piped = piped_calls(ast);
    visit_mut(ast, &mut |n| match n {
        AstNode::Function {
            name,
            args,
            is_builtin: true,
        } if !bound.contains(name.as_str()) && call(name, args) => {
            let here = &*n as *const AstNode;
            let AstNode::Function { name, args, .. } = n else {
                unreachable!("matched above")
            };
            let with_context = !piped.contains(&here)
                && Signature::of(name).is_some_and(|s| s.may_take_context(args.len()));
            if with_context {
                args.insert(0, AstNode::Variable(String::new()));
                *name = with_context_name(name);
            } else {
                *name = guarded_name(name);
            }
        }
        AstNode::Variable(v) if !bound.contains(v.as_str()) => {
            if let Some(arity) = value(v) {
                *n = guarded_lambda(v, arity);
            }
        }
        _ => {}
    });
}

/// `function($a0, …) { cxsync <builtin>($a0, …) }`: a rewritten builtin used as a value, with
/// `arity` parameters.
fn guarded_lambda(builtin: &str, arity: usize) -> AstNode {
    let params: Vec<String> = (0..arity).map(|i| format!("a{i}")).collect();
    let args = params.iter().cloned().map(AstNode::Variable).collect();
    AstNode::Lambda {
        params,
        body: Box::new(AstNode::Function {
            name: guarded_name(builtin),
            args,
            is_builtin: true,
        }),
        signature: None,
        thunk: false,
    }
}

/// The host function around an arithmetic operand ([`guard_arithmetic`]).
const NAN_OPERAND: &str = "cxsync operand";
/// The host function around the operand of a unary minus ([`guard_arithmetic`]).
const NEGATED: &str = "cxsync negated";

/// jsonata-js checks every arithmetic operand with `isNumeric`: NaN (from `2 % 0`, `0/0`) is
/// not a number there (T2001/T2002 for `+ - * / %`, D1002 for a unary minus) and Infinity
/// raises D1001; jsonata-core computes on with NaN and negates both. So each operand of
/// `+ - * / %` that may be NaN goes through `cxsync operand`, which turns NaN into `false`
/// (the engine then raises jsonata-js's T2001/T2002 for that side, with its message), and the
/// operand of `-x` through `cxsync negated` (D1002 for NaN, D1001 for ±Infinity). Literals and
/// plain field paths are never NaN (JSON has no NaN) and stay as they are; so is a call of the
/// expression's own function (wrapped, each level of a recursion like `$n * $f($n - 1)` would
/// count twice against the depth limit): a NaN a lambda returns meets jsonata-core's arithmetic
/// (null), a known gap.
fn guard_arithmetic(ast: &mut AstNode, bound: &BTreeSet<String>) {
    let may_be_nan = |n: &AstNode| -> bool {
        match n {
            AstNode::Number(_) | AstNode::String(_) | AstNode::Name(_) => false,
            AstNode::Function { name, .. } if bound.contains(name.as_str()) => false,
            AstNode::Call { .. } => false,
            AstNode::Path { steps } => !steps
                .iter()
                .all(|s| matches!(s.node, AstNode::Name(_)) && s.stages.is_empty()),
            _ => true,
        }
    };
    fn wrap(n: &mut AstNode, name: &str) {
        let inner = std::mem::replace(n, AstNode::Null);
        *n = AstNode::Function {
            name: name.to_string(),
            args: vec![inner],
            is_builtin: true,
        };
    }
    visit_mut(ast, &mut |n| match n {
        AstNode::Binary {
            op:
                BinaryOp::Add
                | BinaryOp::Subtract
                | BinaryOp::Multiply
                | BinaryOp::Divide
                | BinaryOp::Modulo,
            lhs,
            rhs,
        } => {
            for side in [lhs, rhs] {
                if may_be_nan(side) {
                    wrap(side, NAN_OPERAND);
                }
            }
        }
        AstNode::Unary {
            op: UnaryOp::Negate,
            operand,
        } if may_be_nan(operand) => wrap(operand, NEGATED),
        _ => {}
    });
}

fn register_arithmetic_guards(ev: &mut Evaluator) {
    ev.register_fn(NAN_OPERAND, |args: &[JValue]| match args {
        [JValue::Number(x)] if x.is_nan() => Ok(JValue::Bool(false)),
        [v] => Ok(v.clone()),
        _ => Ok(JValue::Undefined),
    })
    .expect("the guard's name is not a builtin");
    ev.register_fn(NEGATED, |args: &[JValue]| match args {
        [JValue::Number(x)] if x.is_nan() => Err(EvaluatorError::EvaluationError(
            "D1002: Cannot negate a non-numeric value: null".to_string(),
        )),
        [JValue::Number(x)] if x.is_infinite() => Err(EvaluatorError::EvaluationError(
            "D1001: Number out of range: null".to_string(),
        )),
        [v] => Ok(v.clone()),
        _ => Ok(JValue::Undefined),
    })
    .expect("the guard's name is not a builtin");
}

/// Whether `text` holds `\uD800`–`\uDFFF` (a surrogate escape, paired or not).
fn has_surrogate_escape(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(3).any(|w| {
        w[0] == b'u'
            && matches!(w[1], b'd' | b'D')
            && matches!(w[2], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    }) && b.windows(2).any(|w| w == b"\\u")
}

/// The builtins that take the context as their argument when called without one (jsonata-js's
/// `-` in their signature: `$trim()` on a string input) whose context call the engine does not
/// answer as jsonata-js does: host functions receive no context, and the engine's own
/// `$uppercase()` answers a context of another type with T0410 where jsonata-js says T0411.
const CONTEXT_BUILTINS: &[&str] = &[
    "base64decode",
    "base64encode",
    "clone",
    "decodeUrl",
    "decodeUrlComponent",
    "encodeUrl",
    "encodeUrlComponent",
    "formatBase",
    "lowercase",
    "number",
    "trim",
    "uppercase",
];

/// The host function a context call `$name()` of [`CONTEXT_BUILTINS`] becomes.
fn context_name(builtin: &str) -> String {
    format!("cxsync context {builtin}")
}

/// `$name()` → `cxsync context name($)` for the [`CONTEXT_BUILTINS`]: host functions receive
/// no context, so the call passes it, as jsonata-js does. Not a name the expression binds, and
/// not the right side of `~>` (where the left side is the argument).
fn rewrite_context_calls(ast: &mut AstNode, bound: &BTreeSet<String>) {
    let piped = piped_calls(ast);
    visit_mut(ast, &mut |n| {
        let here = n as *const AstNode;
        if let AstNode::Function {
            name,
            args,
            is_builtin: true,
        } = n
        {
            if args.is_empty()
                && CONTEXT_BUILTINS.contains(&name.as_str())
                && !bound.contains(name.as_str())
                && !piped.contains(&here)
            {
                *name = context_name(name);
                args.push(AstNode::Variable(String::new()));
            }
        }
    });
}

/// The right sides of `~>` in `ast` (by address; valid until the tree changes shape).
fn piped_calls(ast: &mut AstNode) -> BTreeSet<*const AstNode> {
    let mut piped = BTreeSet::new();
    visit_mut(ast, &mut |n| {
        if let AstNode::Binary {
            op: BinaryOp::ChainPipe,
            rhs,
            ..
        } = n
        {
            piped.insert(&**rhs as *const AstNode);
        }
    });
    piped
}

/// The host functions of [`rewrite_context_calls`]: the builtin on the context, and jsonata-js's
/// T0411 where the context is not of its type.
fn register_context_builtins(ev: &mut Evaluator) {
    for &builtin in CONTEXT_BUILTINS {
        let original = placeholder_call(builtin, 1).expect("a builtin call parses");
        ev.register_fn(context_name(builtin), move |args: &[JValue]| {
            let out = if REPLACED.contains(&builtin) {
                js_string_builtin(builtin, args)
            } else {
                call(&original, args)
            };
            out.map_err(|e| match e {
                EvaluatorError::TypeError(m) if m.starts_with("T0410") => {
                    EvaluatorError::TypeError(format!(
                        "T0411: Context value is not a compatible type with argument 1 of \
                         function \"{builtin}\""
                    ))
                }
                e => e,
            })
        })
        .expect("the context builtins' names are not builtins");
    }
}

/// `$now()`'s format in jsonata-js: ISO 8601 with milliseconds, UTC, `Z`.
fn iso_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Replaces every `$contains`/`$split`/`$replace`/`$match` call whose pattern is a regex
/// literal by a call of a host function that holds the regex compiled (see [`RegexCall`]). A
/// call with a placeholder, the context form (too few arguments), a name the expression binds
/// itself, or a regex that does not compile is left as it is.
fn rewrite_regex_calls(ast: &mut AstNode, bound: &BTreeSet<String>) -> Vec<RegexCall> {
    let mut calls = Vec::new();
    visit_mut(ast, &mut |n| {
        let AstNode::Function {
            name,
            args,
            is_builtin: true,
        } = n
        else {
            return;
        };
        let Some((f, min, max)) = super::compiled::RegexFn::named(name) else {
            return;
        };
        if bound.contains(name.as_str())
            || args.len() < min
            || args.len() > max
            || args.iter().any(|a| matches!(a, AstNode::Placeholder))
            // A replacement that may be a function runs in the expression's own evaluator
            // (its variables, `$$`, the frozen clock, the guards): the call stays the engine's.
            || (f == super::compiled::RegexFn::Replace && !is_data(&args[2]))
        {
            return;
        }
        let AstNode::Regex { pattern, flags } = &args[1] else {
            return;
        };
        // The pattern is translated already (above).
        let Ok(re) = super::regex::compile_translated(pattern, flags) else {
            return;
        };
        let Some(original) = over_placeholders(name, args.len(), &args[1]) else {
            return;
        };
        let host = format!("cxsync regex {}", calls.len());
        calls.push(RegexCall {
            name: host.clone(),
            f,
            re,
            original,
        });
        let mut rest = std::mem::take(args);
        rest.remove(1);
        *n = AstNode::Function {
            name: host,
            args: rest,
            is_builtin: true,
        };
    });
    calls
}

/// Whether `node` can only evaluate to data, never to a function: a literal, `&`, arithmetic,
/// or a path over the input that starts with a field name.
fn is_data(node: &AstNode) -> bool {
    use jsonata_core::ast::BinaryOp as B;
    match node {
        AstNode::String(_) | AstNode::Number(_) | AstNode::Boolean(_) | AstNode::Null => true,
        AstNode::Binary { op, .. } => matches!(
            op,
            B::Concatenate | B::Add | B::Subtract | B::Multiply | B::Divide | B::Modulo
        ),
        AstNode::Path { steps } => steps
            .first()
            .is_some_and(|s| matches!(s.node, AstNode::Name(_))),
        _ => false,
    }
}

/// `$name(a0, <regex>, a1, …)`: the call over its arguments' values, read from the data.
fn over_placeholders(name: &str, argc: usize, regex: &AstNode) -> Option<AstNode> {
    let mut call = placeholder_call(name, argc.checked_sub(1)?)?;
    let AstNode::Function { args, .. } = &mut call else {
        return None;
    };
    if args.is_empty() {
        return None;
    }
    args.insert(1, regex.clone());
    Some(call)
}

thread_local! {
    /// The evaluator for single builtin calls made outside an evaluation (no host functions,
    /// no bindings).
    static CALLS: RefCell<Option<Evaluator>> = const { RefCell::new(None) };
}

/// Evaluates `ast`, a builtin call over `a0`, `a1`, …, against `{"a0": args[0], …}` (an
/// undefined argument is absent): the engine's own result or error for those arguments.
pub(super) fn call(ast: &AstNode, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let mut data = IndexMap::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        if !a.is_undefined() {
            data.insert(format!("a{i}"), a.clone());
        }
    }
    let data = JValue::object(data);
    CALLS.with(|cell| {
        // Taken out while evaluating: a panic drops it instead of leaving it half-used.
        let mut ev = cell.borrow_mut().take().unwrap_or_else(|| {
            // Single builtin calls neither recurse nor build long sequences; the limits are a
            // backstop.
            let options = EvaluatorOptions {
                timeout_ms: None,
                cancel: None,
                max_stack_depth: Some(1_000),
                max_sequence_length: Some(1_000_000),
            };
            let mut ev = Evaluator::with_options(Context::new(), options);
            register_js_builtins(&mut ev);
            ev
        });
        let out = ev.evaluate(ast, &data);
        *cell.borrow_mut() = Some(ev);
        out
    })
}

/// The names the expression binds itself (`$now := …`, lambda parameters): a call of one of
/// them is the user's function, not the builtin, and is never rewritten. (Read through the one
/// walker of the tree, which allows changes; nothing is changed here.)
fn bound_variables(ast: &mut AstNode) -> BTreeSet<String> {
    let mut bound = BTreeSet::new();
    visit_mut(ast, &mut |n| match n {
        AstNode::Binary {
            op: jsonata_core::ast::BinaryOp::ColonEqual,
            lhs,
            ..
        } => {
            if let AstNode::Variable(v) = lhs.as_ref() {
                bound.insert(v.clone());
            }
        }
        AstNode::Lambda { params, .. } => bound.extend(params.iter().cloned()),
        _ => {}
    });
    bound
}

/// `$now(picture[, tz])` → `$fromMillis($millis(), picture[, tz])`, its definition in jsonata-js.
fn rewrite_now_with_arguments(node: &mut AstNode) {
    visit_mut(node, &mut |n| {
        if let AstNode::Function {
            name,
            args,
            is_builtin,
        } = n
        {
            if name == "now" && !args.is_empty() {
                let mut new_args = vec![AstNode::Function {
                    name: "millis".to_string(),
                    args: Vec::new(),
                    is_builtin: *is_builtin,
                }];
                new_args.append(args);
                *name = "fromMillis".to_string();
                *args = new_args;
            }
        }
    });
}

/// `$string(x, …)` → `$string($__cxsync_sized(x), …)` and `$pad(s, w, …)` →
/// `$pad(s, $__cxsync_width(w), …)`: both builtins can build a value far past the output budget in
/// one call, where no engine limit is checked, so their inputs are checked first. The values
/// pass through unchanged, so the result is the builtin's own. `$distinct(x)` →
/// `cxsync distinct(x)`: jsonata-core compares each item with every kept one (300,000 items
/// took minutes); the host function is the compiled path's linear one. A transform that binds
/// its own `$string`, `$pad` or `$distinct` keeps its calls as written.
fn guard_builtins(node: &mut AstNode, bound: &BTreeSet<String>) {
    let guard_string = !bound.contains("string");
    let guard_pad = !bound.contains("pad");
    let guard_distinct = !bound.contains("distinct");
    visit_mut(node, &mut |n| {
        if let AstNode::Function {
            name,
            args,
            is_builtin: true,
        } = n
        {
            if name == "distinct" && guard_distinct && args.len() == 1 {
                *name = guarded_name("distinct");
                return;
            }
            let (slot, guard) = match name.as_str() {
                "string" if guard_string => (0, SIZED),
                "pad" if guard_pad => (1, WIDTH),
                _ => return,
            };
            if let Some(arg) = args.get_mut(slot) {
                let inner = std::mem::replace(arg, AstNode::Null);
                *arg = AstNode::Function {
                    name: guard.to_string(),
                    args: vec![inner],
                    is_builtin: true,
                };
            }
        }
    });
}

/// `$split(s, sep, limit)` → `$split(s, sep, cxsync split limit(sep, limit))` (`sep` is
/// evaluated twice; a separator is a string or a regex, so that is cheap): the engine floors
/// the limit where jsonata-js reads it as JavaScript's `split` (string) or its own match loop
/// (regex, function) does. A regex literal's call then runs the compiled path's `$split`
/// with that limit ([`rewrite_regex_calls`]).
fn guard_split_limit(ast: &mut AstNode, bound: &BTreeSet<String>) {
    if bound.contains("split") {
        return;
    }
    visit_mut(ast, &mut |n| {
        if let AstNode::Function {
            name,
            args,
            is_builtin: true,
        } = n
        {
            if name == "split" && args.len() == 3 && !has_placeholder(args) {
                let limit = std::mem::replace(&mut args[2], AstNode::Null);
                args[2] = AstNode::Function {
                    name: SPLIT_LIMIT.to_string(),
                    args: vec![args[1].clone(), limit],
                    is_builtin: true,
                };
            }
        }
    });
}

/// Wraps every object the engine builds whose keys may be out of JavaScript's order in
/// [`ORDERED`]: an object constructor with a key that is not a literal, or is an array index
/// (`{"b": 1, "1": 2}`, `{k: v}`), every grouping (`items{k: v}`), and `$merge(…)`. jsonata-js
/// keeps an object's array-index keys first, ascending (`crate::jsjson::js_order`); the engine
/// keeps insertion order, so without this `$keys`, `$each`, `$spread`, `$string` and the
/// result would list `"b"` before `"1"`. Constructors with literal keys only (the shape of
/// CRM mappings) are left as they are, and so are the engine's fast paths for them. An
/// object the transform operator (`|…|…|`) returns is ordered only where it is printed.
fn order_objects(ast: &mut AstNode, bound: &BTreeSet<String>) {
    let literal =
        |k: &AstNode| matches!(k, AstNode::String(s) if crate::jsjson::array_index(s).is_none());
    let mut wrapped: BTreeSet<*const AstNode> = BTreeSet::new();
    visit_mut(ast, &mut |n| {
        if wrapped.contains(&(n as *const AstNode)) {
            return;
        }
        let merge = |n: &AstNode| {
            matches!(n, AstNode::Function { name, is_builtin: true, .. }
                if name == "merge" && !bound.contains("merge"))
        };
        // `x ~> $merge(…)` and `x ~> $merge` are wrapped whole: the left side is the argument.
        let piped = match n {
            AstNode::Binary {
                op: BinaryOp::ChainPipe,
                rhs,
                ..
            } => {
                merge(rhs)
                    || matches!(&**rhs, AstNode::Variable(v) if v == "merge" && !bound.contains("merge"))
            }
            _ => false,
        };
        let wrap = piped
            || match &*n {
                AstNode::Object(pairs) => !pairs.iter().all(|(k, _)| literal(k)),
                AstNode::ObjectTransform { .. } => true,
                other => merge(other),
            };
        if wrap {
            let inner = std::mem::replace(n, AstNode::Null);
            *n = AstNode::Function {
                name: ORDERED.to_string(),
                args: vec![inner],
                is_builtin: true,
            };
            if let AstNode::Function { args, .. } = n {
                // The argument's place in the new node's vector, visited next: not again.
                wrapped.insert(&args[0] as *const AstNode);
                if let AstNode::Binary { rhs, .. } = &args[0] {
                    wrapped.insert(&**rhs as *const AstNode);
                }
            }
        }
    });
}

/// The builtins [`guard_units`] checks, as the pattern builtins the compiled path names.
const UNIT_BUILTINS: [&str; 4] = ["contains", "match", "replace", "split"];

/// The host function of [`guard_units`] for `builtin`; `piped` for a call on the right of `~>`.
fn units_name(builtin: &str, piped: bool) -> String {
    let form = if piped { " piped" } else { "" };
    format!("cxsync units{form} {builtin}")
}

/// `$split(a0, a1, …)` → `$split(cxsync units split($, a0, a1, …), a1, …)`, and
/// `x ~> $split(a0, …)` → `x ~> $split(cxsync units piped split(x, a0, …), …)`, the same for
/// `$contains`, `$match` and `$replace`: the calls [`rewrite_regex_calls`] left to the engine
/// (a regex passed as a value, the context form `s.$replace(/./, "*")`, a string pattern). The
/// host function gives `a0` back unchanged, after refusing what jsonata-js answers in UTF-16
/// units on text with a character beyond U+FFFF: a regex that is not
/// [`super::regex::astral_safe`] (`REGEX_UTF16_UNITS`, as for a literal), and `$split` with an
/// empty separator (`SPLIT_UTF16_UNITS`). The other arguments (and the left side of `~>`) are
/// evaluated twice; only these calls pay it. Left unchecked: such a builtin passed as a value
/// (`$f := $split`) or with a placeholder (`$replace(?, /./, "*")`).
fn guard_units(ast: &mut AstNode, bound: &BTreeSet<String>) {
    let guarded = |n: &AstNode| match n {
        AstNode::Function {
            name,
            args,
            is_builtin: true,
        } => {
            UNIT_BUILTINS.contains(&name.as_str())
                && !bound.contains(name.as_str())
                && !args.is_empty()
                && !has_placeholder(args)
        }
        _ => false,
    };
    let wrap = |call: &mut AstNode, subject: AstNode, piped: bool| {
        if let AstNode::Function { name, args, .. } = call {
            let mut guard_args = vec![subject, std::mem::replace(&mut args[0], AstNode::Null)];
            guard_args.extend(args[1..].iter().cloned());
            args[0] = AstNode::Function {
                name: units_name(name, piped),
                args: guard_args,
                is_builtin: true,
            };
        }
    };
    let mut piped: BTreeSet<*const AstNode> = BTreeSet::new();
    visit_mut(ast, &mut |n| match n {
        AstNode::Binary {
            op: BinaryOp::ChainPipe,
            lhs,
            rhs,
        } => {
            if guarded(rhs) {
                wrap(rhs, (**lhs).clone(), true);
            }
            piped.insert(&**rhs as *const AstNode);
        }
        n if guarded(n) && !piped.contains(&(n as *const AstNode)) => {
            wrap(n, AstNode::Variable(String::new()), false);
        }
        _ => {}
    });
}

/// The host functions of [`guard_units`]: `(context, a0, a1, …)` → `a0`, or the refusal. The
/// call is read as jsonata-js reads it: `a0` the subject where it is a string and `a1` a
/// pattern (a string or a regex), else the context form (the context the subject, `a0` the
/// pattern); on the right of `~>` always the latter, the left side in the context's place.
fn register_units_guards(ev: &mut Evaluator) {
    use super::regex::{astral_refusal, astral_safe, has_astral, split_units_refusal, Use};
    for builtin in UNIT_BUILTINS {
        for piped in [false, true] {
            ev.register_fn(units_name(builtin, piped), move |args: &[JValue]| {
                let given = args.get(1).cloned().unwrap_or(JValue::Undefined);
                let is_pattern = |v: &JValue| matches!(v, JValue::String(_) | JValue::Regex { .. });
                let (subject, rest) = match (args.get(1), args.get(2)) {
                    (Some(JValue::String(s)), Some(p)) if !piped && is_pattern(p) => {
                        (s, &args[2..])
                    }
                    _ => match args.first() {
                        Some(JValue::String(s)) => (s, &args[1..]),
                        _ => return Ok(given),
                    },
                };
                if !has_astral(subject) {
                    return Ok(given);
                }
                let use_ = match (builtin, rest.get(1)) {
                    ("contains", _) => Use::Contains,
                    ("split", _) => Use::Split,
                    ("match", _) => Use::Match,
                    (_, Some(JValue::String(r))) if r.is_empty() => Use::Delete,
                    _ => Use::Replace,
                };
                match rest.first() {
                    Some(JValue::Regex { pattern, .. }) if !astral_safe(pattern, use_) => {
                        Err(EvaluatorError::EvaluationError(astral_refusal()))
                    }
                    Some(JValue::String(p)) if p.is_empty() && builtin == "split" => {
                        Err(EvaluatorError::EvaluationError(split_units_refusal()))
                    }
                    _ => Ok(given),
                }
            })
            .expect("the guard's name is not a builtin");
        }
    }
}

/// The host function a guarded builtin's calls are rewritten to: `cxsync <name>`, with a space
/// no expression can write.
fn guarded_name(builtin: &str) -> String {
    format!("cxsync {builtin}")
}

/// The host function a guarded builtin's calls that may take the context are rewritten to,
/// handed the context first ([`rewrite_builtins`]).
fn with_context_name(builtin: &str) -> String {
    format!("cxsync with context {builtin}")
}

/// Registers `f` as the host function of `builtin`'s rewritten calls (`cxsync <name>`) and,
/// where the builtin takes the context, `cxsync with context <name>`: handed the context and
/// the arguments, it calls `f` with the context in the first parameter where the arguments
/// leave it unfilled ([`Signature::resolve`], jsonata-js's rule and its T0411).
fn register_guarded(
    ev: &mut Evaluator,
    builtin: &str,
    f: impl Fn(&[JValue]) -> Result<JValue, EvaluatorError> + 'static,
) {
    let f = Rc::new(f);
    if let Some(sig) = Signature::of(builtin) {
        let g = Rc::clone(&f);
        ev.register_fn(with_context_name(builtin), move |args: &[JValue]| {
            let Some((context, args)) = args.split_first() else {
                return g(args);
            };
            match sig.resolve(context, args)? {
                Resolved::WithContext(full) => g(&full),
                Resolved::AsSupplied => g(args),
            }
        })
        .expect("the host function's name is not a builtin");
    }
    ev.register_fn(guarded_name(builtin), move |args: &[JValue]| f(args))
        .expect("the host function's name is not a builtin");
}

/// The builtins whose calls [`guard_numbers`] rewrites, with their most arguments.
const GUARDED: &[(&str, usize)] = &[
    ("round", 2),
    ("formatInteger", 2),
    ("formatNumber", 3),
    ("fromMillis", 3),
];

/// `$round(x, n)` → `cxsync round(x, n)` (jsonata-js's rounding, [`numbers::js_round`]), and
/// `$round` as a value → `function($a0, $a1) { cxsync round($a0, $a1) }` (arity 2, as in
/// jsonata-js); `$formatInteger`, `$formatNumber` and `$fromMillis` calls → `cxsync <name>(…)`,
/// which refuses the numbers jsonata-core answers wrongly ([`numbers::Guard`]) and otherwise
/// evaluates the builtin. Calls with a placeholder or with no arguments (the context form)
/// stay the engine's, as do all of a name the expression binds itself.
///
/// [`numbers::js_round`]: super::numbers::js_round
/// [`numbers::Guard`]: super::numbers::Guard
fn guard_numbers(ast: &mut AstNode, bound: &BTreeSet<String>) {
    rewrite_builtins(
        ast,
        bound,
        |name, args| {
            GUARDED.iter().any(|&(g, max)| {
                g == name && !args.is_empty() && args.len() <= max && !has_placeholder(args)
            })
        },
        |v| (v == "round").then_some(2),
    );
}

/// The host functions of [`guard_numbers`]. Where they do not decide, the builtin itself runs
/// on the same values (over `a0`, `a1`, …), so its results and errors are the engine's.
fn register_number_guards(ev: &mut Evaluator, max_output_bytes: usize) {
    for &(builtin, max) in GUARDED {
        let originals: Vec<AstNode> = (0..=max)
            .map(|argc| placeholder_call(builtin, argc).expect("a builtin call parses"))
            .collect();
        let guard = super::numbers::Guard::named(builtin);
        register_guarded(ev, builtin, move |args: &[JValue]| {
            let original = originals.get(args.len()).ok_or_else(|| {
                EvaluatorError::EvaluationError(format!("T0410: too many arguments for ${builtin}"))
            })?;
            if let (Some(super::numbers::Guard::FromMillis), Some(JValue::String(tz))) =
                (guard, args.get(2))
            {
                if let Some(why) = super::numbers::timezone_refusal(tz) {
                    return Err(EvaluatorError::EvaluationError(why));
                }
            }
            let mut args = std::borrow::Cow::Borrowed(args);
            let number = match args.first() {
                Some(JValue::Number(x)) => Some(*x),
                _ => None,
            };
            if let (Some(g), Some(x)) = (guard, number) {
                if g.argument(x) != x {
                    args.to_mut()[0] = JValue::Number(g.argument(x));
                }
            }
            match (guard, number) {
                (None, Some(x)) => match args.get(1) {
                    None | Some(JValue::Undefined) => {
                        return Ok(JValue::Number(super::numbers::js_round(x, 0.0)))
                    }
                    Some(JValue::Number(p)) => {
                        return Ok(JValue::Number(super::numbers::js_round(x, *p)))
                    }
                    _ => {}
                },
                (Some(g), Some(x)) => {
                    let picture = match args.get(1) {
                        Some(JValue::String(p)) => Some(&**p),
                        _ => None,
                    };
                    if let Some(why) = g.refusal(x, picture, max_output_bytes) {
                        return Err(EvaluatorError::EvaluationError(why));
                    }
                }
                _ => {}
            }
            call(original, &args)
        });
    }
}

/// The builtin calls jsonata-core answers otherwise than jsonata-js and that the engine path
/// rewrites to a host function of [`register_js_builtins`] (by name and argument count).
const JS_CALLS: &[(&str, usize)] = &[("toMillis", 1), ("substring", 2), ("substring", 3)];

/// [`placeholder_call`], calling jsonata-js's definition where the engine's differs
/// ([`JS_CALLS`]): what the compiled path's engine calls evaluate.
pub(super) fn js_call(name: &str, argc: usize) -> Option<AstNode> {
    let mut ast = placeholder_call(name, argc)?;
    if JS_CALLS.contains(&(name, argc)) {
        if let AstNode::Function { name: n, .. } = &mut ast {
            *n = guarded_name(name);
        }
    }
    Some(ast)
}

/// `$toMillis(s)` → `cxsync toMillis(s)` ([`JS_CALLS`]); not a name the expression binds.
fn rewrite_js_calls(ast: &mut AstNode, bound: &BTreeSet<String>) {
    rewrite_builtins(
        ast,
        bound,
        |name, args| JS_CALLS.contains(&(name, args.len())) && !has_placeholder(args),
        |_| None,
    );
}

/// `$name(a0, a1, …)` with `argc` arguments, evaluated by [`call`] over argument values.
pub(super) fn placeholder_call(name: &str, argc: usize) -> Option<AstNode> {
    let args: Vec<String> = (0..argc).map(|i| format!("a{i}")).collect();
    jsonata_core::parser::parse(&format!("${name}({})", args.join(", "))).ok()
}

fn budget_error(e: OutputTooLarge) -> EvaluatorError {
    let t = TransformError::from(e);
    EvaluatorError::EvaluationError(format!("{OUTPUT_TOO_LARGE}: {}", t.message))
}

/// Calls `f` on every node of the tree, parents first, allowing changes.
fn visit_mut(node: &mut AstNode, f: &mut dyn FnMut(&mut AstNode)) {
    f(node);
    match node {
        AstNode::Path { steps } => {
            for s in steps {
                visit_mut(&mut s.node, f);
                for st in &mut s.stages {
                    if let Stage::Filter(e) = st {
                        visit_mut(e, f);
                    }
                }
            }
        }
        AstNode::Binary { lhs, rhs, .. } => {
            visit_mut(lhs, f);
            visit_mut(rhs, f);
        }
        AstNode::Unary { operand, .. } => visit_mut(operand, f),
        AstNode::Function { args, .. } => args.iter_mut().for_each(|a| visit_mut(a, f)),
        AstNode::Call { procedure, args } => {
            visit_mut(procedure, f);
            args.iter_mut().for_each(|a| visit_mut(a, f));
        }
        AstNode::Lambda { body, .. } => visit_mut(body, f),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter_mut().for_each(|a| visit_mut(a, f))
        }
        AstNode::Object(pairs) => {
            for (k, v) in pairs {
                visit_mut(k, f);
                visit_mut(v, f);
            }
        }
        AstNode::ObjectTransform { input, pattern } => {
            visit_mut(input, f);
            for (k, v) in pattern {
                visit_mut(k, f);
                visit_mut(v, f);
            }
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => {
            visit_mut(condition, f);
            visit_mut(then_branch, f);
            if let Some(e) = else_branch {
                visit_mut(e, f);
            }
        }
        AstNode::FunctionApplication(inner) => visit_mut(inner, f),
        AstNode::Sort { input, terms } => {
            visit_mut(input, f);
            terms.iter_mut().for_each(|(t, _)| visit_mut(t, f));
        }
        AstNode::Transform {
            location,
            update,
            delete,
        } => {
            visit_mut(location, f);
            visit_mut(update, f);
            if let Some(d) = delete {
                visit_mut(d, f);
            }
        }
        _ => {}
    }
}

/// serde_json → engine value, walking the tree.
pub(super) fn to_jvalue(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            // Input arrays are flat when they hold no array (the engine's flattening rule).
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(jsonata_core::value::JArray::new_flat(
                items.iter().map(to_jvalue).collect(),
                flat,
            ))
        }
        Value::Object(map) => {
            // In JavaScript's property order, as `JSON.parse` gives jsonata-js the event.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            crate::jsjson::js_order(&mut entries, |e| e.0);
            let m: IndexMap<String, JValue> = entries
                .into_iter()
                .map(|(k, v)| (k.clone(), to_jvalue(v)))
                .collect();
            JValue::object(m)
        }
    }
}

/// Whether JSON text may hold an object key that is an array index (`"12":`): then its
/// objects are put in JavaScript's order after parsing ([`js_ordered`]). A scan of the bytes,
/// never a false negative (a false positive costs one walk).
fn may_have_index_key(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(q) = b[i..].iter().position(|&c| c == b'"') {
        let start = i + q + 1;
        let mut j = start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > start && b.get(j) == Some(&b'"') {
            let mut k = j + 1;
            while b
                .get(k)
                .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            {
                k += 1;
            }
            if b.get(k) == Some(&b':') {
                return true;
            }
        }
        i = start;
        if i >= b.len() {
            break;
        }
    }
    false
}

/// `v` with every object in JavaScript's property order ([`crate::jsjson::js_order`]); shared
/// where nothing moves.
fn js_ordered(v: &JValue) -> JValue {
    match v {
        JValue::Array(items) => {
            let flat = items.iter().all(|x| !matches!(x, JValue::Array(_)));
            JValue::Array(jsonata_core::value::JArray::new_flat(
                items.iter().map(js_ordered).collect(),
                flat,
            ))
        }
        JValue::Object(map) => {
            let mut entries: Vec<(&String, &JValue)> = map.iter().collect();
            crate::jsjson::js_order(&mut entries, |e| e.0);
            JValue::object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), js_ordered(v)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// An object's entries as they are printed: JavaScript's property order (array-index keys
/// first; [`crate::jsjson::js_order`]), absent values left out. Objects the engine builds keep
/// its insertion order; the order is decided here, in the walk that charges the budget, so no
/// value is walked twice (and nothing is allocated for an object in order already).
fn printed_entries(
    map: &jsonata_core::value::JMap,
) -> impl Iterator<Item = (&String, &JValue)> + '_ {
    let sorted = (!crate::jsjson::in_js_order(map.keys().map(String::as_str))).then(|| {
        let mut entries: Vec<(&String, &JValue)> = map.iter().collect();
        crate::jsjson::js_order(&mut entries, |e| e.0);
        entries
    });
    let (a, b) = match sorted {
        Some(v) => (None, Some(v.into_iter())),
        None => (Some(map.iter()), None),
    };
    a.into_iter()
        .flatten()
        .chain(b.into_iter().flatten())
        .filter(|(_, v)| !is_absent(v))
}

/// Whether `v` is left out of an object (and `null` in an array), as `JSON.stringify` does.
fn is_absent(v: &JValue) -> bool {
    !matches!(
        v,
        JValue::Null
            | JValue::Bool(_)
            | JValue::Number(_)
            | JValue::String(_)
            | JValue::Array(_)
            | JValue::Object(_)
    )
}

/// Charges the budget for `v` exactly as [`from_jvalue`] and [`write_json`] do, building nothing.
pub(super) fn measure(v: &JValue, b: &mut OutputBudget) -> Result<(), OutputTooLarge> {
    match v {
        JValue::String(s) => b.charge_str(s),
        // An absent item is written as `null`: the node `charge_array` charges for every item.
        JValue::Array(items) => b.charge_array(items.iter(), measure),
        JValue::Object(map) => b.charge_object(map.iter().filter(|(_, v)| !is_absent(v)), measure),
        v if is_absent(v) => Ok(()),
        _ => b.charge_node(),
    }
}

/// Engine value → serde_json, as `JSON.stringify` would print it: undefined is `None` at the top,
/// dropped from objects and `null` in arrays; functions likewise; whole numbers are integers.
/// Stops at the budget (charged as [`measure`] does).
pub(super) fn from_jvalue(
    v: &JValue,
    b: &mut OutputBudget,
) -> Result<Option<Value>, OutputTooLarge> {
    Ok(Some(match v {
        JValue::Null => {
            b.charge_node()?;
            Value::Null
        }
        JValue::Bool(x) => {
            b.charge_node()?;
            Value::Bool(*x)
        }
        JValue::Number(n) => {
            b.charge_node()?;
            number(*n)
        }
        JValue::String(s) => {
            b.charge_str(s)?;
            Value::String(s.to_string())
        }
        JValue::Array(items) => {
            b.enter()?;
            let mut out = Vec::with_capacity(items.len().min(1024));
            for i in items.iter() {
                b.charge_node()?;
                out.push(from_jvalue(i, b)?.unwrap_or(Value::Null));
            }
            b.leave();
            Value::Array(out)
        }
        JValue::Object(map) => {
            b.enter()?;
            let mut out = serde_json::Map::new();
            for (k, v) in printed_entries(map) {
                b.charge_str(k)?;
                if let Some(v) = from_jvalue(v, b)? {
                    out.insert(k.clone(), v);
                }
            }
            b.leave();
            Value::Object(out)
        }
        _ => return Ok(None),
    }))
}

/// Writes `v` as compact JSON text as jsonata-js's `JSON.stringify` prints it (numbers included:
/// `0.000001`, `1e+21`), the same text [`super::json::to_compact`] gives for `from_jvalue(v)`.
/// Returns false (writing nothing) for a top-level undefined. Stops at the budget (charged as
/// [`measure`] does).
pub(super) fn write_json(
    v: &JValue,
    out: &mut Vec<u8>,
    b: &mut OutputBudget,
) -> Result<bool, OutputTooLarge> {
    match v {
        JValue::Null => {
            b.charge_node()?;
            out.extend_from_slice(b"null")
        }
        JValue::Bool(x) => {
            b.charge_node()?;
            out.extend_from_slice(if *x { b"true" } else { b"false" })
        }
        JValue::Number(n) if n.is_finite() => {
            b.charge_node()?;
            let mut text = String::new();
            super::json::push_number(*n, &mut text);
            out.extend_from_slice(text.as_bytes());
        }
        JValue::Number(_) => {
            b.charge_node()?;
            out.extend_from_slice(b"null")
        }
        JValue::String(s) => {
            b.charge_str(s)?;
            let _ = serde_json::to_writer(&mut *out, s.as_ref());
        }
        JValue::Array(items) => {
            b.enter()?;
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                b.charge_node()?;
                if i > 0 {
                    out.push(b',');
                }
                if !write_json(item, out, b)? {
                    out.extend_from_slice(b"null");
                }
            }
            out.push(b']');
            b.leave();
        }
        JValue::Object(map) => {
            b.enter()?;
            out.push(b'{');
            let mut first = true;
            for (k, v) in printed_entries(map) {
                b.charge_str(k)?;
                if !first {
                    out.push(b',');
                }
                first = false;
                let _ = serde_json::to_writer(&mut *out, k.as_str());
                out.push(b':');
                write_json(v, out, b)?;
            }
            out.push(b'}');
            b.leave();
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A JSON number from an f64: whole values below 2^64 in magnitude become integers (`3`, not `3.0`).
pub(super) fn number(n: f64) -> Value {
    // Whole numbers are JSON integers wherever one holds them (below 2^64), so every writer of
    // the value (snapshots, DLQ records, the request body) prints the digits `JSON.stringify`
    // prints, `1234567890123456800`, not serde_json's `1.2345678901234568e18` (tester #49).
    // Beyond 2^53 the integer is the one JavaScript prints, its shortest round-trip digits
    // padded with zeros (`12345678901234567000`), not the double's exact value
    // (`12345678901234567168`): the same double, and the digits jsonata-js sends.
    const I64: f64 = 9_223_372_036_854_775_808.0; // 2^63
    const U64: f64 = 18_446_744_073_709_551_616.0; // 2^64
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        Value::from(n as i64)
    } else if n.fract() == 0.0 && n.abs() < I64 {
        Value::from(format!("{n}").parse::<i64>().unwrap_or(n as i64))
    } else if n.fract() == 0.0 && n > 0.0 && n < U64 {
        Value::from(format!("{n}").parse::<u64>().unwrap_or(n as u64))
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Splits a leading `X1234: ` JSONata code off a message.
pub(super) fn split_code(msg: &str) -> (Option<String>, String) {
    // The code may follow a prefix such as "Parse error: ".
    let bytes = msg.as_bytes();
    for start in 0..bytes.len().min(40) {
        let b = &bytes[start..];
        if b.len() >= 6
            && b[0].is_ascii_uppercase()
            && b[1..5].iter().all(u8::is_ascii_digit)
            && b[5] == b':'
            && (start == 0 || !bytes[start - 1].is_ascii_alphanumeric())
        {
            let code = msg[start..start + 5].to_string();
            let rest = msg[start + 6..].trim_start().to_string();
            return (Some(code), rest);
        }
    }
    (None, msg.to_string())
}

fn parse_error(e: &jsonata_core::parser::ParserError) -> TransformError {
    let (code, message) = split_code(&e.to_string());
    let code = code.or_else(|| match e {
        // jsonata-js's code for an unterminated comment; the engine leaves it uncoded.
        jsonata_core::parser::ParserError::UnclosedComment => Some("S0106".to_string()),
        _ => None,
    });
    TransformError {
        // The engine's parser leaves some syntax errors uncoded; S0201 is JSONata's generic one.
        code: Some(code.unwrap_or_else(|| "S0201".to_string())),
        message,
        offset: None,
    }
}

fn eval_error(e: &EvaluatorError) -> TransformError {
    for named in [
        OUTPUT_TOO_LARGE,
        super::regex::UTF16_UNITS,
        super::regex::SPLIT_UTF16_UNITS,
        super::numbers::TIMEZONE_NOT_A_NUMBER,
    ] {
        if let Some(rest) = e
            .message()
            .strip_prefix(named)
            .and_then(|r| r.strip_prefix(": "))
        {
            return TransformError {
                code: Some(named.to_string()),
                message: rest.to_string(),
                offset: None,
            };
        }
    }
    let (code, message) = split_code(e.message());
    TransformError {
        code,
        message,
        offset: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn big() -> OutputBudget {
        OutputBudget::new(usize::MAX, "the result")
    }

    /// The linear `$distinct` both paths use gives jsonata-core's own answer (which compares
    /// every pair) on arrays of every kind of item, duplicates in every form deep equality sees.
    #[test]
    fn the_linear_distinct_gives_the_engines_answer() {
        let original = placeholder_call("distinct", 1).unwrap();
        let cases = [
            json!([1, 1.0, -0.0, 0, "1", true, 1, null, null, false, "a", "a"]),
            json!([{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1}, {"a": 1, "b": [2]}, {"b": 2, "a": 1}]),
            json!([[1, 2], [2, 1], [1, 2], [], [], [[]], [[]], {}, {}]),
            json!([{"k": {"x": [1, {"y": 2}]}}, {"k": {"x": [1, {"y": 2}]}}, {"k": {"x": [1, {"y": 3}]}}]),
            json!(["b", "a", "b"]),
            json!([7]),
            json!([]),
        ];
        for case in cases {
            let jv = to_jvalue(&case);
            let ours = super::super::compiled::distinct(&jv).unwrap_or_else(|| jv.clone());
            let engine = call(&original, &[jv]).unwrap();
            assert_eq!(
                from_jvalue(&ours, &mut big()).unwrap(),
                from_jvalue(&engine, &mut big()).unwrap(),
                "{case}"
            );
        }
    }

    #[test]
    fn split_code_finds_the_code_after_a_prefix() {
        assert_eq!(
            split_code("T2001: left side"),
            (Some("T2001".into()), "left side".into())
        );
        assert_eq!(
            split_code("Parse error: S0202: Expected"),
            (Some("S0202".into()), "Expected".into())
        );
        assert_eq!(split_code("no code here"), (None, "no code here".into()));
    }

    #[test]
    fn conversion_round_trips_json() {
        let v = json!({"a": [1, 2.5, null, true, "x", {"b": []}], "c": -0.0, "big": 1e300});
        let back = from_jvalue(&to_jvalue(&v), &mut big()).unwrap().unwrap();
        assert_eq!(back["a"], json!([1, 2.5, null, true, "x", {"b": []}]));
        assert_eq!(back["big"], json!(1e300));
    }

    #[test]
    fn written_json_text_equals_the_converted_value() {
        let v = json!({"a": [1, 2.5, null, true, "x\"é\n", {"b": []}], "c": -0.0, "big": 1e300,
                       "n": 9007199254740993_u64, "e": {}});
        let jv = to_jvalue(&v);
        let mut buf = Vec::new();
        assert!(write_json(&jv, &mut buf, &mut big()).unwrap());
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            super::super::json::to_compact(&from_jvalue(&jv, &mut big()).unwrap().unwrap())
        );
        // Undefined members vanish from objects and become null in arrays, as in from_jvalue.
        let mut m = IndexMap::new();
        m.insert("u".to_string(), JValue::Undefined);
        m.insert(
            "k".to_string(),
            JValue::Array(vec![JValue::Undefined].into()),
        );
        m.insert("w".to_string(), JValue::Undefined);
        let jv = JValue::object(m);
        let mut buf = Vec::new();
        assert!(write_json(&jv, &mut buf, &mut big()).unwrap());
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            from_jvalue(&jv, &mut big()).unwrap().unwrap().to_string()
        );
        assert_eq!(
            from_jvalue(&jv, &mut big()).unwrap().unwrap().to_string(),
            r#"{"k":[null]}"#
        );
    }

    fn count_regex_nodes(ast: &AstNode) -> usize {
        let mut n = 0;
        visit_mut(&mut ast.clone(), &mut |x| {
            if matches!(x, AstNode::Regex { .. }) {
                n += 1;
            }
        });
        n
    }

    #[test]
    fn regex_literal_calls_hold_their_regex_compiled() {
        let c = Compiled::new(
            "{'a': $replace(x, /[^0-9+]/, ''), 'b': $match(x, /(\\w+) (\\w+)/, 2), 'c': $contains(x, /a/i), 'd': $split(x, /,\\s*/)}",
            Limits::default(),
        )
        .unwrap();
        assert_eq!(c.regex_calls.len(), 4);
        assert_eq!(count_regex_nodes(&c.ast), 0);
        // Left alone: the context form, a placeholder, a name the expression binds, a regex the
        // engine cannot compile, a replacement that may be a function.
        for text in [
            "x.$replace(/a/, 'b')",
            "$replace(x, /a/, function($m) { $m.match })",
            "($f := function($m) { 'b' }; $replace(x, /a/, $f))",
            "$replace(?, /a/, 'b')",
            "($replace := function($a, $b, $c) { 1 }; $replace(x, /a/, 'b'))",
            "$replace(x, /(?=a)/, 'b')",
        ] {
            let c = Compiled::new(text, Limits::default()).unwrap();
            assert!(c.regex_calls.is_empty(), "{text}");
        }
    }

    #[test]
    fn every_regex_literal_has_javascripts_ascii_word_and_digit_classes() {
        let now = chrono::Utc::now();
        let d = json!({"x": "Łukasz Wałęsa", "p": "+49 ٣٤ 30"});
        // A rewritten call, the context form (left to the engine) and a regex held in a
        // variable all read `\w` and `\D` as jsonata-js does.
        for text in [
            "$replace(x, /(\\w+) (\\w+)/, '$2, $1')",
            "x.$replace(/(\\w+) (\\w+)/, '$2, $1')",
            "($r := /(\\w+) (\\w+)/; $replace(x, $r, '$2, $1'))",
        ] {
            let c = Compiled::new(text, Limits::default()).unwrap();
            assert_eq!(
                c.eval(Some(&d), now, None).unwrap(),
                Some(json!("ŁWa, ukaszłęsa")),
                "{text}"
            );
        }
        let c = Compiled::new("$replace(p, /\\D/, '')", Limits::default()).unwrap();
        assert_eq!(c.eval(Some(&d), now, None).unwrap(), Some(json!("4930")));
    }

    #[test]
    fn regex_host_functions_give_the_builtins_results_and_errors() {
        let now = chrono::Utc::now();
        let eval = |text: &str, data: Value| {
            Compiled::new(text, Limits::default())
                .unwrap()
                .eval(Some(&data), now, None)
        };
        let d = json!({"x": "Ada Lovelace, ORD-12 and ORD-345"});
        assert_eq!(
            eval("$replace(x, /(\\w+) (\\w+)/, '$2 $1')", d.clone()).unwrap(),
            Some(json!("Lovelace Ada, ORD-and 12 ORD-345"))
        );
        assert_eq!(
            eval("$match(x, /ORD-[0-9]+/).match", d.clone()).unwrap(),
            Some(json!(["ORD-12", "ORD-345"]))
        );
        // A replacement function is the engine's business, in the expression's own evaluator:
        // its variables, `$$`, the frozen clock and the guards are there.
        assert_eq!(
            eval(
                "($p := '#'; $replace(x, /ORD-/, function($m) { $m.match & $p & $$.y & $string($now()) }))",
                json!({"x": "ORD-1", "y": "!"})
            )
            .unwrap(),
            Some(json!(format!("ORD-#!{}1", iso_millis(now.timestamp_millis()))))
        );
        assert_eq!(
            eval(
                "$replace(x, /ORD-/, function($m) { $uppercase($m.match) & '#' })",
                d.clone()
            )
            .unwrap(),
            Some(json!("Ada Lovelace, ORD-#12 and ORD-#345"))
        );
        assert_eq!(eval("$replace(x, /a/, 'b')", json!({})).unwrap(), None);
        let e = eval("$replace(x, /a/, 'b')", json!({"x": 5})).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("T0410"), "{e}");
        let e = eval("$replace(x, /a/, 'b', -1)", d).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("D3011"), "{e}");
    }

    #[test]
    fn integral_floats_become_integers_within_2_pow_53() {
        assert_eq!(number(3.0).to_string(), "3");
        assert_eq!(number(9007199254740992.0).to_string(), "9007199254740992");
        assert_eq!(number(1e20).to_string(), "1e+20");
        // Beyond 2^53, JavaScript's digits (JSON.stringify in jsonata-js 2.2.2), in every writer.
        for (n, js) in [
            (12345678901234567890.0, "12345678901234567000"),
            (-9.2e18, "-9200000000000000000"),
            (1152921504606846976.0, "1152921504606847000"),
            (9007199254740994.0, "9007199254740994"),
        ] {
            assert_eq!(number(n).to_string(), js);
            assert_eq!(crate::transform::json::to_compact(&number(n)), js);
            assert_eq!(serde_json::from_str::<f64>(js).unwrap(), n);
        }
        assert_eq!(number(0.1).to_string(), "0.1");
        assert_eq!(number(f64::NAN), Value::Null);
    }
}
