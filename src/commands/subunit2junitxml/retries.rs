//! Retries: a test that failed and later passed in the same stream.
//!
//! Every flavor names such tests in the summary. Under `--flavor jenkins`
//! the failed runs are also folded into the passing case as Surefire's
//! `<flakyFailure>` elements: a failed run is held back (in a
//! temporary file, not memory) rather than written, since only a later
//! pass or the end of the stream tells whether it stays a failure.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use rustc_hash::FxHashMap;

use crate::formats::junit_write::Outcome;

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
    len: u64,
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
                let file = match &mut self.file {
                    Some(file) => file,
                    none => none.insert(crate::os::unlinked_temp_file(&std::env::temp_dir())?),
                };
                file.write_all_at(written, self.len)?;
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
        let mut buf = Vec::new();
        for run in self.held.iter().filter(|r| r.suite == suite && !r.folded) {
            buf.clear();
            self.read(run.at, run.case, &mut buf)?;
            out.write_all(&buf)?;
        }
        Ok(())
    }

    fn read(&self, at: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let file = self.file.as_ref().expect("held runs are in the file");
        let start = out.len();
        out.resize(start + len, 0);
        file.read_exact_at(&mut out[start..], at)
    }
}
