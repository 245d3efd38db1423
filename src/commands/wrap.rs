//! `subunit-wrap`: build and test output into subunit, nothing lost
//! (SPEC section 4).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::cli::{self, Error, ReadLog};
use crate::codec::encode::{EncodeError, Event, encode};
use crate::codec::packet::{MAX_PACKET_LEN, Status, Timestamp};
use crate::os;
use crate::signals::{Blocked, Children, PassOn, Received, Target, die_by};
use crate::stream::cancel::{Cancel, LINGER};
use crate::stream::pump::{Routing, pump, write_batches};
use crate::stream::reader::{Damage, Item, StreamReader};
use crate::stream::wrap::{ResultLines, WrapOptions, Wrapper};

/// The command's name.
pub const NAME: &str = "subunit-wrap";

/// Arguments of `subunit-wrap`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Turn build and test output into subunit v2, without losing a byte",
    override_usage = "subunit-wrap [OPTIONS] [FILE]...\n       subunit-wrap [OPTIONS] -- COMMAND [ARGS]...",
    long_about = "Turn build and test output into a subunit v2 stream, without losing a byte.\n\n\
                  Filter mode (subunit-wrap [FILE]...): chatter, the bytes that are not \
                  subunit, becomes file packets named stdout (see --name); subunit packets \
                  already in the input pass through byte for byte and in order. Chatter is \
                  cut into packets at newlines where possible, at most 64 KiB each, and \
                  whatever has arrived is written out as soon as the input pauses, so a \
                  hung test shows downstream at once.\n\n\
                  Command mode (subunit-wrap -- COMMAND [ARGS]...): runs COMMAND, wraps its \
                  standard output as stdout and its standard error as stderr (read at the \
                  same time, so neither can block the other), passes on the packets it \
                  writes, and reports it as one test, in progress while it runs, then \
                  success or fail by its exit status. subunit-wrap exits with COMMAND's \
                  status. SIGHUP, SIGINT, SIGQUIT and SIGTERM are passed on to COMMAND, \
                  and subunit-wrap ends when it does.\n\n\
                  The result lines of automake's test driver (PASS: name, FAIL:, XFAIL:, \
                  XPASS:, SKIP:, ERROR:) also become test results (success, fail, xfail, \
                  uxsuccess, skip, fail), each test once even with make check VERBOSE=yes, \
                  and with --tap so do TAP's results, with the tests its plan named that \
                  never came as failures. Those lines are kept as chatter too."
)]
pub struct Args {
    /// Streams to wrap, in order; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// The command to run, after `--`.
    #[arg(last = true, value_name = "COMMAND", value_hint = clap::ValueHint::CommandWithArguments)]
    pub command: Vec<OsString>,

    /// File name of the wrapped chatter (filter mode).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "stdout",
        conflicts_with = "command"
    )]
    pub name: String,

    /// Attach the wrapped output to this test; in command mode, also the
    /// name of the command's test (default: the command line).
    #[arg(long, value_name = "ID")]
    pub test_id: Option<String>,

    /// Route code of every packet made.
    #[arg(long, visible_alias = "route", value_name = "CODE")]
    pub route_code: Option<String>,

    /// MIME type of the wrapped output, e.g. "text/plain; charset=utf8".
    #[arg(long, value_name = "TYPE")]
    pub mime: Option<String>,

    /// Leave timestamps out of the packets made, for reproducible output.
    #[arg(long)]
    pub no_timestamps: bool,

    /// Do not turn automake (or TAP) result lines into test results.
    #[arg(long, conflicts_with = "tap")]
    pub no_results: bool,

    /// Read TAP too: results (ok, not ok, # SKIP, # TODO), plans (missing
    /// tests fail), 1..0 and Bail out!.
    #[arg(long)]
    pub tap: bool,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Count the tests of an automake suite:\n\n    make check | subunit-wrap | subunit-stats\n\n\
         Run a test script and report it as a test, with its TAP results:\n\n    \
         subunit-wrap --tap -- ./run-tests.sh > run.subunit\n\n\
         Reproducible output for a test:\n\n    printf 'PASS: a\\n' | subunit-wrap --no-timestamps\n\n\
         A build log labelled with route code 3 (--route is an alias of --route-code, \
         in subunit-mux too):\n\n    subunit-wrap --route-code 3 build.log",
    ),
    (
        "RESULTS",
        "A result line becomes one packet with the test's status, the line's time \
         and the route code given. automake lines name the test by what follows the \
         colon; terminal colours and a trailing carriage return are ignored.\n\n\
         When a suite fails, make check VERBOSE=yes also prints test-suite.log: a \
         section for each test that did not pass, headed by its result line once \
         more, then the test's log (its own output and, from the TAP driver, a copy \
         of each result line). None of that is a new result, so no line from the \
         .. contents:: line that starts those sections to the Testsuite summary line \
         after them is read as one: each test counts once, and subunit-stats counts \
         as many tests as automake's # TOTAL.\n\n\
         With --tap, TAP is read as python-subunit's tap2subunit reads it. Tests are \
         named test N and the description. A test marked # SKIP is skipped; one \
         marked # TODO that fails is an expected failure (xfail), one that passes an \
         unexpected success (uxsuccess). A test that the plan (1..N, before or after \
         the tests) names, or whose number a later test skips over, but that never \
         came is a failure named test N with a tap meta attachment saying test \
         missing from TAP output, so a script that crashes half way is not green. \
         1..0 # SKIP reason before any test is one skipped test, file skip. Bail \
         out! reason is a failing test named by that line, and the tests the plan \
         named that did not run are missing. A directive's reason (or another \
         comment after the #) and the # diagnostics that follow a result line are attached to that test as tap \
         comment (text/plain; charset=UTF8, the lines joined by newlines, at most 64 \
         KiB), and are kept as chatter as well.\n\n\
         So that its diagnostics can be attached, a TAP result is written when the \
         next line that is not a diagnostic is complete, or when the input pauses \
         or ends, rather than as soon as its own line is: a diagnostic that comes \
         after a pause is chatter only. The missing tests of a plan are reported \
         when its stream ends: at a plan after the tests, at 1..0, at Bail out!, \
         when the next stream's plan comes, or at the end of the input. The next \
         stream is numbered from 1 again. Lines that start with white space \
         (subtests, YAML blocks), # lines and the lines of test-suite.log are never \
         TAP results.",
    ),
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "TAP is read as tap2subunit reads it except here. A passing # TODO test is \
         uxsuccess (tap2subunit: xfail). A # that starts no directive ends the \
         description (a TAP 14 \\# does not, and \\\\ is a backslash in the name), and \
         # skipped counts as # SKIP (tap2subunit takes such lines \
         for output). 1..0 without a reason is a skipped file skip test (tap2subunit \
         crashes); with one, the tap comment holds the reason without the word \
         SKIP, as text/plain; charset=UTF8 (tap2subunit: SKIP reason, no MIME type). Bail \
         out! without a reason is named Bail out! with no trailing space. Only the \
         diagnostics right after a result are attached to it (tap2subunit also \
         attaches those before the first test, and those after other output, and \
         waits for the next result). tap2subunit reads one plan per input and goes \
         on counting after Bail out!; subunit-wrap takes a new plan, or a test after \
         an ended stream, as the next script's stream, so the output of several \
         scripts in a row is counted plan by plan; once a plan is fulfilled, test 1 \
         starts the next stream and one bare ok line is not a test but the verdict \
         prove -v prints after each script (tap2subunit counts it as one more \
         test). The line naming a script that prove -v prints before its TAP \
         (t/a.t .. ) ends the stream before it, and each FILE given is a stream of \
         its own, its last line read even without a newline. A gap of more than 10000 missing \
         tests (a stray 1..99999999999) is reported as its first 10000 tests and \
         one failing test named test M..N for the rest. Result packets are marked \
         runnable.",
    ),
    (
        "COMMAND MODE",
        "The command's test is named by --test-id, or by the command line, its words \
         quoted where a shell would need it. A command line too long to name a test (a \
         packet holds at most 4 MiB, the attachment that ends the test included) is cut \
         at a character boundary and ended with … (U+2026), so that it stays valid UTF-8 \
         and shows that it was cut.\n\n\
         The command's test is in progress from its start; it ends as success when the \
         command exits with status 0, else as fail with an exit-status attachment that \
         gives the status or the signal that killed it. Its output is attached to it \
         only when --test-id is given, so that by default subunit-stats passes it \
         through. A command that cannot be started is reported on standard error and \
         as a failing test, and subunit-wrap exits with 127 (not found) or 126.\n\n\
         The command runs in subunit-wrap's process group, so that it can use the \
         terminal. SIGHUP, SIGINT, SIGQUIT and SIGTERM sent to subunit-wrap (by kill, a \
         CI job's timeout, a closing session) are passed on, each time one comes, to the \
         command and to every other process below subunit-wrap (what the command \
         started), as the terminal's signals reach a whole process group: a shell \
         waits for its command to end on SIGINT, so sh -c 'CMD; ...' would otherwise go \
         on. One from the terminal (Ctrl-C), which the whole foreground process group \
         gets, is not sent again. subunit-wrap then goes on until the command has ended \
         and its output has closed, writes what it read as whole packets, reports the \
         test and ends as the command did (see EXIT STATUS). A command killed by the \
         signal is a failing test whose exit-status attachment names it, e.g. killed by \
         signal 15 (SIGTERM). A command that handles or ignores the signal goes on \
         running, and subunit-wrap with it; its test then ends by its exit status as \
         usual, 0 being a success, with an exit-status attachment that names the \
         signals that came, e.g. exit status 0 after SIGTERM.\n\n\
         The command is signalled only until it has been waited for, so never another \
         process given its pid; the processes below it, each while it still is the \
         process found. subunit-wrap adopts the processes orphaned below it \
         (PR_SET_CHILD_SUBREAPER), so that it finds them once their parent has ended \
         (one that has left for another reaper is not found) and reaps them. When the \
         run ends after a signal, what is still running below subunit-wrap gets the \
         signal once more (SIGTERM in place of SIGINT and SIGQUIT, which the background \
         jobs of a shell script ignore), so that sh -c 'server & run-tests' leaves no \
         server behind. Once a signal has come and the command has ended, subunit-wrap \
         no longer waits for output that such a process holds open: it writes what it \
         has read, reports the test with its output was still open added to the \
         attachment, and ends as above; a signal that comes after the command ended is \
         for subunit-wrap (and what the command left running) alone, and subunit-wrap \
         then ends by it. A signal sent to subunit-wrap's whole process group (kill \
         -TERM -PGID, or a supervisor that signals its group) reaches the command \
         directly as well as passed on, so the command gets it twice: nothing in a \
         signal tells the two apart. Signals ignored when subunit-wrap starts (nohup) \
         stay ignored. In filter mode a signal ends subunit-wrap at once.\n\n\
         Without a signal, when the command has ended but a process it started holds \
         its output open (a server started with &, its output not redirected), that \
         output is read for 2 seconds more at most: subunit-wrap then writes what it \
         has read, reports the test with its output was still open added to the \
         attachment, warns on standard error, and ends as the command did, leaving \
         that process running. (Redirect such a process's output, server >log 2>&1 &, \
         so that it does not hold the command's.) A command that closes its output \
         but goes on running is waited for: its exit status is its test's outcome.\n\n\
         When the output is closed (| head) or cannot be written (a full disk), the \
         command and every process below subunit-wrap get SIGTERM: as soon as a pipe's \
         reader has gone (subunit-wrap looks every 50 ms, without waiting for the \
         command to write), or at the first write that fails, and SIGKILL if the \
         command has not ended 5 seconds later (it may ignore SIGTERM). subunit-wrap \
         then ends quietly with status 0 for a closed pipe, or with an error and \
         status 2.",
    ),
    (
        "LOSSLESS",
        "Every byte of input comes out: inside a packet it passed through, or in the \
         content of a wrapped file packet, whose contents in order are exactly the \
         input's chatter. Damaged packets are chatter too; their number is reported \
         once on standard error. When all chatter has been wrapped, the file ends with \
         an empty packet marked EOF.",
    ),
    (
        "EXIT STATUS",
        "In filter mode 0, or 2 on usage errors and when an input cannot be opened or \
         read. In command mode, the command's exit status, or 127 or 126 when it cannot \
         be started. When signal N killed the command, 128+N, as shells give it, unless \
         subunit-wrap got signal N too (passed on, or from the terminal): then, its \
         output written, subunit-wrap ends by signal N itself, so that the shell or CI \
         job that sent it sees the command was interrupted (a shell script's loop stops \
         on Ctrl-C), and a shell shows 128+N. A closed standard output ends subunit-wrap \
         quietly with status 0.",
    ),
];

/// Bytes of packets gathered before they are written out.
const CHUNK: usize = crate::stream::pump::BATCH;

/// Runs `subunit-wrap`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    if args.command.is_empty() {
        filter(args)
    } else if !args.files.is_empty() {
        Err(Error::Usage(
            "give files to wrap or a command after --, not both".into(),
        ))
    } else {
        run_command(args)
    }
}

fn wrap_options(args: &Args, file_name: &str) -> WrapOptions {
    WrapOptions {
        file_name: file_name.to_owned(),
        test_id: args.test_id.clone(),
        route_code: args.route_code.clone(),
        mime: args.mime.clone(),
        timestamps: !args.no_timestamps,
        results: if args.no_results {
            ResultLines::Off
        } else if args.tap {
            ResultLines::AutomakeAndTap
        } else {
            ResultLines::Automake
        },
    }
}

fn wrapper(options: WrapOptions) -> Result<Wrapper, Error> {
    Wrapper::new(options).map_err(|e| Error::Usage(format!("cannot wrap with these options: {e}")))
}

fn filter(args: &Args) -> Result<ExitCode, Error> {
    let mut wrapper = wrapper(wrap_options(args, &args.name))?;
    let inputs = cli::open_inputs(&args.files)?;
    let mut out = cli::stdout();
    let mut made = Vec::new();
    let mut log = ReadLog::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    wrapper.before_packet(&mut made);
                    out.write_all(&made)?;
                    made.clear();
                    out.write_all(packet.raw())?;
                }
                Item::Chatter(chatter) => wrapper.chatter(chatter.bytes, &mut made),
                Item::Idle => {
                    wrapper.flush(&mut made);
                    out.write_all(&made)?;
                    made.clear();
                    out.flush()?;
                }
            }
            if made.len() >= CHUNK {
                out.write_all(&made)?;
                made.clear();
            }
        }
        // Each file is its own TAP stream or automake run.
        wrapper.end_input(&mut made);
        // No v1 hint here, unlike the other commands that read v2:
        // subunit-wrap's job is to take text that is not subunit, and v1
        // text wrapped as stdout packets is a fair thing to ask of it.
        log.add_named(reader.get_ref().name(), reader.damage(), false);
    }
    wrapper.finish(&mut made);
    out.write_all(&made)?;
    out.flush()?;
    log.report(NAME);
    Ok(ExitCode::SUCCESS)
}

/// The command line as one string, quoted where a shell would need it.
fn command_line(command: &[OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|word| {
            let word = word.to_string_lossy();
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                word.into_owned()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect();
    words.join(" ")
}

fn run_command(args: &Args) -> Result<ExitCode, Error> {
    let stdout_wrapper = wrapper(wrap_options(args, "stdout"))?;
    let stderr_wrapper = wrapper(wrap_options(args, "stderr"))?;
    let report = TestReport::new(args)?;
    let mut out = cli::stdout();
    let mut made = Vec::new();
    // Blocked before any thread starts, and taken once the command runs:
    // one that comes earlier waits for it.
    let blocked = Blocked::new(&PASSED_ON);
    let children = Children::default();
    // What the command leaves running, when its parent ends, becomes ours,
    // so that it can be found and stopped with the run; without it (an
    // old kernel), only what still descends from the command can be.
    let _ = os::adopt_orphans();
    let mut command = Command::new(&args.command[0]);
    command
        .args(&args.command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = match children.spawn(&mut command) {
        Ok(child) => child,
        Err(err) => {
            let program = args.command[0].to_string_lossy();
            let why = format!(
                "cannot run {}: {}",
                os::shortened(&program, 200),
                os::io_message(&err)
            );
            eprintln!("{NAME}: {why}");
            report.status(Status::Fail, Some(&why), &mut made);
            out.write_all(&made)?;
            out.flush()?;
            let code = if err.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ok(ExitCode::from(code));
        }
    };
    let pid = child.id();
    let received = blocked.pass_on(children.clone(), PassOn::ToChildrenAndBelow);
    let run = received.map_err(Error::Write).and_then(|received| {
        let running = Running {
            child,
            children: children.clone(),
            received,
        };
        running.supervise([stdout_wrapper, stderr_wrapper], &report, &mut out)
    });
    if run.is_err() {
        // Nobody takes what the command writes (the output failed), or it
        // cannot be read: stop it, and what it started, rather than leave
        // them running unwatched.
        stop_for_good(&children, pid);
    }
    run
}

/// Sends `signal` to the command `pid`, if it has not been reaped, and to
/// every other process below us: what it started, and what it left
/// running (orphans are ours, see [`os::adopt_orphans`]).
fn stop_command(children: &Children, pid: u32, signal: i32) {
    children.signal(signal, Target::Process);
    os::signal_descendants(signal, &[pid]);
}

/// Stops the command and everything below us for good (SIGTERM, then
/// SIGKILL): nobody takes what they write any more.
fn stop_for_good(children: &Children, pid: u32) {
    children.stop_for_good(|signal| stop_command(children, pid, signal));
}

/// The signal for what the command left running when a signal ended the
/// run: the same, but SIGTERM for SIGINT and SIGQUIT, which the background
/// jobs of a shell script ignore.
fn leftover_signal(signal: i32) -> i32 {
    if signal == libc::SIGINT || signal == libc::SIGQUIT {
        libc::SIGTERM
    } else {
        signal
    }
}

/// How often the watcher looks at the command and the output.
const WATCH: Duration = Duration::from_millis(50);

/// The command running, with what is needed to watch it.
struct Running {
    child: Child,
    children: Children,
    received: Received,
}

impl Running {
    /// Reads the command's output until it ends, reports its test and ends
    /// as it did.
    fn supervise(
        mut self,
        wrappers: [Wrapper; 2],
        report: &TestReport,
        out: &mut impl Write,
    ) -> Result<ExitCode, Error> {
        let mut made = Vec::new();
        report.status(Status::InProgress, None, &mut made);
        out.write_all(&made)?;
        out.flush()?;
        made.clear();

        // Both pipes are read at once, each by its own thread; whole
        // packets come back here to be written in turn.
        let cancel = Cancel::new().map_err(Error::reading("the command"))?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(16);
        let [stdout_wrapper, stderr_wrapper] = wrappers;
        let stdout = cancel.reader(self.child.stdout.take().expect("piped"));
        let stderr = cancel.reader(self.child.stderr.take().expect("piped"));
        let pumps = [
            spawn_pump("stdout", stdout, stdout_wrapper, tx.clone())?,
            spawn_pump("stderr", stderr, stderr_wrapper, tx)?,
        ];
        self.watch(&cancel)?;
        write_batches(&rx, out)?;
        let mut log = ReadLog::default();
        for (name, pump) in ["stdout", "stderr"].into_iter().zip(pumps) {
            let seen = pump
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(Error::reading(&format!("the command's {name}")))?;
            log.add_named(&format!("the command's {name}"), seen, false);
        }
        let status = self
            .children
            .wait(&mut self.child)
            .map_err(Error::reading("the command"))?;
        let received = &self.received;
        let (outcome, mut why, code) = outcome(status, received);
        let signals = received.signals();
        if cancel.cut_off() {
            if signals.is_empty() {
                eprintln!(
                    "{NAME}: warning: the command ended, but its output was still open {} s \
                     later (held by a process it started): the rest of it is not read",
                    LINGER.as_secs()
                );
            }
            let said = why.unwrap_or_else(|| "exit status 0".into());
            why = Some(format!("{said}; its output was still open"));
        }
        report.status(outcome, why.as_deref(), &mut made);
        out.write_all(&made)?;
        out.flush()?;
        log.report(NAME);
        // The run ends by a signal: so does what the command left running.
        if let Some(&signal) = signals.last() {
            os::signal_descendants(leftover_signal(signal), &[]);
        }
        // A signal that came when the command had ended was for us alone.
        if let Some(signal) = received.unanswered() {
            die_by(signal)
        }
        match status.signal() {
            // Killed by a signal that came to us too: end by it, now that
            // the output is whole, so that whoever sent it sees it took
            // effect.
            Some(signal) if received.contains(signal) => die_by(signal),
            _ => Ok(ExitCode::from(code)),
        }
    }

    /// Starts the thread that watches the run: it ends the reading of the
    /// command's output once a signal has come and the command has ended
    /// (what it left running, `server &`, may hold its output open for
    /// ever, and subunit-wrap could not be stopped), or [`LINGER`] after
    /// the command ended without one; and it stops the command when
    /// nobody reads our output any more, as a write would find out only
    /// when the command writes again.
    fn watch(&self, cancel: &Cancel) -> Result<(), Error> {
        let (children, received, cancel) =
            (self.children.clone(), self.received.clone(), cancel.clone());
        let pid = self.child.id();
        let watch = move || {
            let mut ended_at = None;
            let mut stopped = false;
            loop {
                thread::sleep(WATCH);
                os::reap_adopted(pid);
                if !stopped && os::output_closed(io::stdout().as_fd()) {
                    stopped = true;
                    cancel.trigger();
                    stop_for_good(&children, pid);
                }
                if !children.all_ended() {
                    ended_at = None;
                    continue;
                }
                let since = *ended_at.get_or_insert_with(Instant::now);
                let signalled = !received.signals().is_empty();
                if signalled || received.unanswered().is_some() || since.elapsed() >= LINGER {
                    cancel.trigger();
                }
            }
        };
        thread::Builder::new()
            .name("watch".into())
            .spawn(watch)
            .map(drop)
            .map_err(Error::Write)
    }
}

/// Signals passed on to the command (see the man page's COMMAND MODE).
const PASSED_ON: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// How a command ended: its test status, the note of its exit-status
/// attachment (for a failure, or a success after a signal), and the status
/// to exit with (128+N for signal N, as shells do).
fn outcome(status: ExitStatus, received: &Received) -> (Status, Option<String>, u8) {
    let code = os::exit_code(status);
    let signals: Vec<String> = received
        .signals()
        .into_iter()
        .map(os::signal_name)
        .collect();
    let after = if signals.is_empty() {
        String::new()
    } else {
        format!(" after {}", signals.join(", "))
    };
    let why = match (status.code(), status.signal()) {
        (Some(0), _) if signals.is_empty() => return (Status::Success, None, 0),
        (Some(0), _) => return (Status::Success, Some(format!("exit status 0{after}")), 0),
        (Some(code), _) => format!("exit status {code}{after}"),
        (None, Some(signal)) => format!("killed by signal {signal} ({})", os::signal_name(signal)),
        (None, None) => "ended without a status".into(),
    };
    (Status::Fail, Some(why), code)
}

/// The packets of the command's own test.
struct TestReport {
    test_id: String,
    route_code: Option<String>,
    timestamps: bool,
}

/// Room for the exit-status note in the packet that ends the command's
/// test, when the id's length is checked: notes are one line of a few
/// dozen bytes (one naming a program that cannot run is cut short).
const NOTE_ROOM: usize = 512;

impl TestReport {
    /// The command's test, named by --test-id or by the command line. A
    /// command line too long for a packet (4 MiB, with the attachment that
    /// ends the test) is cut short and ended with `…`; an id given that
    /// long is refused.
    fn new(args: &Args) -> Result<TestReport, Error> {
        let mut report = TestReport {
            test_id: args
                .test_id
                .clone()
                .unwrap_or_else(|| command_line(&args.command)),
            route_code: args.route_code.clone(),
            timestamps: !args.no_timestamps,
        };
        if report.fits() {
            return Ok(report);
        }
        let too_long = || {
            Error::Usage(format!(
                "--test-id is too long for a packet ({MAX_PACKET_LEN} bytes) with the \
                 command's exit status"
            ))
        };
        if args.test_id.is_some() {
            return Err(too_long());
        }
        let whole = std::mem::take(&mut report.test_id);
        let mut scratch = Vec::new();
        report.encode_last(&mut scratch).map_err(|_| too_long())?;
        // The id's length field and the packet's may each grow by 2 bytes.
        let mut room = MAX_PACKET_LEN.saturating_sub(scratch.len() + 4);
        loop {
            report.test_id = os::shortened(&whole, room).into_owned();
            if report.fits() {
                return Ok(report);
            }
            room = room.checked_sub(16).ok_or_else(too_long)?;
        }
    }

    /// Whether the largest packet of the test, the last, is one packet.
    fn fits(&self) -> bool {
        let mut scratch = Vec::new();
        self.encode_last(&mut scratch).is_ok() && scratch.len() <= MAX_PACKET_LEN
    }

    fn encode_last(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let note = "x".repeat(NOTE_ROOM);
        // The longest a timestamp is encoded.
        let latest = Timestamp {
            seconds: u32::MAX,
            nanos: 999_999_999,
        };
        let time = self.timestamps.then_some(latest);
        encode(&self.event(Status::Fail, Some(&note), time), out)
    }

    fn event<'a>(
        &'a self,
        status: Status,
        why: Option<&'a str>,
        timestamp: Option<Timestamp>,
    ) -> Event<'a> {
        Event {
            status,
            runnable: true,
            eof: why.is_some(),
            timestamp,
            test_id: Some(&self.test_id),
            mime: why.map(|_| "text/plain; charset=utf8"),
            file: why.map(|w| ("exit-status", w.as_bytes())),
            route_code: self.route_code.as_deref(),
            ..Event::default()
        }
    }

    fn status(&self, status: Status, why: Option<&str>, out: &mut Vec<u8>) {
        let why = why.map(|w| format!("{w}\n"));
        // Checked by TestReport::new; a longer note is split, as file
        // content is, so this cannot fail.
        let time = self.timestamps.then(Timestamp::now);
        encode(&self.event(status, why.as_deref(), time), out).expect("the test id is checked");
    }
}

/// Reads one of the command's pipes on its own thread.
fn spawn_pump<R: Read + AsFd + Send + 'static>(
    name: &str,
    pipe: R,
    wrapper: Wrapper,
    tx: mpsc::SyncSender<Vec<u8>>,
) -> Result<thread::JoinHandle<io::Result<Option<Damage>>>, Error> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || pump(pipe, wrapper, &Routing::Keep, &tx).map(|p| p.damage))
        .map_err(Error::Write)
}
