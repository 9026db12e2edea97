//! Transforms: the only module that imports the JSONata engine (`jsonata-core`).
//!
//! The interface is small on purpose: compile once ([`Transform::compile`]), evaluate many times
//! ([`Transform::eval`]) with the clock handed in, so the same transform runs in `test`, `eval`,
//! lint and the simulator's virtual time. Every evaluation runs under [`Limits`] (a time budget,
//! a nesting depth and a sequence length), `$now()`/`$millis()` return the instant handed in, and
//! engine errors keep their JSONata code (`T2001`, `S0202`, `D3001`, …) in
//! [`TransformError::code`].
//!
//! Below the interface: `engine` adapts `jsonata-core` (value conversion without a JSON text
//! round-trip, the frozen clock, limits, error codes); `compiled` is cxsync's own evaluator for
//! the JSONata that CRM mappings are made of, lowered from `syntax`'s tree, which gives the
//! engine's result or declines (then the engine runs); `regex` compiles regex literals once;
//! `json` prints results as jsonata-js does; `runner` and `snapshot` are `cxsync test`.

pub mod checks;
mod compiled;
mod engine;
pub mod json;
pub mod position;
pub mod regex;
pub mod runner;
pub mod snapshot;
pub mod syntax;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use engine::Bindings;

/// The instant `$now()` returns when nothing else is given: `cxsync test` without `test.now` in
/// the spec and without `--now`. Fixed so that snapshots never depend on the wall clock.
pub const DEFAULT_NOW: &str = "2024-01-01T00:00:00Z";

/// Parses an RFC 3339 instant (`--now`, `test.now`).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 instant ({e}); e.g. 2024-01-15T14:00:00Z")
        })
}

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

/// Resource limits applied to every evaluation.
///
/// The engine enforces all three itself (`jsonata-core`'s `EvaluatorOptions`): the time budget
/// is checked at every expression node and in every loop (error `D1012`), the depth at every
/// nested evaluation (`D1011`), the sequence length in every map, filter, range and wildcard
/// (`D2015`). Evaluation runs on the calling thread; the budget stops it, nothing is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation, in milliseconds. `None` means no budget.
    pub time_budget_ms: Option<u64>,
    /// Deepest nesting of evaluations (recursion), like jsonata-js's `stack` option.
    pub max_depth: usize,
    /// Longest sequence an evaluation may build.
    pub max_sequence: usize,
}

impl Default for Limits {
    /// 1 s, depth 1,000, 1,000,000 items: far above any CRM mapping, low enough that a runaway
    /// recursion or `[1..1e9]` fails fast instead of hanging `cxsync test` or the simulator.
    fn default() -> Self {
        Limits {
            time_budget_ms: Some(1_000),
            max_depth: 1_000,
            max_sequence: 1_000_000,
        }
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
}

impl Transform {
    /// Parses and compiles `text` with the default [`Limits`].
    pub fn compile(text: &str) -> Result<Transform, TransformError> {
        Self::compile_with_limits(text, Limits::default())
    }

    /// Parses and compiles `text` with the given limits.
    pub fn compile_with_limits(text: &str, limits: Limits) -> Result<Transform, TransformError> {
        let inner = engine::Compiled::new(text, limits).map_err(|mut e| {
            // The engine's parser reports no positions; our own parser does.
            if let Err(syntax) = syntax::analyse(text) {
                e.offset = Some(syntax.start);
            }
            e
        })?;
        let compiled = compiled::Program::compile(text, limits);
        Ok(Transform { inner, compiled })
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
        let inner = engine::Compiled::new(text, limits)?;
        Ok(Transform {
            inner,
            compiled: None,
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
            return compiled::or_engine(c.try_eval(Some(event), now, None), || {
                self.inner.eval(Some(event), now, None)
            });
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
            return compiled::or_engine(c.try_eval(event, now, Some(bindings)), || {
                self.inner.eval(event, now, Some(bindings))
            });
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
            return compiled::or_engine(c.try_eval_json_text(event_json, now), || {
                self.inner.eval_json_text(event_json, now)
            });
        }
        self.inner.eval_json_text(event_json, now)
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
        };
        let t = Transform::compile_with_limits(
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
}
