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
