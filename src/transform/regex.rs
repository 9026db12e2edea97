//! Regex literals, compiled once per transform.
//!
//! jsonata-core compiles a regex literal again on every call of `$match`, `$replace`,
//! `$contains` and `$split` (about a millisecond for a pattern with Unicode classes). Both
//! evaluation paths compile each literal of a transform once, here, with the engine's own
//! translation of JSONata's flags (`jsonata_core::functions::string::build_regex`), so a pattern
//! means on the compiled path exactly what it means in the engine.
//!
//! JSONata's regexes are JavaScript's, where `\w` and `\d` are ASCII (`[A-Za-z0-9_]`, `[0-9]`)
//! while the Rust `regex` crate makes them Unicode: `/(\w+) (\w+)/` on `José Fernández` matched
//! differently from jsonata-js. [`ascii_classes`] spells those classes out before the engine
//! sees the pattern; the engine path applies it to every regex literal of the tree too.

use regex::Regex;

/// Compiles a JSONata regex literal (`/pattern/flags`) as the engine does, with JavaScript's
/// ASCII `\w`/`\d`.
pub fn compile(pattern: &str, flags: &str) -> Result<Regex, String> {
    jsonata_core::functions::string::build_regex(&ascii_classes(pattern), flags)
        .map_err(|e| e.to_string())
}

/// `pattern` with JavaScript's meaning of `\w`, `\W`, `\d` and `\D` written out as ASCII
/// classes (`\w` → `[0-9A-Za-z_]`, inside a class `[\w-]` → `[0-9A-Za-z_-]`). `\W` and `\D`
/// inside a class, and `\b`, have no such spelling and stay as they are. Idempotent.
pub fn ascii_classes(pattern: &str) -> String {
    if !pattern.contains('\\') {
        return pattern.to_string();
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let spelled = match (e, in_class) {
                    ('w', false) => "[0-9A-Za-z_]",
                    ('W', false) => "[^0-9A-Za-z_]",
                    ('d', false) => "[0-9]",
                    ('D', false) => "[^0-9]",
                    ('w', true) => "0-9A-Za-z_",
                    ('d', true) => "0-9",
                    _ => {
                        out.push('\\');
                        out.push(e);
                        continue;
                    }
                };
                out.push_str(spelled);
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_and_digit_classes_are_ascii_as_in_javascript() {
        for (from, to) in [
            (r"(\w+) (\w+)", "([0-9A-Za-z_]+) ([0-9A-Za-z_]+)"),
            (r"[\w.-]+@\d+", "[0-9A-Za-z_.-]+@[0-9]+"),
            (r"\W|\D", "[^0-9A-Za-z_]|[^0-9]"),
            (r"\\w\.\s\b", r"\\w\.\s\b"),
            (r"[\W\D]", r"[\W\D]"),
            (r"[^0-9+]", r"[^0-9+]"),
            ("a\\", "a\\"),
        ] {
            assert_eq!(ascii_classes(from), to, "{from}");
            assert_eq!(ascii_classes(to), to, "idempotent: {to}");
        }
        let re = compile(r"(\w+) (\w+)", "").unwrap();
        // As jsonata-js: `é` is not a word character, so the name has no match.
        assert_eq!(re.replace("José Fernández", "$2, $1"), "José Fernández");
        assert_eq!(re.replace("Łukasz Wałęsa", "$2, $1"), "ŁWa, ukaszłęsa");
        assert!(!compile(r"^\d+$", "").unwrap().is_match("٣"));
        assert!(compile(r"^\w+$", "i").unwrap().is_match("ABC_1"));
    }
}
