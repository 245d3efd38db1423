//! What the result lines of the chatter become: test results, a TAP
//! result held for the diagnostics that follow it. The buffers of the
//! results are kept from one to the next, so that a line costs no
//! allocation.

use std::borrow::Cow;

use super::lines::clean_line;
use super::{AutomakeReader, MAX_CHUNK, WrapOptions, Wrapper};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::formats::tap::{
    COMMENT_FILE, META_FILE, MISSING_NOTE, SKIP_ALL_ID, TEXT_MIME, TapEvent, TapReader,
    push_number, write_bail_out_name, write_test_name,
};

/// A test result to report; its buffers are reused from one result to the
/// next, so that a line costs no allocation.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    status: Status,
    test_id: String,
    /// When its line came.
    timestamp: Option<Timestamp>,
    /// The attachment's file name.
    file_name: &'static str,
    /// The attachment's text (none when empty).
    text: String,
}

/// The latest TAP result, when one is held.
#[derive(Debug, Default)]
pub(super) struct Held {
    outcome: Outcome,
    /// Whether `outcome` is one still to report.
    holding: bool,
}

impl Wrapper {
    /// Reports what a complete line means. A TAP result is held until the
    /// next line that is not a diagnostic (whose text it takes as its
    /// `tap comment`), or until the input pauses or ends. `clean` is the
    /// line as text when it is known to be clean (see [`clean_line`]).
    pub(super) fn read_line(&mut self, line: &[u8], clean: Option<&str>, out: &mut Vec<u8>) {
        let Wrapper {
            options,
            automake,
            tap,
            held,
            scratch,
            now,
            ..
        } = self;
        let now = *now;
        let tap_may_read = tap.is_some() && TapReader::may_read(line);
        let automake_may_read = AutomakeReader::may_read(line);
        // Most lines are neither: the first byte tells, before the costlier
        // cleaning.
        if !tap_may_read && !automake_may_read {
            release(options, held, out);
            return;
        }
        let text = match clean {
            Some(text) => Cow::Borrowed(text.strip_suffix('\r').unwrap_or(text)),
            None => clean_line(line),
        };
        let in_log = automake.in_global_log();
        // A line automake's reader would not look at means nothing to it
        // (and leaves it as it is): cleaning keeps the first byte, or makes
        // it a character it does not look at either.
        if automake_may_read {
            if let Some((status, name)) = automake.line(&text) {
                release(options, held, out);
                scratch.start(status, now).push_str(name);
                scratch.encode(options, out);
                return;
            }
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
                if held.holding {
                    held.outcome.attach(text);
                }
                return;
            }
            release(options, held, out);
            match event {
                TapEvent::Result(result) => {
                    let outcome = &mut held.outcome;
                    result.write_name(outcome.start(result.status, now));
                    outcome.attach(result.reason);
                    held.holding = true;
                }
                TapEvent::SkipAll { reason } => {
                    scratch.start(Status::Skip, now).push_str(SKIP_ALL_ID);
                    scratch.attach(reason);
                    scratch.encode(options, out);
                }
                TapEvent::BailOut { reason } => {
                    write_bail_out_name(reason, scratch.start(Status::Fail, now));
                    scratch.encode(options, out);
                }
                TapEvent::Missing { first, last } => {
                    missing(options, scratch, now, first, last, out)
                }
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
    /// Starts the next result: `status`, made at `timestamp`, without an
    /// attachment; returns its test id, empty, to be written.
    fn start(&mut self, status: Status, timestamp: Option<Timestamp>) -> &mut String {
        self.status = status;
        self.timestamp = timestamp;
        self.file_name = COMMENT_FILE;
        self.text.clear();
        self.test_id.clear();
        &mut self.test_id
    }

    /// Adds a line to the attachment, as tap2subunit does: lines joined by
    /// newlines, none at the end.
    fn attach(&mut self, text: &str) {
        let comment = &mut self.text;
        if text.is_empty() || comment.len() + 1 + text.len() > MAX_COMMENT {
            return;
        }
        if !comment.is_empty() {
            comment.push('\n');
        }
        comment.push_str(text);
    }

    fn encode(&self, options: &WrapOptions, out: &mut Vec<u8>) {
        let attached = !self.text.is_empty();
        let event = Event {
            status: self.status,
            runnable: true,
            eof: attached,
            timestamp: self.timestamp,
            test_id: Some(&self.test_id),
            mime: attached.then_some(TEXT_MIME),
            file: attached.then_some((self.file_name, self.text.as_bytes())),
            route_code: options.route_code.as_deref(),
            ..Event::default()
        };
        encode(&event, out).expect("result names are cleaned");
    }
}

/// Reports the held TAP result, if any.
pub(super) fn release(options: &WrapOptions, held: &mut Held, out: &mut Vec<u8>) {
    if held.holding {
        held.holding = false;
        held.outcome.encode(options, out);
    }
}

/// Reports TAP tests `first..=last` as missing: failures.
pub(super) fn missing(
    options: &WrapOptions,
    outcome: &mut Outcome,
    now: Option<Timestamp>,
    first: u64,
    last: u64,
    out: &mut Vec<u8>,
) {
    let one_by_one = last.min(first.saturating_add(MAX_MISSING - 1));
    for number in first..=one_by_one {
        write_test_name(number, "", outcome.start(Status::Fail, now));
        outcome.file_name = META_FILE;
        outcome.text.push_str(MISSING_NOTE);
        outcome.encode(options, out);
    }
    if one_by_one < last {
        let test_id = outcome.start(Status::Fail, now);
        test_id.push_str("test ");
        push_number(one_by_one + 1, test_id);
        test_id.push_str("..");
        push_number(last, test_id);
        outcome.file_name = META_FILE;
        push_number(last - one_by_one, &mut outcome.text);
        outcome.text.push_str(" tests missing from TAP output");
        outcome.encode(options, out);
    }
}
