//! `subunit2csv`: one CSV row per test, in python-subunit's columns,
//! quoting and times (its `CsvResult` behind testtools'
//! `StreamToExtendedDecorator`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rustc_hash::FxHashMap as HashMap;

use crate::cli::{self, Error, ReadLog};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Packet, Status, Timestamp};
use crate::formats::v1::python_time;
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit2csv";

/// Arguments of `subunit2csv`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Turn a subunit v2 stream into CSV: one row per test",
    long_about = "Turn a subunit v2 stream into CSV, as python-subunit's subunit2csv: a header \
                  row test,status,start_time,stop_time, then one row per test as it ends \
                  (tests still running when the input ends last, as failures), quoted as \
                  Python's csv module quotes, lines ending in CRLF.\n\n\
                  As in python-subunit, chatter (bytes that are not subunit) and packets \
                  without a test id go to standard output as subunit, among the rows (chatter \
                  as stdout file packets), unless --no-passthrough. The exit status is 1 when \
                  a test failed, never finished or unexpectedly succeeded."
)]
pub struct Args {
    /// Streams to read, in order, as one run; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Hide all non-subunit input (chatter and packets without a test id).
    #[arg(long)]
    pub no_passthrough: bool,

    /// Write the CSV to PATH rather than standard output.
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
        "A spreadsheet of a run:\n\n    subunit2csv --no-passthrough run.subunit > run.csv\n\n\
         The CSV to a file, the stream on to the next command:\n\n    run-tests | subunit2csv -f -o run.csv | subunit-stats",
    ),
    (
        "ROWS",
        "A test is identified by its test id and route code (exists packets are \
         ignored); it ends at its first success, uxsuccess, skip, fail or xfail packet. \
         Its status is success (also for uxsuccess, as in python-subunit), failure (fail, \
         and tests that never end), skip or xfail. Its start_time is the timestamp of its \
         first packet and its stop_time that of its last packet (none for a test that \
         never ends); where a packet has none, the time of the previous row stands in, \
         as in python-subunit. Times are written as Python writes a datetime in UTC: \
         2023-11-14 22:13:20.123456+00:00, the microseconds rounded half to even and \
         left out when zero. A field with a comma, a double quote, CR or LF is quoted, \
         its double quotes doubled.",
    ),
    (
        "DAMAGED INPUT",
        "Bytes that are not a valid packet are chatter; a damaged packet gives up only \
         its first byte, so valid packets inside or after it are still found. Its bytes \
         are passed through as chatter, and the number of damaged packets is reported \
         once on standard error.",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "python-subunit stops with an AssertionError traceback at the first failed test, \
         expected failure or unfinished test without an attachment (\"Either err or \
         details must be provided\"), leaving the CSV cut short; here it is a row like \
         any other. Before the first timestamp of the stream, python-subunit writes the \
         time of day it runs at as a test's times; here those fields are empty. \
         Packets without a test id are passed through as they came, and chatter in \
         packets cut where the input paused, where python-subunit writes them anew \
         (its microsecond timestamps, its one-byte reads). Damaged packets are chatter, \
         not a failing subunit.parser test row, and packets with the reserved flag set \
         or another version than 2 are damaged ones. Rows and passed-through packets \
         come in stream order, as python-subunit writes them only with \
         PYTHONUNBUFFERED set. Several files may be given; they are read in order as \
         one run.",
    ),
    (
        "EXIT STATUS",
        "0 when no test failed; 1 when a test failed, never finished or unexpectedly \
         succeeded (as python-subunit's); 2 on usage errors and when an input cannot be \
         opened, an output created, or either read or written. A closed standard output \
         (as by head) ends the command quietly with status 0.",
    ),
];

/// A test in progress: testtools' `_TestRecord` as far as the row needs it.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Its place in the dict of tests in progress (the last is popped first
    /// at the end).
    order: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    status: Status,
}

/// The rows of a run.
struct Rows {
    /// By [`Rows::key`].
    open: HashMap<Box<str>, Record>,
    key: String,
    next_order: u64,
    /// The time the CSV result last heard (`TestResult.time()`).
    now: Option<Timestamp>,
    failed: bool,
    row: Vec<u8>,
}

impl Rows {
    fn packet(&mut self, packet: &Packet<'_>, out: &mut impl Write) -> io::Result<()> {
        let Some(test_id) = packet.test_id() else {
            return Ok(());
        };
        let status = packet.status();
        if status == Status::Exists {
            return Ok(());
        }
        Rows::key(&mut self.key, test_id, packet.route_code());
        let record = match self.open.get_mut(self.key.as_str()) {
            Some(record) => record,
            None => {
                self.next_order += 1;
                let record = Record {
                    order: self.next_order,
                    first: packet.timestamp(),
                    last: None,
                    status: Status::Unset,
                };
                self.open.entry(self.key.as_str().into()).or_insert(record)
            }
        };
        if status != Status::Unset {
            record.status = status;
        }
        record.last = packet.timestamp();
        if status.is_final() {
            let record = *record;
            self.open.remove(self.key.as_str());
            self.write_row(test_id, record, out)?;
        }
        Ok(())
    }

    /// A test's key: its route code (or none: strings hold no NUL), a NUL,
    /// its id; one buffer, so that looking a test up allocates nothing.
    fn key(key: &mut String, test_id: &str, route_code: Option<&str>) {
        key.clear();
        match route_code {
            Some(route) => {
                key.push('r');
                key.push_str(route);
            }
            None => key.push('-'),
        }
        key.push('\0');
        key.push_str(test_id);
    }

    /// The tests still in progress, the latest started first (`popitem`).
    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        let mut left: Vec<_> = self.open.drain().collect();
        left.sort_unstable_by_key(|(_, r)| std::cmp::Reverse(r.order));
        for (key, record) in left {
            let record = Record {
                last: None,
                ..record
            };
            let test_id = &key[key.find('\0').expect("keys hold a NUL") + 1..];
            self.write_row(test_id, record, out)?;
        }
        Ok(())
    }

    fn write_row(&mut self, test_id: &str, record: Record, out: &mut impl Write) -> io::Result<()> {
        // testtools' PlaceHolder.run: time(first), startTest, time(last),
        // stopTest, each time() only when there is one.
        if record.first.is_some() {
            self.now = record.first;
        }
        let start = self.now;
        if record.last.is_some() {
            self.now = record.last;
        }
        let stop = self.now;
        let status = match record.status {
            Status::Success | Status::UxSuccess => "success",
            Status::Skip => "skip",
            Status::XFail => "xfail",
            _ => "failure",
        };
        if matches!(
            record.status,
            Status::UxSuccess | Status::Fail | Status::InProgress | Status::Unset
        ) {
            self.failed = true;
        }
        self.row.clear();
        field(test_id, &mut self.row);
        self.row.push(b',');
        self.row.extend_from_slice(status.as_bytes());
        for time in [start, stop] {
            self.row.push(b',');
            if let Some(time) = time {
                self.row.extend_from_slice(python_datetime(time).as_bytes());
            }
        }
        self.row.extend_from_slice(b"\r\n");
        out.write_all(&self.row)
    }
}

/// `str()` of python-subunit's UTC datetime for `ts`.
fn python_datetime(ts: Timestamp) -> String {
    let text = python_time(ts);
    let text = text.strip_suffix('Z').unwrap_or(&text);
    let text = text.strip_suffix(".000000").unwrap_or(text);
    format!("{text}+00:00")
}

/// Appends `text` as Python's csv writer (QUOTE_MINIMAL, excel dialect)
/// writes a field.
fn field(text: &str, out: &mut Vec<u8>) {
    if text.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        for part in text.split_inclusive('"') {
            out.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// What goes to standard output besides the rows.
#[derive(Clone, Copy)]
struct Passing {
    /// Packets with a test id (--forward).
    tests: bool,
    /// Chatter and packets without a test id.
    others: bool,
}

impl Passing {
    fn packet(self, packet: &Packet<'_>, out: &mut impl Write) -> io::Result<()> {
        let wanted = if packet.test_id().is_some() {
            self.tests
        } else {
            self.others
        };
        if wanted {
            out.write_all(packet.raw())?;
        }
        Ok(())
    }

    fn chatter(self, bytes: &[u8], out: &mut impl Write, scratch: &mut Vec<u8>) -> io::Result<()> {
        if !self.others {
            return Ok(());
        }
        // python-subunit's non_subunit_name="stdout" packet.
        scratch.clear();
        let event = Event {
            runnable: true,
            file: Some(("stdout", bytes)),
            ..Event::default()
        };
        encode(&event, scratch).expect("a name and content always encode");
        out.write_all(scratch)
    }
}

/// Runs `subunit2csv`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut csv_file = match &args.output_to {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|source| {
            Error::Create {
                path: path.clone(),
                source,
            }
        })?)),
        None => None,
    };
    let mut out = cli::stdout();
    let passing = Passing {
        tests: args.forward,
        others: !args.no_passthrough,
    };
    let mut rows = Rows {
        open: HashMap::default(),
        key: String::new(),
        next_order: 0,
        now: None,
        failed: false,
        row: Vec::new(),
    };
    let mut log = ReadLog::default();
    let mut scratch = Vec::new();
    {
        let csv: &mut dyn Write = match &mut csv_file {
            Some(file) => file,
            None => &mut out,
        };
        csv.write_all(b"test,status,start_time,stop_time\r\n")?;
    }
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    passing.packet(&packet, &mut out)?;
                    match &mut csv_file {
                        Some(file) => rows.packet(&packet, file)?,
                        None => rows.packet(&packet, &mut out)?,
                    }
                }
                Item::Chatter(chatter) => passing.chatter(chatter.bytes, &mut out, &mut scratch)?,
                Item::Idle => {
                    if let Some(file) = &mut csv_file {
                        file.flush()?;
                    }
                    out.flush()?;
                }
            }
        }
        log.add_reader(&reader);
    }
    match &mut csv_file {
        Some(file) => {
            rows.finish(file)?;
            file.flush()?;
        }
        None => rows.finish(&mut out)?,
    }
    out.flush()?;
    log.report(NAME);
    Ok(if rows.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_pythons_csv_writer_quotes() {
        let quoted = |s: &str| {
            let mut out = Vec::new();
            field(s, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(quoted("plain id"), "plain id");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("two\nlines"), "\"two\nlines\"");
        assert_eq!(quoted("cr\r"), "\"cr\r\"");
        assert_eq!(quoted(""), "");
    }

    #[test]
    fn datetimes_are_pythons_str() {
        let ts = |seconds, nanos| Timestamp { seconds, nanos };
        assert_eq!(
            python_datetime(ts(1_700_000_000, 0)),
            "2023-11-14 22:13:20+00:00"
        );
        assert_eq!(
            python_datetime(ts(1_700_000_000, 1_500)),
            "2023-11-14 22:13:20.000002+00:00"
        );
        assert_eq!(
            python_datetime(ts(0, 999_999_500)),
            "1970-01-01 00:00:01+00:00"
        );
    }
}
