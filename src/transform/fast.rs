//! Fast path (placeholder until implemented).

use chrono::{DateTime, Utc};
use jsonata_core::ast::AstNode;
use serde_json::Value;

use super::TransformError;

/// A transform compiled to direct accessors.
#[derive(Debug)]
pub struct Program {}

impl Program {
    /// Compiles `ast` when every node is supported.
    pub(super) fn compile(ast: &AstNode) -> Option<Program> {
        let _ = ast;
        None
    }

    /// Evaluates against an event.
    pub(super) fn eval(
        &self,
        event: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<Value>, TransformError> {
        let _ = (event, now);
        Ok(None)
    }

    /// Evaluates JSON text.
    pub(super) fn eval_json_text(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, TransformError> {
        let _ = (text, now);
        Ok(None)
    }
}
