//! Parsing only what a transform reads: a trie of the input paths it can read drives a
//! `DeserializeSeed`; every other value is skipped with `IgnoredAny`, without allocating. Arrays
//! on a read path keep every item (positions matter to predicates), each pruned alike, since
//! a field step maps over array items. Duplicate keys make the parse fail, so such an event
//! goes to the engine, which decides what they mean.

use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The paths read, as a trie.
#[derive(Debug, Default)]
pub(super) struct Trie {
    /// The whole value here is read.
    pub whole: bool,
    pub children: BTreeMap<Box<str>, Trie>,
}

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
}

/// `text` parsed as far as `reads` needs; `None` when it is not valid JSON (or has duplicate
/// keys, or nests deeper than serde_json allows).
pub(super) fn parse_pruned(text: &str, reads: &Trie) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Pruned(reads).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

struct Pruned<'t>(&'t Trie);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
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
            let child = if self.0.whole {
                Some(self.0)
            } else {
                self.0.children.get(key.as_ref())
            };
            match child {
                Some(child) => {
                    let v = map.next_value_seed(Pruned(child))?;
                    if out.insert(key.into_owned(), v).is_some() {
                        return Err(serde::de::Error::custom("duplicate key"));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(Pruned(self.0))? {
            v.push(x);
        }
        Ok(Value::Array(v))
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
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
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
