//! The guide's JSONata dialect, found at token level (the text does not parse as JSONata) and
//! rewritten to the standard form: `$if(c) a $else b $end` → `c ? a : b` and `a?.b` → `a.b`.
//!
//! Nested uses are rewritten inside their parent's replacement; parentheses are added only where
//! JSONata's precedence would otherwise regroup the parts (decided by parsing each part).

use super::ast::Kind;
use super::lexer::{tokens_lenient, Tk, Token};
use super::{DialectFix, DialectKind};

/// Finds every use of the dialect (outermost first; nested ones in `nested`).
pub fn dialect(text: &str) -> Vec<DialectFix> {
    let chars: Vec<char> = text.chars().collect();
    let toks = tokens_lenient(&chars);
    scan(&chars, &toks, 0, toks.len())
}

fn is_op(t: Option<&Token>, op: &str) -> bool {
    matches!(t, Some(Token { kind: Tk::Op(o), .. }) if *o == op)
}

fn is_var(t: Option<&Token>, name: &str) -> bool {
    matches!(t, Some(Token { kind: Tk::Leaf(Kind::Var(v)), .. }) if v == name)
}

fn text(chars: &[char], start: usize, end: usize) -> String {
    chars[start..end].iter().collect()
}

/// Rewritten text with, for every character, the offset in the original it stands for.
#[derive(Default, Clone)]
struct Mapped {
    text: Vec<char>,
    map: Vec<usize>,
}

impl Mapped {
    fn copy(&mut self, chars: &[char], start: usize, end: usize) {
        self.text.extend(&chars[start..end]);
        self.map.extend(start..end);
    }

    /// Synthesised text (operators, parentheses), standing for offset `at`.
    fn put(&mut self, s: &str, at: usize) {
        for c in s.chars() {
            self.text.push(c);
            self.map.push(at);
        }
    }

    fn append(&mut self, other: &Mapped) {
        self.text.extend(&other.text);
        self.map.extend(&other.map);
    }

    fn trim(mut self) -> Mapped {
        let lead = self.text.iter().take_while(|c| c.is_whitespace()).count();
        let trail = self.text[lead..]
            .iter()
            .rev()
            .take_while(|c| c.is_whitespace())
            .count();
        let n = self.text.len() - trail;
        self.text = self.text[lead..n].to_vec();
        self.map = self.map[lead..n].to_vec();
        self
    }

    fn string(&self) -> String {
        self.text.iter().collect()
    }
}

/// `[start, end)` with the given (non-overlapping, sorted) fixes applied.
fn apply(chars: &[char], start: usize, end: usize, fixes: &[DialectFix]) -> Mapped {
    let mut out = Mapped::default();
    let mut at = start;
    for f in fixes.iter().filter(|f| f.fixable) {
        out.copy(chars, at, f.start);
        out.text.extend(f.replacement.chars());
        out.map.extend(&f.origins);
        at = f.end;
    }
    out.copy(chars, at, end);
    out
}

/// Where the `$if` construct whose `(` is token `i` ends: (index of `)` closing the condition,
/// index of `$else` if any, index of `$end`).
fn structure(toks: &[Token], i: usize, hi: usize) -> Option<(usize, Option<usize>, usize)> {
    let mut depth = 0i32;
    let mut j = i;
    let close = loop {
        if j >= hi {
            return None;
        }
        match &toks[j].kind {
            Tk::Op("(" | "[" | "{") => depth += 1,
            Tk::Op(")" | "]" | "}") => {
                depth -= 1;
                if depth == 0 {
                    break j;
                }
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
        j += 1;
    };
    let mut nested = 0;
    let mut depth = 0i32;
    let mut otherwise = None;
    for k in close + 1..hi {
        match &toks[k].kind {
            Tk::Op("(" | "[" | "{") => depth += 1,
            Tk::Op(")" | "]" | "}") => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            Tk::Leaf(Kind::Var(v)) if depth == 0 => match v.as_str() {
                "if" if is_op(toks.get(k + 1), "(") => nested += 1,
                "else" if nested == 0 => {
                    if otherwise.is_some() {
                        return None;
                    }
                    otherwise = Some(k);
                }
                "end" if nested > 0 => nested -= 1,
                "end" => return Some((close, otherwise, k)),
                _ => {}
            },
            _ => {}
        }
    }
    None
}

/// Whether a part must be parenthesised: it does not parse on its own, or its top-level operator
/// would capture the `?`/`:` around it.
fn needs_parens(part: &str, then_branch: bool) -> bool {
    match super::parse(part) {
        Ok(n) => matches!(
            n.kind,
            Kind::Cond { .. } | Kind::Bind { .. } | Kind::Elvis(..) | Kind::Coalesce(..)
        ),
        Err(_) => !then_branch || part.contains(':') || part.contains('?'),
    }
}

fn wrap(part: &Mapped, yes: bool) -> Mapped {
    let mut out = Mapped::default();
    let at = part.map.first().copied().unwrap_or(0);
    if yes {
        out.put("(", at);
    }
    out.append(part);
    if yes {
        out.put(")", part.map.last().copied().unwrap_or(at));
    }
    out
}

fn scan(chars: &[char], toks: &[Token], lo: usize, hi: usize) -> Vec<DialectFix> {
    let mut out = Vec::new();
    let mut i = lo;
    while i < hi {
        let found = optional_chain(chars, toks, i, hi).or_else(|| if_else(chars, toks, lo, i, hi));
        match found {
            Some((fix, next)) => {
                out.push(fix);
                i = next;
            }
            None => i += 1,
        }
    }
    out
}

/// The use of `?.` at token `i` (`a?.["name"]`, `a?.[0]`, `f?.(x)`, `a?.b`), and the index of
/// the token after it.
fn optional_chain(
    chars: &[char],
    toks: &[Token],
    i: usize,
    hi: usize,
) -> Option<(DialectFix, usize)> {
    let t = &toks[i];
    if !(is_op(Some(t), "?") && is_op(toks.get(i + 1), ".") && toks[i + 1].start == t.end) {
        return None;
    }
    let dot = &toks[i + 1];
    let adjacent = i + 2 < hi && toks[i + 2].start == dot.end;
    // `a?.["name"]` is the field `name` (`a.name`): in JSONata `a["name"]` would be a
    // filter, true for every item.
    if adjacent && is_op(toks.get(i + 2), "[") && is_op(toks.get(i + 4), "]") && i + 4 < hi {
        if let Tk::Leaf(Kind::Str(name)) = &toks[i + 3].kind {
            let close = &toks[i + 4];
            let fixable = !name.contains('`');
            let replacement = format!(".`{name}`");
            let fix = DialectFix {
                start: t.start,
                end: close.end,
                origins: vec![dot.start; replacement.chars().count()],
                replacement: if fixable {
                    replacement
                } else {
                    text(chars, t.start, close.end)
                },
                help: if fixable {
                    format!("write `.`{name}``: in JSONata `[\"{name}\"]` is a filter, not a field")
                } else {
                    "use `$lookup(…, name)`: the name holds a backtick".to_string()
                },
                message: "`?.[\"…\"]` is not JSONata".to_string(),
                kind: DialectKind::OptionalChain,
                fixable,
                nested: Vec::new(),
            };
            return Some((fix, i + 5));
        }
    }
    // `a?.[0]` and `f?.(x)` are `a[0]` and `f(x)`; `a?.b` is `a.b`.
    let bracket = adjacent && (is_op(toks.get(i + 2), "[") || is_op(toks.get(i + 2), "("));
    let replacement = if bracket { "" } else { "." }.to_string();
    let origins = if bracket { vec![] } else { vec![dot.start] };
    let fix = DialectFix {
        start: t.start,
        end: dot.end,
        help: if bracket {
            "remove `?.`: JSONata needs no optional chaining".to_string()
        } else {
            "write `.`: a step into a missing field is already undefined in JSONata, \
             not an error"
                .to_string()
        },
        replacement,
        origins,
        message: "`?.` is not JSONata".to_string(),
        kind: DialectKind::OptionalChain,
        fixable: true,
        nested: Vec::new(),
    };
    Some((fix, i + 2))
}

/// The `$if(…) … [$else …] $end` starting at token `i` (the scan's range being `[lo, hi)`),
/// with the uses nested in its parts, and the index of the token after it.
fn if_else(
    chars: &[char],
    toks: &[Token],
    lo: usize,
    i: usize,
    hi: usize,
) -> Option<(DialectFix, usize)> {
    let t = &toks[i];
    if !(is_var(Some(t), "if") && is_op(toks.get(i + 1), "(")) {
        return None;
    }
    let Some((close, otherwise, end)) = structure(toks, i + 1, hi) else {
        let fix = DialectFix {
            start: t.start,
            end: t.end,
            replacement: text(chars, t.start, t.end),
            origins: (t.start..t.end).collect(),
            message: "`$if` without a matching `$end` is not JSONata".to_string(),
            help: "JSONata's conditional is `condition ? then : else`".to_string(),
            kind: DialectKind::IfElse,
            fixable: false,
            nested: Vec::new(),
        };
        return Some((fix, i + 1));
    };
    let then_hi = otherwise.unwrap_or(end);
    let cond_fixes = scan(chars, toks, i + 2, close);
    let then_fixes = scan(chars, toks, close + 1, then_hi);
    let else_fixes = otherwise
        .map(|e| scan(chars, toks, e + 1, end))
        .unwrap_or_default();
    let piece = |lo: usize, hi: usize, fixes: &[DialectFix]| -> Mapped {
        if lo >= hi {
            return Mapped::default();
        }
        let (s, e) = (toks[lo].start, toks[hi - 1].end);
        apply(chars, s, e, fixes).trim()
    };
    let cond = piece(i + 2, close, &cond_fixes);
    let then = piece(close + 1, then_hi, &then_fixes);
    let els = otherwise.map(|e| piece(e + 1, end, &else_fixes));
    let fixable = !cond.text.is_empty()
        && !then.text.is_empty()
        && els.as_ref().is_none_or(|e| !e.text.is_empty());
    let mut rep = wrap(&cond, needs_parens(&cond.string(), false));
    rep.put(" ? ", toks[close].start);
    rep.append(&wrap(&then, needs_parens(&then.string(), true)));
    if let (Some(e), Some(at)) = (&els, otherwise) {
        rep.put(" : ", toks[at].start);
        rep.append(e);
    }
    // The construct was an operand on its own; keep it one where its neighbours would
    // otherwise take part of it.
    let prev_ok = i == lo
        || matches!(
            toks[i - 1].kind,
            Tk::Op("(" | "[" | "," | ":" | ";" | "{" | ":=" | "?")
        );
    let next = toks.get(end + 1).filter(|_| end + 1 < hi);
    let next_ok = match next.map(|t| &t.kind) {
        None => true,
        Some(Tk::Op(")" | "]" | "}" | "," | ";")) => true,
        Some(Tk::Op(":")) => els.is_some(),
        _ => false,
    };
    if !(prev_ok && next_ok) {
        let mut outer = Mapped::default();
        outer.put("(", t.start);
        outer.append(&rep);
        outer.put(")", toks[end].start);
        rep = outer;
    }
    let replacement = rep.string();
    let mut nested = cond_fixes;
    nested.extend(then_fixes);
    nested.extend(else_fixes);
    let fix = DialectFix {
        start: t.start,
        end: toks[end].end,
        help: if fixable {
            format!("write `{replacement}`")
        } else {
            "JSONata's conditional is `condition ? then : else`".to_string()
        },
        replacement,
        origins: rep.map,
        message: if otherwise.is_some() {
            "`$if … $else … $end` is not JSONata".to_string()
        } else {
            "`$if … $end` is not JSONata".to_string()
        },
        kind: DialectKind::IfElse,
        fixable,
        nested,
    };
    Some((fix, end + 1))
}

/// `text` with every fixable use of the dialect rewritten.
pub fn rewrite(text: &str) -> String {
    rewrite_mapped(text).0
}

/// `text` rewritten, and for every character of the result the offset in `text` it stands for
/// (so positions found in the rewritten text can be reported in the original).
pub fn rewrite_mapped(text: &str) -> (String, Vec<usize>) {
    let chars: Vec<char> = text.chars().collect();
    let fixes = dialect(text);
    let m = apply(&chars, 0, chars.len(), &fixes);
    (m.string(), m.map)
}
