//! Lines of text from other formats, made fit to match and to name tests.

use std::borrow::Cow;

/// The text of a line for matching: UTF-8 (lossy), without a trailing CR,
/// terminal colour sequences or NUL bytes (which names cannot hold).
/// Borrowed, not copied, when there is nothing to remove.
pub fn clean_line(line: &[u8]) -> Cow<'_, str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if memchr::memchr2(0x1b, 0, line).is_none() {
        if let Ok(text) = std::str::from_utf8(line) {
            return Cow::Borrowed(text);
        }
    }
    let text = String::from_utf8_lossy(line);
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // CSI: ESC [ parameters, intermediates, one final byte.
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\0' => clean.push('\u{fffd}'),
            c => clean.push(c),
        }
    }
    Cow::Owned(clean)
}

/// What [`LineSplitter::text`] cuts text into.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole line, with its newline.
    Line(&'a [u8]),
    /// Part of a line too long to be read, at most the splitter's `MAX`:
    /// chatter, to go out as it comes (so memory stays bounded).
    Long(&'a [u8]),
}

/// Cuts text that arrives in any pieces into lines, for the converters of
/// line-based formats: a line is read once it is complete, and a line over
/// `MAX` bytes is not held but passed on in parts of at most `MAX` bytes,
/// up to and with its newline.
#[derive(Debug, Default)]
pub struct LineSplitter<const MAX: usize> {
    /// The line so far.
    line: Vec<u8>,
    /// The line so far was too long to be read and went out in parts.
    long: bool,
}

impl<const MAX: usize> LineSplitter<MAX> {
    /// Takes in text that has just arrived, and hands each whole line and
    /// each part of a long line to `piece`; a partial line is kept.
    pub fn text(&mut self, mut bytes: &[u8], mut piece: impl FnMut(Piece<'_>)) {
        while !bytes.is_empty() {
            let newline = memchr::memchr(b'\n', bytes);
            let (part, rest) = bytes.split_at(newline.map_or(bytes.len(), |at| at + 1));
            bytes = rest;
            if !self.long && self.line.len() + part.len() > MAX {
                self.long = true;
                for chunk in self.line.chunks(MAX) {
                    piece(Piece::Long(chunk));
                }
                self.line.clear();
            }
            if self.long {
                for chunk in part.chunks(MAX) {
                    piece(Piece::Long(chunk));
                }
                self.long = newline.is_none();
            } else if newline.is_none() {
                self.line.extend_from_slice(part);
            } else if self.line.is_empty() {
                piece(Piece::Line(part));
            } else {
                self.line.extend_from_slice(part);
                piece(Piece::Line(&self.line));
                self.line.clear();
            }
        }
    }

    /// Ends the line so far (the input ended, or a packet comes next): hands
    /// it to `line` if there is one to read, without a newline.
    pub fn end_line(&mut self, line: impl FnOnce(&[u8])) {
        if std::mem::take(&mut self.long) || self.line.is_empty() {
            return;
        }
        line(&self.line);
        self.line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `parts` as they would arrive, then ends the line.
    fn split<const MAX: usize>(parts: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::<MAX>::default();
        let mut pieces = Vec::new();
        let mut show = |piece: Piece<'_>| {
            pieces.push(match piece {
                Piece::Line(line) => format!("line {}", String::from_utf8_lossy(line)),
                Piece::Long(part) => format!("long {}", String::from_utf8_lossy(part)),
            })
        };
        for part in parts {
            splitter.text(part, &mut show);
        }
        splitter.end_line(|line| show(Piece::Line(line)));
        pieces
    }

    #[test]
    fn lines_are_whole_however_they_arrive() {
        assert_eq!(
            split::<8>(&[b"ab", b"c\nde\n", b"f"]),
            ["line abc\n", "line de\n", "line f"]
        );
    }

    #[test]
    fn a_long_line_goes_out_in_parts_to_its_newline() {
        assert_eq!(
            split::<4>(&[b"abc", b"defghij\nk", b"lmnopq", b"r\ns\n"]),
            [
                "long abc",
                "long defg",
                "long hij\n",
                "long k",
                "long lmno",
                "long pq",
                "long r\n",
                "line s\n"
            ]
        );
    }

    #[test]
    fn the_end_of_a_long_line_is_not_read_again() {
        assert_eq!(split::<2>(&[b"abc"]), ["long ab", "long c"]);
    }
}
