//! `junitxml2subunit`: JUnit XML reports to a subunit v2 stream (issue 12).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::formats::junit::{CaseOutcome, CaseText, JunitError, JunitItem, TestCase, read_junit};
use crate::results::held::HeldOutput;

/// The command's name.
pub const NAME: &str = "junitxml2subunit";

/// The MIME type of every attachment, python-subunit's spelling.
const UTF8_TEXT: &str = "text/plain; charset=UTF8";

/// How much of a report's output is held in memory before the rest goes
/// to a temporary file, until the report is known to be well-formed.
const HELD_IN_MEMORY: usize = 1 << 20;

/// Where the clock of a report without suite timestamps starts, as in
/// python-subunit: 2000-01-01T00:00:00Z, in microseconds.
const CLOCK_START: i64 = 946_684_800 * 1_000_000;

/// Arguments of `junitxml2subunit`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Convert JUnit XML test reports to a subunit v2 stream",
    long_about = "Convert JUnit XML test reports (Jenkins/Surefire, Gradle, pytest, Maven, Go, \
                  GitLab; suites nested to any depth) to a subunit v2 stream on standard \
                  output: each <testcase> becomes a test classname::name that starts and \
                  ends at times its time attribute spaces apart, <failure> and <error> a \
                  failure with the message and text attached as traceback, <skipped> a skip \
                  with its reason; its <system-out> and <system-err> are attached as stdout \
                  and stderr, and a suite's own output is written as files without a test \
                  id. Each report is converted whole or not at all: a malformed one is \
                  reported and nothing of it written. The exit status is 1 when a test \
                  failed."
)]
pub struct Args {
    /// A directory to search for *.xml reports, in lexical order; may be
    /// repeated. Read before the FILE arguments, as python's does.
    #[arg(short = 'd', long = "dir", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dirs: Vec<PathBuf>,

    /// Reports to read, in order; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Maven and Gradle reports:\n\n    junitxml2subunit -d target/surefire-reports | subunit-stats\n    \
         junitxml2subunit -d build/test-results/test | subunit-2to1\n\n\
         pytest:\n\n    pytest --junitxml=report.xml; junitxml2subunit report.xml | subunit-trace",
    ),
    (
        "TIMES",
        "A report says how long each test took, not when it ran. Each suite's tests are \
         laid end to end from the suite's timestamp attribute (UTC when it has no offset), \
         or, without one, from where the previous test ended, starting at \
         2000-01-01T00:00:00Z as python's does.",
    ),
    (
        "ENVIRONMENT",
        "TMPDIR: where a report's packets are held, beyond the first MiB, until the \
         report has been read to its end and is known to be well-formed (a temporary \
         file without a name, so nothing is left behind); memory stays the same however \
         long the report. Default /tmp.",
    ),
    (
        "DIFFERENCES",
        "From python-subunit 1.4.6's junitxml2subunit: a failure's text is attached as \
         traceback and a skip's as reason (python's calls both junit detail); the text \
         of a second outcome element in a test case is added to the first. <system-out> \
         and <system-err> of a test case are attached as stdout and stderr, a suite's \
         are written as stdout and stderr files without a test id, and Surefire's \
         flakyFailure, flakyError, rerunFailure and rerunError are attached under their \
         names (python's drops all of these). Suites nested in suites are read (python's \
         reads only the top level). A suite's timestamp is used (see TIMES). A time \
         attribute with thousands separators (1,234.5) is read. With no FILE or DIR, \
         standard input is read (python's says no input files found). A malformed \
         report, or a document that is not JUnit XML, is an error naming the file and \
         the line (python's ignores a non-JUnit document silently) and makes the exit \
         status 2 after the other reports are converted; python's exit status is 1. A \
         test case without a name is skipped, as python's does, with a warning.",
    ),
    (
        "EXIT STATUS",
        "0 when every test passed or was skipped, 1 when a test failed, as python's; 2 on \
         usage errors and when a report cannot be read or is not well-formed JUnit XML. \
         A closed standard output (as by head) ends the command quietly with status 0.",
    ),
];

/// Runs `junitxml2subunit`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let mut paths = Vec::new();
    for dir in &args.dirs {
        reports_in(dir, &mut paths).map_err(|source| Error::Open {
            path: dir.clone(),
            source,
        })?;
    }
    if paths.is_empty() && !args.dirs.is_empty() && args.files.is_empty() {
        return Err(Error::Usage(format!(
            "no *.xml reports in {}",
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    paths.extend(args.files.iter().cloned());
    let inputs = cli::open_inputs(&paths)?;
    let mut out = cli::stdout();
    let mut converter = Converter::default();
    // A report's packets until it is known to be well-formed.
    let mut held = HeldOutput::new(&std::env::temp_dir(), HELD_IN_MEMORY);
    let mut unreadable = false;
    for (n, input) in inputs.into_iter().enumerate() {
        let name = input.name().to_owned();
        // Where a message can find the line of an offset: a named file.
        let path = paths.get(n).filter(|p| p.as_os_str() != "-");
        match converter.convert(BufReader::new(input), &mut held) {
            Ok(warnings) => {
                held.write_to(&mut out)?;
                out.flush()?;
                for warning in warnings {
                    eprintln!("{NAME}: {name}: {warning}");
                }
            }
            Err(Failure::Held(source)) => {
                return Err(Error::Failed(format!(
                    "cannot hold a report's output in a temporary file in {}: {}",
                    std::env::temp_dir().display(),
                    crate::os::io_message(&source)
                )));
            }
            Err(Failure::Read(source)) => {
                return Err(Error::Read {
                    input: name,
                    source,
                });
            }
            Err(Failure::Junit(e)) => {
                unreadable = true;
                let place = match (&e, &path) {
                    (JunitError::Xml { offset, .. }, Some(path)) => line_of(path, *offset)
                        .map(|(line, column)| format!("line {line}, column {column}: "))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                eprintln!("{NAME}: {name}: {place}{e}; nothing of it was converted");
            }
        }
    }
    out.flush()?;
    Ok(if unreadable {
        ExitCode::from(2)
    } else if converter.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The `*.xml` files under `dir`, directories and names in lexical order
/// (python's `sorted(os.walk(dir))`, names sorted in each).
fn reports_in(dir: &Path, into: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut dirs = vec![dir.to_owned()];
    let mut walked = Vec::new();
    while let Some(dir) = dirs.pop() {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            } else {
                names.push(entry.file_name());
            }
        }
        names.sort();
        walked.push((dir, names));
    }
    walked.sort();
    for (dir, names) in walked {
        into.extend(
            names
                .into_iter()
                .filter(|n| n.as_encoded_bytes().ends_with(b".xml"))
                .map(|n| dir.join(n)),
        );
    }
    Ok(())
}

/// Line and column (from 1) of a byte offset in a file, for messages.
fn line_of(path: &Path, offset: u64) -> Option<(u64, u64)> {
    let mut before = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(offset)
        .read_to_end(&mut before)
        .ok()?;
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() as u64 + 1;
    Some((line, column))
}

enum Failure {
    Read(io::Error),
    Junit(JunitError),
    /// The temporary file of a report's output failed.
    Held(io::Error),
}

/// Turns reports into packets, keeping the clock across them.
#[derive(Debug)]
struct Converter {
    /// Microseconds since the epoch where the next test starts.
    clock: i64,
    /// A test failed.
    failed: bool,
}

impl Default for Converter {
    fn default() -> Converter {
        Converter {
            clock: CLOCK_START,
            failed: false,
        }
    }
}

impl Converter {
    /// Converts one report into `packets`; warnings to show if it worked.
    fn convert(
        &mut self,
        input: impl BufRead,
        held: &mut HeldOutput,
    ) -> Result<Vec<String>, Failure> {
        let mut reader = ReadErrors {
            inner: input,
            error: None,
        };
        let (clock, failed) = (self.clock, self.failed);
        let mut warnings = Vec::new();
        let mut held_error = None;
        let result = read_junit(&mut reader, |item| {
            self.item(item, held.buffer(), &mut warnings);
            if held_error.is_none() {
                held_error = held.settle().err();
            }
        });
        let failure = if let Some(e) = reader.error {
            Failure::Read(e)
        } else if let Some(e) = held_error {
            Failure::Held(e)
        } else if let Err(e) = result {
            Failure::Junit(e)
        } else {
            return Ok(warnings);
        };
        // Nothing of a report that failed counts.
        (self.clock, self.failed) = (clock, failed);
        held.discard().map_err(Failure::Held)?;
        Err(failure)
    }

    fn item(&mut self, item: JunitItem, packets: &mut Vec<u8>, warnings: &mut Vec<String>) {
        match item {
            JunitItem::Suite { timestamp } => {
                if let Some(ts) = timestamp {
                    self.clock = i64::from(ts.seconds) * 1_000_000 + i64::from(ts.nanos / 1000);
                }
            }
            JunitItem::SuiteOutput(text) => file(packets, None, &text),
            JunitItem::Case(case) if case.name.is_empty() => warnings.push(format!(
                "a testcase without a name at byte {} skipped, as python's does",
                case.offset
            )),
            JunitItem::Case(case) => self.case(&case, packets),
        }
    }

    fn case(&mut self, case: &TestCase, packets: &mut Vec<u8>) {
        let id = case.test_id();
        let start = self.clock;
        // Whole microseconds, as python's timedelta rounds them.
        let end = start + (case.seconds * 1e6).round_ties_even() as i64;
        self.clock = end;
        let event = Event {
            status: Status::InProgress,
            runnable: true,
            test_id: Some(&id),
            timestamp: Some(timestamp(start)),
            ..Event::default()
        };
        put(packets, &event);
        for text in &case.output {
            file(packets, Some(&id), text);
        }
        let status = match case.outcome {
            CaseOutcome::Passed => Status::Success,
            CaseOutcome::Failed => Status::Fail,
            CaseOutcome::Skipped => Status::Skip,
        };
        self.failed |= status == Status::Fail;
        let detail: String = case
            .outcomes
            .iter()
            .filter_map(CaseText::python_detail)
            .collect();
        let name = if status == Status::Skip {
            "reason"
        } else {
            "traceback"
        };
        let event = Event {
            status,
            runnable: true,
            eof: true,
            test_id: Some(&id),
            timestamp: Some(timestamp(end)),
            mime: (!detail.is_empty()).then_some(UTF8_TEXT),
            file: (!detail.is_empty()).then_some((name, detail.as_bytes())),
            ..Event::default()
        };
        put(packets, &event);
    }
}

/// Writes a text as a file: `stdout` and `stderr` for captured output,
/// the element's name for the rest.
fn file(packets: &mut Vec<u8>, id: Option<&str>, text: &CaseText) {
    if text.text.is_empty() {
        return;
    }
    let name = match text.element.as_str() {
        "system-out" => "stdout",
        "system-err" => "stderr",
        other => other,
    };
    let event = Event {
        eof: true,
        runnable: id.is_some(),
        test_id: id,
        mime: Some(UTF8_TEXT),
        file: Some((name, text.text.as_bytes())),
        ..Event::default()
    };
    put(packets, &event);
}

fn put(packets: &mut Vec<u8>, event: &Event<'_>) {
    // The strings come from a parsed document: XML cannot hold NUL, and the
    // encoder splits long content into chunks.
    encode(event, packets).expect("an event from a report encodes");
}

fn timestamp(micros: i64) -> Timestamp {
    let micros = micros.clamp(0, i64::from(u32::MAX) * 1_000_000 + 999_999);
    Timestamp {
        seconds: (micros / 1_000_000) as u32,
        nanos: (micros % 1_000_000) as u32 * 1000,
    }
}

/// A reader that keeps its I/O error, so a report that cannot be read is
/// told apart from one that is not well-formed.
struct ReadErrors<R> {
    inner: R,
    error: Option<io::Error>,
}

impl<R: BufRead> Read for ReadErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.fill_buf()?[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for ReadErrors<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Err(e) = self.inner.fill_buf() {
            let kind = e.kind();
            self.error = Some(e);
            return Err(io::Error::from(kind));
        }
        // Buffered now: this returns what the call above read.
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
    }
}
