//! `subunit-1to2`: v1 text as a v2 stream (SPEC section 4).

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{MAX_PACKET_LEN, SIGNATURE, Status, Timestamp};
use crate::formats::v1::{MAX_LINE, V1Item, V1Parser, V1Sink, tag_words};
use crate::stream::window::Window;
use crate::stream::wrap::{WrapOptions, Wrapper};

/// The command's name.
pub const NAME: &str = "subunit-1to2";

/// Arguments of `subunit-1to2`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Convert the subunit v1 text protocol to a v2 stream",
    long_about = "Convert the subunit v1 text protocol to a v2 stream, as python-subunit's \
                  subunit-1to2 does: test: becomes an inprogress packet, the outcome its \
                  attachments and a final status with the tags in force, tags: and time: \
                  apply to what follows. v2 packets in the input (python -m subunit.run \
                  writes v2) pass through byte for byte where they stand. Text that is not \
                  protocol becomes stdout file packets, so nothing is lost and the output is \
                  all subunit."
)]
pub struct Args {
    /// Streams to read, in order, as one; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "    python -m subunit.run mytests | subunit-1to2 | subunit-stats",
    ),
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "A v2 packet that starts a line, or follows another packet, is passed on whole, \
         byte for byte, where it stands: also between a test: line and its outcome, where \
         the v1 test stays open around it. python-subunit passes such packets on too, but \
         as the lines it cuts them into, so a packet whose content holds a line that \
         looks like v1 (success: a) is read as protocol there and comes out broken. Inside \
         a details block (from failure: a [ to its ]) every byte is the block's, a \
         packet's too, as in python-subunit. A candidate that is not a valid packet is v1 \
         text like any other line. Text that is not protocol becomes stdout file \
         packets rather than raw bytes in the middle of the v2 output. Each chunk of a multipart attachment becomes its \
         own file packet, so that subunit-2to1 writes the same chunks back. Events before \
         the first time: line carry no timestamp (python-subunit stamps them with the \
         current time). A malformed details block (a bad chunk header or Content-Type \
         line) or time: line is kept as chatter and counted on standard error; \
         python-subunit stops with a traceback there, or for a chunk header that is not \
         hexadecimal swallows the rest of the input. A test left open at the end of the \
         input ends as a failure whose traceback says the connection was lost, as in \
         python-subunit; the lines of a details block left open are kept as chatter, \
         where python-subunit drops them. A details block over 1 MiB is not held whole: \
         its content goes out as it comes, in file packets of the test named as the \
         attachment, EOF on the last, which python-subunit reads as one attachment \
         (python-subunit holds the whole block). Such a block left open at the end of \
         the input ends with what came of it, the lost-connection words after it when it \
         is the traceback; one found malformed after it began to go out keeps what went \
         out as its attachment and the rest of its lines as chatter. A line over 4 MiB \
         is never protocol, as no packet could hold what it says: it is chatter (inside \
         a block, content), read in parts. A test name within that but too long to be \
         a test id beside a packet's other fields (over 4 MiB less 64 KiB) is cut short \
         with … (U+2026), the same in each of its packets; python-subunit stops with a \
         ValueError there. A last line without a newline is read whole \
         (python-subunit drops its last character). progress: lines are dropped, as v2 \
         has no progress.",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early; 2 on usage errors and \
         when an input cannot be opened or read.",
    ),
];

/// Tags in force: the run's, and a running test's own (a copy of the run's
/// when it started, changed by tags: lines inside it), as testtools'
/// TagContext keeps them. The run's cannot change while a test runs, so
/// the copy is made when a tags: line inside the test first changes it.
/// Each set is a sorted vector: a few tags, whose memory stays for the next
/// (a set's order, without a tree node per change).
#[derive(Debug, Default)]
struct Tags {
    global: Vec<String>,
    /// A test is running.
    in_test: bool,
    /// Its own tags, once they differ from the run's.
    test: Option<Vec<String>>,
    /// Tags removed, whose buffers tags added take.
    spare: Vec<String>,
}

impl Tags {
    /// A `tags:` line's words: those without a `-` are added, then those
    /// with one removed.
    fn change(&mut self, words: &str) {
        let scope = if self.in_test {
            self.test.get_or_insert_with(|| self.global.clone())
        } else {
            &mut self.global
        };
        let mut removes = false;
        for tag in tag_words(words) {
            if tag.starts_with('-') {
                removes = true;
            } else if let Err(at) = scope.binary_search_by(|t| t.as_str().cmp(tag)) {
                let mut owned = self.spare.pop().unwrap_or_default();
                owned.clear();
                owned.push_str(tag);
                scope.insert(at, owned);
            }
        }
        if !removes {
            return;
        }
        for tag in tag_words(words).filter_map(|t| t.strip_prefix('-')) {
            if let Ok(at) = scope.binary_search_by(|t| t.as_str().cmp(tag)) {
                let owned = scope.remove(at);
                if self.spare.len() < 64 {
                    self.spare.push(owned);
                }
            }
        }
    }

    /// A test started, or ended (its tags are gone).
    fn in_test(&mut self, running: bool) {
        self.in_test = running;
        self.test = None;
    }

    /// The tags in force, sorted.
    fn current(&self) -> &[String] {
        self.test.as_ref().unwrap_or(&self.global)
    }
}

/// Runs `subunit-1to2`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut out = cli::stdout();
    let mut parser = V1Parser::new();
    let mut chatter = Wrapper::new(WrapOptions::plain("stdout")).expect("plain options encode");
    let mut converter = Converter::default();
    let mut made = Vec::new();
    let mut pieces = Pieces::new();
    for mut input in inputs {
        pieces.reset();
        loop {
            match pieces.next(!parser.in_details(), parser.longest_line()) {
                Piece::Packet(packet) => {
                    // Passed on where it stands, byte for byte, as
                    // python-subunit passes on what is not v1.
                    chatter.before_packet(&mut made);
                    made.extend_from_slice(packet);
                }
                Piece::Line(line) => {
                    parser.line_to(line, &mut converter.to(&mut chatter, &mut made));
                }
                Piece::Part { bytes, first } => {
                    let mut sink = converter.to(&mut chatter, &mut made);
                    parser.line_part_to(bytes, first, &mut sink);
                }
                Piece::More => {
                    // Flush before a read that may wait (a live producer).
                    chatter.flush(&mut made);
                    out.write_all(&made)?;
                    made.clear();
                    out.flush()?;
                    pieces
                        .fill(&mut input)
                        .map_err(Error::reading(input.name()))?;
                }
                Piece::End => break,
            }
            if made.len() >= 64 * 1024 {
                out.write_all(&made)?;
                made.clear();
            }
        }
    }
    parser.finish_to(&mut converter.to(&mut chatter, &mut made));
    chatter.finish(&mut made);
    out.write_all(&made)?;
    out.flush()?;
    if parser.malformed() > 0 {
        eprintln!(
            "{NAME}: warning: {} malformed v1 block{} or line{} kept as chatter",
            parser.malformed(),
            if parser.malformed() == 1 { "" } else { "s" },
            if parser.malformed() == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What comes next in an input.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    /// A valid v2 packet at a line start, whole.
    Packet(&'a [u8]),
    /// A line with its newline (the input's last may lack one).
    Line(&'a [u8]),
    /// Part of a line too long to take whole, which comes in parts:
    /// `first` for the part that begins it; the part with its newline (or
    /// the input's last) ends it.
    Part { bytes: &'a [u8], first: bool },
    /// Nothing can be decided without more input: [`Pieces::fill`].
    More,
    /// The input ended and everything was handed on.
    End,
}

/// Cuts one input into lines and the v2 packets that start a line (or
/// follow another packet: every piece ends at a line start). A packet may
/// hold newlines, so the buffer is scanned here rather than read by lines;
/// it holds a whole candidate (at most 4 MiB) or a line of up to
/// [`MAX_LINE`] bytes (as long as asked), and hands on a longer line in
/// parts as it comes.
#[derive(Debug)]
struct Pieces {
    window: Window,
    /// The first `searched` pending bytes hold no newline.
    searched: usize,
    /// A line is being handed on in parts.
    in_line: bool,
}

impl Pieces {
    fn new() -> Pieces {
        Pieces {
            window: Window::new(64 * 1024),
            searched: 0,
            in_line: false,
        }
    }

    /// Ready for the next input, keeping the buffer.
    fn reset(&mut self) {
        self.window.reset();
        (self.searched, self.in_line) = (0, false);
    }

    /// The next piece; `packets` says whether a packet may start here (not
    /// inside a v1 details block), `longest` the longest line to hand on
    /// whole (at most [`MAX_LINE`]).
    fn next(&mut self, packets: bool, longest: usize) -> Piece<'_> {
        let eof = self.window.at_eof();
        let Some(&first) = self.window.pending().first() else {
            return if eof { Piece::End } else { Piece::More };
        };
        if packets && first == SIGNATURE && self.searched == 0 && !self.in_line {
            match self.window.decode() {
                Ok(Some(packet)) => {
                    let len = packet.len();
                    let at = self.window.consume(len);
                    return Piece::Packet(self.window.bytes(at, len));
                }
                Ok(None) if !eof => return Piece::More,
                // Not a packet: v1 text (chatter) like any other line.
                Ok(None) | Err(_) => {}
            }
        }
        let pending = self.window.pending();
        let (len, ends) = match memchr::memchr(b'\n', &pending[self.searched..]) {
            Some(i) => (self.searched + i + 1, true),
            None if eof => (pending.len(), true),
            // A long line: what there is of it goes on now.
            None if self.in_line || pending.len() >= longest.min(MAX_LINE) => {
                (pending.len(), false)
            }
            None => {
                self.searched = pending.len();
                return Piece::More;
            }
        };
        let first = !self.in_line;
        self.in_line = !ends;
        self.searched = 0;
        let at = self.window.consume(len);
        let bytes = self.window.bytes(at, len);
        if first && ends {
            Piece::Line(bytes)
        } else {
            Piece::Part { bytes, first }
        }
    }

    /// Reads more of `input` after what is pending.
    fn fill(&mut self, input: &mut impl Read) -> io::Result<()> {
        self.window.fill(input)
    }
}

/// Turns v1 events into packets the way testtools' ExtendedToStreamDecorator
/// does.
#[derive(Debug, Default)]
struct Converter {
    now: Option<Timestamp>,
    tags: Tags,
}

/// The longest test name kept whole: what a packet holds, less room for
/// its other fields.
const MAX_NAME: usize = MAX_PACKET_LEN - 64 * 1024;

/// A [`Converter`] with where its packets go, for the parser to hand items
/// to.
struct ToV2<'a> {
    converter: &'a mut Converter,
    chatter: &'a mut Wrapper,
    out: &'a mut Vec<u8>,
}

impl V1Sink for ToV2<'_> {
    fn item(&mut self, item: V1Item<'_>) {
        self.converter.convert(item, self.chatter, self.out);
    }
}

impl Converter {
    /// Itself as a sink for the parser's items, writing packets to `out`.
    fn to<'a>(&'a mut self, chatter: &'a mut Wrapper, out: &'a mut Vec<u8>) -> ToV2<'a> {
        ToV2 {
            converter: self,
            chatter,
            out,
        }
    }

    fn convert(&mut self, item: V1Item<'_>, chatter: &mut Wrapper, out: &mut Vec<u8>) {
        match item {
            V1Item::Chatter(bytes) => {
                chatter.chatter(bytes, out);
            }
            V1Item::File {
                test_id,
                name,
                mime,
                bytes,
                eof,
            } => {
                chatter.before_packet(out);
                self.emit(
                    Event {
                        runnable: true,
                        eof,
                        timestamp: self.now,
                        test_id: Some(test_id),
                        mime: Some(mime),
                        file: Some((name, bytes)),
                        ..Event::default()
                    },
                    out,
                );
            }
            V1Item::Time(ts) => self.now = Some(ts),
            V1Item::Tags { words } => self.tags.change(words),
            V1Item::Start { test_id } => {
                chatter.before_packet(out);
                self.tags.in_test(true);
                self.emit(
                    Event {
                        status: Status::InProgress,
                        runnable: true,
                        test_id: Some(test_id),
                        timestamp: self.now,
                        ..Event::default()
                    },
                    out,
                );
            }
            V1Item::Outcome {
                test_id,
                status,
                attachments,
            } => {
                chatter.before_packet(out);
                for (name, mime, chunks) in attachments {
                    let last = chunks.len().saturating_sub(1);
                    // An attachment without content is one empty chunk.
                    let empty: &[Vec<u8>] = &[Vec::new()];
                    let pieces = if chunks.is_empty() { empty } else { chunks };
                    for (i, chunk) in pieces.iter().enumerate() {
                        self.emit(
                            Event {
                                runnable: true,
                                eof: i == last,
                                timestamp: self.now,
                                test_id: Some(test_id),
                                mime: Some(mime),
                                file: Some((name, chunk)),
                                ..Event::default()
                            },
                            out,
                        );
                    }
                }
                let current = self.tags.current();
                let mut few = [""; 16];
                let many: Vec<&str>;
                let tags: &[&str] = if current.len() <= few.len() {
                    for (slot, tag) in few.iter_mut().zip(current) {
                        *slot = tag;
                    }
                    &few[..current.len()]
                } else {
                    many = current.iter().map(String::as_str).collect();
                    &many
                };
                self.emit(
                    Event {
                        status,
                        runnable: true,
                        timestamp: self.now,
                        test_id: Some(test_id),
                        tags: (!tags.is_empty()).then_some(tags),
                        ..Event::default()
                    },
                    out,
                );
                self.tags.in_test(false);
            }
        }
    }

    fn emit(&self, event: Event<'_>, out: &mut Vec<u8>) {
        // A test name too long for a packet is cut short with …, the same
        // way in each of its packets (so by its length alone), rather than
        // the test lost.
        let cut;
        let event = match event.test_id {
            Some(id) if id.len() > MAX_NAME => {
                cut = crate::os::shortened(id, MAX_NAME);
                Event {
                    test_id: Some(&cut),
                    ..event
                }
            }
            _ => event,
        };
        let result = encode(&event, out);
        if let Err(err) = result {
            // A name with a NUL byte cannot be in a packet; say so in one.
            let note = format!("subunit-1to2: cannot encode an event: {err}\n");
            let _ = encode(
                &Event {
                    file: Some(("stdout", note.as_bytes())),
                    ..Event::default()
                },
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    fn pieces(input: &[u8], packets: bool) -> Vec<(bool, Vec<u8>)> {
        let (mut source, mut pieces, mut out) = (Trickle(input), Pieces::new(), Vec::new());
        loop {
            match pieces.next(packets, MAX_LINE) {
                Piece::Packet(p) => out.push((true, p.to_vec())),
                Piece::Line(l) => out.push((false, l.to_vec())),
                Piece::Part { .. } => panic!("no line is that long"),
                Piece::More => pieces.fill(&mut source).unwrap(),
                Piece::End => return out,
            }
        }
    }

    #[test]
    fn a_long_line_comes_in_parts_in_a_bounded_buffer() {
        let mut input = vec![b'x'; 3 * MAX_LINE];
        input.extend_from_slice(b"\nnext\n");
        let (mut source, mut pieces) = (&input[..], Pieces::new());
        let mut got: Vec<(bool, bool, usize)> = Vec::new();
        loop {
            match pieces.next(true, MAX_LINE) {
                Piece::Part { bytes, first } => {
                    got.push((first, bytes.ends_with(b"\n"), bytes.len()))
                }
                Piece::Line(l) => got.push((true, true, l.len())),
                Piece::More => pieces.fill(&mut source).unwrap(),
                Piece::End => break,
                Piece::Packet(_) => panic!("no packet"),
            }
            assert!(pieces.window.capacity() <= crate::stream::window::MAX_BUFFER);
        }
        let total: usize = got.iter().map(|g| g.2).sum();
        assert_eq!(total, input.len());
        assert_eq!(got.iter().filter(|g| g.0).count(), 2, "two lines begin");
        assert!(got.len() > 3, "the long line in parts: {got:?}");
        assert_eq!(got.last(), Some(&(true, true, 5)), "then a line whole");
        // Inside a details block parts come from 64 KiB on.
        let mut pieces = Pieces::new();
        let mut source = &input[..];
        let first_part = loop {
            match pieces.next(false, 64 * 1024) {
                Piece::More => pieces.fill(&mut source).unwrap(),
                Piece::Part { bytes, first: true } => break bytes.len(),
                other => panic!("{other:?}"),
            }
        };
        assert!((64 * 1024..MAX_LINE).contains(&first_part), "{first_part}");
    }

    #[test]
    fn packets_at_line_starts_are_cut_out_whole_however_the_input_comes() {
        let mut packet = Vec::new();
        let event = Event {
            test_id: Some("a"),
            file: Some(("log", b"one\ntwo\n\xb3\n")),
            ..Event::default()
        };
        encode(&event, &mut packet).unwrap();
        let mut input = b"test: a\n".to_vec();
        input.extend_from_slice(&packet);
        input.extend_from_slice(&packet);
        input.extend_from_slice(b"text ");
        input.extend_from_slice(&packet);
        input.extend_from_slice(b"\n\xb3 no packet\nlast");
        let text_lines = |bytes: &[u8]| -> Vec<(bool, Vec<u8>)> {
            bytes
                .split_inclusive(|&b| b == b'\n')
                .map(|l| (false, l.to_vec()))
                .collect()
        };
        let mut expected = text_lines(b"test: a\n");
        expected.push((true, packet.clone()));
        expected.push((true, packet.clone()));
        // After text, a packet is only text (its lines, one of them
        // starting with a signature byte that is no packet either).
        let after_text = [&b"text "[..], &packet, b"\n\xb3 no packet\nlast"].concat();
        expected.extend(text_lines(&after_text));
        assert_eq!(pieces(&input, true), expected);
        // Inside a details block there are only lines.
        assert_eq!(pieces(&input, false), text_lines(&input));
    }
}
