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
//!
//! The result lines are read by [`AutomakeReader`] and [`TapReader`], one
//! complete line at a time. An automake result is written with its line's
//! chatter. A TAP result is held until the next line that is not a
//! diagnostic, or until the input pauses, a packet comes or the input ends:
//! the diagnostics between are attached to it (and stay chatter), while a
//! hung test still shows downstream at once.
//!
//! Here the chatter is cut into packets and into lines; `results` says
//! what a line's result is, `lines` finds where lines end and makes a line
//! text to match.

mod lines;
mod results;

use crate::codec::encode::{EncodeError, Event, encode};
use crate::codec::packet::Timestamp;
use crate::formats::automake::AutomakeReader;
use crate::formats::tap::{TapEvent, TapReader};

use lines::for_each_newline;
use results::{Held, Outcome, missing, release};

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
    /// automake's result lines.
    automake: AutomakeReader,
    /// TAP, when its lines are results.
    tap: Option<TapReader>,
    /// The latest TAP result, held while diagnostics may follow it.
    held: Held,
    /// The buffers of a result written at once (automake's, `Bail out!`,
    /// missing tests), reused from one to the next.
    scratch: Outcome,
    /// When the chatter being wrapped came: the clock is read once for
    /// each piece given to [`Wrapper::chatter`] (one read of the input),
    /// not once for each of its lines, which all came together.
    now: Option<Timestamp>,
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
        let tap = (options.results == ResultLines::AutomakeAndTap).then(TapReader::new);
        Ok(Wrapper {
            options,
            pending: Vec::new(),
            line: Some(Vec::new()),
            automake: AutomakeReader::new(),
            tap,
            held: Held::default(),
            scratch: Outcome::default(),
            now: None,
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
        self.now = timestamp(&self.options);
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
        // The unfinished line: whole chunks of it go now (cut from the
        // bytes given, so a long line costs its length once), the rest
        // waits.
        let mut rest = &bytes[complete..];
        if !self.pending.is_empty() && self.pending.len() + rest.len() >= MAX_CHUNK {
            let (fill, tail) = rest.split_at(MAX_CHUNK - self.pending.len());
            let mut chunk = std::mem::take(&mut self.pending);
            chunk.extend_from_slice(fill);
            self.emit_chunk(&chunk, out);
            chunk.clear();
            self.pending = chunk;
            rest = tail;
        }
        while rest.len() >= MAX_CHUNK {
            let (chunk, tail) = rest.split_at(MAX_CHUNK);
            self.emit_chunk(chunk, out);
            rest = tail;
        }
        self.pending.extend_from_slice(rest);
        self.scan_lines(bytes, complete, out);
    }

    /// Wraps what is pending (an unfinished line) and reports a TAP result
    /// held for its diagnostics: when the input pauses, and before a
    /// packet is passed on.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.emit_chunk(&pending, out);
            self.pending = pending;
            self.pending.clear();
        }
        release(&self.options, &mut self.held, out);
    }

    /// A packet of the input comes next: wraps what is pending, and starts a
    /// new line (a packet ends one, as it does in the stream reader).
    pub fn before_packet(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
        self.line = Some(Vec::new());
    }

    /// One input ended (more may follow, as files do): reads its last line
    /// even without a newline, wraps what is pending, reports the TAP tests
    /// its plan named that never came, and starts the next input afresh,
    /// so that no TAP stream or automake log runs on into the next file.
    pub fn end_input(&mut self, out: &mut Vec<u8>) {
        if let Some(line) = self.line.take() {
            if !line.is_empty() && self.options.results != ResultLines::Off {
                self.read_line(&line, None, out);
            }
        }
        self.line = Some(Vec::new());
        self.flush(out);
        // The tests a plan named are found missing now.
        self.now = timestamp(&self.options);
        if let Some(tap) = &mut self.tap {
            let (options, scratch, now) = (&self.options, &mut self.scratch, self.now);
            tap.finish(|event| {
                if let TapEvent::Missing { first, last } = event {
                    missing(options, scratch, now, first, last, out);
                }
            });
        }
        self.automake = AutomakeReader::new();
    }

    /// The input ended: [`Wrapper::end_input`], then, if any chatter was
    /// wrapped, the file ends with an empty EOF packet.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.end_input(out);
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
            timestamp: self.now,
            test_id: options.test_id.as_deref(),
            mime: options.mime.as_deref(),
            file: Some((&options.file_name, chunk)),
            route_code: options.route_code.as_deref(),
            ..Event::default()
        };
        encode(&event, out).expect("wrap options are checked when made");
    }

    /// Follows lines through `bytes`, whose lines are complete up to
    /// `complete`, reporting the results of those completed. A line whole
    /// in `bytes` is read where it is; only the start of one that began in
    /// an earlier piece is copied.
    fn scan_lines(&mut self, bytes: &[u8], complete: usize, out: &mut Vec<u8>) {
        if self.options.results == ResultLines::Off {
            return;
        }
        let mut start = 0;
        if complete > 0 && self.line.as_ref().is_none_or(|line| !line.is_empty()) {
            // The end of a line begun in an earlier piece.
            let newline = memchr::memchr(b'\n', bytes).expect("a complete line");
            self.end_line(&bytes[..newline], out);
            start = newline + 1;
        }
        let lines = &bytes[start..complete.max(start)];
        // Clean text (UTF-8 without escapes or NUL bytes), as nearly all
        // of it is, is checked once for all its lines rather than line by
        // line: each line of it is clean too.
        let clean = memchr::memchr2(0x1b, 0, lines)
            .is_none()
            .then(|| std::str::from_utf8(lines).ok())
            .flatten();
        let mut at = 0;
        for_each_newline(lines, |newline| {
            match clean {
                Some(text) => {
                    let line = &text[at..newline];
                    if line.len() <= MAX_RESULT_LINE {
                        self.read_line(line.as_bytes(), Some(line), out);
                    } else {
                        release(&self.options, &mut self.held, out);
                    }
                }
                None => self.end_line(&lines[at..newline], out),
            }
            at = newline + 1;
        });
        let rest = &bytes[complete.max(start)..];
        if let Some(line) = &mut self.line {
            if line.len() + rest.len() <= MAX_RESULT_LINE {
                line.extend_from_slice(rest);
            } else {
                self.line = None;
            }
        }
    }

    /// Reads the line that `piece` completes: the rest of the line so far.
    fn end_line(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        match self.line.as_ref().map(Vec::len) {
            Some(0) if piece.len() <= MAX_RESULT_LINE => self.read_line(piece, None, out),
            Some(begun) if begun + piece.len() <= MAX_RESULT_LINE => {
                let mut line = self.line.take().expect("a line begun");
                line.extend_from_slice(piece);
                self.read_line(&line, None, out);
                line.clear();
                self.line = Some(line);
            }
            // Too long to be a result line.
            _ => {
                self.line.get_or_insert_with(Vec::new).clear();
                release(&self.options, &mut self.held, out);
            }
        }
    }
}

/// The time for a packet made now: chatter is wrapped as it arrives,
/// so this is when its bytes came. The clock is read only if wanted.
fn timestamp(options: &WrapOptions) -> Option<Timestamp> {
    options.timestamps.then(Timestamp::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::Status;
    use crate::formats::tap::TEXT_MIME;
    use crate::{Item, StreamReader};
    use results::MAX_MISSING;

    /// (file contents in order, results) of wrapped output.
    fn unwrap(out: &[u8]) -> (Vec<u8>, Vec<(Status, String)>) {
        let (contents, results) = unwrap_attached(out);
        (
            contents,
            results.into_iter().map(|(s, n, _)| (s, n)).collect(),
        )
    }

    /// (file contents in order, results with their attachment as
    /// "name: text") of wrapped output.
    fn unwrap_attached(out: &[u8]) -> (Vec<u8>, Vec<(Status, String, String)>) {
        let mut reader = StreamReader::new(out);
        let mut contents = Vec::new();
        let mut results = Vec::new();
        while let Some(item) = reader.next().unwrap() {
            let Item::Packet(p) = item else {
                panic!("chatter in wrapped output")
            };
            match (p.test_id(), p.file()) {
                (None, Some(file)) => {
                    assert!(file.content.len() <= MAX_CHUNK);
                    contents.extend_from_slice(file.content);
                }
                (Some(id), file) => {
                    let attached = file.map_or(String::new(), |f| {
                        assert_eq!(p.mime(), Some(TEXT_MIME));
                        assert!(p.eof());
                        format!("{}: {}", f.name, String::from_utf8_lossy(f.content))
                    });
                    results.push((p.status(), id.to_owned(), attached));
                }
                (None, None) => panic!("a packet of nothing"),
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

    /// Ways to give `input` to a wrapper: whole, a byte at a time, a line
    /// at a time, and cut in two (everywhere in a short input).
    fn ways_to_give(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut ways = vec![
            vec![input],
            input.chunks(1).collect(),
            input.split_inclusive(|&b| b == b'\n').collect(),
        ];
        let cuts: Vec<usize> = if input.len() < 1000 {
            (1..input.len()).collect()
        } else {
            (1..40).chain(4080..4110).chain(8180..8200).collect()
        };
        for cut in cuts.into_iter().filter(|&cut| cut < input.len()) {
            ways.push(vec![&input[..cut], &input[cut..]]);
        }
        ways
    }

    /// A piece of input that is clean text (UTF-8 without escapes or NUL
    /// bytes) has its lines read where they are, a line that came in pieces
    /// or a piece that is not clean has each line cleaned and read on its
    /// own: the results are the same, with non-ASCII text and white space
    /// in the lines (which the TAP reader takes its slower way through) as
    /// without, and as they were before the clean way was added.
    #[test]
    fn lines_read_in_any_piece_give_the_same_results() {
        let missing = "tap meta: test missing from TAP output";
        let clean = "1..9\nok 1 - plain\nok 2\u{a0}- nbsp after the number\n\
                     not ok 3 - é accents # TODO later\u{3000}\nok 4 \u{85}x\nok 5 - crlf\r\n\
                     # diagnostic é\nok\u{2003}7 em space\nPASS: automake é\nok 7 - x\u{3000}\n\
                     ok 0008 lead\nok 9 # skip é why \n1..2 # é\nok 1é\nBail out! é gone\n";
        let clean_results = [
            (Status::Success, "test 1 - plain", ""),
            (Status::Success, "test 2 - nbsp after the number", ""),
            (Status::XFail, "test 3 - é accents", "tap comment: later"),
            (Status::Success, "test 4 x", ""),
            (
                Status::Success,
                "test 5 - crlf",
                "tap comment: # diagnostic é",
            ),
            (Status::Success, "automake é", ""),
            (Status::Fail, "test 6", missing),
            (Status::Success, "test 7 - x", ""),
            (Status::Success, "test 8 lead", ""),
            (Status::Skip, "test 9", "tap comment: é why"),
            (Status::Success, "test 1 é", ""),
            (Status::Fail, "Bail out! é gone", ""),
            (Status::Fail, "test 2", missing),
        ];
        let dirty: &[u8] = b"1..4\n\x1b[32mok 1 - green\x1b[0m\nnot ok 2 - n\0ul\n\
                             ok 3 - bad \xff byte\r\n\x1b[1m# bold \xc3\xa9\x1b[0m\n\
                             PASS: \x1b[1ma\xc2\xa0\x1b[0m\n";
        let dirty_results = [
            (Status::Success, "test 1 - green", ""),
            (Status::Fail, "test 2 - n\u{fffd}ul", ""),
            (
                Status::Success,
                "test 3 - bad \u{fffd} byte",
                "tap comment: # bold é",
            ),
            (Status::Success, "a", ""),
            (Status::Fail, "test 4", missing),
        ];
        // The clean lines, each cleaned: one line in the piece is not clean.
        let mixed = [clean.as_bytes(), b"\x1b[m\n"].concat();
        // A line of MAX_RESULT_LINE bytes is read, a longer one not.
        let long = format!(
            "ok 1 {}\nok 2 {}\nnot ok 3 {}{}\n",
            "a".repeat(MAX_RESULT_LINE - 5),
            "b".repeat(MAX_RESULT_LINE - 4),
            "c".repeat(3000),
            "é".repeat(500),
        );
        let long_1 = format!("test 1 {}", "a".repeat(MAX_RESULT_LINE - 5));
        let long_3 = format!("test 3 {}{}", "c".repeat(3000), "é".repeat(500));
        let long_results = [
            (Status::Success, &long_1[..], ""),
            (Status::Fail, "test 2", missing),
            (Status::Fail, &long_3[..], ""),
        ];
        for (input, expected) in [
            (clean.as_bytes(), &clean_results[..]),
            (dirty, &dirty_results[..]),
            (&mixed[..], &clean_results[..]),
            (long.as_bytes(), &long_results[..]),
        ] {
            for pieces in ways_to_give(input) {
                let out = wrap(&pieces, ResultLines::AutomakeAndTap);
                let (contents, results) = unwrap_attached(&out);
                assert_eq!(contents, input);
                let results: Vec<(Status, &str, &str)> = results
                    .iter()
                    .map(|(s, n, a)| (*s, n.as_str(), a.as_str()))
                    .collect();
                assert_eq!(results, expected, "{:?}", pieces.len());
            }
        }
    }

    /// The clock is read once for each piece of chatter: every packet made
    /// of a piece carries the same time (a result the time of the piece
    /// that completed its line), and the tests found missing at the end
    /// the time of the end.
    #[test]
    fn the_packets_of_one_piece_have_one_time() {
        let mut wrapper = Wrapper::new(WrapOptions {
            results: ResultLines::AutomakeAndTap,
            ..WrapOptions::new("stdout")
        })
        .unwrap();
        let mut out = Vec::new();
        wrapper.chatter(b"1..4\nok 1\nPASS: a\nok 2 - held", &mut out);
        std::thread::sleep(std::time::Duration::from_millis(2));
        wrapper.chatter(b"\n", &mut out);
        std::thread::sleep(std::time::Duration::from_millis(2));
        wrapper.finish(&mut out);
        let mut reader = StreamReader::new(&out[..]);
        let mut times = Vec::new();
        while let Some(Item::Packet(p)) = reader.next().unwrap() {
            times.push((p.test_id().unwrap_or("").to_owned(), p.timestamp().unwrap()));
        }
        let names: Vec<&str> = times.iter().map(|(n, _)| n.as_str()).collect();
        // Chatter, test 1, a; chatter, test 2; the missing, the EOF.
        assert_eq!(
            names,
            [
                "",
                "test 1",
                "a",
                "",
                "test 2 - held",
                "test 3",
                "test 4",
                ""
            ]
        );
        let (first, second, end) = (times[0].1, times[3].1, times[5].1);
        assert!(first < second && second < end, "{times:?}");
        let expected = [first, first, first, second, second, end, end, end];
        let found: Vec<Timestamp> = times.iter().map(|(_, t)| *t).collect();
        assert_eq!(found, expected);
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
        let input: &[&[u8]] = &[b"1..6\nok 1 - first\nnot ok 2 second # TODO not yet\nok # skip no network\n# diagnostic\nok 5\nnot ok - last\nokay\n"];
        let (contents, results) = unwrap_attached(&wrap(input, ResultLines::AutomakeAndTap));
        assert_eq!(contents, input.concat());
        let names: Vec<(Status, &str, &str)> = results
            .iter()
            .map(|(s, n, a)| (*s, n.as_str(), a.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (Status::Success, "test 1 - first", ""),
                (Status::XFail, "test 2 second", "tap comment: not yet"),
                (
                    Status::Skip,
                    "test 3",
                    "tap comment: no network\n# diagnostic"
                ),
                (
                    Status::Fail,
                    "test 4",
                    "tap meta: test missing from TAP output"
                ),
                (Status::Success, "test 5", ""),
                (Status::Fail, "test 6 - last", ""),
            ]
        );
    }

    #[test]
    fn a_tap_result_waits_for_its_diagnostics_until_the_input_pauses() {
        let mut options = WrapOptions::new("stdout");
        options.results = ResultLines::AutomakeAndTap;
        let mut wrapper = Wrapper::new(options).unwrap();
        let mut out = Vec::new();
        wrapper.chatter(b"1..3\nnot ok 1 - a\n# got 2\n", &mut out);
        let (contents, results) = unwrap(&out);
        assert_eq!(
            contents, b"1..3\nnot ok 1 - a\n# got 2\n",
            "chatter goes at once"
        );
        assert!(results.is_empty(), "the result waits: {results:?}");
        wrapper.chatter(b"#   expected 1\nok 2\n", &mut out);
        wrapper.flush(&mut out);
        let (_, results) = unwrap_attached(&out);
        assert_eq!(
            results
                .iter()
                .map(|(s, n, a)| (*s, n.as_str(), a.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    Status::Fail,
                    "test 1 - a",
                    "tap comment: # got 2\n#   expected 1"
                ),
                (Status::Success, "test 2", ""),
            ],
            "the next result releases it, a pause releases the last"
        );
        out.clear();
        // Diagnostics after the pause are chatter only.
        wrapper.chatter(b"# late\n", &mut out);
        wrapper.finish(&mut out);
        let (contents, results) = unwrap_attached(&out);
        assert_eq!(contents, b"# late\n");
        assert_eq!(
            results,
            [(
                Status::Fail,
                "test 3".into(),
                "tap meta: test missing from TAP output".into()
            )]
        );
    }

    #[test]
    fn a_line_that_is_not_a_diagnostic_releases_a_tap_result() {
        let input: &[&[u8]] = &[
            b"ok 1\n",
            b"make: x\n# not attached\nBail out! no disk\n1..0 # SKIP all\n",
        ];
        let out = wrap(input, ResultLines::AutomakeAndTap);
        let (contents, results) = unwrap_attached(&out);
        assert_eq!(contents, input.concat());
        assert_eq!(
            results
                .iter()
                .map(|(s, n, a)| (*s, n.as_str(), a.as_str()))
                .collect::<Vec<_>>(),
            [
                (Status::Success, "test 1", ""),
                (Status::Fail, "Bail out! no disk", ""),
                (Status::Skip, "file skip", "tap comment: all"),
            ]
        );
        // The result went out with the line after it, before the pause.
        let mut options = WrapOptions::new("stdout");
        options.results = ResultLines::AutomakeAndTap;
        let mut wrapper = Wrapper::new(options).unwrap();
        let mut out = Vec::new();
        wrapper.chatter(b"ok 1\nPASS: x\n", &mut out);
        let (_, results) = unwrap(&out);
        assert_eq!(
            results,
            [
                (Status::Success, "test 1".into()),
                (Status::Success, "x".into())
            ]
        );
    }

    #[test]
    fn a_huge_plan_is_not_a_flood() {
        let input: &[&[u8]] = &[b"1..99999999999\nok 1\n"];
        let out = wrap(input, ResultLines::AutomakeAndTap);
        let (_, results) = unwrap_attached(&out);
        assert_eq!(results.len() as u64, 1 + MAX_MISSING + 1);
        let (status, name, note) = results.last().unwrap();
        assert_eq!(*status, Status::Fail);
        assert_eq!(name, &format!("test {}..99999999999", MAX_MISSING + 2));
        assert_eq!(
            note,
            &format!(
                "tap meta: {} tests missing from TAP output",
                99999999999 - MAX_MISSING - 1
            )
        );
    }

    #[test]
    fn the_global_log_of_make_check_has_no_results() {
        let input: &[&[u8]] = &[b"FAIL: t.tap 1\n.. contents:: :depth: 2\n\nFAIL: t\n=======\n\nnot ok 1\nFAIL: t.tap 1\n\n\x1b[0;31m====\x1b[m\n\x1b[0;31mTestsuite summary for x\x1b[m\nok 1\n"];
        for lines in [ResultLines::Automake, ResultLines::AutomakeAndTap] {
            let (contents, results) = unwrap(&wrap(input, lines));
            assert_eq!(contents, input.concat());
            let mut expected = vec![(Status::Fail, "t.tap 1".to_string())];
            if lines == ResultLines::AutomakeAndTap {
                expected.push((Status::Success, "test 1".into()));
            }
            assert_eq!(results, expected);
        }
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
    fn a_long_unfinished_line_goes_out_as_it_comes() {
        // 10 MiB without a newline in one piece, then in small ones: cut
        // into full packets at once, keeping back less than one.
        let mut wrapper = Wrapper::new(WrapOptions::plain("stdout")).unwrap();
        let mut out = Vec::new();
        let line = vec![b'x'; 10 << 20];
        wrapper.chatter(&line, &mut out);
        assert!(
            wrapper.pending.capacity() < 2 * MAX_CHUNK,
            "the line was held"
        );
        for piece in line.chunks(1000) {
            wrapper.chatter(piece, &mut out);
        }
        assert!(wrapper.pending.len() < MAX_CHUNK);
        wrapper.finish(&mut out);
        let (contents, _) = unwrap(&out);
        assert!(contents.len() == 2 * line.len() && contents.iter().all(|&b| b == b'x'));
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
