//! What a CRM accepts as a request body: one truth for the simulator's CRM model in virtual time
//! and the HTTP mock (`sim --http`, `mock-crm`), which both call [`judge`] on the bytes sent.
//!
//! Every profile writes a record from a JSON **object** (a REST create or upsert). A JSON array
//! is a list of records, accepted only when the spec says the endpoint takes arrays
//! (`crm.acceptsArrays`, which `batchSize > 1` needs), and then only if it is not empty and every
//! element is an object. A string, number, boolean or `null` is never a record. The vendors'
//! bulk endpoints (Salesforce sObject Collections, HubSpot batch, Zendesk `create_many`,
//! ServiceNow import sets) all take an object that wraps the list, so no profile accepts a bare
//! array by default.
//!
//! The top-level kind is read from the first byte that is not white space; only an array is read
//! further (each element's kind). A body that is not JSON at all is found where the model parses
//! it (payload schema, upsert field).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON value's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    Boolean,
    Null,
}

impl Kind {
    /// The kind with its article, as messages say it (`an array`, `null`).
    pub fn article(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Null => "null",
        }
    }
}

/// Why the CRM answers 400 to a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The body is not JSON (its first byte starts no JSON value, or an array does not parse).
    NotJson,
    /// The top level is a string, number, boolean or `null`.
    NotARecord(Kind),
    /// An array, and the CRM takes none (`crm.acceptsArrays: false`).
    ArraysNotAccepted,
    /// An empty array: no record to write.
    EmptyArray,
    /// An array element (0-based) that is not an object.
    ElementNotARecord { index: usize, kind: Kind },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotJson => f.write_str("malformed JSON"),
            Refusal::NotARecord(k) => write!(f, "Expected a JSON object, found {}", k.article()),
            Refusal::ArraysNotAccepted => {
                f.write_str("Expected a JSON object, found an array (crm.acceptsArrays is false)")
            }
            Refusal::EmptyArray => f.write_str("Expected records, found an empty array"),
            Refusal::ElementNotARecord { index, kind } => write!(
                f,
                "Expected an array of JSON objects, found {} at index {index}",
                kind.article()
            ),
        }
    }
}

impl Refusal {
    /// The 400 response body the model sends for this refusal.
    pub fn response_body(&self) -> String {
        serde_json::json!({"error": "bad_request", "message": self.to_string()}).to_string()
    }
}

/// Judges a request body: `Ok(Kind::Object)` for one record, `Ok(Kind::Array)` for a list of
/// them (only with `accepts_arrays`), else the reason for a 400.
pub fn judge(body: &str, accepts_arrays: bool) -> Result<Kind, Refusal> {
    let kind = match body.trim_start().as_bytes().first() {
        Some(b'{') => return Ok(Kind::Object),
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b'-' | b'0'..=b'9') => Kind::Number,
        Some(b't' | b'f') => Kind::Boolean,
        Some(b'n') => Kind::Null,
        _ => return Err(Refusal::NotJson),
    };
    if kind != Kind::Array {
        return Err(Refusal::NotARecord(kind));
    }
    if !accepts_arrays {
        return Err(Refusal::ArraysNotAccepted);
    }
    let elements: Vec<KindOf> = serde_json::from_str(body).map_err(|_| Refusal::NotJson)?;
    if elements.is_empty() {
        return Err(Refusal::EmptyArray);
    }
    match elements.iter().position(|e| e.0 != Kind::Object) {
        Some(index) => Err(Refusal::ElementNotARecord {
            index,
            kind: elements[index].0,
        }),
        None => Ok(Kind::Array),
    }
}

/// [`judge`]'s reason for a 400 as text, or `None` when the CRM takes the body: what
/// `cxsync test` reports (`transform::runner::CrmBody`).
pub fn refusal(body: &str, accepts_arrays: bool) -> Option<String> {
    judge(body, accepts_arrays).err().map(|r| r.to_string())
}

/// A JSON value read only for its kind (its content is skipped, not built).
struct KindOf(Kind);

impl<'de> Deserialize<'de> for KindOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = KindOf;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<KindOf, E> {
        Ok(KindOf(Kind::Boolean))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<KindOf, E> {
        Ok(KindOf(Kind::Number))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<KindOf, E> {
        Ok(KindOf(Kind::Number))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<KindOf, E> {
        Ok(KindOf(Kind::Number))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<KindOf, E> {
        Ok(KindOf(Kind::String))
    }
    fn visit_unit<E: de::Error>(self) -> Result<KindOf, E> {
        Ok(KindOf(Kind::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KindOf, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(KindOf(Kind::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KindOf, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(KindOf(Kind::Object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_a_record_and_nothing_else_is_one_without_arrays() {
        assert_eq!(judge(" \n{\"a\":1}", false), Ok(Kind::Object));
        for (body, kind) in [
            ("\"text\"", Kind::String),
            ("-1.5", Kind::Number),
            ("7", Kind::Number),
            ("true", Kind::Boolean),
            ("false", Kind::Boolean),
            ("null", Kind::Null),
        ] {
            assert_eq!(judge(body, false), Err(Refusal::NotARecord(kind)), "{body}");
            assert_eq!(judge(body, true), Err(Refusal::NotARecord(kind)), "{body}");
        }
        assert_eq!(
            judge("[{\"id\":1}]", false),
            Err(Refusal::ArraysNotAccepted)
        );
        assert_eq!(judge("", true), Err(Refusal::NotJson));
        assert_eq!(judge("<xml/>", true), Err(Refusal::NotJson));
    }

    #[test]
    fn an_array_is_accepted_only_when_the_crm_takes_arrays_and_only_of_objects() {
        assert_eq!(judge("[{\"a\":[1,{}]}, {}]", true), Ok(Kind::Array));
        assert_eq!(judge("[]", true), Err(Refusal::EmptyArray));
        assert_eq!(
            judge("[{}, [{\"id\":1}]]", true),
            Err(Refusal::ElementNotARecord {
                index: 1,
                kind: Kind::Array
            })
        );
        assert_eq!(
            judge("[null]", true),
            Err(Refusal::ElementNotARecord {
                index: 0,
                kind: Kind::Null
            })
        );
        assert_eq!(judge("[{}, ", true), Err(Refusal::NotJson));
        assert_eq!(
            Refusal::ElementNotARecord {
                index: 1,
                kind: Kind::Array
            }
            .response_body(),
            r#"{"error":"bad_request","message":"Expected an array of JSON objects, found an array at index 1"}"#
        );
    }
}
