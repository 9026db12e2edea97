//! Hover: the schema's description of the spec key under the cursor (and of the value, for an
//! enum), a lint code's `cxsync explain` text in a suppression comment, which fixture events have
//! a `${…}` template variable or a transform's input path, and a JSONata function's signature.

use std::path::Path;

use ls_types::Position;

use crate::lint::{context::lookup, registry};
use crate::transform::syntax::ast::Kind;
use crate::transform::syntax::{tokens_lenient, Tk, Token};

use super::cursor::{self, Context};
use super::place::{self, InTransform};
use super::schema::{self, Seg};
use super::text::Lines;
use super::world::World;
use super::{events, functions};

/// The Markdown shown for the cursor at `pos` of `path`, if there is anything to say.
pub fn hover(world: &World, path: &Path, pos: Position) -> Option<String> {
    let text = world.text(path)?;
    let lines = Lines::new(&text);
    let offset = lines.char_of(pos, world.enc);
    let line = lines.line(pos.line as usize);
    let col = offset - lines.char_of(Position::new(pos.line, 0), world.enc);
    if let Some(md) = suppression(line, col) {
        return Some(md);
    }
    let (doc, node) = if place::is_jsonata(path) {
        (None, None)
    } else {
        place::node(&text, offset)
    };
    if let Some(t) = place::transform_at(world, path, &text, doc.as_ref(), offset) {
        return in_transform(&t);
    }
    if let Some((inner, _)) = place::template_at(line, col) {
        return Some(template(world, path, &inner));
    }
    match node {
        Some(n) => {
            let segs = cursor::segments(&n.pointer);
            let value = if n.on_key {
                None
            } else {
                doc.as_ref()
                    .and_then(|d| d.value.pointer(&n.pointer))
                    .cloned()
            };
            field(&segs, doc.as_ref().map(|d| &d.value), value.as_ref())
        }
        None => {
            // The YAML does not parse (yet): read the key from indentation.
            let (word, start) = place::word_at(line, col, |c| c.is_alphanumeric() || c == '_');
            match cursor::context(&text, pos.line as usize, start)? {
                Context::Key { mut parent, .. } if !word.is_empty() => {
                    parent.push(Seg::Key(word));
                    field(&parent, None, None)
                }
                _ => None,
            }
        }
    }
}

/// A spec field's docs: its dotted path, description and type summary, and the chosen value's
/// own description when the value is one of a closed set.
fn field(
    segs: &[Seg],
    tree: Option<&serde_json::Value>,
    value: Option<&serde_json::Value>,
) -> Option<String> {
    let f = schema::field_at(segs, tree)?;
    let dotted: Vec<String> = segs
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect();
    let mut md = format!("**`{}`**", dotted.join(".").replace(".[", "["));
    let summary = f.summary();
    if !summary.is_empty() {
        md.push_str(&format!(" — {summary}"));
    }
    if let Some(d) = f.description() {
        md.push_str(&format!("\n\n{d}"));
    }
    if let Some(v) = value {
        if let Some((_, Some(desc))) = f.values().into_iter().find(|(c, _)| c == v) {
            md.push_str(&format!("\n\n`{v}`: {desc}"));
        }
    }
    (summary.len() + f.description().map_or(0, str::len) > 0).then_some(md)
}

/// A lint code under the cursor in a `cxsync: ignore[…]` comment.
fn suppression(line: &str, col: usize) -> Option<String> {
    let open = line.find("cxsync:")?;
    if line[..open].chars().count() > col || !line[open..].contains("ignore[") {
        return None;
    }
    let (word, _) = place::word_at(line, col, |c| c.is_ascii_alphanumeric() || c == '-');
    registry::find(&word).map(|r| r.explain())
}

/// A `${…}` variable: an environment or vault reference, or an event path and the fixture
/// events that have it.
fn template(world: &World, path: &Path, inner: &str) -> String {
    let inner = inner.trim();
    if let Some(name) = inner.strip_prefix("env:") {
        let set = if world.vars.contains_key(name) {
            "set in the editor's environment"
        } else {
            "**not set** in the editor's environment"
        };
        return format!(
            "**`${{env:{name}}}`** — read from the environment by cxsync when the spec is \
             loaded ({set}); its value is never shown."
        );
    }
    if let Some(name) = inner.strip_prefix("VAULT_SECRET:") {
        return format!(
            "**`${{VAULT_SECRET:{name}}}`** — resolved by the Event Hub from its secret vault when \
             it delivers; cxsync never reads the value."
        );
    }
    let fixtures = world
        .spec(path)
        .map(|s| World::fixtures(s, None))
        .unwrap_or_default();
    let mut md = format!("**`${{{inner}}}`** — a field of the event");
    if fixtures.is_empty() {
        md.push_str("\n\nNo fixture events to read (the spec has none, or has not loaded yet).");
        return md;
    }
    let mut have = 0;
    let mut list = String::new();
    for f in &fixtures {
        match lookup(&f.event, inner) {
            Some(v) => {
                have += 1;
                let s = v.to_string();
                let s: String = s.chars().take(60).collect();
                list.push_str(&format!("- `{}`: `{}`\n", f.name, s.replace('`', "'")));
            }
            None => list.push_str(&format!("- `{}`: *missing*\n", f.name)),
        }
    }
    md.push_str(&format!(
        ", in {have} of {} fixture events:\n\n{list}",
        fixtures.len()
    ));
    md
}

/// The token under the cursor of a transform.
fn token_at(tokens: &[Token], at: usize) -> Option<usize> {
    tokens
        .iter()
        .position(|t| t.start <= at && at < t.end)
        .or_else(|| tokens.iter().position(|t| t.end == at))
}

/// The input path a name token ends: the names joined by `.` before it, when the chain starts at
/// the input root (not after `)` or a variable).
pub fn path_ending_at(tokens: &[Token], k: usize) -> Option<Vec<String>> {
    let mut segs = Vec::new();
    let mut i = k;
    loop {
        let Tk::Leaf(Kind::Name(n)) = &tokens[i].kind else {
            return None;
        };
        segs.push(n.clone());
        if i >= 2
            && tokens[i - 1].kind == Tk::Op(".")
            && matches!(tokens[i - 2].kind, Tk::Leaf(Kind::Name(_)))
        {
            i -= 2;
            continue;
        }
        if i >= 1 && tokens[i - 1].kind == Tk::Op(".") {
            return None;
        }
        break;
    }
    segs.reverse();
    Some(segs)
}

fn in_transform(t: &InTransform) -> Option<String> {
    let chars: Vec<char> = t.text.chars().collect();
    let tokens = tokens_lenient(&chars);
    let k = token_at(&tokens, t.at)?;
    match &tokens[k].kind {
        Tk::Leaf(Kind::Var(name)) => Some(match functions::find(name) {
            Some((_, sig, what)) => format!("```jsonata\n{sig}\n```\n\n{what}"),
            None if name.is_empty() => "`$` — the event being transformed".to_string(),
            None if name == "$" => "`$$` — the root of the input (the event)".to_string(),
            None => format!("`${name}` — a variable bound in this transform"),
        }),
        Tk::Leaf(Kind::Name(_)) => {
            let segs = path_ending_at(&tokens, k)?;
            let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
            let dotted = segs.join(".");
            if t.fixtures.is_empty() {
                let why = if t.loaded {
                    "add `fixtures:` to the rule"
                } else {
                    "the spec has not loaded without errors yet, so its fixtures are unknown; fix \
                     the errors it shows"
                };
                return Some(format!(
                    "**`{dotted}`** — an input path\n\nNo fixture events to read ({why})."
                ));
            }
            let (have, list) = events::describe(&t.fixtures, &refs);
            Some(format!(
                "**`{dotted}`** — in {have} of {} fixture events:\n\n{list}",
                t.fixtures.len()
            ))
        }
        _ => None,
    }
}
