//! Lowering cxsync's syntax tree ([`crate::transform::syntax::ast`]) to the compiled form,
//! following jsonata-js's `processAST`: `a.b[0].c` becomes one path of three steps with the
//! predicate as a stage of `b`; a predicate on anything else filters that node's result;
//! `{…}` after a path groups the path's result; `^(…)` is a sort step.
//!
//! Anything outside the compiled subset makes the whole transform go to the engine
//! ([`NoCompile`]): tuple streams (`@`, `#`, `%`), wildcards and descendants, `| … |`
//! transforms, partial application, lambda signatures, regexes outside the regex functions,
//! builtins used as values, and the builtins the evaluator does not know.

use std::collections::HashSet;

use regex::Regex;

use super::ir::*;
use crate::transform::syntax::ast::{self, BinOp, Kind};

/// The expression uses something the compiler does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NoCompile;

type L<T> = Result<T, NoCompile>;

/// The lowered program's parts.
pub(super) struct Lowered {
    pub root: Node,
    pub vars: Vec<Box<str>>,
    pub regexes: Vec<Regex>,
}

/// Native builtins: name, implementation, fewest and most arguments, and whether a call with
/// no arguments takes the context (`name.$uppercase()`).
const NATIVE: &[(&str, Builtin, usize, usize, bool)] = &[
    ("abs", Builtin::Abs, 1, 1, false),
    ("append", Builtin::Append, 2, 2, false),
    ("assert", Builtin::Assert, 1, 2, false),
    ("average", Builtin::Average, 1, 1, false),
    ("boolean", Builtin::Boolean, 0, 1, true),
    ("ceil", Builtin::Ceil, 1, 1, false),
    ("contains", Builtin::Contains, 2, 2, false),
    ("count", Builtin::Count, 1, 1, false),
    ("distinct", Builtin::Distinct, 1, 1, false),
    ("each", Builtin::Each, 2, 2, false),
    ("exists", Builtin::Exists, 1, 1, false),
    ("filter", Builtin::Filter, 2, 2, false),
    ("floor", Builtin::Floor, 1, 1, false),
    ("join", Builtin::Join, 1, 2, false),
    ("keys", Builtin::Keys, 1, 1, false),
    ("length", Builtin::Length, 0, 1, true),
    ("lookup", Builtin::Lookup, 2, 2, false),
    ("lowercase", Builtin::Lowercase, 0, 1, true),
    ("map", Builtin::Map, 2, 2, false),
    ("match", Builtin::Match, 2, 3, false),
    ("max", Builtin::Max, 1, 1, false),
    ("merge", Builtin::Merge, 1, 1, false),
    ("millis", Builtin::Millis, 0, 0, false),
    ("min", Builtin::Min, 1, 1, false),
    ("not", Builtin::Not, 1, 1, false),
    ("now", Builtin::Now, 0, 0, false),
    ("number", Builtin::Number, 0, 1, true),
    ("pad", Builtin::Pad, 2, 3, false),
    ("power", Builtin::Power, 2, 2, false),
    ("reduce", Builtin::Reduce, 2, 3, false),
    ("replace", Builtin::Replace, 3, 4, false),
    ("reverse", Builtin::Reverse, 1, 1, false),
    ("round", Builtin::Round, 1, 2, false),
    ("sort", Builtin::Sort, 1, 2, false),
    ("split", Builtin::Split, 2, 3, false),
    ("sqrt", Builtin::Sqrt, 1, 1, false),
    ("string", Builtin::String, 0, 2, true),
    ("substring", Builtin::Substring, 2, 3, false),
    ("substringAfter", Builtin::SubstringAfter, 2, 2, false),
    ("substringBefore", Builtin::SubstringBefore, 2, 2, false),
    ("sum", Builtin::Sum, 1, 1, false),
    ("trim", Builtin::Trim, 0, 1, true),
    ("type", Builtin::Type, 1, 1, false),
    ("uppercase", Builtin::Uppercase, 0, 1, true),
];

/// Pure builtins evaluated by the engine itself, with their argument counts.
const ENGINE: &[(&str, usize, usize)] = &[
    ("base64decode", 1, 1),
    ("base64encode", 1, 1),
    ("clone", 1, 1),
    ("decodeUrl", 1, 1),
    ("decodeUrlComponent", 1, 1),
    ("encodeUrl", 1, 1),
    ("encodeUrlComponent", 1, 1),
    ("formatBase", 1, 2),
    ("formatInteger", 2, 2),
    ("formatNumber", 2, 3),
    ("fromMillis", 1, 3),
    ("parseInteger", 2, 2),
    ("toMillis", 1, 2),
];

/// The builtins whose argument may be a regex literal, and at which position.
fn regex_position(b: Builtin) -> Option<usize> {
    match b {
        Builtin::Replace | Builtin::Match | Builtin::Contains | Builtin::Split => Some(1),
        _ => None,
    }
}

pub(super) fn lower(tree: &ast::Node) -> L<Lowered> {
    let mut lw = Lower {
        vars: Vec::new(),
        regexes: Vec::new(),
        bound: crate::transform::syntax::bound_names(tree)
            .into_iter()
            .collect(),
        keep_bases: HashSet::new(),
    };
    lw.scan(tree);
    let root = lw.lower(tree)?;
    Ok(Lowered {
        root,
        vars: lw.vars,
        regexes: lw.regexes,
    })
}

struct Lower {
    vars: Vec<Box<str>>,
    regexes: Vec<Regex>,
    /// Names bound anywhere ([`crate::transform::syntax::bound_names`]).
    bound: HashSet<String>,
    /// Nodes that carry jsonata-js's `keepArray` (the base of a `[]`).
    keep_bases: HashSet<*const ast::Node>,
}

pub(super) fn is_builtin(name: &str) -> bool {
    crate::transform::syntax::is_builtin(name)
}

impl Lower {
    /// Collects the bases of `[]`.
    fn scan(&mut self, n: &ast::Node) {
        if let Kind::Filter { lhs, pred: None } = &n.kind {
            let mut base: &ast::Node = lhs;
            while let Kind::Filter { lhs, .. } = &base.kind {
                base = lhs;
            }
            self.keep_bases.insert(base as *const _);
        }
        n.kind.for_each_child(&mut |c| self.scan(c));
    }

    fn var(&mut self, name: &str) -> Var {
        if let Some(i) = self.vars.iter().position(|v| &**v == name) {
            return i as Var;
        }
        self.vars.push(name.into());
        (self.vars.len() - 1) as Var
    }

    fn boxed(&mut self, n: &ast::Node) -> L<Box<Node>> {
        Ok(Box::new(self.lower(n)?))
    }

    fn lower(&mut self, n: &ast::Node) -> L<Node> {
        let mut node = self.lower_kind(n)?;
        if self.keep_bases.contains(&(n as *const _)) {
            node.keep_array = true;
            if let K::Path(p) = &mut node.kind {
                p.keep_singleton = true;
                if p.steps.len() == 1 {
                    if let StepKind::Expr(first) = &mut p.steps[0].kind {
                        first.keep_array = true;
                    }
                }
                p.names = None;
            }
        }
        Ok(node)
    }

    fn lower_kind(&mut self, n: &ast::Node) -> L<Node> {
        let k = match &n.kind {
            Kind::Name(name) => return Ok(name_path(name)),
            Kind::Var(v) if v.is_empty() => K::Context,
            Kind::Var(v) if v == "$" => K::Root,
            Kind::Var(v) => {
                let builtin = is_builtin(v);
                if builtin && !self.bound.contains(v.as_str()) {
                    // A builtin used as a value (`$map(a, $string)`).
                    return Err(NoCompile);
                }
                K::Var {
                    var: self.var(v),
                    builtin,
                }
            }
            Kind::Str(s) => K::Str(s.as_str().into()),
            Kind::Num(x) => K::Num(*x),
            Kind::Bool(b) => K::Bool(*b),
            Kind::Null => K::Null,
            Kind::Neg(x) => match &x.kind {
                Kind::Num(v) => K::Num(-v),
                _ => K::Neg(self.boxed(x)?),
            },
            Kind::Binary { op, lhs, rhs } => {
                let (l, r) = (self.boxed(lhs)?, self.boxed(rhs)?);
                match op {
                    BinOp::Add => K::Arith(Arith::Add, l, r),
                    BinOp::Sub => K::Arith(Arith::Sub, l, r),
                    BinOp::Mul => K::Arith(Arith::Mul, l, r),
                    BinOp::Div => K::Arith(Arith::Div, l, r),
                    BinOp::Mod => K::Arith(Arith::Mod, l, r),
                    BinOp::Lt => K::Cmp(Cmp::Lt, l, r),
                    BinOp::Le => K::Cmp(Cmp::Le, l, r),
                    BinOp::Gt => K::Cmp(Cmp::Gt, l, r),
                    BinOp::Ge => K::Cmp(Cmp::Ge, l, r),
                    BinOp::Eq => K::Eq(false, l, r),
                    BinOp::Ne => K::Eq(true, l, r),
                    BinOp::In => K::In(l, r),
                    BinOp::And => K::And(l, r),
                    BinOp::Or => K::Or(l, r),
                    BinOp::Concat => K::Concat(l, r),
                }
            }
            Kind::Dot(lhs, rhs) => return self.dot(lhs, rhs),
            Kind::Filter { lhs, pred } => {
                let mut base = self.lower(lhs)?;
                let Some(pred) = pred else {
                    // `[]`: the keepArray flag sits on the base (see `scan`).
                    return Ok(base);
                };
                let pred = self.lower(pred)?;
                match &mut base.kind {
                    K::Path(p) => {
                        if p.group.is_some() {
                            return Err(NoCompile);
                        }
                        let last = p.steps.last_mut().ok_or(NoCompile)?;
                        last.stages.push(pred);
                        p.names = None;
                    }
                    _ => {
                        if base.group.is_some() {
                            return Err(NoCompile);
                        }
                        base.predicates.push(pred);
                    }
                }
                return Ok(base);
            }
            Kind::Group { lhs, pairs } => {
                let mut base = self.lower(lhs)?;
                let group = self.group(pairs)?;
                match &mut base.kind {
                    K::Path(p) => {
                        if p.group.is_some() {
                            return Err(NoCompile);
                        }
                        p.group = Some(group);
                    }
                    _ => {
                        if base.group.is_some() {
                            return Err(NoCompile);
                        }
                        base.group = Some(group);
                    }
                }
                return Ok(base);
            }
            Kind::Sort { lhs, terms } => {
                let base = self.lower(lhs)?;
                let mut path = into_path(base)?;
                let mut out = Vec::with_capacity(terms.len());
                for t in terms {
                    out.push(SortTerm {
                        descending: t.descending,
                        expr: self.lower(&t.expr)?,
                    });
                }
                path.steps.push(Step {
                    kind: StepKind::Sort(out),
                    stages: Vec::new(),
                    cons_array: false,
                });
                path.names = None;
                K::Path(Box::new(path))
            }
            Kind::Bind { var, value } => {
                let Kind::Var(name) = &var.kind else {
                    return Err(NoCompile);
                };
                if name.is_empty() || name == "$" {
                    return Err(NoCompile);
                }
                K::Bind(self.var(name), self.boxed(value)?)
            }
            Kind::Apply(lhs, rhs) => return self.apply(lhs, rhs),
            Kind::Call {
                callee,
                args,
                partial,
            } => {
                if *partial {
                    return Err(NoCompile);
                }
                return self.call(callee, args, Vec::new());
            }
            Kind::Lambda {
                params,
                signature,
                body,
            } => {
                if signature.is_some() {
                    return Err(NoCompile);
                }
                let mut ps = Vec::with_capacity(params.len());
                for p in params {
                    let Kind::Var(name) = &p.kind else {
                        return Err(NoCompile);
                    };
                    ps.push(self.var(name));
                }
                let body = self.lower_tail(body)?;
                K::Lambda(Box::new(Lambda { params: ps, body }))
            }
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => K::Cond(
                self.boxed(cond)?,
                self.boxed(then)?,
                match otherwise {
                    Some(o) => Some(self.boxed(o)?),
                    None => None,
                },
            ),
            Kind::Elvis(l, r) => K::Elvis(self.boxed(l)?, self.boxed(r)?),
            Kind::Coalesce(l, r) => {
                if self.bound.contains("exists") {
                    return Err(NoCompile);
                }
                K::Coalesce(self.boxed(l)?, self.boxed(r)?)
            }
            Kind::Block(items) => {
                K::Block(items.iter().map(|i| self.lower(i)).collect::<L<Vec<_>>>()?)
            }
            Kind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(match &i.kind {
                        Kind::Range(a, b) => Item::Range(self.lower(a)?, self.lower(b)?),
                        _ => Item::Expr {
                            nested: matches!(i.kind, Kind::Array(_)),
                            node: self.lower(i)?,
                        },
                    });
                }
                K::Array(out, false)
            }
            Kind::Object(pairs) => K::Object(self.group(pairs)?),
            Kind::Regex { .. }
            | Kind::Wildcard
            | Kind::Descendant
            | Kind::Parent
            | Kind::Placeholder
            | Kind::Focus { .. }
            | Kind::Index { .. }
            | Kind::Transform { .. }
            | Kind::Range(..)
            | Kind::Missing => return Err(NoCompile),
        };
        Ok(Node::new(k))
    }

    fn group(&mut self, pairs: &[(ast::Node, ast::Node)]) -> L<Box<Group>> {
        let mut out = Vec::with_capacity(pairs.len());
        let mut literal_keys = true;
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in pairs {
            if let Kind::Str(s) = &k.kind {
                // Two pairs with the same key are the engine's D1009.
                if seen.contains(&s.as_str()) {
                    return Err(NoCompile);
                }
                seen.push(s);
            } else {
                literal_keys = false;
            }
            out.push((self.lower(k)?, self.lower(v)?));
        }
        Ok(Box::new(Group {
            pairs: out,
            literal_keys,
        }))
    }

    /// `lhs.rhs`: the steps of `lhs` followed by those of `rhs`.
    fn dot(&mut self, lhs: &ast::Node, rhs: &ast::Node) -> L<Node> {
        let left = self.lower(lhs)?;
        let mut path = into_path(left)?;
        if path.group.is_some() {
            return Err(NoCompile);
        }
        let rest = self.lower(rhs)?;
        match rest.kind {
            K::Path(p) if rest.predicates.is_empty() && rest.group.is_none() => {
                if p.group.is_some() {
                    return Err(NoCompile);
                }
                let p = *p;
                if p.keep_singleton {
                    path.keep_singleton = true;
                }
                path.steps.extend(p.steps);
            }
            K::Path(_) => return Err(NoCompile),
            kind => {
                // The rhs's predicates become the step's stages.
                let mut step = Node::new(kind);
                step.group = rest.group;
                step.keep_array = rest.keep_array;
                path.steps.push(Step {
                    kind: StepKind::Expr(step),
                    stages: rest.predicates,
                    cons_array: false,
                });
            }
        }
        if path.steps.iter().any(|s| match &s.kind {
            StepKind::Expr(n) => n.keep_array,
            StepKind::Sort(_) => false,
        }) {
            path.keep_singleton = true;
        }
        // A string literal step is a field name.
        for step in &mut path.steps {
            if let StepKind::Expr(node) = &mut step.kind {
                if let K::Str(s) = &node.kind {
                    node.kind = K::Name(s.clone());
                }
            }
        }
        let n = path.steps.len();
        for i in [0, n - 1] {
            if let StepKind::Expr(node) = &mut path.steps[i].kind {
                if let K::Array(_, cons) = &mut node.kind {
                    *cons = true;
                    path.steps[i].cons_array = true;
                }
            }
        }
        path.names = plain_names(&path);
        Ok(Node::new(K::Path(Box::new(path))))
    }

    /// `lhs ~> rhs`: a call of `rhs` with `lhs` as its first argument.
    fn apply(&mut self, lhs: &ast::Node, rhs: &ast::Node) -> L<Node> {
        match &rhs.kind {
            Kind::Call {
                callee,
                args,
                partial: false,
            } => self.call(callee, args, vec![lhs]),
            Kind::Var(_) | Kind::Lambda { .. } => self.call(rhs, &[], vec![lhs]),
            _ => Err(NoCompile),
        }
    }

    /// A call of `callee` with `first` (from `~>`) before `args`.
    fn call(&mut self, callee: &ast::Node, args: &[ast::Node], first: Vec<&ast::Node>) -> L<Node> {
        let all: Vec<&ast::Node> = first.into_iter().chain(args.iter()).collect();
        let name = match &callee.kind {
            Kind::Var(v) if !v.is_empty() && v != "$" => v.as_str(),
            Kind::Name(_) => return Err(NoCompile),
            _ => {
                let f = self.boxed(callee)?;
                let args = all.iter().map(|a| self.lower(a)).collect::<L<Vec<_>>>()?;
                return Ok(Node::new(K::CallFn(f, args)));
            }
        };
        if self.bound.contains(name) {
            let f = Box::new(Node::new(K::Var {
                var: self.var(name),
                builtin: is_builtin(name),
            }));
            let args = all.iter().map(|a| self.lower(a)).collect::<L<Vec<_>>>()?;
            return Ok(Node::new(K::CallFn(f, args)));
        }
        if name == "error" {
            return Ok(Node::new(K::Bail));
        }
        // `$now(picture, tz)` is `$fromMillis($millis(), picture, tz)`, as in jsonata-js.
        if name == "now" && !all.is_empty() {
            if all.len() > 2 {
                return Err(NoCompile);
            }
            let mut args = vec![Node::new(K::Call(Builtin::Millis, Vec::new()))];
            for a in &all {
                args.push(self.lower(a)?);
            }
            return Ok(Node::new(K::Engine(engine_call("fromMillis", 3)?, args)));
        }
        if let Some(&(_, b, min, max, context)) = NATIVE.iter().find(|e| e.0 == name) {
            let native = all.len() >= min && all.len() <= max;
            if native || (all.is_empty() && context) {
                let mut out = Vec::with_capacity(all.len().max(1));
                if all.is_empty() && context {
                    out.push(Node::new(K::Context));
                }
                for (i, a) in all.iter().enumerate() {
                    if let (Some(pos), Kind::Regex { pattern, flags }) =
                        (regex_position(b), &a.kind)
                    {
                        if i == pos {
                            out.push(Node::new(K::Regex(self.regex(pattern, flags)?)));
                            continue;
                        }
                    }
                    out.push(self.lower(a)?);
                }
                return Ok(Node::new(K::Call(b, out)));
            }
        }
        if let Some(&(n, min, max)) = ENGINE.iter().find(|e| e.0 == name) {
            if all.len() < min || all.len() > max {
                return Err(NoCompile);
            }
            let args = all.iter().map(|a| self.lower(a)).collect::<L<Vec<_>>>()?;
            let mut call = engine_call(n, all.len())?;
            call.native = match (n, all.as_slice()) {
                ("toMillis", [_]) => Some(Native::ToMillis),
                ("fromMillis", [_]) => Some(Native::FromMillis(super::dates::iso_picture())),
                ("fromMillis", [_, p]) => match &p.kind {
                    Kind::Str(p) => super::dates::picture(p).map(Native::FromMillis),
                    _ => None,
                },
                ("formatNumber", [_, _]) => Some(Native::FormatNumber),
                ("encodeUrl", [_]) => Some(Native::Url(false, false)),
                ("encodeUrlComponent", [_]) => Some(Native::Url(true, false)),
                ("decodeUrl", [_]) => Some(Native::Url(false, true)),
                ("decodeUrlComponent", [_]) => Some(Native::Url(true, true)),
                _ => None,
            };
            return Ok(Node::new(K::Engine(call, args)));
        }
        Err(NoCompile)
    }

    fn regex(&mut self, pattern: &str, flags: &str) -> L<usize> {
        let re = crate::transform::regex::compile(pattern, flags).map_err(|_| NoCompile)?;
        self.regexes.push(re);
        Ok(self.regexes.len() - 1)
    }

    /// A lambda body: calls in tail position keep their result as it is (jsonata-js's
    /// tail-call thunks), through conditionals and the last expression of blocks.
    fn lower_tail(&mut self, n: &ast::Node) -> L<Node> {
        match &n.kind {
            Kind::Call { .. } => {
                let mut node = self.lower(n)?;
                if node.is_call() && node.predicates.is_empty() && node.group.is_none() {
                    node.tail = true;
                }
                Ok(node)
            }
            Kind::Cond {
                cond,
                then,
                otherwise,
            } if !self.keep_bases.contains(&(n as *const _)) => {
                let mut node = Node::new(K::Cond(
                    self.boxed(cond)?,
                    Box::new(self.lower_tail(then)?),
                    match otherwise {
                        Some(o) => Some(Box::new(self.lower_tail(o)?)),
                        None => None,
                    },
                ));
                node.tail = true;
                Ok(node)
            }
            Kind::Block(items)
                if !items.is_empty() && !self.keep_bases.contains(&(n as *const _)) =>
            {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(if i + 1 == items.len() {
                        self.lower_tail(item)?
                    } else {
                        self.lower(item)?
                    });
                }
                let mut node = Node::new(K::Block(out));
                node.tail = true;
                Ok(node)
            }
            // `a ?: b` and `a ?? b` are conditionals whose then-branch is `a` itself; a call
            // there would be evaluated twice, once as a thunk. Left to the engine.
            Kind::Elvis(l, _) | Kind::Coalesce(l, _) if matches!(l.kind, Kind::Call { .. }) => {
                Err(NoCompile)
            }
            Kind::Elvis(l, r) => {
                let mut node = Node::new(K::Elvis(self.boxed(l)?, Box::new(self.lower_tail(r)?)));
                node.tail = true;
                Ok(node)
            }
            Kind::Coalesce(l, r) => {
                if self.bound.contains("exists") {
                    return Err(NoCompile);
                }
                let mut node =
                    Node::new(K::Coalesce(self.boxed(l)?, Box::new(self.lower_tail(r)?)));
                node.tail = true;
                Ok(node)
            }
            _ => self.lower(n),
        }
    }
}

fn engine_call(name: &'static str, argc: usize) -> L<Box<EngineCall>> {
    let ast = crate::transform::engine::js_call(name, argc).ok_or(NoCompile)?;
    Ok(Box::new(EngineCall {
        ast,
        guard: crate::transform::numbers::Guard::named(name),
        native: None,
    }))
}

fn name_path(name: &str) -> Node {
    let path = Path {
        steps: vec![Step {
            kind: StepKind::Expr(Node::new(K::Name(name.into()))),
            stages: Vec::new(),
            cons_array: false,
        }],
        keep_singleton: false,
        group: None,
        absolute: false,
        names: Some(vec![name.into()]),
    };
    Node::new(K::Path(Box::new(path)))
}

/// A node as a path: itself when it is one, else a path of one step.
fn into_path(node: Node) -> L<Path> {
    if let K::Path(p) = node.kind {
        if !node.predicates.is_empty() || node.group.is_some() {
            return Err(NoCompile);
        }
        return Ok(*p);
    }
    let absolute = matches!(node.kind, K::Var { .. } | K::Context | K::Root);
    let cons_array = matches!(node.kind, K::Array(..));
    // A non-path node's predicates stay on it (jsonata-js keeps `predicate` on the first step).
    Ok(Path {
        steps: vec![Step {
            kind: StepKind::Expr(node),
            stages: Vec::new(),
            cons_array,
        }],
        keep_singleton: false,
        group: None,
        absolute,
        names: None,
    })
}

fn plain_names(p: &Path) -> Option<Vec<Box<str>>> {
    if p.absolute {
        return None;
    }
    p.steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Expr(n)
                if s.stages.is_empty()
                    && n.predicates.is_empty()
                    && n.group.is_none()
                    && !n.keep_array =>
            {
                match &n.kind {
                    K::Name(k) => Some(k.clone()),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect()
}
