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
    matches!(t, Some(Token { kind: Tk::Var(v), .. }) if v == name)
}

fn text(chars: &[char], start: usize, end: usize) -> String {
    chars[start..end].iter().collect()
}

/// The text of `[start, end)` with the given (non-overlapping, sorted) fixes applied.
fn apply(chars: &[char], start: usize, end: usize, fixes: &[DialectFix]) -> String {
    let mut out = String::new();
    let mut at = start;
    for f in fixes.iter().filter(|f| f.fixable) {
        out.extend(&chars[at..f.start]);
        out.push_str(&f.replacement);
        at = f.end;
    }
    out.extend(&chars[at..end]);
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
            Tk::Var(v) if depth == 0 => match v.as_str() {
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

fn wrap(part: String, yes: bool) -> String {
    if yes {
        format!("({part})")
    } else {
        part
    }
}

fn scan(chars: &[char], toks: &[Token], lo: usize, hi: usize) -> Vec<DialectFix> {
    let mut out = Vec::new();
    let mut i = lo;
    while i < hi {
        let t = &toks[i];
        if is_op(Some(t), "?") && is_op(toks.get(i + 1), ".") && toks[i + 1].start == t.end {
            let dot = &toks[i + 1];
            // `a?.[0]` and `f?.(x)` are `a[0]` and `f(x)`; `a?.b` is `a.b`.
            let bracket = i + 2 < hi
                && toks[i + 2].start == dot.end
                && (is_op(toks.get(i + 2), "[") || is_op(toks.get(i + 2), "("));
            let replacement = if bracket { "" } else { "." }.to_string();
            out.push(DialectFix {
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
                message: "`?.` is not JSONata".to_string(),
                kind: DialectKind::OptionalChain,
                fixable: true,
                nested: Vec::new(),
            });
            i += 2;
            continue;
        }
        if is_var(Some(t), "if") && is_op(toks.get(i + 1), "(") {
            let Some((close, otherwise, end)) = structure(toks, i + 1, hi) else {
                out.push(DialectFix {
                    start: t.start,
                    end: t.end,
                    replacement: text(chars, t.start, t.end),
                    message: "`$if` without a matching `$end` is not JSONata".to_string(),
                    help: "JSONata's conditional is `condition ? then : else`".to_string(),
                    kind: DialectKind::IfElse,
                    fixable: false,
                    nested: Vec::new(),
                });
                i += 1;
                continue;
            };
            let then_hi = otherwise.unwrap_or(end);
            let cond_fixes = scan(chars, toks, i + 2, close);
            let then_fixes = scan(chars, toks, close + 1, then_hi);
            let else_fixes = otherwise
                .map(|e| scan(chars, toks, e + 1, end))
                .unwrap_or_default();
            let piece = |lo: usize, hi: usize, fixes: &[DialectFix]| -> String {
                if lo >= hi {
                    return String::new();
                }
                let (s, e) = (toks[lo].start, toks[hi - 1].end);
                apply(chars, s, e, fixes).trim().to_string()
            };
            let cond = piece(i + 2, close, &cond_fixes);
            let then = piece(close + 1, then_hi, &then_fixes);
            let els = otherwise.map(|e| piece(e + 1, end, &else_fixes));
            let fixable = !cond.is_empty() && !then.is_empty() && els.as_deref() != Some("");
            let mut replacement = format!(
                "{} ? {}",
                wrap(cond.clone(), needs_parens(&cond, false)),
                wrap(then.clone(), needs_parens(&then, true))
            );
            if let Some(e) = &els {
                replacement.push_str(" : ");
                replacement.push_str(e);
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
                replacement = format!("({replacement})");
            }
            let mut nested = cond_fixes;
            nested.extend(then_fixes);
            nested.extend(else_fixes);
            out.push(DialectFix {
                start: t.start,
                end: toks[end].end,
                help: if fixable {
                    format!("write `{replacement}`")
                } else {
                    "JSONata's conditional is `condition ? then : else`".to_string()
                },
                replacement,
                message: if otherwise.is_some() {
                    "`$if … $else … $end` is not JSONata".to_string()
                } else {
                    "`$if … $end` is not JSONata".to_string()
                },
                kind: DialectKind::IfElse,
                fixable,
                nested,
            });
            i = end + 1;
            continue;
        }
        i += 1;
    }
    out
}

/// `text` with every fixable use of the dialect rewritten.
pub fn rewrite(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let fixes = dialect(text);
    apply(&chars, 0, chars.len(), &fixes)
}
