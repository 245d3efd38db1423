//! `subunit-stats`: a summary of a stream (SPEC section 4).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::cli::{self, Error, ReadLog};
use crate::codec::batch::PacketBatch;
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Packet, Status};
use crate::results::stats::Summary;
use crate::stream::offload::{Batches, Offload};
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit-stats";

/// Arguments of `subunit-stats`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Summarise a subunit v2 stream: tests run, passed, failed, skipped",
    long_about = "Summarise a subunit v2 stream: tests run, passed, failed and skipped, and \
                  the tags seen, in the words and numbers of python-subunit's subunit-stats. \
                  The exit status is 1 when a test failed (or never finished), else 0.\n\n\
                  As in python-subunit, chatter (bytes that are not subunit) and the content \
                  of file packets without a test id are written to standard output as they \
                  arrive, before the summary, unless --no-passthrough is given."
)]
pub struct Args {
    /// Streams to read, in order, as one run; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Hide all non-subunit input (chatter and files without a test id).
    #[arg(long)]
    pub no_passthrough: bool,

    /// Write the summary to PATH rather than standard output.
    #[arg(short, long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub output_to: Option<PathBuf>,

    /// Forward the subunit stream on standard output, chatter wrapped as
    /// `stdout` file packets (dropped with --no-passthrough).
    #[arg(short, long)]
    pub forward: bool,

    /// Print the summary as one JSON document (no passthrough).
    #[arg(long, conflicts_with = "forward")]
    pub json: bool,

    /// Also list the N slowest tests with their durations.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub slowest: usize,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Count the tests of an automake suite:\n\n    make check | subunit-wrap | subunit-stats\n\n\
         Counts for a script:\n\n    subunit-stats --json run.subunit | jq .failed\n\n\
         The five slowest tests:\n\n    subunit-stats --no-passthrough --slowest 5 run.subunit",
    ),
    (
        "COUNTING",
        "A test is identified by its test id and route code; it ends at its first \
         success, uxsuccess, skip, fail or xfail packet, and exists (enumeration) packets \
         are ignored. Tests that never end count as failed and are listed on standard \
         error. Passed tests are all others that did not fail and were not skipped, so \
         xfail and uxsuccess count as passed, as in python-subunit. A test's tags are \
         those of its latest packet with tags; Seen tags lists those of all tests.",
    ),
    (
        "JSON",
        "--json prints one object: total, passed, failed, skipped; outcomes (tests per \
         final status, with inprogress and unknown for tests that never ended); tags; \
         run_time (seconds from the earliest to the latest timestamp, or null); \
         test_time (the tests' durations added up, each from its first to its last \
         timestamp); route_codes (tests per route code); damaged_packets; \
         chatter_bytes; unfinished (the tests that never ended); and, with --slowest, \
         slowest (test_id, route_code, seconds). Times are worked out in whole \
         nanoseconds from the timestamps' integer seconds and nanoseconds, then written \
         as the nearest double: 0.26149, not the 0.2614901065826416 of subtracting \
         epoch seconds held as floats.",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "Several files may be given; they are read in order as one run. Damaged packets \
         do not end the stream or become a failing subunit.parser test: they are kept as \
         chatter and reported once on standard error. --json and --slowest are new.",
    ),
    (
        "EXIT STATUS",
        "0 when no test failed, 1 when a test failed or never finished, 2 on usage \
         errors and when an input cannot be opened or read. A closed standard output \
         (as by head) ends the command quietly with status 0.",
    ),
];

/// Runs `subunit-stats`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut summary_file = match &args.output_to {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|source| {
            Error::Create {
                path: path.clone(),
                source,
            }
        })?)),
        None => None,
    };
    let mut out = cli::stdout();
    let mode = Mode::new(args.forward, args.no_passthrough, args.json);
    let Counted {
        summary,
        log,
        chatter_bytes,
    } = count(inputs, mode, args.slowest, &mut out)?;

    let summary_out: &mut dyn Write = match &mut summary_file {
        Some(file) => file,
        None => &mut out,
    };
    if args.json {
        let doc = json_summary(&summary, log.damaged(), chatter_bytes, args.slowest > 0);
        serde_json::to_writer_pretty(&mut *summary_out, &doc).map_err(io::Error::from)?;
        summary_out.write_all(b"\n")?;
    } else {
        summary_out.write_all(summary.python_text().as_bytes())?;
        if args.slowest > 0 {
            write_slowest(&summary, summary_out)?;
        }
    }
    summary_out.flush()?;
    out.flush()?;
    log.report(NAME);
    if !args.json {
        report_unfinished(&summary);
    }
    Ok(if summary.was_successful() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What [`count`] found.
pub(crate) struct Counted {
    /// The run's statistics.
    pub(crate) summary: Summary,
    /// What reading the inputs met (damage, v1 text).
    pub(crate) log: ReadLog,
    /// Bytes of chatter seen.
    pub(crate) chatter_bytes: u64,
}

/// Reads `inputs` as one run and counts it, writing to `out` what `mode`
/// passes on as it comes; shared with subunit-notify, which counts as
/// python's does the same way.
pub(crate) fn count(
    inputs: Vec<cli::Input>,
    mode: Mode,
    slowest: usize,
    out: &mut impl Write,
) -> Result<Counted, Error> {
    // Counting runs on a second thread, fed batches of packets, while this
    // one reads, decodes and passes output through: the two halves of the
    // work take about as long as each other.
    let mut counter = Offload::spawn("counting", move |batches: &mut Batches<PacketBatch>| {
        let mut summary = Summary::new(slowest);
        while let Some(batch) = batches.next_batch() {
            for packet in batch.iter() {
                summary.packet(&packet);
            }
        }
        summary.finish();
        summary
    })
    .map_err(Error::Write)?;

    let mut log = ReadLog::default();
    let mut chatter_bytes = 0u64;
    let mut scratch = Vec::new();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    mode.packet(&packet, out)?;
                    // Fails only if the counting thread died, which finish reports.
                    let _ = counter.push(&packet);
                }
                Item::Chatter(chatter) => {
                    chatter_bytes += chatter.bytes.len() as u64;
                    mode.chatter(chatter.bytes, out, &mut scratch)?;
                }
                Item::Idle => out.flush()?,
            }
        }
        log.add_reader(&reader);
    }
    let summary = counter.finish();
    Ok(Counted {
        summary,
        log,
        chatter_bytes,
    })
}

/// What goes to standard output besides the summary.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    /// Chatter and files without a test id, unwrapped (the default).
    Passthrough,
    /// Nothing.
    Quiet,
    /// The stream itself, chatter wrapped in `stdout` file packets as
    /// python-subunit does; without passthrough, only test packets.
    Forward { passthrough: bool },
}

impl Mode {
    /// The mode python's options choose: `--forward`, `--no-passthrough`,
    /// and whether nothing but the summary may be written (`--json`).
    pub(crate) fn new(forward: bool, no_passthrough: bool, summary_only: bool) -> Mode {
        if forward {
            Mode::Forward {
                passthrough: !no_passthrough,
            }
        } else if no_passthrough || summary_only {
            Mode::Quiet
        } else {
            Mode::Passthrough
        }
    }

    fn packet(self, packet: &Packet<'_>, out: &mut impl Write) -> io::Result<()> {
        match self {
            Mode::Passthrough if packet.test_id().is_none() => match packet.file() {
                Some(file) => out.write_all(file.content),
                None => Ok(()),
            },
            Mode::Forward { passthrough } if passthrough || packet.test_id().is_some() => {
                out.write_all(packet.raw())
            }
            _ => Ok(()),
        }
    }

    fn chatter(self, bytes: &[u8], out: &mut impl Write, scratch: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Mode::Passthrough => out.write_all(bytes),
            Mode::Forward { passthrough: true } => {
                scratch.clear();
                let event = Event {
                    runnable: true,
                    file: Some(("stdout", bytes)),
                    ..Event::default()
                };
                encode(&event, scratch).map_err(io::Error::other)?;
                out.write_all(scratch)
            }
            _ => Ok(()),
        }
    }
}

/// Writes `Slowest tests:` and the slowest tests, one a line (shared with
/// subunit-trace).
pub(crate) fn write_slowest(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "Slowest tests:")?;
    for test in summary.slowest() {
        let seconds = test.seconds();
        match &test.route_code {
            Some(route) => writeln!(out, "{seconds:>12.3}s  {} [{route}]", test.test_id)?,
            None => writeln!(out, "{seconds:>12.3}s  {}", test.test_id)?,
        }
    }
    Ok(())
}

fn report_unfinished(summary: &Summary) {
    let unfinished = summary.unfinished();
    if unfinished.len() == 0 {
        return;
    }
    const SHOWN: usize = 10;
    let count = unfinished.len();
    let mut names: Vec<&str> = unfinished.take(SHOWN).map(|t| t.test_id).collect();
    let more = format!("and {} more", count.saturating_sub(SHOWN));
    if count > SHOWN {
        names.push(&more);
    }
    let (n, plural) = match count {
        1 => (1, " test"),
        n => (n, " tests"),
    };
    eprintln!(
        "{NAME}: {n}{plural} never finished (counted as failed): {}",
        names.join(", ")
    );
}

fn json_summary(
    summary: &Summary,
    damaged: u64,
    chatter_bytes: u64,
    with_slowest: bool,
) -> serde_json::Value {
    let mut outcomes = serde_json::Map::new();
    for status in Status::ALL {
        if status != Status::Exists {
            let name = status.name().unwrap_or("unknown");
            outcomes.insert(name.into(), summary.outcome(status).into());
        }
    }
    let unfinished: Vec<_> = summary
        .unfinished()
        .map(|t| {
            json!({
                "test_id": t.test_id,
                "route_code": t.route_code,
                "status": t.status.name().unwrap_or("unknown"),
            })
        })
        .collect();
    let mut doc = json!({
        "total": summary.total(),
        "passed": summary.passed(),
        "failed": summary.failed(),
        "skipped": summary.skipped(),
        "outcomes": outcomes,
        "tags": summary.seen_tags(),
        "run_time": summary.run_time(),
        "test_time": summary.test_time(),
        "route_codes": summary.route_codes(),
        "damaged_packets": damaged,
        "chatter_bytes": chatter_bytes,
        "unfinished": unfinished,
    });
    if with_slowest {
        doc["slowest"] = summary
            .slowest()
            .iter()
            .map(|t| {
                json!({
                    "test_id": t.test_id,
                    "route_code": t.route_code,
                    "seconds": t.seconds(),
                })
            })
            .collect();
    }
    doc
}
