//! The limits every transform runs under, in one place. The engine adapter (`engine`) and the
//! compiled evaluator (`compiled`) read them from here, so a limit cannot hold on one path and
//! not on another.
//!
//! - **Expression depth** ([`MAX_EXPRESSION_DEPTH`]) is a property of the text: cxsync's own
//!   parser (`syntax`) measures the height of the syntax tree, long operator chains such as
//!   `1+1+…` and `a.a.….a` included, and [`super::Transform::compile`] refuses a deeper
//!   expression before any engine sees it.
//! - **Evaluation depth, sequence length and time** ([`Limits`]) are enforced by the engine at
//!   every node. The time budget is a wall-clock guard, so a result that depends on it is not
//!   deterministic; depth, sequence and output limits are.
//! - **Evaluation steps** ([`STEP_BUDGET_EXCEEDED`]) are counted by the compiled evaluator
//!   (`compiled::eval::STEP_BUDGET`): deterministic, and what bounds time for every transform the
//!   compiled path evaluates; the wall clock bounds only what the engine runs.
//! - **Output size** ([`Limits::max_output_bytes`], counted by [`OutputBudget`]) bounds what a
//!   transform may build: the result while it is converted or serialised (shared structure is
//!   counted at every place it appears, so `{"l": $a, "r": $a}` doubled 40 times is 2^40 nodes,
//!   not 40), the argument of `$string` and the width of `$pad`.

use super::TransformError;

/// Deepest syntax tree a transform may have (nesting and operator chains alike).
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// Largest value a transform may build, in bytes as [`OutputBudget`] counts them: room for
/// payloads of many megabytes of text (a transcript), and for about two million nodes of
/// structure, whose converted form takes a few hundred megabytes of memory.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 32 * 1024 * 1024;

/// What one scalar, array item or object entry costs in an [`OutputBudget`], besides its text:
/// about the memory it takes once converted, so structure cannot hide behind short JSON.
pub const NODE_COST: usize = 16;

/// Deepest value a transform may build: what every JSON reader in cxsync accepts
/// ([`crate::spec::json::MAX_JSON_DEPTH`], serde_json's recursion limit), so an output can be
/// delivered, dead-lettered and read back.
pub const MAX_OUTPUT_DEPTH: usize = crate::spec::json::MAX_JSON_DEPTH;

/// The code of an evaluation stopped by the wall-clock guard ([`Limits::time_budget_ms`]). A
/// result that depends on it depends on the machine's speed: the simulator refuses to give a
/// verdict then (a tool error naming the rule, the event and the seed) rather than dead-letter
/// the event.
pub const WALL_CLOCK_GUARD: &str = "D1012";

/// Whether `e` stopped at the wall-clock guard ([`WALL_CLOCK_GUARD`]): an outcome the machine's
/// speed decides. The one reading of it: the simulator stops without a verdict, and lint's
/// CX040 says so rather than "dead-lettered".
pub fn past_wall_clock_guard(e: &TransformError) -> bool {
    e.code.as_deref() == Some(WALL_CLOCK_GUARD)
}

/// The code of a transform stopped by its output budget.
pub const OUTPUT_TOO_LARGE: &str = "OUTPUT_TOO_LARGE";

/// The code of a compiled evaluation that took more steps than its budget (counted, not timed:
/// the same on every machine, so a verdict may rest on it, unlike [`WALL_CLOCK_GUARD`]).
pub const STEP_BUDGET_EXCEEDED: &str = "STEP_BUDGET_EXCEEDED";

/// The error of an evaluation stopped after `budget` steps.
pub fn step_budget_exceeded(budget: u64) -> TransformError {
    TransformError {
        code: Some(STEP_BUDGET_EXCEEDED.to_string()),
        message: format!(
            "the transform took more than {budget} evaluation steps (a CRM mapping takes a few \
             hundred): look for a loop over a large range, or recursion"
        ),
        offset: None,
    }
}

/// The code of a transform whose evaluation crashed inside the JSONata engine (a defect of the
/// engine, listed in docs/transforms.md): reported as an error, never a dead process.
pub const ENGINE_DEFECT: &str = "ENGINE_DEFECT";

/// Resource limits applied to every evaluation.
///
/// The engine enforces the first three itself (`jsonata-core`'s `EvaluatorOptions`): the time
/// budget is checked at every expression node and in every loop (error `D1012`), the depth at
/// every nested evaluation (`D1011`), the sequence length in every map, filter, range and
/// wildcard (`D2015`). cxsync enforces the output size ([`OUTPUT_TOO_LARGE`]). Evaluation runs on
/// the calling thread; the limits stop it, nothing is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation, in milliseconds. `None` means no budget.
    pub time_budget_ms: Option<u64>,
    /// Deepest nesting of evaluations (recursion), like jsonata-js's `stack` option.
    pub max_depth: usize,
    /// Longest sequence an evaluation may build.
    pub max_sequence: usize,
    /// Largest value an evaluation may build, in bytes as [`OutputBudget`] counts them.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    /// 1 s, depth 1,000, 1,000,000 items, 64 MiB: far above any CRM mapping, low enough that a
    /// runaway recursion, `[1..1e9]` or a doubling structure fails fast instead of hanging
    /// `cxsync test` or the simulator.
    fn default() -> Self {
        Limits {
            time_budget_ms: Some(1_000),
            max_depth: 1_000,
            max_sequence: 1_000_000,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// Which limit an error code says an evaluation hit (`D1012` → "time budget"), for messages
/// that name it; `None` for every other error.
pub fn limit_hit(code: &str) -> Option<&'static str> {
    match code {
        WALL_CLOCK_GUARD => Some("time budget"),
        "D1011" => Some("depth limit"),
        "D2014" | "D2015" => Some("sequence limit"),
        OUTPUT_TOO_LARGE => Some("output budget"),
        STEP_BUDGET_EXCEEDED => Some("step budget"),
        _ => None,
    }
}

/// A value too large (or too deep) for the output budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputTooLarge {
    /// The budget, in bytes.
    pub limit: usize,
    /// What was being measured.
    pub what: &'static str,
    /// Whether the nesting limit ([`MAX_OUTPUT_DEPTH`]) was hit rather than the size.
    pub too_deep: bool,
}

impl From<OutputTooLarge> for TransformError {
    fn from(e: OutputTooLarge) -> Self {
        let message = if e.too_deep {
            format!(
                "{} is nested deeper than {MAX_OUTPUT_DEPTH} levels, more than a JSON reader \
                 accepts",
                e.what
            )
        } else {
            let shared = if e.what.contains("width") {
                ""
            } else {
                " (shared parts count at every place they appear)"
            };
            format!(
                "{} is larger than the {} MiB a transform may build{shared}",
                e.what,
                e.limit / (1024 * 1024)
            )
        };
        TransformError {
            code: Some(OUTPUT_TOO_LARGE.to_string()),
            message,
            offset: None,
        }
    }
}

/// Counts the bytes of a value as it is walked, and stops the walk at the limit.
///
/// Every walker computes the measure the same way (strings and keys by their UTF-8 length,
/// each scalar, container, array item and object entry [`NODE_COST`]), so the value path and the
/// JSON-text path of a transform agree on what is too large. It is close to the memory a
/// converted value takes, and at most a few times its compact JSON. Shared structure is counted
/// at every visit: the walk is bounded by the limit, not by the size of the value in memory.
#[derive(Debug, Clone, Copy)]
pub struct OutputBudget {
    left: usize,
    limit: usize,
    depth: usize,
    what: &'static str,
}

impl OutputBudget {
    /// A budget of `limit` bytes for measuring `what` (used in the error message).
    pub fn new(limit: usize, what: &'static str) -> Self {
        OutputBudget {
            left: limit,
            limit,
            depth: 0,
            what,
        }
    }

    fn error(&self, too_deep: bool) -> OutputTooLarge {
        OutputTooLarge {
            limit: self.limit,
            what: self.what,
            too_deep,
        }
    }

    /// Enters an array or object (charging its brackets); an error past [`MAX_OUTPUT_DEPTH`].
    #[inline]
    pub fn enter(&mut self) -> Result<(), OutputTooLarge> {
        self.depth += 1;
        if self.depth > MAX_OUTPUT_DEPTH {
            return Err(self.error(true));
        }
        self.charge(NODE_COST)
    }

    /// Leaves an array or object.
    #[inline]
    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Charges `bytes`; an error once the total passes the limit.
    #[inline]
    pub fn charge(&mut self, bytes: usize) -> Result<(), OutputTooLarge> {
        match self.left.checked_sub(bytes) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => Err(self.error(false)),
        }
    }

    /// A string or key: its UTF-8 length and [`NODE_COST`].
    #[inline]
    pub fn charge_str(&mut self, s: &str) -> Result<(), OutputTooLarge> {
        self.charge(s.len().saturating_add(NODE_COST))
    }

    /// A scalar, an array item or an object entry.
    #[inline]
    pub fn charge_node(&mut self) -> Result<(), OutputTooLarge> {
        self.charge(NODE_COST)
    }

    /// Bytes charged so far.
    pub fn used(&self) -> usize {
        self.limit - self.left
    }

    /// An array: its brackets, a node per item, and each item as `each` measures it.
    #[inline]
    pub fn charge_array<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(T, &mut Self) -> Result<(), OutputTooLarge>,
    ) -> Result<(), OutputTooLarge> {
        self.enter()?;
        for i in items {
            self.charge_node()?;
            each(i, self)?;
        }
        self.leave();
        Ok(())
    }

    /// An object: its braces, each key, and each value as `each` measures it.
    #[inline]
    pub fn charge_object<K: AsRef<str>, V>(
        &mut self,
        entries: impl IntoIterator<Item = (K, V)>,
        mut each: impl FnMut(V, &mut Self) -> Result<(), OutputTooLarge>,
    ) -> Result<(), OutputTooLarge> {
        self.enter()?;
        for (k, v) in entries {
            self.charge_str(k.as_ref())?;
            each(v, self)?;
        }
        self.leave();
        Ok(())
    }
}

/// Charges `budget` for a JSON value the way the engine's walkers charge an engine value (so
/// an output is within the budget on every path or on none).
pub fn measure_json(v: &serde_json::Value, b: &mut OutputBudget) -> Result<(), OutputTooLarge> {
    use serde_json::Value;
    match v {
        Value::String(s) => b.charge_str(s),
        Value::Array(items) => b.charge_array(items, measure_json),
        Value::Object(map) => b.charge_object(map, measure_json),
        _ => b.charge_node(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_stops_at_its_limit_and_names_it() {
        let mut b = OutputBudget::new(20, "the result");
        assert!(b.charge_str("abc").is_ok());
        assert_eq!(b.used(), 3 + NODE_COST);
        assert!(b.charge(1).is_ok());
        let e = b.charge(1).unwrap_err();
        assert_eq!(e.limit, 20);
        let t: TransformError = OutputBudget::new(32 << 20, "the result")
            .charge(usize::MAX)
            .unwrap_err()
            .into();
        assert_eq!(t.code.as_deref(), Some(OUTPUT_TOO_LARGE));
        assert!(t.message.contains("32 MiB"), "{}", t.message);
    }

    #[test]
    fn nesting_is_bounded_whatever_the_size() {
        let mut b = OutputBudget::new(usize::MAX, "the result");
        for _ in 0..MAX_OUTPUT_DEPTH {
            b.enter().unwrap();
        }
        assert!(b.enter().unwrap_err().too_deep);
    }

    /// The deepest output a transform may build is one cxsync's own JSON readers take back
    /// (a DLQ record, `eval --event`): one level more is refused by them.
    #[test]
    fn the_deepest_output_reads_back_as_json() {
        let deepest = format!(
            "{}1{}",
            "[".repeat(MAX_OUTPUT_DEPTH),
            "]".repeat(MAX_OUTPUT_DEPTH)
        );
        assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
        let deeper = format!("[{deepest}]");
        assert!(serde_json::from_str::<serde_json::Value>(&deeper).is_err());
    }
}
