//! String builtins as jsonata-js 2.2.2 defines them, where jsonata-core's differ. Both paths
//! call these (the engine through host functions registered over its builtins, the compiled
//! path directly), so the answer is jsonata-js's whichever path evaluates.
//!
//! - `$trim`: jsonata-js collapses runs of `[ \t\n\r]` to one space and drops one at each end;
//!   every other character is kept, the no-break space (U+00A0), U+2003 and U+3000 included
//!   (jsonata-core trims Unicode white space).
//! - `$base64encode` / `$base64decode`: jsonata-js on node is `Buffer.from(s,
//!   'binary').toString('base64')` and back: each UTF-16 code unit is ONE byte, its low 8 bits
//!   (Latin-1 for U+0000–U+00FF; `é` → `6Q==`, not UTF-8's `w6k=`; `日` loses its high byte),
//!   and decoding gives one character per byte. jsonata-core encodes UTF-8.
//! - `$substring` with fractional arguments: jsonata-js adds start and length as given and
//!   truncates each bound when slicing; jsonata-core truncates first (`1.7, 2.5`: 3 characters,
//!   not 2).

/// jsonata-js's `$trim(s)`.
pub fn js_trim(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    if out.starts_with(' ') {
        out.remove(0);
    }
    out
}

/// Whether [`js_trim`] would return `s` unchanged.
pub fn is_js_trimmed(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("  ")
        && !s.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r'))
}

/// jsonata-js's `$base64encode(s)` on node: the low byte of each UTF-16 code unit, in base64
/// with padding.
pub fn js_base64encode(s: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = s.encode_utf16().map(|u| (u & 0xff) as u8).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// jsonata-js's `$base64decode(s)` on node: `Buffer.from(s, 'base64')` (the URL-safe `-` and `_`
/// read as `+` and `/`, other characters skipped, the first `=` ends the data, a last lone
/// sextet dropped), each byte one character (Latin-1).
pub fn js_base64decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            '=' => break,
            _ => continue,
        };
        acc = (acc << 6 | v) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(char::from((acc >> bits & 0xff) as u8));
        }
    }
    out
}

/// `$substring(s, start, len)` as jsonata-js computes it (code points, `Array.prototype.slice`
/// bounds), as a slice of `s`; jsonata-core truncates the arguments before it adds them. As in JavaScript, the end is computed from the arguments as given and each bound
/// is truncated toward zero only when slicing: `$substring("abcdefghij", 1.7, 2.5)` is
/// `slice(1.7, 4.2)`, `"bcd"`. The arguments are finite (JSON numbers); any magnitude is safe.
pub fn js_substring(s: &str, start: f64, len: Option<f64>) -> &str {
    let n = if s.is_ascii() {
        s.len() as i64
    } else {
        s.chars().count() as i64
    };
    let nf = n as f64;
    let start = if nf + start < 0.0 { 0.0 } else { start };
    let end = match len {
        Some(l) if l <= 0.0 => return "",
        Some(l) => Some(if start >= 0.0 {
            start + l
        } else {
            nf + start + l
        }),
        None => None,
    };
    // `Array.prototype.slice`'s ToIntegerOrInfinity, then its clamping to `0..=n`; a float past
    // ± n clamps to ± (n + 1) before it becomes an integer.
    let bound = |x: f64| -> i64 {
        let t = x.trunc().clamp(-(nf + 1.0), nf + 1.0) as i64;
        if t < 0 {
            (n + t).max(0)
        } else {
            t.min(n)
        }
    };
    let from = bound(start);
    let to = end.map_or(n, bound);
    if from >= to {
        return "";
    }
    let byte = |c: i64| -> usize {
        if s.is_ascii() {
            c as usize
        } else {
            s.char_indices().nth(c as usize).map_or(s.len(), |(i, _)| i)
        }
    };
    &s[byte(from)..byte(to)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_javascripts_four_space_characters_only() {
        // jsonata-js 2.2.2's answers.
        for (from, to) in [
            ("  a \t\n b  ", "a b"),
            ("\u{a0}a\u{a0}", "\u{a0}a\u{a0}"),
            ("a\u{a0}b\u{a0} ", "a\u{a0}b\u{a0}"),
            ("\u{2003}a\u{3000}", "\u{2003}a\u{3000}"),
            ("\u{b}a\u{c}", "\u{b}a\u{c}"),
            (" ", ""),
            ("", ""),
        ] {
            assert_eq!(js_trim(from), to, "{from:?}");
            assert_eq!(is_js_trimmed(from), from == to, "{from:?}");
        }
    }

    #[test]
    fn base64_is_nodes_binary_encoding() {
        // node 20: Buffer.from(s, 'binary').toString('base64') and back.
        for (from, to) in [
            ("abc", "YWJj"),
            ("é", "6Q=="),
            ("日本", "5Sw="),
            ("😀", "PQA="),
            ("\u{100}\u{1ff}😀é", "AP89AOk="),
            ("", ""),
            ("ab", "YWI="),
        ] {
            assert_eq!(js_base64encode(from), to, "{from:?}");
        }
        for (from, to) in [
            ("YW=Jj", "a"),
            ("Y W J j", "abc"),
            ("YWJjéYQ", "abca"),
            ("YQ==YQ==", "a"),
            ("-_8", "ûÿ"),
            ("YWJ", "ab"),
            ("Y", ""),
            ("====", ""),
            ("w6k=", "Ã©"),
        ] {
            assert_eq!(js_base64decode(from), to, "{from:?}");
        }
    }
}
