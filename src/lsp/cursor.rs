//! Where the cursor is in a spec: on which key or value, under which path. Two readings:
//! [`node_at`] uses the parsed document's spans (exact, when the YAML parses), and
//! [`context`] reads indentation (for completion, when the line being typed does not parse yet).

use crate::spec::yaml::{Document, Loc, Style};

use super::schema::Seg;

/// A node of a parsed document under the cursor.
#[derive(Debug, Clone)]
pub struct Node {
    /// JSON pointer of the node.
    pub pointer: String,
    pub loc: Loc,
    /// Whether the cursor is on the key (else on the value).
    pub on_key: bool,
}

/// The innermost node whose key or scalar value contains character offset `at`.
pub fn node_at(doc: &Document, at: usize) -> Option<Node> {
    let mut best: Option<(usize, Node)> = None;
    for (pointer, loc) in doc.map.entries() {
        let inside = |s: crate::diag::Span| s.start.offset <= at && at <= s.end.offset;
        let (on_key, width) = if loc.key.is_some_and(inside) {
            let k = loc.key.unwrap_or_default();
            (true, k.end.offset - k.start.offset)
        } else if loc.style != Style::Collection && inside(loc.value) {
            (false, loc.value.end.offset - loc.value.start.offset)
        } else {
            continue;
        };
        if best.as_ref().is_none_or(|(w, _)| width < *w) {
            best = Some((
                width,
                Node {
                    pointer: pointer.clone(),
                    loc: *loc,
                    on_key,
                },
            ));
        }
    }
    best.map(|(_, n)| n)
}

/// A JSON pointer as path segments (all-digit tokens are indices).
pub fn segments(pointer: &str) -> Vec<Seg> {
    pointer
        .split('/')
        .skip(1)
        .map(|raw| {
            let t = raw.replace("~1", "/").replace("~0", "~");
            match t.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(t),
            }
        })
        .collect()
}

/// What is being typed at the cursor, read from indentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// A key of the mapping at `parent`; `prefix` is what is typed so far (starting at column
    /// `start`, in characters), `siblings` the keys the mapping already has.
    Key {
        parent: Vec<Seg>,
        prefix: String,
        start: usize,
        siblings: Vec<String>,
    },
    /// The value of the key at `path`, typed so far from column `start`.
    Value {
        path: Vec<Seg>,
        prefix: String,
        start: usize,
    },
}

/// One line's structure: leading sequence dashes and the key, each with its column.
struct Shape {
    /// Columns of `- ` markers.
    items: Vec<usize>,
    /// The key and its column, if the line has `key:`.
    key: Option<(usize, String)>,
    /// Column where the content after the markers starts.
    content: usize,
    /// Whether the value after the key opens a block scalar (`|`, `>-`, …).
    block: bool,
}

fn shape(line: &str) -> Option<Shape> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = chars.iter().take_while(|c| **c == ' ').count();
    if i >= chars.len() || chars[i] == '#' {
        return None;
    }
    let mut items = Vec::new();
    while chars.get(i) == Some(&'-') && matches!(chars.get(i + 1), None | Some(' ')) {
        items.push(i);
        i += 1;
        while chars.get(i) == Some(&' ') {
            i += 1;
        }
    }
    let content = i;
    let rest: String = chars[i..].iter().collect();
    let key = key_of(&rest).map(|k| (i, k));
    let block = key.is_some() && {
        let after = rest.split_once(':').map(|(_, a)| a).unwrap_or("");
        let tok = after.split(" #").next().unwrap_or("").trim();
        tok.starts_with(['|', '>'])
            && tok
                .chars()
                .skip(1)
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
    };
    Some(Shape {
        items,
        key,
        content,
        block,
    })
}

/// The key of `rest` (`name: …`, `"quoted key": …`), if it is a mapping entry.
fn key_of(rest: &str) -> Option<String> {
    let (k, after) = if let Some(q) = rest.strip_prefix('"') {
        let (k, a) = q.split_once('"')?;
        (k.to_string(), a)
    } else if let Some(q) = rest.strip_prefix('\'') {
        let (k, a) = q.split_once('\'')?;
        (k.to_string(), a)
    } else {
        let i = rest
            .find(": ")
            .or_else(|| rest.strip_suffix(':').map(str::len))?;
        if rest[..i].contains(['{', '[', '#', '"']) {
            return None;
        }
        (rest[..i].trim_end().to_string(), &rest[i..])
    };
    (after.starts_with(':')).then_some(k)
}

/// The path of the mapping or list that contains column `col` of line `line` (0-based), read
/// from the lines above.
fn parent_path(lines: &[&str], line: usize, col: usize) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::new();
    let mut want = col;
    // The list item we are inside: its column, how many items of that list are at or above it,
    // and where its index goes in `out`.
    let mut counting: Option<(usize, usize, usize)> = None;
    for l in lines[..line].iter().rev() {
        let Some(s) = shape(l) else { continue };
        let first = s.items.first().copied().unwrap_or(s.content);
        if let Some((ic, n, slot)) = counting {
            if first < ic {
                out[slot] = Seg::Index(n - 1);
                counting = None;
            } else {
                if s.items.contains(&ic) {
                    counting = Some((ic, n + 1, slot));
                }
                continue;
            }
        }
        // This line's levels, innermost first: its key, then its `- ` markers.
        if let Some((kc, k)) = &s.key {
            if *kc < want {
                out.push(Seg::Key(k.clone()));
                want = *kc;
            }
        }
        for &ic in s.items.iter().rev() {
            if ic < want {
                out.push(Seg::Index(0));
                counting = Some((ic, 1, out.len() - 1));
                want = ic;
            }
        }
        if want == 0 && counting.is_none() {
            break;
        }
    }
    if let Some((_, n, slot)) = counting {
        out[slot] = Seg::Index(n - 1);
    }
    out.reverse();
    out
}

/// What is typed at `col` (characters) of line `line` of `text`, or `None` inside a block
/// scalar or a comment.
pub fn context(text: &str, line: usize, col: usize) -> Option<Context> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let cur = *lines.get(line)?;
    let before: String = cur.chars().take(col).collect();
    if before.contains(" #") || before.trim_start().starts_with('#') {
        return None;
    }
    // Inside a block scalar: the nearest less-indented line above opens one.
    let indent = before.chars().take_while(|c| *c == ' ').count();
    for l in lines[..line].iter().rev() {
        let Some(s) = shape(l) else { continue };
        let c = s.items.first().copied().unwrap_or(s.content);
        if c < indent {
            if s.block {
                return None;
            }
            break;
        }
    }
    let chars: Vec<char> = before.chars().collect();
    let mut i = chars.iter().take_while(|c| **c == ' ').count();
    while chars.get(i) == Some(&'-') && chars.get(i + 1) == Some(&' ') {
        i += 2;
        while chars.get(i) == Some(&' ') {
            i += 1;
        }
    }
    let typed: String = chars[i..].iter().collect();
    match key_of(&typed).or_else(|| {
        typed
            .strip_suffix(':')
            .filter(|k| !k.contains(' '))
            .map(String::from)
    }) {
        Some(k) => {
            // `key: partial` — a value.
            let after = typed.split_once(':').map(|(_, a)| a).unwrap_or("");
            let value = after.trim_start();
            let mut path = parent_path(&lines, line, i);
            path.push(Seg::Key(k));
            Some(Context::Value {
                path,
                prefix: value.to_string(),
                start: col - value.chars().count(),
            })
        }
        None if typed.contains(':') || typed.contains(' ') && !typed.trim().is_empty() => None,
        None => {
            let parent = parent_path(&lines, line, i);
            let siblings = siblings(&lines, line, i);
            Some(Context::Key {
                parent,
                prefix: typed.trim().to_string(),
                start: i,
                siblings,
            })
        }
    }
}

/// Keys at column `col` of the mapping around line `line`.
fn siblings(lines: &[&str], line: usize, col: usize) -> Vec<String> {
    let mut out = Vec::new();
    let key_at = |s: &Shape| s.key.as_ref().filter(|k| k.0 == col).map(|k| k.1.clone());
    for l in lines[..line].iter().rev() {
        let Some(s) = shape(l) else { continue };
        let start = s.items.first().copied().unwrap_or(s.content);
        if start < col {
            // The line that opens the mapping: a list item's first key is one of ours.
            out.extend(key_at(&s));
            break;
        }
        if start == col {
            if !s.items.is_empty() {
                break;
            }
            out.extend(key_at(&s));
        }
    }
    for l in &lines[line + 1..] {
        let Some(s) = shape(l) else { continue };
        let start = s.items.first().copied().unwrap_or(s.content);
        if start < col || (start == col && !s.items.is_empty()) {
            break;
        }
        if start == col {
            out.extend(key_at(&s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Seg {
        Seg::Key(s.into())
    }

    /// The context at `‸` in `text`.
    fn at(text: &str) -> Option<Context> {
        let (line, col) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| l.find('‸').map(|c| (i, l[..c].chars().count())))
            .unwrap();
        context(&text.replacen('‸', "", 1), line, col)
    }

    #[test]
    fn a_key_being_typed_under_retry() {
        let c = at("version: 1\nretry:\n  maxRetries: 5\n  ini‸\nrules: []\n");
        assert_eq!(
            c,
            Some(Context::Key {
                parent: vec![key("retry")],
                prefix: "ini".into(),
                start: 2,
                siblings: vec!["maxRetries".into()],
            })
        );
    }

    #[test]
    fn a_key_inside_a_list_item_and_a_value() {
        let text = "rules:\n  - id: a\n    name: b\n  - id: c\n    trans‸\n";
        match at(text) {
            Some(Context::Key {
                parent, siblings, ..
            }) => {
                assert_eq!(parent, vec![key("rules"), Seg::Index(1)]);
                assert_eq!(siblings, vec!["id".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        let v = at("retry:\n  jitter: fu‸\n");
        assert_eq!(
            v,
            Some(Context::Value {
                path: vec![key("retry"), key("jitter")],
                prefix: "fu".into(),
                start: 10,
            })
        );
        let deep = at("channel:\n  auth:\n    type: bearer\n    ‸\n");
        assert!(
            matches!(deep, Some(Context::Key { parent, .. }) if parent == vec![key("channel"), key("auth")])
        );
    }

    #[test]
    fn nothing_inside_a_block_scalar_or_a_comment() {
        assert_eq!(at("rules:\n  - transform: |\n      { \"a\": x‸\n"), None);
        assert_eq!(at("retry: # note ‸\n"), None);
    }
}
