//! How the machine holds a queued event's payload text: once, and in a burst of events from one
//! template mostly as a reference to another payload's text.
//!
//! Events copied from one fixture give payloads that differ only in their varied fields (ids,
//! times), so a payload is held as the pieces of its text that differ from a *base* (the first
//! payload of its rule and source, kept whole) and where the rest of it is in the base: a
//! 300-byte case update costs some 60 bytes instead of 300. The text is written back, byte for
//! byte, each time it is sent ([`Body::text`]); a payload that shares too little with its base
//! is kept whole. Pure and deterministic: the same payloads in the same order are held alike.

use std::sync::Arc;

/// The shortest run of the base a payload refers to (shorter runs are cheaper as bytes).
const MIN_MATCH: usize = 8;

/// The longest text used as a base (its index costs about eight bytes per byte of it), and the
/// longest held against one (a longer text shares a smaller part of itself with any base).
pub const MAX_BASE: usize = 16 * 1024;
const MAX_AGAINST: usize = 4 * MAX_BASE;

/// A payload text every later payload of its rule and source is written against.
#[derive(Debug)]
pub struct Base {
    text: Arc<str>,
    /// Where in `text` each [`MIN_MATCH`]-byte run starts, by hash (the first such run);
    /// `u32::MAX` for none.
    index: Box<[u32]>,
}

impl Base {
    /// A base of `text` ([`MAX_BASE`] bytes at most: a longer text is no base).
    pub fn new(text: Arc<str>) -> Option<Base> {
        let b = text.as_bytes();
        if b.len() > MAX_BASE || b.len() < MIN_MATCH {
            return None;
        }
        let size = (b.len() * 2).next_power_of_two();
        let mut index = vec![u32::MAX; size].into_boxed_slice();
        for p in 0..=b.len() - MIN_MATCH {
            let slot = &mut index[hash(&b[p..p + MIN_MATCH]) & (size - 1)];
            if *slot == u32::MAX {
                *slot = p as u32;
            }
        }
        Some(Base { text, index })
    }

    /// Where the base holds the `MIN_MATCH` bytes at the start of `run`, if it does.
    fn find(&self, run: &[u8]) -> Option<usize> {
        let p = self.index[hash(&run[..MIN_MATCH]) & (self.index.len() - 1)];
        let p = usize::try_from(p).ok().filter(|_| p != u32::MAX)?;
        (self.text.as_bytes().get(p..p + MIN_MATCH) == Some(&run[..MIN_MATCH])).then_some(p)
    }
}

fn hash(run: &[u8]) -> usize {
    let mut w = [0u8; 8];
    w.copy_from_slice(&run[..8]);
    (u64::from_le_bytes(w).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}

/// A queued payload's text: whole, or as its differences from a [`Base`].
#[derive(Debug, Clone)]
pub enum Body {
    Whole(Arc<str>),
    /// `ops`: the text's length, then pairs of (bytes of its own, a run of the base: start,
    /// length), each number a LEB128 varint, a length of zero ending the pair early.
    Delta {
        base: Arc<Base>,
        ops: Box<[u8]>,
    },
}

impl Body {
    /// `text` held against `base`: as differences when they are smaller than the text (by a
    /// quarter at least), else whole.
    pub fn against(base: &Arc<Base>, text: String) -> Body {
        if text.len() > MAX_AGAINST {
            return Body::Whole(text.into());
        }
        let new = text.as_bytes();
        let old = base.text.as_bytes();
        let mut ops = Vec::with_capacity(new.len() / 4);
        put(&mut ops, new.len());
        let (mut i, mut own) = (0, 0);
        while i + MIN_MATCH <= new.len() {
            let Some(p) = base.find(&new[i..]) else {
                i += 1;
                continue;
            };
            let mut len = MIN_MATCH;
            while i + len < new.len() && p + len < old.len() && new[i + len] == old[p + len] {
                len += 1;
            }
            put(&mut ops, i - own);
            ops.extend_from_slice(&new[own..i]);
            put(&mut ops, p);
            put(&mut ops, len);
            i += len;
            own = i;
            if ops.len() * 4 > new.len() * 3 {
                return Body::Whole(text.into());
            }
        }
        if own < new.len() {
            put(&mut ops, new.len() - own);
            ops.extend_from_slice(&new[own..]);
        }
        if ops.len() * 4 > new.len() * 3 {
            return Body::Whole(text.into());
        }
        Body::Delta {
            base: Arc::clone(base),
            ops: ops.into_boxed_slice(),
        }
    }

    /// The text, as it was handed in.
    pub fn text(&self) -> Arc<str> {
        match self {
            Body::Whole(t) => Arc::clone(t),
            Body::Delta { base, ops } => {
                let old = base.text.as_bytes();
                let mut at = 0;
                let len = get(ops, &mut at);
                let mut out = Vec::with_capacity(len);
                while at < ops.len() {
                    let own = get(ops, &mut at);
                    out.extend_from_slice(&ops[at..at + own]);
                    at += own;
                    if at < ops.len() {
                        let p = get(ops, &mut at);
                        let n = get(ops, &mut at);
                        out.extend_from_slice(&old[p..p + n]);
                    }
                }
                // Runs of two valid texts cut where both agree byte for byte: the same text.
                String::from_utf8(out)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
                    .into()
            }
        }
    }
}

fn put(ops: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            ops.push(b);
            return;
        }
        ops.push(b | 0x80);
    }
}

fn get(ops: &[u8], at: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    while let Some(&b) = ops.get(*at) {
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(t: &str) -> Arc<Base> {
        Arc::new(Base::new(t.into()).expect("a base"))
    }

    #[test]
    fn a_payload_like_its_base_is_held_in_a_fraction_and_written_back_exactly() {
        let b = base(
            r#"{"caseNumber":"918273645","contactId":"55012","channelType":"voice","durationSeconds":390,"dispositionCode":"RESOLVED","agentEmail":"sam.rivera@company.com","metadata":{"queueName":"Billing","wrapUpCode":"WU-12","sentimentScore":0.72},"syncTimestamp":"2024-01-15T14:00:00.000Z"}"#,
        );
        let t = r#"{"caseNumber":"918273646","contactId":"55012","channelType":"voice","durationSeconds":1391,"dispositionCode":"RESOLVED","agentEmail":"sam.rivera@company.com","metadata":{"queueName":"Billing","wrapUpCode":"WU-12","sentimentScore":0.72},"syncTimestamp":"2024-01-15T14:00:07.311Z"}"#;
        let body = Body::against(&b, t.to_string());
        match &body {
            Body::Delta { ops, .. } => assert!(ops.len() * 3 < t.len(), "{} bytes", ops.len()),
            Body::Whole(_) => panic!("held whole"),
        }
        assert_eq!(&*body.text(), t);
    }

    #[test]
    fn any_text_is_written_back_byte_for_byte() {
        let b = base(r#"{"a":"ü 😀 \u0000 long enough text","b":[1,2,3],"c":"ü 😀 again"}"#);
        for t in [
            "",
            "x",
            "{}",
            r#"{"a":"ü 😀 \u0000 long enough text","b":[1,2,3],"c":"ü 😀 again"}"#,
            r#"{"a":"ü 😀 \u0000 long enough text!","b":[1,2,3,4],"c":"ü 😀 agai"}"#,
            r#"😀 😀 😀 long enough text 😀 long enough text ü 😀 again ü 😀 again"#,
            r#"completely different, nothing shared with the base at all, none"#,
        ] {
            assert_eq!(&*Body::against(&b, t.to_string()).text(), t, "{t:?}");
        }
        let long = "ab".repeat(20_000);
        assert_eq!(&*Body::against(&b, long.clone()).text(), long);
    }

    #[test]
    fn a_payload_sharing_little_with_its_base_is_held_whole() {
        let b = base(r#"{"caseNumber":"1","subject":"a"}"#);
        let t = r#"{"ticket":{"external_id":"INT-1","tags":["voice"]}}"#;
        assert!(matches!(Body::against(&b, t.to_string()), Body::Whole(_)));
    }

    #[test]
    fn a_text_too_long_or_short_is_no_base() {
        assert!(Base::new("x".repeat(MAX_BASE + 1).into()).is_none());
        assert!(Base::new("short".into()).is_none());
        assert!(Base::new("x".repeat(MAX_BASE).into()).is_some());
    }
}
