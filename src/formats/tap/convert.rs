//! TAP to subunit v2, as `tap2subunit` writes it: each result a packet
//! with python-subunit's test id, outcome and `tap comment`, each line that
//! is not TAP a `stdout` file packet of its own.
//!
//! A [`TapConverter`] is fed the text of one stream as it arrives
//! ([`TapConverter::text`]) and appends packets to a buffer. A result is
//! held until the next line that is not one of its diagnostics or of its
//! YAML block, or until the input pauses ([`TapConverter::pause`]): what
//! comes between is attached to it, while a hung test still shows
//! downstream at once. A line is read once it is complete; a line too long
//! to be TAP goes out as chatter as it comes.

use super::{
    COMMENT_FILE, META_FILE, MISSING_NOTE, NestedEvent, NestedReader, SKIP_ALL_ID, TEXT_MIME,
    TapEvent, push_number, write_bail_out_name, write_test_name,
};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::Status;
use crate::formats::text::{LineSplitter, Piece, clean_line};

/// The attachment holding a result's YAML block.
pub const YAML_FILE: &str = "tap yaml";
/// Its MIME type.
pub const YAML_MIME: &str = "text/x-yaml; charset=UTF8";
/// The file name of the lines that are not TAP.
pub const CHATTER_FILE: &str = "stdout";

/// Lines longer than this are not read as TAP: they are chatter, and go
/// out in packets of at most this much as they come.
pub const MAX_LINE: usize = 64 * 1024;

/// The most text attached to one result, each of comment and YAML; the
/// lines beyond stay chatter.
const MAX_ATTACHED: usize = 1024 * 1024;

/// The most missing tests reported one by one for one gap; the rest of a
/// larger gap (a stray `1..99999999999`) is one failing test.
pub const MAX_MISSING: u64 = 10_000;

/// A result being held for its diagnostics; the buffers are reused.
#[derive(Debug, Default)]
struct Held {
    holding: bool,
    status: Status,
    test_id: String,
    /// The directive's reason and diagnostics, joined by newlines.
    comment: String,
    /// The YAML block's lines, each with its newline.
    yaml: String,
    /// Whether a YAML block of it is being read.
    in_yaml: bool,
    /// Whether it is a `Bail out!`, which ends its stream at once: the
    /// tests found missing then are written after it, as they come after
    /// its diagnostics.
    bail_out: bool,
    /// Those tests: their prefix, first and last number.
    missing_after: Vec<(String, u64, u64)>,
}

impl Held {
    /// Starts holding a result; returns its test id, empty, to be written.
    fn start(&mut self, status: Status) -> &mut String {
        self.holding = true;
        self.status = status;
        self.test_id.clear();
        self.comment.clear();
        self.yaml.clear();
        self.in_yaml = false;
        self.bail_out = false;
        &mut self.test_id
    }

    /// Adds a line to the comment, as tap2subunit does: lines joined by
    /// newlines, none at the end. False when it does not fit.
    fn comment(&mut self, text: &str) -> bool {
        if self.comment.len() + 1 + text.len() > MAX_ATTACHED {
            return false;
        }
        if !self.comment.is_empty() {
            self.comment.push('\n');
        }
        self.comment.push_str(text);
        true
    }

    /// Writes the result and stops holding it.
    fn release(&mut self, out: &mut Vec<u8>) {
        if !self.holding {
            return;
        }
        self.holding = false;
        self.in_yaml = false;
        if !self.yaml.is_empty() {
            let event = Event {
                eof: true,
                test_id: Some(&self.test_id),
                mime: Some(YAML_MIME),
                file: Some((YAML_FILE, self.yaml.as_bytes())),
                ..Event::default()
            };
            encode(&event, out).expect("test ids and attachments fit a packet");
        }
        let comment = (!self.comment.is_empty()).then_some(self.comment.as_bytes());
        result(&self.test_id, self.status, COMMENT_FILE, comment, out);
        for (prefix, first, last) in self.missing_after.drain(..) {
            // The test id buffer is free now.
            missing(&prefix, first, last, &mut self.test_id, out);
        }
    }
}

/// A result packet as tap2subunit writes one: not runnable, EOF set even
/// without an attachment, no timestamp.
fn result(test_id: &str, status: Status, file: &str, text: Option<&[u8]>, out: &mut Vec<u8>) {
    let event = Event {
        status,
        eof: true,
        test_id: Some(test_id),
        mime: text.map(|_| TEXT_MIME),
        file: text.map(|text| (file, text)),
        ..Event::default()
    };
    encode(&event, out).expect("test ids and attachments fit a packet");
}

/// A chatter packet as tap2subunit writes one: a `stdout` file packet,
/// runnable, without EOF.
fn chatter(bytes: &[u8], out: &mut Vec<u8>) {
    let event = Event {
        runnable: true,
        mime: Some(TEXT_MIME),
        file: Some((CHATTER_FILE, bytes)),
        ..Event::default()
    };
    encode(&event, out).expect("a chatter chunk fits a packet");
}

/// Converts TAP to subunit; see the module documentation.
#[derive(Debug, Default)]
pub struct TapConverter {
    reader: NestedReader,
    held: Held,
    /// The lines; those too long to be TAP are chatter.
    lines: LineSplitter<MAX_LINE>,
    /// A scratch test id, for results written at once.
    scratch: String,
}

impl TapConverter {
    /// A converter before any TAP.
    pub fn new() -> TapConverter {
        TapConverter::default()
    }

    /// Takes in text that has just arrived.
    pub fn text(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        // Out of `self` while it hands lines to `self.read_line`.
        let mut lines = std::mem::take(&mut self.lines);
        lines.text(bytes, |piece| match piece {
            Piece::Line(line) => self.read_line(line, out),
            Piece::Long(part) => {
                // Too long to be TAP: chatter, which ends the result held
                // (once held, nothing is held again until the line ends).
                self.held.release(out);
                chatter(part, out);
            }
        });
        self.lines = lines;
    }

    /// The input paused: the result held goes out.
    pub fn pause(&mut self, out: &mut Vec<u8>) {
        self.held.release(out);
    }

    /// A subunit packet comes next (passed on by the caller): it ends the
    /// line so far, which is read as it is, and the result held goes out.
    pub fn before_packet(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
        self.held.release(out);
    }

    /// One input ended (more may follow, as files do): reads its last line
    /// even without a newline, and reports the tests its plans named that
    /// never came; the next input is a TAP stream of its own.
    pub fn end_input(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
        self.held.release(out);
        let TapConverter {
            reader,
            held,
            scratch,
            ..
        } = self;
        reader.finish(|prefix, event| {
            if let NestedEvent::Tap(TapEvent::Missing { first, last }) = event {
                held.release(out);
                missing(prefix, first, last, scratch, out);
            }
        });
    }

    /// Reads the line so far as a whole line.
    fn end_line(&mut self, out: &mut Vec<u8>) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.end_line(|line| self.read_line(line, out));
        self.lines = lines;
    }

    /// Reads one line (with its newline, if it has one) and writes what it
    /// means.
    fn read_line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let body = raw.strip_suffix(b"\n").unwrap_or(raw);
        let text = clean_line(body);
        let TapConverter {
            reader,
            held,
            scratch,
            ..
        } = self;
        let mut kept = false;
        reader.line(&text, |prefix, event| {
            if !matches!(event, NestedEvent::Yaml(_) | NestedEvent::YamlEnd) {
                // The reader reads a YAML block no longer.
                held.in_yaml = false;
            }
            read_event(prefix, event, held, scratch, &mut kept, out);
        });
        if kept {
            held.release(out);
            chatter(raw, out);
        }
    }
}

/// Writes what one event of a line means, or tells that the line is to be
/// kept as chatter.
fn read_event(
    prefix: &str,
    event: NestedEvent,
    held: &mut Held,
    scratch: &mut String,
    kept: &mut bool,
    out: &mut Vec<u8>,
) {
    match event {
        NestedEvent::Tap(TapEvent::Result(result)) => {
            held.release(out);
            let test_id = held.start(result.status);
            test_id.push_str(prefix);
            result.write_name(test_id);
            if !result.reason.is_empty() {
                held.comment(result.reason);
            }
        }
        NestedEvent::Tap(TapEvent::BailOut { reason }) => {
            held.release(out);
            let test_id = held.start(Status::Fail);
            test_id.push_str(prefix);
            write_bail_out_name(reason, test_id);
            held.bail_out = true;
        }
        NestedEvent::Tap(TapEvent::Missing { first, last }) if held.holding && held.bail_out => {
            held.missing_after.push((prefix.to_owned(), first, last));
        }
        NestedEvent::Tap(TapEvent::Missing { first, last }) => {
            held.release(out);
            missing(prefix, first, last, scratch, out);
        }
        NestedEvent::Tap(TapEvent::SkipAll { reason }) => {
            held.release(out);
            scratch.clear();
            scratch.push_str(prefix);
            scratch.push_str(SKIP_ALL_ID);
            let event = Event {
                status: Status::Skip,
                // As tap2subunit writes it.
                runnable: true,
                eof: true,
                test_id: Some(scratch),
                mime: (!reason.is_empty()).then_some(TEXT_MIME),
                file: (!reason.is_empty()).then_some((COMMENT_FILE, reason.as_bytes())),
                ..Event::default()
            };
            encode(&event, out).expect("test ids and attachments fit a packet");
        }
        NestedEvent::Tap(TapEvent::Plan { .. }) => held.release(out),
        NestedEvent::Tap(TapEvent::Diagnostic { text }) => {
            // Attached to the result before it, else kept.
            *kept = !(held.holding && held.comment(text));
        }
        NestedEvent::YamlStart => {
            held.in_yaml = held.holding;
            *kept = !held.holding;
        }
        NestedEvent::Yaml(text) => {
            let fits = held.yaml.len() + text.len() < MAX_ATTACHED;
            if held.in_yaml && fits {
                held.yaml.push_str(text);
                held.yaml.push('\n');
            } else {
                *kept = true;
            }
        }
        NestedEvent::YamlEnd => {
            *kept = !held.in_yaml;
            held.in_yaml = false;
        }
        NestedEvent::Other => *kept = true,
    }
}

/// Reports tests `first..=last` named after `prefix` as missing: failures.
fn missing(prefix: &str, first: u64, last: u64, test_id: &mut String, out: &mut Vec<u8>) {
    let one_by_one = last.min(first.saturating_add(MAX_MISSING - 1));
    for number in first..=one_by_one {
        test_id.clear();
        test_id.push_str(prefix);
        write_test_name(number, "", test_id);
        result(
            test_id,
            Status::Fail,
            META_FILE,
            Some(MISSING_NOTE.as_bytes()),
            out,
        );
    }
    if one_by_one < last {
        test_id.clear();
        test_id.push_str(prefix);
        test_id.push_str("test ");
        push_number(one_by_one + 1, test_id);
        test_id.push_str("..");
        push_number(last, test_id);
        let mut note = String::new();
        push_number(last - one_by_one, &mut note);
        note.push_str(" tests missing from TAP output");
        result(test_id, Status::Fail, META_FILE, Some(note.as_bytes()), out);
    }
}
