//! Which parts of the input a compiled expression can read, for parsing only those.
//!
//! Each expression is analysed with its context: a known path from the input root, or
//! unknown. A field step extends a known context; every value that leaves an expression (an
//! operand, an argument, a bound variable, a result) is read whole at its path. A value met in
//! an unknown context (a variable, the result of a function) therefore always lies inside
//! something already read whole, so reading more of it needs nothing more. The result is
//! conservative: the trie may hold more than the evaluation needs, never less.

use super::input::Trie;
use super::ir::*;

type Ctx = Option<Vec<Box<str>>>;

pub(super) fn reads(root: &Node) -> Trie {
    let mut trie = Trie::default();
    node(root, &Some(Vec::new()), &mut trie);
    trie
}

fn read(ctx: &Ctx, trie: &mut Trie) {
    if let Some(p) = ctx {
        trie.add(p);
    }
}

fn node(n: &Node, ctx: &Ctx, trie: &mut Trie) {
    kind(&n.kind, ctx, trie);
    // Predicates and a group see the node's result: values already read whole.
    for p in &n.predicates {
        node(p, &None, trie);
    }
    if let Some(g) = &n.group {
        group(g, &None, trie);
    }
}

fn group(g: &Group, ctx: &Ctx, trie: &mut Trie) {
    for (k, v) in &g.pairs {
        node(k, ctx, trie);
        node(v, ctx, trie);
    }
}

fn kind(k: &K, ctx: &Ctx, trie: &mut Trie) {
    match k {
        K::Str(_) | K::Num(_) | K::Bool(_) | K::Null | K::Var { .. } | K::Regex(_) | K::Bail => {}
        K::Context => read(ctx, trie),
        K::Root => trie.add(&[]),
        K::Name(name) => {
            if let Some(p) = ctx {
                let mut p = p.clone();
                p.push(name.clone());
                trie.add(&p);
            }
        }
        K::Path(p) => path(p, ctx, trie),
        K::Neg(x) => node(x, ctx, trie),
        K::Arith(_, a, b)
        | K::Cmp(_, a, b)
        | K::Eq(_, a, b)
        | K::In(a, b)
        | K::And(a, b)
        | K::Or(a, b)
        | K::Concat(a, b)
        | K::Elvis(a, b)
        | K::Coalesce(a, b) => {
            node(a, ctx, trie);
            node(b, ctx, trie);
        }
        K::Cond(c, t, e) => {
            node(c, ctx, trie);
            node(t, ctx, trie);
            if let Some(e) = e {
                node(e, ctx, trie);
            }
        }
        K::Block(items) => items.iter().for_each(|i| node(i, ctx, trie)),
        K::Bind(_, v) => node(v, ctx, trie),
        K::Array(items, _) => {
            for i in items {
                match i {
                    Item::Expr { node: n, .. } => node(n, ctx, trie),
                    Item::Range(a, b) => {
                        node(a, ctx, trie);
                        node(b, ctx, trie);
                    }
                }
            }
        }
        K::Object(g) => group(g, ctx, trie),
        K::Call(_, args) | K::Engine(_, args) => args.iter().for_each(|a| node(a, ctx, trie)),
        K::CallFn(f, args) => {
            node(f, ctx, trie);
            args.iter().for_each(|a| node(a, ctx, trie));
        }
        // The body runs with the context the lambda was defined in.
        K::Lambda(l) => node(&l.body, ctx, trie),
    }
}

/// Keeps the value at `ctx`, when known: the items a step runs over ([`Trie::touch`]).
fn touch(ctx: &Ctx, trie: &mut Trie) {
    if let Some(p) = ctx {
        trie.touch(p);
    }
}

fn path(p: &Path, ctx: &Ctx, trie: &mut Trie) {
    let mut cur: Ctx = ctx.clone();
    for (i, step) in p.steps.iter().enumerate() {
        match &step.kind {
            StepKind::Expr(n) => match &n.kind {
                K::Name(name) if n.predicates.is_empty() && n.group.is_none() => {
                    if let Some(c) = &mut cur {
                        c.push(name.clone());
                    }
                }
                K::Root if i == 0 => cur = Some(Vec::new()),
                K::Context if i == 0 => {}
                _ => {
                    touch(&cur, trie);
                    node(n, &cur, trie);
                    cur = None;
                }
            },
            StepKind::Sort(terms) => {
                touch(&cur, trie);
                for t in terms {
                    node(&t.expr, &cur, trie);
                }
            }
        }
        // Stages filter the step's items: they see each item at the current path.
        for s in &step.stages {
            node(s, &cur, trie);
        }
    }
    match &p.group {
        // The group's pairs see the items; its result, not the items, leaves the path.
        Some(g) => {
            touch(&cur, trie);
            group(g, &cur, trie)
        }
        None => read(&cur, trie),
    }
}
