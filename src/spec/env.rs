//! Environment overlays: `environments.NAME` is a partial spec merged over the base when
//! `--env NAME` selects it. Mappings merge key by key; lists and scalars replace. Merged nodes keep
//! the overlay's own positions, so an error in an overlaid value points at the overlay line.

use serde_json::Value;

use super::yaml::{child, escape_token, SourceMap};
use crate::diag::Diagnostic;

/// Merges `environments.<name>` over the tree. Errors are diagnostics without a file.
pub fn apply(tree: &mut Value, map: &mut SourceMap, name: &str) -> Result<(), Diagnostic> {
    let envs = tree.get("environments").and_then(Value::as_object);
    let Some(overlay) = envs.and_then(|m| m.get(name)).cloned() else {
        let known: Vec<String> = envs
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mut d = Diagnostic::error("E020", format!("unknown environment `{name}`"))
            .at_opt(map.key_span("/environments"));
        d = if known.is_empty() {
            d.with_help("the spec declares no `environments`; drop `--env` or add an overlay")
        } else {
            let list = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            match super::schema::suggest(name, known.iter().map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean `{s}`? the spec declares {list}")),
                None => d.with_help(format!("the spec declares {list}")),
            }
        };
        return Err(d);
    };
    let from = format!("/environments/{}", escape_token(name));
    let Value::Object(items) = overlay else {
        return Err(Diagnostic::error(
            "E021",
            format!("environment `{name}` must be a mapping of spec fields to override"),
        )
        .at_opt(map.value_span(&from)));
    };
    if items.contains_key("environments") {
        return Err(Diagnostic::error(
            "E021",
            format!("environment `{name}` cannot declare `environments`"),
        )
        .at_opt(map.key_span(&child(&from, "environments"))));
    }
    for (k, v) in items {
        merge(tree, map, &child(&from, &k), &child("", &k), &k, v);
    }
    Ok(())
}

/// Whether environment `name`'s overlay writes the field at `pointer` (e.g.
/// `/deadLetterQueue/alertEndpoint`) itself, rather than keeping the base spec's: a run under
/// `--env name` that sends to that field's URL sends to the environment's own only then.
pub fn overlay_sets(
    environments: &indexmap::IndexMap<String, Value>,
    name: &str,
    pointer: &str,
) -> bool {
    environments
        .get(name)
        .is_some_and(|overlay| overlay.pointer(pointer).is_some())
}

/// Merges `value` (written at `from` in the file) into `parent[key]` (at `to`).
fn merge(parent: &mut Value, map: &mut SourceMap, from: &str, to: &str, key: &str, value: Value) {
    let Value::Object(obj) = parent else { return };
    match (obj.get_mut(key), value) {
        (Some(base @ Value::Object(_)), Value::Object(over)) => {
            // The mapping itself keeps its base position; each overlaid key gets the overlay's.
            map.graft(from, to, true);
            for (k, v) in over {
                merge(base, map, &child(from, &k), &child(to, &k), &k, v);
            }
        }
        (_, v) => {
            map.remove_subtree(to);
            map.graft(from, to, false);
            obj.insert(key.to_string(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> (Value, SourceMap) {
        let d = crate::spec::yaml::parse(text).unwrap();
        (d.value, d.map)
    }

    const TEXT: &str = "channel:
  name: base
  headers:
    A: a
    B: b
retry:
  codes: [1, 2, 3]
environments:
  prod:
    channel:
      headers:
        B: prod
    retry:
      codes: [9]
";

    #[test]
    fn mappings_merge_key_by_key_and_lists_replace() {
        let (mut tree, mut map) = doc(TEXT);
        apply(&mut tree, &mut map, "prod").unwrap();
        assert_eq!(tree["channel"]["name"], "base");
        assert_eq!(tree["channel"]["headers"]["A"], "a");
        assert_eq!(tree["channel"]["headers"]["B"], "prod");
        assert_eq!(tree["retry"]["codes"], serde_json::json!([9]));
    }

    #[test]
    fn merged_nodes_point_at_the_overlay_and_replaced_lists_lose_their_old_items() {
        let (mut tree, mut map) = doc(TEXT);
        apply(&mut tree, &mut map, "prod").unwrap();
        assert_eq!(map.value_span("/channel/headers/B").unwrap().start.line, 12);
        assert_eq!(map.value_span("/channel/headers/A").unwrap().start.line, 4);
        assert_eq!(map.value_span("/retry/codes/0").unwrap().start.line, 14);
        assert!(map.get("/retry/codes/2").is_none());
    }

    #[test]
    fn an_unknown_environment_names_the_known_ones() {
        let (mut tree, mut map) = doc(TEXT);
        let d = apply(&mut tree, &mut map, "prd").unwrap_err();
        assert_eq!(d.code, "E020");
        assert!(d.help.unwrap().contains("did you mean `prod`?"));
    }
}
