//! The checks jsonata-js makes after parsing (its `processAST` pass): literal path steps (S0213),
//! predicates and focus bindings after group-by, order-by or predicates (S0209, S0210, S0215,
//! S0216), parent operators that cannot be resolved (S0217), an operand missing at the end
//! (S0207), and function signatures (S0401, S0402).
//!
//! It mirrors the reference's flattening of paths into steps just far enough to make the same
//! decisions; the tree itself is left as parsed.

use super::ast::{Kind, Node};
use super::SyntaxError;

/// Runs the post-parse checks on a tree.
pub fn validate(root: &Node) -> Result<(), SyntaxError> {
    let mut v = V { levels: Vec::new() };
    let p = v.proc(root)?;
    if matches!(p.kind, PK::Parent(_)) || p.seeking.is_some() {
        return Err(err(
            "S0217",
            "the parent operator `%` cannot be resolved here: there is no parent step",
            root.start,
            root.end,
        ));
    }
    Ok(())
}

fn err(code: &str, message: impl Into<String>, start: usize, end: usize) -> SyntaxError {
    SyntaxError {
        code: code.into(),
        message: message.into(),
        start,
        end,
        help: None,
    }
}

/// The processed shape of a node, as far as the checks need it.
struct P {
    kind: PK,
    /// Parent slots still looking for their step (jsonata-js's `seekingParent`).
    seeking: Option<Vec<usize>>,
    group: bool,
    preds: bool,
    focus: bool,
    start: usize,
    end: usize,
}

enum PK {
    Path(Vec<P>),
    Name,
    Wildcard,
    Parent(usize),
    Block(Option<Box<P>>),
    Sort,
    Num,
    Value,
    Str,
    Other,
}

impl P {
    fn new(kind: PK, n: &Node) -> P {
        P {
            kind,
            seeking: None,
            group: false,
            preds: false,
            focus: false,
            start: n.start,
            end: n.end,
        }
    }

    fn into_path(self) -> P {
        if matches!(self.kind, PK::Path(_)) {
            return self;
        }
        let (start, end) = (self.start, self.end);
        P {
            kind: PK::Path(vec![self]),
            seeking: None,
            group: false,
            preds: false,
            focus: false,
            start,
            end,
        }
    }
}

struct V {
    /// Level of every parent slot: how many steps up it still has to go.
    levels: Vec<i64>,
}

type R<T> = Result<T, SyntaxError>;

fn push_ancestry(result: &mut P, value: &P) {
    if value.seeking.is_some() || matches!(value.kind, PK::Parent(_)) {
        let mut slots = value.seeking.clone().unwrap_or_default();
        if let PK::Parent(s) = value.kind {
            slots.push(s);
        }
        result.seeking.get_or_insert_with(Vec::new).extend(slots);
    }
}

fn last_step(p: &mut P) -> &mut P {
    match p.kind {
        PK::Path(ref mut steps) => steps.last_mut().expect("a path has a step"),
        _ => p,
    }
}

impl V {
    fn seek(&mut self, node: &P, slot: usize) -> R<()> {
        match &node.kind {
            PK::Name | PK::Wildcard => self.levels[slot] -= 1,
            PK::Parent(_) => self.levels[slot] += 1,
            PK::Block(Some(last)) => self.seek(last, slot)?,
            PK::Block(None) => {}
            PK::Path(steps) => {
                let mut i = steps.len();
                i -= 1;
                self.seek(&steps[i], slot)?;
                while self.levels[slot] > 0 && i > 0 {
                    i -= 1;
                    self.seek(&steps[i], slot)?;
                }
            }
            _ => {
                return Err(err(
                    "S0217",
                    "the parent operator `%` cannot be resolved: the step before it is not a \
                     path step",
                    node.start,
                    node.end,
                ))
            }
        }
        Ok(())
    }

    fn resolve_ancestry(&mut self, path: &mut P) -> R<()> {
        let PK::Path(steps) = &path.kind else {
            return Ok(());
        };
        let last = steps.last().expect("a path has a step");
        let mut slots = last.seeking.clone().unwrap_or_default();
        if let PK::Parent(s) = last.kind {
            slots.push(s);
        }
        let mut unresolved = Vec::new();
        for slot in slots {
            let mut index = steps.len() as isize - 2;
            while self.levels[slot] > 0 {
                if index < 0 {
                    unresolved.push(slot);
                    break;
                }
                let mut step = &steps[index as usize];
                index -= 1;
                while index >= 0 && step.focus && steps[index as usize].focus {
                    step = &steps[index as usize];
                    index -= 1;
                }
                self.seek(step, slot)?;
            }
        }
        if !unresolved.is_empty() {
            path.seeking.get_or_insert_with(Vec::new).extend(unresolved);
        }
        Ok(())
    }

    fn proc(&mut self, n: &Node) -> R<P> {
        Ok(match &n.kind {
            Kind::Dot(lhs, rhs) => {
                let lstep = self.proc(lhs)?;
                let parent_slot = match lstep.kind {
                    PK::Parent(s) => Some(s),
                    _ => None,
                };
                let mut result = lstep.into_path();
                if let Some(s) = parent_slot {
                    result.seeking = Some(vec![s]);
                }
                let rest = self.proc(rhs)?;
                if let PK::Path(steps) = &mut result.kind {
                    match rest.kind {
                        PK::Path(more) => steps.extend(more),
                        _ => steps.push(rest),
                    }
                    for step in steps.iter_mut() {
                        match step.kind {
                            PK::Num | PK::Value => {
                                return Err(err(
                                    "S0213",
                                    "a number, `true`, `false` or `null` cannot be a step of \
                                     a path",
                                    step.start,
                                    step.end,
                                ))
                            }
                            PK::Str => step.kind = PK::Name,
                            _ => {}
                        }
                    }
                }
                result.end = n.end;
                self.resolve_ancestry(&mut result)?;
                result
            }
            Kind::Filter { lhs, pred: None } => self.proc(lhs)?,
            Kind::Filter {
                lhs,
                pred: Some(pred),
            } => {
                let mut result = self.proc(lhs)?;
                if last_step(&mut result).group {
                    return Err(err(
                        "S0209",
                        "a predicate cannot follow a group-by `{…}`",
                        pred.start,
                        pred.end,
                    ));
                }
                let predicate = self.proc(pred)?;
                let step = last_step(&mut result);
                if let Some(slots) = &predicate.seeking {
                    for &slot in slots {
                        if self.levels[slot] == 1 {
                            self.seek(step, slot)?;
                        } else {
                            self.levels[slot] -= 1;
                        }
                    }
                    push_ancestry(step, &predicate);
                }
                step.preds = true;
                result
            }
            Kind::Group { lhs, pairs } => {
                let mut result = self.proc(lhs)?;
                if result.group {
                    return Err(err(
                        "S0210",
                        "a path can have only one group-by `{…}`",
                        n.start,
                        n.end,
                    ));
                }
                for (k, v) in pairs {
                    self.proc(k)?;
                    self.proc(v)?;
                }
                result.group = true;
                result
            }
            Kind::Sort { lhs, terms } => {
                let mut result = self.proc(lhs)?.into_path();
                let mut sort = P::new(PK::Sort, n);
                for t in terms {
                    let e = self.proc(&t.expr)?;
                    push_ancestry(&mut sort, &e);
                }
                if let PK::Path(steps) = &mut result.kind {
                    steps.push(sort);
                }
                self.resolve_ancestry(&mut result)?;
                result
            }
            Kind::Focus { lhs, .. } => {
                let mut result = self.proc(lhs)?;
                let step = last_step(&mut result);
                if step.preds {
                    return Err(err(
                        "S0215",
                        "a focus binding `@` cannot follow a predicate",
                        n.start,
                        n.end,
                    ));
                }
                if matches!(step.kind, PK::Sort) {
                    return Err(err(
                        "S0216",
                        "a focus binding `@` cannot follow an order-by `^(…)`",
                        n.start,
                        n.end,
                    ));
                }
                step.focus = true;
                result
            }
            Kind::Index { lhs, .. } => self.proc(lhs)?.into_path(),
            Kind::Bind { var, value } => {
                self.proc(var)?;
                let v = self.proc(value)?;
                let mut r = P::new(PK::Other, n);
                push_ancestry(&mut r, &v);
                r
            }
            Kind::Apply(a, b) => {
                self.proc(a)?;
                self.proc(b)?;
                P::new(PK::Other, n)
            }
            Kind::Binary { lhs, rhs, .. }
            | Kind::Range(lhs, rhs)
            | Kind::Elvis(lhs, rhs)
            | Kind::Coalesce(lhs, rhs) => {
                let a = self.proc(lhs)?;
                let b = self.proc(rhs)?;
                let mut r = P::new(PK::Other, n);
                push_ancestry(&mut r, &a);
                push_ancestry(&mut r, &b);
                r
            }
            Kind::Array(items) => {
                let mut r = P::new(PK::Other, n);
                for i in items {
                    let v = self.proc(i)?;
                    push_ancestry(&mut r, &v);
                }
                r
            }
            Kind::Object(pairs) => {
                let mut r = P::new(PK::Other, n);
                for (k, v) in pairs {
                    let k = self.proc(k)?;
                    push_ancestry(&mut r, &k);
                    let v = self.proc(v)?;
                    push_ancestry(&mut r, &v);
                }
                r
            }
            Kind::Neg(x) => {
                let e = self.proc(x)?;
                if matches!(e.kind, PK::Num) {
                    P::new(PK::Num, n)
                } else {
                    let mut r = P::new(PK::Other, n);
                    push_ancestry(&mut r, &e);
                    r
                }
            }
            Kind::Call { callee, args, .. } => {
                let mut r = P::new(PK::Other, n);
                for a in args {
                    let v = self.proc(a)?;
                    push_ancestry(&mut r, &v);
                }
                self.proc(callee)?;
                r
            }
            Kind::Lambda { body, .. } => {
                self.proc(body)?;
                P::new(PK::Other, n)
            }
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => {
                let mut r = P::new(PK::Other, n);
                let c = self.proc(cond)?;
                push_ancestry(&mut r, &c);
                let t = self.proc(then)?;
                push_ancestry(&mut r, &t);
                if let Some(o) = otherwise {
                    let o = self.proc(o)?;
                    push_ancestry(&mut r, &o);
                }
                r
            }
            Kind::Transform {
                pattern,
                update,
                delete,
            } => {
                self.proc(pattern)?;
                self.proc(update)?;
                if let Some(d) = delete {
                    self.proc(d)?;
                }
                P::new(PK::Other, n)
            }
            Kind::Block(exprs) => {
                let mut r = P::new(PK::Other, n);
                let mut last = None;
                for e in exprs {
                    let v = self.proc(e)?;
                    push_ancestry(&mut r, &v);
                    last = Some(Box::new(v));
                }
                r.kind = PK::Block(last);
                r
            }
            Kind::Name(_) => P::new(PK::Name, n).into_path(),
            Kind::Parent => {
                self.levels.push(1);
                P::new(PK::Parent(self.levels.len() - 1), n)
            }
            Kind::Str(_) => P::new(PK::Str, n),
            Kind::Num(_) => P::new(PK::Num, n),
            Kind::Bool(_) | Kind::Null => P::new(PK::Value, n),
            Kind::Wildcard => P::new(PK::Wildcard, n),
            Kind::Descendant | Kind::Var(_) | Kind::Regex { .. } | Kind::Placeholder => {
                P::new(PK::Other, n)
            }
            Kind::Missing => {
                return Err(err(
                    "S0207",
                    "unexpected end of the expression: an operand is missing",
                    n.start,
                    n.end,
                ))
            }
        })
    }
}

/// Checks a function signature such as `<n-n:n>` (S0401: type parameters only on `a` and `f`;
/// S0402: no parameterised types inside a choice group).
pub fn signature(sig: &str, start: usize, end: usize) -> Result<(), SyntaxError> {
    let chars: Vec<char> = sig.chars().collect();
    let inner = &chars[1..chars.len().saturating_sub(1).max(1)];
    let mut prev: Option<char> = None;
    let mut in_choice = false;
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        match c {
            '(' => in_choice = true,
            ')' => in_choice = false,
            '<' => {
                if in_choice {
                    return Err(err(
                        "S0402",
                        "a choice group in a signature cannot hold a parameterised type",
                        start,
                        end,
                    ));
                }
                if !matches!(prev, Some('a' | 'f')) {
                    return Err(err(
                        "S0401",
                        "type parameters `<…>` apply only to arrays `a` and functions `f`",
                        start,
                        end,
                    ));
                }
                let mut depth = 1;
                while depth > 0 && i + 1 < inner.len() {
                    i += 1;
                    match inner[i] {
                        '<' => depth += 1,
                        '>' => depth -= 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        prev = Some(c);
        i += 1;
    }
    Ok(())
}
