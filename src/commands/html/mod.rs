//! `subunit2html`: a run as one self-contained HTML page, as os-testr's
//! subunit2html makes (see [`page`] for what the page holds).

pub mod page;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error, ReadLog};
use crate::results::record::Recorder;
use crate::stream::reader::{Item, StreamReader};
use page::Page;

/// The command's name.
pub const NAME: &str = "subunit2html";

/// Where the page goes without `-o` or a second argument, as os-testr's.
const DEFAULT_OUTPUT: &str = "results.html";

/// Arguments of `subunit2html`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Turn a subunit v2 stream into one self-contained HTML page",
    long_about = "Turn a subunit v2 stream into one self-contained HTML page, as os-testr's \
                  subunit2html: the counts of each outcome and a bar of them, then a table \
                  per class of tests (the test id up to its last dot) with each test's \
                  outcome and duration, its tracebacks and other attachments to expand; \
                  classes with failures first, and failures first in each; a filter box. \
                  No network is needed to view it: its CSS and script are in the page.\n\n\
                  As os-testr's: subunit2html STREAM [OUTPUT], the page written to OUTPUT, \
                  results.html by default. With -o, every argument is a stream, read in \
                  order as one run; with no stream, standard input is read. The page is \
                  written when the input ends, whole: to a temporary file beside OUTPUT, \
                  then renamed, so a reader never sees half a page (a device, FIFO or \
                  symbolic link is written as it is)."
)]
pub struct Args {
    /// The stream, then optionally where to write the page (os-testr's
    /// form); with -o, streams only. `-` is standard input.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Write the page to PATH (`-`: standard output); every FILE is then a
    /// stream.
    #[arg(short, long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub output_to: Option<PathBuf>,

    /// The page's title.
    #[arg(long, value_name = "TEXT", default_value = "Test results")]
    pub title: String,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "The page of the last stestr run:\n\n    stestr last --subunit | subunit2html -o results.html\n\n\
         os-testr's form:\n\n    subunit2html run.subunit report.html\n\n\
         Several streams of one run, the page on standard output:\n\n    \
         subunit2html -o - worker-*.subunit > report.html",
    ),
    (
        "THE PAGE",
        "Outcomes: passed, failed, skipped, xfail (failed as expected), uxsuccess \
         (passed unexpectedly) and unfinished (the stream ended while the test ran, as \
         when a worker crashed); failed, uxsuccess and unfinished count as failures, \
         sort first, and have their text shown open. A test is keyed by its id and \
         route code; the route code is shown after its name. Its duration is from its \
         first to its last timestamp; the run time from the stream's first timestamp \
         to its last. Tests only announced (exists) are not rows.\n\n\
         Text: attachments are shown as UTF-8, invalid bytes as U+FFFD, control \
         characters as a visible \\xNN (\\u{NNNN} for C1 controls); nothing is dropped \
         silently. Past 1 MiB, the rest of an attachment is counted, not shown. Output \
         outside any test (chatter, and files without a test id) is kept, in order, in a \
         section at the end of the page.\n\n\
         Memory: each test's rows are rendered when it ends and kept in a temporary file \
         without a name (TMPDIR) until the page is written, so memory holds a few bytes \
         per test plus the tests in progress.",
    ),
    (
        "DAMAGED INPUT",
        "Bytes that are not a valid packet are chatter, kept in the page's section of \
         output outside tests; a damaged packet gives up only its first byte, so valid \
         packets inside or after it are still found. The number of damaged packets is \
         reported once on standard error.",
    ),
    (
        "DIFFERENCES FROM OS-TESTR",
        "os-testr's subunit2html (which needs python-subunit and os-testr installed) \
         reads one stream, needs it named, and writes its page as the stream is read; \
         here several streams may be read as one run, standard input is read without a \
         name, -o - writes to standard output, and the page appears whole. Its outcomes \
         are pass, fail, error and skip: here expected failures, unexpected successes \
         and unfinished tests are outcomes of their own (os-testr counts a test that \
         never finished as nothing at all). Its page orders classes as the stream does \
         and needs clicks to see a traceback; here failing classes and tests come first, \
         open. A filter box and a failures-only switch are added. Control characters \
         and invalid UTF-8 in an attachment are shown visibly rather than written raw. \
         Chatter is kept in the page rather than dropped.",
    ),
    (
        "EXIT STATUS",
        "0 when the page is written, whatever the tests' outcomes (as os-testr's); 2 on \
         usage errors and when an input cannot be opened or read or the page cannot be \
         written. A closed standard output (with -o -) ends the command quietly.",
    ),
];

/// Runs `subunit2html`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let (streams, output) = match (&args.output_to, args.files.as_slice()) {
        (Some(output), files) => (files, output.clone()),
        (None, [stream, output]) => (std::slice::from_ref(stream), output.clone()),
        (None, files @ ([] | [_])) => (files, PathBuf::from(DEFAULT_OUTPUT)),
        (None, _) => {
            return Err(Error::Usage(
                "more than one stream: name the page with -o PATH, or give STREAM [OUTPUT] \
                 as os-testr's subunit2html takes them"
                    .into(),
            ));
        }
    };
    let inputs = cli::open_inputs(streams)?;
    let mut page = Page::new(&args.title, &std::env::temp_dir());
    let mut recorder = Recorder::new();
    let mut log = ReadLog::default();
    let spill_error = |source: io::Error| {
        Error::Failed(format!(
            "cannot keep the page's rows in a temporary file in {}: {}",
            std::env::temp_dir().display(),
            crate::os::io_message(&source)
        ))
    };
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::new(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    if let Some(timestamp) = packet.timestamp() {
                        page.time(timestamp);
                    }
                    if packet.test_id().is_none() {
                        if let Some(file) = packet.file() {
                            page.outside(file.name, file.content).map_err(spill_error)?;
                        }
                    }
                    if let Some(record) = recorder.packet(&packet) {
                        page.test(&record).map_err(spill_error)?;
                    }
                }
                Item::Chatter(chatter) => {
                    page.outside("chatter", chatter.bytes)
                        .map_err(spill_error)?;
                }
                Item::Idle => {}
            }
        }
        log.add_reader(&reader);
    }
    for record in recorder.finish() {
        page.test(&record).map_err(spill_error)?;
    }
    log.report(NAME);
    if output.as_os_str() == "-" {
        let mut out = cli::stdout();
        page.write(&mut out)?;
        out.flush()?;
    } else {
        write_whole(&output, |out| page.write(out))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `path` through a temporary file beside it, renamed over it once
/// complete: a browser or a CI upload never sees half a page, and a failed
/// run leaves the old page as it was. What is not a regular file (a
/// device such as /dev/null, a FIFO, a link) is written as it is: a
/// rename would replace it.
fn write_whole(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), Error> {
    let create = |source| Error::Create {
        path: path.to_owned(),
        source,
    };
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        let mut out = BufWriter::new(File::create(path).map_err(create)?);
        return write(&mut out)
            .and_then(|()| out.flush())
            .map_err(Error::Write);
    }
    let mut temp_name = OsString::from(".");
    temp_name.push(path.file_name().unwrap_or(path.as_os_str()));
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let file = File::create(&temp).map_err(create)?;
    let mut out = BufWriter::new(file);
    let written = write(&mut out)
        .and_then(|()| out.flush())
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(create(source));
    }
    Ok(())
}
