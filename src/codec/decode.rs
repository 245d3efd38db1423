//! The pure packet decoder: bytes in, a packet, "need more" or a reason out.
//!
//! No I/O here. [`decode`] looks at a buffer that starts with a signature byte
//! and answers `Ok(Some(packet))`, `Ok(None)` when more bytes are needed to
//! decide, or `Err(Invalid)` when the candidate is not a packet (SPEC 2.2).
//! It rejects a candidate as early as the bytes present allow, so a stray
//! signature in live output rarely makes the reader wait.
//!
//! Its work per call does not grow with what the candidate claims, only
//! with what a valid packet holds: the reader calls it again for each
//! candidate, and candidates overlap (a failed one gives up only its
//! signature byte, SPEC 2.3), so work that grew with the claimed length
//! would make reading quadratic. Before a candidate's bytes are all there,
//! only its first fields are looked at ([`CHEAP_TAGS`],
//! [`CHEAP_STRING_BYTES`]); once they are, its CRC is checked first, which
//! the caller can work out in time that does not grow with the length
//! ([`decode_with`]), and only a candidate whose CRC matches has all its
//! fields read. So a complete candidate that fails both is reported for its
//! CRC. (A candidate whose CRC matches but whose fields do not hold still
//! costs its walk through them: overlapping candidates could only each cost
//! that if each carried a CRC made to match, which no damage does.)

use std::fmt;

use crate::codec::crc::crc32;
use crate::codec::packet::{Flags, Layout, MAX_PACKET_LEN, Packet, SIGNATURE, Span, Timestamp};
use crate::codec::varint;

/// Why a packet candidate is not a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The version nibble is not 2.
    Version(u8),
    /// The reserved flag bit (0x0008) is set.
    ReservedBit,
    /// The length is a 4-byte varint; packets allow at most 3 bytes.
    LengthTooWide,
    /// The length is too small for the header and the CRC.
    LengthTooShort(u32),
    /// The input ended before all the claimed bytes arrived.
    Truncated {
        /// The length the packet claimed.
        claimed: u32,
    },
    /// The CRC does not match the bytes.
    Crc {
        /// The CRC stored in the packet.
        stored: u32,
        /// The CRC of the bytes before it.
        computed: u32,
    },
    /// A field runs past the end of the packet.
    Overrun(Field),
    /// A string is not UTF-8.
    NotUtf8(Field),
    /// A string contains a NUL byte.
    Nul(Field),
    /// The fields end this many bytes before the CRC.
    TrailingBytes(u32),
}

impl Invalid {
    /// Whether the header looked like a packet (version, reserved bit and
    /// length all plausible) before the candidate failed: a "damaged"
    /// packet in the sense of SPEC 2.5, counted and reported.
    pub fn is_damaged(&self) -> bool {
        !matches!(
            self,
            Invalid::Version(_)
                | Invalid::ReservedBit
                | Invalid::LengthTooWide
                | Invalid::LengthTooShort(_)
        )
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Version(v) => write!(f, "version {v}, not 2"),
            Invalid::ReservedBit => f.write_str("reserved flag bit set"),
            Invalid::LengthTooWide => f.write_str("length field wider than 3 bytes"),
            Invalid::LengthTooShort(n) => write!(f, "length {n} too short for a packet"),
            Invalid::Truncated { claimed } => {
                write!(f, "input ended inside a packet of {claimed} bytes")
            }
            Invalid::Crc { stored, computed } => {
                write!(f, "bad CRC: stored {stored:08x}, computed {computed:08x}")
            }
            Invalid::Overrun(field) => write!(f, "{field} runs past the end of the packet"),
            Invalid::NotUtf8(field) => write!(f, "{field} is not UTF-8"),
            Invalid::Nul(field) => write!(f, "{field} contains a NUL byte"),
            Invalid::TrailingBytes(n) => write!(f, "{n} unused bytes before the CRC"),
        }
    }
}

impl std::error::Error for Invalid {}

/// A field of a packet, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the names say it
pub enum Field {
    Timestamp,
    TestId,
    Tags,
    Mime,
    FileName,
    FileContent,
    RouteCode,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Timestamp => "timestamp",
            Field::TestId => "test id",
            Field::Tags => "tags",
            Field::Mime => "MIME type",
            Field::FileName => "file name",
            Field::FileContent => "file content",
            Field::RouteCode => "route code",
        })
    }
}

/// The plausible header of a candidate: its claimed length and where the
/// fields start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The flags.
    pub flags: Flags,
    /// The whole packet's claimed length.
    pub len: usize,
    /// Bytes taken by signature, flags and length.
    pub header_len: usize,
}

/// Checks the header of the candidate at the start of `buf` (which must
/// start with the signature): `Ok(None)` when it is not all there yet.
pub fn header(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    debug_assert_eq!(buf.first(), Some(&SIGNATURE));
    let Some(&flags_hi) = buf.get(1) else {
        return Ok(None);
    };
    if flags_hi >> 4 != 2 {
        return Err(Invalid::Version(flags_hi >> 4));
    }
    let Some(&flags_lo) = buf.get(2) else {
        return Ok(None);
    };
    let flags = Flags::from_bits(u16::from_be_bytes([flags_hi, flags_lo]));
    if flags.contains(Flags::RESERVED) {
        return Err(Invalid::ReservedBit);
    }
    let Some(&len_first) = buf.get(3) else {
        return Ok(None);
    };
    if varint::width(len_first) > 3 {
        return Err(Invalid::LengthTooWide);
    }
    let Some((len, width)) = varint::get(&buf[3..]) else {
        return Ok(None);
    };
    let header_len = 3 + width;
    if (len as usize) < header_len + 4 {
        return Err(Invalid::LengthTooShort(len));
    }
    debug_assert!(len as usize <= MAX_PACKET_LEN);
    Ok(Some(Header {
        flags,
        len: len as usize,
        header_len,
    }))
}

/// Decodes the candidate at the start of `buf`, which must start with the
/// signature byte.
///
/// `Ok(Some(packet))`: a valid packet of `packet.len()` bytes.
/// `Ok(None)`: the bytes so far are consistent with a packet; more are needed.
/// `Err(reason)`: not a packet, whatever bytes follow.
pub fn decode(buf: &[u8]) -> Result<Option<Packet<'_>>, Invalid> {
    decode_with(buf, crc32)
}

/// Decodes a packet already found valid (its CRC checked when it was
/// first decoded, and its bytes kept in memory since): its fields only,
/// without hashing it again. `None` if `buf` does not start with a whole
/// packet after all.
pub(crate) fn decode_known(buf: &[u8]) -> Option<Packet<'_>> {
    if buf.first() != Some(&SIGNATURE) {
        return None;
    }
    let head = header(buf).ok()??;
    let present = buf.get(..head.len)?;
    let layout = walk_complete(head, &present[..head.len - 4]).ok()?;
    Some(Packet::from_parts(present, layout))
}

/// Tags looked at before a candidate's bytes are all there: one with more
/// is not rejected before then for what follows.
pub const CHEAP_TAGS: u32 = 16;

/// String bytes checked before a candidate's bytes are all there: strings
/// beyond them wait.
pub const CHEAP_STRING_BYTES: usize = 256;

/// [`decode`], with `crc` giving the CRC-32 of the candidate's bytes before
/// its CRC field (`buf[..len - 4]`, passed to it). A reader that sees the
/// same bytes in many overlapping candidates passes one that does not hash
/// them again each time ([`crate::codec::crc::CrcCheckpoints`]).
pub fn decode_with<'a>(
    buf: &'a [u8],
    crc: impl FnOnce(&'a [u8]) -> u32,
) -> Result<Option<Packet<'a>>, Invalid> {
    let Some(head) = header(buf)? else {
        return Ok(None);
    };
    let present = &buf[..buf.len().min(head.len)];
    if present.len() < head.len {
        // Rejected early if the first fields tell; else wait for the rest.
        let cheap = Budget {
            tags: CHEAP_TAGS,
            string_bytes: CHEAP_STRING_BYTES,
        };
        walk_fields(head, present, cheap)?;
        return Ok(None);
    }
    // All there: the CRC first, then, only if it matches, every field,
    // however many.
    let (body, stored) = present.split_at(head.len - 4);
    let stored = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let computed = crc(body);
    if stored != computed {
        return Err(Invalid::Crc { stored, computed });
    }
    let layout = walk_complete(head, body)?;
    Ok(Some(Packet::from_parts(present, layout)))
}

/// The fields of a candidate whose bytes are all there and whose CRC
/// matched, `body` being its bytes before the CRC: the verdict of
/// [`walk_fields`] without a budget, in one bounds check per field, since
/// nothing can be missing (this is the walk every packet of a stream takes).
#[inline(always)]
fn walk_complete(head: Header, body: &[u8]) -> Result<Layout, Invalid> {
    let flags = head.flags;
    let mut at = Cursor {
        body,
        pos: head.header_len,
    };
    let mut layout = Layout {
        flags,
        ..Layout::default()
    };
    if flags.contains(Flags::TIMESTAMP) {
        let secs = at.take(4, Field::Timestamp)?;
        let seconds = u32::from_be_bytes([secs[0], secs[1], secs[2], secs[3]]);
        let nanos = at.varint(Field::Timestamp)?;
        layout.timestamp = Timestamp { seconds, nanos };
    }
    if flags.contains(Flags::TEST_ID) {
        layout.test_id = at.string(Field::TestId)?;
    }
    if flags.contains(Flags::TAGS) {
        let count = at.varint(Field::Tags)?;
        let start = at.pos;
        for _ in 0..count {
            at.string(Field::Tags)?;
        }
        layout.tag_count = count;
        layout.tags = Span::new(start..at.pos);
    }
    if flags.contains(Flags::MIME_TYPE) {
        layout.mime = at.string(Field::Mime)?;
    }
    if flags.contains(Flags::FILE_CONTENT) {
        layout.file_name = at.string(Field::FileName)?;
        let len = at.varint(Field::FileContent)? as usize;
        let start = at.pos;
        at.take(len, Field::FileContent)?;
        layout.file_content = Span::new(start..at.pos);
    }
    layout.route_field = at.pos as u32;
    if flags.contains(Flags::ROUTE_CODE) {
        layout.route_code = at.string(Field::RouteCode)?;
    }
    if at.pos != body.len() {
        return Err(Invalid::TrailingBytes((body.len() - at.pos) as u32));
    }
    Ok(layout)
}

/// A cursor over the fields of a complete candidate.
struct Cursor<'a> {
    /// The bytes before the CRC, all present.
    body: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], Invalid> {
        let rest = &self.body[self.pos..];
        if n > rest.len() {
            return Err(Invalid::Overrun(field));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    #[inline(always)]
    fn varint(&mut self, field: Field) -> Result<u32, Invalid> {
        let rest = &self.body[self.pos..];
        let Some(&first) = rest.first() else {
            return Err(Invalid::Overrun(field));
        };
        let width = varint::width(first);
        if width > rest.len() {
            return Err(Invalid::Overrun(field));
        }
        self.pos += width;
        let mut value = u32::from(first & 0x3F);
        for &b in &rest[1..width] {
            value = (value << 8) | u32::from(b);
        }
        Ok(value)
    }

    #[inline(always)]
    fn string(&mut self, field: Field) -> Result<Span, Invalid> {
        let len = self.varint(field)? as usize;
        let start = self.pos;
        check_string(self.take(len, field)?, field)?;
        Ok(Span::new(start..self.pos))
    }
}

/// How much of a candidate [`walk_fields`] looks at before it gives up
/// deciding.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Tags (the other fields are at most one each).
    tags: u32,
    /// Bytes of strings checked for UTF-8 and NUL.
    string_bytes: usize,
}

impl Budget {
    /// What [`walk_complete`] decides: checked against it in the tests.
    #[cfg(test)]
    const UNLIMITED: Budget = Budget {
        tags: u32::MAX,
        string_bytes: usize::MAX,
    };
}

/// Reads the fields of a candidate from the bytes `present` so far, checking
/// each against the claimed length, within `budget`. `Ok(None)`: ran out of
/// present bytes, or of budget, before a verdict.
#[inline(always)]
fn walk_fields(head: Header, present: &[u8], budget: Budget) -> Result<Option<Layout>, Invalid> {
    let flags = head.flags;
    let mut fields = Fields {
        buf: present,
        pos: head.header_len,
        end: head.len - 4,
        budget,
    };
    let mut layout = Layout {
        flags,
        ..Layout::default()
    };
    // `?` for a definite verdict, this macro for "need more bytes" or "out
    // of budget".
    macro_rules! ready {
        ($e:expr) => {
            match $e? {
                Some(v) => v,
                None => return Ok(None),
            }
        };
    }
    if flags.contains(Flags::TIMESTAMP) {
        let secs = ready!(fields.take(4, Field::Timestamp));
        let seconds = u32::from_be_bytes([secs[0], secs[1], secs[2], secs[3]]);
        let nanos = ready!(fields.varint(Field::Timestamp));
        layout.timestamp = Timestamp { seconds, nanos };
    }
    if flags.contains(Flags::TEST_ID) {
        layout.test_id = ready!(fields.string(Field::TestId));
    }
    if flags.contains(Flags::TAGS) {
        let count = ready!(fields.varint(Field::Tags));
        if count > budget.tags {
            return Ok(None);
        }
        let start = fields.pos;
        for _ in 0..count {
            ready!(fields.string(Field::Tags));
        }
        layout.tag_count = count;
        layout.tags = Span::new(start..fields.pos);
    }
    if flags.contains(Flags::MIME_TYPE) {
        layout.mime = ready!(fields.string(Field::Mime));
    }
    if flags.contains(Flags::FILE_CONTENT) {
        layout.file_name = ready!(fields.string(Field::FileName));
        let len = ready!(fields.varint(Field::FileContent));
        let start = fields.pos;
        // Content is not looked at: skipping it costs nothing.
        fields.skip(len as usize, Field::FileContent)?;
        layout.file_content = Span::new(start..fields.pos);
    }
    layout.route_field = fields.pos as u32;
    if flags.contains(Flags::ROUTE_CODE) {
        layout.route_code = ready!(fields.string(Field::RouteCode));
    }
    if fields.pos != fields.end {
        return Err(Invalid::TrailingBytes((fields.end - fields.pos) as u32));
    }
    Ok(Some(layout))
}

/// A cursor over the fields: `end` is where the claimed length puts the CRC,
/// `buf` holds the bytes present so far (possibly fewer).
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    budget: Budget,
}

impl<'a> Fields<'a> {
    /// Moves past `n` bytes without reading them (file content).
    #[inline(always)]
    fn skip(&mut self, n: usize, field: Field) -> Result<(), Invalid> {
        if n > self.end - self.pos {
            return Err(Invalid::Overrun(field));
        }
        self.pos += n;
        Ok(())
    }

    #[inline(always)]
    fn take(&mut self, n: usize, field: Field) -> Result<Option<&'a [u8]>, Invalid> {
        if n > self.end - self.pos {
            return Err(Invalid::Overrun(field));
        }
        let Some(bytes) = self.buf.get(self.pos..self.pos + n) else {
            return Ok(None);
        };
        self.pos += n;
        Ok(Some(bytes))
    }

    #[inline(always)]
    fn varint(&mut self, field: Field) -> Result<Option<u32>, Invalid> {
        if self.pos >= self.end {
            return Err(Invalid::Overrun(field));
        }
        let Some(&first) = self.buf.get(self.pos) else {
            return Ok(None);
        };
        let Some(bytes) = self.take(varint::width(first), field)? else {
            return Ok(None);
        };
        Ok(varint::get(bytes).map(|(value, _)| value))
    }

    /// A string; `Ok(None)` also when it is longer than what is left of
    /// the budget (it is checked only once the CRC matched, see the module
    /// documentation).
    #[inline(always)]
    fn string(&mut self, field: Field) -> Result<Option<Span>, Invalid> {
        let Some(len) = self.varint(field)? else {
            return Ok(None);
        };
        let len = len as usize;
        if len > self.end - self.pos {
            return Err(Invalid::Overrun(field));
        }
        if len > self.budget.string_bytes {
            return Ok(None);
        }
        self.budget.string_bytes -= len;
        let start = self.pos;
        let Some(bytes) = self.take(len, field)? else {
            return Ok(None);
        };
        check_string(bytes, field)?;
        Ok(Some(Span::new(start..self.pos)))
    }
}

/// Checks that a string field is UTF-8 without NUL. Most strings (test ids,
/// tags, MIME types) are short and ASCII: those are checked a word at a time
/// (the last word overlapping the one before, so no byte loop) before
/// falling back to the general checks.
#[inline(always)]
fn check_string(bytes: &[u8], field: Field) -> Result<(), Invalid> {
    if plain_ascii(bytes) {
        return Ok(());
    }
    if memchr::memchr(0, bytes).is_some() {
        return Err(Invalid::Nul(field));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(Invalid::NotUtf8(field));
    }
    Ok(())
}

/// Whether every byte is ASCII and none is NUL.
#[inline(always)]
fn plain_ascii(bytes: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte with its high bit set, or (the classic has-zero-byte test,
    // exact when no high bit is set) a NUL, leaves a high bit in `bad`.
    let bad = |w: u64| w | (w.wrapping_sub(LOW) & !w);
    let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let n = bytes.len();
    if n >= 8 {
        let mut acc = bad(word(n - 8));
        let mut i = 0;
        while i + 8 < n {
            acc |= bad(word(i));
            i += 8;
        }
        acc & HIGH == 0
    } else if n >= 4 {
        let half = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let w = u64::from(half(0)) << 32 | u64::from(half(n - 4));
        bad(w) & HIGH == 0
    } else {
        bytes.iter().all(|&b| b != 0 && b < 0x80)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::Status;

    const SPEC_EXAMPLE: [u8; 12] = [
        0xb3, 0x29, 0x01, 0x0c, 0x03, 0x66, 0x6f, 0x6f, 0x08, 0x55, 0x5f, 0x1b,
    ];

    #[test]
    fn decodes_the_spec_example() {
        let p = decode(&SPEC_EXAMPLE).unwrap().unwrap();
        assert_eq!(p.len(), 12);
        assert_eq!(p.test_id(), Some("foo"));
        assert_eq!(p.status(), Status::Exists);
        assert!(p.runnable());
        assert_eq!(p.raw(), &SPEC_EXAMPLE);
    }

    #[test]
    fn every_prefix_needs_more_and_extra_bytes_are_ignored() {
        for n in 1..SPEC_EXAMPLE.len() {
            assert_eq!(decode(&SPEC_EXAMPLE[..n]), Ok(None), "prefix of {n}");
        }
        let mut longer = SPEC_EXAMPLE.to_vec();
        longer.extend_from_slice(b"\xb3more");
        assert_eq!(decode(&longer).unwrap().unwrap().len(), 12);
    }

    #[test]
    fn implausible_headers_are_not_damaged() {
        for (bytes, reason) in [
            (&b"\xb3\x18\x00\x0b"[..], Invalid::Version(1)),
            (b"\xb3\x28\x08\x0a", Invalid::ReservedBit),
            (b"\xb3\x28\x00\xc0", Invalid::LengthTooWide),
            (b"\xb3\x28\x00\x07", Invalid::LengthTooShort(7)),
        ] {
            assert_eq!(decode(bytes), Err(reason));
            assert!(!reason.is_damaged());
        }
    }

    #[test]
    fn field_overrun_is_seen_before_the_packet_is_complete() {
        // Claims 60 bytes; the test id claims 62 of them.
        let reason = decode(b"\xb3\x28\x00\x3c\x3e\x61").unwrap_err();
        assert_eq!(reason, Invalid::Overrun(Field::TestId));
        assert!(reason.is_damaged());
    }

    #[test]
    fn string_checks_catch_nul_and_bad_utf8_anywhere() {
        for len in 0..20 {
            let ascii = vec![b'a'; len];
            assert_eq!(check_string(&ascii, Field::TestId), Ok(()));
            for at in 0..len {
                let mut s = ascii.clone();
                s[at] = 0;
                assert_eq!(
                    check_string(&s, Field::TestId),
                    Err(Invalid::Nul(Field::TestId))
                );
                s[at] = 0xff;
                assert_eq!(
                    check_string(&s, Field::TestId),
                    Err(Invalid::NotUtf8(Field::TestId))
                );
            }
        }
        assert_eq!(check_string("wörker-é日本".as_bytes(), Field::Tags), Ok(()));
    }

    #[test]
    fn budgets_put_off_only_what_they_must() {
        // More tags and string bytes than are looked at early: every prefix
        // waits, the whole packet decodes.
        let tags: Vec<String> = (0..3 * CHEAP_TAGS).map(|i| format!("tag-{i}")).collect();
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let id = "t".repeat(4 * CHEAP_STRING_BYTES);
        let mut bytes = Vec::new();
        let event = crate::Event {
            test_id: Some(&id),
            tags: Some(&tags),
            ..crate::Event::default()
        };
        crate::encode(&event, &mut bytes).unwrap();
        for n in 1..bytes.len() {
            assert_eq!(decode(&bytes[..n]), Ok(None), "prefix of {n}");
        }
        let packet = decode(&bytes).unwrap().unwrap();
        assert_eq!(packet.tags().unwrap().count(), tags.len());
        // A complete candidate failing both its CRC and a field: its CRC.
        let last_tag = bytes.len() - 4 - tags.last().unwrap().len();
        bytes[last_tag] = 0;
        assert!(matches!(decode(&bytes), Err(Invalid::Crc { .. })));
    }

    proptest::proptest! {
        /// The walk every complete packet takes decides as the budgeted
        /// walk does without a budget: same layout, same reason.
        #[test]
        fn the_complete_walk_is_the_unbudgeted_walk(
            fields in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            flags in 0u16..0x1000,
            at in 0usize..80,
            byte in proptest::num::u8::ANY,
        ) {
            // A real packet's fields, then damage to one byte, or random
            // bytes behind random flags.
            let mut bytes = Vec::new();
            let event = crate::Event {
                test_id: Some("tests.a.b"),
                tags: Some(&["worker-0", "é"]),
                file: Some(("stdout", &fields[..fields.len().min(20)])),
                mime: Some("text/plain"),
                route_code: Some("0/1"),
                ..crate::Event::default()
            };
            crate::encode(&event, &mut bytes).unwrap();
            let mut damaged = bytes.clone();
            let i = 4 + at % (damaged.len() - 8);
            damaged[i] = byte;
            let mut random = vec![SIGNATURE, 0x20 | (flags >> 8) as u8 & 0xf7, flags as u8];
            random.push((fields.len() + 8) as u8 & 0x3f);
            random.extend_from_slice(&fields);
            random.extend_from_slice(&[0; 4]);
            for candidate in [&bytes, &damaged, &random] {
                let Ok(Some(head)) = header(candidate) else { continue };
                if head.len > candidate.len() {
                    continue;
                }
                let present = &candidate[..head.len];
                let expected = walk_fields(head, present, Budget::UNLIMITED)
                    .map(|layout| layout.expect("all present, no budget"));
                proptest::prop_assert_eq!(walk_complete(head, &present[..head.len - 4]), expected);
            }
        }
    }

    #[test]
    fn bad_crc_is_damaged() {
        let mut bytes = SPEC_EXAMPLE;
        bytes[11] ^= 1;
        let reason = decode(&bytes).unwrap_err();
        assert!(matches!(reason, Invalid::Crc { .. }));
        assert!(reason.is_damaged());
    }
}
