//! Reading v1 details blocks: `failure: a [` ... `]` (a message, ` ]`
//! quoting a `]`) and `failure: a [ multipart` ... `]` (attachments, each a
//! `Content-Type:` line, a name line and HTTP-chunked content).
//!
//! A block is held, with its lines as they came, until it ends or turns
//! out malformed (then its lines are chatter, as nothing may be lost), but
//! only up to [`MAX_HELD_BLOCK`]: beyond, what it holds goes out as
//! [`V1Event::File`] parts of the test's attachments, and so does the rest
//! as it comes, so that memory stays bounded.

use super::item::{V1Item, V1Sink};
use super::parse::{Held, MAX_HELD_BLOCK, Part, State, V1Parser, strip_newline, text, text_ref};
use crate::codec::packet::Status;

/// The longest chunk header taken across two parts of a long line: hex
/// digits for any `usize`, CR and LF.
const MAX_CHUNK_HEADER: usize = 18;

impl V1Parser {
    /// Bytes of an open details block: a whole line, or a part of a long
    /// one (`starts_line` for its first part, `ends_line` for its last).
    #[inline]
    pub(super) fn details_bytes(
        &mut self,
        bytes: &[u8],
        starts_line: bool,
        ends_line: bool,
        events: &mut impl V1Sink,
    ) {
        match &mut self.state {
            State::Simple { lines, .. } | State::Multipart { lines, .. } => {
                if let Some(lines) = lines {
                    lines.extend_from_slice(bytes);
                }
            }
            State::Outside | State::InTest => unreachable!("called in a block"),
        }
        let whole = starts_line && ends_line;
        if matches!(self.state, State::Simple { .. }) {
            self.simple_bytes(bytes, starts_line, whole, events);
        } else {
            self.multipart_bytes(bytes, whole, ends_line, events);
        }
        let held = match &self.state {
            State::Simple { message, lines, .. } => {
                message.len() + lines.as_ref().map_or(0, Vec::len)
            }
            State::Multipart { content, lines, .. } => content + lines.as_ref().map_or(0, Vec::len),
            State::Outside | State::InTest => 0,
        };
        if held > MAX_HELD_BLOCK {
            self.stream_held(events);
        }
    }

    fn simple_bytes(
        &mut self,
        bytes: &[u8],
        starts_line: bool,
        whole: bool,
        events: &mut impl V1Sink,
    ) {
        let State::Simple {
            status, message, ..
        } = &mut self.state
        else {
            unreachable!("called in the simple state")
        };
        if whole && bytes == b"]\n" {
            let status = *status;
            let message = std::mem::take(message);
            let (name, mime) = simple_attachment(status);
            self.close_block();
            self.end_test(status, &[(name.into(), mime.into(), vec![message])], events);
        } else if let Some(quoted) = bytes.strip_prefix(b" ]").filter(|_| starts_line) {
            message.push(b']');
            message.extend_from_slice(quoted);
        } else {
            message.extend_from_slice(bytes);
        }
    }

    fn multipart_bytes(
        &mut self,
        bytes: &[u8],
        whole: bool,
        ends_line: bool,
        events: &mut impl V1Sink,
    ) {
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
            Part::ContentType if whole && bytes == b"]\n" => {
                let (status, attachments) = (*status, std::mem::take(attachments));
                self.close_block();
                self.end_test(status, &attachments, events);
            }
            // Lines too long to take whole are no headers.
            Part::ContentType | Part::Name(_) if !whole => self.give_up(bytes, events),
            Part::ContentType => {
                let line = text_ref(strip_newline(bytes));
                match line.split_once(' ') {
                    Some((_, value)) if value.split('/').count() == 2 => {
                        *part = Part::Name(value.to_owned());
                    }
                    _ => self.give_up(bytes, events),
                }
            }
            Part::Name(mime) => {
                let name = text(strip_newline(bytes));
                *part = Part::Chunks {
                    mime: std::mem::take(mime),
                    name,
                    chunks: Vec::new(),
                    remaining: 0,
                    header: Vec::new(),
                };
            }
            Part::Chunks { .. } => self.chunk_bytes(bytes, !ends_line, events),
        }
    }

    /// Body bytes and chunk headers, which need not line up with lines.
    /// `continues`: more of this line follows in another part (so a chunk
    /// header cut off at the end waits for it).
    fn chunk_bytes(&mut self, mut bytes: &[u8], continues: bool, events: &mut impl V1Sink) {
        while !bytes.is_empty() {
            let State::Multipart {
                part: part @ Part::Chunks { .. },
                attachments,
                lines,
                content,
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
                header,
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
                *content += take;
                bytes = &bytes[take..];
                if *remaining == 0 && lines.is_none() {
                    // Going out as it comes: so does each chunk as it ends.
                    let chunk = chunks.pop().expect("a chunk is open");
                    *content -= chunk.len();
                    let (name, mime) = (name.clone(), mime.clone());
                    self.send(&name, &mime, &chunk, false, events);
                }
                continue;
            }
            // A chunk header: hex digits, CR, LF (python-subunit is strict).
            // It ends its line, and may have begun in the previous part.
            let (head, rest) = match memchr::memchr(b'\n', bytes) {
                Some(lf) => bytes.split_at(lf + 1),
                None if continues && header.len() + bytes.len() <= MAX_CHUNK_HEADER => {
                    header.extend_from_slice(bytes);
                    return;
                }
                None => (bytes, &b""[..]),
            };
            let begun = std::mem::take(header);
            let whole_head: std::borrow::Cow<'_, [u8]> = if begun.is_empty() {
                head.into()
            } else {
                [&begun[..], head].concat().into()
            };
            let digits = whole_head
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let header_ok = digits > 0 && whole_head[digits..].starts_with(b"\r\n");
            let size = std::str::from_utf8(&whole_head[..digits])
                .ok()
                .and_then(|h| usize::from_str_radix(h, 16).ok());
            let (true, Some(size)) = (header_ok, size) else {
                return self.give_up(&[&begun[..], bytes].concat(), events);
            };
            // What followed the CR LF in `head` (nothing, as LF ends it).
            bytes = rest;
            if size == 0 {
                let chunks = std::mem::take(chunks);
                let (name, mime) = (std::mem::take(name), std::mem::take(mime));
                *part = Part::ContentType;
                if lines.is_some() {
                    attachments.push((name, mime, chunks));
                } else {
                    self.send(&name, &mime, &[], true, events);
                }
                if !bytes.is_empty() {
                    return self.give_up(bytes, events);
                }
            } else {
                chunks.push(Vec::with_capacity(size.min(1 << 20)));
                *remaining = size;
            }
        }
    }

    /// A malformed details block: its lines so far are chatter, and the
    /// test is back to waiting for its outcome. A block already going out
    /// ends the attachment it was in; what is left of its line, from where
    /// it went wrong (`rest`), is chatter.
    fn give_up(&mut self, rest: &[u8], events: &mut impl V1Sink) {
        self.malformed += 1;
        let lines = self.end_block(events);
        events.item(V1Item::Chatter(lines.as_deref().unwrap_or(rest)));
        self.state = State::InTest;
    }

    /// Ends an open block early: its lines as they came when it still
    /// holds them (the caller makes them chatter); else the attachment it
    /// was sending ends with what it holds.
    pub(super) fn end_block(&mut self, events: &mut impl V1Sink) -> Held {
        match std::mem::replace(&mut self.state, State::InTest) {
            State::Outside | State::InTest => None,
            State::Simple {
                lines: Some(lines), ..
            }
            | State::Multipart {
                lines: Some(lines), ..
            } => Some(lines),
            State::Simple {
                status, message, ..
            } => {
                let (name, mime) = simple_attachment(status);
                self.send(name, mime, &message, true, events);
                None
            }
            State::Multipart { part, .. } => {
                if let Part::Chunks {
                    mime, name, chunks, ..
                } = part
                {
                    let held: Vec<u8> = chunks.concat();
                    self.send(&name, &mime, &held, true, events);
                }
                None
            }
        }
    }

    /// A block holds more than [`MAX_HELD_BLOCK`]: sends what it holds and
    /// gives up its lines; from then on it goes out as it comes.
    #[cold]
    fn stream_held(&mut self, events: &mut impl V1Sink) {
        let V1Parser { state, current, .. } = self;
        let test_id = current.as_deref().unwrap_or_default();
        match state {
            State::Simple {
                status,
                message,
                lines,
            } => {
                *lines = None;
                let (name, mime) = simple_attachment(*status);
                events.item(V1Item::File {
                    test_id,
                    name,
                    mime,
                    bytes: message,
                    eof: false,
                });
                message.clear();
            }
            State::Multipart {
                part,
                attachments,
                lines,
                content,
                ..
            } => {
                *lines = None;
                *content = 0;
                let mut file = |name: &str, mime: &str, bytes: &[u8], eof| {
                    events.item(V1Item::File {
                        test_id,
                        name,
                        mime,
                        bytes,
                        eof,
                    });
                };
                for (name, mime, chunks) in attachments.drain(..) {
                    let last = chunks.len().saturating_sub(1);
                    if chunks.is_empty() {
                        file(&name, &mime, &[], true);
                    }
                    for (i, chunk) in chunks.iter().enumerate() {
                        file(&name, &mime, chunk, i == last);
                    }
                }
                if let Part::Chunks {
                    mime, name, chunks, ..
                } = part
                {
                    // Whole chunks, and what came of the current one.
                    let open = chunks.last_mut().map(std::mem::take);
                    let done = chunks.len().saturating_sub(usize::from(open.is_some()));
                    for chunk in chunks.drain(..done) {
                        file(name, mime, &chunk, false);
                    }
                    if let Some(open) = open.filter(|o| !o.is_empty()) {
                        file(name, mime, &open, false);
                    }
                }
            }
            State::Outside | State::InTest => {}
        }
    }

    /// A part of an attachment of the current test, ahead of its outcome.
    fn send(&self, name: &str, mime: &str, bytes: &[u8], eof: bool, events: &mut impl V1Sink) {
        events.item(V1Item::File {
            test_id: self.current.as_deref().unwrap_or_default(),
            name,
            mime,
            bytes,
            eof,
        });
    }
}

/// The attachment of a simple block, by its status (as python-subunit
/// names it).
fn simple_attachment(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Skip => ("reason", "text/plain"),
        Status::Success => ("message", "text/plain"),
        _ => ("traceback", "text/x-traceback; charset=\"utf8\""),
    }
}
