//! The evaluator: jsonata-js's `evaluate`, `evaluatePath`, `evaluateStep`, `evaluateFilter`,
//! `evaluateGroupExpression` and `evaluateSortExpression` over [`Val`]s, with a step counter and
//! a nesting limit. Anything it does not decide exactly as the engine does — an error, an
//! operand of a surprising type, a limit — is a [`Bail`]: the engine evaluates the event.

use std::rc::Rc;

use super::ir::*;
use super::value::{deep_equal, truthy, Closure, Flags, Obj, Str, Val};
use super::{Bail, Program, R};

/// Evaluation steps one compiled evaluation may take: far above any CRM mapping (the corpus
/// needs a few hundred), low enough to stop a runaway loop in milliseconds. Counted, not timed,
/// so the decision is the same on every machine: past it the evaluation fails with
/// [`crate::transform::limits::STEP_BUDGET_EXCEEDED`] ([`super::Decline::Steps`]), and the engine
/// is not asked (its only bound on time is the wall clock).
pub(crate) const STEP_BUDGET: u64 = 2_000_000;

/// Bytes a `&` may copy for one step of [`STEP_BUDGET`]: the budget then also stops about
/// 512 MB of copying, a few hundred milliseconds, while a 436 KB transcript joined once costs
/// under 2,000 steps.
const COPIED_BYTES_PER_STEP: usize = 256;

/// Deepest nesting of evaluations on the compiled path; deeper expressions (deep recursion)
/// go to the engine, which grows its stack as it needs. Keeps the compiled path well inside a
/// 2 MiB thread stack.
const MAX_NESTING: u32 = 256;

const NO_FRAME: usize = usize::MAX;

struct Frame<'a> {
    parent: usize,
    vars: Vec<(Var, Val<'a>)>,
}

pub(super) struct Ev<'a> {
    pub prog: &'a Program,
    pub root: Val<'a>,
    pub now_ms: i64,
    frames: Vec<Frame<'a>>,
    steps: u64,
    depth: u32,
    max_depth: u32,
    pub max_seq: usize,
}

/// jsonata-js's end of `evaluate`: a sequence of no items is undefined, of one item that item
/// (unless kept by `[]`).
#[inline]
pub(super) fn finish(v: Val, keep_array: bool) -> Val {
    match v {
        Val::Arr(items, mut f) if f.seq => {
            if keep_array {
                f.keep = true;
            }
            match items.len() {
                0 => Val::Undef,
                1 if !f.keep => items[0].clone(),
                _ => Val::Arr(items, f),
            }
        }
        other => other,
    }
}

impl<'a> Ev<'a> {
    pub(super) fn new(prog: &'a Program, root: Val<'a>, now_ms: i64) -> Ev<'a> {
        Ev {
            prog,
            root,
            now_ms,
            frames: vec![Frame {
                parent: NO_FRAME,
                vars: Vec::new(),
            }],
            steps: 0,
            depth: 0,
            max_depth: (prog.limits.max_depth.min(MAX_NESTING as usize)) as u32,
            max_seq: prog.limits.max_sequence,
        }
    }

    /// Binds a variable in the outermost frame (the evaluation's bindings).
    pub(super) fn bind_global(&mut self, var: Var, v: Val<'a>) {
        self.frames[0].vars.push((var, v));
    }

    #[inline]
    pub(super) fn tick(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            return Err(Bail);
        }
        Ok(())
    }

    /// Counts `units` steps at once: the work of one node that copies a whole value (the string
    /// `&` builds, the array `$append` builds), so a loop that grows a value and copies it each
    /// time (`$reduce(xs, function($a, $x) { $a & $x })`) meets the budget as its copying grows,
    /// not only by the number of nodes it evaluates.
    pub(super) fn charge(&mut self, units: usize) -> R<()> {
        self.steps = self.steps.saturating_add(units as u64);
        if self.steps > STEP_BUDGET {
            return Err(Bail);
        }
        Ok(())
    }

    /// Whether the step budget ran out: every later step fails too, so a decline after it is
    /// the budget's.
    pub(super) fn exhausted(&self) -> bool {
        self.steps > STEP_BUDGET
    }

    pub(super) fn check_len(&self, n: usize) -> R<()> {
        if n > self.max_seq {
            Err(Bail)
        } else {
            Ok(())
        }
    }

    fn frame(&mut self, parent: usize) -> usize {
        self.frames.push(Frame {
            parent,
            vars: Vec::new(),
        });
        self.frames.len() - 1
    }

    fn bind(&mut self, env: usize, var: Var, v: Val<'a>) {
        let vars = &mut self.frames[env].vars;
        match vars.iter_mut().find(|(k, _)| *k == var) {
            Some(slot) => slot.1 = v,
            None => vars.push((var, v)),
        }
    }

    fn lookup(&self, mut env: usize, var: Var) -> Option<Val<'a>> {
        while env != NO_FRAME {
            let f = &self.frames[env];
            if let Some((_, v)) = f.vars.iter().find(|(k, _)| *k == var) {
                return Some(v.clone());
            }
            env = f.parent;
        }
        None
    }

    /// `evaluate(expr, input, environment)`.
    pub(super) fn eval(&mut self, n: &'a Node, input: &Val<'a>, env: usize) -> R<Val<'a>> {
        self.tick()?;
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Bail);
        }
        let mut v = self.eval_kind(n, input, env)?;
        self.depth -= 1;
        for p in &n.predicates {
            v = self.filter(p, v, env)?;
        }
        if let Some(g) = &n.group {
            v = self.group(g, v, env)?;
        }
        if n.tail {
            return Ok(v);
        }
        Ok(finish(v, n.keep_array))
    }

    /// Appends the value of `n`, an operand of `&`, to `out`; a plain `&` (no predicate,
    /// group or `[]`) is flattened into its operands, evaluated left to right as before.
    fn concat_into(
        &mut self,
        n: &'a Node,
        input: &Val<'a>,
        env: usize,
        out: &mut String,
        max: usize,
    ) -> R<()> {
        match &n.kind {
            K::Concat(l, r) if n.predicates.is_empty() && n.group.is_none() && !n.keep_array => {
                // Counted as `eval` counts the node it stands for.
                self.tick()?;
                self.depth += 1;
                if self.depth > self.max_depth {
                    return Err(Bail);
                }
                self.concat_into(l, input, env, out, max)?;
                let b = self.eval(r, input, env)?;
                self.depth -= 1;
                concat_part(&b, out, max)?;
                if out.len() > max {
                    return Err(Bail);
                }
                Ok(())
            }
            _ => {
                let a = self.eval(n, input, env)?;
                concat_part(&a, out, max)
            }
        }
    }

    fn eval_kind(&mut self, n: &'a Node, input: &Val<'a>, env: usize) -> R<Val<'a>> {
        Ok(match &n.kind {
            K::Str(s) => Val::str(s),
            K::Num(x) => Val::Num(*x),
            K::Bool(b) => Val::Bool(*b),
            K::Null => Val::Null,
            K::Context => input.clone(),
            K::Root => self.root.clone(),
            K::Var { var, builtin } => match self.lookup(env, *var) {
                Some(v) => v,
                None if *builtin => return Err(Bail),
                None => Val::Undef,
            },
            K::Name(key) => lookup(input, key, self.max_seq)?,
            K::Path(p) => self.path(p, input, env)?,
            K::Neg(x) => match self.eval(x, input, env)? {
                Val::Undef => Val::Undef,
                Val::Num(v) => Val::Num(-v),
                _ => return Err(Bail),
            },
            K::Arith(op, l, r) => {
                let (a, b) = (self.eval(l, input, env)?, self.eval(r, input, env)?);
                match (a, b) {
                    (Val::Num(x), Val::Num(y)) => {
                        let v = match op {
                            Arith::Add => x + y,
                            Arith::Sub => x - y,
                            Arith::Mul => x * y,
                            Arith::Div => x / y,
                            Arith::Mod => x % y,
                        };
                        if !v.is_finite() {
                            return Err(Bail);
                        }
                        Val::Num(v)
                    }
                    (Val::Undef, Val::Num(_) | Val::Undef) | (Val::Num(_), Val::Undef) => {
                        Val::Undef
                    }
                    _ => return Err(Bail),
                }
            }
            K::Cmp(op, l, r) => {
                let (a, b) = (self.eval(l, input, env)?, self.eval(r, input, env)?);
                let ord = match (&a, &b) {
                    (Val::Num(x), Val::Num(y)) => x.partial_cmp(y).ok_or(Bail)?,
                    (Val::Str(x), Val::Str(y)) => js_str_cmp(x, y),
                    (Val::Undef, Val::Undef | Val::Num(_) | Val::Str(_))
                    | (Val::Num(_) | Val::Str(_), Val::Undef) => return Ok(Val::Undef),
                    _ => return Err(Bail),
                };
                use std::cmp::Ordering::*;
                Val::Bool(match op {
                    Cmp::Lt => ord == Less,
                    Cmp::Le => ord != Greater,
                    Cmp::Gt => ord == Greater,
                    Cmp::Ge => ord != Less,
                })
            }
            K::Eq(negate, l, r) => {
                let (a, b) = (self.eval(l, input, env)?, self.eval(r, input, env)?);
                if a.is_undef() || b.is_undef() {
                    return Ok(Val::Bool(false));
                }
                Val::Bool(deep_equal(&a, &b)? != *negate)
            }
            K::In(l, r) => {
                let (a, b) = (self.eval(l, input, env)?, self.eval(r, input, env)?);
                if a.is_undef() || b.is_undef() {
                    return Ok(Val::Bool(false));
                }
                if a.is_array() || a.is_object() || matches!(a, Val::Fn(_)) {
                    return Err(Bail);
                }
                let found = if b.is_array() {
                    let mut found = false;
                    b.each_item(|item| {
                        found = found || strict_equal(&a, &item);
                        Ok(())
                    })?;
                    found
                } else {
                    strict_equal(&a, &b)
                };
                Val::Bool(found)
            }
            K::And(l, r) => {
                let a = truthy(&self.eval(l, input, env)?);
                Val::Bool(a && truthy(&self.eval(r, input, env)?))
            }
            K::Or(l, r) => {
                let a = truthy(&self.eval(l, input, env)?);
                Val::Bool(a || truthy(&self.eval(r, input, env)?))
            }
            K::Concat(l, r) => {
                // `a & b & c & …` (a left-leaning chain) is written into one string: every
                // intermediate result is a string, which `&` copies as it is, so this is the
                // chain's value with one allocation instead of one per `&`.
                let max = self.prog.limits.max_output_bytes;
                let mut s = String::new();
                self.concat_into(l, input, env, &mut s, max)?;
                let b = self.eval(r, input, env)?;
                concat_part(&b, &mut s, max)?;
                // A string past the output budget (doubling in a loop) is the engine's to stop.
                if s.len() > max {
                    return Err(Bail);
                }
                self.charge(s.len() / COPIED_BYTES_PER_STEP)?;
                Val::string(s)
            }
            K::Cond(c, t, e) => {
                if truthy(&self.eval(c, input, env)?) {
                    self.eval(t, input, env)?
                } else {
                    match e {
                        Some(e) => self.eval(e, input, env)?,
                        None => Val::Undef,
                    }
                }
            }
            K::Elvis(l, r) => {
                let a = self.eval(l, input, env)?;
                if truthy(&a) {
                    a
                } else {
                    self.eval(r, input, env)?
                }
            }
            K::Coalesce(l, r) => {
                let a = self.eval(l, input, env)?;
                if a.is_undef() {
                    self.eval(r, input, env)?
                } else {
                    a
                }
            }
            K::Block(items) => {
                let frame = self.frame(env);
                let mut v = Val::Undef;
                for item in items {
                    v = self.eval(item, input, frame)?;
                }
                v
            }
            K::Bind(var, value) => {
                let v = self.eval(value, input, env)?;
                self.bind(env, *var, v.clone());
                v
            }
            K::Array(items, cons) => self.array(items, *cons, input, env)?,
            K::Object(g) => self.group(g, input.clone(), env)?,
            K::Call(b, args) => {
                let mut argv: [Val<'a>; 4] = [Val::Undef, Val::Undef, Val::Undef, Val::Undef];
                let mut regex = None;
                if args.len() > 4 {
                    return Err(Bail);
                }
                for (i, a) in args.iter().enumerate() {
                    if let K::Regex(r) = a.kind {
                        regex = Some(&self.prog.regexes[r]);
                        continue;
                    }
                    argv[i] = self.eval(a, input, env)?;
                }
                self.builtin(*b, &argv[..args.len()], regex)?
            }
            K::Engine(call, args) => {
                let mut argv = Vec::with_capacity(args.len());
                for a in args {
                    argv.push(self.eval(a, input, env)?);
                }
                match native(call, &argv, self.prog.limits.max_output_bytes) {
                    Some(v) => v,
                    None => super::builtins::engine_call(
                        call,
                        &argv,
                        self.prog.limits.max_output_bytes,
                    )?,
                }
            }
            K::CallFn(callee, args) => {
                let f = self.eval(callee, input, env)?;
                let Val::Fn(f) = f else {
                    return Err(Bail);
                };
                let mut argv = Vec::with_capacity(args.len());
                for a in args {
                    argv.push(self.eval(a, input, env)?);
                }
                self.call(&f, &argv)?
            }
            K::Lambda(l) => Val::Fn(Rc::new(Closure {
                lambda: l,
                frame: env,
                input: input.clone(),
            })),
            K::Regex(_) | K::Bail => return Err(Bail),
        })
    }

    /// Applies a lambda (jsonata-js `applyProcedure`): parameters without an argument are
    /// undefined; the result is the body's, as it is.
    pub(super) fn call(&mut self, f: &Rc<Closure<'a>>, args: &[Val<'a>]) -> R<Val<'a>> {
        self.tick()?;
        let frame = self.frame(f.frame);
        for (i, p) in f.lambda.params.iter().enumerate() {
            let v = args.get(i).cloned().unwrap_or(Val::Undef);
            self.bind(frame, *p, v);
        }
        let input = f.input.clone();
        self.eval(&f.lambda.body, &input, frame)
    }

    fn array(&mut self, items: &'a [Item], cons: bool, input: &Val<'a>, env: usize) -> R<Val<'a>> {
        let mut out: Vec<Val<'a>> = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Expr { node, nested } => {
                    let v = self.eval(node, input, env)?;
                    if v.is_undef() {
                        continue;
                    }
                    if *nested || !v.is_array() {
                        out.push(v);
                    } else {
                        v.append_items(&mut out);
                    }
                }
                Item::Range(a, b) => {
                    let (a, b) = (self.eval(a, input, env)?, self.eval(b, input, env)?);
                    let (lo, hi) = match (a, b) {
                        (Val::Num(x), Val::Num(y)) if x.fract() == 0.0 && y.fract() == 0.0 => {
                            (x, y)
                        }
                        (Val::Undef, Val::Undef | Val::Num(_)) | (Val::Num(_), Val::Undef) => {
                            continue
                        }
                        _ => return Err(Bail),
                    };
                    if lo > hi {
                        continue;
                    }
                    let size = hi - lo + 1.0;
                    if size > 1e7 || out.len() as f64 + size > self.max_seq as f64 {
                        return Err(Bail);
                    }
                    self.steps += size as u64;
                    if self.steps > STEP_BUDGET {
                        return Err(Bail);
                    }
                    let mut x = lo;
                    while x <= hi {
                        out.push(Val::Num(x));
                        x += 1.0;
                    }
                }
            }
        }
        self.check_len(out.len())?;
        Ok(Val::Arr(
            Rc::new(super::value::Items(out)),
            Flags {
                cons,
                ..Flags::PLAIN
            },
        ))
    }

    /// `evaluatePath`.
    fn path(&mut self, p: &'a Path, input: &Val<'a>, env: usize) -> R<Val<'a>> {
        if let Some(names) = &p.names {
            if let Some(v) = walk(names, input, p.keep_singleton) {
                return match &p.group {
                    Some(g) => self.group(g, v, env),
                    None => Ok(v),
                };
            }
        }
        let mut seq = if input.is_array() && !p.absolute {
            input.clone()
        } else {
            Val::seq(vec![input.clone()])
        };
        let mut result = Val::seq(Vec::new());
        let last = p.steps.len() - 1;
        for (i, step) in p.steps.iter().enumerate() {
            result = match (&step.kind, i == 0 && step.cons_array) {
                (StepKind::Expr(node), true) => self.eval(node, &seq, env)?,
                _ => self.step(step, &seq, env, i == last)?,
            };
            if result.is_undef() || (result.is_array() && result.len() == 0) {
                break;
            }
            seq = result.clone();
        }
        if p.keep_singleton {
            result = match result {
                Val::Arr(items, f) if f.cons && !f.seq => Val::Arr(
                    Rc::new(super::value::Items(vec![Val::Arr(items, f)])),
                    Flags {
                        seq: true,
                        cons: false,
                        keep: true,
                    },
                ),
                Val::Arr(items, mut f) => {
                    f.keep = true;
                    Val::Arr(items, f)
                }
                other => other,
            };
        }
        if let Some(g) = &p.group {
            result = self.group(g, result, env)?;
        }
        Ok(result)
    }

    /// `evaluateStep`.
    fn step(&mut self, step: &'a Step, input: &Val<'a>, env: usize, last: bool) -> R<Val<'a>> {
        let node = match &step.kind {
            StepKind::Sort(terms) => {
                let mut r = self.sort(terms, input, env)?;
                for s in &step.stages {
                    r = self.filter(s, r, env)?;
                }
                return Ok(r);
            }
            StepKind::Expr(node) => node,
        };
        let items = if input.is_array() {
            input.items()
        } else {
            vec![input.clone()]
        };
        let mut results: Vec<Val<'a>> = Vec::with_capacity(items.len());
        for item in &items {
            let mut res = self.eval(node, item, env)?;
            for s in &step.stages {
                res = self.filter(s, res, env)?;
            }
            if !res.is_undef() {
                results.push(res);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_seq() {
            return Ok(results.pop().expect("one result"));
        }
        let mut out = Vec::with_capacity(results.len());
        for res in results {
            if !res.is_array() || res.flags().cons {
                out.push(res);
            } else {
                res.append_items(&mut out);
            }
        }
        self.check_len(out.len())?;
        Ok(Val::seq(out))
    }

    /// `evaluateFilter`: a predicate over the items of `input`.
    fn filter(&mut self, pred: &'a Node, input: Val<'a>, env: usize) -> R<Val<'a>> {
        let items = if input.is_array() {
            input
        } else {
            Val::seq(vec![input])
        };
        let n = items.len();
        if let K::Num(x) = pred.kind {
            if !pred.predicates.is_empty() || pred.group.is_some() {
                return Err(Bail);
            }
            let mut index = x.floor();
            if index < 0.0 {
                index += n as f64;
            }
            if index >= 0.0 && index < n as f64 {
                let item = items.item(index as usize);
                if item.is_undef() {
                    return Ok(Val::seq(Vec::new()));
                }
                if item.is_array() {
                    return Ok(item);
                }
                return Ok(Val::seq(vec![item]));
            }
            return Ok(Val::seq(Vec::new()));
        }
        let mut out = Vec::new();
        for index in 0..n {
            let item = items.item(index);
            let res = self.eval(pred, &item, env)?;
            let selected = match &res {
                Val::Num(x) => index_matches(*x, index, n)?,
                v if v.is_array() && all_numbers(v) => {
                    let mut hit = false;
                    for i in 0..v.len() {
                        if let Val::Num(x) = v.item(i) {
                            hit |= index_matches(x, index, n)?;
                        }
                    }
                    hit
                }
                v => truthy(v),
            };
            if selected {
                out.push(item);
            }
        }
        Ok(Val::seq(out))
    }

    /// `evaluateGroupExpression`: an object constructor over the items of `input`.
    fn group(&mut self, g: &'a Group, input: Val<'a>, env: usize) -> R<Val<'a>> {
        if g.literal_keys && !input.is_array() {
            // One item, keys known: every pair's value is evaluated against it.
            let mut obj = Obj::with_capacity(g.pairs.len());
            for (k, v) in &g.pairs {
                let K::Str(key) = &k.kind else {
                    return Err(Bail);
                };
                let value = self.eval(v, &input, env)?;
                if !value.is_undef() {
                    obj.entries.push((Str::B(key), value));
                }
            }
            return Ok(Val::Obj(Rc::new(obj.js_ordered())));
        }
        let mut items = if input.is_array() {
            input.items()
        } else {
            vec![input]
        };
        if items.is_empty() {
            items.push(Val::Undef);
        }
        // (key, data, index of the pair that made the key)
        let mut groups: Vec<(Str<'a>, Val<'a>, usize)> = Vec::new();
        // Where each key's group is, once there are more than a few: a search of the groups per
        // item was quadratic in the number of keys (100,000 keys ran for minutes). The keys come
        // from the event, so the map's hash is the standard one (flooding-resistant).
        const FEW: usize = 8;
        let mut at: std::collections::HashMap<Rc<str>, usize> = Default::default();
        for item in &items {
            for (pi, (k, _)) in g.pairs.iter().enumerate() {
                let key = match self.eval(k, item, env)? {
                    Val::Str(s) => s,
                    Val::Undef => continue,
                    _ => return Err(Bail),
                };
                let found = if groups.len() <= FEW {
                    groups.iter().position(|(k, ..)| **k == *key)
                } else {
                    at.get(&*key).copied()
                };
                match found.map(|i| &mut groups[i]) {
                    Some(entry) => {
                        if entry.2 != pi {
                            return Err(Bail);
                        }
                        let data = std::mem::replace(&mut entry.1, Val::Undef);
                        entry.1 = js_append(data, item.clone());
                    }
                    None => {
                        groups.push((key, item.clone(), pi));
                        if groups.len() == FEW + 1 {
                            at.extend(groups.iter().enumerate().map(|(i, (k, ..))| (k.to_rc(), i)));
                        } else if groups.len() > FEW + 1 {
                            at.insert(groups[groups.len() - 1].0.to_rc(), groups.len() - 1);
                        }
                    }
                }
            }
        }
        let mut obj = Obj::with_capacity(groups.len());
        for (key, data, pi) in groups {
            let value = self.eval(&g.pairs[pi].1, &data, env)?;
            if !value.is_undef() {
                // The keys of `groups` are distinct.
                obj.entries.push((key, value));
            }
        }
        Ok(Val::Obj(Rc::new(obj.js_ordered())))
    }

    /// `evaluateSortExpression`: the items of `input` ordered by the terms.
    fn sort(&mut self, terms: &'a [SortTerm], input: &Val<'a>, env: usize) -> R<Val<'a>> {
        let items = if input.is_array() {
            input.items()
        } else {
            vec![input.clone()]
        };
        if items.len() <= 1 {
            return Ok(input.clone());
        }
        // The terms are pure, so each item's keys are computed once.
        let mut keys: Vec<Vec<Val<'a>>> = Vec::with_capacity(items.len());
        for item in &items {
            let mut k = Vec::with_capacity(terms.len());
            for t in terms {
                k.push(self.eval(&t.expr, item, env)?);
            }
            keys.push(k);
        }
        let mut failed = false;
        let order = merge_sort((0..items.len()).collect(), &mut |a: usize, b: usize| {
            let mut comp = 0;
            for (t, term) in terms.iter().enumerate() {
                if comp != 0 {
                    break;
                }
                let (x, y) = (&keys[a][t], &keys[b][t]);
                match (x, y) {
                    (Val::Undef, Val::Undef) => continue,
                    (Val::Undef, _) => {
                        comp = 1;
                        continue;
                    }
                    (_, Val::Undef) => {
                        comp = -1;
                        continue;
                    }
                    _ => {}
                }
                let ord = match (x, y) {
                    (Val::Num(p), Val::Num(q)) => p.partial_cmp(q),
                    (Val::Str(p), Val::Str(q)) => Some(js_str_cmp(p, q)),
                    _ => None,
                };
                let Some(ord) = ord else {
                    failed = true;
                    return false;
                };
                comp = match ord {
                    std::cmp::Ordering::Equal => continue,
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Greater => 1,
                };
                if term.descending {
                    comp = -comp;
                }
            }
            comp == 1
        });
        if failed {
            return Err(Bail);
        }
        let sorted = order.into_iter().map(|i| items[i].clone()).collect();
        Ok(Val::plain(sorted))
    }
}

/// Walks a path of plain field names over non-array values; `None` when an array is met on
/// the way (the general algorithm decides).
#[inline]
fn walk<'a>(names: &[Box<str>], input: &Val<'a>, keep: bool) -> Option<Val<'a>> {
    if input.is_array() {
        return None;
    }
    let mut v = input.clone();
    for (i, name) in names.iter().enumerate() {
        if i > 0 && v.is_array() {
            return None;
        }
        v = match v.field(name) {
            Some(next) => next,
            None => return Some(Val::Undef),
        };
    }
    Some(match v {
        // The last step's own array is the result as it is, unless it is a sequence (then
        // its items make a new one).
        Val::Arr(items, f) if f.seq => finish(
            Val::Arr(
                items,
                Flags {
                    seq: true,
                    cons: false,
                    keep,
                },
            ),
            false,
        ),
        v if v.is_array() || v.is_undef() => v,
        v if keep => Val::Arr(
            Rc::new(super::value::Items(vec![v])),
            Flags {
                seq: true,
                cons: false,
                keep: true,
            },
        ),
        v => v,
    })
}

/// `fn.lookup(input, key)`: a field of an object, or of every item of an array (flattened).
pub(super) fn lookup<'a>(input: &Val<'a>, key: &str, max_seq: usize) -> R<Val<'a>> {
    if input.is_array() {
        let mut out = Vec::new();
        input.each_item(|item| {
            let r = lookup(&item, key, max_seq)?;
            if r.is_array() {
                r.append_items(&mut out);
            } else if !r.is_undef() {
                out.push(r);
            }
            if out.len() > max_seq {
                return Err(Bail);
            }
            Ok(())
        })?;
        return Ok(Val::seq(out));
    }
    Ok(input.field(key).unwrap_or(Val::Undef))
}

/// `fn.append(a, b)`: the items of both, as a plain array (an undefined side is the other).
pub(super) fn js_append<'a>(a: Val<'a>, b: Val<'a>) -> Val<'a> {
    if a.is_undef() {
        return b;
    }
    if b.is_undef() {
        return a;
    }
    let mut items = a.items();
    if b.is_array() {
        items.extend(b.items());
    } else {
        items.push(b);
    }
    Val::plain(items)
}

/// An engine call's result without the engine, where its native form covers the arguments
/// (`None`: the engine is asked, after its guard).
fn native<'a>(call: &super::ir::EngineCall, args: &[Val<'a>], max: usize) -> Option<Val<'a>> {
    use super::ir::Native;
    match (call.native.as_ref()?, args) {
        (Native::FormatNumber, [Val::Num(x), Val::Str(picture)]) => {
            if let Some(g) = call.guard {
                if g.refusal(*x, Some(picture), max).is_some() {
                    return None;
                }
            }
            match jsonata_core::functions::numeric::format_number(*x, picture, None) {
                Ok(jsonata_core::value::JValue::String(s)) => Some(Val::Str(Str::R(s))),
                _ => None,
            }
        }
        (Native::ToMillis, [Val::Str(s)]) => super::dates::to_millis(s).map(Val::Num),
        (Native::FromMillis(parts), [Val::Num(ms), ..]) => {
            let ms = crate::transform::numbers::Guard::FromMillis.argument(*ms);
            super::dates::format(ms, parts).map(Val::string)
        }
        (Native::Url(component, false), [Val::Str(s)]) => {
            Some(Val::string(crate::transform::uri::encode(s, *component)))
        }
        (Native::Url(component, true), [Val::Str(s)]) => {
            crate::transform::uri::decode(s, *component).map(Val::string)
        }
        _ => None,
    }
}

/// JavaScript's `===` between a scalar and any value.
fn strict_equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => **x == **y,
        _ => false,
    }
}

fn all_numbers(v: &Val) -> bool {
    (0..v.len()).all(|i| matches!(v.item(i), Val::Num(_)))
}

fn index_matches(x: f64, index: usize, n: usize) -> R<bool> {
    if x.is_nan() {
        return Err(Bail);
    }
    let mut i = x.floor();
    if i < 0.0 {
        i += n as f64;
    }
    Ok(i == index as f64)
}

/// The engine's string order (code points).
pub(super) fn js_str_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.cmp(b)
}

/// One side of `&`: `$string` of it, undefined as "".
fn concat_part(v: &Val, out: &mut String, max: usize) -> R<()> {
    match v {
        Val::Undef => {}
        Val::Str(s) => out.push_str(s),
        other => {
            if let Some(s) = super::builtins::to_string(other, max)? {
                out.push_str(&s);
            }
        }
    }
    Ok(())
}

/// jsonata-js's merge sort (`fn.sort`'s `msort`): `swap(a, b)` true puts `b` first. The same
/// algorithm, so an inconsistent comparator orders exactly as there.
pub(super) fn merge_sort(
    items: Vec<usize>,
    swap: &mut dyn FnMut(usize, usize) -> bool,
) -> Vec<usize> {
    if items.len() <= 1 {
        return items;
    }
    let middle = items.len() / 2;
    let left = merge_sort(items[..middle].to_vec(), swap);
    let right = merge_sort(items[middle..].to_vec(), swap);
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(left.len() + right.len());
    while i < left.len() && j < right.len() {
        if swap(left[i], right[j]) {
            out.push(right[j]);
            j += 1;
        } else {
            out.push(left[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    out
}
