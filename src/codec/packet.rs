//! The packet model: flags, status, timestamp and a decoded packet view.

use std::fmt;
use std::ops::{BitOr, BitOrAssign, Range};

use crate::codec::varint;

/// The first byte of every packet.
pub const SIGNATURE: u8 = 0xB3;

/// The largest packet the 3-byte length field can describe (4 MiB - 1),
/// counted from the signature through the CRC.
pub const MAX_PACKET_LEN: usize = 4_194_303;

/// The 16 flag bits of a packet: version, feature bits and status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u16);

impl Flags {
    /// The packet carries a test id.
    pub const TEST_ID: Flags = Flags(0x0800);
    /// The packet carries a route code.
    pub const ROUTE_CODE: Flags = Flags(0x0400);
    /// The packet carries a timestamp.
    pub const TIMESTAMP: Flags = Flags(0x0200);
    /// The test can be run (as opposed to a grouping or a fixture).
    pub const RUNNABLE: Flags = Flags(0x0100);
    /// The packet carries tags.
    pub const TAGS: Flags = Flags(0x0080);
    /// The packet carries a chunk of a file.
    pub const FILE_CONTENT: Flags = Flags(0x0040);
    /// The packet carries a MIME type.
    pub const MIME_TYPE: Flags = Flags(0x0020);
    /// The file chunk is the last one of its file.
    pub const EOF: Flags = Flags(0x0010);
    /// Reserved; a packet with this bit set is not valid.
    pub const RESERVED: Flags = Flags(0x0008);
    /// Version 2 in the top four bits.
    pub const VERSION_2: Flags = Flags(0x2000);

    const STATUS_MASK: u16 = 0x0007;
    const NAMED: [(Flags, &'static str); 9] = [
        (Flags::TEST_ID, "TEST_ID"),
        (Flags::ROUTE_CODE, "ROUTE_CODE"),
        (Flags::TIMESTAMP, "TIMESTAMP"),
        (Flags::RUNNABLE, "RUNNABLE"),
        (Flags::TAGS, "TAGS"),
        (Flags::FILE_CONTENT, "FILE_CONTENT"),
        (Flags::MIME_TYPE, "MIME_TYPE"),
        (Flags::EOF, "EOF"),
        (Flags::RESERVED, "RESERVED"),
    ];

    /// Flags from their wire value.
    pub const fn from_bits(bits: u16) -> Flags {
        Flags(bits)
    }

    /// The wire value.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The protocol version in the top four bits (2 for every valid packet).
    pub const fn version(self) -> u8 {
        (self.0 >> 12) as u8
    }

    /// The status in the low three bits.
    pub const fn status(self) -> Status {
        Status::from_bits((self.0 & Self::STATUS_MASK) as u8)
    }

    /// These flags with the status bits replaced by `status`.
    pub const fn with_status(self, status: Status) -> Flags {
        Flags((self.0 & !Self::STATUS_MASK) | status as u16)
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets or clears the bits of `other`.
    pub fn set(&mut self, other: Flags, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags(v{}", self.version())?;
        for (flag, name) in Self::NAMED {
            if self.contains(flag) {
                write!(f, " | {name}")?;
            }
        }
        write!(f, " | status={:?})", self.status())
    }
}

/// The status of a test, in the low three bits of the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Status {
    /// No status: the packet carries other information about the test.
    #[default]
    Unset = 0,
    /// The test exists (enumeration), it has not run.
    Exists = 1,
    /// The test is running.
    InProgress = 2,
    /// The test passed.
    Success = 3,
    /// The test passed but was expected to fail.
    UxSuccess = 4,
    /// The test was skipped.
    Skip = 5,
    /// The test failed.
    Fail = 6,
    /// The test failed as expected.
    XFail = 7,
}

impl Status {
    /// Every status, in wire order.
    pub const ALL: [Status; 8] = [
        Status::Unset,
        Status::Exists,
        Status::InProgress,
        Status::Success,
        Status::UxSuccess,
        Status::Skip,
        Status::Fail,
        Status::XFail,
    ];

    /// The status with wire value `bits & 7`.
    pub const fn from_bits(bits: u8) -> Status {
        Self::ALL[(bits & 7) as usize]
    }

    /// The name python-subunit and testtools use (`None` for [`Status::Unset`]).
    pub const fn name(self) -> Option<&'static str> {
        match self {
            Status::Unset => None,
            Status::Exists => Some("exists"),
            Status::InProgress => Some("inprogress"),
            Status::Success => Some("success"),
            Status::UxSuccess => Some("uxsuccess"),
            Status::Skip => Some("skip"),
            Status::Fail => Some("fail"),
            Status::XFail => Some("xfail"),
        }
    }

    /// The status called `name` by python-subunit, if any.
    pub fn from_name(name: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|s| s.name() == Some(name))
    }

    /// Whether this status ends a test: success, uxsuccess, skip, fail, xfail.
    pub const fn is_final(self) -> bool {
        (self as u8) >= Status::Success as u8
    }
}

/// A point in time: seconds since the Unix epoch (UTC) and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub seconds: u32,
    /// Nanoseconds within the second (the wire allows up to 2^30 - 1).
    pub nanos: u32,
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            seconds: u32::try_from(since.as_secs()).unwrap_or(u32::MAX),
            nanos: since.subsec_nanos(),
        }
    }

    /// Seconds since the epoch as a float, for durations.
    pub fn as_secs_f64(self) -> f64 {
        f64::from(self.seconds) + f64::from(self.nanos) / 1e9
    }
}

/// A chunk of a file carried by a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileChunk<'a> {
    /// The file's name, unique within its test and route code.
    pub name: &'a str,
    /// These bytes of the file.
    pub content: &'a [u8],
}

/// Where each field of a validated packet lies within its raw bytes.
///
/// Plain offsets rather than slices, so the stream reader can keep a layout
/// across buffer refills and hand out the borrowed view only at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) flags: Flags,
    pub(crate) timestamp: Timestamp,
    pub(crate) test_id: Span,
    pub(crate) tag_count: u32,
    pub(crate) tags: Span,
    pub(crate) mime: Span,
    pub(crate) file_name: Span,
    pub(crate) file_content: Span,
    pub(crate) route_code: Span,
    /// Where the route code field (its length varint) starts, or the CRC
    /// if there is none: the fields before it end here.
    pub(crate) route_field: u32,
}

/// A byte range within a packet (packets are below 4 MiB, so `u32` fits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn new(range: Range<usize>) -> Span {
        Span {
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A valid packet, borrowed from the buffer it was decoded from.
///
/// It keeps its raw bytes (signature through CRC) so a command can forward
/// it unchanged; the accessors read the fields in place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    raw: &'a [u8],
    layout: Layout,
}

impl<'a> Packet<'a> {
    /// Only the decoder builds packets, from bytes it has validated.
    pub(crate) fn from_parts(raw: &'a [u8], layout: Layout) -> Packet<'a> {
        Packet { raw, layout }
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    /// The packet's bytes on the wire, signature through CRC.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The packet's length in bytes.
    #[allow(clippy::len_without_is_empty)] // a packet is never empty
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// The flag bits.
    pub fn flags(&self) -> Flags {
        self.layout.flags
    }

    /// The test status.
    pub fn status(&self) -> Status {
        self.layout.flags.status()
    }

    /// Whether the runnable bit is set.
    pub fn runnable(&self) -> bool {
        self.layout.flags.contains(Flags::RUNNABLE)
    }

    /// Whether the EOF bit is set (last chunk of its file).
    pub fn eof(&self) -> bool {
        self.layout.flags.contains(Flags::EOF)
    }

    /// The timestamp, if present.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.has(Flags::TIMESTAMP).then_some(self.layout.timestamp)
    }

    /// The test id, if present.
    pub fn test_id(&self) -> Option<&'a str> {
        self.has(Flags::TEST_ID)
            .then(|| self.str_at(self.layout.test_id))
    }

    /// The tags, if present (in wire order; tags are a set).
    pub fn tags(&self) -> Option<Tags<'a>> {
        self.has(Flags::TAGS).then(|| Tags {
            remaining: self.layout.tag_count,
            bytes: &self.raw[self.layout.tags.range()],
        })
    }

    /// The MIME type, if present.
    pub fn mime(&self) -> Option<&'a str> {
        self.has(Flags::MIME_TYPE)
            .then(|| self.str_at(self.layout.mime))
    }

    /// The file chunk, if present.
    pub fn file(&self) -> Option<FileChunk<'a>> {
        self.has(Flags::FILE_CONTENT).then(|| FileChunk {
            name: self.str_at(self.layout.file_name),
            content: &self.raw[self.layout.file_content.range()],
        })
    }

    /// The bytes of the fields before the route code: timestamp, test id,
    /// tags, MIME type and file, exactly as on the wire.
    pub fn fields_before_route(&self) -> &'a [u8] {
        let header_len = 3 + varint::width(self.raw[3]);
        &self.raw[header_len..self.layout.route_field as usize]
    }

    /// The route code, if present.
    pub fn route_code(&self) -> Option<&'a str> {
        self.has(Flags::ROUTE_CODE)
            .then(|| self.str_at(self.layout.route_code))
    }

    fn has(&self, flag: Flags) -> bool {
        self.layout.flags.contains(flag)
    }

    fn str_at(&self, span: Span) -> &'a str {
        let bytes = &self.raw[span.range()];
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: `from_parts` is only called by the decoder with a layout
        // whose every string span it has checked to be UTF-8 in these very
        // bytes, and neither `raw` nor `layout` can change afterwards.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Packet");
        d.field("len", &self.len()).field("flags", &self.flags());
        if let Some(ts) = self.timestamp() {
            d.field("timestamp", &ts);
        }
        if let Some(id) = self.test_id() {
            d.field("test_id", &id);
        }
        if let Some(tags) = self.tags() {
            d.field("tags", &tags.collect::<Vec<_>>());
        }
        if let Some(mime) = self.mime() {
            d.field("mime", &mime);
        }
        if let Some(file) = self.file() {
            d.field("file_name", &file.name)
                .field("file_len", &file.content.len());
        }
        if let Some(route) = self.route_code() {
            d.field("route_code", &route);
        }
        d.finish()
    }
}

/// The tags of a packet, read in place.
#[derive(Clone, Debug)]
pub struct Tags<'a> {
    remaining: u32,
    bytes: &'a [u8],
}

impl<'a> Tags<'a> {
    /// The tags as on the wire (after the count): equal bytes, equal tags.
    pub(crate) fn wire_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (len, width) = varint::get(self.bytes)?;
        let (tag, rest) = self.bytes[width..].split_at(len as usize);
        self.bytes = rest;
        debug_assert!(std::str::from_utf8(tag).is_ok());
        // SAFETY: the decoder checked that the tag list holds `remaining`
        // UTF-8 strings in exactly these bytes (see `Packet::str_at`).
        Some(unsafe { std::str::from_utf8_unchecked(tag) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for Tags<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_debug_names_the_bits_and_status() {
        let flags = Flags::VERSION_2 | Flags::TEST_ID | Flags::RUNNABLE;
        assert_eq!(
            format!("{:?}", flags.with_status(Status::Success)),
            "Flags(v2 | TEST_ID | RUNNABLE | status=Success)"
        );
    }

    #[test]
    fn status_names_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::from_bits(status as u8), status);
            if let Some(name) = status.name() {
                assert_eq!(Status::from_name(name), Some(status));
            }
        }
        assert!(Status::Skip.is_final() && !Status::InProgress.is_final());
    }
}
