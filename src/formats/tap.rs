//! TAP, the Test Anything Protocol: its result lines (`ok`, `not ok`,
//! directives).

use crate::codec::packet::Status;

/// A TAP result line: `ok`/`not ok`, an optional number, an optional
/// description, an optional `# SKIP` or `# TODO` directive. A TODO test
/// that fails is an expected failure, one that passes an unexpected
/// success.
pub fn tap_result(text: &str) -> Option<(Status, Option<u64>, &str)> {
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
    let (description, directive) = match rest.find('#') {
        Some(hash) => (&rest[..hash], rest[hash + 1..].trim_start()),
        None => (rest, ""),
    };
    let word: String = directive
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    let status = match (ok, word.as_str()) {
        (_, w) if w.starts_with("skip") => Status::Skip,
        (true, "todo") => Status::UxSuccess,
        (false, "todo") => Status::XFail,
        (true, _) => Status::Success,
        (false, _) => Status::Fail,
    };
    Some((status, number, description.trim_end()))
}
