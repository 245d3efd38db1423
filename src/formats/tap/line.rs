//! One line of TAP: which kind of line it is, and its parts.

use super::Directive;
use super::text::{find_byte, parse_number, skip_space, trim_end, trim_end_at, trim_start};
use crate::codec::packet::Status;

/// The parts of a result line: status, number, description, directive, its
/// reason, and the number and description as spelled in the line when the
/// name `test N description` would spell them the same (else empty).
pub(super) type ResultParts<'a> = (
    Status,
    Option<u64>,
    &'a str,
    Option<Directive>,
    &'a str,
    &'a str,
);

/// `ok`/`not ok`, an optional number, an optional description, an optional
/// `# SKIP` or `# TODO` directive (any case; `# skipped` too). A `#` that
/// starts no directive ends the description; the rest is a comment.
pub(super) fn result_line(text: &str) -> Option<ResultParts<'_>> {
    // Positions in the line's bytes rather than slices of it, and no
    // slice made that is not handed on: every line of a TAP stream comes
    // here.
    let bytes = text.as_bytes();
    let (ok, after) = if bytes.starts_with(b"not ok") {
        (false, 6)
    } else if bytes.starts_with(b"ok") {
        (true, 2)
    } else {
        return None;
    };
    if !matches!(bytes.get(after), None | Some(b' ' | b'\t')) {
        return None; // "okay", "ok1"
    }
    let digits_at = skip_space(text, after);
    let mut number_end = digits_at;
    while bytes.get(number_end).is_some_and(u8::is_ascii_digit) {
        number_end += 1;
    }
    let digits = &text[digits_at..number_end];
    let number = parse_number(digits);
    let description_at = skip_space(text, number_end);
    let hash = comment_hash(bytes, description_at);
    let description_end = trim_end_at(text, description_at, hash.unwrap_or(bytes.len()));
    let description = &text[description_at..description_end];
    let comment = hash.map_or("", |at| &text[skip_space(text, at + 1)..]);
    // `N description`, as `test N description` has it: digits without a
    // leading zero, then one space before a description.
    let canonical = !digits.is_empty() && (digits.len() == 1 || !digits.starts_with('0'));
    let spelled = if !canonical {
        ""
    } else if description.is_empty() {
        digits
    } else if description_at == number_end + 1
        && bytes[number_end] == b' '
        && find_byte(description.as_bytes(), b'\\').is_none()
    {
        // An escape in the description is undone in the name.
        &text[digits_at..description_end]
    } else {
        ""
    };
    let (directive, reason) = directive(comment);
    let status = match (ok, directive) {
        (_, Some(Directive::Skip)) => Status::Skip,
        (true, Some(Directive::Todo)) => Status::UxSuccess,
        (false, Some(Directive::Todo)) => Status::XFail,
        (true, None) => Status::Success,
        (false, None) => Status::Fail,
    };
    Some((status, number, description, directive, reason, spelled))
}

/// Where the comment of a result line starts: the first `#` from `from`
/// that TAP 14's escape `\#` does not make part of the description (a `#`
/// after an odd run of backslashes; `\\` is a backslash).
fn comment_hash(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let hash = at + find_byte(&bytes[at..], b'#')?;
        let backslashes = bytes[from..hash]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(hash);
        }
        at = hash + 1;
    }
}

/// The directive a result line's comment starts with, if any, and its
/// reason, trimmed; with no directive, the comment itself, trimmed.
fn directive(comment: &str) -> (Option<Directive>, &str) {
    let word_len = comment.bytes().take_while(u8::is_ascii_alphabetic).count();
    let word = &comment[..word_len];
    let directive = if word.len() >= 4 && word[..4].eq_ignore_ascii_case("skip") {
        Some(Directive::Skip)
    } else if word.eq_ignore_ascii_case("todo") {
        Some(Directive::Todo)
    } else {
        return (None, trim_end(comment));
    };
    (directive, trim_end(trim_start(&comment[word_len..])))
}

/// The line `prove -v` prints before a script's TAP: the script's name, a
/// space and two or more dots (padded to line up), maybe a space.
pub(super) fn is_prove_header(line: &str) -> bool {
    let line = trim_end(line);
    // What nearly every line fails, before the search for the last space.
    if !line.ends_with("..") {
        return false;
    }
    line.rsplit_once(' ').is_some_and(|(name, dots)| {
        dots.len() >= 2
            && dots.bytes().all(|b| b == b'.')
            && !name.is_empty()
            && !name.contains(char::is_whitespace)
    })
}

/// `1..N`, optionally followed by `# comment`: the number and the comment.
pub(super) fn plan_line(text: &str) -> Option<(u64, &str)> {
    let rest = text.strip_prefix("1..")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tests = rest[..digits].parse().ok()?;
    let rest = trim_end(trim_start(&rest[digits..]));
    match rest.strip_prefix('#') {
        Some(comment) => Some((tests, trim_end(trim_start(comment)))),
        None if rest.is_empty() => Some((tests, "")),
        None => None,
    }
}

/// The reason of `1..0 # SKIP reason`: the comment less a leading `SKIP`
/// word (any case, `skipped` too).
pub(super) fn skip_reason(comment: &str) -> &str {
    let word_len = comment
        .bytes()
        .take_while(|b| !b.is_ascii_whitespace())
        .count();
    // `get`: the comment may start with a character wider than a byte.
    let word = comment.get(..4);
    if word_len >= 4 && word.is_some_and(|w| w.eq_ignore_ascii_case("skip")) {
        comment[word_len..].trim_start()
    } else {
        comment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading of result lines as it was before the one by positions,
    /// with `str`'s own slices, trims and parse, and the spelling found by
    /// slices: the two must agree on every line.
    fn result_line_by_str(text: &str) -> Option<ResultParts<'_>> {
        let (ok, rest) = if let Some(rest) = text.strip_prefix("not ok") {
            (false, rest)
        } else {
            (true, text.strip_prefix("ok")?)
        };
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return None; // "okay", "ok1"
        }
        let numbered = rest.trim_start();
        let digits = numbered.bytes().take_while(u8::is_ascii_digit).count();
        let number = numbered[..digits].parse().ok();
        let after_number = &numbered[digits..];
        let rest = after_number.trim_start();
        // The first `#` after an even number of backslashes.
        let hash = rest
            .match_indices('#')
            .map(|(at, _)| at)
            .find(|&at| rest[..at].chars().rev().take_while(|&c| c == '\\').count() % 2 == 0);
        let (description, comment) = match hash {
            Some(hash) => (&rest[..hash], rest[hash + 1..].trim_start()),
            None => (rest, ""),
        };
        let description = description.trim_end();
        let canonical = digits > 0 && (digits == 1 || !numbered.starts_with('0'));
        let spelled = if !canonical {
            ""
        } else if description.is_empty() {
            &numbered[..digits]
        } else if after_number.len() - rest.len() == 1
            && after_number.starts_with(' ')
            && !description.contains('\\')
        {
            &numbered[..digits + 1 + description.len()]
        } else {
            ""
        };
        let word_len = comment.bytes().take_while(u8::is_ascii_alphabetic).count();
        let word = &comment[..word_len];
        let directive = if word.len() >= 4 && word[..4].eq_ignore_ascii_case("skip") {
            Some(Directive::Skip)
        } else if word.eq_ignore_ascii_case("todo") {
            Some(Directive::Todo)
        } else {
            None
        };
        let reason = match directive {
            Some(_) => comment[word_len..].trim(),
            None => comment.trim_end(),
        };
        let status = match (ok, directive) {
            (_, Some(Directive::Skip)) => Status::Skip,
            (true, Some(Directive::Todo)) => Status::UxSuccess,
            (false, Some(Directive::Todo)) => Status::XFail,
            (true, None) => Status::Success,
            (false, None) => Status::Fail,
        };
        Some((status, number, description, directive, reason, spelled))
    }

    #[test]
    fn result_lines_are_read_as_by_slices() {
        let pieces = [
            "ok", "not ok", " ", "\t", "\u{a0}", "\u{3000}", "1", "07", "12", "-", "é", "#", "# ",
            "skip", "SKIPPED", "todo", "Todo:", "x", "\x0b", "  ", "\\", "\\#",
        ];
        let mut lines = 0;
        for a in &pieces[..2] {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        for e in [" ", "", "é ", "\t", "\u{85}"] {
                            let line = format!("{a}{b}{c}{e}{d}{b}");
                            assert_eq!(result_line(&line), result_line_by_str(&line), "{line:?}");
                            lines += 1;
                        }
                    }
                }
            }
        }
        assert!(lines > 10_000);
    }

    #[test]
    fn plans_and_headers_are_read_as_by_str() {
        for line in [
            "1..3",
            "1..3 ",
            "1..3\u{a0}",
            "1..3 # a b ",
            "1..3 #\u{3000}x\u{3000}",
            "1..0 # SKIP é",
            "1..3 x",
            "1..",
            "1..x",
            "1..3é",
        ] {
            let by_str = line.strip_prefix("1..").and_then(|rest| {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let tests: u64 = rest[..digits].parse().ok()?;
                let rest = rest[digits..].trim();
                match rest.strip_prefix('#') {
                    Some(comment) => Some((tests, comment.trim())),
                    None if rest.is_empty() => Some((tests, "")),
                    None => None,
                }
            });
            assert_eq!(plan_line(line), by_str, "{line:?}");
        }
        for line in [
            "t/a.t .. ",
            "t/a.t ..\u{a0}",
            "t/a.t ..\u{3000} ",
            "a .",
            "é .. ",
            "..",
        ] {
            let by_str = line
                .trim_end()
                .rsplit_once(' ')
                .is_some_and(|(name, dots)| {
                    dots.len() >= 2
                        && dots.bytes().all(|b| b == b'.')
                        && !name.is_empty()
                        && !name.contains(char::is_whitespace)
                });
            assert_eq!(is_prove_header(line), by_str, "{line:?}");
        }
    }
}
