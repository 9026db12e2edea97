//! ## What it does
//! Flags an output field of a transform that carries personal data (a customer's phone, email or
//! name, an agent's email, transcripts, recordings, IBAN, IP address, raw payloads; found by input
//! path names) and is not listed in `crm.allowPersonalData`. An object or a list that reaches the
//! field whole (`$string(interaction.customer)`, `$merge`, the value itself) carries every
//! personal field the rule's fixture events show inside it; so does the payload when the
//! transform forwards its input whole (`$`, `$$`, `event`, the `$` of `$merge([$, {…}])`), and the
//! allow list then names each personal field's path in the payload. One finding per output
//! field. A wildcard copies every field it selects: `interaction.customer.*` and
//! `interaction.**` carry each personal field the fixtures show at the paths they match. Only
//! content that reaches the field counts: a field computed from
//! `$count(interaction.analytics.transcripts) > 0`, `$exists(customer.phone)`,
//! `$keys(interaction.customer)` (the key names, no values) or a condition carries none of it.
//!
//! ## Why is this bad?
//! CXone events carry raw customer identifiers. Copying them into the CRM without checking that
//! the CRM field is meant (and protected) for it risks PCI-DSS or HIPAA data-in-transit violations
//! (guide §2, "The Trap"). The allow list makes the decision explicit and reviewable.
//!
//! ## Example
//! ```yaml
//! transform: |
//!   { "caseNumber": $string(interaction.id), "callerPhone": interaction.customer.phone }
//! ```
//!
//! Use instead: drop the field, or, when the CRM field is approved for it,
//! ```yaml
//! crm:
//!   allowPersonalData: [callerPhone]
//! ```
//!
//! ## Fix safety
//! No automatic fix: whether a field may carry personal data is a compliance decision.

use super::prelude::*;
use super::{personal_data, personal_data_at};
use crate::lint::context::Carried;
use serde_json::Value;

/// `/metadata/x` or `metadata.x` → `metadata.x`.
fn dotted(field: &str) -> String {
    field.trim_start_matches('/').replace('/', ".")
}

/// Whether an output field is covered by the allow list (the field itself or an ancestor).
pub fn allowed(allow: &[String], pointer: &str) -> bool {
    let f = dotted(pointer);
    allow
        .iter()
        .map(|a| dotted(a))
        .any(|a| f == a || f.strip_prefix(&a).is_some_and(|rest| rest.starts_with('.')))
}

/// Every input path that reaches an output field, whatever it is: CX020 decides per path.
fn any_path(_: &[String]) -> Option<&'static str> {
    Some("")
}

/// A personal field: what it is, and its dotted path.
type Personal = (&'static str, String);

/// A path that reaches an output field whole, as shown, and whether it is a wildcard.
type Whole = (String, bool);

/// Most nodes of one fixture value walked for the personal fields inside it.
const WALK_LIMIT: usize = 20_000;

/// Whether a path segment is a wildcard (`*`: every field, `**`: every descendant).
fn is_wildcard(segment: &str) -> bool {
    segment == "*" || segment == "**"
}

/// The non-null values `segments` selects in `event`, each with its concrete dotted path (list
/// items by index), as JSONata navigates: a name step over a list applies to each item, `*` is
/// every field of an object (of each item of a list), `**` every value below at any depth. At
/// most `budget` values are visited.
fn select<'v>(
    event: &'v Value,
    segments: &[String],
    budget: &mut usize,
) -> Vec<(Vec<String>, &'v Value)> {
    let mut current: Vec<(Vec<String>, &Value)> = vec![(Vec::new(), event)];
    for seg in segments {
        let mut next: Vec<(Vec<String>, &Value)> = Vec::new();
        for (path, v) in current {
            step(path, v, seg, &mut next, budget);
        }
        current = next;
    }
    current.retain(|(_, v)| !v.is_null());
    current
}

/// One step of [`select`] from one value.
fn step<'v>(
    path: Vec<String>,
    v: &'v Value,
    seg: &str,
    out: &mut Vec<(Vec<String>, &'v Value)>,
    budget: &mut usize,
) {
    let at = |path: &[String], k: &str| {
        let mut p = path.to_vec();
        p.push(k.to_string());
        p
    };
    match (seg, v) {
        ("**", Value::Object(_) | Value::Array(_)) => {
            // Every descendant, in the document's order.
            let mut stack: Vec<(Vec<String>, &Value)> = vec![(path, v)];
            while let Some((p, x)) = stack.pop() {
                let children = children(&p, x);
                for (cp, cx) in children.iter().cloned() {
                    if *budget == 0 {
                        return;
                    }
                    *budget -= 1;
                    out.push((cp, cx));
                }
                stack.extend(children.into_iter().rev());
            }
        }
        ("*", Value::Object(_)) => {
            for c in children(&path, v) {
                if *budget == 0 {
                    return;
                }
                *budget -= 1;
                out.push(c);
            }
        }
        (_, Value::Array(items)) => match seg.parse::<usize>() {
            Ok(i) if seg != "*" => {
                if let Some(x) = items.get(i) {
                    out.push((at(&path, seg), x));
                }
            }
            _ => {
                for (i, x) in items.iter().enumerate() {
                    step(at(&path, &i.to_string()), x, seg, out, budget);
                }
            }
        },
        (_, Value::Object(m)) if !is_wildcard(seg) => {
            if let Some(x) = m.get(seg) {
                if *budget > 0 {
                    *budget -= 1;
                    out.push((at(&path, seg), x));
                }
            }
        }
        _ => {}
    }
}

/// The fields or items of an object or a list, with their paths.
fn children<'v>(path: &[String], v: &'v Value) -> Vec<(Vec<String>, &'v Value)> {
    let with = |k: String| {
        let mut p = path.to_vec();
        p.push(k);
        p
    };
    match v {
        Value::Object(m) => m.iter().map(|(k, x)| (with(k.clone()), x)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| (with(i.to_string()), x))
            .collect(),
        _ => Vec::new(),
    }
}

/// The personal fields of the value at `segments`: the path itself when its name says so, else
/// what the rule's fixtures show there: each selected value whose path names personal data, and
/// inside each selected object or list (the value reaches the field whole:
/// `$string(interaction.customer)`, `$merge`, the value itself), every personal field. A
/// wildcard (`customer.*`, `interaction.**`) selects every field it matches in the fixtures.
/// `(what it is, dotted path)`, in order of first appearance.
fn personal_in(c: &Carried) -> Vec<Personal> {
    let segments = &c.path.segments;
    if let Some((i, what)) = personal_data_at(segments) {
        return vec![(what, segments[..=i].join("."))];
    }
    // `a.**` selects every descendant itself: nothing is left to look inside.
    let look_inside = segments.last().is_none_or(|s| s != "**");
    let mut found: Vec<Personal> = Vec::new();
    let mut note = |what: &'static str, shown: String| {
        if !found.iter().any(|(_, s)| *s == shown) {
            found.push((what, shown));
        }
    };
    for f in &c.rule.fixtures {
        let mut budget = WALK_LIMIT;
        for (concrete, v) in select(&f.event, segments, &mut budget) {
            if let Some((i, what)) = personal_data_at(&concrete) {
                note(what, concrete[..=i].join("."));
                continue;
            }
            if !look_inside || !matches!(v, Value::Object(_) | Value::Array(_)) {
                continue;
            }
            let mut stack: Vec<(Vec<String>, &Value)> = vec![(concrete, v)];
            let mut walked = 0;
            while let Some((path, v)) = stack.pop() {
                walked += 1;
                if walked > WALK_LIMIT {
                    break;
                }
                let mut deeper: Vec<(Vec<String>, &Value)> = Vec::new();
                for (p, x) in children(&path, v) {
                    if let Some((i, what)) = personal_data_at(&p) {
                        note(what, p[..=i].join("."));
                    } else {
                        deeper.push((p, x));
                    }
                }
                // Reversed onto the stack, so deeper fields are found in the fixture's order.
                stack.extend(deeper.into_iter().rev());
            }
        }
    }
    found
}

/// `a phone number (`x`) and an email address (`y`, `z`)`: kinds in order, up to three paths each.
fn describe(found: &[Personal]) -> String {
    let mut kinds: Vec<&'static str> = Vec::new();
    for (k, _) in found {
        if !kinds.contains(k) {
            kinds.push(k);
        }
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|k| {
            let paths: Vec<String> = found
                .iter()
                .filter(|(w, _)| w == k)
                .map(|(_, p)| format!("`{p}`"))
                .collect();
            let shown = if paths.len() > 3 {
                format!("{}, and {} more", paths[..3].join(", "), paths.len() - 3)
            } else {
                paths.join(", ")
            };
            format!("{k} ({shown})")
        })
        .collect();
    match parts.len() {
        0 => String::new(),
        1 => parts[0].clone(),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

/// The path up to its first wildcard (`interaction.customer` of `interaction.customer.*`), or
/// `event` when it starts with one.
fn named_prefix(segments: &[String]) -> String {
    let named: Vec<&str> = segments
        .iter()
        .take_while(|s| !is_wildcard(s))
        .map(String::as_str)
        .collect();
    if named.is_empty() {
        "event".into()
    } else {
        named.join(".")
    }
}

pub fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let allow = &cx.spec.raw.crm.allow_personal_data;
    // One finding per output field of a transform: (carried, whole paths and whether each is a
    // wildcard, personal fields).
    let mut fields: Vec<(Carried, Vec<Whole>, Vec<Personal>)> = Vec::new();
    for c in cx.carried(any_path) {
        if allowed(allow, &c.field.pointer) {
            continue;
        }
        let mut found = personal_in(&c);
        if c.field.pointer.is_empty() {
            // The payload is the value itself: a personal field lands at its path inside it,
            // which is what the allow list names.
            let base = c.path.segments.len();
            found.retain(|(_, p)| {
                let inside: Vec<&str> = p.split('.').skip(base).collect();
                !allowed(allow, &inside.join("."))
            });
        }
        if found.is_empty() {
            continue;
        }
        // A path that is not itself personal reaches the field whole.
        let whole = (personal_data(&c.path.segments).is_none()).then(|| {
            if c.path.segments.is_empty() {
                "the whole event".to_string()
            } else {
                format!("`{}`", c.path.dotted())
            }
        });
        let whole = whole.map(|w| (w, c.path.segments.iter().any(|s| is_wildcard(s))));
        let same = fields.iter_mut().find(|(d, _, _)| {
            d.rule.index == c.rule.index
                && std::ptr::eq(d.source, c.source)
                && d.field.pointer == c.field.pointer
        });
        let (wholes, all) = match same {
            Some((_, w, a)) => (w, a),
            None => {
                fields.push((c, Vec::new(), Vec::new()));
                let last = fields.last_mut().expect("just pushed");
                (&mut last.1, &mut last.2)
            }
        };
        wholes.extend(whole.filter(|w| !wholes.contains(w)));
        for x in found {
            if !all.iter().any(|(_, p)| *p == x.1) {
                all.push(x);
            }
        }
    }
    for (c, wholes, found) in fields {
        let (field, place) = (c.field_name(), c.place());
        let forwarded: Vec<&str> = wholes.iter().map(|(w, _)| w.as_str()).collect();
        // `x whole`, or `every field x selects` for a wildcard.
        let copied: Vec<String> = wholes
            .iter()
            .map(|(w, wild)| {
                if *wild {
                    format!("every field {w} selects")
                } else {
                    format!("{w} whole")
                }
            })
            .collect();
        let what = describe(&found);
        let message = if wholes.is_empty() {
            format!("{place} carries {what}, but it is not in `crm.allowPersonalData`")
        } else if field.is_empty() {
            format!(
                "the transform forwards {} as the payload, which holds {what} (fixture events show them); none of them is in `crm.allowPersonalData`",
                forwarded.join(" and ")
            )
        } else {
            format!(
                "{place} carries {}, which holds {what} (fixture events show them); it is not in `crm.allowPersonalData`",
                copied.join(" and ")
            )
        };
        out.push(cx.at_output(c.source, c.field, message).with_help(
            if field.is_empty() {
                "build the payload from the fields the CRM needs (`{ \"id\": event.id, … }`) instead of forwarding the input whole, or add each personal field's path in the payload to `crm.allowPersonalData` once the CRM is approved for it".to_string()
            } else if wholes.is_empty() {
                format!(
                    "drop the field, or add `{field}` to `crm.allowPersonalData` once the CRM field is approved for personal data"
                )
            } else {
                format!(
                    "copy only the fields the CRM needs (`{}.id`), or add `{field}` to `crm.allowPersonalData` once the CRM field is approved for personal data",
                    named_prefix(&c.path.segments)
                )
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::tests_support::{analysis, context_with};

    #[test]
    fn unlisted_personal_fields_are_flagged_at_the_innermost_output_key() {
        let a = analysis(&[
            ("/caseNumber", &["interaction.id"]),
            ("/agentEmail", &["interaction.agent.email"]),
            ("/contact", &["interaction.customer.phone"]),
            ("/contact/phone", &["interaction.customer.phone"]),
            ("/queue", &["interaction.queue.name"]),
        ]);
        let diags = context_with("allowPersonalData: [agentEmail]", a, check);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(diags[0]
            .message
            .contains("`contact.phone` carries a phone number"));
    }

    #[test]
    fn allow_list_covers_nested_fields() {
        assert!(allowed(&["metadata".into()], "/metadata/email"));
        assert!(allowed(&["/metadata/email".into()], "/metadata/email"));
        assert!(!allowed(&["meta".into()], "/metadata/email"));
    }
}
