//! `gojson2subunit`: `go test -json` events as a subunit v2 stream, as
//! python-subunit's gojson2subunit writes it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Error;
use crate::commands::text_input::{TextConverter, convert};
use crate::formats::gojson::GoJsonConverter;

/// The command's name.
pub const NAME: &str = "gojson2subunit";

/// Arguments of `gojson2subunit`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Convert go test -json output to a subunit v2 stream",
    long_about = "Convert the events of go test -json (or go tool test2json -t) to a subunit \
                  v2 stream, as python-subunit's gojson2subunit does: a test's run event is \
                  an inprogress packet, its pass, fail or skip the outcome, at the events' \
                  times, with the test's output attached as go test output. Tests are named \
                  PACKAGE.Test, subtests PACKAGE.Parent/Sub; a package's own failure (a \
                  build failure, a panic outside a test, a timeout) is the failing test \
                  PACKAGE [build], with the package's output. Lines that are not events \
                  (a panic's banner, build errors on standard error) become stdout file \
                  packets, so nothing is lost. Each packet is written as soon as its event \
                  is read."
)]
pub struct Args {
    /// Event streams to read, in order, as one; stdin when none are given
    /// or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "    go test -json ./... 2>&1 | gojson2subunit | subunit-stats\n\n\
         go test -json ./... | gojson2subunit > run.subunit",
    ),
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "The packets, test ids, outcomes, attachments and times are python-subunit \
         1.4.6's, except here.\n\n\
         Nothing is dropped. A line that is not a JSON object (a panic's banner, the \
         compiler's errors when standard error is merged), an object whose Action no \
         rule here reads, and an output event with neither Test nor Package become \
         stdout file packets (text/plain; charset=UTF8) where they stand; python-subunit \
         drops them. The output of a package that passes or is skipped (ok PKG 0.1s, \
         goos: lines, benchmark results) is written the same way at the package's end; \
         python-subunit drops it.\n\n\
         Build failures: Go before 1.24 reports one as the text line FAIL<TAB>PKG \
         [build failed], which fails the test PKG [build] with the line attached \
         (python-subunit drops the line, so the failure is not seen). From Go 1.24 on, \
         the build-output events of the failed build are attached to PKG [build] before \
         the package's output (python-subunit drops them).\n\n\
         Unfinished tests: a test still open when its package ends (a timeout, \
         os.Exit, a panic that killed the test binary) fails then, at the package's \
         time, before PKG [build]; one still open when the input ends fails without a \
         time, as in python-subunit, which fails them all only at the end of the input, \
         and only those that had output (a test that ran with no output and never ended \
         is not reported there).\n\n\
         A test with a pass, fail or skip but no run event, and an Elapsed above 0, gets an inprogress packet at \
         the event's Time less its Elapsed, so its duration is kept (python-subunit \
         writes the outcome alone). A test's output beyond 1 MiB goes out in file \
         packets of 1 MiB while it runs, the rest with its outcome (python-subunit \
         holds it all, and fails on output over 4 MiB); a line over 4 MiB is chatter. \
         Test ids holding a NUL (which a packet cannot) have it replaced by U+FFFD. \
         Subunit v2 packets in the input are passed on byte for byte. Several FILEs are \
         read in order, as one stream (python-subunit reads standard input only).",
    ),
    (
        "EXIT STATUS",
        "1 when a test or a package failed, or a test never ended; else 0, as \
         python-subunit's; also 0 when standard output is closed early (as by head). 2 \
         on usage errors and when an input cannot be opened or read.",
    ),
];

impl TextConverter for GoJsonConverter {
    fn text(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        GoJsonConverter::text(self, bytes, out);
    }
    fn before_packet(&mut self, out: &mut Vec<u8>) {
        GoJsonConverter::before_packet(self, out);
    }
    fn end_input(&mut self, out: &mut Vec<u8>) {
        GoJsonConverter::end_input(self, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        GoJsonConverter::finish(self, out);
    }
}

/// Runs `gojson2subunit`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let mut converter = GoJsonConverter::new();
    convert(NAME, &args.files, &mut converter)?;
    Ok(if converter.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
