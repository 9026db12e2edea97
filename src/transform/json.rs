//! JSON text as jsonata-js prints it (`JSON.stringify`): numbers in JavaScript's
//! `Number.prototype.toString` form (`0.000001`, `1e-7`, `1e+21`, `-0` as `0`), strings escaped as
//! `JSON.stringify` escapes them. One writer for every path that turns a result into text — the
//! engine's, the compiled evaluator's and `cxsync eval`'s — so the three cannot disagree.

use serde_json::Value;

/// JavaScript's text for a number: the one writer of the fact, on the lowest floor so the
/// delivery machine's request body asks it too.
pub use crate::jsjson::{number_text, push_number};

/// Appends `s` as a JSON string literal, escaped as `JSON.stringify` escapes it (quotes,
/// backslashes and control characters; nothing else).
pub fn push_string(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(i) = find_special(bytes, start) {
        let b = bytes[i];
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            use std::fmt::Write;
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The position of the first byte from `from` on that a JSON string cannot hold as it is: `"`,
/// `\` or a control character (the bytes `push_string` escapes, and the bytes the compiled
/// path's scanner of JSON text stops at). Eight bytes at a time.
#[inline]
pub(crate) fn find_special(b: &[u8], mut from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(from..from + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        let q = w ^ (ONES * u64::from(b'"'));
        let bs = w ^ (ONES * u64::from(b'\\'));
        // The lowest flagged byte is exact: a borrow only flags bytes above a true hit.
        let m = ((q.wrapping_sub(ONES) & !q)
            | (bs.wrapping_sub(ONES) & !bs)
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGH;
        if m != 0 {
            return Some(from + (m.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    b.get(from..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|i| from + i)
}

/// A `serde_json::Value` as compact JSON text, numbers printed as JavaScript prints them.
pub fn to_compact(v: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(v, None, 0, &mut out);
    out
}

/// A `serde_json::Value` as `JSON.stringify(v, null, 2)` prints it.
pub fn to_pretty(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(v, Some(2), 0, &mut out);
    out
}

fn newline(indent: Option<usize>, depth: usize, out: &mut String) {
    if let Some(w) = indent {
        out.push('\n');
        for _ in 0..w * depth {
            out.push(' ');
        }
    }
}

fn write_value(v: &Value, indent: Option<usize>, depth: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                use std::fmt::Write;
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                use std::fmt::Write;
                let _ = write!(out, "{u}");
            } else {
                // serde_json numbers are finite.
                push_number(n.as_f64().unwrap_or(0.0), out);
            }
        }
        Value::String(s) => push_string(s, out),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                write_value(item, indent, depth + 1, out);
            }
            newline(indent, depth, out);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                push_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(item, indent, depth + 1, out);
            }
            newline(indent, depth, out);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_escaped_as_json_stringify_escapes_them() {
        let mut s = String::new();
        push_string("a\"b\\c\n\t\u{1}é😀/\u{7f}", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\t\\u0001é😀/\u{7f}\"");
        // The same as serde_json's escaping, which is JSON.stringify's.
        let t = "x\u{0}\u{1f}\u{8}\u{c}\r\"\\";
        let mut s = String::new();
        push_string(t, &mut s);
        assert_eq!(s, serde_json::to_string(t).unwrap());
    }

    #[test]
    fn values_print_compact_and_pretty_like_json_stringify() {
        let v = json!({"a": [1, 2.5, 0.000001, {"b": []}], "c": {}, "d": "x", "e": null});
        assert_eq!(
            to_compact(&v),
            r#"{"a":[1,2.5,0.000001,{"b":[]}],"c":{},"d":"x","e":null}"#
        );
        assert_eq!(
            to_pretty(&json!({"a": [1], "b": {}})),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}"
        );
        // Integers beyond 2^53 are exact integers in serde_json; they print as given.
        assert_eq!(to_compact(&json!(9007199254740993_u64)), "9007199254740993");
    }
}
