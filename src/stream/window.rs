//! The buffer in which a reader keeps the bytes it has read but not handed
//! on, and decodes packet candidates at its start.
//!
//! Its work is linear in the input whatever the input holds. Candidates
//! overlap (a failed one gives up only its signature byte, SPEC 2.3), so
//! three costs are kept from growing with a candidate's claimed length:
//! the decoder looks at a bounded part of a candidate before its CRC
//! ([`decode_with`]); the CRC of a candidate that overlaps one that already
//! failed comes from checkpoints ([`CrcCheckpoints`]) instead of hashing up
//! to 4 MiB again; and the pending bytes are moved to the buffer's start
//! only when that frees at least as many bytes as it moves (or the buffer
//! cannot grow), so no byte is moved more than about once.

use std::io::{self, Read};

use crate::codec::crc::{CrcCheckpoints, crc32};
use crate::codec::decode::{Invalid, decode_with};
use crate::codec::packet::{MAX_PACKET_LEN, Packet};

/// Twice the largest packet: a pending candidate (at most one packet) and
/// as many bytes again to read into, so that moving the pending bytes to
/// the start always frees about as many as it moves.
pub const MAX_BUFFER: usize = 2 * (MAX_PACKET_LEN + 1);

/// The least room worth reading into: with less, the buffer is compacted
/// or grown first.
const MIN_READ: usize = 64 * 1024;

/// Bodies at least this long that overlap a failed candidate are hashed
/// from checkpoints; shorter ones directly (it is as fast).
const LONG_BODY: usize = 256;

/// Unread bytes of one input; see the module documentation.
#[derive(Debug)]
pub struct Window {
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes not yet handed on.
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// The input has ended.
    eof: bool,
    /// The size of the first allocation.
    initial: usize,
    checkpoints: CrcCheckpoints,
    /// Stream offset up to which a candidate that failed reached, after
    /// its bytes were hashed: candidates starting before it use the
    /// checkpoints.
    hashed_until: u64,
    work: Work,
}

/// What a window has done so far, to show it stays linear in the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Bytes hashed for CRCs (directly or into checkpoints).
    pub hashed: u64,
    /// Bytes moved to the start of the buffer.
    pub moved: u64,
}

impl Window {
    /// An empty window that first allocates `initial` bytes.
    pub fn new(initial: usize) -> Window {
        Window {
            buf: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            eof: false,
            initial: initial.clamp(MIN_READ, MAX_BUFFER),
            checkpoints: CrcCheckpoints::new(),
            hashed_until: 0,
            work: Work::default(),
        }
    }

    /// The work done so far (checkpoints included).
    pub fn work(&self) -> Work {
        Work {
            hashed: self.work.hashed + self.checkpoints.bytes_hashed(),
            ..self.work
        }
    }

    /// Ready for another input, keeping the allocation.
    pub fn reset(&mut self) {
        (self.start, self.end, self.base, self.eof) = (0, 0, 0, false);
        self.work.hashed += self.checkpoints.bytes_hashed();
        self.checkpoints = CrcCheckpoints::new();
        self.hashed_until = 0;
    }

    /// The bytes not handed on yet.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Stream offset of the first pending byte.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Whether the input has ended (what is pending is all there is).
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// The size of the buffer.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Hands on the first `n` pending bytes: they are `self.pending()[..n]`
    /// as it was, returned as a position to borrow with [`Window::bytes`].
    pub fn consume(&mut self, n: usize) -> usize {
        debug_assert!(n <= self.end - self.start);
        let at = self.start;
        self.start += n;
        at
    }

    /// The bytes at a position [`Window::consume`] returned, until the next
    /// [`Window::fill`].
    pub fn bytes(&self, at: usize, len: usize) -> &[u8] {
        &self.buf[at..at + len]
    }

    /// Stream offset of a position [`Window::consume`] returned.
    pub fn offset_of(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    /// Decodes the candidate at the start of what is pending, which must
    /// start with the signature byte (see [`decode_with`]).
    pub fn decode(&mut self) -> Result<Option<Packet<'_>>, Invalid> {
        let Window {
            buf,
            start,
            end,
            base,
            checkpoints,
            hashed_until,
            work,
            ..
        } = self;
        let (start, end, base) = (*start, *end, *base);
        let at = base + start as u64;
        let mut long_body = None;
        let result = decode_with(&buf[start..end], |body| {
            if body.len() >= LONG_BODY {
                long_body = Some(body.len());
                if at < *hashed_until {
                    return checkpoints.crc(&buf[..end], base, start..start + body.len());
                }
            }
            work.hashed += body.len() as u64;
            crc32(body)
        });
        if let (Err(_), Some(len)) = (&result, long_body) {
            // Hashed and failed: the candidates inside it come next.
            *hashed_until = (*hashed_until).max(at + len as u64);
        }
        result
    }

    /// Reads more of `source` after what is pending, making room first;
    /// sets the end of input when the read gives nothing.
    pub fn fill(&mut self, source: &mut impl Read) -> io::Result<()> {
        let pending = self.end - self.start;
        let room = self.buf.len() - self.end;
        // Moves no more than it frees; or, when there is little room left
        // and the buffer cannot grow, frees about as much as it moves
        // (what is pending, at most a packet, is at most half of it).
        let full = room < MIN_READ && self.buf.len() == MAX_BUFFER;
        if self.start > 0 && (self.start >= pending || full) {
            self.buf.copy_within(self.start..self.end, 0);
            self.work.moved += pending as u64;
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < MIN_READ && self.buf.len() < MAX_BUFFER {
            let len = (self.buf.len() * 2).clamp(self.initial, MAX_BUFFER);
            self.buf.resize(len, 0);
        }
        debug_assert!(self.end < self.buf.len(), "a pending candidate always fits");
        loop {
            match source.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }
}
