//! What the result lines of the chatter become: test results, a TAP
//! result held for the diagnostics that follow it.

use super::lines::clean_line;
use super::{AutomakeReader, MAX_CHUNK, WrapOptions, Wrapper, timestamp};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::formats::tap::{
    COMMENT_FILE, META_FILE, MISSING_NOTE, SKIP_ALL_ID, TEXT_MIME, TapEvent, TapReader,
    bail_out_name, test_name,
};

/// A test result to report.
#[derive(Debug)]
pub(super) struct Outcome {
    status: Status,
    test_id: String,
    /// When its line came.
    timestamp: Option<Timestamp>,
    /// An attachment: file name and text (none when empty).
    file: (&'static str, String),
}

impl Wrapper {
    /// Reports what a complete line means. A TAP result is held until the
    /// next line that is not a diagnostic (whose text it takes as its
    /// `tap comment`), or until the input pauses or ends.
    pub(super) fn read_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Wrapper {
            options,
            automake,
            tap,
            held,
            ..
        } = self;
        let tap_may_read = tap.is_some() && TapReader::may_read(line);
        // Most lines are neither: the first byte tells, before the costlier
        // cleaning.
        if !tap_may_read && !AutomakeReader::may_read(line) {
            release(options, held, out);
            return;
        }
        let text = clean_line(line);
        let in_log = automake.in_global_log();
        if let Some((status, name)) = automake.line(&text) {
            release(options, held, out);
            let outcome = Outcome::new(options, status, name.to_owned());
            outcome.encode(options, out);
            return;
        }
        let Some(tap) = tap
            .as_mut()
            .filter(|_| !in_log && !automake.in_global_log())
        else {
            release(options, held, out);
            return;
        };
        // A line that means nothing to TAP releases the held result too.
        let mut tap_line = false;
        tap.line(&text, |event| {
            tap_line = true;
            if let TapEvent::Diagnostic { text } = event {
                if let Some(held) = held {
                    held.attach(text);
                }
                return;
            }
            release(options, held, out);
            match event {
                TapEvent::Result(result) => {
                    let mut outcome = Outcome::new(options, result.status, result.name());
                    outcome.attach(result.reason);
                    *held = Some(outcome);
                }
                TapEvent::SkipAll { reason } => {
                    let mut outcome = Outcome::new(options, Status::Skip, SKIP_ALL_ID.to_owned());
                    outcome.attach(reason);
                    outcome.encode(options, out);
                }
                TapEvent::BailOut { reason } => {
                    Outcome::new(options, Status::Fail, bail_out_name(reason)).encode(options, out);
                }
                TapEvent::Missing { first, last } => missing(options, first, last, out),
                TapEvent::Plan { .. } | TapEvent::Diagnostic { .. } => {}
            }
        });
        if !tap_line {
            release(options, held, out);
        }
    }
}

/// The most text attached to one TAP result; later diagnostics stay chatter
/// only.
const MAX_COMMENT: usize = MAX_CHUNK;

/// The most missing TAP tests reported one by one for one gap; the rest of
/// a larger gap (a stray `1..99999999999`) is one failing test.
pub(super) const MAX_MISSING: u64 = 10_000;

impl Outcome {
    fn new(options: &WrapOptions, status: Status, test_id: String) -> Outcome {
        Outcome {
            status,
            test_id,
            timestamp: timestamp(options),
            file: (COMMENT_FILE, String::new()),
        }
    }

    /// Adds a line to the attachment, as tap2subunit does: lines joined by
    /// newlines, none at the end.
    fn attach(&mut self, text: &str) {
        let comment = &mut self.file.1;
        if text.is_empty() || comment.len() + 1 + text.len() > MAX_COMMENT {
            return;
        }
        if !comment.is_empty() {
            comment.push('\n');
        }
        comment.push_str(text);
    }

    fn encode(&self, options: &WrapOptions, out: &mut Vec<u8>) {
        let (name, text) = &self.file;
        let attached = !text.is_empty();
        let event = Event {
            status: self.status,
            runnable: true,
            eof: attached,
            timestamp: self.timestamp,
            test_id: Some(&self.test_id),
            mime: attached.then_some(TEXT_MIME),
            file: attached.then_some((name, text.as_bytes())),
            route_code: options.route_code.as_deref(),
            ..Event::default()
        };
        encode(&event, out).expect("result names are cleaned");
    }
}

/// Reports the held TAP result, if any.
pub(super) fn release(options: &WrapOptions, held: &mut Option<Outcome>, out: &mut Vec<u8>) {
    if let Some(outcome) = held.take() {
        outcome.encode(options, out);
    }
}

/// Reports TAP tests `first..=last` as missing: failures.
pub(super) fn missing(options: &WrapOptions, first: u64, last: u64, out: &mut Vec<u8>) {
    let one_by_one = last.min(first.saturating_add(MAX_MISSING - 1));
    for number in first..=one_by_one {
        let mut outcome = Outcome::new(options, Status::Fail, test_name(number, ""));
        outcome.file = (META_FILE, MISSING_NOTE.to_owned());
        outcome.encode(options, out);
    }
    if one_by_one < last {
        let test_id = format!("test {}..{last}", one_by_one + 1);
        let mut outcome = Outcome::new(options, Status::Fail, test_id);
        outcome.file = (
            META_FILE,
            format!("{} tests missing from TAP output", last - one_by_one),
        );
        outcome.encode(options, out);
    }
}
