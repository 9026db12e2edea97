//! JSON files a spec refers to (fixtures, payload schemas). serde_json parses them and reports
//! their syntax errors; its `Value` then hides two things a user must hear about, which one more
//! pass over the (now known valid) text finds with their positions: a key written twice in one
//! object (serde_json keeps the last one silently) and an integer beyond 2^53 (a JSONata number is
//! a 64-bit float, so `12345678901234567890` reaches the CRM as `12345678901234567000`).

use std::collections::HashMap;

use crate::diag::{Pos, Span};

/// The largest integer every integer up to which a 64-bit float holds exactly: 2^53.
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// The deepest nesting of arrays and objects cxsync reads in a JSON text: serde_json's recursion
/// limit (128, which refuses the 128th level), where every JSON reader of cxsync's (fixtures,
/// payload schemas, `eval --event`, the transform engine's event reader, DLQ records) stops. A
/// unit test pins it to the parsers'.
pub const MAX_JSON_DEPTH: usize = 127;

/// serde_json's message for `e` without its position (a diagnostic places it): a text nesting
/// deeper than [`MAX_JSON_DEPTH`] says so in those words rather than "recursion limit exceeded"
/// (tester #231), with [`error_help`] to say what it means.
pub fn error_message(e: &serde_json::Error) -> String {
    if is_depth_limit(e) {
        return format!(
            "nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects (cxsync's limit)"
        );
    }
    let msg = e.to_string();
    msg.split(" at line ").next().unwrap_or(&msg).to_string()
}

/// The help line for `e`, when it is the depth limit.
pub fn error_help(e: &serde_json::Error) -> Option<String> {
    is_depth_limit(e).then(|| {
        format!(
            "the text may be valid JSON, but cxsync reads JSON only up to {MAX_JSON_DEPTH} levels deep \
             (as the YAML loader reads specs up to {}); the guide names no limit of the Event Hub's, \
             and real events are a few levels deep: flatten the deep part, or cut it from the fixture",
            super::yaml::MAX_DEPTH
        )
    })
}

/// Whether `text` nests arrays and objects deeper than [`MAX_JSON_DEPTH`] (brackets inside
/// strings do not count): the limit, for a reader whose parser has another (the transform
/// engine's simd-json reads deeper; `eval --events` asks this first, #231). Linear, no allocation.
pub fn nests_too_deep(text: &str) -> bool {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for b in text.bytes() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Whether `e` is serde_json's recursion limit.
fn is_depth_limit(e: &serde_json::Error) -> bool {
    e.classify() == serde_json::error::Category::Syntax
        && e.to_string().starts_with("recursion limit exceeded")
}

/// Something the text of a valid JSON file says that its parsed value no longer shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Hidden {
    /// A key repeated in one object: `at` is the repeat, `first` where the key was first written.
    DuplicateKey { key: String, at: Span, first: Pos },
    /// An integer literal (no fraction, no exponent) whose magnitude is beyond 2^53, as written.
    InexactInteger { text: String, at: Span },
}

/// What one pass over `text`, which serde_json has already accepted, finds that the value hides.
/// Linear in the text; the nesting it tracks was bounded by serde_json's recursion limit.
pub fn hidden(text: &str) -> Vec<Hidden> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut s = Scan {
        chars: &chars,
        i: 0,
        line: 1,
        column: 1,
    };
    // One entry per open container: the keys an object has so far (`None` for an array), and
    // whether the next string in an object is a key.
    let mut stack: Vec<(Option<HashMap<String, Pos>>, bool)> = Vec::new();
    while let Some(c) = s.peek() {
        match c {
            '{' => {
                s.bump();
                stack.push((Some(HashMap::new()), true));
            }
            '[' => {
                s.bump();
                stack.push((None, false));
            }
            '}' | ']' => {
                s.bump();
                stack.pop();
            }
            ',' => {
                s.bump();
                if let Some((Some(_), expect_key)) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            ':' => {
                s.bump();
                if let Some((_, expect_key)) = stack.last_mut() {
                    *expect_key = false;
                }
            }
            '"' => {
                let start = s.pos();
                let raw = s.string();
                let end = s.pos();
                if let Some((Some(keys), true)) = stack.last_mut() {
                    // The text is valid JSON, so the literal decodes; escapes count (`"\u0069d"`
                    // is `"id"`).
                    let key: String = serde_json::from_str(&raw).unwrap_or(raw);
                    match keys.get(&key) {
                        Some(first) => out.push(Hidden::DuplicateKey {
                            key,
                            at: Span::new(start, end),
                            first: *first,
                        }),
                        None => {
                            keys.insert(key, start);
                        }
                    }
                }
            }
            '-' | '0'..='9' => {
                let start = s.pos();
                let text = s.number();
                let digits = text.trim_start_matches('-');
                if digits.bytes().all(|b| b.is_ascii_digit())
                    && digits
                        .parse::<u64>()
                        .ok()
                        .is_none_or(|n| n > MAX_EXACT_INTEGER)
                {
                    out.push(Hidden::InexactInteger {
                        text,
                        at: Span::new(start, s.pos()),
                    });
                }
            }
            _ => s.bump(),
        }
    }
    out
}

/// What a 64-bit float makes of an integer literal, as JSON would print it: what a transform
/// (and the CRM) sees instead of the digits written.
pub fn as_float(text: &str) -> String {
    // Digits up to 1e21, an exponent past it, as JavaScript (and so JSONata) prints numbers.
    let f: f64 = text.parse().unwrap_or(f64::NAN);
    if f.abs() < 1e21 {
        format!("{f}")
    } else {
        format!("{f:e}").replace('e', "e+")
    }
}

struct Scan<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    column: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.i += 1;
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
            offset: self.i,
        }
    }
    /// The string literal starting here, quotes included (a JSON string has no raw newline).
    fn string(&mut self) -> String {
        let from = self.i;
        self.bump();
        while let Some(c) = self.peek() {
            self.bump();
            match c {
                '\\' => self.bump(),
                '"' => break,
                _ => {}
            }
        }
        self.chars[from..self.i].iter().collect()
    }
    fn number(&mut self) -> String {
        let from = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.bump();
        }
        self.chars[from..self.i].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Vec<Hidden> {
        serde_json::from_str::<serde_json::Value>(text).expect("valid JSON");
        hidden(text)
    }

    /// `n` arrays, one inside the other.
    fn nested(n: usize) -> String {
        "[".repeat(n) + &"]".repeat(n)
    }

    /// The limit the messages name is the one the parsers apply: serde_json's, and the transform
    /// engine's event reader (jsonata-core's, on serde_json) alike.
    #[test]
    fn the_named_depth_limit_is_the_parsers_own() {
        let ok = nested(MAX_JSON_DEPTH);
        let deep = nested(MAX_JSON_DEPTH + 1);
        assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
        let e = serde_json::from_str::<serde_json::Value>(&deep).unwrap_err();
        assert_eq!(
            error_message(&e),
            "nests deeper than 127 levels of arrays and objects (cxsync's limit)"
        );
        assert!(error_help(&e).unwrap().contains("127 levels deep"));
        // The scan that readers with another parser ask agrees with serde_json, strings aside.
        assert!(!nests_too_deep(&ok) && nests_too_deep(&deep));
        let quoted = format!(r#"{{"a": "{}", "b": {ok}}}"#, "[{".repeat(300));
        assert!(serde_json::from_str::<serde_json::Value>(&quoted).is_err());
        let quoted = format!(
            r#"["\"{}", {}]"#,
            "[".repeat(300),
            nested(MAX_JSON_DEPTH - 1)
        );
        assert!(serde_json::from_str::<serde_json::Value>(&quoted).is_ok());
        assert!(!nests_too_deep(&quoted));
        // Any other error keeps serde_json's words, without the position.
        let e = serde_json::from_str::<serde_json::Value>("{,}").unwrap_err();
        assert_eq!(error_message(&e), "key must be a string");
        assert!(error_help(&e).is_none());
    }

    #[test]
    fn a_repeated_key_is_found_at_the_repeat_with_the_first_position() {
        let found = check("{\"a\": {\"id\": \"i2\",\n \"id\": \"i3\"}, \"id\": 1}");
        assert_eq!(found.len(), 1, "{found:?}");
        let Hidden::DuplicateKey { key, at, first } = &found[0] else {
            panic!("{found:?}")
        };
        assert_eq!(key, "id");
        assert_eq!((at.start.line, at.start.column), (2, 2));
        assert_eq!((first.line, first.column), (1, 8));
    }

    #[test]
    fn keys_are_compared_decoded_and_per_object() {
        assert_eq!(check("{\"id\": 1, \"\\u0069d\": 2}").len(), 1);
        assert!(check("[{\"id\": 1}, {\"id\": 2}]").is_empty());
        // A string value that spells a key is no key.
        assert!(check("{\"id\": \"id\", \"x\": [\"id\", \"id\"]}").is_empty());
        assert!(check("{\"a\\\"b\": 1, \"a\\\\\": 2}").is_empty());
    }

    #[test]
    fn only_integers_beyond_two_to_the_53_are_inexact() {
        let found = check(
            "{\"a\": 9007199254740992, \"b\": -9007199254740993, \"c\": 12345678901234567890, \
             \"d\": 1e300, \"e\": 123456789012345678901234567890.5, \"f\": \"99999999999999999999\"}",
        );
        let texts: Vec<_> = found
            .iter()
            .map(|h| match h {
                Hidden::InexactInteger { text, .. } => text.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, ["-9007199254740993", "12345678901234567890"]);
        assert_eq!(as_float("12345678901234567890"), "12345678901234567000");
        assert_eq!(
            as_float("-123456789012345678901234"),
            "-1.2345678901234569e+23"
        );
    }
}
