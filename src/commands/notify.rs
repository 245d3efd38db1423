//! `subunit-notify`: the run's summary as a desktop notification (issue 12).

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Parser;

use crate::cli::{self, Error};
use crate::commands::stats::{Counted, Mode, count};
use crate::results::stats::Summary;

/// The command's name.
pub const NAME: &str = "subunit-notify";

/// The program that shows the notification (libnotify's, in Debian's
/// libnotify-bin), looked up on PATH; `SUBUNIT_NOTIFY_SEND` names another.
const NOTIFY_SEND: &str = "notify-send";

/// Arguments of `subunit-notify`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Show a subunit v2 run's summary as a desktop notification",
    long_about = "Read a subunit v2 stream and, when it ends, show a desktop notification of \
                  its summary through notify-send: \"Test run successful\" or \"Test run \
                  failed\", with the total, passed and failed tests counted as \
                  subunit-stats counts them. The exit status is 1 when a test failed (or \
                  never finished), else 0.\n\n\
                  As in python-subunit, chatter and the content of file packets without a \
                  test id are written to standard output as they arrive, unless \
                  --no-passthrough is given."
)]
pub struct Args {
    /// Streams to read, in order, as one run; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Hide all non-subunit input (chatter and files without a test id).
    #[arg(long)]
    pub no_passthrough: bool,

    /// Accepted as python's is; python's writes nothing there, so the file
    /// is created empty.
    #[arg(short, long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub output_to: Option<PathBuf>,

    /// Forward the subunit stream on standard output, chatter wrapped as
    /// `stdout` file packets (dropped with --no-passthrough).
    #[arg(short, long)]
    pub forward: bool,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Be told when a long run ends:\n\n    stestr last --subunit | subunit-notify --no-passthrough",
    ),
    (
        "ENVIRONMENT",
        "SUBUNIT_NOTIFY_SEND: the program to run instead of notify-send (from PATH); it is \
         given the options -a Subunit-notify, the summary and the body.",
    ),
    (
        "DIFFERENCES",
        "From python-subunit 1.4.6's subunit-notify: the notification is shown by running \
         notify-send (libnotify-bin) rather than through GObject introspection, so no GTK \
         bindings are needed; python's fails at start without them. When notify-send \
         cannot be run, or fails, ours says so on standard error and exits 2 after \
         reading the run; python's exits 1 when libnotify cannot start. Several FILE \
         arguments are read in order as one run (python's takes one). Damaged packets \
         are kept as chatter and reported once on standard error.",
    ),
    cli::V1_INPUT_MAN,
    (
        "EXIT STATUS",
        "0 when no test failed, 1 when a test failed or never finished, as python's; 2 on \
         usage errors, when an input cannot be read, and when the notification cannot be \
         shown. A closed standard output (as by head) ends the command quietly.",
    ),
];

/// Runs `subunit-notify`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    if let Some(path) = &args.output_to {
        File::create(path).map_err(|source| Error::Create {
            path: path.clone(),
            source,
        })?;
    }
    let mut out = cli::stdout();
    let mode = Mode::new(args.forward, args.no_passthrough, false);
    let Counted { summary, log, .. } = count(inputs, mode, 0, &mut out)?;
    out.flush()?;
    log.report(NAME);
    let program = std::env::var_os("SUBUNIT_NOTIFY_SEND").unwrap_or_else(|| NOTIFY_SEND.into());
    notify(&program, &summary)?;
    Ok(if summary.was_successful() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The notification's summary and body, in python's words.
pub fn message(summary: &Summary) -> (&'static str, String) {
    let title = if summary.failed() > 0 {
        "Test run failed"
    } else {
        "Test run successful"
    };
    let body = format!(
        "Total tests: {}; Passed: {}; Failed: {}",
        summary.total(),
        summary.passed(),
        summary.failed()
    );
    (title, body)
}

fn notify(program: &OsString, summary: &Summary) -> Result<(), Error> {
    let (title, body) = message(summary);
    let failed = |why: String| {
        Error::Failed(format!(
            "cannot show the notification: {} {why}",
            Path::new(program).display()
        ))
    };
    let status = Command::new(program)
        .args(["-a", "Subunit-notify", title, &body])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                failed("was not found on PATH (Debian and Ubuntu have it in libnotify-bin)".into())
            }
            _ => failed(format!("could not be run: {}", crate::os::io_message(&e))),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!("failed ({status})")))
    }
}
