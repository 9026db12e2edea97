//! The scanner against serde_json, the parser the engine reads events with: on generated and
//! hostile texts (escapes of every kind, lone and paired surrogates, duplicate keys, numbers at
//! the edges of serde_json's arithmetic, odd whitespace, deep nesting, and every text mutated
//! by a byte), whatever the scanner accepts serde_json accepts with the same value — numbers
//! bit for bit — and a valid text it declines is one it must leave to the engine.

use proptest::prelude::*;
use serde_json::Value;

use super::{parse_pruned, Json, Trie, MAX_DEPTH, WHOLE};

/// Equality with numbers compared bit for bit (`-0` is not `0`).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Num(x), Json::Num(y)) => x.to_bits() == y.to_bits(),
        (Json::Arr(x), Json::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Obj(x), Json::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k, a), (l, b))| k == l && same(a, b))
        }
        _ => a == b,
    }
}

/// What the scanner may decline of a text serde_json accepts.
fn left_to_engine(text: &str) -> bool {
    // A surrogate escape (\uD800-\uDFFF), or nesting past the limit; duplicate keys are
    // checked by the caller.
    let lower = text.to_ascii_lowercase();
    lower.contains("\\ud")
        && lower
            .split("\\ud")
            .skip(1)
            .any(|s| s.starts_with(|c| matches!(c, '8'..='9' | 'a'..='f')))
        || depth(text) > MAX_DEPTH as usize
}

fn depth(text: &str) -> usize {
    let (mut d, mut max) = (0usize, 0usize);
    for c in text.bytes() {
        match c {
            b'[' | b'{' => {
                d += 1;
                max = max.max(d);
            }
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Whether an object of `text` repeats a key: serde_json keeps one entry per key, so its value
/// has fewer entries than the text writes keys.
fn has_duplicates(v: &Value, text: &str) -> bool {
    fn entries(v: &Value) -> usize {
        match v {
            Value::Array(a) => a.iter().map(entries).sum(),
            Value::Object(m) => m.len() + m.values().map(entries).sum::<usize>(),
            _ => 0,
        }
    }
    struct Keys(usize);
    struct Counter;
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
            d.deserialize_any(Counter)
        }
    }
    impl<'de> serde::de::Visitor<'de> for Counter {
        type Value = Keys;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
            let mut n = 0;
            while m.next_key::<serde::de::IgnoredAny>()?.is_some() {
                n += 1 + m.next_value::<Keys>()?.0;
            }
            Ok(Keys(n))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Keys, A::Error> {
            let mut n = 0;
            while let Some(k) = s.next_element::<Keys>()? {
                n += k.0;
            }
            Ok(Keys(n))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Keys, E> {
            Ok(Keys(0))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Keys, E> {
            Ok(Keys(0))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Keys, E> {
            Ok(Keys(0))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Keys, E> {
            Ok(Keys(0))
        }
        fn visit_str<E>(self, _: &str) -> Result<Keys, E> {
            Ok(Keys(0))
        }
        fn visit_unit<E>(self) -> Result<Keys, E> {
            Ok(Keys(0))
        }
    }
    serde_json::from_str::<Keys>(text).is_ok_and(|k| k.0 != entries(v))
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let ours = parse_pruned(text, &WHOLE);
    let theirs = serde_json::from_str::<Value>(text);
    match (&ours, &theirs) {
        (Some(j), Ok(v)) => {
            let expected = Json::from_value(v, &WHOLE);
            prop_assert!(same(j, &expected), "{text:?}: {j:?} vs {expected:?}");
            // The engine's own parse of the text, value for value.
            let engine = jsonata_core::value::JValue::from_json_str(text).unwrap();
            prop_assert_eq!(super::super::value::input_jvalue(j), engine);
        }
        (Some(j), Err(e)) => prop_assert!(false, "{text:?}: accepted as {j:?}, serde_json: {e}"),
        (None, Ok(v)) => {
            prop_assert!(
                has_duplicates(v, text) || left_to_engine(text),
                "{text:?} declined, serde_json: {v}"
            );
        }
        (None, Err(_)) => {}
    }
    // Pruned: a trie of a few paths reads the same as the whole value pruned alike.
    let mut trie = Trie::default();
    trie.add(&["a".into()]);
    trie.add(&["b".into(), "c".into()]);
    if let Some(p) = parse_pruned(text, &trie) {
        let v = theirs.as_ref().map_err(|e| {
            TestCaseError::fail(format!("{text:?}: pruned accepted, serde_json: {e}"))
        })?;
        prop_assert!(same(&p, &Json::from_value(v, &trie)), "{text:?} pruned");
    } else if ours.is_some() {
        prop_assert!(false, "{text:?}: whole accepted, pruned declined");
    }
    Ok(())
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n", "\t\r ", "\u{a0}", "\u{b}"])
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,21})(\\.[0-9]{1,19})?([eE][+-]?[0-9]{1,3})?",
        "-?[0-9]{1,3}(\\.[0-9]{0,2})?([eE][+-]?)?",
        prop::sample::select(vec![
            "-0",
            "0",
            "-0.0",
            "9007199254740993",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "1e308",
            "1e309",
            "-1e309",
            "1e-400",
            "2.2250738585072011e-308",
            "0.1",
            "1.7976931348623157e308",
            "123456789012345678901234567890",
            "1.00000000000000011102230246251565404236316680908203125",
            "4.35",
            "1E2",
            "1e+2",
            "01",
            ".5",
            "+1",
            "1.",
            "0x10",
            "1e",
            "--1",
            "Infinity",
            "NaN",
        ])
        .prop_map(str::to_string),
    ]
}

fn string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-zé€😀 ]{0,12}",
        1 => prop::sample::select(vec![
            "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\u00e9", "\\u0000",
            "\\u001F", "\\uFFFF", "\\ud83d\\ude00", "\\uD800", "\\udc00", "\\ud800\\u0041",
            "\\uZZZZ", "\\u12", "\\x", "\\", "\u{1}", "\u{1f}", "\u{7f}", "\"",
        ])
        .prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|p| format!("\"{}\"", p.concat()))
}

/// A generated text.
fn text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec!["a", "b", "c", "ab", "a\\u0062", "é", "", "\\u0061"]);
    let leaf = prop_oneof![
        number(),
        string(),
        prop::sample::select(vec!["null", "true", "false", "nul", "True"]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(6, 64, 5, move |inner| {
        prop_oneof![
            (prop::collection::vec((inner.clone(), ws()), 0..5), ws()).prop_map(|(items, w)| {
                let body: Vec<String> = items
                    .into_iter()
                    .map(|(t, w)| format!("{w}{t}{w}"))
                    .collect();
                format!("[{w}{}]", body.join(","))
            }),
            (
                prop::collection::vec((key.clone(), inner, ws()), 0..5),
                ws()
            )
                .prop_map(|(entries, w)| {
                    let body: Vec<String> = entries
                        .into_iter()
                        .map(|(k, t, w)| format!("{w}\"{k}\"{w}:{w}{t}"))
                        .collect();
                    format!("{{{w}{}{w}}}", body.join(","))
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_scanner_accepts_what_serde_json_accepts_with_the_same_values(t in text(), w in ws()) {
        check(&format!("{w}{t}{w}"))?;
    }

    #[test]
    fn a_text_mutated_by_a_byte_is_judged_as_serde_json_judges_it(
        t in text(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(vec![b'"', b'\\', b',', b':', b'[', b']', b'{', b'}', b'0', b'-', b'.', b'e', b' ', b'u', 1u8]),
        delete in any::<bool>(),
    ) {
        let mut b = t.into_bytes();
        let i = at.index(b.len() + 1);
        if delete && i < b.len() {
            b.remove(i);
        } else {
            b.insert(i, byte);
        }
        if let Ok(s) = String::from_utf8(b) {
            check(&s)?;
        }
    }
}

#[test]
fn nesting_is_accepted_to_the_limit_and_declined_past_it() {
    for n in [
        1,
        50,
        MAX_DEPTH as usize,
        MAX_DEPTH as usize + 1,
        127,
        128,
        129,
        5000,
    ] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let text = format!("{}1{}", open.repeat(n), close.repeat(n));
            assert_eq!(
                parse_pruned(&text, &WHOLE).is_some(),
                n <= MAX_DEPTH as usize,
                "{n}"
            );
            if parse_pruned(&text, &WHOLE).is_some() {
                check(&text).unwrap();
            }
            // Skipped subtrees are held to the same limit.
            let skipped = format!("{{\"zz\": {text}}}");
            assert_eq!(
                parse_pruned(&skipped, &Trie::default()).is_some(),
                n < MAX_DEPTH as usize,
                "{n}"
            );
        }
    }
}

#[test]
fn numbers_are_serde_jsons_bit_for_bit() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..200_000 {
        let r = next();
        let digits = 1 + (r % 22) as usize;
        let mut s = String::new();
        if r & (1 << 40) != 0 {
            s.push('-');
        }
        let n = next();
        s.push_str(&n.to_string()[..digits.min(n.to_string().len())]);
        if s.trim_start_matches('-').starts_with('0') && s.trim_start_matches('-').len() > 1 {
            continue;
        }
        if r & (1 << 41) != 0 {
            s.push('.');
            let f = next().to_string();
            s.push_str(&f[..(1 + (r >> 50) as usize % 19).min(f.len())]);
        }
        if r & (1 << 42) != 0 {
            s.push_str(&format!("e{}", (r >> 44) as i64 % 40 - 20));
        }
        let ours = parse_pruned(&s, &WHOLE);
        let theirs = serde_json::from_str::<f64>(&s).ok();
        assert_eq!(
            ours.map(|j| match j {
                Json::Num(f) => f.to_bits(),
                _ => 0,
            }),
            theirs.map(f64::to_bits),
            "{s}"
        );
    }
}
