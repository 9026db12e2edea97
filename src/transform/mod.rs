//! Transforms: the only module that imports the JSONata engine (`jsonata-core`).
//!
//! The interface is small on purpose: compile once ([`Transform::compile`]), evaluate many times
//! ([`Transform::eval`]) with the clock handed in, so the same transform runs in `test`, `eval`,
//! lint and the simulator's virtual time.

pub mod checks;
pub mod position;
pub mod syntax;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A transform that failed to compile or evaluate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TransformError {
    /// The engine's error code (e.g. `T2001`, `S0201`), when it gave one.
    pub code: Option<String>,
    pub message: String,
    /// Character offset in the expression text, when known.
    pub offset: Option<usize>,
}

/// A compiled JSONata expression.
pub struct Transform {
    expr: jsonata_core::Expression,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform").finish_non_exhaustive()
    }
}

impl Transform {
    /// Parses and compiles `text`.
    pub fn compile(text: &str) -> Result<Transform, TransformError> {
        let expr = jsonata_core::Expression::compile(text).map_err(|e| TransformError {
            code: None,
            message: e.to_string(),
            offset: None,
        })?;
        Ok(Transform { expr })
    }

    /// Evaluates against one event with `$now()`/`$millis()` frozen at `now`. `Ok(None)` is
    /// JSONata's undefined result.
    pub fn eval(&self, event: &Value, now: DateTime<Utc>) -> Result<Option<Value>, TransformError> {
        let _ = now; // TODO(transform): frozen clock via host functions.
        let data = jsonata_core::value::JValue::from_json_str(&event.to_string()).map_err(|e| {
            TransformError {
                code: None,
                message: e.to_string(),
                offset: None,
            }
        })?;
        let out = self.expr.evaluate(&data).map_err(|e| TransformError {
            code: None,
            message: e.to_string(),
            offset: None,
        })?;
        if out.is_undefined() {
            return Ok(None);
        }
        let s = out.to_json_string().map_err(|e| TransformError {
            code: None,
            message: e.to_string(),
            offset: None,
        })?;
        serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| TransformError {
                code: None,
                message: e.to_string(),
                offset: None,
            })
    }
}
