//! `subunit2junitxml`: a subunit v2 stream as one JUnit XML document that
//! is always well-formed, whatever the stream holds.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use crate::cli::{self, Error, ReadLog};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::Status;
use crate::formats::junit_write::{Case, Outcome, Seconds, escape, split_id};
use crate::results::record::{Recorder, TestRecord};
use crate::stream::offload::{Batches, Offload};
use crate::stream::reader::{Item, StreamReader};

mod document;
mod names;
mod retries;
use document::{Counts, InPlace};
use names::UniqueNames;
use retries::Retries;

/// The command's name.
pub const NAME: &str = "subunit2junitxml";

/// The consumer the XML is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Flavor {
    /// Jenkins (the JUnit plugin, Surefire's schema).
    Jenkins,
    /// GitLab's test reports.
    Gitlab,
    /// GitHub actions that read JUnit XML.
    Github,
}

/// Arguments of `subunit2junitxml`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Turn a subunit v2 stream into a JUnit XML report",
    long_about = "Turn a subunit v2 stream into one JUnit XML document, as python-subunit's \
                  subunit2junitxml, but always well-formed XML 1.0: a <testsuites> with a \
                  <testsuite> for the run (or one per route code with --suite-per-worker) and a \
                  <testcase> per test.\n\n\
                  With --output-to, chatter (bytes that are not subunit) and packets without a \
                  test id go to standard output as subunit unless --no-passthrough, as in \
                  python-subunit; when the XML goes to standard output they go into the first \
                  suite's <system-out> instead. The exit status is 1 when the report holds a \
                  failure or an error: a test failed, never finished or unexpectedly \
                  succeeded (under --flavor jenkins, a test that failed and passed later is \
                  a pass)."
)]
pub struct Args {
    /// Streams to read, in order, as one run; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Hide all non-subunit input (chatter and packets without a test id).
    #[arg(long)]
    pub no_passthrough: bool,

    /// Write the XML to PATH rather than standard output.
    #[arg(short, long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub output_to: Option<PathBuf>,

    /// Forward the subunit stream on standard output (needs --output-to).
    #[arg(short, long)]
    pub forward: bool,

    /// One `<testsuite>` per route code (worker) rather than one for the run.
    #[arg(long)]
    pub suite_per_worker: bool,

    /// Write for this consumer; by default what all of them accept.
    #[arg(long, value_enum, value_name = "FLAVOR")]
    pub flavor: Option<Flavor>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "A report for CI:\n\n    subunit2junitxml --no-passthrough run.subunit > junit.xml\n\n\
         The report to a file, the stream on to the next command:\n\n    \
         run-tests | subunit2junitxml -f -o junit.xml | subunit-stats",
    ),
    (
        "TEST CASES",
        "Tests are gathered as testtools' StreamToDict gathers them (by test id and route \
         code; exists packets are ignored). The class name is the test id up to its last \
         dot before the first parenthesis, the name the rest, as python's junitxml splits \
         them. The time is the seconds from the test's first to its last timestamp. A \
         failure carries the first line of its traceback attachment as message and the \
         whole traceback as text; a skip carries its reason as message; an expected failure \
         is a pass and an unexpected success a failure, as in python's junitxml. A test \
         still in progress when the stream ends is an <error message=\"did not finish\"> \
         whose text is the last attachment it wrote. Attachments named stdout and stderr \
         (or ending in them) are the case's <system-out> and <system-err>; any other \
         attachment but the traceback and reason goes into <system-out>, introduced by a \
         line with its name. Tags are <property name=\"tag\"> elements. Under --flavor \
         gitlab and by default, a class name and name seen again get \" (run N)\" after \
         the name (or the next N not taken), since GitLab keeps one case of each name \
         and class name.",
    ),
    (
        "RETRIES",
        "A test that failed (or unexpectedly succeeded) and then passed in \
         the same stream, as when a run's failures are run again and both streams given, \
         is flaky: it is named on standard error (\"flaky: ID (failed once, then passed)\"; \
         at most 10, then a count). Under --flavor jenkins it is one passing <testcase> \
         holding a <flakyFailure> per failed run, with its \
         message and type, the traceback as <stackTrace> and the run's <system-out> and \
         <system-err>, as Surefire writes reruns; failed runs are held back until a pass \
         or the end of the stream, so those that stay failures come after the other cases \
         of their suite. A test that fails again after a pass starts over. Other flavors \
         keep each run as a case of its own (GitLab and GitHub readers know no flaky \
         elements), so the failed run stays a failure.",
    ),
    (
        "WELL-FORMED XML",
        "Bytes that are not UTF-8 are replaced by U+FFFD. Characters XML 1.0 cannot hold \
         (the C0 controls other than tab, LF and CR, U+FFFE and U+FFFF) are written visibly \
         as \\xNN (\\x1b for ESC) or \\uFFFE; nothing is dropped. CR is written as &#13; so \
         that readers keep it.",
    ),
    (
        "MEMORY",
        "The counts are attributes of the start tags, known only at the end. In a regular \
         file (-o PATH, or standard output sent to one with >) and with one suite, the \
         report is written as tests end: start tags as wide as they can ever be come \
         first, and at the end the real ones are written over them, padded with spaces \
         before the closing > (a report appended to with >> is written as on a pipe). On a \
         pipe, or with --suite-per-worker, each test is written as it ends into an \
         anonymous temporary file (one per suite, in TMPDIR, gone however the command \
         ends) and each suite's start tag, then a copy of that file, at the end. Memory holds \
         the tests in progress and one test's attachments (and, for unique names, 8 bytes \
         per test name; for retries, 16 bytes per test that failed and has not passed \
         since, and 32 per failed run held back), and the \
         few hundred tests that have ended and wait to be written: the stream is read and \
         its tests gathered on one thread while they are written as XML on another. \
         Under --flavor jenkins failed runs wait in another such file (see RETRIES).",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "python-subunit's subunit2junitxml writes one <testsuite> with name=\"\"; here a \
         <testsuites> document holds the suite (name subunit, or worker-ROUTE), with \
         skipped and timestamp attributes. python writes the passed-through chatter and \
         packets into the same standard output as the XML, so the document is not XML; \
         here they go into <system-out> when the XML is on standard output, and --forward \
         needs --output-to. python drops characters XML cannot hold (and keeps U+FFFD \
         only where decoding failed); here they are escaped visibly. python's failure \
         elements have no message, its skips the reason as text rather than as message; \
         it writes no <system-out>, <system-err> or properties. python crashes (an \
         AssertionError) at a test that never finished without an attachment; here it is \
         an error. python writes every run of a test as a case of the same name and knows \
         no retries: its exit status is 1 for a test that failed and passed later; here \
         that is so except under --flavor jenkins. python writes the time a test ran even \
         when it is negative (a clock that went back); here it is 0; it gives a test that \
         never finished 0.000, here it has no time. Otherwise times are python's to the \
         millisecond: each timestamp is taken to the microsecond and rounded as python \
         rounds. Damaged packets are chatter, not a failing subunit.parser test. Several \
         files may be given; they are read in order as one run.",
    ),
    (
        "EXIT STATUS",
        "0 when no test failed; 1 when the report holds a failure or an error (a test \
         failed, never finished or unexpectedly succeeded, and under --flavor jenkins did \
         not pass later); 2 on usage errors and when an input cannot be opened, an output \
         created, or either read or written. A closed standard output ends the command \
         quietly with status 0.",
    ),
];

/// A case's outcome, message, type and text.
type Written<'a> = (Outcome, Option<&'a [u8]>, Option<&'a str>, Option<&'a [u8]>);

/// One `<testsuite>` being written.
struct Suite {
    name: String,
    route: Option<String>,
    /// Its cases until the end (none when the report is written in place).
    cases: Option<BufWriter<File>>,
    counts: Counts,
}

/// The report being built.
struct Report {
    suites: Vec<Suite>,
    /// The one suite's cases go straight into the report's file.
    in_place: Option<InPlace>,
    per_worker: bool,
    unique: bool,
    /// The (class name, name) of each case written, for unique names.
    names: UniqueNames,
    /// Failed runs are held back to be folded into a later pass (jenkins).
    fold_retries: bool,
    retries: Retries,
    unfinished: Vec<String>,
    /// Buffers kept from one test to the next.
    case: Vec<u8>,
    reruns: Vec<u8>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Report {
    fn suite(&mut self, route: Option<&str>) -> io::Result<&mut Suite> {
        let at = self.suite_index(route)?;
        Ok(&mut self.suites[at])
    }

    fn suite_index(&mut self, route: Option<&str>) -> io::Result<usize> {
        let route = if self.per_worker { route } else { None };
        let at = match self.suites.iter().position(|s| s.route.as_deref() == route) {
            Some(at) => at,
            None => {
                let cases = match self.in_place {
                    Some(_) => None,
                    None => Some(BufWriter::new(crate::os::unlinked_temp_file(
                        &std::env::temp_dir(),
                    )?)),
                };
                self.suites.push(Suite {
                    name: route.map_or_else(|| SUITE.to_owned(), |r| format!("worker-{r}")),
                    route: route.map(str::to_owned),
                    cases,
                    counts: Counts::default(),
                });
                self.suites.len() - 1
            }
        };
        Ok(at)
    }

    /// The hash a case's name is looked up by when names are unique,
    /// and a request for the memory it is looked up in: asked a few cases
    /// before [`Report::record`] takes it (see names.rs).
    #[inline]
    fn name_hash(&self, record: &TestRecord) -> Option<u64> {
        self.unique.then(|| {
            let (classname, name) = split_id(&record.id);
            let hash = UniqueNames::hash(classname, name);
            self.names.prefetch(hash);
            hash
        })
    }

    /// Writes a case; `name_hash` from [`Report::name_hash`].
    fn record(
        &mut self,
        record: &TestRecord,
        finished: bool,
        name_hash: Option<u64>,
    ) -> io::Result<()> {
        let (classname, name) = split_id(&record.id);
        let file = |wanted: &str| record.files.iter().find(|f| f.name == wanted);
        let traceback = file("traceback");
        let reason = file("reason");
        let (mut stdout, mut stderr) = (
            std::mem::take(&mut self.stdout),
            std::mem::take(&mut self.stderr),
        );
        stdout.clear();
        stderr.clear();
        for f in &record.files {
            if f.name.ends_with("stderr") {
                stderr.extend_from_slice(&f.content);
            } else if f.name.ends_with("stdout") {
                stdout.extend_from_slice(&f.content);
            } else if f.name != "traceback" && f.name != "reason" {
                stdout.extend_from_slice(b"[attachment ");
                stdout.extend_from_slice(f.name.as_bytes());
                stdout.extend_from_slice(b"]\n");
                stdout.extend_from_slice(&f.content);
                if !f.content.ends_with(b"\n") {
                    stdout.push(b'\n');
                }
            }
        }
        fn first_line(text: &[u8]) -> &[u8] {
            let line = text.split(|&b| b == b'\n').find(|l| !l.is_empty());
            line.unwrap_or_default()
        }
        let status = record.status;
        let (outcome, message, kind, text): Written<'_> = if !finished {
            let last = record.files.last().map(|f| f.content.as_slice());
            (Outcome::Error, Some(&b"did not finish"[..]), None, last)
        } else {
            match status {
                Some(Status::Success | Status::XFail) => (Outcome::Passed, None, None, None),
                Some(Status::Skip) => (
                    Outcome::Skipped,
                    reason.map(|r| r.content.as_slice()),
                    None,
                    None,
                ),
                Some(Status::UxSuccess) => (
                    Outcome::Failure,
                    Some(&b"unexpected success"[..]),
                    Some("unittest.case._UnexpectedSuccess"),
                    None,
                ),
                _ => (
                    Outcome::Failure,
                    traceback.map(|t| first_line(&t.content)),
                    None,
                    traceback.map(|t| t.content.as_slice()),
                ),
            }
        };
        let time = match (record.start, record.stop) {
            (Some(a), Some(b)) => Some(Seconds::between(a, b)),
            _ => None,
        };
        let suite = self.suite_index(record.route_code.as_deref())?;
        let failed_run = finished && matches!(outcome, Outcome::Failure | Outcome::Error);
        let mut reruns = std::mem::take(&mut self.reruns);
        reruns.clear();
        if finished && outcome == Outcome::Passed {
            for run in self.retries.passed(&record.id, &mut reruns)? {
                self.suites[run.suite as usize].counts.uncount(run.outcome);
            }
            if !self.fold_retries {
                reruns.clear();
            }
        }
        let renamed;
        let mut case = Case {
            classname,
            name,
            time,
            outcome,
            message,
            kind,
            text,
            tags: &record.tags,
            stdout: &stdout,
            stderr: &stderr,
            reruns: &reruns,
        };
        let mut buf = std::mem::take(&mut self.case);
        buf.clear();
        case.write(&mut buf);
        if let Some(hash) = name_hash
            && let Some(name) = self.names.take(hash, classname, name)
        {
            renamed = name;
            case.name = &renamed;
            buf.clear();
            case.write(&mut buf);
        }
        let held = failed_run && self.fold_retries;
        if failed_run {
            let case_len = buf.len();
            if held {
                case.write_rerun(&mut buf);
            }
            let held = held.then_some((suite, outcome, &buf[..], case_len));
            self.retries.failed(&record.id, held)?;
            buf.truncate(case_len);
        }
        if !finished {
            self.unfinished.push(record.id.clone());
        }
        let suite = &mut self.suites[suite];
        suite.counts.count(outcome);
        for ts in [record.start, record.stop].into_iter().flatten() {
            suite.counts.saw(ts);
        }
        if !held {
            match (&mut suite.cases, &mut self.in_place) {
                (Some(cases), _) => cases.write_all(&buf)?,
                (None, Some(in_place)) => in_place.out.write_all(&buf)?,
                (None, None) => unreachable!("a suite without its cases' file is written in place"),
            }
        }
        self.case = buf;
        self.reruns = reruns;
        self.stdout = stdout;
        self.stderr = stderr;
        Ok(())
    }

    /// Whether the report holds a failure or an error.
    fn failed(&self) -> bool {
        self.suites
            .iter()
            .any(|s| s.counts.failures + s.counts.errors > 0)
    }

    /// Writes the document: each suite's start tag with its counts, then
    /// a copy of its cases (or, written in place, what follows the cases,
    /// then the start tags over the widest ones).
    fn finish(&mut self, mut outside: Outside, out: &mut dyn Write) -> io::Result<()> {
        if self.suites.is_empty() {
            self.suite(None)?;
        }
        let mut run = Counts::default();
        for suite in &self.suites {
            run.add(&suite.counts);
        }
        if let Some(mut in_place) = self.in_place.take() {
            self.suite_end(0, &mut outside, &mut in_place.out)?;
            writeln!(in_place.out, "</testsuites>")?;
            return in_place.finish(&run, SUITE, &self.suites[0].counts);
        }
        let mut tag = Vec::new();
        document::head(&run, 0, &mut tag);
        out.write_all(&tag)?;
        for i in 0..self.suites.len() {
            let suite = &mut self.suites[i];
            tag.clear();
            document::suite_tag(&suite.name, &suite.counts, 0, &mut tag);
            out.write_all(&tag)?;
            let cases = suite.cases.as_mut().expect("not written in place");
            cases.flush()?;
            let file = cases.get_mut();
            file.rewind()?;
            io::copy(file, out)?;
            self.suite_end(i, &mut outside, out)?;
        }
        writeln!(out, "</testsuites>")
    }

    /// What follows a suite's cases: its failed runs held back, the output
    /// outside tests (in the first suite) and its end tag.
    fn suite_end(
        &self,
        suite: usize,
        outside: &mut Outside,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.retries.write_failures(suite, out)?;
        if suite == 0
            && let Some(outside) = &mut outside.0
        {
            outside.flush()?;
            let file = outside.get_mut();
            file.rewind()?;
            let mut bytes = Vec::new();
            io::Read::read_to_end(file, &mut bytes)?;
            let mut text = Vec::new();
            escape(&bytes, false, &mut text);
            out.write_all(b"    <system-out>")?;
            out.write_all(&text)?;
            out.write_all(b"</system-out>\n")?;
        }
        writeln!(out, "  </testsuite>")
    }
}

/// Output outside tests, for the first suite's `<system-out>`, in a
/// temporary file (made when there is some).
#[derive(Default)]
struct Outside(Option<BufWriter<File>>);

impl Outside {
    fn add(&mut self, bytes: &[u8]) -> io::Result<()> {
        let out = match &mut self.0 {
            Some(out) => out,
            none => none.insert(BufWriter::new(crate::os::unlinked_temp_file(
                &std::env::temp_dir(),
            )?)),
        };
        out.write_all(bytes)
    }
}

/// Tests sent to be written, and whether each finished.
type Records = Vec<(TestRecord, bool)>;

/// How many cases ahead of the one being written its name's lookup is
/// prefetched: a miss takes as long as writing a case or two.
const AHEAD: usize = 2;

/// The tests sent to be written at once.
const RECORDS: usize = 128;

/// Tests named on standard error (unfinished, flaky); the others are
/// counted: a crashed worker's run has thousands.
const NAMED: usize = 10;

/// The name of the run's suite (with --suite-per-worker, `worker-ROUTE`).
const SUITE: &str = "subunit";

/// Runs `subunit2junitxml`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    if args.forward && args.output_to.is_none() {
        return Err(Error::Usage(
            "--forward needs --output-to: the stream and the XML cannot share standard output"
                .to_owned(),
        ));
    }
    let inputs = cli::open_inputs(&args.files)?;
    let mut xml_file = match &args.output_to {
        Some(path) => Some(File::create(path).map_err(|source| Error::Create {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let to_file = xml_file.is_some();
    // One suite in a regular file: written as it goes (see document.rs).
    let mut in_place = None;
    if !args.suite_per_worker {
        let file = match xml_file.take() {
            Some(file) => Some(file),
            None => io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(File::from),
        };
        if let Some(file) = file {
            match InPlace::start(file, SUITE)? {
                Ok(started) => in_place = Some(started),
                Err(file) if to_file => xml_file = Some(file),
                Err(_) => {}
            }
        }
    }
    let mut xml_file = xml_file.map(BufWriter::new);
    let mut out = cli::stdout();
    let others = !args.no_passthrough;
    let mut report = Report {
        suites: Vec::new(),
        in_place,
        per_worker: args.suite_per_worker,
        unique: args.flavor != Some(Flavor::Jenkins),
        names: UniqueNames::default(),
        fold_retries: args.flavor == Some(Flavor::Jenkins),
        retries: Retries::default(),
        unfinished: Vec::new(),
        case: Vec::new(),
        reruns: Vec::new(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    // Cases are written on a second thread while this one reads, decodes
    // and gathers tests, each half about as long as the other.
    let mut offload = Offload::spawn("report", move |batches: &mut Batches<Records>| {
        let mut hashes = std::collections::VecDeque::with_capacity(AHEAD + 1);
        while let Some(batch) = batches.next_batch() {
            hashes.clear();
            hashes.extend(batch.iter().take(AHEAD).map(|(r, _)| report.name_hash(r)));
            for (i, (record, finished)) in batch.iter().enumerate() {
                if let Some((ahead, _)) = batch.get(i + AHEAD) {
                    hashes.push_back(report.name_hash(ahead));
                }
                let hash = hashes.pop_front().expect("one hash per case");
                report.record(record, *finished, hash)?;
            }
        }
        io::Result::Ok(report)
    })
    .map_err(Error::Write)?;
    let mut recorder = Recorder::new();
    // Records come back to be made into new ones.
    let recycle = |records: &mut Records, recorder: &mut Recorder| {
        for (record, _) in records.drain(..) {
            recorder.recycle(record);
        }
    };
    let mut outside = Outside::default();
    let mut log = ReadLog::default();
    let mut scratch = Vec::new();
    'inputs: for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    let has_id = packet.test_id().is_some();
                    if to_file && (if has_id { args.forward } else { others }) {
                        out.write_all(packet.raw())?;
                    }
                    if !has_id {
                        if others
                            && !to_file
                            && let Some(file) = packet.file()
                        {
                            outside.add(file.content)?;
                        }
                        continue;
                    }
                    if packet.status() == Status::Exists {
                        continue;
                    }
                    let Some(record) = recorder.packet(&packet) else {
                        continue;
                    };
                    offload.batch().push((record, true));
                    if offload.batch().len() >= RECORDS
                        && offload
                            .send_with(|done| recycle(done, &mut recorder))
                            .is_err()
                    {
                        // Writing the report failed: finish says how.
                        break 'inputs;
                    }
                }
                Item::Chatter(chatter) => {
                    if !others {
                    } else if to_file {
                        scratch.clear();
                        let event = Event {
                            runnable: true,
                            file: Some(("stdout", chatter.bytes)),
                            ..Event::default()
                        };
                        encode(&event, &mut scratch).expect("a name and content always encode");
                        out.write_all(&scratch)?;
                    } else {
                        outside.add(chatter.bytes)?;
                    }
                }
                Item::Idle => {
                    out.flush()?;
                    if !offload.batch().is_empty() {
                        let _ = offload.send_with(|done| recycle(done, &mut recorder));
                    }
                }
            }
        }
        log.add_reader(&reader);
    }
    let unfinished = recorder.finish().into_iter().map(|record| (record, false));
    offload.batch().extend(unfinished);
    let mut report = offload.finish()?;
    match &mut xml_file {
        Some(file) => {
            report.finish(outside, file)?;
            file.flush()?;
        }
        None => report.finish(outside, &mut out)?,
    }
    out.flush()?;
    for id in report.unfinished.iter().take(NAMED) {
        eprintln!("{NAME}: did not finish: {id}");
    }
    if report.unfinished.len() > NAMED {
        eprintln!(
            "{NAME}: ... and {} more tests that did not finish (each an <error> in the report)",
            report.unfinished.len() - NAMED
        );
    }
    let retries = &report.retries;
    for (id, times) in &retries.flaky {
        let times = if *times == 1 {
            "once".to_owned()
        } else {
            format!("{times} times")
        };
        eprintln!("{NAME}: flaky: {id} (failed {times}, then passed)");
    }
    if retries.flaky_count > retries.flaky.len() {
        let more = retries.flaky_count - retries.flaky.len();
        eprintln!("{NAME}: ... and {more} more flaky tests");
    }
    log.report(NAME);
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
