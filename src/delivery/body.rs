//! How the machine holds a queued event's payload text: once, and in a burst of events from one
//! template mostly as a reference to another payload's text.
//!
//! Events copied from one fixture give payloads that differ only in their varied fields (ids,
//! times), so a payload is held as the pieces of its text that differ from a *base* (the first
//! payload of its rule and source, kept whole) and where the rest of it is in the base: a
//! 300-byte case update costs some 60 bytes instead of 300, and a 400 KB ticket carrying a
//! transcript that differs from its base only in its ids some 30 bytes. The text is written
//! back, byte for byte, each time it is sent ([`Body::text`]); a payload that shares too little
//! with its base is kept whole. Pure and deterministic: the same payloads in the same order are
//! held alike.
//!
//! The differences are found in time linear in the payload and in memory independent of its
//! length: the common prefix and suffix first, then, between them, a greedy walk that after each
//! differing span looks for the texts to agree again near where they parted ([`NEAR`] bytes on
//! either side), and only failing that in the base's index. The index of a long base samples it
//! ([`MAX_ANCHORS`] places at most, evenly spaced; a run found there is extended backwards too),
//! so a base costs its text and at most 128 KiB whatever its length. No payload is too long to
//! be held against a base, or to be one.

use std::sync::Arc;

/// The shortest run of the base a payload refers to (shorter runs are cheaper as bytes).
const MIN_MATCH: usize = 8;

/// The most places of a base its index holds: every byte of a base up to this length, every
/// `len / MAX_ANCHORS`-th (rounded up) of a longer one. Its index is two slots per place (of four
/// bytes each), so a base's index is at most 128 KiB.
pub const MAX_ANCHORS: usize = 16 * 1024;

/// How far on either side of where a payload and its base parted they are searched for a run
/// both hold (a varied field is a few bytes longer or shorter than the base's).
const NEAR: usize = 32;

/// A payload text every later payload of its rule and source is written against.
#[derive(Debug)]
pub struct Base {
    text: Arc<str>,
    /// Where a [`MIN_MATCH`]-byte run of `text` starts, by hash (the first such place), of every
    /// place or, in a text longer than [`MAX_ANCHORS`], every `len / MAX_ANCHORS`-th (rounded
    /// up); `u32::MAX` for none.
    index: Box<[u32]>,
}

impl Base {
    /// A base of `text`, if it is long enough to share a run ([`MIN_MATCH`] bytes) and short
    /// enough for its places to be counted in `u32`s.
    pub fn new(text: Arc<str>) -> Option<Base> {
        let b = text.as_bytes();
        if b.len() < MIN_MATCH || u32::try_from(b.len()).is_err() {
            return None;
        }
        let places = b.len() - MIN_MATCH + 1;
        let stride = places.div_ceil(MAX_ANCHORS).max(1);
        let size = (places.div_ceil(stride) * 2).next_power_of_two();
        let mut index = vec![u32::MAX; size].into_boxed_slice();
        for p in (0..places).step_by(stride) {
            let slot = &mut index[hash(&b[p..p + MIN_MATCH]) & (size - 1)];
            if *slot == u32::MAX {
                *slot = p as u32;
            }
        }
        Some(Base { text, index })
    }

    /// Where the base holds the `MIN_MATCH` bytes at the start of `run`, if one of its indexed
    /// places does.
    fn find(&self, run: &[u8]) -> Option<usize> {
        let p = self.index[hash(&run[..MIN_MATCH]) & (self.index.len() - 1)];
        let p = usize::try_from(p).ok().filter(|_| p != u32::MAX)?;
        (self.text.as_bytes().get(p..p + MIN_MATCH) == Some(&run[..MIN_MATCH])).then_some(p)
    }

    /// The bytes this base holds beyond what its payloads refer to (its index).
    #[cfg(test)]
    fn index_bytes(&self) -> usize {
        self.index.len() * std::mem::size_of::<u32>()
    }
}

fn hash(run: &[u8]) -> usize {
    let mut w = [0u8; 8];
    w.copy_from_slice(&run[..8]);
    (u64::from_le_bytes(w).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
}

/// Where the shortest step from `new[i..]` and `old[q..]` (`a` bytes of the one, `b` of the
/// other, `a + b` least, then `a`) reaches a [`MIN_MATCH`]-byte run both hold, each step at most
/// [`NEAR`]; `end` bounds `new`.
fn near(new: &[u8], i: usize, end: usize, old: &[u8], q: usize) -> Option<(usize, usize)> {
    for d in 0..=2 * NEAR {
        for a in d.saturating_sub(NEAR)..=d.min(NEAR) {
            let (x, y) = (i + a, q + (d - a));
            if x + MIN_MATCH > end || y + MIN_MATCH > old.len() {
                continue;
            }
            if new[x] == old[y] && new[x..x + MIN_MATCH] == old[y..y + MIN_MATCH] {
                return Some((x, y));
            }
        }
    }
    None
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
        match delta(base, text.as_bytes()) {
            Some(ops) => Body::Delta {
                base: Arc::clone(base),
                ops,
            },
            None => Body::Whole(text.into()),
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

/// Slices compared a block at a time (a `memcmp`), then byte by byte: the texts are long and
/// mostly alike.
const BLOCK: usize = 64;

/// How many bytes `a` and `b` agree on from their starts.
fn agree(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// How many bytes `a` and `b` agree on back from their ends.
fn agree_back(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + BLOCK <= n && a[n - i - BLOCK..n - i] == b[n - i - BLOCK..n - i] {
        i += BLOCK;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
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

/// The ops of `new` held against `base` ([`Body::Delta`]), or `None` when they would not save a
/// quarter of it.
fn delta(base: &Base, new: &[u8]) -> Option<Box<[u8]>> {
    let old = base.text.as_bytes();
    let n = new.len();
    let too_big = |ops: usize, pending: usize| (ops + pending) * 4 > n * 3;
    let mut pre = agree(new, old);
    let mut suf = agree_back(&new[pre..], &old[pre..]);
    if pre < MIN_MATCH {
        pre = 0;
    }
    if suf < MIN_MATCH {
        suf = 0;
    }
    let end = n - suf;
    let mut ops = Vec::with_capacity(64.min(n / 4));
    put(&mut ops, n);
    // `own`: the first byte not yet written out; `i`: where the search is; `q`: where in the
    // base the last run ended (where the texts parted).
    let (mut i, mut own, mut q) = (0, 0, 0);
    if pre > 0 {
        put(&mut ops, 0);
        put(&mut ops, 0);
        put(&mut ops, pre);
        (i, own, q) = (pre, pre, pre);
    }
    let mut parted = true;
    while i + MIN_MATCH <= end {
        let hit = if parted {
            near(new, i, end, old, q)
        } else {
            None
        };
        parted = false;
        let Some((mut x, mut p)) = hit.or_else(|| base.find(&new[i..]).map(|p| (i, p))) else {
            i += 1;
            if too_big(ops.len(), i - own) {
                return None;
            }
            continue;
        };
        // An indexed place may lie inside the run: it starts where both texts part before it.
        let found = x;
        while x > own && p > 0 && new[x - 1] == old[p - 1] {
            x -= 1;
            p -= 1;
        }
        let mut len = found + MIN_MATCH - x;
        len += agree(&new[x + len..end], &old[p + len..]);
        put(&mut ops, x - own);
        ops.extend_from_slice(&new[own..x]);
        put(&mut ops, p);
        put(&mut ops, len);
        i = x + len;
        own = i;
        q = p + len;
        parted = true;
        if too_big(ops.len(), 0) {
            return None;
        }
    }
    if own < end || suf > 0 {
        put(&mut ops, end - own);
        ops.extend_from_slice(&new[own..end]);
    }
    if suf > 0 {
        put(&mut ops, old.len() - suf);
        put(&mut ops, suf);
    }
    (!too_big(ops.len(), 0)).then(|| ops.into_boxed_slice())
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
    fn any_text_long_enough_is_a_base_and_its_index_is_bounded() {
        assert!(Base::new("short".into()).is_none());
        for len in [8, 100, 16 * 1024, 16 * 1024 + 1, 500_000, 3_000_000] {
            let b = Base::new("x".repeat(len).into()).expect("a base");
            assert!(b.index_bytes() <= 128 * 1024, "{len}: {}", b.index_bytes());
        }
    }

    /// A ticket whose comment is a 1,000-line transcript (lines alike, as a transcript's are),
    /// with its ids and times at `n`.
    fn transcript(n: u32) -> String {
        let mut t = format!(r#"{{"ticket":{{"external_id":"INT-{n}","comment":{{"html_body":""#);
        for i in 0..1000 {
            let who = if i % 2 == 0 { "agent" } else { "customer" };
            t.push_str(&format!(
                "<p>{who}: thank you for calling, line {i} of the call, how can I help?</p>"
            ));
            if i == 500 {
                t.push_str(&format!(
                    "<p>note: transferred at 2025-03-03T10:{:02}:00Z</p>",
                    n % 60
                ));
            }
        }
        t.push_str(&format!(r#""}},"requester_id":{n},"tags":["voice"]}}}}"#));
        t
    }

    #[test]
    fn a_long_payload_with_a_few_differing_fields_is_held_in_bytes_of_its_differences() {
        let b = base(&transcript(1000));
        assert!(b.text.len() > 70_000);
        for n in [1001, 1_002_345, 7] {
            let t = transcript(n);
            let body = Body::against(&b, t.clone());
            match &body {
                Body::Delta { ops, .. } => assert!(ops.len() < 64, "{n}: {} bytes", ops.len()),
                Body::Whole(_) => panic!("{n}: held whole"),
            }
            assert_eq!(&*body.text(), t);
        }
        // As long as the backlog bench's (436 KB): the same few bytes.
        let words = "and I can see your account here, ".repeat(9);
        let long = |n: u32| transcript(n).replace("thank you", &words);
        let b = base(&long(1000));
        assert!(b.text.len() > 350_000, "{}", b.text.len());
        let t = long(4242);
        match Body::against(&b, t.clone()) {
            body @ Body::Delta { .. } => {
                let Body::Delta { ops, .. } = &body else {
                    unreachable!()
                };
                assert!(ops.len() < 64, "{} bytes", ops.len());
                assert_eq!(&*body.text(), t);
            }
            Body::Whole(_) => panic!("held whole"),
        }
    }

    /// A seeded generator (xorshift64*), so a failing case can be run again.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        /// `len` characters from a small alphabet (so runs recur, as in JSON), some multi-byte.
        fn text(&mut self, len: usize) -> String {
            const A: [&str; 12] = ["a", "b", "\"", ":", ",", "{", "}", "0", "1", "ü", "😀", " "];
            (0..len).map(|_| A[self.below(A.len())]).collect()
        }
    }

    /// The nearest character boundary at or before `at`.
    fn floor(t: &str, mut at: usize) -> usize {
        at = at.min(t.len());
        while !t.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    #[test]
    fn what_is_sent_is_what_was_held_over_random_payloads_and_edits() {
        let mut g = Gen(0x5eed_0256);
        for case in 0..400 {
            let len = match case % 4 {
                0 => g.below(64),
                1 | 2 => g.below(4_000),
                _ => 20_000 + g.below(80_000),
            };
            let old = if case % 5 == 0 {
                transcript(g.below(1 << 20) as u32)
            } else {
                g.text(len)
            };
            let Some(b) = Base::new(old.clone().into()).map(Arc::new) else {
                continue;
            };
            // The base with a few spans replaced, inserted or cut; sometimes another text.
            let mut new = old.clone();
            if case % 7 == 3 {
                new = g.text(len);
            } else {
                for _ in 0..g.below(12) {
                    let at = floor(&new, g.below(new.len() + 1));
                    let to = floor(&new, at + g.below(40));
                    let n = g.below(30);
                    let with = g.text(n);
                    new.replace_range(at..to.max(at), &with);
                }
            }
            let body = Body::against(&b, new.clone());
            assert_eq!(&*body.text(), new, "case {case}");
            if let Body::Delta { ops, .. } = &body {
                assert!(
                    ops.len() * 4 <= new.len() * 3,
                    "case {case}: {} of {}",
                    ops.len(),
                    new.len()
                );
            }
        }
    }
}
