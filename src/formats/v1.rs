//! The subunit v1 text protocol, as python-subunit writes and reads it.
//!
//! Writing ([`V1Writer`]) follows python-subunit's `TestProtocolClient` fed
//! by testtools' `StreamToExtendedDecorator`, byte for byte: a test is
//! written when it ends, as `time:`, `tags:`, `test:`, `time:`, the outcome
//! with its attachments in a multipart block, and `tags:` removing its tags.
//! The one difference: the words of a `tags:` line are sorted (python's
//! order depends on string hashing).
//!
//! Reading ([`V1Parser`]) follows `TestProtocolServer`: a line-based state
//! machine in which anything that is not protocol is chatter.

use std::fmt::Write as _;

use crate::codec::packet::{Status, Timestamp};
use crate::results::group::{Attachment, Test};

/// The date and time of `ts` as python's `datetime` holds it: whole
/// microseconds (nanoseconds / 1000, rounded half to even, as `timedelta`
/// rounds), in UTC.
pub fn python_time(ts: Timestamp) -> String {
    let (q, r) = (u64::from(ts.nanos) / 1000, u64::from(ts.nanos) % 1000);
    let micros = match r {
        0..=499 => q,
        500 => q + (q & 1),
        _ => q + 1,
    };
    let total_micros = u64::from(ts.seconds) * 1_000_000 + micros;
    let (secs, micro) = (total_micros / 1_000_000, total_micros % 1_000_000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{micro:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The days from 1970-01-01 to a Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A MIME type as testtools' `_make_content_type` understands it: type and
/// subtype lowercased (`text/plain` when malformed, as Python's email
/// parser has it), parameters by name. None is `application/octet-stream`.
#[derive(Debug, PartialEq, Eq)]
pub struct ContentType {
    /// `text/plain`.
    pub full_type: String,
    /// Parameters, sorted by name, unquoted.
    pub parameters: Vec<(String, String)>,
}

impl ContentType {
    /// Parses a packet's MIME type.
    pub fn parse(mime: Option<&str>) -> ContentType {
        let mime = mime.unwrap_or("application/octet-stream");
        let mut parts = split_unquoted(mime, ';').into_iter();
        let full = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let full_type = match full.split_once('/') {
            Some((t, s)) if is_token(t) && is_token(s) => full,
            _ => "text/plain".to_owned(),
        };
        let mut parameters: Vec<(String, String)> = Vec::new();
        for part in parts {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let mut value = unquote(value.trim());
            if name == "charset" {
                if let Some(comma) = value.find(',') {
                    value.truncate(comma);
                }
            }
            parameters.retain(|(n, _)| *n != name);
            parameters.push((name, value));
        }
        parameters.sort();
        ContentType {
            full_type,
            parameters,
        }
    }

    /// `text/plain;charset=utf8,language=python`: the form of a v1
    /// multipart `Content-Type:` line.
    pub fn v1_form(&self) -> String {
        let mut out = self.full_type.clone();
        if !self.parameters.is_empty() {
            out.push(';');
            let params: Vec<String> = self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&params.join(","));
        }
        out
    }

    /// `text/plain; charset="utf8"`: testtools' `repr` of a content type.
    pub fn python_repr(&self) -> String {
        let mut out = self.full_type.clone();
        for (k, v) in &self.parameters {
            let _ = write!(out, "; {k}=\"{v}\"");
        }
        out
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '/')
}

/// Splits at `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => value.to_owned(),
    }
}

/// python-subunit's HTTP-chunked encoder: it gathers writes until they
/// reach 64 KiB, so the chunks on the wire depend on the writes made.
fn write_chunked(chunks: &[&[u8]], out: &mut Vec<u8>) {
    let mut buffered: Vec<&[u8]> = Vec::new();
    let mut size = 0;
    for &chunk in chunks {
        if size + chunk.len() >= 65_536 {
            let _ = write!(HexOut(out), "{:X}\r\n", size + chunk.len());
            buffered.drain(..).for_each(|b| out.extend_from_slice(b));
            out.extend_from_slice(chunk);
            size = 0;
        } else {
            buffered.push(chunk);
            size += chunk.len();
        }
    }
    if size > 0 {
        let _ = write!(HexOut(out), "{size:X}\r\n");
        buffered.drain(..).for_each(|b| out.extend_from_slice(b));
    }
    out.extend_from_slice(b"0\r\n");
}

/// `fmt::Write` into a byte vector.
struct HexOut<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for HexOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes tests as v1 text.
#[derive(Debug, Default)]
pub struct V1Writer;

impl V1Writer {
    /// Appends the v1 text of a test handed on by the grouper.
    pub fn test(&self, test: &Test, out: &mut Vec<u8>) {
        let (first, last) = test.timestamps();
        let tags = test.tags();
        if let Some(ts) = first {
            let _ = writeln!(HexOut(out), "time: {}", python_time(ts));
        }
        if !tags.is_empty() {
            out.extend_from_slice(b"tags: ");
            out.extend_from_slice(tags.join(" ").as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"test: ");
        out.extend_from_slice(test.test_id.as_bytes());
        out.push(b'\n');
        if let Some(ts) = last.filter(|_| test.finished) {
            let _ = writeln!(HexOut(out), "time: {}", python_time(ts));
        }
        let word = match test.status() {
            Status::Success => "successful",
            Status::Skip => "skip",
            Status::XFail => "xfail",
            Status::UxSuccess => "uxsuccess",
            _ => "failure",
        };
        out.extend_from_slice(word.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(test.test_id.as_bytes());
        out.extend_from_slice(b" [ multipart\n");
        let mut attachments = test.attachments();
        attachments.sort_by(|a, b| a.name.cmp(b.name));
        for Attachment { name, mime, chunks } in attachments {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(ContentType::parse(mime).v1_form().as_bytes());
            out.push(b'\n');
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
            write_chunked(&chunks, out);
        }
        out.extend_from_slice(b"]\n");
        if !tags.is_empty() {
            out.extend_from_slice(b"tags:");
            for tag in &tags {
                out.extend_from_slice(b" -");
                out.extend_from_slice(tag.as_bytes());
            }
            out.push(b'\n');
        }
    }
}

/// What a v1 stream says, event by event.
#[derive(Debug, PartialEq, Eq)]
pub enum V1Event {
    /// `test: NAME`.
    Start {
        /// The test.
        test_id: String,
    },
    /// The outcome of the current test, with its attachments.
    Outcome {
        /// The test.
        test_id: String,
        /// Its status.
        status: Status,
        /// (name, MIME type, chunks) in the order given.
        attachments: Vec<(String, String, Vec<Vec<u8>>)>,
    },
    /// `tags:` — added and removed tags.
    Tags {
        /// Added.
        new: Vec<String>,
        /// Removed.
        gone: Vec<String>,
    },
    /// `time:`.
    Time(Timestamp),
    /// Bytes that are not protocol.
    Chatter(Vec<u8>),
}

/// Where the parser is.
#[derive(Debug)]
enum State {
    Outside,
    InTest,
    Simple {
        status: Status,
        message: Vec<u8>,
        lines: Vec<u8>,
    },
    Multipart {
        status: Status,
        part: Part,
        attachments: Vec<(String, String, Vec<Vec<u8>>)>,
        lines: Vec<u8>,
    },
}

/// Where a multipart block is.
#[derive(Debug)]
enum Part {
    /// Expecting `Content-Type: ...` or the closing `]`.
    ContentType,
    /// Expecting the attachment's name.
    Name(String),
    /// Reading chunks: `HEX\r\n` then that many bytes, until `0\r\n`.
    Chunks {
        mime: String,
        name: String,
        chunks: Vec<Vec<u8>>,
        /// Body bytes still to come in the current chunk.
        remaining: usize,
    },
}

/// Parses v1 text line by line (`TestProtocolServer`'s grammar). A line
/// that is not protocol where it stands is chatter; a block that turns out
/// malformed is handed back as chatter whole, so nothing is lost.
#[derive(Debug)]
pub struct V1Parser {
    state: State,
    current: Option<String>,
    malformed: u64,
}

impl Default for V1Parser {
    fn default() -> Self {
        V1Parser::new()
    }
}

impl V1Parser {
    /// Outside any test.
    pub fn new() -> V1Parser {
        V1Parser {
            state: State::Outside,
            current: None,
            malformed: 0,
        }
    }

    /// Blocks that were malformed and were kept as chatter.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Whether a details block (`failure: a [` up to its `]`) is open:
    /// every byte up to its end is the block's, even one that looks like a
    /// v2 packet (as in python-subunit).
    pub fn in_details(&self) -> bool {
        matches!(self.state, State::Simple { .. } | State::Multipart { .. })
    }

    /// Takes one line, with its newline (the last line of the input may
    /// lack one), and appends what it says to `events`.
    pub fn line(&mut self, line: &[u8], events: &mut Vec<V1Event>) {
        match &mut self.state {
            State::Outside | State::InTest => self.protocol_line(line, events),
            State::Simple { lines, .. } => {
                lines.extend_from_slice(line);
                self.simple_line(line, events);
            }
            State::Multipart { lines, .. } => {
                lines.extend_from_slice(line);
                self.multipart_line(line, events);
            }
        }
    }

    /// The input ended: a test still running, or its unfinished details,
    /// end as a failure saying so (python-subunit reports a lost
    /// connection the same way).
    pub fn finish(&mut self, events: &mut Vec<V1Event>) {
        let state = std::mem::replace(&mut self.state, State::Outside);
        let Some(test_id) = self.current.take() else {
            return;
        };
        let (label, lines) = match state {
            State::Outside | State::InTest => ("", Vec::new()),
            State::Simple { status, lines, .. } | State::Multipart { status, lines, .. } => {
                (status_word(status), lines)
            }
        };
        if !lines.is_empty() {
            events.push(V1Event::Chatter(lines));
        }
        let report = if label.is_empty() {
            String::new()
        } else {
            format!("{label} report of ")
        };
        // The words and type python-subunit's RemoteError traceback has.
        let message = format!(
            "testtools.testresult.real._StringException: lost connection during {report}test '{test_id}'\n"
        );
        events.push(V1Event::Outcome {
            test_id,
            status: Status::Fail,
            attachments: vec![(
                "traceback".into(),
                "text/x-traceback; charset=\"utf8\"; language=\"python\"".into(),
                vec![message.into_bytes()],
            )],
        });
    }

    fn protocol_line(&mut self, line: &[u8], events: &mut Vec<V1Event>) {
        let chatter = |events: &mut Vec<V1Event>| events.push(V1Event::Chatter(line.to_vec()));
        // `cmd rest`: a word at the very start, whitespace, something after.
        let word_len = line
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(line.len());
        let rest = &line[word_len..];
        if word_len == 0 || rest.iter().all(u8::is_ascii_whitespace) {
            return chatter(events);
        }
        let word = &line[..word_len];
        let command = word.strip_suffix(b":").unwrap_or(word);
        let command = {
            let mut c = command;
            while let Some(shorter) = c.strip_suffix(b":") {
                c = shorter;
            }
            c
        };
        // What follows the word and one separator, without the newline.
        let arg = strip_newline(&line[word_len + 1..]);
        match command {
            b"test" | b"testing" => {
                if matches!(self.state, State::Outside) {
                    let test_id = text(arg);
                    self.current = Some(test_id.clone());
                    self.state = State::InTest;
                    events.push(V1Event::Start { test_id });
                } else {
                    chatter(events);
                }
            }
            b"tags" => {
                let words = text(&line[word_len..]);
                let (mut new, mut gone) = (Vec::new(), Vec::new());
                for tag in words.split_whitespace() {
                    match tag.strip_prefix('-') {
                        Some(t) => gone.push(t.to_owned()),
                        None => new.push(tag.to_owned()),
                    }
                }
                events.push(V1Event::Tags { new, gone });
            }
            b"time" => match parse_time(arg) {
                Some(ts) => events.push(V1Event::Time(ts)),
                None => {
                    self.malformed += 1;
                    chatter(events);
                }
            },
            b"progress" => {} // v2 has no progress; python-subunit drops it too
            _ => {
                let status = match command {
                    b"success" | b"successful" => Status::Success,
                    b"failure" | b"error" => Status::Fail,
                    b"skip" => Status::Skip,
                    b"xfail" => Status::XFail,
                    b"uxsuccess" => Status::UxSuccess,
                    _ => return chatter(events),
                };
                let Some(current) = self
                    .current
                    .as_deref()
                    .filter(|_| matches!(self.state, State::InTest))
                else {
                    return chatter(events);
                };
                let arg = text(arg);
                if arg == current {
                    events.push(V1Event::Outcome {
                        test_id: self.current.take().unwrap_or_default(),
                        status,
                        attachments: Vec::new(),
                    });
                    self.state = State::Outside;
                } else if arg.strip_prefix(current) == Some(" [") {
                    self.state = State::Simple {
                        status,
                        message: Vec::new(),
                        lines: line.to_vec(),
                    };
                } else if arg.strip_prefix(current) == Some(" [ multipart") {
                    self.state = State::Multipart {
                        status,
                        part: Part::ContentType,
                        attachments: Vec::new(),
                        lines: line.to_vec(),
                    };
                } else {
                    chatter(events);
                }
            }
        }
    }

    fn simple_line(&mut self, line: &[u8], events: &mut Vec<V1Event>) {
        let State::Simple {
            status, message, ..
        } = &mut self.state
        else {
            unreachable!("called in the simple state")
        };
        if line == b"]\n" {
            let status = *status;
            let message = std::mem::take(message);
            let (name, mime) = match status {
                Status::Skip => ("reason", "text/plain"),
                Status::Success => ("message", "text/plain"),
                _ => ("traceback", "text/x-traceback; charset=\"utf8\""),
            };
            events.push(V1Event::Outcome {
                test_id: self.current.take().unwrap_or_default(),
                status,
                attachments: vec![(name.into(), mime.into(), vec![message])],
            });
            self.state = State::Outside;
        } else if let Some(quoted) = line.strip_prefix(b" ]") {
            message.push(b']');
            message.extend_from_slice(quoted);
        } else {
            message.extend_from_slice(line);
        }
    }

    fn multipart_line(&mut self, line: &[u8], events: &mut Vec<V1Event>) {
        let State::Multipart {
            status,
            part,
            attachments,
            ..
        } = &mut self.state
        else {
            unreachable!("called in the multipart state")
        };
        match part {
            Part::ContentType if line == b"]\n" => {
                events.push(V1Event::Outcome {
                    test_id: self.current.take().unwrap_or_default(),
                    status: *status,
                    attachments: std::mem::take(attachments),
                });
                self.state = State::Outside;
            }
            Part::ContentType => {
                let line = text(strip_newline(line));
                match line.split_once(' ') {
                    Some((_, value)) if value.split('/').count() == 2 => {
                        *part = Part::Name(value.to_owned());
                    }
                    _ => self.give_up(events),
                }
            }
            Part::Name(mime) => {
                let name = text(strip_newline(line));
                *part = Part::Chunks {
                    mime: std::mem::take(mime),
                    name,
                    chunks: Vec::new(),
                    remaining: 0,
                };
            }
            Part::Chunks { .. } => self.chunk_bytes(line, events),
        }
    }

    /// Body bytes and chunk headers, which need not line up with lines.
    fn chunk_bytes(&mut self, mut bytes: &[u8], events: &mut Vec<V1Event>) {
        while !bytes.is_empty() {
            let State::Multipart {
                part: part @ Part::Chunks { .. },
                attachments,
                ..
            } = &mut self.state
            else {
                // The block ended; a line holds nothing after `0\r\n`.
                return;
            };
            let Part::Chunks {
                mime,
                name,
                chunks,
                remaining,
            } = part
            else {
                unreachable!("matched above")
            };
            if *remaining > 0 {
                let take = (*remaining).min(bytes.len());
                chunks
                    .last_mut()
                    .expect("a chunk is open")
                    .extend_from_slice(&bytes[..take]);
                *remaining -= take;
                bytes = &bytes[take..];
                continue;
            }
            // A chunk header: hex digits, CR, LF (python-subunit is strict).
            let digits = bytes.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            let header_ok = digits > 0 && bytes[digits..].starts_with(b"\r\n");
            let size = std::str::from_utf8(&bytes[..digits])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok());
            let (true, Some(size)) = (header_ok, size) else {
                return self.give_up(events);
            };
            bytes = &bytes[digits + 2..];
            if size == 0 {
                attachments.push((
                    std::mem::take(name),
                    std::mem::take(mime),
                    std::mem::take(chunks),
                ));
                *part = Part::ContentType;
                if !bytes.is_empty() {
                    return self.give_up(events);
                }
            } else {
                chunks.push(Vec::with_capacity(size.min(1 << 20)));
                *remaining = size;
            }
        }
    }

    /// A malformed details block: its lines so far are chatter, and the
    /// test is back to waiting for its outcome.
    fn give_up(&mut self, events: &mut Vec<V1Event>) {
        self.malformed += 1;
        let state = std::mem::replace(&mut self.state, State::InTest);
        if let State::Simple { lines, .. } | State::Multipart { lines, .. } = state {
            events.push(V1Event::Chatter(lines));
        }
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Skip => "skip",
        Status::XFail => "xfail",
        Status::UxSuccess => "uxsuccess",
        _ => "failure",
    }
}

/// Text for a name: UTF-8 (lossy), NUL bytes replaced, as packets cannot
/// hold them.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}")
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// `2009-10-11 12:13:14.123456Z` and the ISO 8601 forms python-subunit's
/// iso8601 parser takes (`T` or space, optional fraction, `Z` or an
/// offset).
fn parse_time(text: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    let (clock, offset_secs) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let offset = offset[1..].replace(':', "");
        let hours: i64 = offset.get(..2)?.parse().ok()?;
        let minutes: i64 = offset
            .get(2..)
            .filter(|m| !m.is_empty())
            .map_or(Some(0), |m| m.parse().ok())?;
        (clock, sign * (hours * 3600 + minutes * 60))
    } else {
        (time, 0)
    };
    let mut clock_parts = clock.splitn(3, ':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let seconds = clock_parts.next().unwrap_or("0");
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let second: i64 = whole.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // iso8601 keeps microseconds.
    let micros: u32 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    Some(Timestamp {
        seconds: u32::try_from(secs).ok()?,
        nanos: micros * 1000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_to_microseconds_like_python() {
        let ts = |seconds, nanos| python_time(Timestamp { seconds, nanos });
        assert_eq!(ts(0, 0), "1970-01-01 00:00:00.000000Z");
        assert_eq!(
            ts(1_700_000_000, 123_456_789),
            "2023-11-14 22:13:20.123457Z"
        );
        assert_eq!(ts(1_700_000_000, 1_500), "2023-11-14 22:13:20.000002Z");
        assert_eq!(ts(1_700_000_000, 2_500), "2023-11-14 22:13:20.000002Z");
        assert_eq!(
            ts(1_700_000_000, 999_999_999),
            "2023-11-14 22:13:21.000000Z"
        );
        assert_eq!(ts(u32::MAX, 0), "2106-02-07 06:28:15.000000Z");
        assert_eq!(ts(951_782_400, 0), "2000-02-29 00:00:00.000000Z");
    }

    #[test]
    fn times_parse_back() {
        for (seconds, micros) in [
            (0, 0),
            (1_700_000_000, 123_457),
            (951_782_400, 5),
            (u32::MAX, 0),
        ] {
            let ts = Timestamp {
                seconds,
                nanos: micros * 1000,
            };
            assert_eq!(parse_time(python_time(ts).as_bytes()), Some(ts));
        }
        assert_eq!(
            parse_time(b"2009-10-11T12:13:14+02:00"),
            parse_time(b"2009-10-11 10:13:14Z")
        );
        assert_eq!(parse_time(b"yesterday"), None);
    }

    #[test]
    fn content_types_parse_like_testtools() {
        let ct = ContentType::parse(Some("text/plain;charset=\"utf8\""));
        assert_eq!(ct.v1_form(), "text/plain;charset=utf8");
        assert_eq!(ct.python_repr(), "text/plain; charset=\"utf8\"");
        let ct = ContentType::parse(Some("text/x-traceback;charset=utf8,language=python"));
        assert_eq!(ct.v1_form(), "text/x-traceback;charset=utf8");
        assert_eq!(
            ContentType::parse(None).v1_form(),
            "application/octet-stream"
        );
        assert_eq!(ContentType::parse(Some("nonsense")).v1_form(), "text/plain");
        assert_eq!(
            ContentType::parse(Some("Text/Plain; Language=python; charset=utf8")).v1_form(),
            "text/plain;charset=utf8,language=python"
        );
    }

    #[test]
    fn chunks_are_gathered_to_64_kib_like_python() {
        let mut out = Vec::new();
        write_chunked(&[b"ab", b"cd"], &mut out);
        assert_eq!(out, b"4\r\nabcd0\r\n");
        let big = vec![b'x'; 65_534];
        let mut out = Vec::new();
        write_chunked(&[b"ab", &big, b"c"], &mut out);
        assert!(out.starts_with(b"10000\r\nab"));
        assert!(out.ends_with(b"x1\r\nc0\r\n"));
    }

    fn parse(text: &[u8]) -> (Vec<V1Event>, u64) {
        let mut parser = V1Parser::new();
        let mut events = Vec::new();
        for line in text.split_inclusive(|&b| b == b'\n') {
            parser.line(line, &mut events);
        }
        parser.finish(&mut events);
        (events, parser.malformed())
    }

    #[test]
    fn parses_outcomes_details_and_chatter() {
        let (events, malformed) = parse(
            b"hello\ntest: a\nsuccess: a\ntest b\nfailure: b [\nboom\n ]x\n]\ntags: x -y\n\
              time: 2009-10-11 12:13:14.000001Z\ntest: c\nskip: c [ multipart\n\
              Content-Type: text/plain;charset=utf8\nreason\n3\r\nwhy0\r\n]\nsuccess: stray\n",
        );
        assert_eq!(malformed, 0);
        assert_eq!(
            events,
            [
                V1Event::Chatter(b"hello\n".to_vec()),
                V1Event::Start {
                    test_id: "a".into()
                },
                V1Event::Outcome {
                    test_id: "a".into(),
                    status: Status::Success,
                    attachments: vec![]
                },
                V1Event::Start {
                    test_id: "b".into()
                },
                V1Event::Outcome {
                    test_id: "b".into(),
                    status: Status::Fail,
                    attachments: vec![(
                        "traceback".into(),
                        "text/x-traceback; charset=\"utf8\"".into(),
                        vec![b"boom\n]x\n".to_vec()]
                    )]
                },
                V1Event::Tags {
                    new: vec!["x".into()],
                    gone: vec!["y".into()]
                },
                V1Event::Time(Timestamp {
                    seconds: 1_255_263_194,
                    nanos: 1000
                }),
                V1Event::Start {
                    test_id: "c".into()
                },
                V1Event::Outcome {
                    test_id: "c".into(),
                    status: Status::Skip,
                    attachments: vec![(
                        "reason".into(),
                        "text/plain;charset=utf8".into(),
                        vec![b"why".to_vec()]
                    )]
                },
                V1Event::Chatter(b"success: stray\n".to_vec()),
            ]
        );
    }

    #[test]
    fn malformed_details_become_chatter_and_eof_ends_the_test() {
        let (events, malformed) =
            parse(b"test: a\nfailure: a [ multipart\nContent-Type: text/plain\nlog\nzz\r\n");
        assert_eq!(malformed, 1);
        assert_eq!(
            events[1],
            V1Event::Chatter(
                b"failure: a [ multipart\nContent-Type: text/plain\nlog\nzz\r\n".to_vec()
            )
        );
        let V1Event::Outcome {
            status,
            attachments,
            ..
        } = &events[2]
        else {
            panic!("{events:?}")
        };
        assert_eq!(*status, Status::Fail);
        assert_eq!(
            attachments[0].2[0],
            b"testtools.testresult.real._StringException: lost connection during test 'a'\n"
        );
    }
}
