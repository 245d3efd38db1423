//! `subunit-trace`: a live, readable view of a run, in the line format and
//! summary of os-testr's subunit-trace, with a status line on a terminal.

mod lines;
mod status;
mod summary;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use crate::cli::{self, Error, ReadLog};
use crate::codec::packet::{Packet, Status};
use crate::commands::held::{HeldArgs, HeldTests, held_man};
use crate::results::group::Test;
use crate::results::stats::Summary;
use crate::stream::reader::{Item, StreamReader};

use lines::Style;
use status::{Counts, StatusLine};
use summary::Workers;

/// The command's name.
pub const NAME: &str = "subunit-trace";

/// When to colour the outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// On a terminal, unless NO_COLOR is set (and not empty).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// What makes the exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A test failed or unexpectedly succeeded.
    Failed,
    /// A test never finished.
    Unfinished,
    /// No test finished at all.
    NoneRun,
    /// A damaged packet was met (data lost upstream).
    Damaged,
}

/// Arguments of `subunit-trace`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Show a subunit v2 run as it goes: one line per test, then a summary",
    long_about = "Show a subunit v2 run as it goes, as os-testr's subunit-trace: one line per \
                  test as it ends ({worker} test.id [time] ... ok, FAILED, SKIPPED: reason, \
                  xfail or uxsuccess), failures followed by their traceback and captured \
                  output, then the totals, the worker balance and the tests that never \
                  finished. On a terminal, a status line at the bottom shows the tests done, \
                  the failures, the time and the tests in progress, longest first.\n\n\
                  Chatter (bytes that are not subunit) and files without a test id are \
                  written out as they come, as os-testr does. The exit status is 1 when a \
                  test failed, none ran or one never finished (see --fail-on)."
)]
pub struct Args {
    /// Streams to read, in order, as one run; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Do not show the traceback and attachments of failures as they come.
    #[arg(short = 'n', long)]
    pub no_failure_debug: bool,

    /// Show every failure with its traceback and attachments again at the end.
    #[arg(short = 'f', long)]
    pub fails: bool,

    /// Show only failures (also when TRACE_FAILONLY is set, as in os-testr).
    #[arg(long)]
    pub failonly: bool,

    /// One character per test (. F S x u, i for one that never finished).
    #[arg(short = 'a', long)]
    pub abbreviate: bool,

    /// Do not print the summary at the end.
    #[arg(long)]
    pub no_summary: bool,

    /// Colour the outcomes: auto (on a terminal without NO_COLOR), always
    /// (also `--color` alone, as in stestr) or never.
    #[arg(
        long,
        value_name = "WHEN",
        value_enum,
        num_args = 0..=1,
        default_value = "auto",
        default_missing_value = "always"
    )]
    pub color: When,

    /// Also list the N slowest tests in the summary.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub slowest: usize,

    /// What makes the exit status 1, a comma-separated list.
    #[arg(
        long,
        value_name = "WHAT",
        value_enum,
        value_delimiter = ',',
        default_value = "failed,unfinished,none-run"
    )]
    pub fail_on: Vec<FailOn>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub held: HeldArgs,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Watch a run:\n\n    stestr run --subunit | subunit-trace\n\n\
         Only the failures, repeated at the end, and the ten slowest tests:\n\n    \
         subunit-trace --failonly --fails --slowest 10 run.subunit\n\n\
         A CI log that fails only on failed tests, not on a worker that died:\n\n    \
         run-tests | subunit-trace --color=never --fail-on failed",
    ),
    (
        "LINES",
        "A test is identified by its test id and route code; it ends at its first \
         success, uxsuccess, skip, fail or xfail packet, and its line is written then: \
         {WORKER} ID [SECONDS] ... OUTCOME, where WORKER is the route code, else the N of \
         a worker-N tag, else 0; ID loses its first [...] (tempest's tags) as in os-testr; \
         SECONDS run from the test's first to its last timestamp, to the microsecond, and \
         are empty without them. A skipped test shows SKIPPED and its reason attachment. \
         A passing test is followed by its stdout and stderr attachments; a failure, \
         expected failure or unexpected success by all its attachments (its traceback \
         among them), unless -n. Each attachment comes under Captured NAME: and a rule, \
         its lines indented four spaces. Tests that never finished are written when \
         the stream ends, with inprogress as their outcome and all they wrote. exists \
         packets (enumeration) are not tests: they give the number of tests to come. \
         Output is flushed whenever the input pauses, so a pipe downstream sees each \
         line as the test ends.",
    ),
    (
        "STATUS LINE",
        "When standard output is a terminal (and not with -a), the last line of the \
         screen shows [DONE/ANNOUNCED done, F failed, M:SS] and the tests in progress, \
         longest running first, each with how long it has run on this machine's clock, \
         cut to the terminal's width. It is redrawn as results come and twice a second \
         while the input is quiet, so a hung test shows at once, and erased (\\r and \
         erase-line) before anything else is written and at the end: nothing of it is \
         left in the scrollback. It is never written to a file or a pipe, and not drawn \
         while the cursor is in the middle of a line of chatter.",
    ),
    (
        "SUMMARY",
        "Totals as os-testr prints them: Ran (every test, finished or not, and the run's \
         time from its earliest to its latest timestamp, or the time this command ran \
         when the stream has none), Passed, Skipped, Expected Fail, Unexpected Success, \
         Failed, Did not finish (when any), and the sum of the tests' times. Then the \
         worker balance: per worker its tests, the time from its first start to its \
         last stop (as Python prints a timedelta) and its tests' time added up; a \
         missing worker number is warned of, as in os-testr. With --slowest N the N \
         longest tests; last, every test that did not finish, by route code and id.",
    ),
    held_man!(
        "it is shown as a test that did not finish, and its later packets make a test \
         of their own."
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM OS-TESTR",
        "os-testr 3.0.0's subunit-trace fails on every stream with python-subunit 1.4.6 \
         (module 'subunit' has no attribute 'test_results'); the differences are from \
         what its source does. Tests end as in python-subunit's other tools: exists \
         packets are counted as announced tests rather than ending a test. Unexpected \
         successes and tests that never finished fail the run (os-testr: only through \
         testtools' wasSuccessful) and are shown under --failonly. Ran's time is the \
         stream's (as stestr's), not the time the command ran, unless the stream has \
         no timestamps. The summary also counts the tests that did not finish and names \
         them, gives each worker's test time, and lists the slowest tests with --slowest. \
         A skip without a reason shows SKIPPED (os-testr fails on it). Route codes are \
         workers as well as worker-N tags. Attachments that are not UTF-8 are shown \
         with replacement characters. --fails keeps the failures in a temporary file, \
         not in memory. --no-summary, --color, -a, -n, -f and --failonly are os-testr's \
         (--color WHEN and NO_COLOR are new; --color alone is always); --perc-diff and \
         --diff-threshold, which read testrepository's times.dbm, are left out. The \
         status line, --slowest, --fail-on and --max-held are new. No tests is an exit \
         status of 1 with a message on standard error, as in stestr. Several files may \
         be given; they are read in order as one run. Damaged packets are chatter, \
         reported once on standard error.",
    ),
    (
        "EXIT STATUS",
        "1 when what --fail-on names happened (by default: a test failed or \
         unexpectedly succeeded, no test finished, or a test never finished), else 0; 2 \
         on usage errors and when an input cannot be opened or read. A closed standard \
         output (as by head) ends the command quietly with status 0.",
    ),
];

/// Runs `subunit-trace`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let started = Instant::now();
    let mut out = cli::stdout();
    let terminal = io::stdout().is_terminal();
    let color = match args.color {
        When::Always => true,
        When::Never => false,
        When::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let style = Style {
        no_failure_debug: args.no_failure_debug,
        fail_only: args.failonly || std::env::var_os("TRACE_FAILONLY").is_some(),
        abbreviate: args.abbreviate,
        color,
    };
    let fails = match args.fails {
        true => Some(Fails::new()?),
        false => None,
    };
    let mut trace = Trace {
        summary: Summary::new(args.slowest),
        held: HeldTests::new(NAME, &args.held),
        shown: Shown {
            style,
            workers: Workers::default(),
            fails,
            counts: Counts::default(),
            status: (terminal && !args.abbreviate).then(StatusLine::new),
            tty: io::stdout().as_fd().as_raw_fd(),
            at_line_start: true,
            abbreviated: false,
        },
    };
    let mut log = ReadLog::default();
    for input in inputs {
        let name = input.name().to_owned();
        let fd = input.as_fd().as_raw_fd();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => trace.packet(&packet, &mut out)?,
                Item::Chatter(chatter) => trace.shown.text(chatter.bytes, &mut out)?,
                Item::Idle => trace.shown.idle(fd, &mut out)?,
            }
        }
        log.add_reader(&reader);
    }
    for test in trace.held.finish() {
        trace.shown.test(&test?, &mut out)?;
    }
    let Trace {
        mut summary, shown, ..
    } = trace;
    summary.finish();
    let Shown {
        mut status,
        abbreviated,
        fails,
        workers,
        ..
    } = shown;
    if let Some(status) = &mut status {
        status.erase(&mut out)?;
    }
    if abbreviated {
        out.write_all(b"\n")?;
    }
    if let Some(fails) = fails {
        fails.write(&mut out)?;
    }
    if !args.no_summary {
        let wall = summary
            .run_time()
            .unwrap_or_else(|| started.elapsed().as_secs_f64());
        summary::write_summary(&mut out, &summary, &workers, wall, args.slowest > 0)?;
    }
    out.flush()?;
    log.report(NAME);

    let unfinished = summary.unfinished().len() as u64;
    let none_run = summary.total() == unfinished;
    if none_run {
        eprintln!("{NAME}: the run had no test that finished");
    }
    let happened = |what: &FailOn| match what {
        FailOn::Failed => summary.outcome(Status::Fail) + summary.outcome(Status::UxSuccess) > 0,
        FailOn::Unfinished => unfinished > 0,
        FailOn::NoneRun => none_run,
        FailOn::Damaged => log.damaged() > 0,
    };
    Ok(if args.fail_on.iter().any(happened) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The run as it is read.
struct Trace {
    summary: Summary,
    held: HeldTests,
    shown: Shown,
}

impl Trace {
    fn packet(&mut self, packet: &Packet<'_>, out: &mut impl Write) -> Result<(), Error> {
        self.summary.packet(packet);
        let Some(test_id) = packet.test_id() else {
            if let Some(file) = packet.file() {
                self.shown.text(file.content, out)?;
            }
            return Ok(());
        };
        if packet.status() == Status::Exists {
            self.shown.counts.announced += 1;
            return Ok(());
        }
        if let Some(status) = &mut self.shown.status {
            status.packet(packet, test_id);
        }
        if self.held.add(packet)? {
            self.shown.test(self.held.ended(), out)?;
        }
        while let Some(test) = self.held.forced_out() {
            self.shown.test(&test, out)?;
        }
        Ok(())
    }
}

/// What is written, and the state of the screen.
struct Shown {
    style: Style,
    workers: Workers,
    fails: Option<Fails>,
    counts: Counts,
    status: Option<StatusLine>,
    /// Standard output, a terminal when `status` is set.
    tty: RawFd,
    /// Whether the last byte written ended a line.
    at_line_start: bool,
    /// Whether a character of -a was written.
    abbreviated: bool,
}

impl Shown {
    /// Shows a test that ended (or never will).
    fn test(&mut self, test: &Test, out: &mut impl Write) -> io::Result<()> {
        let status = test.status();
        let worker = lines::worker(test);
        if status.is_final() {
            self.counts.done += 1;
            if lines::is_failure(status) {
                self.counts.failed += 1;
            }
        }
        let (first, last) = test.timestamps();
        self.workers.add(worker, first, last);
        // testr's pseudo-test for a worker's exit status (os-testr too).
        if test.test_id == "process-returncode" {
            return Ok(());
        }
        if let Some(line) = &mut self.status {
            line.erase(out)?;
        }
        if lines::write_test(out, test, worker, self.style)? {
            self.at_line_start = !self.style.abbreviate;
            self.abbreviated |= self.style.abbreviate;
        }
        if let Some(fails) = &mut self.fails {
            if lines::is_failure(status) {
                fails.add(test)?;
            }
        }
        self.maybe_draw(out, false)
    }

    /// Writes chatter or a file without a test id.
    fn text(&mut self, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some(line) = &mut self.status {
            line.erase(out)?;
        }
        out.write_all(bytes)?;
        self.at_line_start = bytes.ends_with(b"\n");
        self.maybe_draw(out, false)
    }

    fn maybe_draw(&mut self, out: &mut impl Write, now: bool) -> io::Result<()> {
        match &mut self.status {
            Some(line) if self.at_line_start && (now || line.due()) => {
                line.draw(out, self.counts, self.tty)
            }
            _ => Ok(()),
        }
    }

    /// The input would block: flush; on a terminal keep the status line
    /// fresh until input comes.
    fn idle(&mut self, fd: RawFd, out: &mut impl Write) -> io::Result<()> {
        if self.status.is_none() {
            return out.flush();
        }
        loop {
            self.maybe_draw(out, true)?;
            out.flush()?;
            if status::wait_readable(fd, status::TICK) {
                return Ok(());
            }
        }
    }
}

/// The failures for --fails, kept in a temporary file.
struct Fails {
    file: BufWriter<File>,
    count: u64,
}

impl Fails {
    fn new() -> Result<Fails, Error> {
        let dir = std::env::temp_dir();
        let file = crate::os::unlinked_temp_file(&dir).map_err(|source| Error::Create {
            path: dir.clone(),
            source,
        })?;
        Ok(Fails {
            file: BufWriter::new(file),
            count: 0,
        })
    }

    fn add(&mut self, test: &Test) -> io::Result<()> {
        self.count += 1;
        let rule = "-".repeat(test.test_id.chars().count());
        write!(self.file, "\n{}\n{rule}\n", test.test_id)?;
        lines::write_attachments(&mut self.file, test, true)
    }

    /// Writes them under os-testr's heading.
    fn write(self, out: &mut impl Write) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        let rule = "==============================";
        write!(
            out,
            "\n{rule}\nFailed {} tests - output below:\n{rule}\n",
            self.count
        )?;
        io::copy(&mut file, out)?;
        out.write_all(b"\n")
    }
}
