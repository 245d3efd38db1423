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
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;

use rustc_hash::FxHashMap;

use crate::formats::junit_write::Outcome;

/// Held bytes kept in memory before they go to the file, and the buffer
/// they are read back through.
const PENDING: usize = 256 * 1024;

/// A failed run held back (jenkins flavor).
#[derive(Debug)]
pub struct HeldRun {
    /// The suite it belongs to.
    pub suite: usize,
    /// How it failed.
    pub outcome: Outcome,
    /// Where its `<testcase>` starts in the file; its rerun element follows.
    at: u64,
    /// Lengths of the `<testcase>` and of the rerun element.
    case: usize,
    rerun: usize,
    /// Folded into a later pass: not written as a case of its own.
    pub folded: bool,
}

/// The failures of each test id so far, and the tests found flaky.
#[derive(Debug, Default)]
pub struct Retries {
    /// Failed runs not (yet) followed by a pass, by test id: how many, and
    /// the held runs among them.
    failed: FxHashMap<String, (u32, Vec<usize>)>,
    /// Held runs, in the order they came (jenkins flavor only).
    held: Vec<HeldRun>,
    file: Option<File>,
    /// The bytes held so far, the first `flushed` of them in the file and
    /// the rest in `pending`.
    len: u64,
    flushed: u64,
    pending: Vec<u8>,
    /// Tests that failed and then passed, with how many times they failed.
    pub flaky: Vec<(String, u32)>,
}

impl Retries {
    /// Notes a failed run of `id`; with `written` (its `<testcase>` and its
    /// rerun element one after the other, `case` bytes the first), the run
    /// is held back.
    pub fn failed(
        &mut self,
        id: &str,
        held: Option<(usize, Outcome, &[u8], usize)>,
    ) -> io::Result<()> {
        let index = match held {
            Some((suite, outcome, written, case)) => {
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
                self.held.push(HeldRun {
                    suite,
                    outcome,
                    at: self.len,
                    case,
                    rerun: written.len() - case,
                    folded: false,
                });
                self.len += written.len() as u64;
                Some(self.held.len() - 1)
            }
            None => None,
        };
        let entry = match self.failed.get_mut(id) {
            Some(entry) => entry,
            None => self.failed.entry(id.to_owned()).or_default(),
        };
        entry.0 += 1;
        entry.1.extend(index);
        Ok(())
    }

    /// Notes a pass of `id`: when it had failed, it is flaky, and its held
    /// runs are folded into it: their rerun elements are appended to
    /// `reruns` and the runs returned (to take them off their suites'
    /// counts).
    pub fn passed(&mut self, id: &str, reruns: &mut Vec<u8>) -> io::Result<Vec<&HeldRun>> {
        let Some((id, (times, held))) = self.failed.remove_entry(id) else {
            return Ok(Vec::new());
        };
        self.flaky.push((id, times));
        for &index in &held {
            let run = &self.held[index];
            self.read(run.at + run.case as u64, run.rerun, reruns)?;
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
        for run in self.held.iter().filter(|r| r.suite == suite && !r.folded) {
            buf.clear();
            match &mut file {
                Some(file) if run.at + (run.case as u64) <= self.flushed => {
                    file.seek_relative(run.at as i64 - read_to)?;
                    buf.resize(run.case, 0);
                    file.read_exact(&mut buf)?;
                    read_to = (run.at + run.case as u64) as i64;
                }
                _ => self.read(run.at, run.case, &mut buf)?,
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
        assert_eq!(retries.flaky.len(), n.div_ceil(3));
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
}
