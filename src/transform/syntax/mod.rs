//! A span-carrying JSONata parser of our own, for analysis only (evaluation stays in the engine):
//! exact positions for syntax errors, the guide's dialect (`$if … $end`, `?.`), the input paths a
//! transform reads and which output fields they reach (data flow for lint).
//!
//! The tokenizer and Pratt parser follow jsonata-js (binding powers, the `/` regex rule, the
//! post-parse checks), so the language accepted and the `S0…` error codes match the reference;
//! `tests/jsonata.rs` holds this against the official test suite. All offsets are character
//! offsets into the expression text; `transform::position` maps them to `file:line:col`.

mod analysis;
pub mod ast;
mod dialect;
mod lexer;
mod parser;
mod validate;

pub use analysis::bound_names;
pub use dialect::{rewrite, rewrite_mapped};
pub use lexer::{tokens_lenient, Tk, Token};
pub use parser::{MAX_DEPTH, TOO_DEEP};

/// A path the expression reads from the input, e.g. `interaction.agent.email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    /// Field names from the input root, e.g. `["interaction", "agent", "email"]`; `*` and `**`
    /// stand for wildcard steps. Empty when the whole input is read (`$`, `$$`).
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

    /// Whether the path has a wildcard (`*`) or descendant (`**`) step.
    pub fn has_wildcard(&self) -> bool {
        self.segments.iter().any(|s| s == "*" || s == "**")
    }
}

/// One field of the object the transform produces, and the input paths that flow into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputField {
    /// JSON pointer of the field in the output, e.g. `/metadata/queueName`; a key computed at run
    /// time is `*`.
    pub pointer: String,
    /// Character offsets of the key in the expression.
    pub key_start: usize,
    pub key_end: usize,
    /// Input paths read by the field's value expression (nested fields included).
    pub inputs: Vec<PathRef>,
    /// The paths among `inputs` whose content can reach the field: not those only counted,
    /// tested or compared (`$count(x) > 0 ? … : …` carries nothing of `x`).
    pub carries: Vec<PathRef>,
}

/// Every builtin function name of JSONata (jsonata-js 2.2's `$name`s): a `$name` that is one of
/// these and is not bound by the expression means the builtin.
pub const BUILTINS: &[&str] = &[
    "abs",
    "append",
    "assert",
    "average",
    "base64decode",
    "base64encode",
    "boolean",
    "ceil",
    "clone",
    "contains",
    "count",
    "decodeUrl",
    "decodeUrlComponent",
    "distinct",
    "each",
    "encodeUrl",
    "encodeUrlComponent",
    "error",
    "eval",
    "exists",
    "filter",
    "floor",
    "formatBase",
    "formatInteger",
    "formatNumber",
    "fromMillis",
    "join",
    "keys",
    "length",
    "lookup",
    "lowercase",
    "map",
    "match",
    "max",
    "merge",
    "millis",
    "min",
    "not",
    "now",
    "number",
    "pad",
    "parseInteger",
    "power",
    "random",
    "reduce",
    "replace",
    "reverse",
    "round",
    "shuffle",
    "sift",
    "single",
    "sort",
    "split",
    "spread",
    "sqrt",
    "string",
    "substring",
    "substringAfter",
    "substringBefore",
    "sum",
    "toMillis",
    "trim",
    "type",
    "uppercase",
    "zip",
];

/// The builtins of jsonata-js that cxsync transforms do not have: their results are random, and
/// a transform gives one output for one event and instant (snapshots, seeded simulator runs, a
/// retried event's payload). A call is E505 at validate and T1006 at run time.
pub const REFUSED: &[&str] = &["random", "shuffle"];

/// Whether `$name` is one of [`REFUSED`].
pub fn is_refused(name: &str) -> bool {
    REFUSED.contains(&name)
}

/// The run-time error (after its `T1006: ` code) of a call to `$name`, one of [`REFUSED`]: the
/// engine raises it and [`refused_call`] recognises it, so lint can say that the hub
/// (jsonata-js) evaluates the call and only cxsync refuses it.
pub fn refusal(name: &str) -> String {
    format!(
        "${name} is not available in cxsync transforms: a transform gives the same output for \
         the same event and instant (snapshots, seeded simulator runs, retries)"
    )
}

/// The builtin of [`REFUSED`] whose [`refusal`] an engine error (`code`, `message`) is.
pub fn refused_call(code: Option<&str>, message: &str) -> Option<&'static str> {
    if code != Some("T1006") {
        return None;
    }
    REFUSED
        .iter()
        .copied()
        .find(|name| message.starts_with(&refusal(name)))
}

/// Whether `$name` is a builtin of JSONata.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.binary_search(&name).is_ok()
}

/// What a transform reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// Every input path read, in the order the analysis meets them.
    pub paths: Vec<PathRef>,
    /// Output fields of the top-level object constructor (and nested ones), in source order.
    pub outputs: Vec<OutputField>,
    /// The transform's result as one pseudo-field (pointer `""`, the key span being the whole
    /// expression) when input paths reach it other than through `outputs`: `$` or `event`
    /// forwarded whole, the `$` of `$merge([$, {…}])`. Its `carries` are only those paths.
    pub result: Option<OutputField>,
    /// Function calls: (name without `$`, start, end).
    pub functions: Vec<(String, usize, usize)>,
    /// Calls of a `$name` that is neither a builtin nor bound anywhere in the expression (by
    /// `:=`, a lambda parameter, `@$v` or `#$v`): (name without `$`, start, end). At run time
    /// each is `T1006`, "attempted to invoke a non-function".
    pub unknown_functions: Vec<(String, usize, usize)>,
    /// The `$name`s the expression binds ([`bound_names`]).
    pub bound: std::collections::BTreeSet<String>,
}

impl Analysis {
    /// Whether the transform reads any part of the input field at the dotted path `field`
    /// (`["interaction", "transcript"]`): a path read that is the field, inside it
    /// (`interaction.transcript.text` of a list of turns) or around it (`interaction`, `$`),
    /// `*` matching any one step and `**` any steps. `false` means no value of the field can
    /// reach the output or decide it, as far as the analysis sees (the simulator asks this of
    /// `events.oversize.path`, tester #244).
    pub fn reads(&self, field: &[&str]) -> bool {
        self.paths.iter().any(|p| path_overlaps(&p.segments, field))
    }
}

/// Whether a read path and a field path are one a prefix of the other, wildcards matching.
fn path_overlaps(read: &[String], field: &[&str]) -> bool {
    for (r, f) in read.iter().zip(field) {
        match r.as_str() {
            "**" => return true,
            "*" => {}
            r if r == *f => {}
            _ => return false,
        }
    }
    true
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

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Which construct of the guide's dialect a fix is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialectKind {
    /// `$if(c) a $else b $end`
    IfElse,
    /// `a?.b`
    OptionalChain,
}

/// One use of the guide's dialect and its standard replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectFix {
    pub start: usize,
    pub end: usize,
    /// The standard JSONata for `[start, end)` (nested uses already rewritten).
    pub replacement: String,
    /// For each character of `replacement`, the offset in the original text it stands for.
    pub origins: Vec<usize>,
    pub message: String,
    pub help: String,
    pub kind: DialectKind,
    /// False when the use is malformed (e.g. `$if` without `$end`) and cannot be rewritten.
    pub fixable: bool,
    /// Uses inside this one (their rewrite is part of `replacement`).
    pub nested: Vec<DialectFix>,
}

impl DialectFix {
    /// This use and every nested one, outermost first.
    pub fn flatten(&self) -> Vec<&DialectFix> {
        let mut out = vec![self];
        for n in &self.nested {
            out.extend(n.flatten());
        }
        out
    }
}

/// Parses an expression into a tree with spans.
pub fn parse(text: &str) -> Result<ast::Node, SyntaxError> {
    parser::parse(text)
}

/// Parses an expression that nests no deeper than the caller's stack comfortably allows
/// (`None` for a deeper one or a syntax error): for walks that recurse over the tree on the
/// calling thread, such as the compiled evaluator's lowering.
pub(crate) fn parse_shallow(text: &str) -> Option<ast::Node> {
    match parser::parse_deep(text) {
        Ok((tree, false)) => Some(tree),
        _ => None,
    }
}

/// Parses and analyses an expression.
pub fn analyse(text: &str) -> Result<Analysis, SyntaxError> {
    let (tree, deep) = parser::parse_deep(text)?;
    if deep {
        return Ok(parser::on_big_stack(move || analysis::analyse(&tree)));
    }
    Ok(analysis::analyse(&tree))
}

/// Finds the guide's non-standard constructs and their standard rewrites.
pub fn dialect(text: &str) -> Vec<DialectFix> {
    dialect::dialect(text)
}

#[cfg(test)]
mod tests;
