//! Values of the compiled evaluator.
//!
//! The input is never copied: arrays and objects of the event are borrowed (`Val::In`), scalars
//! read from it become `Val` scalars with borrowed strings. Values built during evaluation are
//! reference counted, so passing them around (variables, sequences, closures) is a pointer copy.
//! The flags on arrays are jsonata-js's: `seq` (a sequence the evaluator built, unwrapped when it
//! holds zero or one item), `cons` (built by `[…]` at the start or end of a path, never flattened)
//! and `keep` (the `[]` modifier: a one-item sequence stays an array).

use crate::transform::limits::{OutputBudget, OutputTooLarge};
use std::ops::Deref;
use std::rc::Rc;

use jsonata_core::value::{JArray, JValue};
use serde_json::Value;

use super::input::Json;
use super::ir::Lambda;
use super::{Bail, R};

/// A string: borrowed from the input or the program, or owned.
#[derive(Clone, Debug)]
pub(super) enum Str<'a> {
    B(&'a str),
    R(Rc<str>),
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::B(s) => s,
            Str::R(s) => s,
        }
    }
}

impl<'a> Str<'a> {
    pub(super) fn owned(s: impl Into<Rc<str>>) -> Str<'a> {
        Str::R(s.into())
    }

    /// The string as the engine's shared string (copied only when borrowed).
    pub(super) fn to_rc(&self) -> Rc<str> {
        match self {
            Str::B(s) => Rc::from(*s),
            Str::R(s) => Rc::clone(s),
        }
    }
}

/// jsonata-js's array flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Flags {
    pub seq: bool,
    pub cons: bool,
    pub keep: bool,
}

impl Flags {
    pub(super) const SEQ: Flags = Flags {
        seq: true,
        cons: false,
        keep: false,
    };
    pub(super) const PLAIN: Flags = Flags {
        seq: false,
        cons: false,
        keep: false,
    };
}

/// An object built during evaluation: keys unique, in insertion order.
#[derive(Debug, Default)]
pub(super) struct Obj<'a> {
    pub entries: Vec<(Str<'a>, Val<'a>)>,
}

/// The items of an array value. Its own `Drop` (like [`Obj`]'s) keeps dropping a deeply nested
/// value off the stack: a `$reduce` can nest a value 100,000 levels deep in as many cheap steps.
#[derive(Clone, Debug, Default)]
pub(super) struct Items<'a>(pub Vec<Val<'a>>);

impl<'a> Deref for Items<'a> {
    type Target = Vec<Val<'a>>;
    fn deref(&self) -> &Vec<Val<'a>> {
        &self.0
    }
}

impl<'a> std::ops::DerefMut for Items<'a> {
    fn deref_mut(&mut self) -> &mut Vec<Val<'a>> {
        &mut self.0
    }
}

impl Drop for Items<'_> {
    fn drop(&mut self) {
        drop_flat(std::mem::take(&mut self.0));
    }
}

impl Drop for Obj<'_> {
    fn drop(&mut self) {
        if self.entries.iter().any(|(_, v)| v.is_container()) {
            drop_flat(self.entries.drain(..).map(|(_, v)| v).collect());
        }
    }
}

/// Drops values without recursion: every array or object owned by nothing else is emptied into
/// one list first, so its own drop has nothing left to descend into.
fn drop_flat(mut stack: Vec<Val<'_>>) {
    if !stack.iter().any(Val::is_container) {
        return;
    }
    while let Some(v) = stack.pop() {
        match v {
            Val::Arr(rc, _) => {
                if let Ok(mut items) = Rc::try_unwrap(rc) {
                    stack.append(&mut items.0);
                }
            }
            Val::Obj(rc) => {
                if let Ok(mut o) = Rc::try_unwrap(rc) {
                    stack.extend(o.entries.drain(..).map(|(_, v)| v));
                }
            }
            _ => {}
        }
    }
}

impl<'a> Obj<'a> {
    pub(super) fn with_capacity(n: usize) -> Obj<'a> {
        Obj {
            entries: Vec::with_capacity(n),
        }
    }

    /// The object with its entries in JavaScript's property order (array-index keys first,
    /// ascending; [`crate::jsjson::js_order`]), as jsonata-js's objects have them.
    pub(super) fn js_ordered(mut self) -> Obj<'a> {
        crate::jsjson::js_order(&mut self.entries, |e| &e.0);
        self
    }

    pub(super) fn get(&self, key: &str) -> Option<&Val<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }
}

/// A function value.
#[derive(Debug)]
pub(super) struct Closure<'a> {
    pub lambda: &'a Lambda,
    /// The frame the lambda was defined in.
    pub frame: usize,
    /// The context (`$`) the lambda was defined in.
    pub input: Val<'a>,
}

/// A value during compiled evaluation.
#[derive(Clone, Debug)]
pub(super) enum Val<'a> {
    Undef,
    Null,
    Bool(bool),
    Num(f64),
    Str(Str<'a>),
    /// An array or object of the input, borrowed (never a scalar).
    In(&'a Json<'a>),
    Arr(Rc<Items<'a>>, Flags),
    Obj(Rc<Obj<'a>>),
    Fn(Rc<Closure<'a>>),
}

impl<'a> Val<'a> {
    /// A value of the input as the engine sees it: numbers through f64.
    #[inline]
    pub(super) fn from_input(v: &'a Json<'a>) -> Val<'a> {
        match v {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            Json::Num(n) => Val::Num(*n),
            Json::Str(s) => Val::Str(Str::B(s)),
            Json::Arr(_) | Json::Obj(_) => Val::In(v),
        }
    }

    pub(super) fn str(s: &'a str) -> Val<'a> {
        Val::Str(Str::B(s))
    }

    pub(super) fn string(s: impl Into<Rc<str>>) -> Val<'a> {
        Val::Str(Str::R(s.into()))
    }

    pub(super) fn seq(items: Vec<Val<'a>>) -> Val<'a> {
        Val::Arr(Rc::new(Items(items)), Flags::SEQ)
    }

    pub(super) fn plain(items: Vec<Val<'a>>) -> Val<'a> {
        Val::Arr(Rc::new(Items(items)), Flags::PLAIN)
    }

    pub(super) fn is_undef(&self) -> bool {
        matches!(self, Val::Undef)
    }

    /// An array or object built during evaluation (what a drop may have to descend into).
    fn is_container(&self) -> bool {
        matches!(self, Val::Arr(..) | Val::Obj(_))
    }

    pub(super) fn is_array(&self) -> bool {
        matches!(self, Val::Arr(..) | Val::In(Json::Arr(_)))
    }

    pub(super) fn is_object(&self) -> bool {
        matches!(self, Val::Obj(_) | Val::In(Json::Obj(_)))
    }

    /// The array flags (none for arrays of the input and for non-arrays).
    pub(super) fn flags(&self) -> Flags {
        match self {
            Val::Arr(_, f) => *f,
            _ => Flags::PLAIN,
        }
    }

    pub(super) fn is_seq(&self) -> bool {
        self.flags().seq
    }

    /// Number of items of an array.
    pub(super) fn len(&self) -> usize {
        match self {
            Val::Arr(items, _) => items.len(),
            Val::In(Json::Arr(items)) => items.len(),
            _ => 0,
        }
    }

    /// Item `i` of an array.
    pub(super) fn item(&self, i: usize) -> Val<'a> {
        match self {
            Val::Arr(items, _) => items[i].clone(),
            Val::In(Json::Arr(items)) => Val::from_input(&items[i]),
            _ => Val::Undef,
        }
    }

    /// The items of an array, or the value itself as a one-item list (`createSequence(v)`).
    pub(super) fn items(&self) -> Vec<Val<'a>> {
        match self {
            Val::Arr(items, _) => items.0.clone(),
            Val::In(Json::Arr(items)) => items.iter().map(Val::from_input).collect(),
            other => vec![other.clone()],
        }
    }

    /// Calls `f` on every item of an array.
    pub(super) fn each_item(&self, mut f: impl FnMut(Val<'a>) -> R<()>) -> R<()> {
        match self {
            Val::Arr(items, _) => items.iter().try_for_each(|v| f(v.clone())),
            Val::In(Json::Arr(items)) => items.iter().try_for_each(|v| f(Val::from_input(v))),
            _ => Ok(()),
        }
    }

    /// Appends every item of an array to `out` (nothing for a non-array): a sequence flattened.
    pub(super) fn append_items(&self, out: &mut Vec<Val<'a>>) {
        match self {
            Val::Arr(items, _) => out.extend(items.iter().cloned()),
            Val::In(Json::Arr(items)) => out.extend(items.iter().map(Val::from_input)),
            _ => {}
        }
    }

    /// Field `key` of an object (`None` when absent or not an object).
    pub(super) fn field(&self, key: &str) -> Option<Val<'a>> {
        match self {
            Val::In(Json::Obj(m)) => m.get(key).map(Val::from_input),
            Val::Obj(o) => o.get(key).cloned(),
            _ => None,
        }
    }

    /// Calls `f` on every entry of an object, in order.
    pub(super) fn each_entry(&self, mut f: impl FnMut(Str<'a>, Val<'a>) -> R<()>) -> R<()> {
        match self {
            Val::In(Json::Obj(m)) => m
                .iter()
                .try_for_each(|(k, v)| f(Str::B(k), Val::from_input(v))),
            Val::Obj(o) => o
                .entries
                .iter()
                .try_for_each(|(k, v)| f(k.clone(), v.clone())),
            _ => Ok(()),
        }
    }

    pub(super) fn object_len(&self) -> usize {
        match self {
            Val::In(Json::Obj(m)) => m.len(),
            Val::Obj(o) => o.entries.len(),
            _ => 0,
        }
    }
}

/// jsonata-js's `fn.boolean` (`None` for undefined); functions are false.
pub(super) fn boolean(v: &Val) -> Option<bool> {
    Some(match v {
        Val::Undef => return None,
        Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => *n != 0.0,
        Val::Str(s) => !s.is_empty(),
        Val::Obj(o) => !o.entries.is_empty(),
        Val::In(Json::Obj(m)) => !m.is_empty(),
        Val::Fn(_) => false,
        Val::Arr(..) | Val::In(_) => match v.len() {
            0 => false,
            1 => boolean(&v.item(0)).unwrap_or(false),
            n => (0..n).any(|i| boolean(&v.item(i)).unwrap_or(false)),
        },
    })
}

/// `boolean(v)` with undefined as false.
pub(super) fn truthy(v: &Val) -> bool {
    boolean(v).unwrap_or(false)
}

/// Deep equality of `=` (the engine's `values_equal`): numbers by value, arrays item by item,
/// objects by keys in any order; values of different types are unequal.
pub(super) fn deep_equal(a: &Val, b: &Val) -> R<bool> {
    Ok(match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => **x == **y,
        (Val::Fn(_), _) | (_, Val::Fn(_)) => return Err(Bail),
        (x, y) if x.is_array() && y.is_array() => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for i in 0..x.len() {
                if !deep_equal(&x.item(i), &y.item(i))? {
                    return Ok(false);
                }
            }
            true
        }
        (x, y) if x.is_object() && y.is_object() => {
            if x.object_len() != y.object_len() {
                return Ok(false);
            }
            let mut equal = true;
            x.each_entry(|k, v| {
                if equal {
                    equal = match y.field(&k) {
                        Some(w) => deep_equal(&v, &w)?,
                        None => false,
                    };
                }
                Ok(())
            })?;
            equal
        }
        _ => false,
    })
}

/// A value as the engine's value, for the engine's own functions.
pub(super) fn to_jvalue(v: &Val) -> R<JValue> {
    Ok(match v {
        Val::Undef => JValue::Undefined,
        Val::Null => JValue::Null,
        Val::Bool(b) => JValue::Bool(*b),
        Val::Num(n) => JValue::Number(*n),
        Val::Str(s) => JValue::String(s.to_rc()),
        Val::In(x) => input_jvalue(x),
        Val::Arr(items, f) => {
            let items = items.iter().map(to_jvalue).collect::<R<Vec<_>>>()?;
            let mut a = JArray::new(items);
            a.sequence = f.seq;
            a.cons = f.cons;
            a.keep_singleton = f.keep;
            JValue::Array(a)
        }
        Val::Obj(o) => {
            let mut m = indexmap::IndexMap::with_capacity(o.entries.len());
            for (k, v) in &o.entries {
                m.insert(k.to_string(), to_jvalue(v)?);
            }
            JValue::object(m)
        }
        Val::Fn(_) => return Err(Bail),
    })
}

/// An engine value as a value (functions and regexes are left to the engine).
pub(super) fn from_jvalue<'a>(v: &JValue) -> R<Val<'a>> {
    Ok(match v {
        JValue::Undefined => Val::Undef,
        JValue::Null => Val::Null,
        JValue::Bool(b) => Val::Bool(*b),
        JValue::Number(n) => Val::Num(*n),
        JValue::String(s) => Val::Str(Str::R(Rc::clone(s))),
        JValue::Array(a) => {
            if a.outer_wrapper || a.sorted_tuples {
                return Err(Bail);
            }
            let items = a.iter().map(from_jvalue).collect::<R<Vec<_>>>()?;
            Val::Arr(
                Rc::new(Items(items)),
                Flags {
                    seq: a.sequence,
                    cons: a.cons,
                    keep: a.keep_singleton,
                },
            )
        }
        JValue::Object(m) => {
            let mut o = Obj::with_capacity(m.len());
            for (k, v) in m.iter() {
                o.entries.push((Str::owned(k.as_str()), from_jvalue(v)?));
            }
            Val::Obj(Rc::new(o.js_ordered()))
        }
        _ => return Err(Bail),
    })
}

/// The JSON number the engine path outputs for `n` (integers within ±2^53 as integers).
fn output_number(n: f64) -> R<Value> {
    if n.is_finite() {
        Ok(super::super::engine::number(n))
    } else {
        Err(Bail)
    }
}

/// Charges `b`, or declines past it (the engine then decides and reports the limit).
#[inline]
fn charge(r: Result<(), OutputTooLarge>) -> R<()> {
    r.map_err(|_| Bail)
}

/// Charges `b` for `v` as the engine's walkers charge an engine value (`limits::OutputBudget`),
/// building nothing: for `$string`'s argument.
pub(super) fn measure(v: &Val, b: &mut OutputBudget) -> R<()> {
    match v {
        Val::Undef | Val::Fn(_) => Ok(()),
        Val::Null | Val::Bool(_) | Val::Num(_) => charge(b.charge_node()),
        Val::Str(s) => charge(b.charge_str(s)),
        Val::In(x) => charge(measure_input(x, b)),
        Val::Arr(items, _) => {
            charge(b.enter())?;
            for i in items.iter() {
                charge(b.charge_node())?;
                measure(i, b)?;
            }
            b.leave();
            Ok(())
        }
        Val::Obj(o) => {
            charge(b.enter())?;
            for (k, v) in o.entries.iter().filter(|(_, v)| !is_absent(v)) {
                charge(b.charge_str(k))?;
                measure(v, b)?;
            }
            b.leave();
            Ok(())
        }
    }
}

/// Left out of an object (and `null` in an array), as `JSON.stringify` does.
fn is_absent(v: &Val) -> bool {
    matches!(v, Val::Undef | Val::Fn(_))
}

/// A result as the engine path returns it: undefined is `None` at the top, dropped from objects
/// and `null` in arrays; functions likewise. Charged to `b` as the engine's walkers charge.
pub(super) fn to_output(v: &Val, b: &mut OutputBudget) -> R<Option<Value>> {
    Ok(Some(match v {
        Val::Undef | Val::Fn(_) => return Ok(None),
        Val::Null => {
            charge(b.charge_node())?;
            Value::Null
        }
        Val::Bool(x) => {
            charge(b.charge_node())?;
            Value::Bool(*x)
        }
        Val::Num(n) => {
            charge(b.charge_node())?;
            output_number(*n)?
        }
        Val::Str(s) => {
            charge(b.charge_str(s))?;
            Value::String(s.to_string())
        }
        Val::In(x) => {
            charge(measure_input(x, b))?;
            normalise(x)?
        }
        Val::Arr(items, _) => {
            charge(b.enter())?;
            let mut out = Vec::with_capacity(items.len());
            for i in items.iter() {
                charge(b.charge_node())?;
                out.push(to_output(i, b)?.unwrap_or(Value::Null));
            }
            b.leave();
            Value::Array(out)
        }
        Val::Obj(o) => {
            charge(b.enter())?;
            let mut m = serde_json::Map::with_capacity(o.entries.len());
            for (k, v) in o.entries.iter().filter(|(_, v)| !is_absent(v)) {
                charge(b.charge_str(k))?;
                if let Some(v) = to_output(v, b)? {
                    m.insert(k.to_string(), v);
                }
            }
            b.leave();
            Value::Object(m)
        }
    }))
}

/// An input value as the engine outputs it: numbers through f64 (`1.0` → `1`).
fn normalise(v: &Json) -> R<Value> {
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Num(n) => output_number(*n)?,
        Json::Str(s) => Value::String(s.to_string()),
        Json::Arr(items) => Value::Array(items.iter().map(normalise).collect::<R<_>>()?),
        Json::Obj(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.to_string(), normalise(v)?)))
                .collect::<R<_>>()?,
        ),
    })
}

/// An input value as the engine's value, as `engine::to_jvalue` converts the event: input
/// arrays are flat when they hold no array (the engine's flattening rule).
pub(super) fn input_jvalue(v: &Json) -> JValue {
    match v {
        Json::Null => JValue::Null,
        Json::Bool(b) => JValue::Bool(*b),
        Json::Num(n) => JValue::Number(*n),
        Json::Str(s) => JValue::string(&**s),
        Json::Arr(items) => {
            let flat = !items.iter().any(|x| matches!(x, Json::Arr(_)));
            JValue::Array(JArray::new_flat(
                items.iter().map(input_jvalue).collect(),
                flat,
            ))
        }
        Json::Obj(m) => {
            let m: indexmap::IndexMap<String, JValue> = m
                .iter()
                .map(|(k, v)| (k.to_string(), input_jvalue(v)))
                .collect();
            JValue::object(m)
        }
    }
}

/// Charges `b` for an input value as [`crate::transform::limits::measure_json`] charges the
/// same JSON.
pub(super) fn measure_input(v: &Json, b: &mut OutputBudget) -> Result<(), OutputTooLarge> {
    match v {
        Json::Str(s) => b.charge_str(s),
        Json::Arr(items) => b.charge_array(items.iter(), measure_input),
        Json::Obj(m) => b.charge_object(m.iter(), measure_input),
        _ => b.charge_node(),
    }
}

/// Writes a result as compact JSON text, exactly as the engine path writes it. Returns false
/// (writing nothing) for a top-level undefined. Charged to `b` as [`to_output`] charges.
pub(super) fn write_json(v: &Val, out: &mut String, b: &mut OutputBudget) -> R<bool> {
    match v {
        Val::Undef | Val::Fn(_) => return Ok(false),
        Val::Null => {
            charge(b.charge_node())?;
            out.push_str("null")
        }
        Val::Bool(x) => {
            charge(b.charge_node())?;
            out.push_str(if *x { "true" } else { "false" })
        }
        Val::Num(n) => {
            charge(b.charge_node())?;
            write_number(*n, out)?
        }
        Val::Str(s) => {
            charge(b.charge_str(s))?;
            crate::transform::json::push_string(s, out)
        }
        Val::In(x) => {
            charge(measure_input(x, b))?;
            write_input(x, out)?
        }
        Val::Arr(items, _) => {
            charge(b.enter())?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                charge(b.charge_node())?;
                if i > 0 {
                    out.push(',');
                }
                if !write_json(item, out, b)? {
                    out.push_str("null");
                }
            }
            out.push(']');
            b.leave();
        }
        Val::Obj(o) => {
            charge(b.enter())?;
            out.push('{');
            let mut first = true;
            for (k, item) in o.entries.iter().filter(|(_, v)| !is_absent(v)) {
                charge(b.charge_str(k))?;
                if !first {
                    out.push(',');
                }
                first = false;
                crate::transform::json::push_string(k, out);
                out.push(':');
                write_json(item, out, b)?;
            }
            out.push('}');
            b.leave();
        }
    }
    Ok(true)
}

fn write_number(n: f64, out: &mut String) -> R<()> {
    if !n.is_finite() {
        return Err(Bail);
    }
    crate::transform::json::push_number(n, out);
    Ok(())
}

fn write_input(v: &Json, out: &mut String) -> R<()> {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => write_number(*n, out)?,
        Json::Str(s) => crate::transform::json::push_string(s, out),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_input(item, out)?;
            }
            out.push(']');
        }
        Json::Obj(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::transform::json::push_string(k, out);
                out.push(':');
                write_input(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}
