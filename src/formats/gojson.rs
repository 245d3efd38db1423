//! `go test -json` (test2json) to subunit v2, as python-subunit's
//! `gojson2subunit` writes it.
//!
//! Each line is one JSON object: `Time`, `Action` (`start`, `run`,
//! `pause`, `cont`, `output`, `bench`, `pass`, `fail`, `skip`, and since Go
//! 1.24 `build-output` and `build-fail`), `Package`, `Test`, `Elapsed`,
//! `Output`. A [`GoJsonConverter`] is fed the text as it arrives and
//! appends packets to a buffer: `run` is an inprogress packet at once, a
//! test's `output` is kept until its `pass`, `fail` or `skip`, whose packet
//! carries it as the attachment `go test output`. Tests are named
//! `<package>.<Test>` (subtests `<package>.<Parent>/<Sub>`), and a
//! package's own failure (no `Test`: a build failure, a panic in `init`, a
//! timeout) is the failing test `<package> [build]` with the package's
//! output.
//!
//! Nothing is dropped: a line that is not a JSON object, or that no rule
//! here reads, becomes a `stdout` file packet as it comes; so does a
//! passing package's own output, at its end. The plain-text line with
//! which Go before 1.24 reports a build failure, `FAIL\tPKG [build
//! failed]`, fails `PKG [build]`. Tests still running when their package
//! ends, or when the input does, fail.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::formats::text::{LineSplitter, Piece};
use crate::formats::v1::parse_iso8601;

/// The attachment of a test's output.
pub const OUTPUT_FILE: &str = "go test output";
/// Its MIME type, and that of the chatter.
pub const TEXT_MIME: &str = "text/plain; charset=UTF8";
/// What a package's own failure is named by, after the package.
pub const BUILD_SUFFIX: &str = " [build]";
/// The file name of the lines that are not `go test -json`.
pub const CHATTER_FILE: &str = "stdout";

/// Lines longer than this are not read as JSON: they are chatter, and go
/// out in packets of at most this much as they come.
pub const MAX_LINE: usize = 4 * 1024 * 1024 - 64 * 1024;

/// A test's output beyond this goes out in a packet of its own while the
/// test runs (so memory stays bounded, and no packet is too large).
const MAX_HELD_OUTPUT: usize = 1024 * 1024;

/// Test ids longer than this are cut short (with `…`), to fit a packet.
const MAX_ID: usize = 64 * 1024;

/// A test seen and not ended.
#[derive(Debug, Default)]
struct Open {
    /// Its package, to end it with its package.
    package: String,
    /// Its output not yet written.
    output: Vec<u8>,
    /// Whether its `run` came.
    running: bool,
    /// Where python-subunit would report it at the end of the input: the
    /// order in which tests first had output (then those without).
    order: u64,
}

/// Converts `go test -json` to subunit; see the module documentation.
#[derive(Debug, Default)]
pub struct GoJsonConverter {
    tests: HashMap<String, Open>,
    /// The open tests by `Open::order`.
    order: BTreeMap<u64, String>,
    next_order: u64,
    /// Each package's own output (events without a `Test`).
    packages: HashMap<String, Vec<u8>>,
    /// The output of each failed build (`build-output`), by `ImportPath`.
    builds: HashMap<String, Vec<u8>>,
    /// Whether a test failed.
    failed: bool,
    /// The lines; those too long to be read are chatter.
    lines: LineSplitter<MAX_LINE>,
}

impl GoJsonConverter {
    /// A converter before any event.
    pub fn new() -> GoJsonConverter {
        GoJsonConverter::default()
    }

    /// Whether a test failed (or a package, or a test never ended).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Takes in text that has just arrived.
    pub fn text(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        // Out of `self` while it hands lines to `self.read_line`.
        let mut lines = std::mem::take(&mut self.lines);
        lines.text(bytes, |piece| match piece {
            Piece::Line(line) => self.read_line(line, out),
            Piece::Long(part) => chatter(part, out),
        });
        self.lines = lines;
    }

    /// A subunit packet comes next (passed on by the caller): it ends the
    /// line so far, which is read as it is.
    pub fn before_packet(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
    }

    /// One input ended (more may follow, as files do, read as one stream):
    /// its last line is read even without a newline.
    pub fn end_input(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
    }

    /// The input ended: reads its last line even without a newline; the
    /// tests still open fail, in the order python-subunit reports them,
    /// and what packages and builds said is chatter.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
        for (_, id) in std::mem::take(&mut self.order) {
            let open = self.tests.remove(&id).expect("an open test");
            self.end_test(&id, open, Status::Fail, None, out);
        }
        // Then those that ran without output (python-subunit does not
        // report them).
        let mut silent: Vec<_> = self.tests.drain().collect();
        silent.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, open) in silent {
            self.end_test(&id, open, Status::Fail, None, out);
        }
        let mut rest: Vec<_> = self.packages.drain().chain(self.builds.drain()).collect();
        rest.sort();
        for (_, output) in rest {
            chatter(&output, out);
        }
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.end_line(|line| self.read_line(line, out));
        self.lines = lines;
    }

    /// Reads one line (with its newline, if it has one).
    fn read_line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let text = raw.trim_ascii();
        let read = match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(event)) => self.event(&event, out),
            Ok(_) => false,
            Err(_) => self.build_failed(text, raw, out),
        };
        if !read {
            chatter(raw, out);
        }
    }

    /// Reads one event; false when no rule reads it.
    fn event(&mut self, event: &Map<String, Value>, out: &mut Vec<u8>) -> bool {
        let field = |name| event.get(name).and_then(Value::as_str);
        let package = field("Package").unwrap_or("");
        let test = field("Test").filter(|t| !t.is_empty());
        let time = field("Time").and_then(parse_iso8601);
        let output = field("Output").unwrap_or("");
        match (field("Action").unwrap_or(""), test) {
            ("output", Some(test)) => {
                let id = test_id(package, test);
                let next_order = self.next_order;
                let open = self.open(&id, package);
                if open.order == u64::MAX {
                    open.order = next_order;
                    self.next_order += 1;
                    self.order.insert(next_order, id.clone());
                }
                let open = self.tests.get_mut(&id).expect("just opened");
                open.output.extend_from_slice(output.as_bytes());
                if open.output.len() >= MAX_HELD_OUTPUT {
                    let whole = open.output.len() / MAX_HELD_OUTPUT * MAX_HELD_OUTPUT;
                    for part in open.output[..whole].chunks(MAX_HELD_OUTPUT) {
                        attachment(&id, part, out);
                    }
                    open.output.drain(..whole);
                }
            }
            ("output", None) if !package.is_empty() => {
                let held = self.packages.entry(package.to_owned()).or_default();
                held.extend_from_slice(output.as_bytes());
                if held.len() >= MAX_HELD_OUTPUT {
                    chatter(held, out);
                    held.clear();
                }
            }
            ("output", None) => chatter(output.as_bytes(), out),
            ("run", Some(test)) => {
                let id = test_id(package, test);
                self.open(&id, package).running = true;
                let event = Event {
                    status: Status::InProgress,
                    runnable: true,
                    timestamp: time,
                    test_id: Some(&id),
                    ..Event::default()
                };
                encode(&event, out).expect("test ids are cut to fit a packet");
            }
            (action @ ("pass" | "fail" | "skip"), Some(test)) => {
                let id = test_id(package, test);
                let open = self.close(&id).unwrap_or_default();
                if !open.running {
                    // No run: the test's start is its end less its time.
                    let elapsed = event.get("Elapsed").and_then(Value::as_f64);
                    let elapsed = elapsed.filter(|e| *e > 0.0);
                    if let Some(start) = time.zip(elapsed).and_then(|(t, e)| before(t, e)) {
                        let event = Event {
                            status: Status::InProgress,
                            runnable: true,
                            timestamp: Some(start),
                            test_id: Some(&id),
                            ..Event::default()
                        };
                        encode(&event, out).expect("test ids are cut to fit a packet");
                    }
                }
                let status = match action {
                    "pass" => Status::Success,
                    "skip" => Status::Skip,
                    _ => Status::Fail,
                };
                self.end_test(&id, open, status, time, out);
            }
            (action @ ("pass" | "fail" | "skip"), None) if !package.is_empty() => {
                self.end_package(package, time, out);
                let mut output = self.packages.remove(package).unwrap_or_default();
                if action == "fail" {
                    if let Some(build) = field("FailedBuild").and_then(|b| self.builds.remove(b)) {
                        output.splice(0..0, build);
                    }
                    let id = clean_id(format!("{package}{BUILD_SUFFIX}"));
                    self.end_test(
                        &id,
                        Open {
                            output,
                            ..Open::default()
                        },
                        Status::Fail,
                        time,
                        out,
                    );
                } else {
                    chatter(&output, out);
                }
            }
            ("build-output", _) => match field("ImportPath") {
                Some(path) => {
                    let held = self.builds.entry(path.to_owned()).or_default();
                    held.extend_from_slice(output.as_bytes());
                }
                None => return false,
            },
            ("start" | "pause" | "cont" | "bench" | "build-fail", _) => {}
            _ => return false,
        }
        true
    }

    /// The text line Go before 1.24 reports a build failure with,
    /// `FAIL\tPKG [build failed]`: fails `PKG [build]`, the line
    /// attached. False for any other line.
    fn build_failed(&mut self, text: &[u8], raw: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(package) = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.strip_prefix("FAIL\t"))
            .and_then(|t| t.strip_suffix(" [build failed]"))
            .filter(|p| !p.is_empty() && !p.contains(char::is_whitespace))
        else {
            return false;
        };
        let id = clean_id(format!("{package}{BUILD_SUFFIX}"));
        let mut output = self.packages.remove(package).unwrap_or_default();
        output.extend_from_slice(raw);
        self.end_test(
            &id,
            Open {
                output,
                ..Open::default()
            },
            Status::Fail,
            None,
            out,
        );
        true
    }

    /// The open test `id`, made if new.
    fn open(&mut self, id: &str, package: &str) -> &mut Open {
        if !self.tests.contains_key(id) {
            let open = Open {
                package: package.to_owned(),
                order: u64::MAX,
                ..Open::default()
            };
            self.tests.insert(id.to_owned(), open);
        }
        self.tests.get_mut(id).expect("just made")
    }

    /// Takes test `id` out of the open tests.
    fn close(&mut self, id: &str) -> Option<Open> {
        let open = self.tests.remove(id)?;
        if open.order != u64::MAX {
            self.order.remove(&open.order);
        }
        Some(open)
    }

    /// The package ended: its tests still open fail, as they can no
    /// longer end, at the package's time, in the order of the others.
    fn end_package(&mut self, package: &str, time: Option<Timestamp>, out: &mut Vec<u8>) {
        let mut ended: Vec<(u64, String)> = self
            .tests
            .iter()
            .filter(|(_, open)| open.package == package)
            .map(|(id, open)| (open.order, id.clone()))
            .collect();
        ended.sort();
        for (_, id) in ended {
            let open = self.close(&id).expect("an open test");
            self.end_test(&id, open, Status::Fail, time, out);
        }
    }

    /// Writes the end of a test: its output, then its outcome (with the
    /// last of its output, as python-subunit writes it).
    fn end_test(
        &mut self,
        id: &str,
        open: Open,
        status: Status,
        time: Option<Timestamp>,
        out: &mut Vec<u8>,
    ) {
        self.failed |= status == Status::Fail;
        let output = &open.output[..];
        let event = Event {
            status,
            runnable: true,
            eof: true,
            timestamp: time,
            test_id: Some(id),
            mime: (!output.is_empty()).then_some(TEXT_MIME),
            file: (!output.is_empty()).then_some((OUTPUT_FILE, output)),
            ..Event::default()
        };
        encode(&event, out).expect("test ids are cut and output held to fit a packet");
    }
}

/// `<package>.<Test>`, as python-subunit names a test.
fn test_id(package: &str, test: &str) -> String {
    clean_id(format!("{package}.{test}"))
}

/// `id` made fit for a packet: no NUL (which JSON may hold, and a packet
/// may not), cut short when too long.
fn clean_id(mut id: String) -> String {
    if id.contains('\0') {
        id = id.replace('\0', "\u{fffd}");
    }
    if id.len() > MAX_ID {
        let mut cut = MAX_ID;
        while !id.is_char_boundary(cut) {
            cut -= 1;
        }
        id.truncate(cut);
        id.push('…');
    }
    id
}

/// `time` less `elapsed` seconds, when that is a time.
fn before(time: Timestamp, elapsed: f64) -> Option<Timestamp> {
    if !(0.0..1e9).contains(&elapsed) {
        return None;
    }
    let nanos = i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos)
        - (elapsed * 1e9).round() as i128;
    // To the microsecond, as the times read are.
    let nanos = nanos - nanos.rem_euclid(1000);
    Some(Timestamp {
        seconds: u32::try_from(nanos.div_euclid(1_000_000_000)).ok()?,
        nanos: nanos.rem_euclid(1_000_000_000) as u32,
    })
}

/// A part of a test's output, while it runs: a file packet without EOF.
fn attachment(id: &str, output: &[u8], out: &mut Vec<u8>) {
    let event = Event {
        runnable: true,
        test_id: Some(id),
        mime: Some(TEXT_MIME),
        file: Some((OUTPUT_FILE, output)),
        ..Event::default()
    };
    encode(&event, out).expect("test ids are cut and output held to fit a packet");
}

/// Chatter: `stdout` file packets, as tap2subunit writes them.
fn chatter(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(MAX_LINE) {
        let event = Event {
            runnable: true,
            mime: Some(TEXT_MIME),
            file: Some((CHATTER_FILE, chunk)),
            ..Event::default()
        };
        encode(&event, out).expect("a chatter chunk fits a packet");
    }
}
