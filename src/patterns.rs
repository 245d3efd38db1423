//! Regular expressions given on the command line (subunit-filter's
//! `--with`, `--without` and `--rename`): read with Python's spelling where
//! it differs from the regex crate's, and refused at the start when
//! matching them could take minutes.
//!
//! The regex crate matches in time linear in the text, but the factor is
//! the size of the pattern once its counted repetitions are written out:
//! `(a{100}){100}{10}` is 100000 characters in a row, and searched 42 s in
//! one 100k-character test id. So a pattern is refused when it stands for
//! more than [`MAX_POSITIONS`] characters and classes in a row (counted
//! from the parsed pattern, so a Unicode class such as `\w` counts once),
//! or compiles to more than [`MAX_COMPILED`] bytes. Within these limits a
//! search takes a few microseconds per character at worst, and the lazy
//! DFA, given a larger cache than the crate's default, keeps most patterns
//! far below that.
//!
//! Layer: beside [`crate::cli`], whose [`Error`] it returns.

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::{Hir, HirKind};

use crate::cli::Error;
use crate::os::shortened;

/// The most characters and classes a pattern may stand for, with its
/// counted repetitions written out.
pub const MAX_POSITIONS: u64 = 1000;

/// The most bytes one pattern may compile to (the regex crate's default is
/// 10 MiB). A Unicode class such as `\w` takes about 50 KiB.
pub const MAX_COMPILED: usize = 1 << 20;

/// The lazy DFA's cache per pattern (the crate's default is 2 MiB): the
/// larger it is, the more patterns are matched by the DFA rather than by
/// the slower engine it gives up to.
const DFA_CACHE: usize = 8 << 20;

/// How much of a pattern a message shows.
const SHOWN: usize = 200;

/// A pattern of `option`, in Python's syntax, ready to match.
pub fn compile(option: &str, pattern: &str) -> Result<Regex, Error> {
    build(option, pattern, &python_pattern(pattern), 1)
}

/// The patterns of `option` joined with `|` and searched in multi-line
/// mode, as python-subunit's `--with` and `--without` are; `None` when
/// there are none. Each is checked alone first, so that a message names
/// the bad one.
pub fn compile_any_multiline(option: &str, patterns: &[String]) -> Result<Option<Regex>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for pattern in patterns {
        build(option, pattern, &multiline(pattern), 1)?;
    }
    let joined = patterns.join("|");
    // Alternatives cost what their parts cost, checked above: the joined
    // pattern may be as large as all of them.
    build(option, &joined, &multiline(&joined), patterns.len()).map(Some)
}

fn multiline(pattern: &str) -> String {
    format!("(?m){}", python_pattern(pattern))
}

/// Compiles `translated`, the regex crate's spelling of `pattern`, within
/// the limits (`parts` times the size limit, for patterns joined); when
/// `parts` is 1 the repetitions are counted too.
fn build(option: &str, pattern: &str, translated: &str, parts: usize) -> Result<Regex, Error> {
    let shown = shortened(pattern, SHOWN);
    let invalid = |why: &str| {
        Error::Usage(format!(
            "invalid regular expression '{shown}' for {option}: {why}"
        ))
    };
    if parts == 1 {
        let hir = regex_syntax::Parser::new()
            .parse(translated)
            .map_err(|e| invalid(&one_line(&e.to_string())))?;
        let positions = positions(&hir);
        if positions > MAX_POSITIONS {
            return Err(Error::Usage(format!(
                "regular expression '{shown}' for {option} is too costly to match: with its \
                 counted repetitions written out it stands for {positions} characters in a \
                 row, at most {MAX_POSITIONS} are allowed"
            )));
        }
    }
    RegexBuilder::new(translated)
        .size_limit(MAX_COMPILED.saturating_mul(parts))
        .dfa_size_limit(DFA_CACHE)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => Error::Usage(format!(
                "regular expression '{shown}' for {option} is too large: it compiles to more \
                 than {} KiB (a Unicode class such as \\w or \\d takes about 50 KiB each time \
                 it is written out; (?-u:\\w) or [0-9] take far less)",
                limit / 1024
            )),
            e => invalid(&one_line(&e.to_string())),
        })
}

/// How many characters and classes `hir` stands for in a row, each counted
/// repetition written out: an upper bound on the states the matcher
/// follows at once.
fn positions(hir: &Hir) -> u64 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(literal) => std::str::from_utf8(&literal.0)
            .map_or(literal.0.len(), |text| text.chars().count())
            as u64,
        HirKind::Class(_) => 1,
        HirKind::Repetition(repetition) => {
            // x{n}, x{m,n} and x{n,} hold n copies of x; x* and x+ one.
            let copies = repetition.max.unwrap_or(repetition.min.max(1));
            positions(&repetition.sub).saturating_mul(u64::from(copies))
        }
        HirKind::Capture(capture) => positions(&capture.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => {
            parts.iter().map(positions).fold(0, u64::saturating_add)
        }
    }
}

/// The regex crate's message in one line: the line that says what is
/// wrong (its message spans several lines and shows the pattern as
/// compiled).
fn one_line(text: &str) -> String {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or_default())
        .to_owned()
}

/// Python's `\Z` (end of text) is the regex crate's `\z`.
fn python_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('Z') => out.push_str("\\z"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A Python `re.sub` replacement (`\1`, `\g<1>`, `\g<name>`, `\\`, `\n`)
/// in the regex crate's syntax (`${1}`, `${name}`, `$$`), refused where
/// Python refuses it: a group `from` does not have, an unknown escape of a
/// letter, `\0` (a NUL, which test ids cannot hold).
pub fn python_replacement(python: &str, from: &Regex) -> Result<String, String> {
    let groups = from.captures_len();
    let mut out = String::new();
    let mut chars = python.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some('0') => return Err("\\0 would put a NUL byte in a test id".into()),
                Some(d) if d.is_ascii_digit() => {
                    let mut group = d.to_string();
                    if let Some(&e) = chars.peek().filter(|e| e.is_ascii_digit()) {
                        group.push(e);
                        chars.next();
                    }
                    if group.parse::<usize>().map_or(true, |g| g >= groups) {
                        return Err(format!("invalid group reference {group}"));
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') if chars.peek() == Some(&'<') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                    let known = match name.parse::<usize>() {
                        Ok(g) => g < groups,
                        Err(_) => from.capture_names().flatten().any(|n| n == name),
                    };
                    if !known {
                        return Err(format!("unknown group name '{name}'"));
                    }
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('f') => out.push('\u{c}'),
                Some('v') => out.push('\u{b}'),
                Some('a') => out.push('\u{7}'),
                Some('b') => out.push('\u{8}'),
                Some('\\') => out.push('\\'),
                Some(letter) if letter.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{letter}"));
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The man page's words on the limits, for every command that takes
/// regular expressions.
pub const LIMITS_MAN: &str = "A regular expression is refused at the start, with a message \
     naming its option, when matching it could be slow: when, with each counted repetition \
     x{n} or x{m,n} written out n times, it stands for more than 1000 characters and \
     classes in a row (a{1000} is taken, (a{100}){100} is not), or when it compiles to more \
     than 1 MiB (each Unicode class such as \\w or \\d takes about 50 KiB there, so twenty \
     of them in a row are too many; (?-u:\\w) or [0-9] take far less). Within these limits \
     a search takes a few microseconds per character of text at worst. python-subunit \
     takes any pattern, however slow.";

#[cfg(test)]
mod tests {
    use super::*;

    fn positions_of(pattern: &str) -> u64 {
        positions(&regex_syntax::Parser::new().parse(pattern).unwrap())
    }

    #[test]
    fn repetitions_are_counted_written_out_and_classes_once() {
        assert_eq!(positions_of("abc"), 3);
        assert_eq!(positions_of("é"), 1);
        assert_eq!(positions_of(r"\w+"), 1);
        assert_eq!(positions_of(r"\w*x?"), 2);
        assert_eq!(positions_of("a{3}b{2,5}c{4,}"), 3 + 5 + 4);
        assert_eq!(positions_of("(ab|c){10}"), 30);
        assert_eq!(positions_of("(a{100}){100}{10}"), 100_000);
        assert_eq!(positions_of("x{0}"), 0);
        assert_eq!(positions_of("((a{1000}){1000}){1000}"), 1_000_000_000);
    }

    #[test]
    fn limits_refuse_costly_patterns_and_name_the_option() {
        let message = |r: Result<Regex, Error>| match r {
            Err(Error::Usage(m)) => m,
            other => panic!("not refused: {other:?}"),
        };
        let costly = message(compile("--rename", "(a{100}){100}{10}"));
        assert!(
            costly.starts_with("regular expression '(a{100}){100}{10}' for --rename is too costly"),
            "{costly}"
        );
        let large = message(compile("--with", r"\w{100}"));
        assert!(
            large.starts_with(r"regular expression '\w{100}' for --with is too large"),
            "{large}"
        );
        assert!(compile("--with", "a{1000}").is_ok());
        assert!(compile("--with", r"\w{5}").is_ok());
        let joined = (0..10).map(|i| format!(r"{i}\w+\.\w+")).collect::<Vec<_>>();
        assert!(compile_any_multiline("--with", &joined).unwrap().is_some());
        assert_eq!(
            compile_any_multiline("--with", &[]).unwrap().map(|_| ()),
            None
        );
    }

    #[test]
    fn python_replacements_translate() {
        let re = compile("--rename", r"^(?P<name>tests)\.(\w+)").unwrap();
        let to = |r: &str| python_replacement(r, &re);
        assert_eq!(to(r"\1.x").unwrap(), "${1}.x");
        assert_eq!(to(r"\g<name>-\g<2>").unwrap(), "${name}-${2}");
        assert_eq!(to(r"a$b\\c").unwrap(), "a$$b\\c");
        assert!(to(r"\3").is_err(), "no third group");
        assert!(to(r"\g<other>").is_err());
        assert!(to(r"\d").is_err(), "bad escape");
        assert!(to(r"\0").is_err());
        assert_eq!(
            re.replace_all("tests.api.X", to(r"t.\2").unwrap().as_str()),
            "t.api.X"
        );
    }

    #[test]
    fn regex_errors_are_one_line_and_python_z_works() {
        let Err(Error::Usage(message)) = compile_any_multiline("--with", &["(".into()]) else {
            panic!("'(' compiled")
        };
        assert_eq!(
            message,
            "invalid regular expression '(' for --with: unclosed group"
        );
        let end = |p: &str| compile_any_multiline("-m", &[p.into()]).unwrap().unwrap();
        assert!(end(r"foo\Z").is_match("a foo"));
        assert!(!end(r"foo\Z").is_match("foo bar"));
    }
}
