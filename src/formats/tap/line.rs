//! One line of TAP: which kind of line it is, and its parts.

use super::Directive;
use crate::codec::packet::Status;

/// The parts of a result line: status, number, description, directive and
/// its reason.
pub(super) type ResultParts<'a> = (Status, Option<u64>, &'a str, Option<Directive>, &'a str);

/// `ok`/`not ok`, an optional number, an optional description, an optional
/// `# SKIP` or `# TODO` directive (any case; `# skipped` too). A `#` that
/// starts no directive ends the description; the rest is a comment.
pub(super) fn result_line(text: &str) -> Option<ResultParts<'_>> {
    let (ok, rest) = if let Some(rest) = text.strip_prefix("not ok") {
        (false, rest)
    } else {
        (true, text.strip_prefix("ok")?)
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None; // "okay", "ok1"
    }
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let number = rest[..digits].parse().ok();
    let rest = rest[digits..].trim_start();
    let (description, comment) = match rest.find('#') {
        Some(hash) => (&rest[..hash], rest[hash + 1..].trim_start()),
        None => (rest, ""),
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
        None => "",
    };
    let status = match (ok, directive) {
        (_, Some(Directive::Skip)) => Status::Skip,
        (true, Some(Directive::Todo)) => Status::UxSuccess,
        (false, Some(Directive::Todo)) => Status::XFail,
        (true, None) => Status::Success,
        (false, None) => Status::Fail,
    };
    Some((status, number, description.trim_end(), directive, reason))
}

/// The line `prove -v` prints before a script's TAP: the script's name, a
/// space and two or more dots (padded to line up), maybe a space.
pub(super) fn is_prove_header(line: &str) -> bool {
    let line = line.trim_end();
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
    let rest = rest[digits..].trim();
    match rest.strip_prefix('#') {
        Some(comment) => Some((tests, comment.trim())),
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
