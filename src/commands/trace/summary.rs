//! The summary after the trace: os-testr's totals and worker balance, then
//! the slowest tests and the tests left in progress.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::codec::packet::{Status, Timestamp};
use crate::results::stats::Summary;

/// Tests and time per worker.
#[derive(Debug, Default)]
pub(super) struct Workers {
    by_name: BTreeMap<String, Worker>,
}

#[derive(Debug, Default)]
struct Worker {
    tests: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    test_nanos: u128,
}

fn nanos(t: Timestamp) -> i128 {
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

impl Workers {
    /// Counts a test of `worker` that ran from `first` to `last`.
    pub(super) fn add(&mut self, worker: &str, first: Option<Timestamp>, last: Option<Timestamp>) {
        let entry = match self.by_name.get_mut(worker) {
            Some(entry) => entry,
            None => self.by_name.entry(worker.to_owned()).or_default(),
        };
        entry.tests += 1;
        if let Some(first) = first {
            entry.first = Some(entry.first.map_or(first, |f| f.min(first)));
        }
        if let Some(last) = last {
            entry.last = Some(entry.last.map_or(last, |l| l.max(last)));
        }
        if let (Some(first), Some(last)) = (first, last) {
            entry.test_nanos += u128::try_from(nanos(last) - nanos(first)).unwrap_or(0);
        }
    }

    /// The workers, numbered ones by number first, then the others by name.
    fn sorted(&self) -> Vec<(&str, &Worker)> {
        let mut workers: Vec<(&str, &Worker)> =
            self.by_name.iter().map(|(k, v)| (k.as_str(), v)).collect();
        workers.sort_by_key(|&(name, _)| name.parse::<u64>().map_err(|_| name.to_owned()));
        workers
    }
}

/// Python's `str(timedelta)`: `H:MM:SS.ffffff`, with `N days, ` before.
pub(super) fn timedelta(nanos: u128) -> String {
    let micros = nanos / 1000;
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let (days, secs) = (secs / 86_400, secs % 86_400);
    let mut text = match days {
        0 => String::new(),
        1 => "1 day, ".to_owned(),
        n => format!("{n} days, "),
    };
    text += &format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac > 0 {
        text += &format!(".{frac:06}");
    }
    text
}

/// Writes the summary: totals (`wall` is the run's time in seconds),
/// worker balance, the slowest tests if asked for, and the tests left in
/// progress.
pub(super) fn write_summary(
    out: &mut impl Write,
    summary: &Summary,
    workers: &Workers,
    wall: f64,
    slowest: bool,
) -> io::Result<()> {
    let unfinished = summary.unfinished().len() as u64;
    write!(out, "\n======\nTotals\n======\n")?;
    writeln!(out, "Ran: {} tests in {wall:.4} sec.", summary.total())?;
    for (label, status) in [
        ("Passed", Status::Success),
        ("Skipped", Status::Skip),
        ("Expected Fail", Status::XFail),
        ("Unexpected Success", Status::UxSuccess),
        ("Failed", Status::Fail),
    ] {
        writeln!(out, " - {label}: {}", summary.outcome(status))?;
    }
    if unfinished > 0 {
        writeln!(out, " - Did not finish: {unfinished}")?;
    }
    writeln!(
        out,
        "Sum of execute time for each test: {:.4} sec.",
        summary.test_time()
    )?;
    let sorted = workers.sorted();
    if !sorted.is_empty() {
        write!(out, "\n==============\nWorker Balance\n==============\n")?;
        let mut expected = 0u64;
        for (name, worker) in sorted {
            if let Ok(n) = name.parse::<u64>() {
                for missing in expected..n {
                    writeln!(out, " - WARNING: missing Worker {missing}!")?;
                }
                expected = n + 1;
            }
            let span = match (worker.first, worker.last) {
                (Some(first), Some(last)) => {
                    timedelta(u128::try_from(nanos(last) - nanos(first)).unwrap_or(0))
                }
                _ => "N/A".to_owned(),
            };
            writeln!(
                out,
                " - Worker {name} ({} tests) => {span} (test time {})",
                worker.tests,
                timedelta(worker.test_nanos)
            )?;
        }
    }
    if slowest {
        out.write_all(b"\n")?;
        crate::commands::stats::write_slowest(summary, out)?;
    }
    if unfinished > 0 {
        write!(
            out,
            "\n================\nDid Not Finish\n================\n"
        )?;
        for test in summary.unfinished() {
            match test.route_code {
                Some(route) => writeln!(out, " - {{{route}}} {}", test.test_id)?,
                None => writeln!(out, " - {}", test.test_id)?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedelta_as_python_prints_it() {
        assert_eq!(timedelta(0), "0:00:00");
        assert_eq!(timedelta(1_234_567_000), "0:00:01.234567");
        assert_eq!(timedelta(3_723_000_000_000), "1:02:03");
        assert_eq!(
            timedelta(2 * 86_400_000_000_000 + 5_000_000_000),
            "2 days, 0:00:05"
        );
    }

    #[test]
    fn workers_by_number_then_name() {
        let mut w = Workers::default();
        for name in ["10", "b", "2", "a"] {
            w.add(name, None, None);
        }
        let names: Vec<&str> = w.sorted().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["2", "10", "a", "b"]);
    }
}
