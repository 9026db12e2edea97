//! `$encodeUrl`, `$encodeUrlComponent`, `$decodeUrl` and `$decodeUrlComponent` as jsonata-js
//! computes them: ECMAScript's `encodeURI`, `encodeURIComponent`, `decodeURI` and
//! `decodeURIComponent` (ECMA-262, "URI Handling Functions"), where a malformed sequence is
//! D3140. jsonata-core's versions keep spaces and quotes in `$encodeUrl` and decode a lone `%`;
//! both evaluators use these instead.

/// Characters `encodeURIComponent` leaves as they are (besides ASCII letters and digits).
const COMPONENT_MARKS: &[u8] = b"-_.!~*'()";
/// Characters `encodeURI` also leaves: the URI's reserved characters and `#`.
const URI_RESERVED: &[u8] = b";/?:@&=+$,#";

fn kept(b: u8, component: bool) -> bool {
    b.is_ascii_alphanumeric()
        || COMPONENT_MARKS.contains(&b)
        || (!component && URI_RESERVED.contains(&b))
}

/// `encodeURI(s)` (`component` false) or `encodeURIComponent(s)`: every UTF-8 byte of a
/// character outside the kept set as `%XX`, upper-case hex.
pub fn encode(s: &str, component: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if kept(b, component) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// `decodeURI(s)` (`component` false) or `decodeURIComponent(s)`; `None` where ECMAScript
/// throws URIError: a `%` without two hex digits, or escapes that are not one well-formed
/// UTF-8 character. `decodeURI` leaves an escape of a reserved character (`%2F`) as written.
pub fn decode(s: &str, component: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let hex = |i: usize| -> Option<u8> {
        let h = bytes.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            // Copy the run up to the next `%` (whole characters: `%` is ASCII).
            let end = bytes[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(bytes.len(), |p| i + p);
            out.push_str(&s[i..end]);
            i = end;
            continue;
        }
        if !bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            || !bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            return None;
        }
        let first = hex(i)?;
        if first < 0x80 {
            if !component && URI_RESERVED.contains(&first) {
                out.push_str(&s[i..i + 3]);
            } else {
                out.push(first as char);
            }
            i += 3;
            continue;
        }
        let n = match first {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return None,
        };
        let mut utf8 = vec![first];
        for k in 1..n {
            let at = i + 3 * k;
            if bytes.get(at) != Some(&b'%') {
                return None;
            }
            let b = hex(at)?;
            if b & 0xC0 != 0x80 {
                return None;
            }
            utf8.push(b);
        }
        // Overlong forms and surrogates are not well-formed UTF-8: URIError there too.
        out.push_str(std::str::from_utf8(&utf8).ok()?);
        i += 3 * n;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_as_ecmascript() {
        // jsonata-js 2.2.2's answers.
        assert_eq!(
            encode("a b#c?d=%é\u{e9}/[]", false),
            "a%20b#c?d=%25%C3%A9%C3%A9/%5B%5D"
        );
        assert_eq!(encode("https://ex.com/a b", false), "https://ex.com/a%20b");
        assert_eq!(
            encode("a\"b<c>d`e{f}|g\\h^i", false),
            "a%22b%3Cc%3Ed%60e%7Bf%7D%7Cg%5Ch%5Ei"
        );
        assert_eq!(encode("100%", false), "100%25");
        assert_eq!(encode("-_.!~*'()", false), "-_.!~*'()");
        assert_eq!(encode("?x=1&y=ä#z", true), "%3Fx%3D1%26y%3D%C3%A4%23z");
        assert_eq!(encode("😀", true), "%F0%9F%98%80");
    }

    #[test]
    fn decode_as_ecmascript() {
        assert_eq!(decode("%2F%41%C3%A9", false).as_deref(), Some("%2FAé"));
        assert_eq!(decode("%2F%41%C3%A9", true).as_deref(), Some("/Aé"));
        assert_eq!(decode("a%20b%23", false).as_deref(), Some("a b%23"));
        assert_eq!(decode("%F0%9F%98%80", true).as_deref(), Some("😀"));
        for bad in [
            "%",
            "%E9",
            "%2",
            "%zz",
            "%C3%41",
            "%ED%A0%80",
            "%C0%80",
            "%FF",
        ] {
            assert_eq!(decode(bad, false), None, "{bad}");
            assert_eq!(decode(bad, true), None, "{bad}");
        }
    }
}
