//! Retries: a test that failed and later passed in the same stream.
//!
//! Every flavor names such tests in the summary. Under `--flavor jenkins`
//! the failed runs are also folded into the passing case as Surefire's
//! `<flakyFailure>` elements: a failed run is held back (in a
//! temporary file, not memory) rather than written, since only a later
//! pass or the end of the stream tells whether it stays a failure. The
//! file is written a buffer at a time, and read back in order at the end:
//! a run of many failures is not two system calls per failure.

use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;

use rustc_hash::{FxBuildHasher, FxHashMap};

use super::NAMED;
use crate::formats::junit_write::Outcome;

/// Held bytes kept in memory before they go to the file, and the buffer
/// they are read back through.
const PENDING: usize = 256 * 1024;

/// No held run (the end of a test's chain of them).
const NONE: u32 = u32::MAX;

/// A failed run held back (jenkins flavor): 32 bytes, since a long run
/// may hold many.
#[derive(Debug)]
pub struct HeldRun {
    /// The suite it belongs to.
    pub suite: u32,
    /// Lengths of the `<testcase>` and of the rerun element.
    case: u32,
    rerun: u32,
    /// The same test's held run before this one, or [`NONE`].
    before: u32,
    /// Where its `<testcase>` starts in the file; its rerun element follows.
    at: u64,
    /// How it failed.
    pub outcome: Outcome,
    /// Folded into a later pass: not written as a case of its own.
    pub folded: bool,
}

/// A test that failed and has not passed since.
#[derive(Debug)]
struct Failed {
    times: u32,
    /// Its latest held run, or [`NONE`].
    last_held: u32,
}

/// The failures of each test id so far, and the tests found flaky.
#[derive(Debug, Default)]
pub struct Retries {
    /// Tests that failed and have not passed since, by the hash of their
    /// id: 16 bytes each, not the id, since a long run may have many. Two
    /// ids with one 64-bit hash (odds of about one in 10^8 for a run with
    /// 100,000 failures among a million tests) would have the second's
    /// pass taken for a retry of the first.
    failed: FxHashMap<u64, Failed>,
    /// Held runs, in the order they came (jenkins flavor only).
    held: Vec<HeldRun>,
    file: Option<File>,
    /// The bytes held so far, the first `flushed` of them in the file and
    /// the rest in `pending`.
    len: u64,
    flushed: u64,
    pending: Vec<u8>,
    /// The first [`NAMED`] tests that failed and then passed, with how
    /// many times they failed, and how many there were in all.
    pub flaky: Vec<(String, u32)>,
    /// How many tests were flaky.
    pub flaky_count: usize,
}

impl Retries {
    fn key(id: &str) -> u64 {
        FxBuildHasher.hash_one(id)
    }

    /// Notes a failed run of `id`; with `written` (its `<testcase>` and its
    /// rerun element one after the other, `case` bytes the first), the run
    /// is held back.
    pub fn failed(
        &mut self,
        id: &str,
        held: Option<(usize, Outcome, &[u8], usize)>,
    ) -> io::Result<()> {
        let failed = self.failed.entry(Self::key(id)).or_insert(Failed {
            times: 0,
            last_held: NONE,
        });
        failed.times += 1;
        let Some((suite, outcome, written, case)) = held else {
            return Ok(());
        };
        self.pending.extend_from_slice(written);
        if self.pending.len() >= PENDING {
            let file = match &mut self.file {
                Some(file) => file,
                none => none.insert(crate::os::unlinked_temp_file(&std::env::temp_dir())?),
            };
            file.write_all_at(&self.pending, self.flushed)?;
            self.flushed += self.pending.len() as u64;
            self.pending.clear();
        }
        let too_big = || io::Error::other("a failed test case over 4 GiB cannot be held back");
        self.held.push(HeldRun {
            suite: suite as u32,
            case: u32::try_from(case).map_err(|_| too_big())?,
            rerun: u32::try_from(written.len() - case).map_err(|_| too_big())?,
            before: failed.last_held,
            at: self.len,
            outcome,
            folded: false,
        });
        failed.last_held = (self.held.len() - 1) as u32;
        self.len += written.len() as u64;
        Ok(())
    }

    /// Notes a pass of `id`: when it had failed, it is flaky, and its held
    /// runs are folded into it: their rerun elements are appended to
    /// `reruns` and the runs returned (to take them off their suites'
    /// counts).
    pub fn passed(&mut self, id: &str, reruns: &mut Vec<u8>) -> io::Result<Vec<&HeldRun>> {
        let Some(failed) = self.failed.remove(&Self::key(id)) else {
            return Ok(Vec::new());
        };
        if self.flaky.len() < NAMED {
            self.flaky.push((id.to_owned(), failed.times));
        }
        self.flaky_count += 1;
        let mut held = Vec::new();
        let mut at = failed.last_held;
        while at != NONE {
            held.push(at as usize);
            at = self.held[at as usize].before;
        }
        held.reverse();
        for &index in &held {
            let run = &self.held[index];
            self.read(run.at + run.case as u64, run.rerun as usize, reruns)?;
        }
        for &index in &held {
            self.held[index].folded = true;
        }
        Ok(held.iter().map(|&index| &self.held[index]).collect())
    }

    /// Appends the `<testcase>` elements of the held runs of `suite` that
    /// stayed failures, in the order they came.
    pub fn write_failures(&self, suite: usize, out: &mut dyn io::Write) -> io::Result<()> {
        let mut file = match self.file.as_ref() {
            Some(mut f) => {
                f.rewind()?;
                Some(BufReader::with_capacity(PENDING, f))
            }
            None => None,
        };
        // Where `file` is read to: the runs come in the order they were held.
        let mut read_to = 0;
        let mut buf = Vec::new();
        for run in self
            .held
            .iter()
            .filter(|r| r.suite as usize == suite && !r.folded)
        {
            buf.clear();
            match &mut file {
                Some(file) if run.at + (run.case as u64) <= self.flushed => {
                    file.seek_relative(run.at as i64 - read_to)?;
                    buf.resize(run.case as usize, 0);
                    file.read_exact(&mut buf)?;
                    read_to = (run.at + run.case as u64) as i64;
                }
                _ => self.read(run.at, run.case as usize, &mut buf)?,
            }
            out.write_all(&buf)?;
        }
        Ok(())
    }

    /// Appends `len` bytes held from `at` on to `out`.
    fn read(&self, at: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + len, 0);
        let into = &mut out[start..];
        let in_file = (self.flushed.saturating_sub(at) as usize).min(len);
        if in_file > 0 {
            let file = self.file.as_ref().expect("bytes flushed are in the file");
            file.read_exact_at(&mut into[..in_file], at)?;
        }
        if in_file < len {
            let from = (at + in_file as u64 - self.flushed) as usize;
            into[in_file..].copy_from_slice(&self.pending[from..from + len - in_file]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held run's `<testcase>` and rerun element, told apart by `i`
    /// and of sizes that fall across the buffer's edge at many places.
    fn run(i: usize) -> (Vec<u8>, usize) {
        let case = format!("<case {i} {}/>", "c".repeat(i % 700));
        let rerun = format!("<rerun {i} {}/>", "r".repeat(i % 300));
        ((case.clone() + &rerun).into_bytes(), case.len())
    }

    #[test]
    fn held_runs_come_back_whole_from_memory_and_from_the_file() {
        let mut retries = Retries::default();
        let n = 3000; // about 1.5 MB: most of it goes to the file
        for i in 0..n {
            let (written, case) = run(i);
            let id = format!("t{i}");
            let held = Some((i % 2, Outcome::Failure, &written[..], case));
            retries.failed(&id, held).unwrap();
        }
        assert!(retries.flushed > 0 && !retries.pending.is_empty());
        // Every third test passes later: its rerun comes back to fold.
        for i in (0..n).step_by(3) {
            let mut reruns = b"<pass>".to_vec();
            let runs = retries.passed(&format!("t{i}"), &mut reruns).unwrap();
            assert_eq!(runs.len(), 1);
            let (written, case) = run(i);
            assert_eq!(&reruns[6..], &written[case..], "rerun of t{i}");
        }
        assert_eq!(retries.flaky_count, n.div_ceil(3));
        assert_eq!(retries.flaky.len(), NAMED, "the first are named");
        assert_eq!(retries.flaky[1], ("t3".to_owned(), 1));
        // The others stay failures: each suite's cases, in order.
        for suite in 0..2 {
            let mut out = Vec::new();
            retries.write_failures(suite, &mut out).unwrap();
            let mut expected = Vec::new();
            for i in (0..n).filter(|i| i % 2 == suite && i % 3 != 0) {
                let (written, case) = run(i);
                expected.extend_from_slice(&written[..case]);
            }
            assert!(
                out == expected,
                "suite {suite}: {} vs {} bytes",
                out.len(),
                expected.len()
            );
        }
    }

    #[test]
    fn a_test_that_failed_several_times_gets_its_reruns_in_order() {
        let mut retries = Retries::default();
        for (id, i) in [("x", 0), ("y", 1), ("x", 2), ("x", 3)] {
            let (written, case) = run(i);
            retries
                .failed(id, Some((0, Outcome::Error, &written[..], case)))
                .unwrap();
        }
        retries.failed("z", None).unwrap();
        let mut reruns = Vec::new();
        let runs = retries.passed("x", &mut reruns).unwrap();
        assert_eq!(runs.len(), 3);
        let mut expected = Vec::new();
        for i in [0, 2, 3] {
            let (written, case) = run(i);
            expected.extend_from_slice(&written[case..]);
        }
        assert_eq!(
            String::from_utf8(reruns).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        assert_eq!(retries.flaky, [("x".to_owned(), 3)]);
        // A failure after the pass starts over; one not held is counted.
        let (written, case) = run(4);
        retries
            .failed("x", Some((0, Outcome::Failure, &written[..], case)))
            .unwrap();
        let mut reruns = Vec::new();
        assert_eq!(retries.passed("x", &mut reruns).unwrap().len(), 1);
        assert_eq!(reruns, &written[case..]);
        assert!(retries.passed("z", &mut reruns).unwrap().is_empty());
        assert_eq!(retries.flaky[2], ("z".to_owned(), 1));
        let mut out = Vec::new();
        retries.write_failures(0, &mut out).unwrap();
        assert_eq!(out, &run(1).0[..run(1).1], "only y's failure stays");
    }
}
