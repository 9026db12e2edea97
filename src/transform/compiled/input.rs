//! Parsing only what a transform reads: a trie of the input paths it can read drives a
//! scanner ([`parse_pruned`]); every other value is validated and skipped, without allocating. Arrays
//! on a read path keep every item (positions matter to predicates), each pruned alike, since
//! a field step maps over array items. Duplicate keys make the parse fail, so such an event
//! goes to the engine, which decides what they mean.
//!
//! The parsed input is a [`Json`]: strings borrowed from the text wherever they hold no escape,
//! objects as ordered entry lists (no hashing, one allocation per object). A `serde_json::Value`
//! event is viewed the same way ([`Json::from_value`]), borrowing its strings.

use std::borrow::Cow;

use serde_json::Value;

/// The paths read, as a trie.
#[derive(Debug, Default)]
pub(super) struct Trie {
    /// The whole value here is read.
    pub whole: bool,
    /// The keys read below, in the order first added: a few per object, so searched in order,
    /// lengths compared first (a sorted map's string comparisons cost more).
    pub children: Vec<(Box<str>, Trie)>,
}

/// The trie that reads everything (bindings are read whole).
pub(super) static WHOLE: Trie = Trie {
    whole: true,
    children: Vec::new(),
};

impl Trie {
    /// Marks `path` as read whole.
    pub(super) fn add(&mut self, path: &[Box<str>]) {
        if let Some(t) = self.at(path) {
            t.whole = true;
            t.children.clear();
        }
    }

    /// Keeps the value at `path` (its type, an array's items, a scalar), reading no more of an
    /// object below it than is added elsewhere: a step that is not a field name
    /// (`items.(1 + 1)`, `items.$abs(-1)`) runs once per item there, whether or not it reads
    /// any of the item.
    pub(super) fn touch(&mut self, path: &[Box<str>]) {
        self.at(path);
    }

    /// The node of `path`, made where missing; `None` below a node read whole.
    fn at(&mut self, path: &[Box<str>]) -> Option<&mut Trie> {
        let mut t = self;
        for seg in path {
            if t.whole {
                return None;
            }
            let i = match t.children.iter().position(|(k, _)| k == seg) {
                Some(i) => i,
                None => {
                    t.children.push((seg.clone(), Trie::default()));
                    t.children.len() - 1
                }
            };
            t = &mut t.children[i].1;
        }
        (!t.whole).then_some(t)
    }

    fn child(&self, key: &str) -> Option<&Trie> {
        if self.whole {
            Some(self)
        } else {
            let key = key.as_bytes();
            self.children
                .iter()
                .find(|(k, _)| k.len() == key.len() && k.as_bytes() == key)
                .map(|(_, t)| t)
        }
    }
}

/// An input value (numbers as the engine sees them, through f64).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json<'t> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'t, str>),
    Arr(Vec<Json<'t>>),
    Obj(Fields<'t>),
}

/// Objects up to this many entries are searched in order; larger ones by a sorted index.
const SMALL: usize = 8;

/// The entries of an input object, in order, keys unique.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fields<'t> {
    entries: Vec<(Cow<'t, str>, Json<'t>)>,
    /// For more than [`SMALL`] entries: entry positions in key order (empty otherwise).
    sorted: Box<[u32]>,
}

impl<'t> Fields<'t> {
    /// The object of `entries`, in JavaScript's property order (array-index keys first, as
    /// `JSON.parse` gives jsonata-js the event: [`crate::jsjson::js_order`]); `None` when a key
    /// repeats.
    fn new(mut entries: Vec<(Cow<'t, str>, Json<'t>)>) -> Option<Fields<'t>> {
        crate::jsjson::js_order(&mut entries, |e| &e.0);
        if entries.len() <= SMALL {
            for (i, (k, _)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(j, _)| j == k) {
                    return None;
                }
            }
            return Some(Fields {
                entries,
                sorted: Box::new([]),
            });
        }
        let n = u32::try_from(entries.len()).ok()?;
        let mut sorted: Vec<u32> = (0..n).collect();
        sorted.sort_unstable_by(|&a, &b| entries[a as usize].0.cmp(&entries[b as usize].0));
        if sorted
            .windows(2)
            .any(|w| entries[w[0] as usize].0 == entries[w[1] as usize].0)
        {
            return None;
        }
        Some(Fields {
            entries,
            sorted: sorted.into_boxed_slice(),
        })
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    #[inline]
    pub(super) fn get(&self, key: &str) -> Option<&Json<'t>> {
        if self.sorted.is_empty() {
            return self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        }
        let i = self
            .sorted
            .binary_search_by(|&i| (*self.entries[i as usize].0).cmp(key))
            .ok()?;
        Some(&self.entries[self.sorted[i] as usize].1)
    }

    /// The entries in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'t>)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }
}

impl<'t> Json<'t> {
    /// `v` as far as `reads` reaches, its strings borrowed.
    pub(super) fn from_value(v: &'t Value, reads: &Trie) -> Json<'t> {
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Json::Str(Cow::Borrowed(s)),
            Value::Array(items) => {
                Json::Arr(items.iter().map(|x| Json::from_value(x, reads)).collect())
            }
            Value::Object(m) => {
                let entries = m
                    .iter()
                    .filter_map(|(k, x)| {
                        let child = reads.child(k)?;
                        Some((Cow::Borrowed(k.as_str()), Json::from_value(x, child)))
                    })
                    .collect();
                // A map's keys are unique already.
                Json::Obj(Fields::new(entries).expect("serde_json map keys are unique"))
            }
        }
    }

    pub(super) fn is_object(&self) -> bool {
        matches!(self, Json::Obj(_))
    }
}

/// `text` parsed as far as `reads` needs; `None` when it is not valid JSON, or is JSON this
/// parser leaves to the engine: duplicate keys among the fields read, a `\u` escape of a
/// surrogate, nesting deeper than [`MAX_DEPTH`].
///
/// A purpose-built scanner (serde_json's `Deserializer` spent most of an event's time in its
/// visitor machinery): every byte is validated as serde_json validates it — skipped values
/// too, so an event the engine's parser refuses is never evaluated here — and numbers become
/// exactly serde_json's `f64` (its arithmetic on the fast path, serde_json itself otherwise).
/// Stricter than serde_json only where it declines, never more lenient.
pub(super) fn parse_pruned<'t>(text: &'t str, reads: &Trie) -> Option<Json<'t>> {
    let mut p = Scan {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value(reads)?;
    p.ws();
    (p.i == p.b.len()).then_some(v)
}

/// Deepest nesting of arrays and objects the scanner accepts (serde_json refuses past 127).
const MAX_DEPTH: u32 = 100;

struct Scan<'t> {
    s: &'t str,
    b: &'t [u8],
    i: usize,
    depth: u32,
}

/// Powers of ten exact in an `f64` (serde_json's table, as far as it is exact).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl<'t> Scan<'t> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// The next byte after whitespace, consumed.
    #[inline]
    fn next(&mut self) -> Option<u8> {
        self.ws();
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        if self.b.get(self.i..end)? != word {
            return None;
        }
        self.i = end;
        Some(())
    }

    fn value(&mut self, reads: &Trie) -> Option<Json<'t>> {
        Some(match self.next()? {
            b'{' => self.object(reads)?,
            b'[' => {
                self.enter()?;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value(reads)?);
                        match self.next()? {
                            b',' => {}
                            b']' => break,
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Json::Arr(items)
            }
            b'"' => Json::Str(self.string()?),
            b't' => {
                self.literal(b"rue")?;
                Json::Bool(true)
            }
            b'f' => {
                self.literal(b"alse")?;
                Json::Bool(false)
            }
            b'n' => {
                self.literal(b"ull")?;
                Json::Null
            }
            c @ (b'-' | b'0'..=b'9') => Json::Num(self.number(c, true)?),
            _ => return None,
        })
    }

    /// After `{`.
    fn object(&mut self, reads: &Trie) -> Option<Json<'t>> {
        self.enter()?;
        let mut entries = Vec::new();
        self.members(|p| {
            let key = p.string()?;
            if p.next()? != b':' {
                return None;
            }
            match reads.child(&key) {
                Some(child) => {
                    let v = p.value(child)?;
                    entries.push((key, v));
                }
                None => p.skip()?,
            }
            Some(())
        })?;
        self.depth -= 1;
        Fields::new(entries).map(Json::Obj)
    }

    /// After an object's `{`: its members, each handed to `member` just after its key's opening
    /// `"` (`member` reads the key, the `:` and the value), through the closing `}`.
    #[inline]
    fn members(&mut self, mut member: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        match self.next()? {
            b'}' => Some(()),
            b'"' => loop {
                member(self)?;
                match self.next()? {
                    b',' => {
                        if self.next()? != b'"' {
                            return None;
                        }
                    }
                    b'}' => return Some(()),
                    _ => return None,
                }
            },
            _ => None,
        }
    }

    /// Validates and passes over one value.
    fn skip(&mut self) -> Option<()> {
        match self.next()? {
            b'{' => {
                self.enter()?;
                self.members(|p| {
                    p.skip_string()?;
                    if p.next()? != b':' {
                        return None;
                    }
                    p.skip()
                })?;
                self.depth -= 1;
            }
            b'[' => {
                self.enter()?;
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.skip()?;
                        match self.next()? {
                            b',' => {}
                            b']' => break,
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
            }
            b'"' => self.skip_string()?,
            b't' => self.literal(b"rue")?,
            b'f' => self.literal(b"alse")?,
            b'n' => self.literal(b"ull")?,
            c @ (b'-' | b'0'..=b'9') => {
                self.number(c, false)?;
            }
            _ => return None,
        }
        Some(())
    }

    /// The position of the next `"`, `\` or control character from `i`.
    #[inline]
    fn special_from(&self, i: usize) -> Option<usize> {
        crate::transform::json::find_special(self.b, i)
    }

    /// A string's content, after its opening quote: borrowed unless it holds an escape.
    fn string(&mut self) -> Option<Cow<'t, str>> {
        let start = self.i;
        let j = self.special_from(start)?;
        match self.b[j] {
            b'"' => {
                self.i = j + 1;
                Some(Cow::Borrowed(self.s.get(start..j)?))
            }
            b'\\' => {
                let mut out = String::with_capacity(j - start + 16);
                out.push_str(self.s.get(start..j)?);
                self.i = j;
                loop {
                    // At a `\`.
                    self.i += 1;
                    self.escape(&mut out)?;
                    let from = self.i;
                    let k = self.special_from(from)?;
                    out.push_str(self.s.get(from..k)?);
                    self.i = k + 1;
                    match self.b[k] {
                        b'"' => return Some(Cow::Owned(out)),
                        b'\\' => self.i = k,
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    fn skip_string(&mut self) -> Option<()> {
        let mut from = self.i;
        loop {
            let k = self.special_from(from)?;
            self.i = k + 1;
            match self.b[k] {
                b'"' => return Some(()),
                b'\\' => {
                    self.escape(&mut Skipped)?;
                    from = self.i;
                }
                _ => return None,
            }
        }
    }

    /// One escape after its `\`, appended to `out`; a surrogate declines (serde_json refuses a
    /// lone one; a pair is rare enough for the engine).
    fn escape(&mut self, out: &mut impl Unescaped) -> Option<()> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hex = self.b.get(self.i..self.i + 4)?;
                let mut n = 0u32;
                for &h in hex {
                    n = n * 16 + char::from(h).to_digit(16)?;
                }
                self.i += 4;
                char::from_u32(n)?
            }
            _ => return None,
        };
        out.put(ch);
        Some(())
    }

    /// A number whose first byte `c` is consumed, as serde_json parses it into an `f64`; for a
    /// skipped number (`!value`) only whether serde_json accepts it (`0` for its value).
    fn number(&mut self, c: u8, value: bool) -> Option<f64> {
        let start = self.i - 1;
        let b = self.b;
        let negative = c == b'-';
        let mut i = self.i;
        let first = if negative {
            let d = *b.get(i)?;
            i += 1;
            d
        } else {
            c
        };
        // Significand digits (serde_json accumulates integer and fraction digits alike) and
        // the exponent the fraction gives.
        let mut sig: u64 = 0;
        let mut digits = 0u32;
        match first {
            b'0' => {
                if b.get(i).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                sig = u64::from(first - b'0');
                digits = 1;
                while let Some(&d @ b'0'..=b'9') = b.get(i) {
                    sig = sig.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    digits += 1;
                    i += 1;
                }
            }
            _ => return None,
        }
        let mut exp: i64 = 0;
        let mut plain = true;
        if b.get(i) == Some(&b'.') {
            plain = false;
            i += 1;
            let at = i;
            while let Some(&d @ b'0'..=b'9') = b.get(i) {
                sig = sig.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                if sig != 0 {
                    digits += 1;
                }
                exp -= 1;
                i += 1;
            }
            if i == at {
                return None;
            }
        }
        let has_exp = matches!(b.get(i), Some(b'e' | b'E'));
        if has_exp {
            plain = false;
            i += 1;
            let sign = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    -1
                }
                Some(b'+') => {
                    i += 1;
                    1
                }
                _ => 1,
            };
            let at = i;
            let mut e: i64 = 0;
            while let Some(&d @ b'0'..=b'9') = b.get(i) {
                e = (e * 10 + i64::from(d - b'0')).min(1 << 20);
                i += 1;
            }
            if i == at {
                return None;
            }
            exp += sign * e;
        }
        self.i = i;
        if !value && !has_exp && digits <= 300 {
            // Finite however serde_json computes it: no exponent, at most 300 digits.
            return Some(0.0);
        }
        let f = if (plain && digits <= 18) || (digits <= 15 && exp.unsigned_abs() <= 22) {
            // serde_json's arithmetic: an integer as its u64/i64 to f64; otherwise
            // `f64_from_parts`, one correctly rounded operation on two exact operands.
            let f = sig as f64;
            let f = if exp >= 0 {
                f * POW10[exp as usize]
            } else {
                f / POW10[exp.unsigned_abs() as usize]
            };
            if negative {
                -f
            } else {
                f
            }
        } else {
            serde_json::from_str::<f64>(self.s.get(start..i)?).ok()?
        };
        f.is_finite().then_some(f)
    }
}

/// Where an escape's character goes: a string being unescaped, or nowhere (a skipped string).
trait Unescaped {
    fn put(&mut self, c: char);
}

impl Unescaped for String {
    fn put(&mut self, c: char) {
        self.push(c);
    }
}

struct Skipped;

impl Unescaped for Skipped {
    fn put(&mut self, _: char) {}
}

#[cfg(test)]
#[path = "input_tests.rs"]
mod tests;
