//! A span-carrying JSONata parser of our own, for analysis only (evaluation stays in the engine):
//! exact positions for syntax errors, the guide's dialect (`$if … $end`, `?.`), the input paths a
//! transform reads and which output fields they reach (data flow for lint).
//!
//! All offsets are character offsets into the expression text; `transform::position` maps them to
//! `file:line:col`.
//!
//! (Interface defined up front; the implementation replaces these placeholders.)

/// A path the expression reads from the input, e.g. `interaction.agent.email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    /// Field names from the input root, e.g. `["interaction", "agent", "email"]`.
    pub segments: Vec<String>,
    /// Character offsets of the whole path in the expression.
    pub start: usize,
    pub end: usize,
}

impl PathRef {
    /// The dotted form, e.g. `interaction.agent.email`.
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }
}

/// One field of the object the transform produces, and the input paths that flow into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputField {
    /// JSON pointer of the field in the output, e.g. `/metadata/queueName`.
    pub pointer: String,
    /// Character offsets of the key in the expression.
    pub key_start: usize,
    pub key_end: usize,
    /// Input paths read by the field's value expression.
    pub inputs: Vec<PathRef>,
}

/// What a transform reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// Every input path read, in source order.
    pub paths: Vec<PathRef>,
    /// Output fields of the top-level object constructor (and nested ones), in source order.
    pub outputs: Vec<OutputField>,
    /// Function calls: (name without `$`, start, end).
    pub functions: Vec<(String, usize, usize)>,
}

/// A syntax error with the offending token's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// JSONata error code, e.g. `S0202`.
    pub code: String,
    pub message: String,
    pub start: usize,
    pub end: usize,
    pub help: Option<String>,
}

/// One use of the guide's dialect and its standard replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectFix {
    pub start: usize,
    pub end: usize,
    pub replacement: String,
    pub message: String,
    pub help: String,
}

/// Parses and analyses an expression.
pub fn analyse(text: &str) -> Result<Analysis, SyntaxError> {
    let _ = text;
    Ok(Analysis::default())
}

/// Finds the guide's non-standard constructs and their standard rewrites.
pub fn dialect(text: &str) -> Vec<DialectFix> {
    let _ = text;
    Vec::new()
}
