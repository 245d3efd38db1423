//! `subunit-ls`: the tests of a stream, one per line, in python-subunit's
//! order and format (its `TestIdPrintingResult`).

use std::collections::hash_map::Entry;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rustc_hash::FxHashMap as HashMap;

use crate::cli::{self, Error, ReadLog};
use crate::codec::packet::{Packet, Status};
use crate::formats::v1::python_micros;
use crate::results::stats::Summary;
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit-ls";

/// Arguments of `subunit-ls`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "List the tests of a subunit v2 stream",
    long_about = "List the tests of a subunit v2 stream, one test id per line, as each \
                  test ends, in the order and format of python-subunit's subunit-ls. Tests \
                  still running when the input ends are listed last.\n\n\
                  As in python-subunit, chatter (bytes that are not subunit) and the content \
                  of file packets without a test id are written to standard output as they \
                  come, unless --no-passthrough is given. The exit status is 1 when a test \
                  failed or never finished."
)]
pub struct Args {
    /// Streams to read, in order, as one run; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// List the time each test took, in seconds (from the timestamps of the
    /// stream).
    #[arg(long)]
    pub times: bool,

    /// Also list the tests reported as existing (enumerated), as they come.
    #[arg(long)]
    pub exists: bool,

    /// Hide all non-subunit input (chatter and files without a test id).
    #[arg(long)]
    pub no_passthrough: bool,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "The tests of a run:\n\n    subunit-ls --no-passthrough run.subunit\n\n\
         The ten slowest:\n\n    subunit-ls --no-passthrough --times run.subunit | sort -k2 -rn | head\n\n\
         The tests a suite would run:\n\n    python -m subunit.run discover --list | subunit-ls --exists",
    ),
    (
        "LISTING",
        "A test id is printed when a packet of it carries a final status (success, \
         uxsuccess, skip, fail or xfail); with --exists also for each exists packet. \
         Tests are told apart by test id alone, as python-subunit does (not by route \
         code). A test's time runs from its latest packet with an inprogress status or \
         none to its final status, as the latest timestamp seen on a packet with a test \
         id says, printed as seconds with three decimals (%0.3f of whole microseconds, \
         as python's timedelta holds them). A test with no such packet before its end, \
         or no timestamp then, takes 0.000. Tests whose last packet was inprogress or \
         without a status when the input ends are printed then, in the order they \
         first started, with the time of the last timestamp seen; so is a test of \
         which a packet without a status (an attachment) came after its end, as in \
         python-subunit.",
    ),
    (
        "DAMAGED INPUT",
        "Bytes that are not a valid packet are chatter; a damaged packet gives up only \
         its first byte, so valid packets inside or after it are still found. Chatter \
         is passed through unless --no-passthrough; the number of damaged packets is \
         reported once on standard error.",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "Several files may be given; they are read in order as one run (python-subunit \
         takes one). With --times, python-subunit stops with an AttributeError traceback \
         at the first test without a start time (a stream without timestamps, or a test \
         with only a final packet) and on every exists packet with --exists; here such \
         a test takes 0.000. Damaged packets do not end the stream or become a failing \
         subunit.parser test that is listed and fails the run: they are chatter, passed \
         through, and reported on standard error; packets with the reserved flag set or \
         a version other than 2, which python-subunit reads, are chatter too (SPEC). Output comes in stream order, flushed \
         whenever the input pauses; python-subunit writes test ids through a buffer that \
         chatter bypasses, so unless PYTHONUNBUFFERED is set its ids come after \
         chatter that followed them.",
    ),
    (
        "EXIT STATUS",
        "0 when no test failed; 1 when a test (by test id and route code) failed or \
         never finished, as python-subunit's; unexpected successes do not count. 2 on \
         usage errors and when an input cannot be opened or read. A closed standard \
         output (as by head) ends the command quietly with status 0.",
    ),
];

/// A test in progress: when it started (in whole microseconds since the
/// epoch, if a timestamp had been seen), and its place in python's dict.
#[derive(Debug, Clone, Copy)]
struct Active {
    order: u64,
    start: Option<i64>,
}

/// python-subunit's `TestIdPrintingResult`, writing to `out`.
struct Lister {
    times: bool,
    exists: bool,
    /// The latest timestamp of a packet with a test id, in microseconds.
    now: Option<i64>,
    active: HashMap<Box<str>, Active>,
    next_order: u64,
    line: Vec<u8>,
}

impl Lister {
    fn packet(&mut self, packet: &Packet<'_>, out: &mut impl Write) -> std::io::Result<()> {
        // python returns at once for a missing or empty test id.
        let Some(test_id) = packet.test_id().filter(|id| !id.is_empty()) else {
            return Ok(());
        };
        if let Some(ts) = packet.timestamp() {
            self.now = Some(i64::from(ts.seconds) * 1_000_000 + python_micros(ts.nanos) as i64);
        }
        match packet.status() {
            Status::Exists => {
                if self.exists {
                    self.report(test_id, None, out)?;
                }
            }
            Status::InProgress | Status::Unset => {
                let now = self.now;
                match self.active.entry(test_id.into()) {
                    // A dict keeps a key's place when its value changes.
                    Entry::Occupied(mut entry) => entry.get_mut().start = now,
                    Entry::Vacant(entry) => {
                        entry.insert(Active {
                            order: self.next_order,
                            start: now,
                        });
                        self.next_order += 1;
                    }
                }
            }
            _ => {
                let start = self.active.remove(test_id).and_then(|a| a.start);
                self.end(test_id, start, out)?;
            }
        }
        Ok(())
    }

    fn end(
        &mut self,
        test_id: &str,
        start: Option<i64>,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        // A start time implies a time now.
        let duration = start.zip(self.now).map(|(start, now)| now - start);
        self.report(test_id, duration, out)
    }

    fn report(
        &mut self,
        test_id: &str,
        micros: Option<i64>,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(test_id.as_bytes());
        if self.times {
            let seconds = python_seconds(micros.unwrap_or(0));
            let _ = write!(self.line, " {seconds:.3}");
        }
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    /// The tests still active, in the order they entered python's dict.
    fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let mut left: Vec<(Box<str>, Active)> = self.active.drain().collect();
        left.sort_unstable_by_key(|(_, a)| a.order);
        for (test_id, active) in left {
            self.end(&test_id, active.start, out)?;
        }
        Ok(())
    }
}

/// A duration as python-subunit's `reportTest` makes it a float: whole
/// seconds (`days * 86400 + seconds` of the timedelta, so floored) plus
/// microseconds / 1e6.
fn python_seconds(micros: i64) -> f64 {
    micros.div_euclid(1_000_000) as f64 + micros.rem_euclid(1_000_000) as f64 / 1_000_000.0
}

/// Runs `subunit-ls`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut out = cli::stdout();
    let mut lister = Lister {
        times: args.times,
        exists: args.exists,
        now: None,
        active: HashMap::default(),
        next_order: 0,
        line: Vec::new(),
    };
    let mut summary = Summary::new(0);
    let mut log = ReadLog::default();
    let passthrough = !args.no_passthrough;
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    if packet.test_id().is_none() {
                        if let (true, Some(file)) = (passthrough, packet.file()) {
                            out.write_all(file.content)?;
                        }
                    } else {
                        lister.packet(&packet, &mut out)?;
                    }
                    summary.packet(&packet);
                }
                Item::Chatter(chatter) => {
                    if passthrough {
                        out.write_all(chatter.bytes)?;
                    }
                }
                Item::Idle => out.flush()?,
            }
        }
        log.add_reader(&reader);
    }
    lister.finish(&mut out)?;
    out.flush()?;
    summary.finish();
    log.report(NAME);
    Ok(if summary.was_successful() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_floored_seconds_plus_microseconds() {
        assert_eq!(format!("{:.3}", python_seconds(1_062_500)), "1.062");
        assert_eq!(format!("{:.3}", python_seconds(187_500)), "0.188");
        assert_eq!(format!("{:.3}", python_seconds(-250_000)), "-0.250");
        assert_eq!(format!("{:.3}", python_seconds(0)), "0.000");
    }
}
