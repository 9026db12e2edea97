//! The builtins, as the engine dispatches them: the same argument checks (signature first,
//! then undefined propagation), the engine's own string and number functions where they are
//! public (`jsonata_core::functions`), and the regex loop of `$match`/`$replace` over a regex
//! compiled once. An argument of a type the engine would reject is a [`Bail`], so the engine
//! raises its own error.

use std::borrow::Cow;
use std::rc::Rc;

use jsonata_core::functions::{numeric, string as jstr};
use jsonata_core::value::JValue;
use regex::Regex;

use super::eval::{js_append, lookup, merge_sort, Ev};
use super::ir::{Builtin, EngineCall};
use super::value::{boolean, deep_equal, from_jvalue, to_jvalue, truthy, Flags, Obj, Str, Val};
use super::{Bail, R};
use crate::transform::strings;

/// Drops trailing undefined arguments bound to optional parameters (from index `optional`),
/// never below one argument — what the engine's signature validation does first.
fn trim<'v, 'a>(mut a: &'v [Val<'a>], optional: usize) -> &'v [Val<'a>] {
    while a.len() > 1 && a.len() > optional && a[a.len() - 1].is_undef() {
        a = &a[..a.len() - 1];
    }
    a
}

fn is_str_or_undef(v: &Val) -> bool {
    matches!(v, Val::Str(_) | Val::Undef)
}

fn is_num_or_undef(v: &Val) -> bool {
    matches!(v, Val::Num(_) | Val::Undef)
}

/// `part`, a slice of `s`'s text, as a value: borrowed where `s` is (no copy), `s` itself
/// where it is all of `s`. The string builtins answer through this where the engine's answer is
/// a piece of the argument.
fn slice_of<'a>(s: &Str<'a>, part: &str) -> Val<'a> {
    if part.is_empty() {
        return Val::str("");
    }
    match s {
        Str::B(b) => {
            // `part` lies inside `b` (callers slice `s`); anything else is copied.
            let off = (part.as_ptr() as usize).wrapping_sub(b.as_ptr() as usize);
            match b.get(off..off.saturating_add(part.len())) {
                Some(x) if x.as_ptr() == part.as_ptr() => Val::Str(Str::B(x)),
                _ => Val::string(part),
            }
        }
        Str::R(_) if part.len() == s.len() => Val::Str(s.clone()),
        Str::R(_) => Val::string(part),
    }
}

/// Whether `$trim` leaves `s` as it is: the engine turns each run of space, tab, CR and LF into
/// one space, then trims (Unicode) whitespace at both ends.
/// jsonata-js's `$distinct` of an array's items: the first of each group of deep-equal items,
/// in order. Items are bucketed by [`value_hash`], so this is linear (300,000 items in
/// milliseconds, where comparing each with every kept one took minutes); deep equality decides
/// within a bucket. The engine's `$distinct` calls come here too (`engine::guard_builtins`).
pub(super) fn distinct<'a>(v: &Val<'a>) -> R<Vec<Val<'a>>> {
    let mut buckets: std::collections::HashMap<u64, Vec<usize>> = Default::default();
    let mut out: Vec<Val<'a>> = Vec::new();
    for i in 0..v.len() {
        let x = v.item(i);
        let slot = buckets.entry(value_hash(&x, 0)?).or_default();
        let mut seen = false;
        for &j in slot.iter() {
            if deep_equal(&x, &out[j])? {
                seen = true;
                break;
            }
        }
        if !seen {
            slot.push(out.len());
            out.push(x);
        }
    }
    Ok(out)
}

/// A hash under which deep-equal values are equal: numbers by value (`-0` as `0`), arrays by
/// their items in order, objects by their entries in any order (deep equality ignores key
/// order). Below 16 levels a container counts as its kind only: equality still decides.
fn value_hash(v: &Val, depth: u32) -> R<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    match v {
        Val::Undef => 0u8.hash(&mut h),
        Val::Null => 1u8.hash(&mut h),
        Val::Bool(b) => (2u8, *b).hash(&mut h),
        Val::Num(n) => (3u8, if *n == 0.0 { 0 } else { n.to_bits() }).hash(&mut h),
        Val::Str(s) => (4u8, &**s).hash(&mut h),
        Val::Fn(_) => return Err(Bail),
        x if depth >= 16 => (5u8, x.is_array()).hash(&mut h),
        x if x.is_array() => {
            6u8.hash(&mut h);
            for i in 0..x.len() {
                value_hash(&x.item(i), depth + 1)?.hash(&mut h);
            }
        }
        x => {
            let mut sum = 0u64;
            x.each_entry(|k, w| {
                let mut e = DefaultHasher::new();
                (&*k, value_hash(&w, depth + 1)?).hash(&mut e);
                sum = sum.wrapping_add(e.finish());
                Ok(())
            })?;
            (7u8, sum).hash(&mut h);
        }
    }
    Ok(h.finish())
}

fn engine_value<'a>(r: Result<JValue, jsonata_core::functions::FunctionError>) -> R<Val<'a>> {
    from_jvalue(&r.map_err(|_| Bail)?)
}

/// A non-negative `limit` argument as the engine reads it (`ceil`); a negative one is an error.
fn limit(v: Option<&Val>, ceil: bool) -> R<Option<usize>> {
    match v {
        None | Some(Val::Undef) => Ok(None),
        Some(Val::Num(n)) if *n >= 0.0 => Ok(Some(if ceil {
            n.ceil() as usize
        } else {
            n.floor() as usize
        })),
        _ => Err(Bail),
    }
}

impl<'a> Ev<'a> {
    /// Calls builtin `b` with evaluated arguments `a` (a regex literal argument is `regex`,
    /// its slot in `a` is undefined).
    pub(super) fn builtin(
        &mut self,
        b: Builtin,
        a: &[Val<'a>],
        regex: Option<&Regex>,
    ) -> R<Val<'a>> {
        Ok(match b {
            Builtin::String => {
                let a = trim(a, 1);
                match a.get(1) {
                    None | Some(Val::Bool(false)) => {}
                    Some(Val::Bool(true)) => {
                        if a[0].is_undef() {
                            return Ok(Val::Undef);
                        }
                        let jv = to_jvalue(&a[0])?;
                        return engine_value(jstr::string(&jv, Some(true)));
                    }
                    Some(_) => return Err(Bail),
                }
                match to_string(&a[0], self.prog.limits.max_output_bytes)? {
                    Some(s) => Val::string(s),
                    None => Val::Undef,
                }
            }
            Builtin::Length => match &a[0] {
                Val::Str(s) => Val::Num(s.chars().count() as f64),
                Val::Undef => Val::Undef,
                _ => return Err(Bail),
            },
            Builtin::Uppercase | Builtin::Lowercase | Builtin::Trim => match &a[0] {
                Val::Str(s) if b == Builtin::Trim && strings::is_js_trimmed(s) => {
                    Val::Str(s.clone())
                }
                Val::Str(s) if b == Builtin::Trim => Val::string(strings::js_trim(s)),
                Val::Str(s) => {
                    let r = match b {
                        Builtin::Uppercase => jstr::uppercase(s),
                        _ => jstr::lowercase(s),
                    };
                    engine_value(r)?
                }
                Val::Undef => Val::Undef,
                _ => return Err(Bail),
            },
            Builtin::Substring => {
                let a = trim(a, 2);
                if !is_str_or_undef(&a[0]) || !a[1..].iter().all(is_num_or_undef) {
                    return Err(Bail);
                }
                match (&a[0], &a[1], a.get(2)) {
                    (Val::Undef, _, _) => Val::Undef,
                    (Val::Str(s), Val::Num(start), len) => {
                        let len = match len {
                            None => None,
                            Some(Val::Num(l)) => Some(*l),
                            Some(_) => return Err(Bail),
                        };
                        slice_of(s, strings::js_substring(s, *start, len))
                    }
                    // JavaScript arithmetic on an undefined start (see the engine's note).
                    (Val::Str(s), Val::Undef, len) => {
                        if len.is_some() {
                            Val::str("")
                        } else {
                            Val::Str(s.clone())
                        }
                    }
                    _ => return Err(Bail),
                }
            }
            Builtin::SubstringBefore | Builtin::SubstringAfter => {
                if !a.iter().all(is_str_or_undef) {
                    return Err(Bail);
                }
                match (&a[0], &a[1]) {
                    (Val::Undef, _) => Val::Undef,
                    (Val::Str(s), sep) => {
                        let sep: &str = match sep {
                            Val::Str(x) => x,
                            _ => "undefined",
                        };
                        // The engine's answers, as slices: before an empty separator is "",
                        // after it the whole string; a separator not found gives the string.
                        let part = match (b, s.find(sep)) {
                            (Builtin::SubstringBefore, _) if sep.is_empty() => "",
                            (Builtin::SubstringBefore, Some(i)) => &s[..i],
                            (_, Some(i)) if !sep.is_empty() => &s[i + sep.len()..],
                            _ => &s[..],
                        };
                        slice_of(s, part)
                    }
                    _ => return Err(Bail),
                }
            }
            Builtin::Pad => {
                let a = trim(a, 2);
                if !is_str_or_undef(&a[0])
                    || !is_num_or_undef(&a[1])
                    || !a.get(2).is_none_or(is_str_or_undef)
                {
                    return Err(Bail);
                }
                let Val::Str(s) = &a[0] else {
                    return Ok(Val::Undef);
                };
                let width = match &a[1] {
                    Val::Num(n) => *n as i32,
                    _ => return Ok(Val::Str(s.clone())),
                };
                let pad: &str = match a.get(2) {
                    Some(Val::Str(p)) if !p.is_empty() => p,
                    _ => " ",
                };
                let count = s.chars().count();
                let want = width.unsigned_abs() as usize;
                // A width past the output budget is the engine's to refuse.
                if want > self.prog.limits.max_output_bytes {
                    return Err(Bail);
                }
                if count >= want {
                    return Ok(Val::Str(s.clone()));
                }
                let pad: Vec<char> = pad.chars().collect();
                let padding: String = (0..want - count).map(|i| pad[i % pad.len()]).collect();
                if width < 0 {
                    Val::string(format!("{padding}{}", &**s))
                } else {
                    Val::string(format!("{}{padding}", &**s))
                }
            }
            Builtin::Contains
            | Builtin::Split
            | Builtin::Join
            | Builtin::Replace
            | Builtin::Match => {
                return pattern_builtin(
                    b,
                    a,
                    regex,
                    self.max_seq,
                    self.prog.limits.max_output_bytes,
                )
            }
            Builtin::Number => match &a[0] {
                Val::Undef => Val::Undef,
                Val::Num(n) if n.is_finite() => Val::Num(*n),
                Val::Str(s) => Val::Num(crate::transform::numbers::js_number(s).ok_or(Bail)?),
                Val::Bool(x) => Val::Num(if *x { 1.0 } else { 0.0 }),
                _ => return Err(Bail),
            },
            Builtin::Abs | Builtin::Floor | Builtin::Ceil | Builtin::Sqrt => match &a[0] {
                Val::Undef => Val::Undef,
                Val::Num(n) => engine_value(match b {
                    Builtin::Abs => numeric::abs(*n),
                    Builtin::Floor => numeric::floor(*n),
                    Builtin::Ceil => numeric::ceil(*n),
                    _ => numeric::sqrt(*n),
                })?,
                _ => return Err(Bail),
            },
            Builtin::Round => {
                let a = trim(a, 1);
                if !a.get(1).is_none_or(is_num_or_undef) {
                    return Err(Bail);
                }
                match &a[0] {
                    Val::Undef => Val::Undef,
                    Val::Num(n) => {
                        let p = match a.get(1) {
                            Some(Val::Num(p)) => *p,
                            _ => 0.0,
                        };
                        let r = crate::transform::numbers::js_round(*n, p);
                        // NaN and ±∞ (a precision of 1.5, 1e307 to 2 places) are the engine's
                        // to carry on with.
                        if !r.is_finite() {
                            return Err(Bail);
                        }
                        Val::Num(r)
                    }
                    _ => return Err(Bail),
                }
            }
            Builtin::Power => match (&a[0], &a[1]) {
                (Val::Undef, Val::Num(_) | Val::Undef) => Val::Undef,
                (Val::Num(x), Val::Num(y)) => engine_value(numeric::power(*x, *y))?,
                _ => return Err(Bail),
            },
            Builtin::Sum | Builtin::Max | Builtin::Min | Builtin::Average => match &a[0] {
                Val::Undef => Val::Undef,
                Val::Num(n) => Val::Num(*n),
                v if v.is_array() => {
                    let n = v.len();
                    let mut nums = Vec::with_capacity(n);
                    for i in 0..n {
                        let Val::Num(x) = v.item(i) else {
                            return Err(Bail);
                        };
                        nums.push(x);
                    }
                    if nums.is_empty() {
                        return Ok(if b == Builtin::Sum {
                            Val::Num(0.0)
                        } else {
                            Val::Undef
                        });
                    }
                    Val::Num(match b {
                        Builtin::Sum => nums.iter().sum(),
                        Builtin::Max => {
                            nums.iter()
                                .fold(f64::NEG_INFINITY, |m, &x| if x > m { x } else { m })
                        }
                        Builtin::Min => nums
                            .iter()
                            .fold(f64::INFINITY, |m, &x| if x < m { x } else { m }),
                        _ => nums.iter().sum::<f64>() / nums.len() as f64,
                    })
                }
                _ => return Err(Bail),
            },
            Builtin::Count => match &a[0] {
                Val::Undef => Val::Num(0.0),
                Val::Null | Val::Fn(_) => return Err(Bail),
                v if v.is_array() => Val::Num(v.len() as f64),
                _ => Val::Num(1.0),
            },
            Builtin::Boolean => match &a[0] {
                Val::Undef => Val::Undef,
                v => Val::Bool(boolean(v).unwrap_or(false)),
            },
            Builtin::Not => match &a[0] {
                Val::Undef => Val::Undef,
                v => Val::Bool(!truthy(v)),
            },
            Builtin::Exists => Val::Bool(!a[0].is_undef()),
            Builtin::Type => match &a[0] {
                Val::Undef => Val::Undef,
                Val::Null => Val::str("null"),
                Val::Bool(_) => Val::str("boolean"),
                Val::Num(_) => Val::str("number"),
                Val::Str(_) => Val::str("string"),
                Val::Fn(_) => Val::str("function"),
                v if v.is_array() => Val::str("array"),
                _ => Val::str("object"),
            },
            Builtin::Append => {
                if matches!(a[0], Val::Fn(_)) || matches!(a[1], Val::Fn(_)) {
                    return Err(Bail);
                }
                let v = js_append(a[0].clone(), a[1].clone());
                self.check_len(v.len())?;
                // Every item is copied into the new array: counted (eight items a step), so
                // appending in a loop meets the step budget as its copying grows (a fold over
                // about 5,000 items), while a mapping's own appends cost next to nothing.
                self.charge(v.len() / 8)?;
                v
            }
            Builtin::Reverse => match &a[0] {
                Val::Undef => Val::Undef,
                Val::Null | Val::Fn(_) => return Err(Bail),
                v => {
                    let mut items = v.items();
                    items.reverse();
                    Val::plain(items)
                }
            },
            Builtin::Distinct => match &a[0] {
                Val::Undef => Val::Undef,
                v if v.is_array() && v.len() > 1 => Val::Arr(
                    Rc::new(super::value::Items(distinct(v)?)),
                    Flags {
                        seq: v.is_seq(),
                        ..Flags::PLAIN
                    },
                ),
                Val::Fn(_) => return Err(Bail),
                v => v.clone(),
            },
            Builtin::Keys => {
                let mut keys: Vec<Val<'a>> = Vec::new();
                match &a[0] {
                    v if v.is_object() => v.each_entry(|k, _| {
                        keys.push(Val::Str(k));
                        Ok(())
                    })?,
                    v if v.is_array() => {
                        for i in 0..v.len() {
                            v.item(i).each_entry(|k, _| {
                                if !keys.iter().any(|x| matches!(x, Val::Str(s) if **s == *k)) {
                                    keys.push(Val::Str(k));
                                }
                                Ok(())
                            })?;
                        }
                    }
                    Val::Fn(_) => return Err(Bail),
                    _ => {}
                }
                self.check_len(keys.len())?;
                Val::seq(keys)
            }
            Builtin::Lookup => {
                let key: &str = match &a[1] {
                    Val::Str(k) => k,
                    Val::Undef => "undefined",
                    _ => return Err(Bail),
                };
                match &a[0] {
                    Val::Undef | Val::Null => Val::Undef,
                    v if v.is_object() || v.is_array() => lookup(v, key, self.max_seq)?,
                    _ => return Err(Bail),
                }
            }
            Builtin::Merge => match &a[0] {
                Val::Undef => Val::Undef,
                v if v.is_object() => v.clone(),
                v if v.is_array() => {
                    let mut obj = Obj::default();
                    // Where each key is: `Obj::set`'s search per key was quadratic (a `$merge`
                    // of 100,000 one-key objects ran for minutes, tester #104).
                    let mut at: std::collections::HashMap<String, usize> = Default::default();
                    for i in 0..v.len() {
                        let item = v.item(i);
                        if !item.is_object() {
                            return Err(Bail);
                        }
                        item.each_entry(|k, x| {
                            match at.get(&*k) {
                                Some(&j) => obj.entries[j].1 = x,
                                None => {
                                    at.insert(k.to_string(), obj.entries.len());
                                    obj.entries.push((k, x));
                                }
                            }
                            Ok(())
                        })?;
                    }
                    Val::Obj(Rc::new(obj.js_ordered()))
                }
                _ => return Err(Bail),
            },
            Builtin::Each => {
                let Val::Fn(f) = &a[1] else {
                    return Err(Bail);
                };
                match &a[0] {
                    Val::Undef => Val::Undef,
                    v if v.is_object() => {
                        let arity = f.lambda.params.len();
                        let mut entries = Vec::new();
                        v.each_entry(|k, x| {
                            entries.push((k, x));
                            Ok(())
                        })?;
                        let mut out = Vec::new();
                        for (k, x) in entries {
                            let mut args = vec![x];
                            if arity >= 2 {
                                args.push(Val::Str(k));
                            }
                            if arity >= 3 {
                                args.push(v.clone());
                            }
                            let r = self.call(f, &args)?;
                            if !r.is_undef() {
                                out.push(r);
                            }
                        }
                        self.check_len(out.len())?;
                        Val::seq(out)
                    }
                    _ => return Err(Bail),
                }
            }
            Builtin::Map | Builtin::Filter => {
                let Val::Fn(f) = &a[1] else {
                    return Err(Bail);
                };
                let arr = match &a[0] {
                    Val::Undef => return Ok(Val::Undef),
                    Val::Fn(_) => return Err(Bail),
                    v if v.is_array() => v.clone(),
                    v => Val::plain(vec![v.clone()]),
                };
                let arity = f.lambda.params.len();
                let mut out = Vec::new();
                for i in 0..arr.len() {
                    let item = arr.item(i);
                    let mut args = vec![item.clone()];
                    if arity >= 2 {
                        args.push(Val::Num(i as f64));
                    }
                    if arity >= 3 {
                        args.push(arr.clone());
                    }
                    let r = self.call(f, &args)?;
                    if b == Builtin::Map {
                        if !r.is_undef() {
                            out.push(r);
                        }
                    } else if truthy(&r) {
                        out.push(item);
                    }
                }
                self.check_len(out.len())?;
                Val::seq(out)
            }
            Builtin::Reduce => {
                let a = trim(a, 2);
                let Val::Fn(f) = &a[1] else {
                    return Err(Bail);
                };
                let arity = f.lambda.params.len();
                if arity < 2 {
                    return Err(Bail);
                }
                let arr = match &a[0] {
                    Val::Undef => return Ok(Val::Undef),
                    Val::Null | Val::Fn(_) => return Err(Bail),
                    v if v.is_array() => v.clone(),
                    v => Val::plain(vec![v.clone()]),
                };
                let init = a.get(2).cloned().unwrap_or(Val::Undef);
                let (mut acc, start) = if init.is_undef() && arr.len() > 0 {
                    (arr.item(0), 1)
                } else {
                    (init, 0)
                };
                for i in start..arr.len() {
                    let mut args = vec![acc, arr.item(i)];
                    if arity >= 3 {
                        args.push(Val::Num(i as f64));
                    }
                    if arity >= 4 {
                        args.push(arr.clone());
                    }
                    acc = self.call(f, &args)?;
                }
                acc
            }
            Builtin::Sort => {
                let a = trim(a, 1);
                let items = match &a[0] {
                    Val::Undef => return Ok(Val::Undef),
                    Val::Null | Val::Fn(_) => return Err(Bail),
                    v => v.items(),
                };
                let order: Vec<usize> = match a.get(1) {
                    None => {
                        let nums = items.iter().all(|v| matches!(v, Val::Num(_)));
                        let strs = items.iter().all(|v| matches!(v, Val::Str(_)));
                        if !nums && !strs && items.len() >= 2 {
                            return Err(Bail);
                        }
                        let mut idx: Vec<usize> = (0..items.len()).collect();
                        idx.sort_by(|&x, &y| match (&items[x], &items[y]) {
                            (Val::Num(p), Val::Num(q)) => {
                                p.partial_cmp(q).unwrap_or(std::cmp::Ordering::Equal)
                            }
                            (Val::Str(p), Val::Str(q)) => (**p).cmp(&**q),
                            _ => std::cmp::Ordering::Equal,
                        });
                        idx
                    }
                    Some(Val::Fn(f)) => {
                        let f = Rc::clone(f);
                        let mut failed = false;
                        let order = merge_sort((0..items.len()).collect(), &mut |x, y| {
                            if failed {
                                return false;
                            }
                            match self.call(&f, &[items[x].clone(), items[y].clone()]) {
                                Ok(Val::Bool(swap)) => swap,
                                _ => {
                                    failed = true;
                                    false
                                }
                            }
                        });
                        if failed {
                            return Err(Bail);
                        }
                        order
                    }
                    Some(_) => return Err(Bail),
                };
                Val::plain(order.into_iter().map(|i| items[i].clone()).collect())
            }
            Builtin::Now => Val::string(iso_millis(self.now_ms)),
            Builtin::Millis => Val::Num(self.now_ms as f64),
            Builtin::Assert => match (&a[0], a.get(1)) {
                (Val::Bool(true), None | Some(Val::Str(_)) | Some(Val::Undef)) => Val::Undef,
                _ => return Err(Bail),
            },
        })
    }
}

/// `$contains`, `$split`, `$replace` and `$match` with a regex literal compiled once (`regex`,
/// its slot in `a` undefined) or a string pattern, and `$join`. The engine path calls the same
/// for a regex literal (see `compiled::call_regex`), so both paths share one implementation.
/// The use of a regex in builtin `b` with third argument `third` (a replacement).
pub(super) fn regex_use(b: Builtin, third: Option<&Val>) -> crate::transform::regex::Use {
    use crate::transform::regex::Use;
    match (b, third) {
        (Builtin::Contains, _) => Use::Contains,
        (Builtin::Split, _) => Use::Split,
        (Builtin::Match, _) => Use::Match,
        (_, Some(Val::Str(r))) if r.is_empty() => Use::Delete,
        _ => Use::Replace,
    }
}

pub(super) fn pattern_builtin<'a>(
    b: Builtin,
    a: &[Val<'a>],
    regex: Option<&Regex>,
    max_seq: usize,
    max_output: usize,
) -> R<Val<'a>> {
    // JavaScript matches a character beyond U+FFFF as two units (the engine path reports it).
    if let (Some(re), Val::Str(s)) = (regex, &a[0]) {
        if crate::transform::regex::has_astral(s)
            && !crate::transform::regex::astral_safe(re.as_str(), regex_use(b, a.get(2)))
        {
            return Err(Bail);
        }
    }
    Ok(match b {
        Builtin::Contains => {
            if !is_str_or_undef(&a[0]) || (regex.is_none() && !is_str_or_undef(&a[1])) {
                return Err(Bail);
            }
            let Val::Str(s) = &a[0] else {
                return Ok(Val::Undef);
            };
            match (regex, &a[1]) {
                (Some(re), _) => Val::Bool(re.is_match(s)),
                (None, Val::Str(p)) => Val::Bool(s.contains(&**p)),
                _ => Val::Undef,
            }
        }
        Builtin::Split => {
            let a = trim(a, 2);
            if !is_str_or_undef(&a[0])
                || (regex.is_none() && !matches!(a[1], Val::Str(_)))
                || !a.get(2).is_none_or(is_num_or_undef)
            {
                return Err(Bail);
            }
            let Val::Str(s) = &a[0] else {
                return Ok(Val::Undef);
            };
            // jsonata-js's reading of the limit (`numbers::js_split_limit`).
            let lim = match a.get(2) {
                Some(Val::Num(n)) if *n >= 0.0 => Some(crate::transform::numbers::js_split_parts(
                    *n,
                    regex.is_none(),
                )),
                other => limit(other, false)?,
            };
            match regex {
                Some(re) => {
                    // D1004 is the engine's to raise (its host function asks the same).
                    let parts = crate::transform::regex::js_split(re, s, lim).map_err(|()| Bail)?;
                    let items: Vec<Val<'a>> = parts.into_iter().map(|p| slice_of(s, p)).collect();
                    if items.len() > max_seq {
                        return Err(Bail);
                    }
                    Val::plain(items)
                }
                None => {
                    let Val::Str(sep) = &a[1] else {
                        return Err(Bail);
                    };
                    if sep.is_empty() {
                        // jsonata-js splits an emoji into UTF-16 units (the engine refuses).
                        if crate::transform::regex::has_astral(s) {
                            return Err(Bail);
                        }
                        let r = jstr::split(s, &JValue::String(sep.to_rc()), lim);
                        return engine_value(r);
                    }
                    // The engine's `s.split(sep)` up to the limit, each part a slice of `s`.
                    let mut items: Vec<Val<'a>> = Vec::new();
                    for part in s.split(&**sep).take(lim.unwrap_or(usize::MAX)) {
                        if items.len() == max_seq {
                            return Err(Bail);
                        }
                        items.push(slice_of(s, part));
                    }
                    Val::plain(items)
                }
            }
        }
        Builtin::Join => {
            let a = trim(a, 1);
            if !a.get(1).is_none_or(is_str_or_undef) {
                return Err(Bail);
            }
            let sep: &str = match a.get(1) {
                Some(Val::Str(x)) => x,
                _ => "",
            };
            match &a[0] {
                Val::Undef => Val::Undef,
                Val::Str(s) => Val::Str(s.clone()),
                v if v.is_array() => {
                    let mut out = String::new();
                    for i in 0..v.len() {
                        let Val::Str(x) = v.item(i) else {
                            return Err(Bail);
                        };
                        if i > 0 {
                            out.push_str(sep);
                        }
                        out.push_str(&x);
                        if out.len() > max_output {
                            return Err(Bail);
                        }
                    }
                    Val::string(out)
                }
                _ => return Err(Bail),
            }
        }
        Builtin::Replace => {
            let a = trim(a, 3);
            if !is_str_or_undef(&a[0])
                || (regex.is_none() && !matches!(a[1], Val::Str(_)))
                || !matches!(a[2], Val::Str(_))
                || !a.get(3).is_none_or(is_num_or_undef)
            {
                return Err(Bail);
            }
            let Val::Str(s) = &a[0] else {
                return Ok(Val::Undef);
            };
            let Val::Str(rep) = &a[2] else {
                return Err(Bail);
            };
            match regex {
                Some(re) => {
                    let lim = limit(a.get(3), true)?;
                    let out =
                        jstr::replace_regex(jstr::RegexMatches::new(re, s), lim, |found, out| {
                            jstr::substitute_capture_groups(
                                out,
                                rep,
                                found.text,
                                found.groups.len(),
                                |i| {
                                    Ok::<_, jsonata_core::functions::FunctionError>(
                                        found.groups[i].map(Cow::Borrowed),
                                    )
                                },
                            )
                        })
                        .map_err(|_| Bail)?;
                    Val::string(out)
                }
                None => {
                    let Val::Str(pat) = &a[1] else {
                        return Err(Bail);
                    };
                    if pat.is_empty() {
                        return Err(Bail);
                    }
                    let lim = limit(a.get(3), true)?;
                    if lim == Some(0) || !s.contains(&**pat) {
                        // Nothing to replace: the engine gives the string back.
                        return Ok(Val::Str(s.clone()));
                    }
                    engine_value(jstr::replace(s, &JValue::String(pat.to_rc()), rep, lim))?
                }
            }
        }
        Builtin::Match => {
            let a = trim(a, 2);
            let Some(re) = regex else {
                return Err(Bail);
            };
            if !is_str_or_undef(&a[0]) || !a.get(2).is_none_or(is_num_or_undef) {
                return Err(Bail);
            }
            let Val::Str(s) = &a[0] else {
                return Ok(Val::Undef);
            };
            let lim = limit(a.get(2), true)?;
            engine_value(jstr::match_regex(re, s, lim))?
        }
        _ => return Err(Bail),
    })
}

/// `$now()`'s text in jsonata-js: ISO 8601 with milliseconds, UTC, `Z`.
pub(super) fn iso_millis(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `$string(v)` (`None` for undefined): strings as they are, numbers as jsonata-js prints them
/// (integers in full, others to 15 significant digits), arrays and objects as JSON text with
/// the same number rule, functions as "". An array or object past the output budget of `max`
/// bytes declines (shared structure would make the text unbounded).
pub(super) fn to_string(v: &Val, max: usize) -> R<Option<String>> {
    if matches!(v, Val::Arr(..) | Val::Obj(_) | Val::In(_)) {
        let mut b = crate::transform::limits::OutputBudget::new(max, "the argument of $string");
        super::value::measure(v, &mut b)?;
    }
    Ok(Some(match v {
        Val::Undef => return Ok(None),
        Val::Str(s) => s.to_string(),
        Val::Fn(_) => String::new(),
        Val::Bool(b) => b.to_string(),
        Val::Null => "null".to_string(),
        Val::Num(n) => {
            let mut s = String::new();
            stringified_number(*n, &mut s)?;
            s
        }
        other => {
            let mut s = String::new();
            stringify(other, &mut s)?;
            s
        }
    }))
}

fn stringified_number(n: f64, out: &mut String) -> R<()> {
    if !n.is_finite() {
        return Err(Bail);
    }
    if n.fract() == 0.0 {
        crate::transform::json::push_number(n, out);
    } else {
        let p: f64 = format!("{n:.14e}").parse().map_err(|_| Bail)?;
        crate::transform::json::push_number(p, out);
    }
    Ok(())
}

fn stringify(v: &Val, out: &mut String) -> R<()> {
    match v {
        Val::Undef | Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => stringified_number(*n, out)?,
        Val::Str(s) => crate::transform::json::push_string(s, out),
        Val::Fn(_) => out.push_str("\"\""),
        v if v.is_array() => {
            out.push('[');
            for i in 0..v.len() {
                if i > 0 {
                    out.push(',');
                }
                stringify(&v.item(i), out)?;
            }
            out.push(']');
        }
        v => {
            out.push('{');
            let mut first = true;
            v.each_entry(|k, x| {
                if !first {
                    out.push(',');
                }
                first = false;
                crate::transform::json::push_string(&k, out);
                out.push(':');
                stringify(&x, out)
            })?;
            out.push('}');
        }
    }
    Ok(())
}

/// Evaluates `$name(a0, …)` with the engine against `{"a0": …}`; any error or panic, or a
/// call its guard refuses, is a bail (the engine then evaluates the whole event and reports the
/// error).
pub(super) fn engine_call<'a>(call: &EngineCall, args: &[Val<'a>], max: usize) -> R<Val<'a>> {
    if let (Some(g), Some(Val::Num(x))) = (call.guard, args.first()) {
        let picture = match args.get(1) {
            Some(Val::Str(p)) => Some(&**p),
            _ => None,
        };
        if g.refusal(*x, picture, max).is_some() {
            return Err(Bail);
        }
    }
    if let (Some(crate::transform::numbers::Guard::FromMillis), Some(Val::Str(tz))) =
        (call.guard, args.get(2))
    {
        if crate::transform::numbers::timezone_refusal(tz).is_some() {
            return Err(Bail);
        }
    }
    let mut values = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        match a {
            Val::Num(x) if i == 0 && call.guard.is_some() => values.push(
                jsonata_core::value::JValue::Number(call.guard.map_or(*x, |g| g.argument(*x))),
            ),
            Val::Fn(_) => return Err(Bail),
            v if v.is_seq() => return Err(Bail),
            v => values.push(to_jvalue(v)?),
        }
    }
    // The engine's firewall: a panic is caught and kept off stderr.
    let out =
        crate::transform::engine::firewall(|| crate::transform::engine::call(&call.ast, &values));
    match out {
        Ok(r) => from_jvalue(&r.map_err(|_| Bail)?),
        Err(_) => Err(Bail),
    }
}
