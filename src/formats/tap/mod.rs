//! TAP, the Test Anything Protocol: a reader that follows a TAP stream
//! line by line and tells what each line means.
//!
//! [`TapReader`] is a state machine with no I/O: feed it each line (without
//! its newline) with [`TapReader::line`] and the end of input with
//! [`TapReader::finish`]; it calls back with [`TapEvent`]s. It knows the
//! plan, so it reports the tests a plan names but that never came
//! ([`TapEvent::Missing`]): a script that crashes after two of its four
//! tests has two missing tests, which a harness counts as failures.
//!
//! What it reads (TAP 12/13, as python-subunit's `tap2subunit` and perl's
//! `prove` read it, from the start of the line; indented lines such as
//! subtests are not TAP of this stream):
//!
//! - `ok` / `not ok`, an optional number, an optional description, an
//!   optional `# SKIP` or `# TODO` directive with its reason, or another
//!   comment after a `#`. A `#` escaped as TAP 14 escapes it, `\#`, is part
//!   of the description (and `\\` a backslash). A TODO test that fails is
//!   an expected failure, one that passes an unexpected success. Tests are numbered as `tap2subunit` numbers them: a number
//!   above the next one expected reports the ones skipped over as missing
//!   first; otherwise the test takes the next number.
//! - `1..N`, then optionally `# comment`: the plan, before the tests or
//!   after them.
//!   `1..0` before any test skips the whole script; its comment, less a
//!   leading `SKIP`, is the reason.
//! - `Bail out!`, then optionally a reason: the script gave up.
//! - `# text`: a diagnostic.
//!
//! One input may hold several TAP streams one after the other (a script
//! that runs several). A stream ends at its trailing plan, at `1..0`, at
//! `Bail out!`, and when a plan comes after the leading plan of a stream
//! (the start of the next one); the next stream is numbered from 1 again.
//! At the end of a stream the tests its plan named but that never came
//! are reported missing.
//!
//! `prove -v` runs many scripts and prints each one's TAP after a header
//! line naming it (`t/a.t .. `): such a line ends the stream before it.
//! Once a stream's plan is fulfilled (every test it names has come), test
//! 1 starts the next stream, and one bare `ok` line is not a test: it is
//! the verdict `prove -v` prints after each script's TAP (a test there
//! would be one more than planned, which no TAP stream may have).
//!
//! This reader is the one TAP parser of the crate, for every command that
//! reads TAP; what the results become is up to the caller. `subunit-wrap
//! --tap` reads with it alone. [`NestedReader`] adds TAP 14 on top of it
//! (subtests, each level read by a `TapReader` of its own, YAML blocks,
//! version lines), and [`TapConverter`] turns what that reads into subunit
//! as `tap2subunit` writes it. Submodules: `line` tells what kind of line a
//! line is and splits it into its parts, `text` has the ASCII fast paths it
//! reads with, `name` names tests as `tap2subunit` names them, `nested` and
//! `convert` are those two.

mod convert;
mod line;
mod name;
mod nested;
mod text;

use crate::codec::packet::Status;

pub use convert::{CHATTER_FILE, MAX_LINE, TapConverter, YAML_FILE, YAML_MIME};
use line::{is_prove_header, plan_line, result_line, skip_reason};
pub use name::{bail_out_name, push_number, test_name, write_bail_out_name, write_test_name};
pub use nested::{MAX_DEPTH, NestedEvent, NestedReader};

/// The MIME type of the text `tap2subunit` attaches.
pub const TEXT_MIME: &str = "text/plain; charset=UTF8";
/// The attachment holding a test's directive reason and diagnostics.
pub const COMMENT_FILE: &str = "tap comment";
/// The attachment of a missing test, holding [`MISSING_NOTE`].
pub const META_FILE: &str = "tap meta";
/// What the [`META_FILE`] of a missing test says.
pub const MISSING_NOTE: &str = "test missing from TAP output";
/// The test of a script that skipped all its tests (`1..0`).
pub const SKIP_ALL_ID: &str = "file skip";

/// A `# SKIP` or `# TODO` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// The test was not run.
    Skip,
    /// The test is expected to fail.
    Todo,
}

/// A test result line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapResult<'a> {
    /// The test's number in its stream, as it is named.
    pub number: u64,
    /// The outcome, directives applied.
    pub status: Status,
    /// What follows the number, up to a `#` that is not escaped, trimmed
    /// (may be empty); escapes as the line has them (see [`test_name`]).
    pub description: &'a str,
    /// The directive, if any.
    pub directive: Option<Directive>,
    /// The directive's reason, or with no directive the comment after the
    /// `#`, trimmed (may be empty).
    pub reason: &'a str,
    /// The number and description as the line spells them, when that is
    /// how the name spells them too (the common case), so that naming the
    /// test is one copy; else empty.
    spelled: &'a str,
}

impl TapResult<'_> {
    /// The test's name, see [`test_name`].
    pub fn name(&self) -> String {
        test_name(self.number, self.description)
    }

    /// Appends the test's name to `name`, a buffer the caller reuses.
    pub fn write_name(&self, name: &mut String) {
        if self.spelled.is_empty() {
            write_test_name(self.number, self.description, name);
        } else {
            name.push_str("test ");
            name.push_str(self.spelled);
        }
    }
}

/// What a line (or the end of input) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapEvent<'a> {
    /// A test result.
    Result(TapResult<'a>),
    /// A plan of `tests` tests (not `1..0`).
    Plan {
        /// How many tests the plan names.
        tests: u64,
    },
    /// `1..0` before any test: the whole script was skipped.
    SkipAll {
        /// Why, from the plan's comment (may be empty).
        reason: &'a str,
    },
    /// `Bail out!`: the script gave up; its stream ends.
    BailOut {
        /// The text after `Bail out!`, trimmed (may be empty).
        reason: &'a str,
    },
    /// A `#` line, the whole line as given.
    Diagnostic {
        /// The line, `#` included.
        text: &'a str,
    },
    /// Tests `first..=last` were named by the plan (or skipped over by a
    /// test's number) but never came: failures.
    Missing {
        /// The first missing test's number.
        first: u64,
        /// The last missing test's number.
        last: u64,
    },
}

/// Where the reader is in the current stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    /// Nothing of a stream seen yet.
    Fresh,
    /// A leading plan or tests seen.
    Open,
    /// Ended by a trailing plan, `1..0` or `Bail out!`: the next TAP line
    /// starts a new stream.
    Ended,
}

/// Follows TAP streams line by line; see the module documentation.
#[derive(Clone, Debug)]
pub struct TapReader {
    stream: Stream,
    /// The number of the next test.
    next: u64,
    /// The last test named by the stream's leading plan.
    planned: Option<u64>,
    /// Whether every test its plan named has come.
    fulfilled: bool,
    /// Whether prove's verdict line came after that.
    verdict: bool,
}

impl Default for TapReader {
    fn default() -> TapReader {
        TapReader::new()
    }
}

impl TapReader {
    /// A reader before any stream.
    pub fn new() -> TapReader {
        TapReader {
            stream: Stream::Fresh,
            next: 1,
            planned: None,
            fulfilled: false,
            verdict: false,
        }
    }

    /// Whether a line could mean anything to the reader, from its first
    /// byte: a cheap test that lets callers skip the lines of big logs
    /// (every other line means nothing). Lines starting with an escape
    /// sequence may be TAP once it is removed.
    pub fn may_read(line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.first()
            .is_some_and(|first| b"on1#B\x1b".contains(first))
            || line.ends_with(b"..")
            || line.ends_with(b".. ")
    }

    /// Reads one line, without its newline (a trailing CR is ignored).
    /// Calls `emit` for what it means, in order; nothing for a line that
    /// is not TAP.
    pub fn line<'a>(&mut self, line: &'a str, mut emit: impl FnMut(TapEvent<'a>)) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            emit(TapEvent::Diagnostic { text: line });
        } else if line == "ok" && self.fulfilled && !self.verdict {
            // prove -v's verdict on the script (see the module
            // documentation); a second one would be a test.
            self.verdict = true;
        } else if is_prove_header(line) {
            self.end(&mut emit);
            self.restart();
        } else if let Some((status, number, description, directive, reason, spelled)) =
            result_line(line)
        {
            // Test 1 after a fulfilled plan starts the next script's TAP,
            // as after a trailing plan any test does.
            if self.stream == Stream::Ended || (self.fulfilled && number == Some(1)) {
                self.restart();
            }
            self.stream = Stream::Open;
            if let Some(number) = number.filter(|n| *n > self.next) {
                emit(TapEvent::Missing {
                    first: self.next,
                    last: number - 1,
                });
                self.next = number;
            }
            let spelled = if number == Some(self.next) {
                spelled
            } else {
                ""
            };
            let number = self.next;
            self.next = self.next.saturating_add(1);
            self.fulfilled = self.planned.is_some_and(|last| self.next > last);
            emit(TapEvent::Result(TapResult {
                number,
                status,
                description,
                directive,
                reason,
                spelled,
            }));
        } else if let Some((tests, comment)) = plan_line(line) {
            self.plan(tests, comment, &mut emit);
        } else if let Some(reason) = line.strip_prefix("Bail out!") {
            emit(TapEvent::BailOut {
                reason: reason.trim(),
            });
            self.end(&mut emit);
            self.stream = Stream::Ended;
        }
    }

    /// The number the next result line without a number of its own would
    /// be named by (a new stream's 1 after one that ended).
    pub fn next_number(&self) -> u64 {
        if self.stream == Stream::Ended {
            1
        } else {
            self.next
        }
    }

    /// The input ended: reports the tests the plan named that never came.
    /// The reader is then as new.
    pub fn finish(&mut self, mut emit: impl FnMut(TapEvent<'static>)) {
        self.end(&mut emit);
        self.restart();
    }

    fn plan<'a>(&mut self, tests: u64, comment: &'a str, emit: &mut impl FnMut(TapEvent<'a>)) {
        if self.stream == Stream::Ended || self.planned.is_some() {
            // The previous stream is over; this plan leads the next one.
            self.end(emit);
            self.restart();
        }
        let any_tests = self.next > 1;
        if tests == 0 && !any_tests {
            emit(TapEvent::SkipAll {
                reason: skip_reason(comment),
            });
            self.stream = Stream::Ended;
        } else if any_tests {
            // A trailing plan ends its stream.
            emit(TapEvent::Plan { tests });
            if self.next <= tests {
                emit(TapEvent::Missing {
                    first: self.next,
                    last: tests,
                });
            }
            self.fulfilled = self.next > tests;
            self.stream = Stream::Ended;
        } else {
            emit(TapEvent::Plan { tests });
            self.planned = Some(tests);
            self.stream = Stream::Open;
        }
    }

    /// Reports what the current stream's leading plan named but never came.
    fn end<'a>(&mut self, emit: &mut impl FnMut(TapEvent<'a>)) {
        if self.stream == Stream::Open {
            if let Some(last) = self.planned.filter(|last| self.next <= *last) {
                emit(TapEvent::Missing {
                    first: self.next,
                    last,
                });
                self.next = last.saturating_add(1);
            }
        }
    }

    fn restart(&mut self) {
        *self = TapReader::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of `input`, the end included, as text.
    fn events(input: &str) -> Vec<String> {
        let mut reader = TapReader::new();
        let mut out = Vec::new();
        for line in input.lines() {
            reader.line(line, |e| out.push(describe(e)));
        }
        reader.finish(|e| out.push(describe(e)));
        out
    }

    fn describe(event: TapEvent) -> String {
        match event {
            TapEvent::Result(r) => format!(
                "{:?} {:?} {:?} {:?}",
                r.status,
                r.name(),
                r.directive,
                r.reason
            ),
            TapEvent::Plan { tests } => format!("plan {tests}"),
            TapEvent::SkipAll { reason } => format!("skip all {reason:?}"),
            TapEvent::BailOut { reason } => format!("bail out {reason:?}"),
            TapEvent::Diagnostic { text } => format!("diag {text:?}"),
            TapEvent::Missing { first, last } => format!("missing {first}..{last}"),
        }
    }

    #[test]
    fn result_lines_and_directives() {
        assert_eq!(
            events(
                "ok 1 - first\nnot ok 2 second # TODO not yet\nok # skip no network\nok 4 # Skipped: slow\n\
                 ok 5 # todo\nnot ok 6 # SKIP gone\nok 7 - a # plain comment\r\nokay\nok1\nnot okay\n\
                 ok 8 - a \\# b \\\\# c\n"
            ),
            [
                r#"Success "test 1 - first" None """#,
                r#"XFail "test 2 second" Some(Todo) "not yet""#,
                r#"Skip "test 3" Some(Skip) "no network""#,
                r#"Skip "test 4" Some(Skip) ": slow""#,
                r#"UxSuccess "test 5" Some(Todo) """#,
                r#"Skip "test 6" Some(Skip) "gone""#,
                r#"Success "test 7 - a" None "plain comment""#,
                r#"Success "test 8 - a # b \\" None "c""#,
            ]
        );
    }

    #[test]
    fn a_crashed_script_has_missing_tests() {
        assert_eq!(
            events("1..4\nok 1 - a\nok 2 - b\n"),
            [
                "plan 4",
                r#"Success "test 1 - a" None """#,
                r#"Success "test 2 - b" None """#,
                "missing 3..4",
            ]
        );
        // Nothing missing when the plan was kept, or there is none.
        assert_eq!(events("1..1\nok\n").len(), 2);
        assert_eq!(events("ok\nok\n").len(), 2);
    }

    #[test]
    fn numbers_skipped_over_are_missing_and_lower_numbers_follow_on() {
        assert_eq!(
            events("1..5\nok 1\nok 3\nok 1\n"),
            [
                "plan 5",
                r#"Success "test 1" None """#,
                "missing 2..2",
                r#"Success "test 3" None """#,
                r#"Success "test 4" None """#,
                "missing 5..5",
            ]
        );
    }

    #[test]
    fn a_trailing_plan_ends_its_stream_at_once() {
        assert_eq!(
            events("ok 1\n1..3\nok 1\n"),
            [
                r#"Success "test 1" None """#,
                "plan 3",
                "missing 2..3",
                r#"Success "test 1" None """#,
            ]
        );
    }

    #[test]
    fn the_next_plan_starts_a_new_stream() {
        assert_eq!(
            events("1..3\nok 1\n1..2\nok 1\nok 2\n1..1\n"),
            [
                "plan 3",
                r#"Success "test 1" None """#,
                "missing 2..3",
                "plan 2",
                r#"Success "test 1" None """#,
                r#"Success "test 2" None """#,
                "plan 1",
                "missing 1..1",
            ]
        );
    }

    #[test]
    fn skip_all_and_bail_out() {
        assert_eq!(
            events("1..0 # SKIP no database\n"),
            [r#"skip all "no database""#]
        );
        assert_eq!(events("1..0\n"), [r#"skip all """#]);
        // Found by the tap fuzz target: a wide character in the first four
        // bytes of the comment panicked.
        assert_eq!(events("1..0 # aéé\n"), [r#"skip all "aéé""#]);
        assert_eq!(
            events("1..0 # nothing to do\n"),
            [r#"skip all "nothing to do""#]
        );
        assert_eq!(
            events("1..3\nok 1\nBail out!  no disk \nok 1\n"),
            [
                "plan 3",
                r#"Success "test 1" None """#,
                r#"bail out "no disk""#,
                "missing 2..3",
                r#"Success "test 1" None """#,
            ]
        );
        assert_eq!(bail_out_name("no disk"), "Bail out! no disk");
        assert_eq!(bail_out_name(""), "Bail out!");
    }

    #[test]
    fn diagnostics_plans_and_other_lines() {
        assert_eq!(
            events(
                "TAP version 13\n1..1 # one\n# hello\nnot ok 1\n  ---\n  ...\n    ok 1 - sub\n1..2 x\n2..3\n"
            ),
            ["plan 1", r##"diag "# hello""##, r#"Fail "test 1" None """#,]
        );
    }

    #[test]
    fn prove_s_verdict_after_a_fulfilled_plan_is_no_test() {
        assert_eq!(
            events("1..2\nok 1 - a\nok 2 - b\nok\n1..1\nok 1\nok\nok 1\nok 2\n1..2\nok\n"),
            [
                "plan 2",
                r#"Success "test 1 - a" None """#,
                r#"Success "test 2 - b" None """#,
                "plan 1",
                r#"Success "test 1" None """#,
                r#"Success "test 1" None """#,
                r#"Success "test 2" None """#,
                "plan 2",
            ]
        );
        // One verdict only: more bare oks are tests beyond the plan.
        assert_eq!(
            events("1..1\nok 1\nok\nok\n"),
            [
                "plan 1",
                r#"Success "test 1" None """#,
                r#"Success "test 2" None """#
            ]
        );
        // Before its plan is fulfilled a bare ok is a test, as in any TAP.
        assert_eq!(
            events("1..2\nok\nok\n"),
            [
                "plan 2",
                r#"Success "test 1" None """#,
                r#"Success "test 2" None """#
            ]
        );
        // And with no plan at all.
        assert_eq!(events("ok\n"), [r#"Success "test 1" None """#]);
    }

    #[test]
    fn prove_s_header_lines_end_a_stream() {
        assert_eq!(
            events(
                "t/a.t .. \n1..3\nok 1\nt/bb.t ... \nok 1\nok\nnot ok\n1..2\nok\nnot a.t .. header\n"
            ),
            [
                "plan 3",
                r#"Success "test 1" None """#,
                "missing 2..3",
                r#"Success "test 1" None """#,
                r#"Success "test 2" None """#,
                r#"Fail "test 3" None """#,
                "plan 2",
            ]
        );
        assert!(is_prove_header("t/a.t .. "));
        assert!(is_prove_header("t/long-name.t ..... \r"));
        assert!(!is_prove_header("wait .. then"));
        assert!(!is_prove_header(" .. "));
        assert!(!is_prove_header("two words .."));
        assert!(TapReader::may_read(b"t/a.t .. "));
    }

    /// The name from the line's own spelling is the name formatted.
    #[test]
    fn spelled_names_are_formatted_names() {
        let lines = [
            "ok 1 - a",
            "ok 2 b  c",
            "ok 03 x",
            "ok 0 x",
            "ok 4  x",
            "ok 5\tx",
            "ok 6",
            "ok 7 ",
            "ok 9 # skip",
            "ok 10 a # todo x",
            "ok 11 \u{a0}x",
            "ok 12 é",
            "ok 13 - a\t",
            "not ok 14 -",
            "ok 99999999999999999999 x",
            "ok x",
            "ok 2 x",
        ];
        let mut reader = TapReader::new();
        let mut spelled = 0;
        for line in lines {
            reader.line(line, |event| {
                if let TapEvent::Result(result) = event {
                    let mut name = String::new();
                    result.write_name(&mut name);
                    assert_eq!(name, test_name(result.number, result.description), "{line}");
                    assert_eq!(name, result.name(), "{line}");
                    spelled += usize::from(!result.spelled.is_empty());
                }
            });
        }
        // Copied for tests 1, 2, 9, 10, 12, 13 and 14; the others are
        // numbered otherwise than they are named, or spaced otherwise.
        assert_eq!(spelled, 7);
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let last = format!("{}", u64::MAX);
        let events = events(&format!("ok {last}\nok\n1..{last}\n"));
        assert_eq!(events.len(), 5, "{events:?}");
        assert!(events[0].starts_with("missing 1.."), "{events:?}");
    }

    #[test]
    fn may_read_lets_every_tap_line_through() {
        for line in ["ok", "not ok", "1..2", "# x", "Bail out!", "\x1b[32mok"] {
            assert!(TapReader::may_read(line.as_bytes()), "{line}");
        }
        for line in ["", "make: x", "  ok 1", "2..3"] {
            assert!(!TapReader::may_read(line.as_bytes()), "{line}");
        }
    }
}
