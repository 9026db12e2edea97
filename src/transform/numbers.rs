//! Numbers where jsonata-core and jsonata-js part ways, decided once for both evaluators.
//!
//! - [`js_round`]: jsonata-js's `$round(x, n)` shifts the decimal point in the number's text
//!   (`"4.3499999999999994e-1"` → `"4.3499999999999994e1"`), rounds half to even, and shifts
//!   back the same way; jsonata-core multiplies by 10^n, so `$round(0.43499999999999994, 2)` is
//!   0.44 there and 0.43 in jsonata-js, and `$round(1e21, 2)` loses digits. The compiled path
//!   calls it directly, the engine path through a host function its calls are rewritten to
//!   (`engine::guard_numbers`).
//! - [`Guard`]: builtin calls jsonata-core answers wrongly or not at all for some numbers —
//!   `$formatInteger` beyond the integers whose digits it prints as jsonata-js does (it
//!   converts to `i64`, so `-9.3e18` became `-9223372036854775807`), a roman numeral that would
//!   build gigabytes, `$formatNumber` of 1e21 and beyond, `$fromMillis` outside the dates it can
//!   represent. Such a call is refused with a clear error before the engine sees it.

use chrono::TimeZone;

/// `$round(x, precision)` exactly as jsonata-js 2.2.2 computes it (`functions.js` `round`):
/// `precision` 0 (or NaN, JavaScript's falsy numbers) rounds to an integer; a precision that is
/// not an integer, or that moves the exponent past what `Number()` reads, gives NaN as it does
/// there. Ties go to the even neighbour; -0 becomes 0.
pub fn js_round(x: f64, precision: f64) -> f64 {
    let shifted = precision != 0.0 && !precision.is_nan();
    let arg = if shifted {
        shift_decimal(x, precision)
    } else {
        x
    };
    let mut r = js_math_round(arg);
    if (r - arg).abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    if shifted {
        r = shift_decimal(r, -precision);
    }
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// `$formatBase(value, radix)` as jsonata-js 2.2.2 computes it: both rounded as `$round`
/// rounds them (ties to even: `$formatBase(10.5, 16)` is `"a"`, a radix of 2.5 is 2), D3100
/// outside 2..=36, then JavaScript's `Number.prototype.toString(radix)` ([`js_radix_text`]).
/// jsonata-core truncates the radix, converts through `i64` (`1e21` saturates) and rounds half
/// away from zero.
pub fn js_format_base(value: f64, radix: Option<f64>) -> Result<String, String> {
    let value = js_round(value, 0.0);
    let radix = radix.map_or(10.0, |r| js_round(r, 0.0));
    if !(2.0..=36.0).contains(&radix) {
        return Err(format!(
            "D3100: The radix of the formatBase function must be between 2 and 36.  It was given {}",
            js_text(radix)
        ));
    }
    Ok(js_radix_text(value, radix as u32))
}

/// JavaScript's `x.toString(radix)` of a whole (or non-finite) number, as V8 writes it
/// (`DoubleToRadixCString`): radix 10 is the number's ordinary text (`1e+21`); otherwise the
/// digits of the integer, where past 2^53 every digit the double cannot hold is a `0` (the
/// value is divided by the radix, in floating point, until it is below 2^53).
pub fn js_radix_text(x: f64, radix: u32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if radix == 10 {
        return js_text(x);
    }
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let r = f64::from(radix);
    let mut integer = x.abs().floor();
    let mut out: Vec<u8> = Vec::new();
    while integer / r >= EXACT {
        integer /= r;
        out.push(b'0');
    }
    loop {
        let rem = integer % r;
        out.push(DIGITS[rem as usize]);
        integer = (integer - rem) / r;
        if integer <= 0.0 {
            break;
        }
    }
    if x < 0.0 {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

/// How many parts `$split(s, separator, limit)` gives at most, as jsonata-js 2.2.2 counts them
/// for a limit that is a number and not negative (a negative one is D3020 before this): a
/// string separator goes to JavaScript's `String.prototype.split`, which reads the limit as
/// `ToUint32` (2.7 is 2, 2^32 is 0, 2^32 + 1 is 1, 1e300 is 0); a regex or a function
/// separator keeps parts while their count is below the limit (2.7 gives 3, 0.5 gives 1).
/// jsonata-core floors the limit in both cases.
pub fn js_split_limit(limit: f64, string_separator: bool) -> f64 {
    if !limit.is_finite() || limit <= 0.0 {
        // Infinity: no limit for a regex, `ToUint32` 0 for a string; NaN and 0 give nothing.
        return if limit == f64::INFINITY && !string_separator {
            limit
        } else {
            0.0
        };
    }
    if string_separator {
        limit.trunc().rem_euclid(4_294_967_296.0)
    } else {
        limit.ceil()
    }
}

/// [`js_split_limit`] as a count of parts (`usize::MAX`: no limit).
pub fn js_split_parts(limit: f64, string_separator: bool) -> usize {
    let l = js_split_limit(limit, string_separator);
    if l.is_infinite() {
        usize::MAX
    } else {
        l as usize
    }
}

/// JavaScript's `Math.round`: to the nearest integer, ties towards +∞.
fn js_math_round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let f = x.floor();
    // Exact: below 2^52 a double's fraction is representable; above it `f == x`.
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// `+(m + 'e' + (e ? +e + by : by))` over `x.toString().split('e')`: `x` with its decimal
/// exponent moved by `by`. JavaScript's text of `x` and Rust's `{:e}` carry the same shortest
/// round-trip digits, so the decimal value read back (correctly rounded) is the same.
fn shift_decimal(x: f64, by: f64) -> f64 {
    if !x.is_finite() {
        // "NaN"/"Infinity" followed by "e…" is not a number.
        return f64::NAN;
    }
    let text = format!("{x:e}");
    let Some((mantissa, exp)) = text.split_once('e') else {
        return f64::NAN;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return f64::NAN;
    };
    let exp = f64::from(exp) + by;
    // JavaScript prints the new exponent into the text: a fraction or a number of 1e21 and more
    // (printed with its own exponent) makes the text unreadable, NaN.
    if exp.fract() != 0.0 || exp.abs() >= 1e21 {
        return f64::NAN;
    }
    // The mantissa is below 10 in magnitude: past ±2000 the value is 0 or ±∞ either way.
    let exp = exp.clamp(-2000.0, 2000.0) as i32;
    format!("{mantissa}e{exp}").parse().unwrap_or(f64::NAN)
}

/// A builtin whose calls are checked before jsonata-core evaluates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    FormatInteger,
    FormatNumber,
    FromMillis,
}

/// The largest date jsonata-js represents: ±8.64e15 ms (100,000,000 days) from 1970.
const MAX_JS_DATE_MS: f64 = 8.64e15;

impl Guard {
    /// The guarded builtin called `name`.
    pub fn named(name: &str) -> Option<Guard> {
        Some(match name {
            "formatInteger" => Guard::FormatInteger,
            "formatNumber" => Guard::FormatNumber,
            "fromMillis" => Guard::FromMillis,
            _ => return None,
        })
    }

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Guard::FormatInteger => "formatInteger",
            Guard::FormatNumber => "formatNumber",
            Guard::FromMillis => "fromMillis",
        }
    }

    /// The first argument as jsonata-js uses it: `$fromMillis` makes a `Date` of it, which drops
    /// a fraction of a millisecond toward zero (`1.5` → 1 ms, `-1.5` → -1 ms; ECMAScript's
    /// TimeClip), where jsonata-core refuses a number that is not an integer. Others unchanged.
    pub fn argument(self, x: f64) -> f64 {
        match self {
            Guard::FromMillis if x.is_finite() => x.trunc() + 0.0,
            _ => x,
        }
    }

    /// Why a call with this number (its first argument) and picture (its second, when a
    /// string) is refused, as `CODE: message`; `None` when jsonata-core may evaluate it. Other
    /// argument types are the engine's to reject.
    pub fn refusal(self, x: f64, picture: Option<&str>, max_output_bytes: usize) -> Option<String> {
        if !x.is_finite() {
            return None;
        }
        match self {
            Guard::FormatInteger => {
                let n = x.floor().abs();
                let primary = picture.map(|p| p.split(';').next().unwrap_or_default().trim());
                // Words are spelt from the float itself, in both.
                let words = matches!(primary, Some("w" | "W" | "Ww"));
                // Otherwise jsonata-core goes through `n as i64`, where jsonata-js prints the
                // number's own text (shortest digits, zero-padded). Refused where they differ.
                if !words
                    && n >= 9_007_199_254_740_992.0
                    && format!("{n}") != (n as i64).to_string()
                {
                    return Some(format!(
                        "D1001: Number out of range: $formatInteger({}): beyond ±2^53 \
                         (9007199254740992) the engine would print other digits than jsonata-js; \
                         $string gives the number's digits",
                        js_text(x)
                    ));
                }
                let roman = matches!(primary, Some("I" | "i"));
                // A roman numeral has one `M` per thousand.
                if roman && n / 1000.0 > max_output_bytes as f64 {
                    return Some(format!(
                        "{}: $formatInteger({}, \"{}\") would be a roman numeral of about {} \
                         characters, over the output limit of {} bytes",
                        super::limits::OUTPUT_TOO_LARGE,
                        js_text(x),
                        picture.unwrap_or_default(),
                        js_text((n / 1000.0).round()),
                        max_output_bytes
                    ));
                }
                None
            }
            Guard::FormatNumber => {
                // jsonata-js itself prints 1e21 as "1e,+21.00" under "#,##0.00", jsonata-core
                // as 999,999,999,999,999,868,928.00: refused unless the picture has an exponent.
                let exponent = picture.is_some_and(|p| p.contains('e'));
                if x.abs() >= 1e21 && !exponent {
                    return Some(format!(
                        "D1001: Number out of range: $formatNumber({}) needs a picture with an \
                         exponent (such as \"0.00e0\") at 1e21 and beyond",
                        js_text(x)
                    ));
                }
                None
            }
            Guard::FromMillis => {
                let representable = x.abs() <= MAX_JS_DATE_MS
                    && chrono::Utc
                        .timestamp_millis_opt(x as i64)
                        .single()
                        .is_some();
                if !representable {
                    return Some(format!(
                        "D1001: Number out of range: $fromMillis({}) is not a date cxsync \
                         prints: its year is beyond ±262,143 (about ±8.2e15 milliseconds since \
                         1970), where jsonata-js prints only the year's last four digits \
                         (\"5760-09-13\" for 8.64e15), and NaN beyond ±8.64e15",
                        js_text(x)
                    ));
                }
                None
            }
        }
    }
}

/// jsonata-js 2.2.2's `$number(s)` of a string (`functions.js` `number`): `None` where it
/// raises D3030. A decimal is `-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?` and finite — no spaces,
/// no `+`, no `.5` or `5.` (jsonata-core reads all of those). Then JavaScript's `Number(s)` for
/// what its hex/octal/binary test lets through; that test is
/// `/^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/`, whose alternatives are anchored one
/// each, so `"0x10zz"` passes it and is NaN, and `"0x1f "` is 31.
pub fn js_number(s: &str) -> Option<f64> {
    if is_js_decimal(s) {
        if let Ok(x) = s.parse::<f64>() {
            if x.is_finite() {
                return Some(x + 0.0);
            }
        }
    }
    let b = s.as_bytes();
    let run = |from: usize, ok: fn(u8) -> bool| b.len() > from && ok(b[from]);
    let hex_start = b.len() > 2
        && b[0] == b'0'
        && matches!(b[1], b'x' | b'X')
        && run(2, |c| c.is_ascii_hexdigit());
    let octal_anywhere = (0..b.len().saturating_sub(2)).any(|i| {
        b[i] == b'0' && matches!(b[i + 1], b'o' | b'O') && matches!(b[i + 2], b'0'..=b'7')
    });
    let binary_end = {
        let digits = b
            .iter()
            .rev()
            .take_while(|c| matches!(c, b'0' | b'1'))
            .count();
        digits > 0
            && b.len() >= digits + 2
            && matches!(b[b.len() - digits - 1], b'b' | b'B')
            && b[b.len() - digits - 2] == b'0'
    };
    if hex_start || octal_anywhere || binary_end {
        return Some(js_number_of_radix_literal(s));
    }
    None
}

fn is_js_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > from
    };
    if !digits(&mut i) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// JavaScript's `Number(s)` where `s` is a `0x`/`0o`/`0b` literal with white space around it,
/// else NaN (every string [`js_number`] hands over that is not such a literal is NaN there).
fn js_number_of_radix_literal(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| {
        // ECMAScript's StrWhiteSpaceChar: Unicode White_Space without U+0085, plus U+FEFF.
        c.is_whitespace() && c != '\u{85}' || c == '\u{feff}'
    });
    let (bits, digits) = match t.get(..2) {
        Some("0x" | "0X") => (4, &t[2..]),
        Some("0o" | "0O") => (3, &t[2..]),
        Some("0b" | "0B") => (1, &t[2..]),
        _ => return f64::NAN,
    };
    let radix = 1u32 << bits;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return f64::NAN;
    }
    let digits = digits.trim_start_matches('0');
    // Up to 124 bits exactly, the rest as a sticky bit: rounding to 53 bits is then exact.
    let keep = 124 / bits as usize;
    let (head, tail) = digits.split_at(digits.len().min(keep));
    let mut m = u128::from_str_radix(if head.is_empty() { "0" } else { head }, radix).unwrap_or(0);
    if tail.bytes().any(|c| c != b'0') {
        m = m << 1 | 1;
        return (m as f64) * 2f64.powi((tail.len() * bits as usize) as i32 - 1);
    }
    (m as f64) * 2f64.powi((tail.len() * bits as usize) as i32)
}

/// Code of [`timezone_refusal`].
pub const TIMEZONE_NOT_A_NUMBER: &str = "TIMEZONE_NOT_A_NUMBER";

/// Why `$fromMillis(ms, picture, tz)` is refused for `tz`: jsonata-js reads the zone as
/// `parseInt(tz)` (`"+0530"`, `"-0330"`), so a zone that does not start with a sign or digit
/// (`"Europe/Paris"`, `"Z"`, `"GMT"`) is NaN there and every field prints as `NaN`, where
/// jsonata-core formats in UTC. Refused rather than either.
pub fn timezone_refusal(tz: &str) -> Option<String> {
    let t = tz.trim_start_matches(|c: char| c.is_whitespace() && c != '\u{85}' || c == '\u{feff}');
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    if t.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{TIMEZONE_NOT_A_NUMBER}: the timezone {} of $fromMillis/$now is not an offset: write it \
         as ±HHMM (\"+0100\", \"-0330\"); jsonata-js reads a zone name as NaN and prints NaN in \
         every field",
        serde_json::Value::String(tz.to_string())
    ))
}

/// A number as jsonata-js prints it in a message.
fn js_text(x: f64) -> String {
    let mut s = String::new();
    super::json::push_number(x, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;
    use serde_json::{json, Value};

    #[test]
    fn number_of_a_string_is_jsonata_js_s() {
        // jsonata-js 2.2.2: `$number(s)`; None is its D3030.
        for (s, want) in [
            ("12", Some(12.0)),
            ("-012.50", Some(-12.5)),
            ("1E+5", Some(1e5)),
            ("-0", Some(0.0)),
            ("0x1F", Some(31.0)),
            ("0x1f ", Some(31.0)),
            ("0o17", Some(15.0)),
            ("0b11", Some(3.0)),
            (" 12 ", None),
            ("+5", None),
            (".5", None),
            ("5.", None),
            ("1e400", None),
            ("", None),
            ("0b11\n", None),
            ("1,000", None),
        ] {
            assert_eq!(js_number(s), want, "{s:?}");
        }
        // Its hex/octal/binary test lets these through to `Number()`, which makes them NaN.
        for s in ["0x10zz", "abc0o17", "-0b11"] {
            assert!(js_number(s).is_some_and(f64::is_nan), "{s:?}");
        }
        assert_eq!(
            js_number("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
            Some(2f64.powi(136))
        );
    }

    /// `$round(x, n)` in jsonata-js 2.2.2 (the `jsonata` package of `benches/js`, node 20):
    /// each row was obtained by evaluating `$round(x, n)` there over `{"x": x, "n": n}` and
    /// printing the result; `None` where it is NaN or ±∞ (JSON `null`).
    const JS_ROUND: &[(f64, f64, Option<f64>)] = &[
        (0.43499999999999994, 2.0, Some(0.43)),
        (1.005, 2.0, Some(1.0)),
        (1.015, 2.0, Some(1.02)),
        (1.025, 2.0, Some(1.02)),
        (-1.005, 2.0, Some(-1.0)),
        (2.675, 2.0, Some(2.68)),
        (8.345, 2.0, Some(8.34)),
        (1.45, 1.0, Some(1.4)),
        (1.55, 1.0, Some(1.6)),
        (-1.55, 1.0, Some(-1.6)),
        (0.125, 2.0, Some(0.12)),
        (0.375, 2.0, Some(0.38)),
        (2.5, 0.0, Some(2.0)),
        (3.5, 0.0, Some(4.0)),
        (-2.5, 0.0, Some(-2.0)),
        (-3.5, 0.0, Some(-4.0)),
        (2.5000000000001, 0.0, Some(3.0)),
        (0.5, 0.0, Some(0.0)),
        (-0.5, 0.0, Some(0.0)),
        (-0.4, 0.0, Some(0.0)),
        (-0.004, 2.0, Some(0.0)),
        (123.456, -1.0, Some(120.0)),
        (125.0, -1.0, Some(120.0)),
        (135.0, -1.0, Some(140.0)),
        (15.0, -1.0, Some(20.0)),
        (25.0, -1.0, Some(20.0)),
        (1234.5678, -2.0, Some(1200.0)),
        (1e21, 2.0, Some(1e21)),
        (1e21, -2.0, Some(1e21)),
        (1.7976931348623157e308, -300.0, Some(1.79769313e308)),
        (1e307, 2.0, None),
        (1.5, 1.5, None),
        (3.0, 1e300, None),
        (12345.6789, 400.0, None),
        (1e-300, 305.0, Some(1e-300)),
        (5e-324, 2.0, Some(0.0)),
        (1e-7, 3.0, Some(0.0)),
        (1e-7, 7.0, Some(1e-7)),
        (9007199254740992.0, 0.0, Some(9007199254740992.0)),
        (4503599627370498.0, 0.0, Some(4503599627370498.0)),
        (0.30000000000000004, 15.0, Some(0.3)),
        (0.30000000000000004, 16.0, Some(0.3)),
        (1234.5678, 20.0, Some(1234.5678)),
        (-0.0000015, 6.0, Some(-0.000002)),
        (2.345e-10, 12.0, Some(2.34e-10)),
        (123456789.125, 2.0, Some(123456789.12)),
        (123456789012345670000.0, -5.0, Some(123456789012345700000.0)),
        (100.5, 0.0, Some(100.0)),
        (101.5, 0.0, Some(102.0)),
        (-0.05, 1.0, Some(0.0)),
        (0.045, 2.0, Some(0.04)),
        (4.35, 1.0, Some(4.4)),
        (39.995, 2.0, Some(40.0)),
        (-39.995, 2.0, Some(-40.0)),
        (1.0000000000000002, 15.0, Some(1.0)),
        (9.995, 2.0, Some(10.0)),
        (0.615, 2.0, Some(0.62)),
        (0.000013549999999999999, 7.0, Some(0.0000136)),
    ];

    #[test]
    fn round_equals_jsonata_js_on_tricky_values() {
        let mut wrong = Vec::new();
        for &(x, n, js) in JS_ROUND {
            let r = js_round(x, n);
            let ok = match js {
                Some(v) => r == v,
                None => !r.is_finite(),
            };
            if !ok {
                wrong.push(format!("$round({x}, {n}): jsonata-js {js:?}, cxsync {r}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        crate::transform::default_now()
    }

    /// The compiled path and the engine path give the same result or the same error.
    fn both(expr: &str, event: &Value) -> Result<Option<Value>, crate::transform::TransformError> {
        let compiled = Transform::compile(expr).unwrap();
        assert!(compiled.is_compiled(), "{expr} is compiled");
        let engine = Transform::compile_engine_only(expr).unwrap();
        let (c, e) = (compiled.eval(event, now()), engine.eval(event, now()));
        assert_eq!(c, e, "{expr} over {event}: compiled and engine differ");
        c
    }

    #[test]
    fn both_evaluators_round_as_jsonata_js() {
        for &(x, n, js) in JS_ROUND {
            let got = both("$round(x, n)", &json!({"x": x, "n": n})).unwrap();
            let want = js.map_or(Value::Null, |v| json!(v));
            let same = match (&got, &want) {
                (Some(g), w) if g.is_number() => g.as_f64() == w.as_f64(),
                (Some(g), w) => g == w,
                (None, _) => false,
            };
            assert!(same, "$round({x}, {n}): jsonata-js {want}, cxsync {got:?}");
        }
        // One argument, an undefined precision, and the wrong type (T0410 from the engine).
        assert_eq!(
            both("$round(x)", &json!({"x": 2.5})).unwrap(),
            Some(json!(2))
        );
        assert_eq!(
            both("$round(x, nothing)", &json!({"x": 1.5})).unwrap(),
            Some(json!(2))
        );
        let e = both("$round(x, 1)", &json!({"x": "a"})).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("T0410"));
    }

    #[test]
    fn round_as_a_value_has_jsonata_js_arity_on_the_engine_path() {
        // `$map` hands `$round` the value and the index (its arity is 2): jsonata-js gives
        // [1, 0.4, 2.68].
        let t = Transform::compile("$map(xs, $round)").unwrap();
        let out = t
            .eval(&json!({"xs": [1.005, 0.43499999999999994, 2.675]}), now())
            .unwrap();
        assert_eq!(out, Some(json!([1, 0.4, 2.68])));
        // A transform's own `$round` is left alone.
        let t =
            Transform::compile("($round := function($x, $n) { $x * 2 }; $round(x, 2))").unwrap();
        assert_eq!(t.eval(&json!({"x": 2}), now()).unwrap(), Some(json!(4)));
    }

    #[test]
    fn numbers_jsonata_core_gets_wrong_are_refused_on_both_paths() {
        let ev = json!({"big": -9.3e18, "huge": 1e21, "far": 1e300, "ok": 9.2e18});
        for (expr, code) in [
            ("$formatInteger(big, \"0\")", "D1001"),
            ("$formatInteger(1152921504606846976, \"#,##0\")", "D1001"),
            (
                "$formatInteger(5e12, \"I\")",
                crate::transform::limits::OUTPUT_TOO_LARGE,
            ),
            ("$formatNumber(huge, \"#,##0.00\")", "D1001"),
            ("$fromMillis(far)", "D1001"),
            ("$fromMillis(-far, \"[Y]\")", "D1001"),
        ] {
            let e = both(expr, &ev).unwrap_err();
            assert_eq!(e.code.as_deref(), Some(code), "{expr}: {e}");
        }
        // Words are spelt from the float, not refused (the official suite has 1e46).
        assert!(both("$formatInteger(big, \"w\")", &ev).is_ok());
        let e = both("$fromMillis(far)", &ev).unwrap_err();
        assert!(
            e.message.contains("$fromMillis(1e+300) is not a date"),
            "{e}"
        );
        // Within range, jsonata-core's own answers (equal to jsonata-js's).
        for (expr, want) in [
            ("$formatInteger(ok, \"0\")", json!("9200000000000000000")),
            (
                "$formatInteger(1e17, \"#,##0\")",
                json!("100,000,000,000,000,000"),
            ),
            ("$formatNumber(huge, \"0.00e0\")", json!("10.00e20")),
            ("$fromMillis(0)", json!("1970-01-01T00:00:00.000Z")),
        ] {
            assert_eq!(both(expr, &ev).unwrap(), Some(want), "{expr}");
        }
    }

    #[test]
    fn shifting_the_text_keeps_the_decimal_value() {
        // The decimal 43.499999999999994, read as JavaScript's `Number()` reads it.
        let want: f64 = "43.499999999999994".parse().unwrap();
        assert_eq!(shift_decimal(0.43499999999999994, 2.0), want);
        assert!(want < 43.5);
        assert_eq!(shift_decimal(43.0, -2.0), 0.43);
        assert_eq!(shift_decimal(1e21, 2.0), 1e23);
        assert!(shift_decimal(1.5, 0.5).is_nan());
        assert!(shift_decimal(f64::INFINITY, 1.0).is_nan());
        assert_eq!(shift_decimal(1.0, 1e20), f64::INFINITY);
        assert_eq!(shift_decimal(1.0, -1e20), 0.0);
    }

    #[test]
    fn math_round_ties_go_up() {
        assert_eq!(js_math_round(2.5), 3.0);
        assert_eq!(js_math_round(-2.5), -2.0);
        assert_eq!(js_math_round(0.49999999999999994), 0.0);
        assert_eq!(js_math_round(4503599627370497.0), 4503599627370497.0);
    }
}
