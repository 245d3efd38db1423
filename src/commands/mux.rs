//! `subunit-mux`: live streams of many workers merged into one, whole
//! packets labelled by route code (SPEC section 4).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, JoinHandle};

use clap::{ArgMatches, FromArgMatches, Parser};

use crate::cli::{self, Error, Input, ReadLog};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::os;
use crate::signals::{Blocked, Children, PassOn, Target, WholeWrites, await_death};
use crate::stream::cancel::{Cancel, LINGER};
use crate::stream::pump::{Pumped, Routing, pump, write_batches};
use crate::stream::wrap::{ResultLines, WrapOptions, Wrapper};

/// The command's name.
pub const NAME: &str = "subunit-mux";

/// Arguments of `subunit-mux`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Merge live subunit v2 streams, whole packets labelled by route code",
    long_about = "Merge live subunit v2 streams into one. Inputs, files, FIFOs, - for \
                  standard input and --command COMMAND, are read at the same time; each \
                  packet is written whole as soon as it is complete, never split or mixed \
                  with another, so a silent or hung input holds no other back. Input k \
                  (counting from 0 in command-line order) labels its packets with route \
                  code k, or k/OLD when they had route code OLD; --route-code replaces the \
                  numbers. Chatter from input k becomes stdout file packets with route code \
                  k, stamped with the time it arrived when the input is live (a pipe, FIFO, \
                  socket, terminal or command) and left without a timestamp when it is a \
                  regular file, whose recorded times are the run's. A command's standard \
                  error becomes stderr file packets with its route code. subunit-mux ends \
                  when every input has ended."
)]
pub struct Args {
    /// Streams to merge: files, FIFOs, or `-` for standard input.
    #[arg(value_name = "INPUT", value_hint = clap::ValueHint::FilePath)]
    pub inputs: Vec<PathBuf>,

    /// Run COMMAND with `sh -c` and merge its standard output (repeatable).
    #[arg(long = "command", value_name = "COMMAND", value_hint = clap::ValueHint::CommandString)]
    pub commands: Vec<String>,

    /// Route code of each input in turn, instead of its number (give one per input).
    #[arg(long = "route-code", visible_alias = "route", value_name = "CODE")]
    pub routes: Vec<String>,

    /// Leave timestamps out of the packets made (wrapped chatter, failure
    /// reports), for reproducible output; the inputs' packets keep theirs.
    #[arg(long)]
    pub no_timestamps: bool,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Watch two workers over ssh:\n\n    \
         subunit-mux --command 'ssh a run-tests' --command 'ssh b run-tests' | subunit-stats\n\n\
         Name the inputs:\n\n    \
         subunit-mux --route-code unit --route-code functional unit.subunit functional.subunit\n\n\
         Merge recorded shards, their run time kept:\n\n    \
         subunit-mux shard0.subunit shard1.subunit | stestr load",
    ),
    (
        "ROUTE CODES",
        "Splitting the output by the first part of each route code gives back each input: \
         its packets with their original route codes once the first part is taken off, \
         its chatter as the contents of its stdout file packets. Only the route code, the \
         length and the CRC of a packet are written anew; a packet that would outgrow the \
         4 MiB limit with its longer route code is split as encoders split file content. \
         --route was the option's name in earlier versions; it is kept as an alias of \
         --route-code, the name subunit-wrap uses too.",
    ),
    (
        "TIMESTAMPS",
        "The packets of the inputs pass with the timestamps they have. A packet that \
         subunit-mux makes, of chatter or a command's standard error, carries the time its \
         bytes arrived when the input is live: a pipe (standard input in a pipeline), a \
         FIFO, a socket, a terminal or a --command. Chatter read from a regular file (a \
         recorded stream, also when given as standard input with <) gets no timestamp: \
         the time it is read is not the time it was written, and a tool that takes the run \
         time from the first and last timestamp (subunit-stats, stestr load) would report \
         the reading instead of the run. The failing test reported for a command carries \
         the time it ended. With --no-timestamps no packet made carries a timestamp.",
    ),
    (
        "COMMANDS",
        "Each command runs with `sh -c` in a process group of its own, its standard \
         input from /dev/null. A command that cannot be started (including the shell's \
         status 126 or 127) or that is killed by a signal is reported on standard error \
         and as a failing test named after the command, with its route code and an \
         exit-status attachment. When the output is closed or cannot be written, the \
         commands' process groups are sent SIGTERM, and SIGKILL if a command has not \
         ended 5 seconds later: as soon as a pipe's reader has gone (subunit-mux looks \
         every 50 ms, and then ends quietly), or at the first write that fails. When subunit-mux gets SIGHUP, SIGINT, SIGQUIT or SIGTERM, it \
         sends it to them, starts no more commands, and forwards their output while what \
         runs in their process groups ends; what still runs there 5 seconds later (a \
         shell that held the signal back, a command that ignores it) is sent SIGTERM, and \
         SIGKILL 5 seconds after that, so that nothing is left running. Then it ends by \
         the signal once the batch of packets being written is whole, so that the output \
         is whole packets: it waits as long as the reader of the output takes to read \
         that batch. A second of these signals at any point meanwhile ends it at once \
         (possibly cutting a packet).\n\n\
         A command's output is read until it closes. A command that closes it but goes \
         on running is waited for, its exit status counting as usual. One that ends \
         while a process it started holds its output open (a server started with &, its \
         output not redirected) is read for 2 seconds more, then no longer, with a \
         warning; that process is left running. A command's standard error is text by \
         nature: it is not looked at for v1 text (see V1 INPUT).",
    ),
    (
        "FLOW",
        "The output is flushed whenever no input has a packet ready. A slow reader of the \
         output slows the inputs down: subunit-mux holds a few batches of packets per \
         input (a batch is about 64 KiB, or one packet if larger), never more as the \
         streams grow. - may be given once. --route-code values must be distinct, \
         non-empty and without '/', so that the output splits back into its inputs. A packet too \
         large to carry its new route code (4 MiB without file content to split) is \
         kept as chatter of its input, with a warning.",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "python-subunit has no subunit-mux. Its filters, and its subunit-combine, which \
         runs commands one after another, wrap chatter without timestamps, as subunit-mux \
         does for regular files. subunit-mux stamps the chatter of live inputs with its \
         arrival time, so that a hung worker's last output shows when it came; \
         --no-timestamps leaves that out.",
    ),
    (
        "EXIT STATUS",
        "0 when every input ended and every command exited with 0; else the first \
         non-zero status of a command, in command-line order (128+N for a command killed \
         by signal N); 2 on usage errors and when an input cannot be opened or read (said \
         on standard error when it happens, while the other inputs are merged to their \
         end). A closed standard output ends subunit-mux quietly with status 0.",
    ),
];

/// One input.
enum Source {
    Path(PathBuf),
    Command(String),
}

/// What an input's thread hands back when it ends.
struct Ended {
    /// What reading each of its streams saw, by name.
    seen: Vec<(String, Pumped)>,
    /// The exit status to pass on, for a command.
    status: Option<u8>,
}

/// Runs `subunit-mux` with the arguments parsed into `matches`.
pub fn run(matches: &ArgMatches) -> Result<ExitCode, Error> {
    let args = Args::from_arg_matches(matches).map_err(|e| Error::Usage(e.to_string()))?;
    let sources = sources(&args, matches);
    if sources.is_empty() {
        return Err(Error::Usage("give inputs to merge, or --command".into()));
    }
    check_routes(&args.routes, sources.len())?;
    let stdins = sources
        .iter()
        .filter(|s| matches!(s, Source::Path(p) if p.as_os_str() == "-"))
        .count();
    if stdins > 1 {
        return Err(Error::Usage(
            "- (standard input) can be merged only once".into(),
        ));
    }
    // Fail before anything starts when a file is missing; FIFOs are opened
    // by their threads, as opening one waits for its writer.
    for source in &sources {
        if let Source::Path(path) = source {
            if path.as_os_str() != "-" {
                std::fs::metadata(path).map_err(|source| Error::Open {
                    path: path.clone(),
                    source,
                })?;
            }
        }
    }

    let readers = sources
        .iter()
        .map(|s| {
            if matches!(s, Source::Command(_)) {
                2
            } else {
                1
            }
        })
        .sum::<usize>();
    // About one batch per reader in flight, besides the one each is
    // filling: back-pressure on a slow reader of the output.
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(readers.max(2));
    let children = Children::default();
    // Commands run in process groups of their own, so that stopping one
    // stops what it started; signals meant for us go to them too.
    Blocked::new(&PASSED_ON)
        .pass_on(children.clone(), PassOn::ToGroupsThenDie { command: NAME })
        .map_err(Error::Write)?;
    let timestamps = !args.no_timestamps;
    let mut handles = Vec::new();
    for (k, source) in sources.into_iter().enumerate() {
        let route = args.routes.get(k).cloned().unwrap_or_else(|| k.to_string());
        handles.push(spawn_input(
            source,
            route,
            timestamps,
            tx.clone(),
            children.clone(),
        )?);
    }
    drop(tx);
    watch_output(children.clone())?;

    // A signal ends us from its own thread: not in the middle of a batch,
    // and with no part of one left in a buffer (not standard output's,
    // which keeps what follows a batch's last newline for later).
    let written = write_batches(&rx, &mut WholeWrites::stdout(OUTPUT_BUFFER));
    if written.is_err() {
        // Nobody reads the output any more: stop the commands rather than
        // leave them running.
        children.stop_for_good(|signal| children.signal(signal, Target::Group));
    }
    written?;

    let mut log = ReadLog::default();
    let mut unroutable = 0;
    let mut status = 0;
    let mut failed = false;
    for handle in handles {
        match handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        {
            Ok(ended) => {
                for (name, seen) in ended.seen {
                    log.add_named(&name, seen.damage, seen.looks_like_v1);
                    unroutable += seen.unroutable;
                }
                if let Some(code) = ended.status.filter(|&c| c != 0) {
                    if status == 0 {
                        status = code;
                    }
                }
            }
            // Said when it happened; the other inputs were merged on.
            Err(_) => failed = true,
        }
    }
    // Stopped by a signal: the commands ended of it, and so does this.
    await_death();
    log.report(NAME);
    if unroutable > 0 {
        let (packets, were) = if unroutable == 1 {
            ("packet", "was")
        } else {
            ("packets", "were")
        };
        eprintln!(
            "{NAME}: warning: {unroutable} {packets} too large to take a route code {were} kept as chatter"
        );
    }
    if failed {
        return Ok(ExitCode::from(cli::EXIT_ERROR));
    }
    Ok(ExitCode::from(status))
}

/// Starts the thread that ends the run once nobody reads the output: the
/// commands' groups get SIGTERM and subunit-mux ends quietly, as soon as
/// the pipe's reader has gone rather than when an input next has packets
/// (a command that sleeps, a silent FIFO).
fn watch_output(children: Children) -> Result<(), Error> {
    const WATCH: std::time::Duration = std::time::Duration::from_millis(50);
    thread::Builder::new()
        .name("watch".into())
        .spawn(move || {
            loop {
                thread::sleep(WATCH);
                if os::output_closed(std::io::stdout().as_fd()) {
                    children.stop_for_good(|signal| children.signal(signal, Target::Group));
                    std::process::exit(0);
                }
            }
        })
        .map(drop)
        .map_err(Error::Write)
}

/// The buffer of small batches written together, at a flush or when full.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Signals that end subunit-mux, passed on to the commands first.
const PASSED_ON: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// Checks the route codes given with --route-code (its alias --route):
/// one per input, and such that the output splits back into the inputs,
/// so distinct and each one part of a route code.
fn check_routes(routes: &[String], inputs: usize) -> Result<(), Error> {
    const OPTION: &str = "--route-code";
    if !routes.is_empty() && routes.len() != inputs {
        let given = match routes.len() {
            1 => "once".to_owned(),
            2 => "twice".to_owned(),
            n => format!("{n} times"),
        };
        let plural = if inputs == 1 { "" } else { "s" };
        return Err(Error::Usage(format!(
            "{OPTION} is given {given} for {inputs} input{plural}: give it once per input"
        )));
    }
    for (i, route) in routes.iter().enumerate() {
        if route.is_empty() || route.contains('/') {
            return Err(Error::Usage(format!(
                "{OPTION} '{route}': an input's route code must be non-empty and without '/'"
            )));
        }
        if routes[..i].contains(route) {
            return Err(Error::Usage(format!(
                "{OPTION} '{route}' is given twice: each input needs a route code of its own"
            )));
        }
    }
    Ok(())
}

/// The inputs in command-line order, files and commands mixed.
fn sources(args: &Args, matches: &ArgMatches) -> Vec<Source> {
    let mut placed: Vec<(usize, Source)> = Vec::new();
    let indices = |id: &str| -> Vec<usize> {
        matches
            .indices_of(id)
            .map(Iterator::collect)
            .unwrap_or_default()
    };
    for (path, at) in args.inputs.iter().zip(indices("inputs")) {
        placed.push((at, Source::Path(path.clone())));
    }
    for (command, at) in args.commands.iter().zip(indices("commands")) {
        placed.push((at, Source::Command(command.clone())));
    }
    placed.sort_by_key(|(at, _)| *at);
    placed.into_iter().map(|(_, s)| s).collect()
}

fn wrapper(file_name: &str, route: &str, timestamps: bool) -> Result<Wrapper, Error> {
    Wrapper::new(WrapOptions {
        route_code: Some(route.to_owned()),
        results: ResultLines::Off,
        timestamps,
        ..WrapOptions::new(file_name)
    })
    .map_err(|e| Error::Usage(format!("route code '{route}' cannot be used: {e}")))
}

fn spawn_input(
    source: Source,
    route: String,
    timestamps: bool,
    tx: SyncSender<Vec<u8>>,
    children: Children,
) -> Result<JoinHandle<Result<Ended, Error>>, Error> {
    // A route code that cannot be used fails here, before any input starts.
    wrapper("stdout", &route, timestamps)?;
    let routing = Routing::Under(route.clone());
    let thread_name = format!("input {route}");
    let body = move || -> Result<Ended, Error> {
        match source {
            Source::Path(path) => {
                let input = if path.as_os_str() == "-" {
                    Input::stdin()?
                } else {
                    Input::open(&path)?
                };
                // Chatter of a recorded stream gets no timestamp: the time
                // it is read is not the time it was written.
                let live = !input.is_recorded();
                let stdout_wrapper = wrapper("stdout", &route, timestamps && live)?;
                let label = input.name().to_owned();
                let seen =
                    pump(input, stdout_wrapper, &routing, &tx).map_err(Error::reading(&label))?;
                Ok(Ended {
                    seen: vec![(label, seen)],
                    status: None,
                })
            }
            Source::Command(command) => {
                let made = Made {
                    route: &route,
                    timestamps,
                };
                run_command(&command, made, &routing, &tx, &children)
            }
        }
    };
    thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let ended = body();
            if let Err(err) = &ended {
                // At once, not when every other input has ended: a FIFO
                // may stay open for long.
                eprintln!("{NAME}: {err}");
            }
            ended
        })
        .map_err(Error::Write)
}

/// How the packets made for one command are labelled.
#[derive(Clone, Copy)]
struct Made<'a> {
    route: &'a str,
    timestamps: bool,
}

/// Runs one command: its standard output and its standard error each read
/// on a thread of their own until they end, or until [`LINGER`] after the
/// command ended when something it started holds them open; then its exit
/// status.
fn run_command(
    command: &str,
    made: Made<'_>,
    routing: &Routing,
    tx: &SyncSender<Vec<u8>>,
    children: &Children,
) -> Result<Ended, Error> {
    let stdout_wrapper = wrapper("stdout", made.route, made.timestamps)?;
    let stderr_wrapper = wrapper("stderr", made.route, made.timestamps)?;
    let mut sh = Command::new("sh");
    sh.args(["-c", command])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Cancel::new().and_then(|cancel| Ok((cancel, children.spawn(&mut sh)?)));
    let (cancel, mut child) = match started {
        Ok(started) => started,
        Err(err) => {
            let why = format!("cannot start: {}", os::io_message(&err));
            report_failure(command, made, &why, tx);
            return Ok(Ended {
                seen: Vec::new(),
                status: Some(127),
            });
        }
    };
    // Both pipes as files, so that one closure reads either; the reader is
    // made here, so that `wait_closed` below counts it.
    let reading = |name: &str, pipe: OwnedFd, wrapper: Wrapper| {
        let (tx, routing) = (tx.clone(), routing.clone());
        let reader = cancel.reader(File::from(pipe));
        thread::Builder::new()
            .name(format!("{name} {}", made.route))
            .spawn(move || pump(reader, wrapper, &routing, &tx))
            .map_err(Error::Write)
    };
    let stderr = child.stderr.take().expect("piped");
    let stderr = reading("stderr", stderr.into(), stderr_wrapper)?;
    let stdout = child.stdout.take().expect("piped");
    let stdout = reading("stdout", stdout.into(), stdout_wrapper)?;
    // Unreaped, its process group stays ours to signal meanwhile.
    children.wait_unreaped(&child);
    if !cancel.wait_closed(LINGER) {
        cancel.trigger();
    }
    let label = format!("the output of '{command}'");
    let stdout_seen = stdout
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        .map_err(Error::reading(&label))?;
    let mut stderr_seen = stderr
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        .map_err(Error::reading(&format!("the errors of '{command}'")))?;
    if cancel.cut_off() {
        eprintln!(
            "{NAME}: warning: command '{command}' ended, but its output was still open {} s \
             later (held by a process it started): the rest of it is not read",
            LINGER.as_secs()
        );
    }
    // Standard error is text by nature, not a stream meant to be v2.
    stderr_seen.looks_like_v1 = false;
    let status = children.reap(&mut child).map_err(Error::reading(&label))?;
    let code = os::exit_code(status);
    // A command we stopped because nobody reads the output did not fail.
    if let Some(why) = failure(status).filter(|_| !children.stopping()) {
        report_failure(command, made, &why, tx);
    }
    Ok(Ended {
        seen: vec![
            (label, stdout_seen),
            (format!("the errors of '{command}'"), stderr_seen),
        ],
        status: Some(code),
    })
}

/// Why a command's end is reported as a failing test, if it is: it was not
/// started (the shell's 126 and 127) or a signal killed it.
fn failure(status: ExitStatus) -> Option<String> {
    match (status.code(), status.signal()) {
        (Some(code @ (126 | 127)), _) => Some(format!("could not be started (exit status {code})")),
        (None, Some(signal)) => Some(format!(
            "killed by signal {signal} ({})",
            os::signal_name(signal)
        )),
        _ => None,
    }
}

/// Says on stderr and in the stream that a command failed to run.
fn report_failure(command: &str, made: Made<'_>, why: &str, tx: &SyncSender<Vec<u8>>) {
    eprintln!("{NAME}: command '{command}' {why}");
    let note = format!("{why}\n");
    let event = Event {
        status: Status::Fail,
        runnable: true,
        eof: true,
        timestamp: made.timestamps.then(Timestamp::now),
        test_id: Some(command),
        mime: Some("text/plain; charset=utf8"),
        file: Some(("exit-status", note.as_bytes())),
        route_code: Some(made.route),
        ..Event::default()
    };
    let mut packet = Vec::new();
    if encode(&event, &mut packet).is_ok() {
        let _ = tx.send(packet);
    }
}
