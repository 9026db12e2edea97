//! Text positions as LSP counts them. A `Position` is a 0-based line and a column in code units of
//! the negotiated encoding: UTF-16 unless the client offered UTF-8 (or UTF-32) in
//! `general.positionEncodings`. cxsync's own positions are 1-based lines and columns in
//! characters; this module converts between the two, and applies a client's incremental edits.
//! Lines end at `\n` (a `\r` before it belongs to the break), as the YAML reader counts them.

use ls_types::{Position, PositionEncodingKind, Range};

use crate::diag::{Pos, Span};

/// How a client counts columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    #[default]
    Utf16,
    Utf32,
}

impl Encoding {
    /// The encoding to use given the client's offer (in its order of preference): UTF-8 when
    /// offered, since cxsync's text is UTF-8; else UTF-32 (characters, cxsync's own unit); else
    /// the protocol's default, UTF-16.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Encoding {
        let offered = offered.unwrap_or_default();
        if offered.contains(&PositionEncodingKind::UTF8) {
            Encoding::Utf8
        } else if offered.contains(&PositionEncodingKind::UTF32) {
            Encoding::Utf32
        } else {
            Encoding::Utf16
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf32 => PositionEncodingKind::UTF32,
        }
    }

    fn units(self, c: char) -> usize {
        match self {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16 => c.len_utf16(),
            Encoding::Utf32 => 1,
        }
    }
}

/// A text with its line starts, for converting positions.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// The text of 0-based line `line`, without its line break.
    pub fn line(&self, line: usize) -> &'a str {
        let Some(&s) = self.starts.get(line) else {
            return "";
        };
        let e = self
            .starts
            .get(line + 1)
            .map(|&n| n - 1)
            .unwrap_or(self.text.len());
        let l = &self.text[s..e];
        l.strip_suffix('\r').unwrap_or(l)
    }

    pub fn count(&self) -> usize {
        self.starts.len()
    }

    /// The byte offset of an LSP position; a column past the line's end clamps to it, a line past
    /// the end to the end of the text.
    pub fn byte_of(&self, p: Position, enc: Encoding) -> usize {
        let Some(&start) = self.starts.get(p.line as usize) else {
            return self.text.len();
        };
        let line = self.line(p.line as usize);
        let mut units = 0;
        for (i, c) in line.char_indices() {
            if units >= p.character as usize {
                return start + i;
            }
            units += enc.units(c);
        }
        start + line.len()
    }

    /// The LSP position of a byte offset (clamped to a character boundary at or before it).
    pub fn position_of_byte(&self, byte: usize, enc: Encoding) -> Position {
        let mut byte = byte.min(self.text.len());
        while !self.text.is_char_boundary(byte) {
            byte -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= byte) - 1;
        let start = self.starts[line];
        let units: usize = self.text[start..byte].chars().map(|c| enc.units(c)).sum();
        Position::new(line as u32, units as u32)
    }

    /// The character offset (cxsync's `Pos::offset`) of an LSP position.
    pub fn char_of(&self, p: Position, enc: Encoding) -> usize {
        self.text[..self.byte_of(p, enc)].chars().count()
    }

    /// The LSP position of a cxsync position (1-based line, 1-based column in characters).
    pub fn position(&self, p: Pos, enc: Encoding) -> Position {
        let line = p.line.saturating_sub(1);
        if line >= self.count() {
            return self.position_of_byte(self.text.len(), enc);
        }
        let units: usize = self
            .line(line)
            .chars()
            .take(p.column.saturating_sub(1))
            .map(|c| enc.units(c))
            .sum();
        Position::new(line as u32, units as u32)
    }

    /// The LSP range of a cxsync span.
    pub fn range(&self, s: Span, enc: Encoding) -> Range {
        Range::new(self.position(s.start, enc), self.position(s.end, enc))
    }

    /// The LSP range of character offsets `[start, end)`.
    pub fn range_of_chars(&self, start: usize, end: usize, enc: Encoding) -> Range {
        Range::new(
            self.position_of_byte(byte_of_char(self.text, start), enc),
            self.position_of_byte(byte_of_char(self.text, end), enc),
        )
    }
}

/// The byte offset of character offset `n` (the end of the text past it).
pub fn byte_of_char(text: &str, n: usize) -> usize {
    text.char_indices()
        .nth(n)
        .map(|(i, _)| i)
        .unwrap_or(text.len())
}

/// Applies one `textDocument/didChange` content change: a range edit, or the whole text when
/// `range` is `None`.
pub fn apply_change(text: &mut String, range: Option<Range>, new: &str, enc: Encoding) {
    match range {
        None => *text = new.to_string(),
        Some(r) => {
            let lines = Lines::new(text);
            let s = lines.byte_of(r.start, enc);
            let e = lines.byte_of(r.end, enc).max(s);
            text.replace_range(s..e, new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `é` is 2 UTF-8 bytes and 1 UTF-16 unit; `𝄞` is 4 bytes and 2 units.
    const TEXT: &str = "a: é𝄞x\r\nb: 1\n";

    #[test]
    fn columns_count_in_the_negotiated_unit() {
        let l = Lines::new(TEXT);
        let x = Pos {
            line: 1,
            column: 6,
            offset: 5,
        };
        assert_eq!(l.position(x, Encoding::Utf16), Position::new(0, 6));
        assert_eq!(l.position(x, Encoding::Utf8), Position::new(0, 9));
        assert_eq!(l.position(x, Encoding::Utf32), Position::new(0, 5));
        for enc in [Encoding::Utf8, Encoding::Utf16, Encoding::Utf32] {
            let p = l.position(x, enc);
            assert_eq!(&TEXT[l.byte_of(p, enc)..][..1], "x", "{enc:?}");
            assert_eq!(l.char_of(p, enc), 5);
            assert_eq!(l.position_of_byte(l.byte_of(p, enc), enc), p);
        }
        assert_eq!(l.line(0), "a: é𝄞x");
        assert_eq!(
            l.position_of_byte(TEXT.find('b').unwrap(), Encoding::Utf16),
            Position::new(1, 0)
        );
    }

    #[test]
    fn the_client_s_offer_decides_the_encoding() {
        let k = |s: &'static str| PositionEncodingKind::new(s);
        assert_eq!(Encoding::negotiate(None), Encoding::Utf16);
        assert_eq!(
            Encoding::negotiate(Some(&[k("utf-16"), k("utf-8")])),
            Encoding::Utf8
        );
        assert_eq!(Encoding::negotiate(Some(&[k("utf-32")])), Encoding::Utf32);
    }

    #[test]
    fn incremental_edits_land_after_non_ascii_text() {
        let mut t = TEXT.to_string();
        // Replace `x` (UTF-16 columns 6..7: `é` is one unit, `𝄞` two) with `yz`, then `1`
        // (UTF-8 columns 3..4 of line 1) with `22`.
        let edits = [
            ((0, 6, 0, 7), "yz", Encoding::Utf16, "a: é𝄞yz\r\nb: 1\n"),
            ((1, 3, 1, 4), "22", Encoding::Utf8, "a: é𝄞yz\r\nb: 22\n"),
        ];
        for ((l0, c0, l1, c1), text, enc, want) in edits {
            let range = Range::new(Position::new(l0, c0), Position::new(l1, c1));
            apply_change(&mut t, Some(range), text, enc);
            assert_eq!(t, want);
        }
        apply_change(&mut t, None, "new", Encoding::Utf16);
        assert_eq!(t, "new");
    }
}
