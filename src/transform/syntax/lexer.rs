//! The JSONata tokenizer, following jsonata-js's `tokenizer` rule for rule (names end at any
//! operator character, `/` starts a regex only where an operand may start, numbers never carry a
//! sign) so that what parses here parses in the engine and the other way round. Offsets are
//! character offsets.

use super::ast::Kind;
use super::SyntaxError;

/// A token's kind and value.
#[derive(Debug, Clone, PartialEq)]
pub enum Tk {
    /// An operator or punctuation; `and`, `or` and `in` are operators too (and names where an
    /// operand is expected).
    Op(&'static str),
    /// An operand written as one token, as the leaf it parses to: a field name (backtick names
    /// included), a variable, a string, number, boolean, `null` or regex; no other [`Kind`].
    Leaf(Kind),
    End,
}

/// One token with its character span.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Tk,
    pub start: usize,
    pub end: usize,
}

/// Characters that end a name (jsonata-js's operator table) besides whitespace.
fn is_stop(c: char) -> bool {
    single(c).is_some()
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}')
}

/// The one-character operator `c` is, if any.
fn single(c: char) -> Option<&'static str> {
    Some(match c {
        '.' => ".",
        '[' => "[",
        ']' => "]",
        '{' => "{",
        '}' => "}",
        '(' => "(",
        ')' => ")",
        ',' => ",",
        '@' => "@",
        '#' => "#",
        ';' => ";",
        ':' => ":",
        '?' => "?",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        '|' => "|",
        '=' => "=",
        '<' => "<",
        '>' => ">",
        '^' => "^",
        '&' => "&",
        '!' => "!",
        '~' => "~",
        _ => return None,
    })
}

/// A lazy tokenizer over the characters of an expression.
pub struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
}

fn err(code: &str, message: impl Into<String>, start: usize, end: usize) -> SyntaxError {
    SyntaxError {
        code: code.to_string(),
        message: message.into(),
        start,
        end,
        help: None,
    }
}

impl<'a> Lexer<'a> {
    pub fn new(chars: &'a [char]) -> Self {
        Lexer { chars, pos: 0 }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// The next token. `infix` is true where an operand has just ended, so `/` is division;
    /// elsewhere `/` opens a regex (jsonata-js's `prefix` flag).
    pub fn next_token(&mut self, infix: bool) -> Result<Token, SyntaxError> {
        loop {
            while self.at(self.pos).is_some_and(is_ws) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let start = self.pos;
                self.pos += 2;
                loop {
                    if self.pos >= self.chars.len() {
                        return Err(err(
                            "S0106",
                            "comment has no closing `*/`",
                            start,
                            start + 2,
                        ));
                    }
                    if self.at(self.pos) == Some('*') && self.at(self.pos + 1) == Some('/') {
                        self.pos += 2;
                        break;
                    }
                    self.pos += 1;
                }
                continue;
            }
            break;
        }
        let start = self.pos;
        let Some(c) = self.at(start) else {
            return Ok(Token {
                kind: Tk::End,
                start,
                end: start,
            });
        };
        let tok = |kind, end| Ok(Token { kind, start, end });
        if !infix && c == '/' {
            return self.regex();
        }
        let two = match (c, self.at(start + 1)) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            ('?', Some(':')) => Some("?:"),
            ('?', Some('?')) => Some("??"),
            _ => None,
        };
        if let Some(op) = two {
            self.pos += 2;
            return tok(Tk::Op(op), start + 2);
        }
        if let Some(op) = single(c) {
            self.pos += 1;
            return tok(Tk::Op(op), start + 1);
        }
        if c == '"' || c == '\'' {
            return self.string(c);
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        if c == '`' {
            let from = start + 1;
            match (from..self.chars.len()).find(|&i| self.chars[i] == '`') {
                Some(close) => {
                    self.pos = close + 1;
                    return tok(
                        Tk::Leaf(Kind::Name(self.chars[from..close].iter().collect())),
                        close + 1,
                    );
                }
                None => {
                    self.pos = self.chars.len();
                    return Err(err(
                        "S0105",
                        "quoted name has no closing backtick",
                        start,
                        self.chars.len(),
                    ));
                }
            }
        }
        let mut i = start;
        while i < self.chars.len() && !is_ws(self.chars[i]) && !is_stop(self.chars[i]) {
            i += 1;
        }
        self.pos = i;
        let text: String = self.chars[start..i].iter().collect();
        if let Some(v) = text.strip_prefix('$') {
            return tok(Tk::Leaf(Kind::Var(v.to_string())), i);
        }
        let kind = match text.as_str() {
            "and" => Tk::Op("and"),
            "or" => Tk::Op("or"),
            "in" => Tk::Op("in"),
            "true" => Tk::Leaf(Kind::Bool(true)),
            "false" => Tk::Leaf(Kind::Bool(false)),
            "null" => Tk::Leaf(Kind::Null),
            "" => Tk::End,
            _ => Tk::Leaf(Kind::Name(text)),
        };
        tok(kind, i)
    }

    fn regex(&mut self) -> Result<Token, SyntaxError> {
        let open = self.pos;
        let start = open + 1;
        let mut i = start;
        let mut depth: i32 = 0;
        while i < self.chars.len() {
            let c = self.chars[i];
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while i > backslashes && self.chars[i - backslashes - 1] == '\\' {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    if i == start {
                        return Err(err("S0301", "empty regular expression", open, i + 1));
                    }
                    let pattern: String = self.chars[start..i].iter().collect();
                    let mut j = i + 1;
                    while matches!(self.at(j), Some('i' | 'm')) {
                        j += 1;
                    }
                    let flags: String = self.chars[i + 1..j].iter().collect();
                    self.pos = j;
                    return Ok(Token {
                        kind: Tk::Leaf(Kind::Regex { pattern, flags }),
                        start: open,
                        end: j,
                    });
                }
            }
            let escaped = i > 0 && self.chars[i - 1] == '\\';
            if matches!(c, '(' | '[' | '{') && !escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !escaped {
                depth -= 1;
            }
            i += 1;
        }
        Err(err(
            "S0302",
            "regular expression has no closing `/`",
            open,
            self.chars.len(),
        ))
    }

    fn string(&mut self, quote: char) -> Result<Token, SyntaxError> {
        let start = self.pos;
        let mut i = start + 1;
        let mut out = String::new();
        let mut pending_high: Option<u32> = None;
        while i < self.chars.len() {
            let c = self.chars[i];
            if c == '\\' {
                i += 1;
                let e = self.at(i);
                let simple = match e {
                    Some('"') => Some('"'),
                    Some('\\') => Some('\\'),
                    Some('/') => Some('/'),
                    Some('b') => Some('\u{8}'),
                    Some('f') => Some('\u{c}'),
                    Some('n') => Some('\n'),
                    Some('r') => Some('\r'),
                    Some('t') => Some('\t'),
                    _ => None,
                };
                if let Some(s) = simple {
                    flush_high(&mut out, &mut pending_high);
                    out.push(s);
                } else if e == Some('u') {
                    let hex: String = self.chars
                        [(i + 1).min(self.chars.len())..(i + 5).min(self.chars.len())]
                        .iter()
                        .collect();
                    if hex.is_empty() || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        return Err(err(
                            "S0104",
                            "`\\u` must be followed by four hexadecimal digits",
                            i - 1,
                            (i + 5).min(self.chars.len()),
                        ));
                    }
                    let unit = u32::from_str_radix(&hex, 16).unwrap_or(0xfffd);
                    push_unit(&mut out, &mut pending_high, unit);
                    i += 4;
                } else {
                    return Err(err(
                        "S0103",
                        format!(
                            "unsupported escape sequence `\\{}` in a string",
                            e.map(String::from).unwrap_or_default()
                        ),
                        i - 1,
                        (i + 1).min(self.chars.len()),
                    ));
                }
            } else if c == quote {
                flush_high(&mut out, &mut pending_high);
                self.pos = i + 1;
                return Ok(Token {
                    kind: Tk::Leaf(Kind::Str(out)),
                    start,
                    end: i + 1,
                });
            } else {
                flush_high(&mut out, &mut pending_high);
                out.push(c);
            }
            i += 1;
        }
        Err(err(
            "S0101",
            "string has no closing quote",
            start,
            self.chars.len(),
        ))
    }

    fn number(&mut self) -> Result<Token, SyntaxError> {
        let start = self.pos;
        let digits = |mut i: usize| {
            while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            i
        };
        // `0` or `[1-9][0-9]*`, then optional fraction and exponent, as jsonata-js's regex.
        let mut i = if self.at(start) == Some('0') {
            start + 1
        } else {
            digits(start)
        };
        if self.at(i) == Some('.') && self.at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            i = digits(i + 1);
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            if self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                i = digits(j);
            }
        }
        let text: String = self.chars[start..i].iter().collect();
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.pos = i;
                Ok(Token {
                    kind: Tk::Leaf(Kind::Num(n)),
                    start,
                    end: i,
                })
            }
            _ => Err(err(
                "S0102",
                format!("number `{text}` is out of range"),
                start,
                i,
            )),
        }
    }
}

fn flush_high(out: &mut String, pending: &mut Option<u32>) {
    if pending.take().is_some() {
        out.push('\u{fffd}');
    }
}

/// Appends one UTF-16 code unit, pairing surrogates as JavaScript strings would.
fn push_unit(out: &mut String, pending: &mut Option<u32>, unit: u32) {
    if (0xd800..0xdc00).contains(&unit) {
        flush_high(out, pending);
        *pending = Some(unit);
        return;
    }
    if (0xdc00..0xe000).contains(&unit) {
        if let Some(high) = pending.take() {
            let cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
        } else {
            out.push('\u{fffd}');
        }
        return;
    }
    flush_high(out, pending);
    out.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
}

/// Every token of `chars`, leniently: where the tokenizer fails it skips one character. Used by
/// the dialect scanner, which must work on text that is not JSONata.
pub fn tokens_lenient(chars: &[char]) -> Vec<Token> {
    let mut lx = Lexer::new(chars);
    let mut out: Vec<Token> = Vec::new();
    loop {
        // `/` is division after an operand, as the parser would decide.
        let infix = out
            .last()
            .is_some_and(|t| matches!(t.kind, Tk::Leaf(_) | Tk::Op(")" | "]" | "}")));
        let before = lx.pos;
        match lx.next_token(infix) {
            Ok(t) if t.kind == Tk::End => return out,
            Ok(t) => out.push(t),
            Err(_) => lx.pos = before + 1,
        }
        if lx.pos >= chars.len() && lx.pos == before {
            return out;
        }
    }
}
