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
//! differently from jsonata-js. [`translate`] spells those classes out (and `\s`, `\b`, `.`,
//! `[^]` as JavaScript means them) before the engine sees the pattern; the engine path applies
//! it to every regex literal of the tree too. What has no spelling (lookaround,
//! backreferences, `\p{…}`, which JavaScript reads as letters without the `u` flag) is refused
//! at validate and compile (`E506`, [`refusals`]), never matched otherwise.

use regex::Regex;

/// Code of a regex literal that uses JavaScript syntax the Rust `regex` crate cannot match as
/// JavaScript does (lookaround, backreferences, …): refused at validate and at compile.
pub const JS_ONLY: &str = "E506";

/// Compiles a JSONata regex literal (`/pattern/flags`) as the engine does, in JavaScript's
/// meaning ([`translate`]).
pub fn compile(pattern: &str, flags: &str) -> Result<Regex, String> {
    compile_translated(&translate(pattern)?, flags)
}

/// Compiles a pattern [`translate`] already gave, with the engine's flag translation.
pub fn compile_translated(pattern: &str, flags: &str) -> Result<Regex, String> {
    jsonata_core::functions::string::build_regex(pattern, flags).map_err(|e| e.to_string())
}

/// JavaScript's whitespace (`\s` in a regex, without the `u` flag): ECMAScript's WhiteSpace and
/// LineTerminator. Rust's `\s` adds U+0085 and lacks U+FEFF.
const JS_SPACE: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// `pattern`, a JSONata (JavaScript, no `u` flag) regex, written for the Rust `regex` crate so
/// it matches what it matches in jsonata-js: `\w`, `\d` ASCII (`[0-9A-Za-z_]`, `[0-9]`), `\b`
/// and `\B` ASCII word boundaries, `\s` JavaScript's white space, `.` anything but the four
/// line terminators, `[^]` any character. `Err` says why a pattern has no such spelling: the
/// JavaScript constructs Rust's engine lacks (lookaround, backreferences) or reads otherwise
/// (`\p{L}` is the letters `p{L}` without the `u` flag, `\z` is `z`, `\x{41}` is `x{41}`), and a
/// pattern Rust's parser refuses.
pub fn translate(pattern: &str) -> Result<String, String> {
    let refuse = |what: &str| {
        Err(format!("{what}; the Rust regex engine cxsync runs has no such construct or reads it otherwise, and no equivalent spelling"))
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    out.push('\\');
                    break;
                };
                i += 1;
                match (e, in_class) {
                    ('w', false) => out.push_str("[0-9A-Za-z_]"),
                    ('W', false) => out.push_str("[^0-9A-Za-z_]"),
                    ('d', false) => out.push_str("[0-9]"),
                    ('D', false) => out.push_str("[^0-9]"),
                    ('s', false) => {
                        out.push('[');
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    ('S', false) => {
                        out.push_str("[^");
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    ('b', false) => out.push_str("(?-u:\\b)"),
                    ('B', false) => out.push_str("(?-u:\\B)"),
                    ('w', true) => out.push_str("0-9A-Za-z_"),
                    ('d', true) => out.push_str("0-9"),
                    ('s', true) => out.push_str(JS_SPACE),
                    ('W' | 'D' | 'S', true) => {
                        return refuse(&format!("`\\{e}` inside a character class"))
                    }
                    ('1'..='9', _) | ('k', false) => {
                        return refuse("a backreference (`\\1`, `\\k<name>`)")
                    }
                    ('p' | 'P', _) => {
                        return refuse(&format!(
                            "`\\{e}`: without the `u` flag (which JSONata has no way to give) \
                             JavaScript reads `\\{e}{{…}}` as the letters `{e}{{…}}`, not a Unicode class"
                        ))
                    }
                    ('x', _) if chars.get(i) == Some(&'{') => {
                        return refuse("`\\x{…}` (JavaScript reads it as the letters `x{…}`)")
                    }
                    ('u', _) if chars.get(i) == Some(&'{') => {
                        return refuse("`\\u{…}` (JavaScript reads it as the letters `u{…}`)")
                    }
                    ('0', _) if chars.get(i).is_some_and(char::is_ascii_digit) => {
                        return refuse("an octal escape (`\\01`)")
                    }
                    ('0', _) => out.push_str("\\x00"),
                    ('c', _) => return refuse("a control escape (`\\cX`)"),
                    ('b', true) => out.push_str("\\x08"),
                    // The escapes both engines read alike.
                    ('n' | 'r' | 't' | 'f' | 'v' | 'x' | 'u', _) => {
                        out.push('\\');
                        out.push(e);
                    }
                    (e, _) if e.is_ascii_alphanumeric() => {
                        return refuse(&format!(
                            "`\\{e}` (JavaScript reads it as the letter `{e}`)"
                        ))
                    }
                    (e, _) => {
                        // An escaped punctuation character is itself in both.
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '(' if !in_class && chars.get(i) == Some(&'?') => {
                let next = chars.get(i + 1).copied();
                let after = chars.get(i + 2).copied();
                match (next, after) {
                    (Some('=' | '!'), _) | (Some('<'), Some('=' | '!')) => {
                        return refuse("a lookaround (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`)")
                    }
                    (Some(':'), _) | (Some('<'), _) => out.push('('),
                    _ => return refuse("a group `(?…)` JavaScript does not have"),
                }
            }
            '[' if !in_class => {
                if chars.get(i) == Some(&'^') && chars.get(i + 1) == Some(&']') {
                    out.push_str("(?s:.)");
                    i += 2;
                    continue;
                }
                if chars.get(i) == Some(&']') {
                    return refuse("an empty class `[]` (it matches nothing in JavaScript)");
                }
                in_class = true;
                out.push(c);
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // `[` inside a class is a literal in JavaScript, a nested class in Rust.
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '.' if !in_class => out.push_str("[^\\n\\r\\x{2028}\\x{2029}]"),
            '&' | '~' | '-' if in_class && chars.get(i) == Some(&c) => {
                // Rust reads `&&`, `~~` and `--` in a class as set operations.
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    regex::Regex::new(&out).map_err(|e| {
        let e = e.to_string();
        let last = e
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        format!("the regex engine cannot read it: {last}")
    })?;
    Ok(out)
}

/// Code of the run-time refusal [`astral_refusal`].
pub const UTF16_UNITS: &str = "REGEX_UTF16_UNITS";

/// Which builtin a regex runs in, for [`astral_safe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Contains,
    Split,
    Match,
    /// `$replace` with an empty replacement string.
    Delete,
    Replace,
}

/// Whether a [`translate`]d pattern gives JavaScript's answer in `use_` on a subject holding
/// characters beyond U+FFFF, which JavaScript (no `u` flag) sees as two UTF-16 units each
/// (`$match`'s `index` counts units on both paths). A pattern without `.`, a negated class,
/// `\S`/`\W`/`\D` or such a character matches whole characters alike in both. A single such
/// class with `+` or `*` (`[^0-9+]+`) takes both units of an emoji into one match, as cxsync
/// takes the character; alone (`[^0-9+]`) it does too when its matches are deleted
/// (`$replace(phone, /[^0-9+]/, "")`) or only tested (`$contains`). Anything else would differ
/// (`$replace("😀", /./, "*")` is `"**"` in jsonata-js): refused at run time on such text.
pub fn astral_safe(translated: &str, use_: Use) -> bool {
    let unit_class = translated.contains("[^") || translated.contains("(?s:.)");
    if has_astral(translated) {
        return false;
    }
    if !unit_class {
        return true;
    }
    match single_class_quantifier(translated) {
        Some("+" | "*" | "+?" | "*?") => true,
        Some("") => matches!(use_, Use::Contains | Use::Delete),
        _ => false,
    }
}

/// The quantifier after `p`'s one class when `p` is a single class (`[…]` or `(?s:.)`) and an
/// optional quantifier, else `None`.
fn single_class_quantifier(p: &str) -> Option<&str> {
    if let Some(rest) = p.strip_prefix("(?s:.)") {
        return Some(rest);
    }
    let b = p.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut i = 1;
    if b.get(i) == Some(&b'^') {
        i += 1;
    }
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => return None,
            b']' => return p.get(i + 1..),
            _ => i += 1,
        }
    }
    None
}

/// Whether `s` has a character beyond U+FFFF (two UTF-16 units in JavaScript).
pub fn has_astral(s: &str) -> bool {
    !s.is_ascii() && s.chars().any(|c| c > '\u{FFFF}')
}

/// The run-time refusal of a regex that is not [`astral_safe`] on a subject [`has_astral`].
pub fn astral_refusal() -> String {
    format!(
        "{UTF16_UNITS}: this regex on text with a character beyond U+FFFF (an emoji): JavaScript \
         matches such a character as two UTF-16 units, cxsync as one, so the answer would \
         differ; remove such characters first"
    )
}

/// Code of the run-time refusal [`split_units_refusal`].
pub const SPLIT_UTF16_UNITS: &str = "SPLIT_UTF16_UNITS";

/// The run-time refusal of `$split(s, "")` on a subject [`has_astral`]: jsonata-js splits such
/// a character into its two UTF-16 units (lone surrogates), which no Rust string holds.
pub fn split_units_refusal() -> String {
    format!(
        "{SPLIT_UTF16_UNITS}: $split with an empty separator on text with a character beyond \
         U+FFFF (an emoji): JavaScript splits such a character into two halves (lone UTF-16 \
         surrogates), which cxsync cannot give; remove such characters first"
    )
}

/// jsonata-js's message for a regex whose next match is empty (D1004).
pub const ZERO_LENGTH_MATCH: &str = "D1004: Regular expression matches zero length string";

/// `$split(s, re, limit)` as jsonata-js 2.2.2 runs it with a regex: it takes a match, keeps the
/// text before it, and, while fewer than `limit` parts are kept (`None`: no limit; the limit as
/// [`super::numbers::js_split_limit`] reads it), looks for the next match from the end of the
/// last; a next match of zero length before the end of `s` is D1004 ([`ZERO_LENGTH_MATCH`]),
/// `Err(())`. So `/x*/` and `/,?/` are refused while `/,|$/` splits. The parts are slices of `s`.
/// The compiled path's `$split` is this; the engine's host function refuses where it does.
#[allow(clippy::result_unit_err)]
pub fn js_split<'s>(re: &Regex, s: &'s str, limit: Option<usize>) -> Result<Vec<&'s str>, ()> {
    let limit = limit.unwrap_or(usize::MAX);
    let (mut parts, mut start, mut count) = (Vec::new(), 0, 0);
    let mut next = re.find(s);
    while let Some(m) = next {
        if count >= limit {
            break;
        }
        parts.push(&s[start..m.start()]);
        start = m.end();
        next = if m.end() >= s.len() {
            None
        } else {
            match re.find_at(s, m.end()) {
                Some(n) if n.is_empty() => return Err(()),
                n => n,
            }
        };
        count += 1;
    }
    if count < limit {
        parts.push(&s[start..]);
    }
    Ok(parts)
}

/// The regex literals of `tree` that [`translate`] refuses: (start, end, reason), in source order.
pub fn refusals(tree: &super::syntax::ast::Node) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut stack = vec![tree];
    while let Some(n) = stack.pop() {
        if let super::syntax::ast::Kind::Regex { pattern, .. } = &n.kind {
            if let Err(why) = translate(pattern) {
                out.push((n.start, n.end, why));
            }
        }
        n.kind.for_each_child(&mut |c| stack.push(c));
    }
    out.sort_by_key(|r| r.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_spelt_as_javascript_means_them() {
        for (from, to) in [
            (r"(\w+) (\w+)", "([0-9A-Za-z_]+) ([0-9A-Za-z_]+)"),
            (r"[\w.-]+@\d+", "[0-9A-Za-z_.-]+@[0-9]+"),
            (r"\W|\D", "[^0-9A-Za-z_]|[^0-9]"),
            (r"[^0-9+]", r"[^0-9+]"),
            (r"\bé", r"(?-u:\b)é"),
            (r"a.b", r"a[^\n\r\x{2028}\x{2029}]b"),
            (r"[^]", r"(?s:.)"),
            (r"[a[]", r"[a\[]"),
            (r"\/\.", r"\/\."),
            (r"(?:a)(?<n>b)", r"(?:a)(?<n>b)"),
        ] {
            assert_eq!(translate(from).as_deref(), Ok(to), "{from}");
        }
        let re = compile(r"(\w+) (\w+)", "").unwrap();
        // As jsonata-js: `é` is not a word character, so the name has no match.
        assert_eq!(re.replace("José Fernández", "$2, $1"), "José Fernández");
        assert_eq!(re.replace("Łukasz Wałęsa", "$2, $1"), "ŁWa, ukaszłęsa");
        assert!(!compile(r"^\d+$", "").unwrap().is_match("٣"));
        assert!(compile(r"^\w+$", "i").unwrap().is_match("ABC_1"));
        // jsonata-js 2.2.2: `\s` has U+FEFF and not U+0085; `.` stops at `\r` and U+2028.
        let s = compile(r"^\s+$", "").unwrap();
        assert!(s.is_match("\u{feff}\u{a0}\u{3000}\t"));
        assert!(!s.is_match("\u{85}"));
        assert!(!compile("a.b", "").unwrap().is_match("a\rb"));
        assert!(!compile(r"\bé", "").unwrap().is_match("é"));
    }

    #[test]
    fn what_javascript_reads_otherwise_is_refused_with_the_reason() {
        for (pattern, why) in [
            ("(?=b)", "lookaround"),
            ("(?<!a)b", "lookaround"),
            (r"(a)\1", "backreference"),
            (r"(?<n>a)\k<n>", "backreference"),
            (r"\p{L}", "letters `p{…}`"),
            (r"\z", "the letter `z`"),
            (r"\x{41}", "x{…}"),
            (r"[\S]", "inside a character class"),
            ("[]", "empty class"),
            ("a{,2}", "cannot read it"),
            ("(?i)a", "group"),
        ] {
            let e = translate(pattern).unwrap_err();
            assert!(e.contains(why), "{pattern}: {e}");
        }
    }

    #[test]
    fn only_patterns_that_see_an_emoji_as_javascript_does_run_on_one() {
        let safe = |p: &str, u: Use| astral_safe(&translate(p).unwrap(), u);
        assert!(safe(r"ORD-[0-9]+", Use::Match));
        assert!(safe(r"\s+", Use::Split));
        assert!(safe(r"[^a-z0-9]+", Use::Replace));
        assert!(safe(r"[^0-9+]", Use::Delete));
        assert!(safe(r"[^a-z]", Use::Contains));
        assert!(!safe(r"[^0-9+]", Use::Replace));
        assert!(!safe(r".", Use::Replace));
        assert!(!safe(r"^.$", Use::Contains));
        assert!(!safe(r"\s+|[^\w-]", Use::Replace));
        assert!(!safe(r"[^a]", Use::Split));
        assert!(!safe("😀+", Use::Match));
        assert!(has_astral("a😀") && !has_astral("aé—"));
    }
}
