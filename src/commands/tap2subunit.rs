//! `tap2subunit`: TAP (13 and 14) as a subunit v2 stream, as python-subunit's
//! tap2subunit writes it, subtests and YAML blocks included.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Error;
use crate::commands::text_input::{TextConverter, convert};
use crate::formats::tap::TapConverter;

/// The command's name.
pub const NAME: &str = "tap2subunit";

/// Arguments of `tap2subunit`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Convert TAP (the Test Anything Protocol) to a subunit v2 stream",
    long_about = "Convert TAP (the Test Anything Protocol, versions 12 to 14) to a subunit v2 \
                  stream, as python-subunit's tap2subunit does: each ok or not ok line is a \
                  test named test N DESCRIPTION, with its # SKIP or # TODO reason and the \
                  diagnostics (# lines) after it attached as tap comment; the tests a plan \
                  names that never came fail as missing; Bail out! is a failing test; 1..0 \
                  skips the whole script as the test file skip. Lines that are not TAP become \
                  stdout file packets, so nothing is lost.\n\n\
                  Beyond python-subunit: TAP 14 subtests (indented by four spaces a level) \
                  are tests named PARENT/CHILD, the YAML block after a result (--- to ...) is \
                  attached to it as tap yaml, and one input may hold several TAP streams (a \
                  TAP version line or a new plan starts the next, numbered from 1 again). \
                  Each result goes out as soon as the next line shows its diagnostics are \
                  over, or as soon as the input pauses."
)]
pub struct Args {
    /// TAP to read, in order, each a stream of its own; stdin when none
    /// are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "    prove -v t/ | tap2subunit | subunit-stats\n\n\
         node --test --test-reporter=tap | tap2subunit > run.subunit",
    ),
    (
        "SUBTESTS",
        "A subtest is a TAP stream indented by four spaces, the child of the test whose \
         result line follows it one level up. Its tests are named after their parent, \
         PARENT/CHILD, and nest deeper the same way (up to 64 levels; deeper lines are \
         chatter). The child's results come before the parent's result line, and go out \
         at once, so the parent is named as it most likely will be: test N, its number \
         at its level, then - NAME when a # Subtest: NAME line (at either level) \
         announced it, the form node-tap, Test::More and the TAP 14 specification write \
         the parent's line in. A subtest ends at the next result line, plan or Bail out! \
         of a level above; the tests its plan named that never came then fail as \
         missing. Chatter and diagnostics of a level above do not end it.",
    ),
    (
        "YAML BLOCKS",
        "Right after a result line, a --- line indented two spaces more starts a YAML \
         block that a ... line at that indentation ends, or the first line indented \
         less. Its lines, that indentation removed, are attached to the result as the \
         file tap yaml (text/x-yaml; charset=UTF8), in a packet of the test before the \
         one with its outcome.",
    ),
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "Test ids, outcomes and attachments are python-subunit 1.4.6's, in packets with \
         the same flags (results not runnable, without timestamps), except here.\n\n\
         TAP 14: python-subunit reads no subtests, YAML blocks or version lines; their \
         lines are stdout chatter there. TAP version and pragma lines are chatter here \
         too.\n\n\
         Directives: a passing # TODO test is uxsuccess (python-subunit: xfail). A # that \
         starts no directive ends the description and what follows it is attached as \
         tap comment; a # escaped as TAP 14 escapes it, \\#, is part of the description \
         and \\\\ is a backslash in the test id. # SKIP and # TODO count in any case and \
         as # skipped. (python-subunit takes all such result lines for chatter.) \
         1..0 without a reason is a skipped file skip test (python-subunit crashes); \
         with one, tap comment holds the reason without the word SKIP, as text/plain; \
         charset=UTF8 (python-subunit: SKIP reason, no MIME type). Bail out! without a \
         reason is named Bail out! with no trailing space, and a reason's trailing white \
         space is dropped.\n\n\
         Diagnostics: only the # lines right after a result (or Bail out!) are attached \
         to it; others are chatter (python-subunit also attaches those before the first \
         test, and those after chatter, to the next result).\n\n\
         Order: a result goes out when the next line shows its diagnostics are over, or \
         when the input pauses (a live producer); chatter comes out where it stands. \
         python-subunit holds each result until the next result line or the end of the \
         input, and writes the chatter that came meanwhile before it. Diagnostics or a \
         YAML block that come after such a pause are chatter.\n\n\
         Several streams: python-subunit reads one plan per input and goes on counting \
         after Bail out!; here each plan after the leading one, a TAP version line, and \
         any test after a trailing plan, 1..0 or Bail out! starts the next stream, \
         numbered from 1 again, and the tests a stream's plan named that never came \
         fail as missing at the end of the stream (python-subunit: at the end of the \
         input, after a Bail out! that follows a trailing plan). Once a plan is fulfilled, test 1 starts the next stream \
         and one bare ok line is the verdict prove -v prints after each script: chatter, \
         not one more test. The line naming a script that prove -v prints before its TAP \
         (t/a.t .. ) ends the stream before it. Each FILE given is a stream of its own \
         (python-subunit reads standard input only).\n\n\
         Lines: each line's bytes are kept as they are in the chatter, a CR before the \
         newline and invalid UTF-8 included (python-subunit turns CR LF and a lone CR \
         into a newline, and stops with a traceback on invalid UTF-8); the last line is \
         read even without a newline (python-subunit takes it for chatter). Terminal \
         colour sequences are ignored when reading a line. A line over 64 KiB is \
         chatter, in packets of up to 64 KiB. A gap of more than 10000 missing tests (a \
         stray 1..99999999999) is reported as its first 10000 tests and one failing \
         test named test M..N for the rest. Diagnostics or YAML beyond 1 MiB for one \
         result are chatter.\n\n\
         Subunit v2 packets in the input are passed on byte for byte where they stand \
         (python-subunit reads them as text); a damaged one is chatter, and counted on \
         standard error.",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early (as by head), and \
         whatever the tests' outcomes, as python-subunit's tap2subunit; 2 on usage \
         errors and when an input cannot be opened or read.",
    ),
];

impl TextConverter for TapConverter {
    fn text(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        TapConverter::text(self, bytes, out);
    }
    fn before_packet(&mut self, out: &mut Vec<u8>) {
        TapConverter::before_packet(self, out);
    }
    fn pause(&mut self, out: &mut Vec<u8>) {
        TapConverter::pause(self, out);
    }
    /// Each file is its own TAP stream.
    fn end_input(&mut self, out: &mut Vec<u8>) {
        TapConverter::end_input(self, out);
    }
}

/// Runs `tap2subunit`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    convert(NAME, &args.files, &mut TapConverter::new())?;
    Ok(ExitCode::SUCCESS)
}
