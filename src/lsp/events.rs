//! What the fixture events hold at a path, read the way JSONata reads a path: a step into an
//! array maps over its items.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spec::Fixture;

/// Every value at `segs` in `event`.
pub fn values_at<'v>(event: &'v Value, segs: &[&str]) -> Vec<&'v Value> {
    let mut cur = vec![event];
    for seg in segs {
        let mut next = Vec::new();
        for v in cur {
            step(v, seg, &mut next);
        }
        cur = next;
    }
    cur.into_iter().filter(|v| !v.is_null()).collect()
}

fn step<'v>(v: &'v Value, seg: &str, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(m) => {
            if let Some(c) = m.get(seg) {
                match c {
                    Value::Array(items) => out.extend(items.iter()),
                    c => out.push(c),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| step(i, seg, out)),
        _ => {}
    }
}

/// The keys found below `segs`, with how many fixtures have each.
pub fn children(fixtures: &[&Fixture], segs: &[&str]) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for f in fixtures {
        let mut keys: Vec<&String> = Vec::new();
        for v in values_at(&f.event, segs) {
            if let Value::Object(m) = v {
                keys.extend(m.keys());
            }
        }
        keys.sort();
        keys.dedup();
        for k in keys {
            *out.entry(k.clone()).or_default() += 1;
        }
    }
    out
}

/// One line per fixture: its name and the value at `segs` (shortened), or "missing".
pub fn describe(fixtures: &[&Fixture], segs: &[&str]) -> (usize, String) {
    let mut have = 0;
    let mut lines = String::new();
    for f in fixtures {
        let vals = values_at(&f.event, segs);
        let shown = match vals.as_slice() {
            [] => "*missing*".to_string(),
            [v] => format!("`{}`", short(v)),
            vs => format!("{} values, first `{}`", vs.len(), short(vs[0])),
        };
        if !vals.is_empty() {
            have += 1;
        }
        lines.push_str(&format!("- `{}`: {shown}\n", f.name));
    }
    (have, lines)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
    .replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_maps_over_arrays() {
        let e = serde_json::json!({"a": {"b": [{"c": 1}, {"c": 2}, {"d": 3}]}, "n": null});
        assert_eq!(
            values_at(&e, &["a", "b", "c"]),
            [&Value::from(1), &Value::from(2)]
        );
        assert!(values_at(&e, &["n"]).is_empty());
        let f = Fixture {
            path: "x.json".into(),
            name: "x".into(),
            event: e,
        };
        let kids = children(&[&f], &["a", "b"]);
        assert_eq!(kids.keys().collect::<Vec<_>>(), ["c", "d"]);
    }
}
