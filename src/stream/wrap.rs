//! Turning chatter into subunit: file packets that carry it byte for byte,
//! and test results for the result lines of automake's test driver and of
//! TAP.
//!
//! A [`Wrapper`] is fed the chatter of one stream as it arrives and appends
//! encoded packets to a buffer. It cuts chatter at newlines where it can,
//! never into packets above [`MAX_CHUNK`] bytes, and keeps an unfinished
//! line back until the line ends, the input pauses ([`Wrapper::flush`]) or a
//! packet comes. The contents of its file packets, in order, are exactly
//! the chatter it was given.

use crate::codec::encode::{EncodeError, Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::formats::automake::automake_result;
use crate::formats::tap::tap_result;

/// The most chatter one packet carries.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Result lines longer than this are not looked at (they are still kept).
const MAX_RESULT_LINE: usize = 4096;

/// Which result lines become test results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultLines {
    /// None: chatter only.
    Off,
    /// automake's test driver: `PASS: name`, `FAIL:`, `XFAIL:`, `XPASS:`,
    /// `SKIP:`, `ERROR:`.
    Automake,
    /// automake's lines and TAP's `ok` / `not ok` lines.
    AutomakeAndTap,
}

/// How chatter is wrapped.
#[derive(Clone, Debug)]
pub struct WrapOptions {
    /// The file name of the wrapped chatter (`stdout`, `stderr`).
    pub file_name: String,
    /// The test the chatter is attached to, if any.
    pub test_id: Option<String>,
    /// The route code of every packet made.
    pub route_code: Option<String>,
    /// The MIME type of the chatter.
    pub mime: Option<String>,
    /// Whether packets carry the time their bytes arrived.
    pub timestamps: bool,
    /// Which result lines become results.
    pub results: ResultLines,
}

impl WrapOptions {
    /// Chatter as file `file_name` and nothing more: no timestamps, no
    /// results (how python-subunit's filters wrap chatter).
    pub fn plain(file_name: &str) -> WrapOptions {
        WrapOptions {
            timestamps: false,
            results: ResultLines::Off,
            ..WrapOptions::new(file_name)
        }
    }

    /// Chatter as file `file_name`, with timestamps and automake results.
    pub fn new(file_name: &str) -> WrapOptions {
        WrapOptions {
            file_name: file_name.to_owned(),
            test_id: None,
            route_code: None,
            mime: None,
            timestamps: true,
            results: ResultLines::Automake,
        }
    }
}

/// Wraps the chatter of one stream; see the module documentation.
#[derive(Debug)]
pub struct Wrapper {
    options: WrapOptions,
    /// Chatter not yet in a packet: the start of an unfinished line.
    pending: Vec<u8>,
    /// The current line so far, for result lines; `None` once it is too
    /// long to be one.
    line: Option<Vec<u8>>,
    /// Results of the lines completed by the latest chatter.
    results: Vec<(Status, String)>,
    /// TAP tests seen, for their names (`test N ...`).
    tap_count: u64,
    /// Whether any chatter was wrapped (so the file needs an EOF).
    wrapped_any: bool,
}

impl Wrapper {
    /// A wrapper with nothing pending; fails when the options cannot be
    /// encoded (a NUL byte, or strings too long for a packet).
    pub fn new(options: WrapOptions) -> Result<Wrapper, EncodeError> {
        // Encoding fails for reasons of the names alone (NUL, too long for
        // a packet), never of the content, so one try tells.
        let full = [0; 1];
        let event = Event {
            timestamp: Some(Timestamp::default()),
            test_id: options.test_id.as_deref(),
            mime: options.mime.as_deref(),
            file: Some((&options.file_name, &full)),
            route_code: options.route_code.as_deref(),
            ..Event::default()
        };
        encode(&event, &mut Vec::new())?;
        Ok(Wrapper {
            options,
            pending: Vec::new(),
            line: Some(Vec::new()),
            results: Vec::new(),
            tap_count: 0,
            wrapped_any: false,
        })
    }

    /// The options it wraps with.
    pub fn options(&self) -> &WrapOptions {
        &self.options
    }

    /// Takes in chatter that has just arrived: appends packets for the
    /// complete lines (and for runs of [`MAX_CHUNK`] bytes without a
    /// newline), then a result packet for each result line completed.
    pub fn chatter(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.scan_lines(bytes);
        // Lines complete up to the last newline; the rest waits for more.
        let complete = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
        if self.pending.is_empty() {
            self.emit_lines(&bytes[..complete], out);
        } else if complete > 0 {
            let mut lines = std::mem::take(&mut self.pending);
            lines.extend_from_slice(&bytes[..complete]);
            self.emit_lines(&lines, out);
            lines.clear();
            self.pending = lines;
        }
        self.pending.extend_from_slice(&bytes[complete..]);
        while self.pending.len() >= MAX_CHUNK {
            let rest = self.pending.split_off(MAX_CHUNK);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.emit_chunk(&chunk, out);
        }
        for (status, name) in std::mem::take(&mut self.results) {
            let event = Event {
                status,
                runnable: true,
                timestamp: self.timestamp(),
                test_id: Some(&name),
                route_code: self.options.route_code.as_deref(),
                ..Event::default()
            };
            encode(&event, out).expect("result names are cleaned");
        }
    }

    /// Wraps what is pending (an unfinished line): when the input pauses,
    /// and before a packet is passed on.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.emit_chunk(&pending, out);
            self.pending = pending;
            self.pending.clear();
        }
    }

    /// A packet of the input comes next: wraps what is pending, and starts a
    /// new line (a packet ends one, as it does in the stream reader).
    pub fn before_packet(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
        self.line = Some(Vec::new());
    }

    /// The input ended: wraps what is pending and, if any chatter was
    /// wrapped, ends the file with an empty EOF packet.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
        if self.wrapped_any {
            self.encode_chunk(&[], true, out);
            self.wrapped_any = false;
        }
    }

    /// Appends packets for complete lines, at most [`MAX_CHUNK`] bytes
    /// each, cut after a newline where one is in reach.
    fn emit_lines(&mut self, mut lines: &[u8], out: &mut Vec<u8>) {
        while !lines.is_empty() {
            let cut = if lines.len() <= MAX_CHUNK {
                lines.len()
            } else {
                memchr::memrchr(b'\n', &lines[..MAX_CHUNK]).map_or(MAX_CHUNK, |i| i + 1)
            };
            self.emit_chunk(&lines[..cut], out);
            lines = &lines[cut..];
        }
    }

    fn emit_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.wrapped_any = true;
        self.encode_chunk(chunk, false, out);
    }

    fn encode_chunk(&self, chunk: &[u8], eof: bool, out: &mut Vec<u8>) {
        let options = &self.options;
        let event = Event {
            eof,
            timestamp: self.timestamp(),
            test_id: options.test_id.as_deref(),
            mime: options.mime.as_deref(),
            file: Some((&options.file_name, chunk)),
            route_code: options.route_code.as_deref(),
            ..Event::default()
        };
        encode(&event, out).expect("wrap options are checked when made");
    }

    /// The time for a packet made now: chatter is wrapped as it arrives,
    /// so this is when its bytes came. The clock is read only if wanted.
    fn timestamp(&self) -> Option<Timestamp> {
        self.options.timestamps.then(Timestamp::now)
    }

    /// Follows lines through `bytes`, noting the results of those completed.
    fn scan_lines(&mut self, mut bytes: &[u8]) {
        if self.options.results == ResultLines::Off {
            return;
        }
        while let Some(newline) = memchr::memchr(b'\n', bytes) {
            let line = match &mut self.line {
                Some(line) if line.len() + newline <= MAX_RESULT_LINE => {
                    line.extend_from_slice(&bytes[..newline]);
                    Some(std::mem::take(line))
                }
                _ => None,
            };
            if let Some(line) = &line {
                if let Some(result) = self.result_of(line) {
                    self.results.push(result);
                }
            }
            self.line = Some(line.map_or_else(Vec::new, |mut l| {
                l.clear();
                l
            }));
            bytes = &bytes[newline + 1..];
        }
        if let Some(line) = &mut self.line {
            if line.len() + bytes.len() <= MAX_RESULT_LINE {
                line.extend_from_slice(bytes);
            } else {
                self.line = None;
            }
        }
    }

    fn result_of(&mut self, line: &[u8]) -> Option<(Status, String)> {
        // Most lines are not results: look at the first byte before the
        // costlier cleaning (a result starts with a word or a colour).
        if !line
            .first()
            .is_some_and(|first| b"PFXSEon\x1b".contains(first))
        {
            return None;
        }
        let text = clean_line(line);
        if let Some(result) = automake_result(&text) {
            return Some(result);
        }
        if self.options.results == ResultLines::AutomakeAndTap {
            let (status, number, description) = tap_result(&text)?;
            self.tap_count = number.unwrap_or(self.tap_count + 1);
            let name = match description {
                "" => format!("test {}", self.tap_count),
                d => format!("test {} {d}", self.tap_count),
            };
            return Some((status, name));
        }
        None
    }
}

/// The text of a line for matching: UTF-8 (lossy), without a trailing CR,
/// terminal colour sequences or NUL bytes (which names cannot hold).
fn clean_line(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // CSI: ESC [ parameters, intermediates, one final byte.
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\0' => clean.push('\u{fffd}'),
            c => clean.push(c),
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Item, StreamReader};

    /// (file contents in order, results) of wrapped output.
    fn unwrap(out: &[u8]) -> (Vec<u8>, Vec<(Status, String)>) {
        let mut reader = StreamReader::new(out);
        let mut contents = Vec::new();
        let mut results = Vec::new();
        while let Some(item) = reader.next().unwrap() {
            let Item::Packet(p) = item else {
                panic!("chatter in wrapped output")
            };
            match p.file() {
                Some(file) => {
                    assert!(file.content.len() <= MAX_CHUNK);
                    contents.extend_from_slice(file.content);
                }
                None => results.push((p.status(), p.test_id().unwrap().to_owned())),
            }
        }
        (contents, results)
    }

    fn wrap(pieces: &[&[u8]], results: ResultLines) -> Vec<u8> {
        let mut options = WrapOptions::new("stdout");
        options.results = results;
        options.timestamps = false;
        let mut wrapper = Wrapper::new(options).unwrap();
        let mut out = Vec::new();
        for piece in pieces {
            wrapper.chatter(piece, &mut out);
        }
        wrapper.finish(&mut out);
        out
    }

    #[test]
    fn automake_lines_become_results_and_stay_chatter() {
        let input: &[&[u8]] = &[
            b"make  check-TESTS\nPASS: a\nFA",
            b"IL: b\r\nSKIP: c\nXFAIL: d\nXPASS: e\nERROR: f\n\x1b[0;32mPASS\x1b[m: g\nPASSED: no\n",
        ];
        let (contents, results) = unwrap(&wrap(input, ResultLines::Automake));
        assert_eq!(contents, input.concat());
        let names: Vec<(Status, &str)> = results.iter().map(|(s, n)| (*s, n.as_str())).collect();
        assert_eq!(
            names,
            [
                (Status::Success, "a"),
                (Status::Fail, "b"),
                (Status::Skip, "c"),
                (Status::XFail, "d"),
                (Status::UxSuccess, "e"),
                (Status::Fail, "f"),
                (Status::Success, "g"),
            ]
        );
        let (_, results) = unwrap(&wrap(input, ResultLines::Off));
        assert!(results.is_empty());
    }

    #[test]
    fn tap_lines_are_named_like_tap2subunit() {
        let input: &[&[u8]] = &[b"1..5\nok 1 - first\nnot ok 2 second # TODO not yet\nok # skip no network\n# diagnostic\nok 5\nnot ok - last\nokay\n"];
        let (contents, results) = unwrap(&wrap(input, ResultLines::AutomakeAndTap));
        assert_eq!(contents, input.concat());
        let names: Vec<(Status, &str)> = results.iter().map(|(s, n)| (*s, n.as_str())).collect();
        assert_eq!(
            names,
            [
                (Status::Success, "test 1 - first"),
                (Status::XFail, "test 2 second"),
                (Status::Skip, "test 3"),
                (Status::Success, "test 5"),
                (Status::Fail, "test 6 - last"),
            ]
        );
    }

    #[test]
    fn chatter_is_cut_at_newlines_and_never_above_the_limit() {
        let mut long_line = vec![b'x'; MAX_CHUNK * 2 + 10];
        long_line.push(b'\n');
        let lines: Vec<u8> = (0..12_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let input: &[&[u8]] = &[b"start", &long_line, &lines, b"no newline at the end"];
        let out = wrap(input, ResultLines::Off);
        let (contents, _) = unwrap(&out);
        assert_eq!(contents, input.concat());
        // Every packet of `lines` ends at a newline.
        let mut reader = StreamReader::new(&out[..]);
        let mut chunks = Vec::new();
        while let Some(Item::Packet(p)) = reader.next().unwrap() {
            chunks.push(p.file().unwrap().content.to_vec());
        }
        let line_chunks: Vec<_> = chunks.iter().filter(|c| c.starts_with(b"line")).collect();
        assert!(line_chunks.len() >= 2);
        assert!(line_chunks.iter().all(|c| c.ends_with(b"\n")));
        assert!(chunks.last().unwrap().is_empty(), "EOF packet last");
    }

    #[test]
    fn options_that_cannot_be_encoded_are_refused() {
        let mut options = WrapOptions::new("std\0out");
        assert!(Wrapper::new(options.clone()).is_err());
        options.file_name = "stdout".into();
        options.test_id = Some("x".repeat(5 * 1024 * 1024));
        assert!(Wrapper::new(options).is_err());
    }

    #[test]
    fn flush_hands_on_an_unfinished_line() {
        let mut wrapper = Wrapper::new(WrapOptions::new("stdout")).unwrap();
        let mut out = Vec::new();
        wrapper.chatter(b"waiting", &mut out);
        assert!(out.is_empty(), "an unfinished line waits");
        wrapper.flush(&mut out);
        let (contents, _) = unwrap(&out);
        assert_eq!(contents, b"waiting");
    }
}
