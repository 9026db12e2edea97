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

use super::ast::{Kind, Node};
use super::{Analysis, OutputField, PathRef};

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
    a.consume(v);
    Analysis {
        paths: a.paths,
        outputs: a.outputs,
        functions: a.functions,
    }
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

    /// The value is used: its location (if any) becomes a read; returns every read it depends on.
    fn consume(&mut self, v: Val) -> Vec<usize> {
        let mut deps = v.deps;
        if let Some(l) = v.loc {
            deps.push(self.record(l));
        }
        deps
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

    /// A step of a path: string literals are names there.
    fn step(&mut self, n: &Node, ctx: &Ctx) -> Val {
        match &n.kind {
            Kind::Str(s) => loc(child(ctx, s), n),
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
        if let Some(ll) = l.loc {
            if r.loc.is_none() && !self.read_under(mark, &ll.segs) {
                // The right side does not read the items by name (`a.$string()`, `a.{…}`): the
                // items themselves are what is used.
                deps.push(self.record(ll));
            }
            if let Some(rl) = &mut r.loc {
                rl.start = n.start;
            }
        }
        deps.extend(r.deps);
        Val { loc: r.loc, deps }
    }

    fn walk(&mut self, n: &Node, ctx: &Ctx) -> Val {
        match &n.kind {
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
                    let d = self.consume(pv);
                    l.deps.extend(d);
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
                let mut deps = l.deps;
                for (k, v) in pairs {
                    let kv = self.walk(k, &inner);
                    deps.extend(self.consume(kv));
                    let vv = self.walk(v, &inner);
                    deps.extend(self.consume(vv));
                }
                if let Some(ll) = l.loc {
                    if !self.read_under(mark, &ll.segs) {
                        deps.push(self.record(ll));
                    }
                }
                Val { loc: None, deps }
            }
            Kind::Sort { lhs, terms } => {
                let mut l = self.step(lhs, ctx);
                let inner = l.loc.as_ref().map(|l| l.segs.clone());
                for t in terms {
                    let tv = self.walk(&t.expr, &inner);
                    let d = self.consume(tv);
                    l.deps.extend(d);
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
                        let mut deps = self.consume(lv);
                        let rv = self.walk(rhs, ctx);
                        deps.extend(self.consume(rv));
                        Val { loc: None, deps }
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
                let mut deps = Vec::new();
                for part in [Some(pattern), Some(update), delete.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    let v = self.walk(part, &None);
                    deps.extend(self.consume(v));
                }
                Val { loc: None, deps }
            }
            Kind::Neg(x) => {
                let v = self.walk(x, ctx);
                let deps = self.consume(v);
                Val { loc: None, deps }
            }
            Kind::Binary { lhs, rhs, .. }
            | Kind::Range(lhs, rhs)
            | Kind::Elvis(lhs, rhs)
            | Kind::Coalesce(lhs, rhs) => self.all(&[lhs, rhs], ctx),
            Kind::Cond {
                cond,
                then,
                otherwise,
            } => {
                let mut parts: Vec<&Node> = vec![cond, then];
                if let Some(o) = otherwise {
                    parts.push(o);
                }
                self.all(&parts, ctx)
            }
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

    /// Every part is used as a value.
    fn all(&mut self, parts: &[&Node], ctx: &Ctx) -> Val {
        let mut deps = Vec::new();
        for p in parts {
            let v = self.walk(p, ctx);
            deps.extend(self.consume(v));
        }
        Val { loc: None, deps }
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
            // A binding's value is used where the variable is; anything else is evaluated now.
            if matches!(e.kind, Kind::Bind { .. }) {
                deps.extend(v.deps);
            } else {
                deps.extend(self.consume(v));
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
        let deps = self.consume(v);
        self.scopes.pop();
        Val { loc: None, deps }
    }

    fn call(&mut self, callee: &Node, args: &[Node], ctx: &Ctx, piped: Option<Val>) -> Val {
        let mut deps = Vec::new();
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
        if let Some(p) = piped {
            if hof.is_some() {
                first_item = Some(Val {
                    loc: p.loc.clone(),
                    deps: Vec::new(),
                });
            }
            deps.extend(self.consume(p));
        } else if let (Some(_), Some(first)) = (hof, args.first()) {
            let v = self.walk(first, ctx);
            first_item = Some(Val {
                loc: v.loc.clone(),
                deps: Vec::new(),
            });
            deps.extend(self.consume(v));
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
            deps.extend(self.consume(v));
        }
        if name.is_none() {
            let v = self.walk(callee, ctx);
            deps.extend(self.consume(v));
        }
        Val { loc: None, deps }
    }

    /// Walks a node whose value is (part of) the output at `pointer`, recording output fields.
    fn output(&mut self, n: &Node, ctx: &Ctx, pointer: &str) -> Val {
        match &n.kind {
            Kind::Object(pairs) => {
                let mut deps = Vec::new();
                for (k, v) in pairs {
                    let key = match &k.kind {
                        Kind::Str(s) => escape(s),
                        _ => "*".to_string(),
                    };
                    let kv = self.walk(k, ctx);
                    let mut field_deps = self.consume(kv);
                    let field = format!("{pointer}/{key}");
                    let at = self.outputs.len();
                    self.outputs.push(OutputField {
                        pointer: field.clone(),
                        key_start: k.start,
                        key_end: k.end,
                        inputs: Vec::new(),
                    });
                    let vv = self.output(v, ctx, &field);
                    field_deps.extend(self.consume(vv));
                    let mut inputs: Vec<PathRef> = Vec::new();
                    for d in &field_deps {
                        let p = &self.paths[*d];
                        if !inputs.contains(p) {
                            inputs.push(p.clone());
                        }
                    }
                    self.outputs[at].inputs = inputs;
                    deps.extend(field_deps);
                }
                Val { loc: None, deps }
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
            } => {
                let cv = self.walk(cond, ctx);
                let mut deps = self.consume(cv);
                let tv = self.output(then, ctx, pointer);
                deps.extend(self.consume(tv));
                if let Some(o) = otherwise {
                    let ov = self.output(o, ctx, pointer);
                    deps.extend(self.consume(ov));
                }
                Val { loc: None, deps }
            }
            Kind::Elvis(a, b) | Kind::Coalesce(a, b) => {
                let av = self.output(a, ctx, pointer);
                let mut deps = self.consume(av);
                let bv = self.output(b, ctx, pointer);
                deps.extend(self.consume(bv));
                Val { loc: None, deps }
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
                let mut deps = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let v = self.output(item, ctx, &format!("{pointer}/{i}"));
                    deps.extend(self.consume(v));
                }
                Val { loc: None, deps }
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
                let mut deps = Vec::new();
                for item in items {
                    let v = self.output(item, ctx, pointer);
                    deps.extend(self.consume(v));
                }
                Val { loc: None, deps }
            }
            _ => self.walk(n, ctx),
        }
    }
}
