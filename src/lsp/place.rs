//! Where a cursor is, in the terms hover, completion and definition need: inside a transform
//! (a `.jsonata` file or an inline `transform:`), on a node of a spec, or on a suppression
//! comment.

use std::path::Path;

use crate::spec::yaml::{self, Document};
use crate::spec::Fixture;
use crate::transform::position;

use super::cursor::{self, Node};
use super::world::World;

/// A transform the cursor is in.
pub struct InTransform<'w> {
    pub text: String,
    /// Character index of the cursor in `text`.
    pub at: usize,
    /// The fixtures of the rule(s) that run it.
    pub fixtures: Vec<&'w Fixture>,
    /// Whether a spec that runs it has loaded (now or at its last version without errors): when
    /// not, `fixtures` is empty because they are unknown, not because the rule has none.
    pub loaded: bool,
}

/// Whether a path names a `.jsonata` file.
pub fn is_jsonata(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "jsonata")
}

/// The rule index of a transform pointer (`/rules/N/transform`, also inside an overlay).
pub fn transform_rule(pointer: &str) -> Option<usize> {
    let p = match pointer.strip_prefix("/environments/") {
        Some(rest) => &rest[rest.find('/')?..],
        None => pointer,
    };
    p.strip_prefix("/rules/")?
        .strip_suffix("/transform")?
        .parse()
        .ok()
}

/// The transform at character `offset` of `path` (whose text is `text`), if the cursor is in one.
pub fn transform_at<'w>(
    world: &'w World,
    path: &Path,
    text: &str,
    doc: Option<&Document>,
    offset: usize,
) -> Option<InTransform<'w>> {
    if is_jsonata(path) {
        let mut fixtures: Vec<&Fixture> = Vec::new();
        let rules = world.rules_using(path);
        let loaded = !rules.is_empty();
        for (_, rule) in rules {
            for f in &rule.fixtures {
                if !fixtures.iter().any(|g| g.path == f.path) {
                    fixtures.push(f);
                }
            }
        }
        return Some(InTransform {
            text: text.to_string(),
            at: offset,
            fixtures,
            loaded,
        });
    }
    let doc = doc?;
    let node = cursor::node_at(doc, offset).filter(|n| !n.on_key)?;
    let rule = transform_rule(&node.pointer)?;
    let value = doc.value.pointer(&node.pointer)?.as_str()?;
    let ranges = position::scalar_ranges(text, &node.loc, value)?;
    // The first character at or after the cursor (or the one the cursor is inside, in an escape).
    let at = ranges
        .iter()
        .position(|&(s, e)| s >= offset || offset < e)
        .unwrap_or(ranges.len());
    let spec = world.spec(path);
    let fixtures = spec
        .map(|s| World::fixtures(s, Some(rule)))
        .unwrap_or_default();
    Some(InTransform {
        text: value.to_string(),
        at,
        fixtures,
        loaded: spec.is_some(),
    })
}

/// The spec node at `offset`, when the YAML parses.
pub fn node(text: &str, offset: usize) -> (Option<Document>, Option<Node>) {
    match yaml::parse(text) {
        Ok(doc) => {
            let n = cursor::node_at(&doc, offset);
            (Some(doc), n)
        }
        Err(_) => (None, None),
    }
}

/// The word of `line` around character column `col` made of characters `keep` accepts, with its
/// start column.
pub fn word_at(line: &str, col: usize, keep: impl Fn(char) -> bool) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let mut s = col.min(chars.len());
    while s > 0 && keep(chars[s - 1]) {
        s -= 1;
    }
    let mut e = col.min(chars.len());
    while e < chars.len() && keep(chars[e]) {
        e += 1;
    }
    (chars[s..e].iter().collect(), s)
}

/// The `${…}` template around column `col` of `line`: its inside and the column it starts at.
pub fn template_at(line: &str, col: usize) -> Option<(String, usize)> {
    let chars: Vec<char> = line.chars().collect();
    let before: String = chars[..col.min(chars.len())].iter().collect();
    let open = before.rfind("${")?;
    let open_col = before[..open].chars().count() + 2;
    if before[open..].contains('}') {
        return None;
    }
    let inner: String = chars[open_col..]
        .iter()
        .take_while(|c| **c != '}' && **c != '"' && **c != '\'')
        .collect();
    Some((inner, open_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_pointers_and_templates() {
        assert_eq!(transform_rule("/rules/3/transform"), Some(3));
        assert_eq!(
            transform_rule("/environments/dev/rules/0/transform"),
            Some(0)
        );
        assert_eq!(transform_rule("/rules/3/transformFile"), None);
        let line = "  key: ${interaction.id}_${event.type}";
        assert_eq!(template_at(line, 12), Some(("interaction.id".into(), 9)));
        assert_eq!(template_at(line, 30).unwrap().0, "event.type");
        assert_eq!(template_at(line, 5), None);
        assert_eq!(
            word_at("a CX001, CX002]", 10, |c| c.is_ascii_alphanumeric()),
            ("CX002".into(), 9)
        );
    }
}
