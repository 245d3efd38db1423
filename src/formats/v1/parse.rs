//! Reading v1 text: `TestProtocolServer`'s line-based state machine.

use std::borrow::Cow;

use super::item::{V1Attachment, V1Item, V1Sink};
use super::time::TimeReader;
use crate::codec::packet::{MAX_PACKET_LEN, Status, Timestamp};

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
        attachments: Vec<V1Attachment>,
    },
    /// Part of an attachment of the current test, ahead of its outcome: a
    /// details block over [`MAX_HELD_BLOCK`] goes out as it comes.
    File {
        /// The test.
        test_id: String,
        /// The attachment's name.
        name: String,
        /// Its MIME type.
        mime: String,
        /// The next bytes of its content.
        bytes: Vec<u8>,
        /// Whether they are its last.
        eof: bool,
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

/// Lines up to this long are taken whole; a longer one comes in parts
/// ([`V1Parser::line_part`]) and is never protocol: no packet could hold
/// what it says.
pub const MAX_LINE: usize = MAX_PACKET_LEN + 1;

/// A details block is held whole up to this many bytes, so that a malformed
/// one (or one the input leaves open) can be kept as chatter whole; beyond,
/// its content goes out as it comes ([`V1Event::File`]), so memory stays
/// bounded however large the block.
pub const MAX_HELD_BLOCK: usize = 1 << 20;

/// Where the parser is.
#[derive(Debug)]
pub(super) enum State {
    Outside,
    InTest,
    Simple {
        status: Status,
        message: Vec<u8>,
        lines: Held,
    },
    Multipart {
        status: Status,
        part: Part,
        attachments: Vec<V1Attachment>,
        lines: Held,
        /// Bytes of content in `attachments` and `part`.
        content: usize,
    },
}

/// The lines of a details block so far, as they came, while they may still
/// have to become chatter; `None` once the block's content goes out as it
/// comes.
pub(super) type Held = Option<Vec<u8>>;

/// Where a multipart block is.
#[derive(Debug)]
pub(super) enum Part {
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
        /// The start of a chunk header cut off at the end of a part of a
        /// long line.
        header: Vec<u8>,
    },
}

/// Parses v1 text line by line (`TestProtocolServer`'s grammar). A line
/// that is not protocol where it stands is chatter; a block that turns out
/// malformed is handed back as chatter whole, so nothing is lost.
#[derive(Debug)]
pub struct V1Parser {
    pub(super) state: State,
    pub(super) current: Option<String>,
    pub(super) malformed: u64,
    /// The buffer of the last block's held lines, for the next block's.
    pub(super) spare: Vec<u8>,
    /// The last test's name, whose buffer the next test's takes.
    pub(super) spare_id: String,
    times: TimeReader,
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
            spare: Vec::new(),
            spare_id: String::new(),
            times: TimeReader::default(),
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

    /// The longest line to give whole to [`V1Parser::line`] now: protocol
    /// lines up to [`MAX_LINE`]; inside a details block, whose lines are
    /// content, 64 KiB (longer ones in parts, [`V1Parser::line_part`]).
    pub fn longest_line(&self) -> usize {
        if self.in_details() {
            64 * 1024
        } else {
            MAX_LINE
        }
    }

    /// Takes one line, with its newline (the last line of the input may
    /// lack one), and appends what it says to `events`.
    pub fn line(&mut self, line: &[u8], events: &mut Vec<V1Event>) {
        self.line_to(line, events);
    }

    /// [`V1Parser::line`], handing what the line says to `events` as it is
    /// read.
    pub fn line_to(&mut self, line: &[u8], events: &mut impl V1Sink) {
        match &mut self.state {
            State::Outside | State::InTest => self.protocol_line(line, events),
            State::Simple { .. } | State::Multipart { .. } => {
                self.details_bytes(line, true, true, events);
            }
        }
    }

    /// Takes a part of a line longer than [`V1Parser::longest_line`]:
    /// `first` for the part that begins it; the part with its newline ends
    /// it. Outside a details block such a line is never protocol, as no
    /// packet could hold what it says: it is chatter.
    pub fn line_part(&mut self, part: &[u8], first: bool, events: &mut Vec<V1Event>) {
        self.line_part_to(part, first, events);
    }

    /// [`V1Parser::line_part`], handing what the part says to `events` as it
    /// is read.
    pub fn line_part_to(&mut self, part: &[u8], first: bool, events: &mut impl V1Sink) {
        match &mut self.state {
            State::Outside | State::InTest => events.item(V1Item::Chatter(part)),
            State::Simple { .. } | State::Multipart { .. } => {
                let ends = part.ends_with(b"\n");
                self.details_bytes(part, first, ends, events);
            }
        }
    }

    /// The input ended: a test still running, or its unfinished details,
    /// end as a failure saying so (python-subunit reports a lost
    /// connection the same way). The lines of an unfinished block are
    /// chatter; a block whose content was already going out ends what it
    /// sent.
    pub fn finish(&mut self, events: &mut Vec<V1Event>) {
        self.finish_to(events);
    }

    /// [`V1Parser::finish`], handing what is left to `events`.
    pub fn finish_to(&mut self, events: &mut impl V1Sink) {
        let Some(test_id) = self.current.clone() else {
            self.state = State::Outside;
            return;
        };
        let label = match &self.state {
            State::Outside | State::InTest => "",
            State::Simple { status, .. } | State::Multipart { status, .. } => status_word(*status),
        };
        if let Some(lines) = self.end_block(events) {
            if !lines.is_empty() {
                events.item(V1Item::Chatter(&lines));
            }
        }
        self.current = None;
        self.state = State::Outside;
        let report = if label.is_empty() {
            String::new()
        } else {
            format!("{label} report of ")
        };
        // The words and type python-subunit's RemoteError traceback has.
        let message = format!(
            "testtools.testresult.real._StringException: lost connection during {report}test '{test_id}'\n"
        );
        events.item(V1Item::Outcome {
            test_id: &test_id,
            status: Status::Fail,
            attachments: &[(
                "traceback".into(),
                "text/x-traceback; charset=\"utf8\"; language=\"python\"".into(),
                vec![message.into_bytes()],
            )],
        });
    }

    fn protocol_line(&mut self, line: &[u8], events: &mut impl V1Sink) {
        let chatter = |events: &mut _| V1Sink::item(events, V1Item::Chatter(line));
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
                    let mut test_id = std::mem::take(&mut self.spare_id);
                    test_id.clear();
                    test_id.push_str(&text_ref(arg));
                    events.item(V1Item::Start { test_id: &test_id });
                    self.current = Some(test_id);
                    self.state = State::InTest;
                } else {
                    chatter(events);
                }
            }
            b"tags" => {
                let words = text_ref(&line[word_len..]);
                events.item(V1Item::Tags { words: &words });
            }
            b"time" => match self.times.parse(arg) {
                Some(ts) => events.item(V1Item::Time(ts)),
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
                // The bytes after the test's name: the name is text (UTF-8
                // without NUL), so bytes that begin with it are its text and
                // then the text of the rest; else they are read as text.
                let read;
                let after = match arg.strip_prefix(current.as_bytes()) {
                    Some(after) => Some(after),
                    None => {
                        read = text_ref(arg);
                        read.strip_prefix(current).map(str::as_bytes)
                    }
                };
                if after == Some(b"") {
                    self.state = State::Outside;
                    self.end_test(status, &[], events);
                } else if after == Some(b" [") {
                    self.state = State::Simple {
                        status,
                        message: Vec::new(),
                        lines: Some(self.held_lines(line)),
                    };
                } else if after == Some(b" [ multipart") {
                    self.state = State::Multipart {
                        status,
                        part: Part::ContentType,
                        attachments: Vec::new(),
                        lines: Some(self.held_lines(line)),
                        content: 0,
                    };
                } else {
                    chatter(events);
                }
            }
        }
    }
}

impl V1Parser {
    /// A buffer for a block's lines, holding its first, `line`.
    fn held_lines(&mut self, line: &[u8]) -> Vec<u8> {
        let mut lines = std::mem::take(&mut self.spare);
        lines.clear();
        lines.extend_from_slice(line);
        lines
    }

    /// The current test ended with `status`: handed on, and its name's buffer
    /// kept for the next.
    pub(super) fn end_test(
        &mut self,
        status: Status,
        attachments: &[V1Attachment],
        events: &mut impl V1Sink,
    ) {
        let test_id = self.current.take().unwrap_or_default();
        events.item(V1Item::Outcome {
            test_id: &test_id,
            status,
            attachments,
        });
        self.spare_id = test_id;
    }

    /// A block ended as it should: outside any test, and the buffer of its
    /// lines kept for the next.
    pub(super) fn close_block(&mut self) {
        if let State::Simple {
            lines: Some(lines), ..
        }
        | State::Multipart {
            lines: Some(lines), ..
        } = std::mem::replace(&mut self.state, State::Outside)
        {
            self.spare = lines;
        }
    }
}

pub(super) fn status_word(status: Status) -> &'static str {
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
pub(super) fn text(bytes: &[u8]) -> String {
    text_ref(bytes).into_owned()
}

/// [`text`], borrowed from `bytes` when they are already that text (UTF-8
/// without NUL bytes).
pub(super) fn text_ref(bytes: &[u8]) -> Cow<'_, str> {
    // ASCII without NUL, the usual case, in one pass with no early exit
    // (so in vector registers), rather than UTF-8 validation and a search.
    if bytes
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(1) < 0x7f))
    {
        // SAFETY: every byte is ASCII (1 to 127), and ASCII is UTF-8.
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    match std::str::from_utf8(bytes) {
        // No early exit, so that it runs in vector registers.
        Ok(text) if !bytes.iter().fold(false, |nul, &b| nul | (b == 0)) => Cow::Borrowed(text),
        _ => Cow::Owned(String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}")),
    }
}

pub(super) fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn parts_of_long_lines_are_chatter_or_block_content() {
        let mut parser = V1Parser::new();
        let mut events = Vec::new();
        parser.line_part(b"test: a long", true, &mut events);
        parser.line_part(b" line\n", false, &mut events);
        assert_eq!(
            events,
            [
                V1Event::Chatter(b"test: a long".to_vec()),
                V1Event::Chatter(b" line\n".to_vec())
            ],
            "never protocol"
        );
        events.clear();
        // A chunk header cut between two parts; chunk content is raw (no
        // quoting).
        for line in [
            &b"test: b\n"[..],
            b"failure: b [ multipart\n",
            b"Content-Type: text/plain\n",
            b"log\n",
        ] {
            parser.line(line, &mut events);
        }
        parser.line_part(b"3\r\nab", true, &mut events);
        parser.line_part(b"c3", false, &mut events);
        parser.line_part(b"\r\n ]x0\r\n", false, &mut events);
        parser.line(b"]\n", &mut events);
        assert_eq!(parser.malformed(), 0, "{events:?}");
        let V1Event::Outcome { attachments, .. } = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(attachments[0].2, [b"abc".to_vec(), b" ]x".to_vec()]);
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
