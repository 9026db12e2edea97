//! JSON text as JavaScript writes it (`JSON.stringify`), on the lowest floor so that every writer
//! of a transform's output asks one place: the transform's own writers (`transform::json`, the
//! engine's and the compiled path's), and the delivery machine's request body
//! (`delivery::machine::json_text`), which prints `serde_json::Value`s through serde_json's
//! writer with [`JsFormatter`]. A number prints as `Number.prototype.toString` prints it:
//! `100000000000000000000` (not `1e20`), `0.000001` (not `1e-6`), `1e+21`, `-0` as `0`.

use std::io;

use serde_json::Value;

/// Appends JavaScript's text for a finite number (`Number.prototype.toString`).
///
/// Between 1e-6 and 1e21 JavaScript prints the shortest round-trip digits without an exponent,
/// which is what Rust's `Display` prints for every float; outside that range it uses an exponent
/// with an explicit sign. Non-finite numbers have no JSON text; callers reject them first.
pub fn push_number(n: f64, out: &mut String) {
    use std::fmt::Write;
    if n == 0.0 {
        // Both zeros print as `0`, as in JavaScript.
        out.push('0');
        return;
    }
    let a = n.abs();
    if a < 1e15 && n.fract() == 0.0 {
        // A whole number: its digits, as `Display` prints it, without the formatter.
        let mut buf = [0u8; 16];
        let mut i = buf.len();
        let mut m = a as u64;
        while m > 0 {
            i -= 1;
            buf[i] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        if n < 0.0 {
            out.push('-');
        }
        out.extend(buf[i..].iter().map(|&d| char::from(d)));
        return;
    }
    if (1e-6..1e21).contains(&a) {
        let _ = write!(out, "{n}");
    } else {
        let start = out.len();
        let _ = write!(out, "{n:e}");
        if let Some(e) = out[start..].find('e') {
            let at = start + e + 1;
            if out.as_bytes().get(at) != Some(&b'-') {
                out.insert(at, '+');
            }
        }
    }
}

/// JavaScript's text for a finite number.
pub fn number_text(n: f64) -> String {
    let mut s = String::new();
    push_number(n, &mut s);
    s
}

/// serde_json's compact writer with JavaScript's numbers: integers (`i64`/`u64`) as serde_json
/// prints them (their digits, as JavaScript prints a whole number), every float through
/// [`push_number`]. Strings are serde_json's escaping, which is `JSON.stringify`'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsFormatter;

impl serde_json::ser::Formatter for JsFormatter {
    #[inline]
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        if !value.is_finite() {
            // serde_json's own writer prints a non-finite float as `null`, as JSON.stringify does.
            return w.write_all(b"null");
        }
        let mut s = String::new();
        push_number(value, &mut s);
        w.write_all(s.as_bytes())
    }

    #[inline]
    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }
}

/// A value's compact JSON text as `JSON.stringify` writes it (keys in the value's order).
pub fn to_string(v: &Value) -> String {
    let mut buf = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, JsFormatter);
    // Writing a `Value` to memory cannot fail (its keys are strings, its floats finite).
    let _ = serde::Serialize::serialize(v, &mut ser);
    // serde_json writes only valid UTF-8.
    String::from_utf8(buf).unwrap_or_default()
}

/// The key's place among a JavaScript object's own properties when it is an array index: the
/// canonical decimal text of an integer below 2^32 - 1 (`"0"`, `"10"`; not `"01"`, `"-1"`,
/// `"1.5"` or `"4294967295"`). JavaScript keeps an object's array-index keys first, in ascending
/// order, and every other key after them in insertion order (`JSON.parse('{"b":1,"2":2,"1":3}')`
/// is `{"1":3,"2":2,"b":1}`), so jsonata-js's objects — events it reads, objects it builds,
/// `$keys`, `$each`, `$string` — all have that order.
#[inline]
pub fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    match b {
        [] => None,
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.len() < 10 && rest.iter().all(u8::is_ascii_digit) => key
            .parse::<u64>()
            .ok()
            .filter(|&n| n < u64::from(u32::MAX))
            .map(|n| n as u32),
        _ => None,
    }
}

/// Whether entries with these keys, in this order, are in JavaScript's property order already
/// (no array-index key after a non-index key or after a greater index). A scan that stops at
/// the first key that does not start with a digit once every index key is behind it.
#[inline]
pub fn in_js_order<'k>(keys: impl IntoIterator<Item = &'k str>) -> bool {
    let mut last: Option<u32> = None;
    let mut others = false;
    for k in keys {
        match array_index(k) {
            Some(i) => {
                if others || last.is_some_and(|l| l >= i) {
                    return false;
                }
                last = Some(i);
            }
            None => others = true,
        }
    }
    true
}

/// Puts entries in JavaScript's property order: array-index keys first, ascending, then the
/// others in the order they have (a stable sort; nothing moves when [`in_js_order`] holds).
pub fn js_order<T>(entries: &mut [T], key: impl Fn(&T) -> &str) {
    if in_js_order(entries.iter().map(&key)) {
        return;
    }
    entries.sort_by_key(|e| match array_index(key(e)) {
        Some(i) => (false, i),
        None => (true, 0),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (n, want) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e20, "100000000000000000000"),
            (2f64.powi(64), "18446744073709552000"),
            (2f64.powi(60), "1152921504606847000"),
            (123456789.125, "123456789.125"),
            (-1e-300, "-1e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(number_text(n), want, "{n:?}");
        }
    }

    /// The formatter changes numbers only: everything else is serde_json's own text.
    #[test]
    fn the_writer_is_serde_jsons_but_for_floats() {
        let v = json!({"esc": "quote \" back \\ nl \n nul \u{0} del \u{7f} é 😀 \u{2028}",
            "n": [1, -1, u64::MAX, i64::MIN, 0.5, null, true], "o": {"z": {}, "a": []}});
        assert_eq!(to_string(&v), serde_json::to_string(&v).unwrap());
        let v = json!({"a": 1e20, "b": -0.0, "c": 0.000001, "d": 1e21, "e": 1.5e300, "f": 1e-7});
        assert_eq!(
            to_string(&v),
            r#"{"a":100000000000000000000,"b":0,"c":0.000001,"d":1e+21,"e":1.5e+300,"f":1e-7}"#
        );
    }

    #[test]
    fn array_index_keys_go_first_in_ascending_order_as_javascript_keeps_them() {
        for (k, want) in [
            ("0", Some(0)),
            ("10", Some(10)),
            ("4294967294", Some(4_294_967_294)),
            ("4294967295", None),
            ("01", None),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("1e3", None),
            ("99999999999", None),
            ("a1", None),
        ] {
            assert_eq!(array_index(k), want, "{k:?}");
        }
        let mut e = vec![
            "b",
            "10",
            "2",
            "a",
            "-1",
            "01",
            "4294967295",
            "4294967294",
            "0",
        ];
        js_order(&mut e, |k| k);
        assert_eq!(
            e,
            [
                "0",
                "2",
                "10",
                "4294967294",
                "b",
                "a",
                "-1",
                "01",
                "4294967295"
            ]
        );
        assert!(in_js_order(["1", "3", "x", "y"]));
        assert!(!in_js_order(["x", "1"]));
        assert!(!in_js_order(["3", "1"]));
    }
}
