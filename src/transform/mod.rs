//! Transforms: the only module that imports the JSONata engine (`jsonata-core`).
//!
//! The interface is small on purpose: compile once ([`Transform::compile`]), evaluate many times
//! ([`Transform::eval`]) with the clock handed in, so the same transform runs in `test`, `eval`,
//! lint and the simulator's virtual time. Every evaluation runs under [`Limits`] (a time budget,
//! a nesting depth, a sequence length and an output size, all in `limits`), `$now()`/`$millis()`
//! return the instant handed in, and engine errors keep their JSONata code (`T2001`, `S0202`,
//! `D3001`, …) in [`TransformError::code`]. A panic inside the engine is caught and becomes an
//! [`limits::ENGINE_DEFECT`] error.
//!
//! Below the interface: `engine` adapts `jsonata-core` (value conversion without a JSON text
//! round-trip, the frozen clock, limits, error codes); `compiled` is cxsync's own evaluator for
//! the JSONata that CRM mappings are made of, lowered from `syntax`'s tree, which gives the
//! engine's result or declines (then the engine runs); `regex` compiles regex literals once;
//! `json` prints results as jsonata-js does; `runner` and `snapshot` are `cxsync test`.

pub mod checks;
mod compiled;
mod context;
pub mod dates;
mod engine;
pub mod json;
pub mod limits;
pub mod locate;
pub mod numbers;
pub mod position;
pub mod regex;
pub mod runner;
pub mod snapshot;
pub mod strings;
pub mod syntax;
pub mod transformed;
mod uri;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use engine::Bindings;
pub use limits::Limits;

/// The instant `$now()` returns when nothing else is given: `cxsync test` without `test.now` in
/// the spec and without `--now`. Fixed so that snapshots never depend on the wall clock.
pub const DEFAULT_NOW: &str = "2024-01-01T00:00:00Z";

/// Parses an RFC 3339 instant (`--now`, `test.now`, a scenario's `start`); see
/// [`crate::spec::parse_instant`].
pub use crate::spec::parse_instant;

/// [`DEFAULT_NOW`] as an instant.
pub fn default_now() -> DateTime<Utc> {
    parse_instant(DEFAULT_NOW).expect("DEFAULT_NOW is RFC 3339")
}

/// A transform that failed to compile or evaluate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.display())]
pub struct TransformError {
    /// The engine's error code (e.g. `T2001`, `S0201`), when it gave one.
    pub code: Option<String>,
    /// The engine's message without its code prefix.
    pub message: String,
    /// Character offset in the expression text, when known.
    pub offset: Option<usize>,
}

impl TransformError {
    fn display(&self) -> String {
        match &self.code {
            Some(c) => format!("{c}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// The error as one line with its code, e.g. `T2001: The left side of the "-" operator …`.
    pub fn to_line(&self) -> String {
        self.display()
    }
}

/// A compiled JSONata expression: compile once, evaluate many times.
///
/// `Transform` is `Send + Sync`; the engine's per-thread evaluator state is cached inside
/// `engine`, so evaluating the same transform again on one thread reuses its compiled steps.
#[derive(Debug)]
pub struct Transform {
    inner: engine::Compiled,
    compiled: Option<compiled::Program>,
    limits: Limits,
}

impl Transform {
    /// Parses and compiles `text` with the default [`Limits`].
    pub fn compile(text: &str) -> Result<Transform, TransformError> {
        Self::compile_with_limits(text, Limits::default())
    }

    /// Parses and compiles `text` with the given limits.
    pub fn compile_with_limits(text: &str, limits: Limits) -> Result<Transform, TransformError> {
        let ours = bounded_syntax(text)?;
        let inner = engine::Compiled::new(text, limits).map_err(|mut e| {
            // The engine's parser reports no positions; our own parser does.
            if let Err(syntax) = &ours {
                e.offset = Some(syntax.start);
            }
            e
        })?;
        let compiled = compiled::Program::compile(text, limits);
        Ok(Transform {
            inner,
            compiled,
            limits,
        })
    }

    /// Like [`Transform::compile`] but never takes the compiled path (for comparisons and
    /// benches).
    pub fn compile_engine_only(text: &str) -> Result<Transform, TransformError> {
        Self::compile_engine_only_with_limits(text, Limits::default())
    }

    /// [`Transform::compile_engine_only`] with the given limits.
    pub fn compile_engine_only_with_limits(
        text: &str,
        limits: Limits,
    ) -> Result<Transform, TransformError> {
        // Only the depth refusal matters here; the engine words other syntax errors.
        let _ = bounded_syntax(text)?;
        let inner = engine::Compiled::new(text, limits)?;
        Ok(Transform {
            inner,
            compiled: None,
            limits,
        })
    }

    /// Whether evaluations take the compiled path (the engine still decides any evaluation the
    /// compiled path declines).
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// Evaluates against one event with `$now()`/`$millis()` frozen at `now`. `Ok(None)` is
    /// JSONata's undefined result.
    pub fn eval(&self, event: &Value, now: DateTime<Utc>) -> Result<Option<Value>, TransformError> {
        if let Some(c) = &self.compiled {
            let out = self.within_budget(c.try_eval(Some(event), now, None));
            return compiled::or_engine(out, || self.inner.eval(Some(event), now, None));
        }
        self.inner.eval(Some(event), now, None)
    }

    /// Evaluates with extra `$name` bindings (JSON values), as the official test suite needs.
    /// `None` input is JSONata's undefined input (a case without data).
    pub fn eval_with_bindings(
        &self,
        event: Option<&Value>,
        now: DateTime<Utc>,
        bindings: &Bindings,
    ) -> Result<Option<Value>, TransformError> {
        if let Some(c) = &self.compiled {
            let out = self.within_budget(c.try_eval(event, now, Some(bindings)));
            return compiled::or_engine(out, || self.inner.eval(event, now, Some(bindings)));
        }
        self.inner.eval(event, now, Some(bindings))
    }

    /// The compiled path's result alone: `None` when the transform is not compiled or the
    /// compiled path declined this evaluation (the engine would decide it). For the
    /// differential tests that hold the compiled path to the engine's results.
    #[doc(hidden)]
    pub fn eval_compiled_only(
        &self,
        event: Option<&Value>,
        now: DateTime<Utc>,
        bindings: &Bindings,
    ) -> Option<Option<Value>> {
        let b = (!bindings.is_empty()).then_some(bindings);
        self.compiled.as_ref()?.try_eval(event, now, b).ok()
    }

    /// [`Transform::eval_compiled_only`] for JSON text.
    #[doc(hidden)]
    pub fn eval_json_text_compiled_only(
        &self,
        event_json: &str,
        now: DateTime<Utc>,
    ) -> Option<Option<String>> {
        self.compiled
            .as_ref()?
            .try_eval_json_text(event_json, now)
            .ok()
    }

    /// Evaluates JSON text and returns compact JSON text (`None` when undefined): the end-to-end
    /// path of a delivery pipeline, which never needs a `serde_json::Value` of the event.
    pub fn eval_json_text(
        &self,
        event_json: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, TransformError> {
        if let Some(c) = &self.compiled {
            // The text is at least as long as the budget's measure of it: within the budget by
            // length is within it by measure; longer, the engine decides.
            let out = c.try_eval_json_text(event_json, now).and_then(|t| {
                let fits = t
                    .as_ref()
                    .is_none_or(|t| t.len() <= self.limits.max_output_bytes);
                fits.then_some(t).ok_or(compiled::Decline::Engine)
            });
            return compiled::or_engine(out, || self.inner.eval_json_text(event_json, now));
        }
        self.inner.eval_json_text(event_json, now)
    }

    /// A compiled-path output within the output budget; the engine decides (and reports) one that
    /// is not.
    fn within_budget(&self, out: compiled::Tried<Option<Value>>) -> compiled::Tried<Option<Value>> {
        let v = out?;
        let mut b = limits::OutputBudget::new(self.limits.max_output_bytes, "the result");
        match &v {
            Some(x) if limits::measure_json(x, &mut b).is_err() => Err(compiled::Decline::Engine),
            _ => Ok(v),
        }
    }
}

/// Runs cxsync's own parser before any engine sees `text`: an expression deeper than
/// [`limits::MAX_EXPRESSION_DEPTH`] is refused here. Otherwise the height of the tree, or our
/// syntax error for its position (the engine still decides, and words, syntax errors).
type Syntax = Result<usize, syntax::SyntaxError>;

fn bounded_syntax(text: &str) -> Result<Syntax, TransformError> {
    match syntax::parse(text) {
        Ok(tree) => match regex::refusals(&tree).into_iter().next() {
            Some((start, _, why)) => Err(TransformError {
                code: Some(regex::JS_ONLY.to_string()),
                message: format!("regex literal with {why}"),
                offset: Some(start),
            }),
            None => Ok(Ok(tree.height)),
        },
        // jsonata-js refuses a regex literal with unbalanced brackets (`/]/`, `/x{/`) as
        // unterminated, where jsonata-core reads it (and then fails on every call).
        Err(e) if e.code == syntax::TOO_DEEP || e.code == "S0302" => Err(TransformError {
            code: Some(e.code),
            message: e.message,
            offset: Some(e.start),
        }),
        Err(e) => Ok(Err(e)),
    }
}

/// An output larger than the configured maximum payload (the guide's edge case 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "PAYLOAD_TOO_LARGE: payload is {size} bytes; the limit (crm.maxPayloadBytes) is {limit} bytes"
)]
pub struct PayloadTooLarge {
    /// Size of the compact JSON serialisation, in bytes.
    pub size: usize,
    /// The limit, in bytes.
    pub limit: u64,
}

impl PayloadTooLarge {
    /// The stable code reported for this failure.
    pub const CODE: &'static str = "PAYLOAD_TOO_LARGE";
}

/// The size of `payload` as the CRM receives it (compact JSON, UTF-8 bytes), or
/// [`PayloadTooLarge`] when it exceeds `limit`. Used by `cxsync test` and the simulator.
pub fn guard_size(payload: &Value, limit: u64) -> Result<usize, PayloadTooLarge> {
    let size = compact_size(payload);
    if size as u64 > limit {
        Err(PayloadTooLarge { size, limit })
    } else {
        Ok(size)
    }
}

/// Bytes of the compact JSON serialisation of `v`, counted without building the text.
pub fn compact_size(v: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    // Writing a Value to an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_instant("2024-01-15T14:00:00Z").unwrap()
    }

    fn eval(expr: &str, data: Value) -> Result<Option<Value>, TransformError> {
        Transform::compile(expr).unwrap().eval(&data, now())
    }

    /// `expr` on both paths: the compiled one (where it compiles) and the engine's.
    fn both(expr: &str, data: Value) -> Vec<Result<Option<Value>, TransformError>> {
        vec![
            Transform::compile(expr).unwrap().eval(&data, now()),
            Transform::compile_engine_only(expr)
                .unwrap()
                .eval(&data, now()),
        ]
    }

    #[test]
    fn url_functions_encode_as_jsonata_js() {
        // jsonata-js 2.2.2's answers (tester #52).
        for (expr, want) in [
            (
                "$encodeUrl('https://ex.com/a b')",
                json!("https://ex.com/a%20b"),
            ),
            (
                "$encodeUrl('a\"b<c>d`e{f}|g\\\\h^i')",
                json!("a%22b%3Cc%3Ed%60e%7Bf%7D%7Cg%5Ch%5Ei"),
            ),
            ("$encodeUrl('100%')", json!("100%25")),
            (
                "$encodeUrlComponent('?x=1&y=ä#z')",
                json!("%3Fx%3D1%26y%3D%C3%A4%23z"),
            ),
            ("$decodeUrl('%2F%41%C3%A9')", json!("%2FAé")),
            ("$decodeUrlComponent('%2F%41%C3%A9')", json!("/Aé")),
        ] {
            for got in both(expr, json!({})) {
                assert_eq!(got, Ok(Some(want.clone())), "{expr}");
            }
        }
        for expr in [
            "$decodeUrl('%')",
            "$decodeUrlComponent('%E9')",
            "$decodeUrl(s)",
        ] {
            for got in both(expr, json!({"s": "100%"})) {
                assert_eq!(got.unwrap_err().code.as_deref(), Some("D3140"), "{expr}");
            }
        }
        for got in both("$encodeUrl(nothing)", json!({})) {
            assert_eq!(got, Ok(None));
        }
    }

    #[test]
    fn clone_is_a_deep_copy_as_in_jsonata_js() {
        for got in both("$clone(a)", json!({"a": {"b": [1, {"c": 0.5}], "d": null}})) {
            assert_eq!(got, Ok(Some(json!({"b": [1, {"c": 0.5}], "d": null}))));
        }
        for got in both("$clone(a)", json!({"a": 1})) {
            assert_eq!(got.unwrap_err().code.as_deref(), Some("T0410"));
        }
        for got in both("$clone(nothing)", json!({})) {
            assert_eq!(got, Ok(None));
        }
    }

    #[test]
    fn random_and_shuffle_are_refused_with_the_reason() {
        for expr in ["$random()", "$shuffle([1, 2, 3])", "{'x': $random() < 1}"] {
            for got in both(expr, json!({})) {
                let e = got.unwrap_err();
                assert_eq!(e.code.as_deref(), Some("T1006"), "{expr}");
                assert!(
                    e.message.contains("same output for the same event"),
                    "{e:?}"
                );
            }
        }
    }

    #[test]
    fn distinct_is_linear_on_both_paths() {
        // 300,000 items took minutes when each was compared with every kept one (tester #47).
        for (expr, want) in [
            ("$count($distinct([1..300000]))", json!(300000)),
            (
                "$count($distinct($append([1..150000], [1..150000])))",
                json!(150000),
            ),
            (
                "$distinct([1..3000].{'k': $ % 3})",
                json!([{"k": 1}, {"k": 2}, {"k": 0}]),
            ),
        ] {
            for got in both(expr, json!({})) {
                assert_eq!(got, Ok(Some(want.clone())), "{expr}");
            }
        }
    }

    #[test]
    fn merge_and_group_by_are_linear_in_the_number_of_keys() {
        // 100,000 keys searched one by one ran for minutes (tester #104).
        let t = Transform::compile(
            "{'m': $count($keys($merge([1..100000].{$string($): $}))), \
              'g': $count($keys([1..100000]{$string($ % 50000): $})), \
              'last': $merge([{'a': 1, 'b': 2}, {'a': 3}]), 'grp': [1, 2, 3]{$string($ % 2): $}}",
        )
        .unwrap();
        assert!(t.is_compiled());
        assert_eq!(
            t.eval(&json!({}), now()),
            Ok(Some(
                json!({"m": 100000, "g": 50000, "last": {"a": 3, "b": 2}, "grp": {"1": [1, 3], "0": 2}})
            ))
        );
    }

    #[test]
    fn transforms_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Transform>();
        let t = std::sync::Arc::new(Transform::compile("{'n': $millis(), 'x': x}").unwrap());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let t = std::sync::Arc::clone(&t);
                std::thread::spawn(move || {
                    let at = DateTime::<Utc>::from_timestamp_millis(i * 1000).unwrap();
                    t.eval(&json!({"x": i}), at).unwrap()
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), Some(json!({"n": i * 1000, "x": i})));
        }
    }

    #[test]
    fn the_clock_of_one_evaluation_does_not_leak_into_the_next() {
        // Engine path, same thread, cached evaluator.
        let t = Transform::compile_engine_only("$millis() + $count(a[$ > 0])").unwrap();
        for ms in [5_i64, 1_000, 7] {
            let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            assert_eq!(t.eval(&json!({"a": [1]}), at).unwrap(), Some(json!(ms + 1)));
        }
    }

    #[test]
    fn now_and_millis_are_frozen_at_the_given_instant() {
        let out = eval("{'n': $now(), 'm': $millis()}", json!({})).unwrap();
        assert_eq!(
            out,
            Some(json!({"n": "2024-01-15T14:00:00.000Z", "m": 1705327200000_i64}))
        );
    }

    #[test]
    fn now_with_a_picture_formats_the_frozen_instant() {
        let out = eval("$now('[Y0001]-[M01]-[D01]')", json!({})).unwrap();
        assert_eq!(out, Some(json!("2024-01-15")));
    }

    #[test]
    fn integers_stay_integers() {
        let out = eval(
            "{'a': 2 * 3, 'b': 7 / 2, 'c': id}",
            json!({"id": 918273645}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&out.unwrap()).unwrap(),
            r#"{"a":6,"b":3.5,"c":918273645}"#
        );
    }

    #[test]
    fn undefined_is_none_and_null_is_null() {
        assert_eq!(eval("missing", json!({})).unwrap(), None);
        assert_eq!(eval("null", json!({})).unwrap(), Some(Value::Null));
    }

    #[test]
    fn evaluation_errors_keep_the_engine_code() {
        let e = eval("'s' - 1", json!({})).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("T2001"));
        assert!(e.to_string().starts_with("T2001: "), "{e}");
    }

    #[test]
    fn syntax_errors_keep_the_engine_code() {
        let e = Transform::compile("{'a': }").unwrap_err();
        assert!(
            e.code.as_deref().is_some_and(|c| c.starts_with('S')),
            "{e:?}"
        );
    }

    #[test]
    fn runaway_recursion_is_stopped_by_the_depth_limit() {
        let e = eval("($f := function($n) { $n + $f($n + 1) }; $f(0))", json!({})).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("D1011"), "{e}");
    }

    #[test]
    fn huge_sequences_are_stopped_by_the_sequence_limit() {
        let e = eval("$count([1..100000000].($ * 2))", json!({})).unwrap_err();
        assert!(
            matches!(e.code.as_deref(), Some("D2015") | Some("D2014")),
            "{e}"
        );
    }

    #[test]
    fn a_long_loop_is_stopped_by_the_time_budget() {
        let limits = Limits {
            time_budget_ms: Some(50),
            max_depth: 1_000,
            max_sequence: usize::MAX,
            ..Limits::default()
        };
        // The engine's guard (the compiled path counts steps instead, STEP_BUDGET_EXCEEDED).
        let t = Transform::compile_engine_only_with_limits(
            "$reduce([1..5000000], function($a, $x) { $a + $x }, 0)",
            limits,
        )
        .unwrap();
        let e = t.eval(&json!({}), now()).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("D1012"), "{e}");
    }

    #[test]
    fn guard_size_counts_compact_bytes_and_names_size_and_limit() {
        let v = json!({"a": "é"});
        assert_eq!(compact_size(&v), r#"{"a":"é"}"#.len());
        assert_eq!(guard_size(&v, 100), Ok(10));
        let e = guard_size(&v, 5).unwrap_err();
        assert_eq!(e, PayloadTooLarge { size: 10, limit: 5 });
        assert!(e
            .to_string()
            .starts_with("PAYLOAD_TOO_LARGE: payload is 10 bytes"));
    }

    #[test]
    fn bindings_are_visible_as_variables() {
        let t = Transform::compile("$x + a").unwrap();
        let mut b = Bindings::new();
        b.insert("x".into(), json!(2));
        assert_eq!(
            t.eval_with_bindings(Some(&json!({"a": 3})), now(), &b)
                .unwrap(),
            Some(json!(5))
        );
    }

    #[test]
    fn json_text_path_agrees_with_value_path() {
        let t = Transform::compile("{'id': $string(i.id), 'd': i.b - i.a}").unwrap();
        let ev = json!({"i": {"id": 7, "a": 1000, "b": 2500}});
        let v = t.eval(&ev, now()).unwrap().unwrap();
        let s = t.eval_json_text(&ev.to_string(), now()).unwrap().unwrap();
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
        assert_eq!(s, r#"{"id":"7","d":1500}"#);
    }
    fn chain(op: &str, n: usize) -> String {
        vec!["a"; n].join(op)
    }

    #[test]
    fn expressions_at_the_depth_limit_compile_and_run_on_a_small_stack() {
        let texts = vec![
            chain("+", 999),
            chain(".", 999),
            chain("&", 999),
            format!("{}1{}", "(".repeat(998), ")".repeat(998)),
            format!("{}a{}", "$string(".repeat(490), ")".repeat(490)),
            format!("{}1{}", "[".repeat(998), "]".repeat(998)),
        ];
        // Test threads have 2 MiB stacks, like tokio's workers.
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                for t in &texts {
                    // The engine may refuse some of these itself (U1002); none may crash.
                    if let Ok(tr) = Transform::compile(t) {
                        let _ = tr.eval(&json!({"a": {"a": 1}}), now());
                    }
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn deeper_expressions_and_chains_are_refused_before_the_engine_with_a_position() {
        for text in [
            chain("+", 4406),
            chain(".", 5000),
            format!("{}1{}", "(".repeat(5000), ")".repeat(5000)),
        ] {
            let e = Transform::compile(&text).unwrap_err();
            assert_eq!(e.code.as_deref(), Some(syntax::TOO_DEEP), "{e}");
            assert!(e.offset.is_some());
            assert!(syntax::analyse(&text).is_err());
        }
    }

    #[test]
    fn an_engine_panic_is_an_engine_defect_error_not_a_dead_process() {
        for text in [
            "$toMillis('1','[é]')",
            "$fromMillis(0,'[,]')",
            "$parseInteger('1', '٠')",
            "{\"a\": $now(\"[,]\")}",
        ] {
            let t = Transform::compile(text).unwrap();
            let e = t.eval(&json!({}), now()).unwrap_err();
            assert_eq!(
                e.code.as_deref(),
                Some(limits::ENGINE_DEFECT),
                "{text}: {e}"
            );
            // The evaluator is not reused in a broken state: a second run says the same.
            assert_eq!(t.eval(&json!({}), now()).unwrap_err(), e);
        }
    }

    #[test]
    fn values_past_the_output_budget_are_refused_on_every_path() {
        let doubled = "$reduce([1..40], function($a,$i){{'l':$a,'r':$a}}, 0)";
        for text in [
            doubled.to_string(),
            format!("$string({doubled})"),
            "$pad('x', 1e10)".to_string(),
            "$pad('x', -1e10, '-')".to_string(),
            "$reduce([1..1000], function($a,$i){{'l':$a}}, 0)".to_string(),
        ] {
            // No wall-clock guard: on a loaded machine it fired first (D1012) and the test
            // failed though the output budget was right. The budget alone must stop these.
            let limits = Limits {
                time_budget_ms: None,
                ..Limits::default()
            };
            let t = Transform::compile_with_limits(&text, limits).unwrap();
            let e = t.eval(&json!({}), now()).unwrap_err();
            assert_eq!(
                e.code.as_deref(),
                Some(limits::OUTPUT_TOO_LARGE),
                "{text}: {e}"
            );
            let e = t.eval_json_text("{}", now()).unwrap_err();
            assert_eq!(
                e.code.as_deref(),
                Some(limits::OUTPUT_TOO_LARGE),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn the_guarded_builtins_give_the_engines_own_results() {
        for (text, want) in [
            ("$pad('x', 5, '-')", json!("x----")),
            ("$pad('x', -3)", json!("  x")),
            ("$string({'a': [1, 2.5]})", json!("{\"a\":[1,2.5]}")),
            ("$string(1/3)", json!("0.333333333333333")),
            ("$string()", json!("{\"k\":1}")),
            (
                "($string := function($x){'mine'}; $string(1))",
                json!("mine"),
            ),
            ("$map([1, 2], $string)", json!(["1", "2"])),
        ] {
            assert_eq!(eval(text, json!({"k": 1})).unwrap(), Some(want), "{text}");
        }
    }

    #[test]
    fn a_small_budget_is_honoured() {
        let limits = Limits {
            max_output_bytes: 60,
            ..Limits::default()
        };
        let t =
            Transform::compile_with_limits("{'a': 'abcdefghijklmnopqrstuvwxyz'}", limits).unwrap();
        assert!(t.eval(&json!({}), now()).is_err());
        let t = Transform::compile_with_limits("{'a': 1}", limits).unwrap();
        assert_eq!(t.eval(&json!({}), now()).unwrap(), Some(json!({"a": 1})));
    }
}
