//! Where in the expression a runtime error arose. jsonata-core's errors carry no position, so
//! the error is matched against cxsync's own span-carrying tree ([`super::syntax`]): the kind
//! of node that raises it (a call of the function it names, the operator it names, a range, a
//! unary minus) and, where the message says no more, the argument it names. A position is given
//! only when exactly one node of the expression fits; otherwise none (never a wrong one).
//!
//! The one place that answers it: `Transform`'s errors carry its start
//! ([`super::TransformError::offset`], shown as `file:line:col` by `eval`, `test`, `validate` and
//! `sim`), and lint's CX040 underlines its span.

use super::syntax::ast::{BinOp, Kind, Node};
use super::TransformError;

/// The span `[start, end)` (character offsets in `text`) of the one sub-expression that can
/// have raised `e`, when the error and the text say which.
pub fn span(text: &str, e: &TransformError) -> Option<(usize, usize)> {
    match suspects(text, e).as_slice() {
        [one] => Some(one.shown),
        _ => None,
    }
}

/// Every sub-expression of the kind that raises `e`, in source order.
fn suspects(text: &str, e: &TransformError) -> Vec<Suspect> {
    let mut found = Vec::new();
    let (Some(code), Ok(tree)) = (e.code.as_deref(), super::syntax::parse(text)) else {
        return found;
    };
    if let Some(want) = Culprit::of(code, &e.message) {
        candidates(&tree, &want, &mut found);
    }
    found
}

/// Where several sub-expressions could have raised `e`: the one that did, found by evaluating
/// the expression again with each of them in turn replaced by `null` (`again` evaluates a
/// variant text; `true` when it still fails with `e`'s code and message). The innermost of the
/// suspects whose replacement makes the error go, when they are nested in one another; none
/// otherwise. At most [`MAX_SUSPECTS`] re-evaluations, only after an error.
pub(super) fn pinpoint(
    text: &str,
    e: &TransformError,
    again: impl Fn(&str) -> bool,
) -> Option<(usize, usize)> {
    let suspects = suspects(text, e);
    if suspects.len() < 2 || suspects.len() > MAX_SUSPECTS {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let gone: Vec<Suspect> = suspects
        .into_iter()
        .filter(|s| {
            let (start, end) = s.node;
            let variant: String = chars[..start]
                .iter()
                .chain("(null)".chars().collect::<Vec<_>>().iter())
                .chain(chars[end.min(chars.len())..].iter())
                .collect();
            !again(&variant)
        })
        .collect();
    // Nested: each one inside the one before (`(a - b) - c`): the innermost.
    let nested = gone
        .windows(2)
        .all(|w| w[0].node.0 <= w[1].node.0 && w[1].node.1 <= w[0].node.1);
    match gone.last() {
        Some(innermost) if nested => Some(innermost.shown),
        _ => None,
    }
}

/// The most suspects [`pinpoint`] re-evaluates the expression for.
const MAX_SUSPECTS: usize = 16;

/// The kind of node an error comes from.
enum Culprit {
    /// A call of the builtin `name` (without `$`), with at least `args` arguments.
    Call { name: Option<String>, args: usize },
    /// A binary operator.
    Operator(BinOp),
    /// `[a..b]`.
    Range,
    /// `-x`.
    Negation,
}

impl Culprit {
    fn of(code: &str, message: &str) -> Option<Culprit> {
        let named = |name: &str| {
            Some(Culprit::Call {
                name: Some(name.to_string()),
                args: 0,
            })
        };
        match code {
            "D3030" => return named("number"),
            "D3137" => return named("error"),
            "D3141" => return named("assert"),
            "D3001" => return named("string"),
            "T2003" | "T2004" => return Some(Culprit::Range),
            "D1002" => return Some(Culprit::Negation),
            _ => {}
        }
        if let Some(rest) = message.split_once("function ").map(|(_, r)| r) {
            let name: String = rest
                .trim_start_matches('"')
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                return Some(Culprit::Call {
                    name: Some(name),
                    args: 0,
                });
            }
        }
        if code.starts_with("T2") {
            // `The left side of the - operator …`, `… either side of operator ">" …`.
            let op = message
                .split_once("side of the ")
                .and_then(|(_, r)| r.split_once(" operator"))
                .map(|(op, _)| op)
                .or_else(|| {
                    message
                        .split_once("operator \"")
                        .and_then(|(_, r)| r.split_once('"'))
                        .map(|(op, _)| op)
                })?;
            return BinOp::from_op(op.trim_matches('"')).map(Culprit::Operator);
        }
        if matches!(code, "T0410" | "T0412") {
            // jsonata-core's `Argument 2 must be String`: a builtin call with that argument.
            let n: usize = message
                .strip_prefix("Argument ")?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            return Some(Culprit::Call {
                name: None,
                args: n,
            });
        }
        None
    }
}

/// A node that can have raised the error: its span, and the span an error is shown at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Suspect {
    node: (usize, usize),
    shown: (usize, usize),
}

fn candidates(n: &Node, want: &Culprit, found: &mut Vec<Suspect>) {
    let fits = match (&n.kind, want) {
        (
            Kind::Call { callee, args, .. },
            Culprit::Call {
                name,
                args: at_least,
            },
        ) => match &callee.kind {
            Kind::Var(v) => {
                args.len() >= *at_least
                    && match name {
                        Some(name) => v == name,
                        None => super::syntax::is_builtin(v),
                    }
            }
            _ => false,
        },
        (Kind::Binary { op, .. }, Culprit::Operator(want)) => op == want,
        (Kind::Range(..), Culprit::Range) => true,
        (Kind::Neg(_), Culprit::Negation) => true,
        _ => false,
    };
    if fits {
        // A call is shown at its function's name (`$number`), as validate shows calls.
        let shown = match &n.kind {
            Kind::Call { callee, .. } => (callee.start, callee.end),
            _ => (n.start, n.end),
        };
        found.push(Suspect {
            node: (n.start, n.end),
            shown,
        });
    }
    n.kind.for_each_child(&mut |c| candidates(c, want, found));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, code: &str, message: &str) -> Option<String> {
        let e = TransformError {
            code: Some(code.into()),
            message: message.into(),
            offset: None,
        };
        span(text, &e).map(|(s, e)| text.chars().skip(s).take(e - s).collect())
    }

    #[test]
    fn the_one_node_that_raises_the_error_is_found() {
        let t = "{\"a\": x + 1, \"b\": s - 1, \"c\": $uppercase(n)}";
        assert_eq!(
            at(
                t,
                "T2001",
                "The left side of the - operator must evaluate to a number"
            )
            .as_deref(),
            Some("s - 1")
        );
        assert_eq!(
            at(t, "T0410", "Argument 1 must be String").as_deref(),
            Some("$uppercase")
        );
        assert_eq!(
            at(
                "a > 1 and b > \"x\"",
                "T2009",
                "The expressions on either side of operator \">\" must be of the same data type"
            ),
            None,
            "two `>`: no position rather than a wrong one"
        );
        assert_eq!(
            at(
                "$substring(n, 1)",
                "T0411",
                "Context value is not a compatible type with argument 1 of function \"substring\""
            )
            .as_deref(),
            Some("$substring")
        );
        assert_eq!(
            at(
                "[1..s]",
                "T2004",
                "Right operand of range operator must be a number"
            )
            .as_deref(),
            Some("1..s")
        );
        assert_eq!(
            at("-s", "D1002", "Cannot negate non-number value").as_deref(),
            Some("-s")
        );
        assert_eq!(
            at(
                "$number(x) + $number(y)",
                "D3030",
                "Unable to cast value to a number: \"x\""
            ),
            None
        );
    }
}
