//! The result lines of automake's parallel test driver (`PASS: name`,
//! `FAIL:`, ...), as `make check` prints them, and where they only repeat.
//!
//! When a suite fails, `make check VERBOSE=yes` prints the global log,
//! `test-suite.log`, between the results and the summary:
//!
//! ```text
//! .. contents:: :depth: 2
//!
//! FAIL: fail
//! ==========
//!
//! (the test's own output, then its result once more)
//! ...
//! ============================================================================
//! Testsuite summary for PACKAGE VERSION
//! ```
//!
//! Each test that did not pass gets a section headed by its result line,
//! then its log: the test's own output (where a line that looks like a
//! result is not one of automake's) and, for TAP tests, a copy of every
//! result line the TAP driver printed. None of it is a new result, so an
//! [`AutomakeReader`] reads no results from the `.. contents::` line to the
//! `Testsuite summary` line: each test is counted once, from the line its
//! driver printed when it ran, and a stream's count is automake's
//! `# TOTAL:`. Nothing is held back: a result line is a result as soon as
//! it is complete.

use crate::codec::packet::Status;

/// The line after which `test-suite.log`'s sections follow.
const LOG_START: &str = ".. contents:: :depth: 2";
/// The start of the line after `test-suite.log` when `make check` prints it.
const LOG_END: &str = "Testsuite summary";

/// `PASS: name` and the other lines of automake's parallel test driver.
pub fn automake_result(text: &str) -> Option<(Status, &str)> {
    let (word, name) = text.split_once(": ")?;
    let status = match word {
        "PASS" => Status::Success,
        "FAIL" | "ERROR" => Status::Fail,
        "XFAIL" => Status::XFail,
        "XPASS" => Status::UxSuccess,
        "SKIP" => Status::Skip,
        _ => return None,
    };
    let name = name.trim();
    (!name.is_empty()).then_some((status, name))
}

/// Follows `make check` output line by line; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct AutomakeReader {
    in_global_log: bool,
}

impl AutomakeReader {
    /// A reader outside `test-suite.log`.
    pub fn new() -> AutomakeReader {
        AutomakeReader::default()
    }

    /// Whether a line could mean anything to the reader, from its first
    /// byte (a cheap test to skip most lines of big logs without looking
    /// further). Lines starting with an escape sequence may matter once it
    /// is removed.
    pub fn may_read(line: &[u8]) -> bool {
        line.first()
            .is_some_and(|first| b"PFXSE.T\x1b".contains(first))
    }

    /// Reads one line (without its newline, colours removed): the result
    /// it reports, if any.
    pub fn line<'a>(&mut self, line: &'a str) -> Option<(Status, &'a str)> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if self.in_global_log {
            self.in_global_log = !line.starts_with(LOG_END);
            None
        } else if line.trim_end() == LOG_START {
            self.in_global_log = true;
            None
        } else {
            automake_result(line)
        }
    }

    /// Whether the lines read now are inside `test-suite.log`, whose lines
    /// only repeat results already reported (or are tests' own output):
    /// other formats' results (TAP) are not read there either.
    pub fn in_global_log(&self) -> bool {
        self.in_global_log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(text: &str) -> Vec<(Status, String)> {
        let mut reader = AutomakeReader::new();
        text.lines()
            .filter_map(|line| reader.line(line))
            .map(|(status, name)| (status, name.to_owned()))
            .collect()
    }

    #[test]
    fn result_lines() {
        assert_eq!(
            results(
                "PASS: a\nFAIL:  b \r\nERROR: c\nXFAIL: d\nXPASS: e\nSKIP: f\nPASSED: g\nPASS:\nPASS: \n"
            ),
            [
                (Status::Success, "a".into()),
                (Status::Fail, "b".into()),
                (Status::Fail, "c".into()),
                (Status::XFail, "d".into()),
                (Status::UxSuccess, "e".into()),
                (Status::Skip, "f".into()),
            ]
        );
    }

    #[test]
    fn the_global_log_repeats_and_is_not_counted() {
        let text = "FAIL: t.sh\n.. contents:: :depth: 2\n\nFAIL: t\n=======\n\nPASS: output\n\
                    \n===\nTestsuite summary for x 1.0\n# TOTAL: 1\nPASS: next-dir.sh\n";
        assert_eq!(
            results(text),
            [
                (Status::Fail, "t.sh".into()),
                (Status::Success, "next-dir.sh".into())
            ]
        );
    }

    /// A real `make check VERBOSE=yes` of tests/data/automake (made by
    /// tests/automake.rs, which checks it again against today's automake):
    /// as many results as automake's own `# TOTAL:`, each test once.
    #[test]
    fn a_captured_verbose_make_check_counts_each_test_once() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/automake-verbose.log"
        );
        let text = std::fs::read_to_string(path).expect("captured output");
        let total: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("# TOTAL:"))
            .expect("a summary")
            .trim()
            .parse()
            .expect("a count");
        let found = results(&text);
        assert_eq!(found.len(), total, "{found:?}");
        // The console's lines, each once; none of the log's.
        let console: Vec<(Status, String)> = text
            .lines()
            .take_while(|l| !l.starts_with("====="))
            .filter_map(automake_result)
            .map(|(s, n)| (s, n.to_owned()))
            .collect();
        assert_eq!(found, console);
        assert!(
            text.contains("\nFAIL: fail\n==========\n"),
            "headings in the log"
        );
    }
}
