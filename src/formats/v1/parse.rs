//! Reading v1 text: `TestProtocolServer`'s line-based state machine.

use super::time::parse_time;
use crate::codec::packet::{Status, Timestamp};

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
