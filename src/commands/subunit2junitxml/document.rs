//! The document's frame: the `<testsuites>` and `<testsuite>` start tags,
//! which carry counts known only at the end, and writing the report in
//! place when its file allows it.
//!
//! A report on a pipe is written at the end: each suite's cases wait in a
//! temporary file until its counts are known. A report in a regular file
//! (`-o PATH`, or standard output sent to one) with a single suite is
//! written as it goes: start tags as wide as they can ever be come first,
//! the cases straight after, and at the end the start tags with the real
//! counts are written over the first ones, padded with spaces inside the
//! tag (which XML allows), so the cases are written once, not twice.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use crate::codec::packet::Timestamp;
use crate::formats::junit_write::{Outcome, Seconds, escape, push_number};
use crate::formats::v1::python_time;

/// A suite's (or the run's) counts and first and last timestamps.
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)] // the attributes of the same names
pub struct Counts {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub passed: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl Counts {
    /// The largest counts and time span: the widest start tags.
    const WIDEST: Counts = Counts {
        tests: u64::MAX,
        failures: u64::MAX,
        errors: u64::MAX,
        skipped: u64::MAX,
        passed: 0,
        first: Some(Timestamp {
            seconds: 0,
            nanos: 0,
        }),
        last: Some(Timestamp {
            seconds: u32::MAX,
            nanos: (1 << 30) - 1,
        }),
    };

    /// Counts a case.
    pub fn count(&mut self, outcome: Outcome) {
        self.tests += 1;
        *self.of(outcome) += 1;
    }

    /// Takes back a case counted before.
    pub fn uncount(&mut self, outcome: Outcome) {
        self.tests -= 1;
        *self.of(outcome) -= 1;
    }

    fn of(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Failure => &mut self.failures,
            Outcome::Error => &mut self.errors,
            Outcome::Skipped => &mut self.skipped,
            // Passes are the tests that are none of these.
            Outcome::Passed => &mut self.passed,
        }
    }

    /// Widens the time span to take in `timestamp`.
    pub fn saw(&mut self, timestamp: Timestamp) {
        if self.first.is_none_or(|f| timestamp < f) {
            self.first = Some(timestamp);
        }
        if self.last.is_none_or(|l| timestamp > l) {
            self.last = Some(timestamp);
        }
    }

    /// Adds another suite's counts.
    pub fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.passed += other.passed;
        for ts in [other.first, other.last].into_iter().flatten() {
            self.saw(ts);
        }
    }

    fn span(&self) -> Seconds {
        match (self.first, self.last) {
            (Some(a), Some(b)) => Seconds::between(a, b),
            _ => Seconds::default(),
        }
    }

    fn attributes(&self, out: &mut Vec<u8>) {
        for (name, n) in [
            (&b" tests=\""[..], self.tests),
            (b"\" failures=\"", self.failures),
            (b"\" errors=\"", self.errors),
            (b"\" skipped=\"", self.skipped),
        ] {
            out.extend_from_slice(name);
            push_number(n, out);
        }
        out.extend_from_slice(b"\" time=\"");
        self.span().write(out);
        out.push(b'"');
    }
}

/// The XML declaration and the `<testsuites>` start tag, at least `width`
/// bytes long (padded with spaces before its `>`).
pub fn head(run: &Counts, width: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    run.attributes(out);
    close_tag_from(out, start, width);
}

/// A `<testsuite>` start tag, at least `width` bytes long.
pub fn suite_tag(name: &str, counts: &Counts, width: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(b"  <testsuite name=\"");
    escape(name.as_bytes(), true, out);
    out.push(b'"');
    counts.attributes(out);
    if let Some(first) = counts.first {
        let text = python_time(first);
        out.extend_from_slice(b" timestamp=\"");
        out.extend_from_slice(text[..19].replace(' ', "T").as_bytes());
        out.push(b'"');
    }
    close_tag_from(out, start, width);
}

/// Ends a start tag begun at `start` with `>` and a newline, padded so
/// that it takes at least `width` bytes.
fn close_tag_from(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len() - start + 2;
    out.resize(out.len() + width.saturating_sub(len), b' ');
    out.extend_from_slice(b">\n");
}

/// A report being written in place into its file (see the module).
pub struct InPlace {
    /// Where the cases go.
    pub out: BufWriter<File>,
    /// Where the document starts in the file.
    at: u64,
    head: usize,
    suite: usize,
}

impl InPlace {
    /// Starts the document in `file` when it is a regular file written at
    /// its offset (not appended to: `O_APPEND` writes ignore offsets), the
    /// start tags as wide as they can be; the file back otherwise.
    pub fn start(mut file: File, suite_name: &str) -> io::Result<Result<InPlace, File>> {
        use std::io::Seek;
        // SAFETY: F_GETFL on an open descriptor only reads its flags.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        if !file.metadata()?.is_file() || flags < 0 || flags & libc::O_APPEND != 0 {
            return Ok(Err(file));
        }
        let Ok(at) = file.stream_position() else {
            return Ok(Err(file));
        };
        let mut widest = Vec::new();
        head(&Counts::WIDEST, 0, &mut widest);
        let head_len = widest.len();
        suite_tag(suite_name, &Counts::WIDEST, 0, &mut widest);
        let suite = widest.len() - head_len;
        file.write_all(&widest)?;
        Ok(Ok(InPlace {
            out: BufWriter::with_capacity(1 << 16, file),
            at,
            head: head_len,
            suite,
        }))
    }

    /// Writes the real start tags over the widest ones, once everything
    /// else is written.
    pub fn finish(self, run: &Counts, suite_name: &str, suite: &Counts) -> io::Result<()> {
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        let mut tags = Vec::new();
        head(run, self.head, &mut tags);
        suite_tag(suite_name, suite, self.suite, &mut tags);
        assert_eq!(
            tags.len(),
            self.head + self.suite,
            "start tags as wide as the widest"
        );
        file.write_all_at(&tags, self.at)
    }
}
