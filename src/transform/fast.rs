//! A fast path for the common shape of CRM mappings: object constructors whose values are plain
//! field paths, literals, `? :`, comparisons, arithmetic, `&`, and `$string`, `$number`, `$round`,
//! `$exists`, `$now`, `$millis`. Such a transform is compiled from the engine's AST to direct
//! accessors, and its JSON text input is parsed only as far as the paths it reads.
//!
//! Correctness rule: the fast path must give exactly the engine's result, or decline. Anything
//! whose JSONata semantics are subtle — an array met on a path (sequences, flattening, singleton
//! unwrapping), an operand of an unexpected type (the engine raises a coded error), a non-finite
//! number, an object or array where a string is needed — makes that one evaluation decline
//! ([`Bail`]) and the engine runs instead. Expressions with any other construct are not compiled
//! at all. `tests/transform/conformance.rs` checks fast against engine on every official case the
//! fast path compiles, and the unit tests below on generated events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jsonata_core::ast::{AstNode, BinaryOp, UnaryOp};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::engine::number;
use super::TransformError;

/// The fast path declined this evaluation; the engine must run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

type R<T> = Result<T, Bail>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    String,
    Number,
    Round,
    Exists,
    Now,
    Millis,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Path(Vec<String>),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Object(Vec<(String, Expr)>),
    Cond(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Call(Func, Vec<Expr>),
}

/// A transform compiled to direct accessors.
#[derive(Debug)]
pub struct Program {
    expr: Expr,
    /// The input paths read, as a trie, for parsing only what is needed.
    reads: Trie,
}

#[derive(Debug, Default)]
struct Trie {
    /// Read whole (a path ends here).
    whole: bool,
    children: BTreeMap<String, Trie>,
}

impl Program {
    /// Compiles `ast` when every node is supported; `None` sends every evaluation to the engine.
    pub(super) fn compile(ast: &AstNode) -> Option<Program> {
        let expr = compile(ast)?;
        let mut reads = Trie::default();
        collect_paths(&expr, &mut reads);
        Some(Program { expr, reads })
    }

    /// Evaluates against an event; `Err(Bail)` when the engine must decide.
    pub(super) fn try_eval(&self, event: &Value, now: DateTime<Utc>) -> R<Option<Value>> {
        if !event.is_object() {
            return Err(Bail);
        }
        let ctx = Ctx { root: event, now };
        let v = ctx.eval(&self.expr)?;
        v.into_output()
    }

    /// Parses only the fields the transform reads, then evaluates; `Err(Bail)` when the engine
    /// must decide (including text that is not a JSON object).
    pub(super) fn try_eval_json_text(&self, text: &str, now: DateTime<Utc>) -> R<Option<String>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let pruned = PrunedSeed(&self.reads)
            .deserialize(&mut de)
            .map_err(|_| Bail)?;
        de.end().map_err(|_| Bail)?;
        if !pruned.is_object() {
            return Err(Bail);
        }
        let ctx = Ctx { root: &pruned, now };
        let mut out = Vec::with_capacity(256);
        if !ctx.write(&self.expr, &mut out)? {
            return Ok(None);
        }
        // Only valid UTF-8 is ever written: escaped strings, numbers and punctuation.
        Ok(Some(String::from_utf8(out).expect("JSON text is UTF-8")))
    }
}

/// Maps a declined evaluation to the engine.
pub(super) fn or_engine<T>(
    fast: R<T>,
    engine: impl FnOnce() -> Result<T, TransformError>,
) -> Result<T, TransformError> {
    match fast {
        Ok(v) => Ok(v),
        Err(Bail) => engine(),
    }
}

fn compile(node: &AstNode) -> Option<Expr> {
    Some(match node {
        AstNode::String(s) => Expr::Str(s.clone()),
        AstNode::Number(n) => Expr::Num(*n),
        AstNode::Boolean(b) => Expr::Bool(*b),
        AstNode::Null => Expr::Null,
        AstNode::Name(n) => Expr::Path(vec![n.clone()]),
        AstNode::Path { steps } => {
            let mut segs = Vec::with_capacity(steps.len());
            for s in steps {
                let plain = s.stages.is_empty()
                    && s.focus.is_none()
                    && s.index_var.is_none()
                    && s.ancestor_label.is_none()
                    && !s.is_tuple
                    && !s.inner_tuple;
                match &s.node {
                    AstNode::Name(n) if plain => segs.push(n.clone()),
                    _ => return None,
                }
            }
            if segs.is_empty() {
                return None;
            }
            Expr::Path(segs)
        }
        AstNode::Block(items) if items.len() == 1 => compile(&items[0])?,
        AstNode::Object(pairs) => {
            let mut out: Vec<(String, Expr)> = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let AstNode::String(key) = k else { return None };
                // Duplicate keys are an engine error (D1009); leave them to the engine.
                if out.iter().any(|(seen, _)| seen == key) {
                    return None;
                }
                out.push((key.clone(), compile(v)?));
            }
            Expr::Object(out)
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => Expr::Cond(
            Box::new(compile(condition)?),
            Box::new(compile(then_branch)?),
            match else_branch {
                Some(e) => Some(Box::new(compile(e)?)),
                None => None,
            },
        ),
        AstNode::Unary {
            op: UnaryOp::Negate,
            operand,
        } => Expr::Neg(Box::new(compile(operand)?)),
        AstNode::Binary { op, lhs, rhs } => {
            let (l, r) = (Box::new(compile(lhs)?), Box::new(compile(rhs)?));
            match op {
                BinaryOp::Add => Expr::Arith(Arith::Add, l, r),
                BinaryOp::Subtract => Expr::Arith(Arith::Sub, l, r),
                BinaryOp::Multiply => Expr::Arith(Arith::Mul, l, r),
                BinaryOp::Divide => Expr::Arith(Arith::Div, l, r),
                BinaryOp::Modulo => Expr::Arith(Arith::Mod, l, r),
                BinaryOp::Equal => Expr::Cmp(Cmp::Eq, l, r),
                BinaryOp::NotEqual => Expr::Cmp(Cmp::Ne, l, r),
                BinaryOp::LessThan => Expr::Cmp(Cmp::Lt, l, r),
                BinaryOp::LessThanOrEqual => Expr::Cmp(Cmp::Le, l, r),
                BinaryOp::GreaterThan => Expr::Cmp(Cmp::Gt, l, r),
                BinaryOp::GreaterThanOrEqual => Expr::Cmp(Cmp::Ge, l, r),
                BinaryOp::And => Expr::And(l, r),
                BinaryOp::Or => Expr::Or(l, r),
                BinaryOp::Concatenate => Expr::Concat(l, r),
                _ => return None,
            }
        }
        AstNode::Function {
            name,
            args,
            is_builtin: true,
        } => {
            let (f, arity) = match name.as_str() {
                "string" => (Func::String, 1..=1),
                "number" => (Func::Number, 1..=1),
                "round" => (Func::Round, 1..=2),
                "exists" => (Func::Exists, 1..=1),
                "now" => (Func::Now, 0..=0),
                "millis" => (Func::Millis, 0..=0),
                _ => return None,
            };
            if !arity.contains(&args.len()) {
                return None;
            }
            Expr::Call(f, args.iter().map(compile).collect::<Option<Vec<_>>>()?)
        }
        _ => return None,
    })
}

fn collect_paths(e: &Expr, trie: &mut Trie) {
    match e {
        Expr::Path(segs) => {
            let mut t = &mut *trie;
            for s in segs {
                t = t.children.entry(s.clone()).or_default();
            }
            t.whole = true;
        }
        Expr::Object(pairs) => pairs.iter().for_each(|(_, v)| collect_paths(v, trie)),
        Expr::Cond(c, t, f) => {
            collect_paths(c, trie);
            collect_paths(t, trie);
            if let Some(f) = f {
                collect_paths(f, trie);
            }
        }
        Expr::Arith(_, l, r)
        | Expr::Cmp(_, l, r)
        | Expr::And(l, r)
        | Expr::Or(l, r)
        | Expr::Concat(l, r) => {
            collect_paths(l, trie);
            collect_paths(r, trie);
        }
        Expr::Neg(x) => collect_paths(x, trie),
        Expr::Call(_, args) => args.iter().for_each(|a| collect_paths(a, trie)),
        Expr::Str(_) | Expr::Num(_) | Expr::Bool(_) | Expr::Null => {}
    }
}

/// A value during fast evaluation: borrowed from the input where possible.
enum Val<'a> {
    Undef,
    In(&'a Value),
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
    Obj(Map<String, Value>),
}

impl Val<'_> {
    /// The scalar kind, looking through input references; objects and arrays are `Other`.
    fn scalar(&self) -> Scalar<'_> {
        match self {
            Val::Undef => Scalar::Undef,
            Val::Num(n) => Scalar::Num(*n),
            Val::Str(s) => Scalar::Str(s),
            Val::Bool(b) => Scalar::Bool(*b),
            Val::Null => Scalar::Null,
            Val::Obj(_) => Scalar::Other,
            Val::In(v) => match v {
                Value::Null => Scalar::Null,
                Value::Bool(b) => Scalar::Bool(*b),
                Value::Number(n) => n.as_f64().map_or(Scalar::Other, Scalar::Num),
                Value::String(s) => Scalar::Str(s),
                _ => Scalar::Other,
            },
        }
    }

    fn into_output(self) -> R<Option<Value>> {
        Ok(Some(match self {
            Val::Undef => return Ok(None),
            Val::Num(n) => finite(n)?,
            Val::Str(s) => Value::String(s),
            Val::Bool(b) => Value::Bool(b),
            Val::Null => Value::Null,
            Val::Obj(m) => Value::Object(m),
            Val::In(v) => normalise(v)?,
        }))
    }
}

enum Scalar<'a> {
    Undef,
    Num(f64),
    Str(&'a str),
    Bool(bool),
    Null,
    Other,
}

fn finite(n: f64) -> R<Value> {
    if n.is_finite() {
        Ok(number(n))
    } else {
        Err(Bail)
    }
}

/// An input value as the engine would output it: numbers through f64 (`1.0` → `1`).
fn normalise(v: &Value) -> R<Value> {
    Ok(match v {
        Value::Number(n) => finite(n.as_f64().ok_or(Bail)?)?,
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect::<R<_>>()?),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), normalise(v)?)))
                .collect::<R<_>>()?,
        ),
        other => other.clone(),
    })
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// [`normalise`] written as compact JSON text.
fn write_normalised(v: &Value, out: &mut Vec<u8>) -> R<()> {
    match v {
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, &finite(n.as_f64().ok_or(Bail)?)?);
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_normalised(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write_normalised(item, out)?;
            }
            out.push(b'}');
        }
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
    Ok(())
}

struct Ctx<'a> {
    root: &'a Value,
    now: DateTime<Utc>,
}

impl<'a> Ctx<'a> {
    fn eval(&self, e: &Expr) -> R<Val<'a>> {
        Ok(match e {
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Num(n) => Val::Num(*n),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Null => Val::Null,
            Expr::Path(segs) => {
                let mut v = self.root;
                for s in segs {
                    match v {
                        Value::Object(m) => match m.get(s) {
                            Some(next) => v = next,
                            None => return Ok(Val::Undef),
                        },
                        // Sequences: mapping over arrays, flattening, singleton unwrapping.
                        Value::Array(_) => return Err(Bail),
                        _ => return Ok(Val::Undef),
                    }
                }
                if v.is_array() {
                    return Err(Bail);
                }
                Val::In(v)
            }
            Expr::Object(pairs) => {
                let mut m = Map::with_capacity(pairs.len());
                for (k, ve) in pairs {
                    if let Some(v) = self.eval(ve)?.into_output()? {
                        m.insert(k.clone(), v);
                    }
                }
                Val::Obj(m)
            }
            Expr::Cond(c, t, f) => {
                if truthy(&self.eval(c)?)? {
                    self.eval(t)?
                } else {
                    match f {
                        Some(f) => self.eval(f)?,
                        None => Val::Undef,
                    }
                }
            }
            Expr::And(l, r) => Val::Bool(truthy(&self.eval(l)?)? && truthy(&self.eval(r)?)?),
            Expr::Or(l, r) => Val::Bool(truthy(&self.eval(l)?)? || truthy(&self.eval(r)?)?),
            Expr::Neg(x) => match self.eval(x)?.scalar() {
                Scalar::Undef => Val::Undef,
                Scalar::Num(n) => Val::Num(-n),
                _ => return Err(Bail),
            },
            Expr::Arith(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                match (l.scalar(), r.scalar()) {
                    (Scalar::Num(a), Scalar::Num(b)) => {
                        let n = match op {
                            Arith::Add => a + b,
                            Arith::Sub => a - b,
                            Arith::Mul => a * b,
                            Arith::Div => a / b,
                            Arith::Mod => a % b,
                        };
                        if !n.is_finite() {
                            return Err(Bail);
                        }
                        Val::Num(n)
                    }
                    // Undefined with a number is undefined; anything else is an engine error.
                    (Scalar::Undef, Scalar::Num(_) | Scalar::Undef)
                    | (Scalar::Num(_), Scalar::Undef) => Val::Undef,
                    _ => return Err(Bail),
                }
            }
            Expr::Cmp(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                compare(*op, &l, &r)?
            }
            Expr::Concat(l, r) => {
                let mut s = to_js_string(&self.eval(l)?)?.unwrap_or_default();
                s.push_str(&to_js_string(&self.eval(r)?)?.unwrap_or_default());
                Val::Str(s)
            }
            Expr::Call(f, args) => self.call(*f, args)?,
        })
    }

    /// Evaluates `e` and writes its compact JSON straight into `out` (object constructors without
    /// building a map); false, with nothing written, for undefined.
    fn write(&self, e: &Expr, out: &mut Vec<u8>) -> R<bool> {
        if let Expr::Object(pairs) = e {
            out.push(b'{');
            let mut first = true;
            for (k, ve) in pairs {
                let mark = out.len();
                if !first {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                if self.write(ve, out)? {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
            out.push(b'}');
            return Ok(true);
        }
        match self.eval(e)? {
            Val::Undef => return Ok(false),
            Val::In(v) => write_normalised(v, out)?,
            Val::Str(s) => write_str(&s, out),
            other => match other.into_output()? {
                Some(v) => {
                    let _ = serde_json::to_writer(&mut *out, &v);
                }
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    fn call(&self, f: Func, args: &[Expr]) -> R<Val<'a>> {
        Ok(match f {
            Func::Now => Val::Str(
                self.now
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            Func::Millis => Val::Num(self.now.timestamp_millis() as f64),
            Func::Exists => Val::Bool(!matches!(self.eval(&args[0])?, Val::Undef)),
            Func::String => match to_js_string(&self.eval(&args[0])?)? {
                Some(s) => Val::Str(s),
                None => Val::Undef,
            },
            Func::Number => match self.eval(&args[0])?.scalar() {
                Scalar::Undef => Val::Undef,
                Scalar::Num(n) => Val::Num(n),
                Scalar::Bool(b) => Val::Num(if b { 1.0 } else { 0.0 }),
                Scalar::Str(s) if is_json_number(s) => {
                    Val::Num(s.parse::<f64>().map_err(|_| Bail)?)
                }
                _ => return Err(Bail),
            },
            Func::Round => {
                let x = match self.eval(&args[0])?.scalar() {
                    Scalar::Undef => return Ok(Val::Undef),
                    Scalar::Num(n) => n,
                    _ => return Err(Bail),
                };
                let precision = match args.get(1) {
                    None => 0,
                    Some(p) => match self.eval(p)?.scalar() {
                        Scalar::Num(p) if p.fract() == 0.0 && p.abs() < 300.0 => p as i32,
                        _ => return Err(Bail),
                    },
                };
                Val::Num(round_half_even(x, precision)?)
            }
        })
    }
}

/// JSONata's boolean cast for scalars and objects; arrays are left to the engine.
fn truthy(v: &Val) -> R<bool> {
    Ok(match v {
        Val::Obj(m) => !m.is_empty(),
        Val::In(Value::Object(m)) => !m.is_empty(),
        Val::In(Value::Array(_)) => return Err(Bail),
        other => match other.scalar() {
            Scalar::Undef | Scalar::Null => false,
            Scalar::Bool(b) => b,
            Scalar::Num(n) => n != 0.0,
            Scalar::Str(s) => !s.is_empty(),
            Scalar::Other => return Err(Bail),
        },
    })
}

/// `=`, `!=` (false when either side is undefined) and the ordering comparisons.
fn compare<'a>(op: Cmp, l: &Val, r: &Val) -> R<Val<'a>> {
    let (a, b) = (l.scalar(), r.scalar());
    if matches!(a, Scalar::Other) || matches!(b, Scalar::Other) {
        return Err(Bail);
    }
    match op {
        Cmp::Eq | Cmp::Ne => {
            if matches!(a, Scalar::Undef) || matches!(b, Scalar::Undef) {
                return Ok(Val::Bool(false));
            }
            let eq = match (a, b) {
                (Scalar::Num(x), Scalar::Num(y)) => x == y,
                (Scalar::Str(x), Scalar::Str(y)) => x == y,
                (Scalar::Bool(x), Scalar::Bool(y)) => x == y,
                (Scalar::Null, Scalar::Null) => true,
                _ => false,
            };
            Ok(Val::Bool(if op == Cmp::Eq { eq } else { !eq }))
        }
        _ => {
            let ord = match (a, b) {
                (Scalar::Num(x), Scalar::Num(y)) => x.partial_cmp(&y).ok_or(Bail)?,
                // JavaScript orders strings by UTF-16 code units.
                (Scalar::Str(x), Scalar::Str(y)) => x.encode_utf16().cmp(y.encode_utf16()),
                _ => return Err(Bail),
            };
            use std::cmp::Ordering::*;
            Ok(Val::Bool(match op {
                Cmp::Lt => ord == Less,
                Cmp::Le => ord != Greater,
                Cmp::Gt => ord == Greater,
                _ => ord != Less,
            }))
        }
    }
}

/// `$string` of a scalar (`None` for undefined); objects and arrays are left to the engine.
fn to_js_string(v: &Val) -> R<Option<String>> {
    Ok(Some(match v.scalar() {
        Scalar::Undef => return Ok(None),
        Scalar::Str(s) => s.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Null => "null".to_string(),
        Scalar::Num(n) => {
            if !n.is_finite() {
                return Err(Bail);
            }
            // jsonata-js: integers as they are, others as Number(n.toPrecision(15)), printed as
            // JavaScript prints numbers.
            if n.fract() == 0.0 {
                js_number(n)?
            } else {
                let p: f64 = format!("{n:.14e}").parse().map_err(|_| Bail)?;
                js_number(p)?
            }
        }
        Scalar::Other => return Err(Bail),
    }))
}

/// JavaScript's `Number.prototype.toString()` where Rust's shortest formatting agrees with it.
fn js_number(n: f64) -> R<String> {
    if n == 0.0 {
        return Ok("0".to_string());
    }
    if (1e-6..1e21).contains(&n.abs()) {
        Ok(format!("{n}"))
    } else {
        Err(Bail)
    }
}

/// jsonata-js's `$round`: shift by the precision in decimal text, round half to even, shift back.
fn round_half_even(x: f64, precision: i32) -> R<f64> {
    let shift = |v: f64, by: i32| -> R<f64> {
        if by == 0 {
            return Ok(v);
        }
        let s = js_number(v)?;
        let (mant, exp) = match s.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<i32>().map_err(|_| Bail)?),
            None => (s, 0),
        };
        format!("{mant}e{}", exp + by).parse().map_err(|_| Bail)
    };
    let arg = shift(x, precision)?;
    // Math.round: the nearest integer, halves toward +infinity.
    let floor = arg.floor();
    let mut result = if arg - floor >= 0.5 {
        floor + 1.0
    } else {
        floor
    };
    if (result - arg).abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    let result = shift(result, -precision)?;
    Ok(if result == 0.0 { 0.0 } else { result })
}

/// The decimal number syntax `$number` accepts without further rules (hex, binary, … go to the
/// engine).
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Deserialises only the parts of a JSON document a [`Trie`] names; everything else is skipped
/// without allocating.
struct PrunedSeed<'t>(&'t Trie);

impl<'de> DeserializeSeed<'de> for PrunedSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.whole {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(PrunedVisitor(self.0))
    }
}

struct PrunedVisitor<'t>(&'t Trie);

impl<'de> Visitor<'de> for PrunedVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.0.children.get(key.as_ref()) {
                Some(child) => {
                    let v = map.next_value_seed(PrunedSeed(child))?;
                    out.insert(key.into_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    // A value on the way to a read path that is not an object is kept whole: the evaluator
    // decides what it means (an array makes it decline).
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        serde::de::Visitor::visit_seq(ValueVisitor, seq)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// serde_json's own visitor for a whole value.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element::<Value>()? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        crate::transform::parse_instant("2024-01-15T14:00:00Z").unwrap()
    }

    const GUIDE: &str = include_str!("../../specs/transforms/interaction_ended.jsonata");

    #[test]
    fn the_guide_transform_takes_the_fast_path() {
        assert!(Transform::compile(GUIDE).unwrap().is_fast());
    }

    #[test]
    fn unsupported_constructs_are_not_compiled() {
        for e in [
            "a[0]",
            "a.b[x = 1]",
            "$sum(a)",
            "($x := 1; $x)",
            "{'a': 1, 'a': 2}",
            "a.*",
            "{a: 1}",
        ] {
            assert!(!Transform::compile(e).unwrap().is_fast(), "{e}");
        }
    }

    #[test]
    fn round_half_even_matches_jsonata() {
        for (x, p, want) in [
            (2.5, 0, 2.0),
            (3.5, 0, 4.0),
            (-2.5, 0, -2.0),
            (-0.4, 0, 0.0),
            (0.49999999999999994, 0, 0.0),
            (1.005, 2, 1.0),
            (2.675, 2, 2.68),
            (0.125, 2, 0.12),
            (1234.5, -1, 1230.0),
        ] {
            assert_eq!(round_half_even(x, p).unwrap(), want, "$round({x}, {p})");
        }
    }

    /// Fast and engine agree on events that vary every field the guide transform reads through
    /// every JSON type (and missing), including the ones where the fast path must decline.
    #[test]
    fn fast_path_agrees_with_the_engine_on_generated_events() {
        let exprs = [
            GUIDE,
            "{'a': x.n + 1, 'b': x.s & '!', 'c': $string(x.n), 'd': x.n > 2, 'e': x.s < 'm', 'f': -x.n}",
            "x.n = 1 or x.s != 'a' ? {'k': $number(x.s)} : $round(x.n, 1)",
            "{'e': $exists(x.o), 'o': x.o, 'b': x.b and x.n, 'm': x.n % 3, 'd': x.n / 0}",
        ];
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(1),
            json!(2.5),
            json!(-7.25),
            json!(1e300),
            json!(5890840712243076_i64),
            json!(0.1),
            json!(""),
            json!("a"),
            json!("12.5"),
            json!("0x1F"),
            json!("zé😀"),
            json!([]),
            json!([1]),
            json!([1, 2]),
            json!({}),
            json!({"y": 1}),
        ];
        let fixture: Value =
            serde_json::from_str(include_str!("../../fixtures/events/voice_resolved.json"))
                .unwrap();
        let guide_paths = [
            "/interaction/id",
            "/interaction/customer/contactId",
            "/interaction/channel/type",
            "/interaction/endedAt",
            "/interaction/analytics/sentiment/score",
            "/interaction/analytics",
        ];
        for text in exprs {
            let fast = Transform::compile(text).unwrap();
            let engine = Transform::compile_engine_only(text).unwrap();
            assert!(fast.is_fast(), "{text}");
            let mut events = Vec::new();
            for v in &values {
                for p in guide_paths {
                    let mut e = fixture.clone();
                    *e.pointer_mut(p).unwrap() = v.clone();
                    events.push(e);
                }
                for w in &values {
                    events.push(json!({"x": {"n": v, "s": w, "o": v, "b": w}}));
                }
                events.push(json!({"x": v}));
                events.push(v.clone());
            }
            let program = fast.fast.as_ref().unwrap();
            let taken = events
                .iter()
                .filter(|e| program.try_eval(e, now()).is_ok())
                .count();
            // Both sides of the rule are exercised: some evaluations are fast, some decline.
            assert!(
                taken > 0 && taken < events.len(),
                "{text}: {taken}/{}",
                events.len()
            );
            for e in &events {
                let a = fast.eval(e, now());
                let b = engine.eval(e, now());
                assert_eq!(a, b, "{text}\nevent {e}");
                let a = fast.eval_json_text(&e.to_string(), now());
                let b = engine.eval_json_text(&e.to_string(), now());
                assert_eq!(a, b, "text path: {text}\nevent {e}");
            }
        }
    }
}
