//! Regex literals, compiled once per transform.
//!
//! jsonata-core compiles a regex literal again on every call of `$match`, `$replace`,
//! `$contains` and `$split` (about a millisecond for a pattern with Unicode classes). Both
//! evaluation paths compile each literal of a transform once, here, with the engine's own
//! translation of JSONata's flags (`jsonata_core::functions::string::build_regex`), so a pattern
//! means on the compiled path exactly what it means in the engine.

use regex::Regex;

/// Compiles a JSONata regex literal (`/pattern/flags`) as the engine does.
pub fn compile(pattern: &str, flags: &str) -> Result<Regex, String> {
    jsonata_core::functions::string::build_regex(pattern, flags).map_err(|e| e.to_string())
}
