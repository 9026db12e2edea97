//! Parsing only what a transform reads: a trie of the input paths it can read drives a
//! `DeserializeSeed`; every other value is skipped with `IgnoredAny`, without allocating. Arrays
//! on a read path keep every item (positions matter to predicates), each pruned alike, since
//! a field step maps over array items. Duplicate keys make the parse fail, so such an event
//! goes to the engine, which decides what they mean.
//!
//! The parsed input is a [`Json`]: strings borrowed from the text wherever they hold no escape,
//! objects as ordered entry lists (no hashing, one allocation per object). A `serde_json::Value`
//! event is viewed the same way ([`Json::from_value`]), borrowing its strings.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The paths read, as a trie.
#[derive(Debug, Default)]
pub(super) struct Trie {
    /// The whole value here is read.
    pub whole: bool,
    pub children: BTreeMap<Box<str>, Trie>,
}

/// The trie that reads everything (bindings are read whole).
pub(super) static WHOLE: Trie = Trie {
    whole: true,
    children: BTreeMap::new(),
};

impl Trie {
    /// Marks `path` as read whole.
    pub(super) fn add(&mut self, path: &[Box<str>]) {
        let mut t = self;
        for seg in path {
            if t.whole {
                return;
            }
            t = t.children.entry(seg.clone()).or_default();
        }
        t.whole = true;
        t.children.clear();
    }

    fn child(&self, key: &str) -> Option<&Trie> {
        if self.whole {
            Some(self)
        } else {
            self.children.get(key)
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
    /// The object of `entries`; `None` when a key repeats.
    fn new(entries: Vec<(Cow<'t, str>, Json<'t>)>) -> Option<Fields<'t>> {
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

/// `text` parsed as far as `reads` needs; `None` when it is not valid JSON (or has duplicate
/// keys, or nests deeper than serde_json allows).
pub(super) fn parse_pruned<'t>(text: &'t str, reads: &Trie) -> Option<Json<'t>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Pruned(reads).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

struct Pruned<'t>(&'t Trie);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Json<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(PrunedVisitor(self.0))
    }
}

struct PrunedVisitor<'t>(&'t Trie);

impl<'de> Visitor<'de> for PrunedVisitor<'_> {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match self.0.child(&key) {
                Some(child) => {
                    let v = map.next_value_seed(Pruned(child))?;
                    entries.push((key, v));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Fields::new(entries)
            .map(Json::Obj)
            .ok_or_else(|| serde::de::Error::custom("duplicate key"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(Pruned(self.0))? {
            v.push(x);
        }
        Ok(Json::Arr(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Num(v as f64))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json<'de>, E> {
        if v.is_finite() {
            Ok(Json::Num(v))
        } else {
            Err(E::custom("not a finite number"))
        }
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
}

/// An object key, borrowed from the text unless it holds an escape (serde's own `Cow<str>`
/// always copies).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}
