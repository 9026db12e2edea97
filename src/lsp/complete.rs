//! Completion: the keys a spec mapping may have and the values a field may take, from the
//! schema at the cursor's path; inside a transform, the event's fields below the path being
//! typed (from the rule's fixtures) and the JSONata functions after `$`; inside `${…}`, the
//! fixture events' fields and the `env:`/`VAULT_SECRET:` references.

use std::path::Path;

use ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, Position, Range, TextEdit,
};
use serde_json::Value;

use crate::spec::Fixture;
use crate::transform::syntax::ast::Kind;
use crate::transform::syntax::{tokens_lenient, Tk};

use super::cursor::{self, Context};
use super::place::{self, InTransform};
use super::schema::{self, Seg};
use super::text::Lines;
use super::world::World;
use super::{events, functions};

/// The completions at `pos` of `path`.
pub fn complete(world: &World, path: &Path, pos: Position) -> Vec<CompletionItem> {
    let Some(text) = world.text(path) else {
        return Vec::new();
    };
    let lines = Lines::new(&text);
    let offset = lines.char_of(pos, world.enc);
    let line_no = pos.line as usize;
    let line = lines.line(line_no);
    let col = offset - lines.char_of(Position::new(pos.line, 0), world.enc);
    // An edit replacing columns `start..col` of this line.
    let range = |start: usize| {
        let line_start = lines.char_of(Position::new(pos.line, 0), world.enc);
        Range::new(
            lines
                .range_of_chars(line_start + start, line_start + start, world.enc)
                .start,
            pos,
        )
    };
    let (doc, _) = if place::is_jsonata(path) {
        (None, None)
    } else {
        place::node(&text, offset)
    };
    if let Some(t) = place::transform_at(world, path, &text, doc.as_ref(), offset) {
        return in_transform(&t, |typed| range(col.saturating_sub(typed)));
    }
    if let Some((inner, start)) = place::template_at(line, col) {
        let typed: String = inner.chars().take(col - start).collect();
        let fixtures = world
            .spec(path)
            .map(|s| World::fixtures(s, None))
            .unwrap_or_default();
        return template(&fixtures, &typed, range(start));
    }
    let tree = doc
        .as_ref()
        .map(|d| d.value.clone())
        .or_else(|| world.spec(path).map(|s| s.tree.clone()));
    match cursor::context(&text, line_no, col) {
        Some(Context::Key {
            parent,
            prefix,
            start,
            siblings,
        }) => keys(&parent, &prefix, &siblings, tree.as_ref(), range(start)),
        Some(Context::Value {
            path: p,
            prefix,
            start,
        }) => values(&p, &prefix, tree.as_ref(), range(start)),
        None => Vec::new(),
    }
}

fn markdown(s: &str) -> Option<Documentation> {
    (!s.is_empty()).then(|| {
        Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: s.to_string(),
        })
    })
}

fn item(label: String, kind: CompletionItemKind, new_text: String, range: Range) -> CompletionItem {
    CompletionItem {
        label,
        kind: Some(kind),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text })),
        ..CompletionItem::default()
    }
}

fn keys(
    parent: &[Seg],
    prefix: &str,
    siblings: &[String],
    tree: Option<&Value>,
    range: Range,
) -> Vec<CompletionItem> {
    let Some(field) = schema::field_at(parent, tree) else {
        return Vec::new();
    };
    let value = tree.and_then(|t| {
        let mut v = t;
        for s in parent {
            v = match s {
                Seg::Key(k) => v.get(k)?,
                Seg::Index(i) => v.get(i)?,
            };
        }
        Some(v)
    });
    let lower = prefix.to_ascii_lowercase();
    field
        .keys(value)
        .into_iter()
        .filter(|(k, _)| !siblings.iter().any(|s| s == k))
        .filter(|(k, _)| k.to_ascii_lowercase().contains(&lower))
        .map(|(k, declared)| {
            let mut path = parent.to_vec();
            path.push(Seg::Key(k.to_string()));
            let f = schema::field_at(&path, tree);
            let summary = f.as_ref().map(|f| f.summary()).unwrap_or_default();
            let desc = f.as_ref().and_then(|f| f.description()).unwrap_or_else(|| {
                declared
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            });
            let mut it = item(
                k.to_string(),
                CompletionItemKind::PROPERTY,
                format!("{k}: "),
                range,
            );
            it.detail = Some(if field.required(k) {
                format!("required; {summary}")
            } else {
                summary
            });
            it.documentation = markdown(desc);
            it
        })
        .collect()
}

fn values(path: &[Seg], prefix: &str, tree: Option<&Value>, range: Range) -> Vec<CompletionItem> {
    let Some(field) = schema::field_at(path, tree) else {
        return Vec::new();
    };
    field
        .values()
        .into_iter()
        .filter_map(|(v, desc)| {
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !text.starts_with(prefix.trim_matches(['"', '\''])) {
                return None;
            }
            let mut it = item(text.clone(), CompletionItemKind::ENUM_MEMBER, text, range);
            it.documentation = desc.and_then(markdown);
            Some(it)
        })
        .collect()
}

/// Field names that need backticks in a JSONata path.
fn jsonata_name(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        k.to_string()
    } else {
        format!("`{k}`")
    }
}

/// Completions inside a transform; `range(n)` is the edit range of the last `n` characters
/// before the cursor.
fn in_transform(t: &InTransform, range: impl Fn(usize) -> Range) -> Vec<CompletionItem> {
    let chars: Vec<char> = t.text.chars().collect();
    let before: Vec<char> = chars[..t.at.min(chars.len())].to_vec();
    // The word being typed.
    let mut s = before.len();
    while s > 0 && (before[s - 1].is_alphanumeric() || before[s - 1] == '_') {
        s -= 1;
    }
    let typed: String = before[s..].iter().collect();
    if s > 0 && before[s - 1] == '$' {
        return functions::FUNCTIONS
            .iter()
            .filter(|(n, _, _)| n.starts_with(&typed))
            .map(|(n, sig, what)| {
                let mut it = item(
                    format!("${n}"),
                    CompletionItemKind::FUNCTION,
                    format!("${n}"),
                    range(typed.chars().count() + 1),
                );
                it.detail = Some(sig.to_string());
                it.documentation = markdown(what);
                it
            })
            .collect();
    }
    // The path before the word: `interaction.agent.` → [interaction, agent].
    let parent: Vec<String> = if s > 0 && before[s - 1] == '.' {
        let head: Vec<char> = before[..s - 1].to_vec();
        let tokens = tokens_lenient(&head);
        match tokens.last() {
            Some(last)
                if last.end == head.len() && matches!(last.kind, Tk::Leaf(Kind::Name(_))) =>
            {
                match super::hover::path_ending_at(&tokens, tokens.len() - 1) {
                    Some(p) => p,
                    None => return Vec::new(),
                }
            }
            _ => return Vec::new(),
        }
    } else {
        Vec::new()
    };
    let refs: Vec<&str> = parent.iter().map(String::as_str).collect();
    fields(
        &t.fixtures,
        &refs,
        &typed,
        jsonata_name,
        range(typed.chars().count()),
    )
}

/// The fixture events' fields below `parent` starting with `typed`.
fn fields(
    fixtures: &[&Fixture],
    parent: &[&str],
    typed: &str,
    spell: fn(&str) -> String,
    range: Range,
) -> Vec<CompletionItem> {
    let n = fixtures.len();
    events::children(fixtures, parent)
        .into_iter()
        .filter(|(k, _)| k.starts_with(typed))
        .map(|(k, have)| {
            let mut path: Vec<&str> = parent.to_vec();
            path.push(&k);
            let (_, list) = events::describe(fixtures, &path);
            let mut it = item(k.clone(), CompletionItemKind::FIELD, spell(&k), range);
            it.detail = Some(format!("in {have} of {n} fixture events"));
            it.documentation = markdown(&list);
            it
        })
        .collect()
}

/// Completions inside `${…}`: `typed` is the text between `${` and the cursor.
fn template(fixtures: &[&Fixture], typed: &str, range: Range) -> Vec<CompletionItem> {
    let mut out = Vec::new();
    if !typed.contains('.') {
        for (prefix, what) in [
            (
                "env:",
                "an environment variable, read by cxsync when the spec is loaded",
            ),
            (
                "VAULT_SECRET:",
                "a secret the Event Hub reads from its vault",
            ),
        ] {
            if prefix.starts_with(typed) {
                let mut it = item(
                    prefix.into(),
                    CompletionItemKind::KEYWORD,
                    prefix.into(),
                    range,
                );
                it.detail = Some(what.into());
                out.push(it);
            }
        }
    }
    let (parent, word) = match typed.rsplit_once('.') {
        Some((p, w)) => (p.split('.').collect::<Vec<_>>(), w),
        None => (Vec::new(), typed),
    };
    let head = if parent.is_empty() {
        String::new()
    } else {
        format!("{}.", parent.join("."))
    };
    let mut fs = fields(fixtures, &parent, word, |k| k.to_string(), range);
    for it in &mut fs {
        // The edit replaces everything typed inside `${`, so it carries the parent path.
        if let Some(CompletionTextEdit::Edit(e)) = &mut it.text_edit {
            e.new_text = format!("{head}{}", e.new_text);
        }
        it.filter_text = Some(format!("{head}{}", it.label));
    }
    out.extend(fs);
    out
}
