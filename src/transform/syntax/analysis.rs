//! What a transform reads and where it goes: input paths resolved against the root, and for each
//! field of the object the transform builds, the input paths that flow into its value.
//!
//! The walk carries the *context*: the input location the current item comes from (`None` when
//! it is not a known place in the input, e.g. inside a lambda). A name step extends the context;
//! predicates, `.( … )` blocks, `.{ … }` constructors, group-by and order-by evaluate against the
//! items of the path on their left; `$` is the context, `$$` the root; `@$v` binds `$v` to the step
//! and keeps the context; `$v := path` makes `$v` that path. A location becomes a *read* when its
//! value is used (an operand, an argument, a field value, the result), so `a.b.c` is one read,
//! not three.
//!
//! Every read is a *dependency* of the values computed from it; it is *carried* by a value only
//! when its content can reach that value. A condition (`c ? a : b`), a predicate or sort key, a
//! comparison or `and`/`or`, and the argument of a function that returns a fact about its
//! argument rather than the argument (`$count`, `$exists`, `$type`, `$boolean`, `$not`,
//! `$length`, `$contains`, and `$keys`, which returns the key names, none of the values) are
//! observed, not carried: `$count(transcripts) > 0 ? {…} : undefined`
//! depends on the transcripts but puts none of them in the output. So are both operands of a
//! difference, quotient or remainder of two inputs (`$toMillis(reply.at) - $toMillis(startedAt)`
//! is a duration, neither timestamp); with a constant operand (`x - 0`) the input is carried. A bare `undefined` (a name
//! that is not a step of a longer path) is the JSONata idiom for "no value", not a read.

use super::ast::{BinOp, Kind, Node};
use super::{Analysis, OutputField, PathRef};
use std::collections::BTreeSet;

#[derive(Clone)]
struct Loc {
    segs: Vec<String>,
    start: usize,
    end: usize,
}

#[derive(Clone, Default)]
struct Val {
    /// The input location the value is, when it is one.
    loc: Option<Loc>,
    /// Reads (indices into `paths`) the value is computed from.
    deps: Vec<usize>,
    /// The reads among `deps` whose content can reach the value.
    carries: Vec<usize>,
}

/// The reads a used value brings: all it depends on, and those whose content it carries.
#[derive(Clone, Default)]
struct Flow {
    deps: Vec<usize>,
    carries: Vec<usize>,
}

impl Flow {
    /// `f`'s value becomes part of this one.
    fn carry(&mut self, f: Flow) {
        self.deps.extend(f.deps);
        self.carries.extend(f.carries);
    }

    /// `f`'s value is looked at (a condition, a count), not passed on.
    fn observe(&mut self, f: Flow) {
        self.deps.extend(f.deps);
    }

    fn into_val(self) -> Val {
        Val {
            loc: None,
            deps: self.deps,
            carries: self.carries,
        }
    }
}

/// Functions whose result is a fact about their arguments, not their content.
fn observes_only(function: &str) -> bool {
    matches!(
        function,
        "count" | "exists" | "type" | "boolean" | "not" | "length" | "contains" | "keys"
    )
}

/// Operators whose result is a truth value about their operands.
fn compares(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::And
            | BinOp::Or
            | BinOp::In
    )
}

/// Arithmetic whose result, when both operands come from the input, relates them rather than
/// carrying either: a difference, a quotient, a remainder.
fn relates(op: BinOp) -> bool {
    matches!(op, BinOp::Sub | BinOp::Div | BinOp::Mod)
}

type Ctx = Option<Vec<String>>;

/// Higher-order functions whose lambda parameter is an item of the first argument, and which
/// parameter that is.
fn item_param(function: &str) -> Option<&'static [usize]> {
    match function {
        "map" | "filter" | "single" | "each" => Some(&[0]),
        "sort" => Some(&[0, 1]),
        "reduce" => Some(&[1]),
        _ => None,
    }
}

/// Analyses a parsed tree.
pub fn analyse(root: &Node) -> Analysis {
    let mut a = Analyzer {
        paths: Vec::new(),
        outputs: Vec::new(),
        functions: Vec::new(),
        scopes: vec![Vec::new()],
    };
    let v = a.output(root, &Some(Vec::new()), "");
    let whole = a.consume(v);
    // The paths that reach the payload as it is, not through a field the transform builds
    // (`$`, `$$`, `event`, the `$` of `$merge([$, {…}])`): the result is the pseudo-field `""`.
    let fielded: Vec<PathRef> = a.outputs.iter().flat_map(|o| o.carries.clone()).collect();
    let carries: Vec<PathRef> = a
        .refs(&whole.carries)
        .into_iter()
        .filter(|p| !fielded.contains(p))
        .collect();
    let result = (!carries.is_empty()).then(|| OutputField {
        pointer: String::new(),
        key_start: root.start,
        key_end: root.end,
        inputs: a.refs(&whole.deps),
        carries,
    });
    let bound = bound_names(root);
    let unknown_functions = a
        .functions
        .iter()
        .filter(|(name, _, _)| {
            // `$` and `$$` called as functions are values, not names.
            !name.is_empty()
                && name != "$"
                && (!super::is_builtin(name) || super::is_refused(name))
                && !bound.contains(name)
        })
        .cloned()
        .collect();
    Analysis {
        paths: a.paths,
        outputs: a.outputs,
        result,
        functions: a.functions,
        unknown_functions,
        bound,
    }
}

/// Every `$name` the expression binds somewhere: `:=` targets, lambda parameters, `@$v` and
/// `#$v`. Where in the tree does not matter: a lambda may call a name its enclosing block binds
/// after it (`$f := function() { $g() }; $g := …`), itself included.
pub fn bound_names(root: &Node) -> BTreeSet<String> {
    fn scan(n: &Node, out: &mut BTreeSet<String>) {
        let mut var = |v: &Node| {
            if let Kind::Var(name) = &v.kind {
                out.insert(name.clone());
            }
        };
        match &n.kind {
            Kind::Bind { var: v, .. } | Kind::Focus { var: v, .. } | Kind::Index { var: v, .. } => {
                var(v)
            }
            Kind::Lambda { params, .. } => params.iter().for_each(var),
            _ => {}
        }
        n.kind.for_each_child(&mut |c| scan(c, out));
    }
    let mut out = BTreeSet::new();
    scan(root, &mut out);
    out
}

struct Analyzer {
    paths: Vec<PathRef>,
    outputs: Vec<OutputField>,
    functions: Vec<(String, usize, usize)>,
    scopes: Vec<Vec<(String, Val)>>,
}

fn child(ctx: &Ctx, seg: &str) -> Option<Vec<String>> {
    ctx.as_ref().map(|c| {
        let mut v = c.clone();
        v.push(seg.to_string());
        v
    })
}

fn loc(segs: Option<Vec<String>>, n: &Node) -> Val {
    Val {
        loc: segs.map(|segs| Loc {
            segs,
            start: n.start,
            end: n.end,
        }),
        deps: Vec::new(),
        carries: Vec::new(),
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Analyzer {
    fn record(&mut self, l: Loc) -> usize {
        self.paths.push(PathRef {
            segments: l.segs,
            start: l.start,
            end: l.end,
        });
        self.paths.len() - 1
    }

    /// The value is used: its location (if any) becomes a read, carried by the value; returns
    /// every read it depends on and those it carries.
    fn consume(&mut self, v: Val) -> Flow {
        let mut f = Flow {
            deps: v.deps,
            carries: v.carries,
        };
        if let Some(l) = v.loc {
            let r = self.record(l);
            f.deps.push(r);
            f.carries.push(r);
        }
        f
    }

    fn lookup(&self, name: &str) -> Option<Val> {
        self.scopes.iter().rev().find_map(|s| {
            s.iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn bind(&mut self, name: &str, v: Val) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_string(), v));
        }
    }

    /// Whether a read under `segs` was recorded since `mark`.
    fn read_under(&self, mark: usize, segs: &[String]) -> bool {
        self.paths[mark..]
            .iter()
            .any(|p| p.segments.starts_with(segs))
    }

    /// A step of a path: string literals are names there, and a name is always a step (even
    /// `undefined`).
    fn step(&mut self, n: &Node, ctx: &Ctx) -> Val {
        match &n.kind {
            Kind::Str(s) | Kind::Name(s) => loc(child(ctx, s), n),
            _ => self.walk(n, ctx),
        }
    }

    /// `lhs.rhs`, with `rhs` walked by `f` against the items of `lhs`.
    fn dot(
        &mut self,
        n: &Node,
        lhs: &Node,
        ctx: &Ctx,
        f: impl FnOnce(&mut Self, &Ctx) -> Val,
    ) -> Val {
        let l = self.step(lhs, ctx);
        let inner: Ctx = l.loc.as_ref().map(|l| l.segs.clone());
        let mark = self.paths.len();
        let mut r = f(self, &inner);
        let mut deps = l.deps;
        let mut carries = l.carries;
        if let Some(ll) = l.loc {
            if r.loc.is_none() && !self.read_under(mark, &ll.segs) {
                // The right side does not read the items by name (`a.$string()`, `a.{…}`): the
                // items themselves are what is used.
                let read = self.record(ll);
                deps.push(read);
                carries.push(read);
            }
            if let Some(rl) = &mut r.loc {
                rl.start = n.start;
            }
        }
        deps.extend(r.deps);
        carries.extend(r.carries);
        Val {
            loc: r.loc,
            deps,
            carries,
        }
    }

    fn walk(&mut self, n: &Node, ctx: &Ctx) -> Val {
        match &n.kind {
            // `undefined` on its own is the idiom for "no value" (a field nobody has).
            Kind::Name(s) if s == "undefined" => Val::default(),
            Kind::Name(s) => loc(child(ctx, s), n),
            Kind::Var(v) if v.is_empty() => loc(ctx.clone(), n),
            Kind::Var(v) if v == "$" => loc(Some(Vec::new()), n),
            Kind::Var(v) => match self.lookup(v) {
                Some(mut val) => {
                    if let Some(l) = &mut val.loc {
                        l.start = n.start;
                        l.end = n.end;
                    }
                    val
                }
                None => Val::default(),
            },
            Kind::Wildcard => loc(child(ctx, "*"), n),
            Kind::Descendant => loc(child(ctx, "**"), n),
            Kind::Parent => loc(
                ctx.as_ref()
                    .filter(|c| !c.is_empty())
                    .map(|c| c[..c.len() - 1].to_vec()),
                n,
            ),
            Kind::Dot(lhs, rhs) => self.dot(n, lhs, ctx, |a, inner| a.step(rhs, inner)),
            Kind::Focus { lhs, var } => {
                let v = self.walk(lhs, ctx);
                if let Kind::Var(name) = &var.kind {
                    self.bind(name, v);
                }
                // The next step is evaluated against the same context as this one.
                loc(ctx.clone(), n)
            }
            Kind::Index { lhs, var } => {
                let v = self.walk(lhs, ctx);
                if let Kind::Var(name) = &var.kind {
                    self.bind(name, Val::default());
                }
                v
            }
            Kind::Filter { lhs, pred } => {
                let mut l = self.step(lhs, ctx);
                if let Some(p) = pred {
                    let inner = l.loc.as_ref().map(|l| l.segs.clone());
                    let pv = self.walk(p, &inner);
                    // A predicate selects items; an index or a condition is not passed on.
                    let d = self.consume(pv);
                    l.deps.extend(d.deps);
                }
                if let Some(ll) = &mut l.loc {
                    ll.end = n.end;
                }
                l
            }
            Kind::Group { lhs, pairs } => {
                let l = self.step(lhs, ctx);
                let inner = l.loc.as_ref().map(|l| l.segs.clone());
                let mark = self.paths.len();
                let mut flow = Flow {
                    deps: l.deps,
                    carries: l.carries,
                };
                for (k, v) in pairs {
                    let kv = self.walk(k, &inner);
                    let kf = self.consume(kv);
                    flow.carry(kf);
                    let vv = self.walk(v, &inner);
                    let vf = self.consume(vv);
                    flow.carry(vf);
                }
                if let Some(ll) = l.loc {
                    if !self.read_under(mark, &ll.segs) {
                        let read = self.record(ll);
                        flow.deps.push(read);
                        flow.carries.push(read);
                    }
                }
                flow.into_val()
            }
            Kind::Sort { lhs, terms } => {
                let mut l = self.step(lhs, ctx);
                let inner = l.loc.as_ref().map(|l| l.segs.clone());
                for t in terms {
                    let tv = self.walk(&t.expr, &inner);
                    let d = self.consume(tv);
                    l.deps.extend(d.deps);
                }
                l
            }
            Kind::Bind { var, value } => {
                let v = self.walk(value, ctx);
                if let Kind::Var(name) = &var.kind {
                    self.bind(name, v.clone());
                }
                v
            }
            Kind::Call { callee, args, .. } => self.call(callee, args, ctx, None),
            Kind::Apply(lhs, rhs) => {
                let lv = self.walk(lhs, ctx);
                match &rhs.kind {
                    Kind::Call { callee, args, .. } => self.call(callee, args, ctx, Some(lv)),
                    _ => {
                        let mut flow = self.consume(lv);
                        let rv = self.walk(rhs, ctx);
                        let rf = self.consume(rv);
                        flow.carry(rf);
                        flow.into_val()
                    }
                }
            }
            Kind::Lambda { params, body, .. } => self.lambda(params, body, &[]),
            Kind::Block(exprs) => {
                self.scopes.push(Vec::new());
                let v = self.block(exprs, ctx, |a, e, c| a.walk(e, c));
                self.scopes.pop();
                v
            }
            Kind::Transform {
                pattern,
                update,
                delete,
            } => {
                // The transform is a function of the object it is applied to, which is not a
                // known input location here.
                let mut flow = Flow::default();
                for part in [Some(pattern), Some(update), delete.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    let v = self.walk(part, &None);
                    let f = self.consume(v);
                    flow.carry(f);
                }
                flow.into_val()
            }
            Kind::Neg(x) => {
                let v = self.walk(x, ctx);
                self.consume(v).into_val()
            }
            Kind::Binary { op, lhs, rhs } if compares(*op) => {
                let mut flow = Flow::default();
                for p in [lhs, rhs] {
                    let v = self.walk(p, ctx);
                    let f = self.consume(v);
                    flow.observe(f);
                }
                flow.into_val()
            }
            Kind::Binary { op, lhs, rhs } if relates(*op) => {
                let flows: Vec<Flow> = [lhs, rhs]
                    .into_iter()
                    .map(|p| {
                        let v = self.walk(p, ctx);
                        self.consume(v)
                    })
                    .collect();
                // `a - b`, `a / b`, `a % b` of two inputs is a relation between them (a
                // duration, a ratio), the content of neither; with a constant it is the input's.
                let both = flows.iter().all(|f| !f.carries.is_empty());
                let mut flow = Flow::default();
                for f in flows {
                    if both {
                        flow.observe(f);
                    } else {
                        flow.carry(f);
                    }
                }
                flow.into_val()
            }
            Kind::Binary { lhs, rhs, .. }
            | Kind::Range(lhs, rhs)
            | Kind::Elvis(lhs, rhs)
            | Kind::Coalesce(lhs, rhs) => self.all(&[lhs, rhs], ctx),
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => self.cond(cond, then, otherwise.as_deref(), ctx, |a, b, c| {
                a.walk(b, c)
            }),
            Kind::Array(items) => {
                let parts: Vec<&Node> = items.iter().collect();
                self.all(&parts, ctx)
            }
            Kind::Object(pairs) => {
                let parts: Vec<&Node> = pairs.iter().flat_map(|(k, v)| [k, v]).collect();
                self.all(&parts, ctx)
            }
            Kind::Str(_)
            | Kind::Num(_)
            | Kind::Bool(_)
            | Kind::Null
            | Kind::Regex { .. }
            | Kind::Placeholder
            | Kind::Missing => Val::default(),
        }
    }

    /// Every part is used as a value and carried by the result.
    /// `cond ? then : otherwise`: the condition is observed, each branch (read by `branch`)
    /// carried.
    fn cond(
        &mut self,
        cond: &Node,
        then: &Node,
        otherwise: Option<&Node>,
        ctx: &Ctx,
        mut branch: impl FnMut(&mut Self, &Node, &Ctx) -> Val,
    ) -> Val {
        let cv = self.walk(cond, ctx);
        let mut flow = Flow::default();
        let cf = self.consume(cv);
        flow.observe(cf);
        for b in std::iter::once(then).chain(otherwise) {
            let v = branch(self, b, ctx);
            let f = self.consume(v);
            flow.carry(f);
        }
        flow.into_val()
    }

    fn all(&mut self, parts: &[&Node], ctx: &Ctx) -> Val {
        let mut flow = Flow::default();
        for p in parts {
            let v = self.walk(p, ctx);
            let f = self.consume(v);
            flow.carry(f);
        }
        flow.into_val()
    }

    fn block(
        &mut self,
        exprs: &[Node],
        ctx: &Ctx,
        last: impl FnOnce(&mut Self, &Node, &Ctx) -> Val,
    ) -> Val {
        let Some((tail, init)) = exprs.split_last() else {
            return Val::default();
        };
        let mut deps = Vec::new();
        for e in init {
            let v = self.walk(e, ctx);
            // A binding's value is used (and carried) where the variable is; anything else is
            // evaluated now and its value dropped.
            if matches!(e.kind, Kind::Bind { .. }) {
                deps.extend(v.deps);
            } else {
                deps.extend(self.consume(v).deps);
            }
        }
        let mut v = last(self, tail, ctx);
        v.deps.splice(0..0, deps);
        v
    }

    fn lambda(&mut self, params: &[Node], body: &Node, bound: &[(usize, Val)]) -> Val {
        let mut scope = Vec::new();
        for (i, p) in params.iter().enumerate() {
            if let Kind::Var(name) = &p.kind {
                let v = bound
                    .iter()
                    .find(|(j, _)| *j == i)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                scope.push((name.clone(), v));
            }
        }
        self.scopes.push(scope);
        let v = self.walk(body, &None);
        let flow = self.consume(v);
        self.scopes.pop();
        flow.into_val()
    }

    fn call(&mut self, callee: &Node, args: &[Node], ctx: &Ctx, piped: Option<Val>) -> Val {
        let mut flow = Flow::default();
        let name = match &callee.kind {
            Kind::Var(v) => {
                self.functions.push((v.clone(), callee.start, callee.end));
                Some(v.as_str())
            }
            _ => None,
        };
        // The first argument's items are what a higher-order function hands its lambda.
        let mut first_item: Option<Val> = None;
        let mut rest = args;
        let hof = name.and_then(item_param);
        let observed = name.is_some_and(observes_only);
        let take = |flow: &mut Flow, f: Flow| {
            if observed {
                flow.observe(f)
            } else {
                flow.carry(f)
            }
        };
        if let Some(p) = piped {
            if hof.is_some() {
                first_item = Some(Val {
                    loc: p.loc.clone(),
                    ..Val::default()
                });
            }
            let f = self.consume(p);
            take(&mut flow, f);
        } else if let (Some(_), Some(first)) = (hof, args.first()) {
            let v = self.walk(first, ctx);
            first_item = Some(Val {
                loc: v.loc.clone(),
                ..Val::default()
            });
            let f = self.consume(v);
            take(&mut flow, f);
            rest = &args[1..];
        }
        for a in rest {
            let v = match (&a.kind, hof, &first_item) {
                (Kind::Lambda { params, body, .. }, Some(which), Some(item)) => {
                    let bound: Vec<(usize, Val)> =
                        which.iter().map(|&i| (i, item.clone())).collect();
                    self.lambda(params, body, &bound)
                }
                _ => self.walk(a, ctx),
            };
            let f = self.consume(v);
            take(&mut flow, f);
        }
        if name.is_none() {
            let v = self.walk(callee, ctx);
            let f = self.consume(v);
            flow.carry(f);
        }
        flow.into_val()
    }

    /// Walks a node whose value is (part of) the output at `pointer`, recording output fields.
    fn output(&mut self, n: &Node, ctx: &Ctx, pointer: &str) -> Val {
        match &n.kind {
            Kind::Object(pairs) => {
                let mut flow = Flow::default();
                for (k, v) in pairs {
                    let key = match &k.kind {
                        Kind::Str(s) => escape(s),
                        _ => "*".to_string(),
                    };
                    let kv = self.walk(k, ctx);
                    // A computed key is written into the output: it is carried.
                    let mut field = self.consume(kv);
                    let pointer = format!("{pointer}/{key}");
                    let at = self.outputs.len();
                    self.outputs.push(OutputField {
                        pointer: pointer.clone(),
                        key_start: k.start,
                        key_end: k.end,
                        inputs: Vec::new(),
                        carries: Vec::new(),
                    });
                    let vv = self.output(v, ctx, &pointer);
                    let vf = self.consume(vv);
                    field.carry(vf);
                    self.outputs[at].inputs = self.refs(&field.deps);
                    self.outputs[at].carries = self.refs(&field.carries);
                    flow.carry(field);
                }
                flow.into_val()
            }
            Kind::Block(exprs) => {
                self.scopes.push(Vec::new());
                let v = self.block(exprs, ctx, |a, e, c| a.output(e, c, pointer));
                self.scopes.pop();
                v
            }
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => self.cond(cond, then, otherwise.as_deref(), ctx, |a, b, c| {
                a.output(b, c, pointer)
            }),
            Kind::Elvis(a, b) | Kind::Coalesce(a, b) => {
                let av = self.output(a, ctx, pointer);
                let mut flow = self.consume(av);
                let bv = self.output(b, ctx, pointer);
                let bf = self.consume(bv);
                flow.carry(bf);
                flow.into_val()
            }
            Kind::Dot(lhs, rhs)
                if matches!(
                    rhs.kind,
                    Kind::Object(_) | Kind::Block(_) | Kind::Cond { .. }
                ) =>
            {
                self.dot(n, lhs, ctx, |a, inner| a.output(rhs, inner, pointer))
            }
            Kind::Array(items) => {
                let mut flow = Flow::default();
                for (i, item) in items.iter().enumerate() {
                    let v = self.output(item, ctx, &format!("{pointer}/{i}"));
                    let f = self.consume(v);
                    flow.carry(f);
                }
                flow.into_val()
            }
            Kind::Call { callee, args, .. }
                if matches!(&callee.kind, Kind::Var(v) if v == "merge")
                    && matches!(
                        args.as_slice(),
                        [Node {
                            kind: Kind::Array(_),
                            ..
                        }]
                    ) =>
            {
                self.functions
                    .push(("merge".into(), callee.start, callee.end));
                let Kind::Array(items) = &args[0].kind else {
                    unreachable!()
                };
                let mut flow = Flow::default();
                for item in items {
                    let v = self.output(item, ctx, pointer);
                    let f = self.consume(v);
                    flow.carry(f);
                }
                flow.into_val()
            }
            _ => self.walk(n, ctx),
        }
    }

    /// The distinct paths of some reads, in order.
    fn refs(&self, reads: &[usize]) -> Vec<PathRef> {
        let mut out: Vec<PathRef> = Vec::new();
        for d in reads {
            let p = &self.paths[*d];
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}
