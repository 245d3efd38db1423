//! The recovering stream reader (SPEC section 2) over any [`Read`].
//!
//! It yields packets and chatter in stream order from one reused buffer:
//! items borrow from it, so the caller handles each before asking for the
//! next. A candidate that fails only gives up its signature byte to chatter;
//! scanning goes on at the next byte, so nothing valid is skipped and every
//! input byte comes out exactly once.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};

use crate::codec::decode::{self, Invalid};
use crate::codec::packet::{Layout, Packet, SIGNATURE};
use crate::formats::v1::V1Sniffer;
use crate::stream::window::Window;

/// What the reader hands on.
#[derive(Debug)]
pub enum Item<'a> {
    /// A valid packet.
    Packet(Packet<'a>),
    /// Bytes that are not part of a packet, unchanged. Adjacent chatter may
    /// come in several pieces.
    Chatter(Chatter<'a>),
    /// The next read would block: write out what you have (SPEC section 3).
    /// Only readers made with [`StreamReader::live`] say this.
    Idle,
}

/// A run of bytes that are not part of any packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chatter<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// Offset of the first byte in the stream.
    pub offset: u64,
}

/// Damaged candidates seen so far (SPEC 2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    /// How many.
    pub count: u64,
    /// Stream offset of the first one.
    pub first_offset: u64,
    /// Why the first one failed.
    pub first_reason: Invalid,
}

const INITIAL_BUFFER: usize = 256 * 1024;

/// Reads a subunit stream, recovering at newline and packet boundaries.
///
/// Memory: one buffer, at most twice the largest packet (8 MiB), allocated
/// once and grown only when a large packet (or candidate) needs it. Work:
/// linear in the input, whatever it holds (see [`Window`]).
pub struct StreamReader<R> {
    source: R,
    /// Set for sources that can block (pipes, terminals, sockets).
    poll_fd: Option<RawFd>,
    window: Window,
    /// Whether anything was handed on since the last read or `Idle`.
    handed_on: bool,
    text: Utf8Tracker,
    damage: Option<Damage>,
    /// Whether the stream is v1 text given to a v2 reader.
    v1: V1Sniffer,
}

impl<R: Read> StreamReader<R> {
    /// A reader that never reports [`Item::Idle`]: for files and buffers.
    pub fn new(source: R) -> StreamReader<R> {
        StreamReader {
            source,
            poll_fd: None,
            window: Window::new(INITIAL_BUFFER),
            handed_on: false,
            text: Utf8Tracker::default(),
            damage: None,
            v1: V1Sniffer::new(),
        }
    }

    /// The next item, `Ok(None)` at the end of the stream.
    #[allow(clippy::should_implement_trait)] // items borrow from the reader
    pub fn next(&mut self) -> io::Result<Option<Item<'_>>> {
        let item = match self.advance()? {
            Step::Packet { at, layout, len } => {
                self.v1.packet();
                Item::Packet(Packet::from_parts(self.window.bytes(at, len), layout))
            }
            Step::Chatter { at, len } => {
                let bytes = self.window.bytes(at, len);
                self.v1.chatter(bytes);
                Item::Chatter(Chatter {
                    bytes,
                    offset: self.window.offset_of(at),
                })
            }
            Step::Idle => Item::Idle,
            Step::End => return Ok(None),
        };
        Ok(Some(item))
    }

    /// Damaged candidates so far, if any.
    pub fn damage(&self) -> Option<Damage> {
        self.damage
    }

    /// Whether the stream so far held no packet and its chatter looks like
    /// subunit v1 text (see [`V1Sniffer`]): asked at its end, by commands
    /// that read v2, to say to convert it with `subunit-1to2`.
    pub fn looks_like_v1(&self) -> bool {
        self.v1.looks_like_v1()
    }

    /// Bytes handed on so far (the stream offset of the next item).
    pub fn offset(&self) -> u64 {
        self.window.offset()
    }

    /// The source, e.g. to check on a child process.
    pub fn get_ref(&self) -> &R {
        &self.source
    }

    /// Works out the next item and moves past it; returns positions rather
    /// than borrows so that it may read in a loop.
    fn advance(&mut self) -> io::Result<Step> {
        loop {
            let pending = self.window.pending();
            if let Some(&first) = pending.first() {
                if first == SIGNATURE && !self.text.continues_with(SIGNATURE) {
                    let eof = self.window.at_eof();
                    match self.window.decode() {
                        Ok(Some(packet)) => {
                            let (len, layout) = (packet.len(), packet.layout());
                            let at = self.window.consume(len);
                            self.text = Utf8Tracker::default();
                            self.handed_on = true;
                            return Ok(Step::Packet { at, layout, len });
                        }
                        Ok(None) if !eof => {} // wait for more input (SPEC 2.6)
                        Ok(None) => {
                            if let Ok(Some(head)) = decode::header(self.window.pending()) {
                                let claimed = head.len as u32;
                                self.record_damage(Invalid::Truncated { claimed });
                            }
                            return Ok(self.chatter());
                        }
                        Err(reason) => {
                            if reason.is_damaged() {
                                self.record_damage(reason);
                            }
                            return Ok(self.chatter());
                        }
                    }
                } else {
                    return Ok(self.chatter());
                }
            } else if self.window.at_eof() {
                return Ok(Step::End);
            }
            if self.handed_on && self.would_block() {
                self.handed_on = false;
                return Ok(Step::Idle);
            }
            self.handed_on = false;
            self.window.fill(&mut self.source)?;
        }
    }

    /// Hands on the chatter at the start of what is pending, up to the next
    /// candidate signature. The first byte is chatter (a failed candidate's
    /// signature, or text).
    fn chatter(&mut self) -> Step {
        let pending = self.window.pending();
        let mut fed = 0;
        let mut pos = 1;
        let stop = loop {
            match memchr::memchr(SIGNATURE, &pending[pos..]) {
                None => {
                    self.text.feed(&pending[fed..]);
                    break pending.len();
                }
                Some(i) => {
                    let sig = pos + i;
                    self.text.feed(&pending[fed..sig]);
                    fed = sig;
                    if !self.text.continues_with(SIGNATURE) {
                        break sig;
                    }
                    pos = sig + 1;
                }
            }
        };
        let at = self.window.consume(stop);
        self.handed_on = true;
        Step::Chatter { at, len: stop }
    }

    fn record_damage(&mut self, reason: Invalid) {
        let offset = self.offset();
        match &mut self.damage {
            Some(d) => d.count += 1,
            None => {
                self.damage = Some(Damage {
                    count: 1,
                    first_offset: offset,
                    first_reason: reason,
                })
            }
        }
    }

    fn would_block(&self) -> bool {
        let Some(fd) = self.poll_fd else {
            return false;
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd and the count says one.
        let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
        ready == 0
    }
}

impl<R: Read + AsFd> StreamReader<R> {
    /// A reader that reports [`Item::Idle`] before a read that would block,
    /// so the caller can flush: for stdin, pipes, FIFOs and sockets. On a
    /// regular file (or a block device) it behaves as [`StreamReader::new`].
    pub fn live(source: R) -> StreamReader<R> {
        let fd = source.as_fd();
        let poll_fd = (!crate::os::is_recorded(fd)).then(|| fd.as_raw_fd());
        StreamReader {
            poll_fd,
            ..StreamReader::new(source)
        }
    }
}

/// A position-only description of the next item.
enum Step {
    Packet {
        at: usize,
        layout: Layout,
        len: usize,
    },
    Chatter {
        at: usize,
        len: usize,
    },
    Idle,
    End,
}

/// Tracks whether the chatter since the last sync point (stream start,
/// packet end, newline) is valid UTF-8, and which bytes of a multi-byte
/// character are pending: a signature byte that continues such a character
/// is text, not a candidate (SPEC 2.1).
#[derive(Clone, Copy, Debug, Default)]
struct Utf8Tracker {
    pending: [u8; 4],
    len: u8,
    invalid: bool,
}

impl Utf8Tracker {
    /// Whether `byte` would continue the pending character validly.
    fn continues_with(&self, byte: u8) -> bool {
        if self.invalid || self.len == 0 {
            return false;
        }
        let n = usize::from(self.len);
        let mut bytes = self.pending;
        bytes[n] = byte;
        match std::str::from_utf8(&bytes[..=n]) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
    }

    /// Takes in chatter bytes.
    fn feed(&mut self, bytes: &[u8]) {
        let mut rest = match memchr::memrchr(b'\n', bytes) {
            Some(newline) => {
                *self = Utf8Tracker::default();
                &bytes[newline + 1..]
            }
            None => bytes,
        };
        if self.invalid {
            return;
        }
        while self.len > 0 {
            let Some((&byte, tail)) = rest.split_first() else {
                return;
            };
            if !self.continues_with(byte) {
                self.invalid = true;
                return;
            }
            self.pending[usize::from(self.len)] = byte;
            self.len += 1;
            rest = tail;
            if std::str::from_utf8(&self.pending[..usize::from(self.len)]).is_ok() {
                self.len = 0;
            }
        }
        if let Err(e) = std::str::from_utf8(rest) {
            if e.error_len().is_some() {
                self.invalid = true;
            } else {
                let tail = &rest[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len() as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::MAX_PACKET_LEN;
    use crate::{Event, Status, encode};

    /// An endless-looking source made of one chunk repeated, so a long
    /// stream needs no memory in the test either.
    struct Repeat<'a> {
        chunk: &'a [u8],
        at: usize,
        left: usize,
    }

    impl Read for Repeat<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut n = 0;
            while n < buf.len() && self.left > 0 {
                let take = (self.chunk.len() - self.at)
                    .min(buf.len() - n)
                    .min(self.left);
                buf[n..n + take].copy_from_slice(&self.chunk[self.at..self.at + take]);
                n += take;
                self.left -= take;
                self.at = (self.at + take) % self.chunk.len();
            }
            Ok(n)
        }
    }

    fn read_through(chunk: &[u8], total: usize) -> (u64, u64, usize) {
        let (packets, chatter, reader) = read_all(chunk, total);
        (packets, chatter, reader.window.capacity())
    }

    fn read_all(chunk: &[u8], total: usize) -> (u64, u64, StreamReader<Repeat<'_>>) {
        let mut reader = StreamReader::new(Repeat {
            chunk,
            at: 0,
            left: total,
        });
        let (mut packets, mut chatter) = (0, 0);
        while let Some(item) = reader.next().unwrap() {
            match item {
                Item::Packet(_) => packets += 1,
                Item::Chatter(c) => chatter += c.bytes.len() as u64,
                Item::Idle => unreachable!("not live"),
            }
        }
        assert_eq!(reader.offset(), total as u64);
        (packets, chatter, reader)
    }

    #[test]
    fn a_long_stream_of_small_packets_keeps_the_first_buffer() {
        let mut chunk = Vec::new();
        let event = Event {
            status: Status::Success,
            test_id: Some("a.test"),
            ..Event::default()
        };
        encode(&event, &mut chunk).unwrap();
        chunk.extend_from_slice(b"a line of chatter\n");
        let total = chunk.len() * 500_000; // about 20 MB, 80 times the buffer
        let (packets, chatter, buffer) = read_through(&chunk, total);
        assert_eq!(packets, 500_000);
        assert_eq!(chatter, 18 * 500_000);
        assert_eq!(buffer, INITIAL_BUFFER);
    }

    #[test]
    fn candidates_claiming_4_mib_grow_the_buffer_to_the_limit_only() {
        // A header claiming the largest length whose file content covers
        // the rest, then text: each such candidate can only fail at its CRC,
        // so the reader waits for all 4 MiB of it.
        let mut chunk = b"\xb3\x20\x40\xbf\xff\xff\x01x\xbf\xff\xf0".to_vec();
        chunk.extend_from_slice(&[b'x'; 100_000]);
        let (packets, chatter, buffer) = read_through(&chunk, chunk.len() * 60);
        assert_eq!(packets, 0);
        assert_eq!(chatter, chunk.len() as u64 * 60);
        assert!(
            buffer <= crate::stream::window::MAX_BUFFER && buffer > MAX_PACKET_LEN,
            "{buffer}"
        );
    }

    /// A header claiming `claim` bytes whose file content fills the claim,
    /// padded to 16 bytes: every 16 bytes a candidate that only its CRC
    /// rejects, covering the next `claim / 16` ones.
    fn file_claim(claim: usize) -> Vec<u8> {
        let mut chunk = vec![SIGNATURE, 0x20, 0x40];
        varint_3(claim, &mut chunk);
        chunk.extend_from_slice(b"\x01x");
        varint_3(claim - 8 - 3 - 4, &mut chunk);
        chunk.resize(16, b'x');
        chunk
    }

    fn varint_3(value: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&(value as u32 | 0x80_0000).to_be_bytes()[1..]);
    }

    #[test]
    fn overlapping_candidates_cost_work_linear_in_the_input() {
        // Hashed from scratch, each candidate would cost its claim: 64 KiB
        // for every 16 bytes of input, 4096 times the input. From
        // checkpoints: each byte once, and up to 126 bytes per candidate.
        let chunk = file_claim(64 * 1024);
        let total = 512 * 1024;
        let (packets, chatter, reader) = read_all(&chunk, total);
        assert_eq!((packets, chatter), (0, total as u64));
        let damage = reader.damage().unwrap();
        assert_eq!(
            damage.count,
            (total / 16) as u64,
            "every candidate is damaged"
        );
        let work = reader.window.work();
        assert!(work.hashed <= 10 * total as u64, "{work:?}");
        assert!(work.moved <= 2 * total as u64, "{work:?}");
    }

    #[test]
    fn candidates_of_the_largest_claim_move_each_byte_about_once() {
        // Each candidate waits for its 4 MiB; moving them to the buffer's
        // start for each new one would move 4 MiB per 16 bytes read.
        let chunk = file_claim(MAX_PACKET_LEN);
        let total = 6 * 1024 * 1024;
        let (_, chatter, reader) = read_all(&chunk, total);
        assert_eq!(chatter, total as u64);
        let work = reader.window.work();
        assert!(work.moved <= 2 * total as u64, "{work:?}");
        assert!(work.hashed <= 10 * total as u64, "{work:?}");
    }
}
