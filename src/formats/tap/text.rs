//! `str`'s trims, and searches in short strings, with fast paths for the
//! ASCII that TAP lines are nearly always made of: every line of a TAP
//! stream is looked at, and the general `str` methods (which decode every
//! character) cost more than the rest of reading the line.

/// Where the white space of `text` from `at` on ends, as
/// [`str::trim_start`] sees it.
#[inline]
pub(super) fn skip_space(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut end = at;
    while bytes.get(end).is_some_and(|&b| is_ascii_space(b)) {
        end += 1;
    }
    if bytes.get(end).is_some_and(|b| !b.is_ascii()) {
        return text.len() - text[end..].trim_start().len();
    }
    end
}

/// Where `text[start..end]` ends without its trailing white space, as
/// [`str::trim_end`] sees it.
#[inline]
pub(super) fn trim_end_at(text: &str, start: usize, end: usize) -> usize {
    let bytes = &text.as_bytes()[..end];
    let mut keep = end;
    while keep > start && is_ascii_space(bytes[keep - 1]) {
        keep -= 1;
    }
    if keep > start && !bytes[keep - 1].is_ascii() {
        return start + text[start..keep].trim_end().len();
    }
    keep
}

/// Where `byte` first is in `haystack`: a word at a time, for the short
/// rest of a TAP line, which is too short for a vector search to pay for
/// its setup.
pub(super) fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let pattern = ONES * u64::from(byte);
    let mut words = haystack.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ pattern;
        // The lowest high bit set marks the first zero byte of `x` (a
        // borrow makes false marks only above a true one).
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(at + zeros.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|i| at + i)
}

/// Whether `byte` is an ASCII character that [`char::is_whitespace`] holds
/// to be white space (unlike [`u8::is_ascii_whitespace`], it counts the
/// vertical tab).
#[inline]
fn is_ascii_space(byte: u8) -> bool {
    // One test of a bit in a mask of the six.
    const SPACES: u64 =
        (1 << b'\t') | (1 << b'\n') | (1 << 0x0b) | (1 << 0x0c) | (1 << b'\r') | (1 << b' ');
    byte <= b' ' && SPACES & (1 << byte) != 0
}

/// [`str::trim_start`], with a byte loop for the ASCII white space that a
/// TAP line nearly always has (the rest is left to `str`).
pub(super) fn trim_start(text: &str) -> &str {
    &text[skip_space(text, 0)..]
}

/// [`str::trim_end`], as [`trim_start`] is `str::trim_start`.
pub(super) fn trim_end(text: &str) -> &str {
    &text[..trim_end_at(text, 0, text.len())]
}

/// `digits` (ASCII digits only) as a number, `None` when there are none or
/// it overflows, as `parse` has it.
pub(super) fn parse_number(digits: &str) -> Option<u64> {
    // 19 digits always fit in a u64.
    if digits.is_empty() || digits.len() > 19 {
        return digits.parse().ok();
    }
    Some(digits.bytes().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_numbers_are_those_of_str() {
        let pieces = [
            "", " ", "\t", "\x0b", "\x0c", "\r", "\n", "\x1c", "\u{85}", "\u{a0}", "\u{3000}", "a",
            "é", "#", "0", "9",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}{b}{a}");
                    assert_eq!(trim_start(&text), text.trim_start(), "{text:?}");
                    assert_eq!(trim_end(&text), text.trim_end(), "{text:?}");
                    for (at, _) in text.char_indices() {
                        let rest = &text[at..];
                        let skipped = text.len() - rest.trim_start().len();
                        assert_eq!(skip_space(&text, at), skipped, "{text:?} {at}");
                        let end = at + rest.trim_end().len();
                        assert_eq!(trim_end_at(&text, at, text.len()), end, "{text:?} {at}");
                        let head = &text[..at];
                        let end = head.trim_end().len();
                        assert_eq!(trim_end_at(&text, 0, at), end, "{text:?} {at}");
                    }
                }
            }
        }
        for digits in [
            "",
            "0",
            "007",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            assert_eq!(parse_number(digits), digits.parse().ok(), "{digits}");
        }
        for n in [1u64, 42, 9_999_999_999_999_999_999] {
            assert_eq!(parse_number(&n.to_string()), Some(n));
        }
    }

    #[test]
    fn find_byte_finds_the_first() {
        for len in 0..40 {
            for at in 0..len {
                for other in [b'#' ^ 1, b'#' ^ 0x80, b'#' - 1, 0, 0xff] {
                    let mut bytes = vec![other; len];
                    bytes[at] = b'#';
                    if at + 3 < len {
                        bytes[at + 3] = b'#';
                    }
                    assert_eq!(find_byte(&bytes, b'#'), Some(at), "{len} {at} {other}");
                    bytes[at] = other;
                    let next = (at + 3 < len).then_some(at + 3);
                    assert_eq!(find_byte(&bytes, b'#'), next, "{len} {at} {other}");
                }
            }
        }
    }
}
