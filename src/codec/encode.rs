//! The pure packet encoder: an [`Event`] in, wire bytes appended to a buffer.

use std::fmt;

use crate::codec::decode::Field;
use crate::codec::packet::{Flags, MAX_PACKET_LEN, Packet, SIGNATURE, Status, Timestamp};
use crate::codec::varint;

/// One event to encode: the arguments of testtools' `StreamResult.status()`.
///
/// It becomes one packet, or several when its file content does not fit in
/// one (see [`encode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// The test status.
    pub status: Status,
    /// The runnable bit.
    pub runnable: bool,
    /// The EOF bit: this is the last chunk of its file.
    pub eof: bool,
    /// When it happened.
    pub timestamp: Option<Timestamp>,
    /// The test it is about.
    pub test_id: Option<&'a str>,
    /// Tags, written in this order (`Some(&[])` writes an empty tag list).
    pub tags: Option<&'a [&'a str]>,
    /// The MIME type of the file.
    pub mime: Option<&'a str>,
    /// File name and content.
    pub file: Option<(&'a str, &'a [u8])>,
    /// The route code.
    pub route_code: Option<&'a str>,
}

/// Why an event cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A string contains a NUL byte, which the format forbids.
    Nul(Field),
    /// A string or the tag list is longer than a varint can describe.
    TooLong(Field),
    /// The fields other than file content do not fit in one packet.
    PacketTooLarge(usize),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Nul(field) => write!(f, "{field} contains a NUL byte"),
            EncodeError::TooLong(field) => write!(f, "{field} is too long to encode"),
            EncodeError::PacketTooLarge(n) => write!(
                f,
                "packet of {n} bytes without file content exceeds {MAX_PACKET_LEN}"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Appends the packet(s) for `event` to `out`.
///
/// Varints take their shortest form and the length counts itself. File
/// content that does not fit in one packet is split over several packets
/// that carry the test id, route code, MIME type, timestamp and file name;
/// only the last carries the status, tags and EOF bit, so readers see one
/// status and one file. On error nothing is appended.
pub fn encode(event: &Event<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if encode_status(event, out) {
        return Ok(());
    }
    let fixed = fixed_len(event)?;
    let content = event.file.map_or(&[][..], |(_, content)| content);
    // A packet this close to the limit has a 3-byte length field.
    if fixed + content.len() + 3 + 4 <= MAX_PACKET_LEN {
        write_fixed(event, fixed, out);
        return Ok(());
    }
    let Some((name, _)) = event.file else {
        return Err(EncodeError::PacketTooLarge(fixed));
    };
    let chunk_event = Event {
        status: Status::Unset,
        eof: false,
        tags: None,
        ..*event
    };
    // Room for content in a chunk: `fixed_len` counted a 1-byte content
    // length; allow for 3 bytes there, a 3-byte packet length and the CRC.
    let room = |e: &Event<'_>| -> Result<usize, EncodeError> {
        let overhead = fixed_len(&Event {
            file: Some((name, &[])),
            ..*e
        })? + 2
            + 3
            + 4;
        MAX_PACKET_LEN
            .checked_sub(overhead)
            .filter(|&room| room > 0)
            .ok_or(EncodeError::PacketTooLarge(overhead))
    };
    let chunk_room = room(&chunk_event)?;
    let last_room = room(event)?;
    let mut rest = content;
    while rest.len() > last_room {
        let (chunk, tail) = rest.split_at(chunk_room.min(rest.len()));
        write_packet(
            &Event {
                file: Some((name, chunk)),
                ..chunk_event
            },
            out,
        );
        rest = tail;
    }
    write_packet(
        &Event {
            file: Some((name, rest)),
            ..*event
        },
        out,
    );
    Ok(())
}

/// Appends `packet` with route code `route_code`: the bytes of its other
/// fields are copied as they are; only the flags, the length, the route
/// code and the CRC are written anew (what subunit-mux does to every
/// packet). A packet that would outgrow the limit is encoded anew from its
/// fields instead, its file content split as [`encode`] splits it.
pub fn reroute(
    packet: &Packet<'_>,
    route_code: &str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let route_field = fixed_len(&Event {
        route_code: Some(route_code),
        ..Event::default()
    })? - 3;
    let middle = packet.fields_before_route();
    let body = 3 + middle.len() + route_field + 4;
    let Some(len) = packet_len(body).filter(|&len| len <= MAX_PACKET_LEN) else {
        let tags: Option<Vec<&str>> = packet.tags().map(Iterator::collect);
        let event = Event {
            status: packet.status(),
            runnable: packet.runnable(),
            eof: packet.eof(),
            timestamp: packet.timestamp(),
            test_id: packet.test_id(),
            tags: tags.as_deref(),
            mime: packet.mime(),
            file: packet.file().map(|f| (f.name, f.content)),
            route_code: Some(route_code),
        };
        return encode(&event, out);
    };
    let start = out.len();
    out.reserve(len);
    out.push(SIGNATURE);
    out.extend_from_slice(&(packet.flags() | Flags::ROUTE_CODE).bits().to_be_bytes());
    varint::put(len as u32, out);
    out.extend_from_slice(middle);
    varint::put(route_code.len() as u32, out);
    out.extend_from_slice(route_code.as_bytes());
    let crc = crate::codec::crc::crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    debug_assert_eq!(out.len() - start, len);
    Ok(())
}

/// The whole length of a packet of `body` bytes besides its length field:
/// the length counts its own bytes, so take the shortest width that fits.
fn packet_len(body: usize) -> Option<usize> {
    // Width w fits when body + w is below the largest value of w bytes.
    [(1, 0x3F), (2, 0x3FFF), (3, 0x3F_FFFF)]
        .into_iter()
        .map(|(width, most)| (body + width, most))
        .find(|&(len, most)| len <= most)
        .map(|(len, _)| len)
}

/// The packet length without CRC, length field and file content, after
/// checking every string.
fn fixed_len(event: &Event<'_>) -> Result<usize, EncodeError> {
    let mut len = 3; // signature and flags
    let string = |s: &str, field| -> Result<usize, EncodeError> {
        if has_nul(s.as_bytes()) {
            return Err(EncodeError::Nul(field));
        }
        let n = u32::try_from(s.len())
            .ok()
            .filter(|&n| n <= varint::MAX)
            .ok_or(EncodeError::TooLong(field))?;
        Ok(varint::encoded_len(n) + s.len())
    };
    if let Some(ts) = event.timestamp {
        if ts.nanos > varint::MAX {
            return Err(EncodeError::TooLong(Field::Timestamp));
        }
        len += 4 + varint::encoded_len(ts.nanos);
    }
    if let Some(id) = event.test_id {
        len += string(id, Field::TestId)?;
    }
    if let Some(tags) = event.tags {
        let count = u32::try_from(tags.len())
            .ok()
            .filter(|&n| n <= varint::MAX)
            .ok_or(EncodeError::TooLong(Field::Tags))?;
        len += varint::encoded_len(count);
        for tag in tags {
            len += string(tag, Field::Tags)?;
        }
    }
    if let Some(mime) = event.mime {
        len += string(mime, Field::Mime)?;
    }
    if let Some((name, content)) = event.file {
        len += string(name, Field::FileName)?;
        let n = u32::try_from(content.len())
            .unwrap_or(u32::MAX)
            .min(varint::MAX);
        len += varint::encoded_len(n);
    }
    if let Some(route) = event.route_code {
        len += string(route, Field::RouteCode)?;
    }
    Ok(len)
}

/// Whether `bytes` holds a NUL byte. Most strings of a packet are short (a
/// test id, a file name), for which a word at a time beats the setup of a
/// vector search.
fn has_nul(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    if bytes.len() >= 64 {
        return memchr::memchr(0, bytes).is_some();
    }
    let mut words = bytes.chunks_exact(8);
    // A zero byte is the only one whose high bit the subtraction sets
    // without it being set before (the borrow runs only past a zero).
    let zero_in = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    if words
        .by_ref()
        .any(|w| zero_in(u64::from_ne_bytes(w.try_into().expect("8 bytes"))))
    {
        return true;
    }
    words.remainder().contains(&0)
}

/// The flags of `event`'s packet.
fn flags_of(event: &Event<'_>) -> Flags {
    let mut flags = Flags::VERSION_2.with_status(event.status);
    flags.set(Flags::TIMESTAMP, event.timestamp.is_some());
    flags.set(Flags::TEST_ID, event.test_id.is_some());
    flags.set(Flags::TAGS, event.tags.is_some());
    flags.set(Flags::MIME_TYPE, event.mime.is_some());
    flags.set(Flags::FILE_CONTENT, event.file.is_some());
    flags.set(Flags::ROUTE_CODE, event.route_code.is_some());
    flags.set(Flags::RUNNABLE, event.runnable);
    flags.set(Flags::EOF, event.eof);
    flags
}

/// Strings of a status packet shorter than this cannot make it too large
/// (or their lengths too long for a varint of 3 bytes).
const SHORT: usize = 1 << 16;

/// The packet of a plain status (no tags, MIME type or file: what most
/// packets of subunit-wrap and subunit-1to2 are), byte for byte as
/// [`write_fixed`] writes it, in fewer steps: its fixed-size start is put
/// together on the stack. Returns false, having written nothing, for any
/// other event and for one that may not be valid (a NUL byte, a long
/// string), which [`encode`] then handles in full.
fn encode_status(event: &Event<'_>, out: &mut Vec<u8>) -> bool {
    if event.tags.is_some() || event.mime.is_some() || event.file.is_some() {
        return false;
    }
    let id = event.test_id.unwrap_or_default();
    let route = event.route_code.unwrap_or_default();
    if id.len() >= SHORT
        || route.len() >= SHORT
        || has_nul(id.as_bytes())
        || has_nul(route.as_bytes())
    {
        return false;
    }
    let field = |s: Option<&str>| s.map_or(0, |s| varint::encoded_len(s.len() as u32) + s.len());
    let mut body = 3 + field(event.test_id) + field(event.route_code) + 4;
    if let Some(ts) = event.timestamp {
        if ts.nanos > varint::MAX {
            return false;
        }
        body += 4 + varint::encoded_len(ts.nanos);
    }
    let len = packet_len(body).expect("short strings fit");
    // Signature, flags, length (3 bytes at most), timestamp (8), the test
    // id's length (3): room for them, written in place (a copy from the
    // stack would wait on the stores just made there), then cut back.
    const HEAD: usize = 1 + 2 + 3 + 8 + 3;
    let start = out.len();
    out.reserve(len);
    out.extend_from_slice(&[0; HEAD]);
    let head: &mut [u8; HEAD] = (&mut out[start..]).try_into().expect("room for the head");
    head[0] = SIGNATURE;
    head[1..3].copy_from_slice(&flags_of(event).bits().to_be_bytes());
    let mut at = varint_at(head, 3, len as u32);
    if let Some(ts) = event.timestamp {
        head[at..at + 4].copy_from_slice(&ts.seconds.to_be_bytes());
        at = varint_at(head, at + 4, ts.nanos);
    }
    if event.test_id.is_some() {
        at = varint_at(head, at, id.len() as u32);
    }
    out.truncate(start + at);
    out.extend_from_slice(id.as_bytes());
    if event.route_code.is_some() {
        varint::put(route.len() as u32, out);
        out.extend_from_slice(route.as_bytes());
    }
    let crc = crate::codec::crc::crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    debug_assert_eq!(out.len() - start, len);
    true
}

/// Writes the shortest encoding of `value` (as [`varint::put`] appends it)
/// into `buf` at `at`; returns where it ends.
fn varint_at<const N: usize>(buf: &mut [u8; N], at: usize, value: u32) -> usize {
    match varint::encoded_len(value) {
        1 => {
            buf[at] = value as u8;
            at + 1
        }
        2 => {
            buf[at..at + 2].copy_from_slice(&(value as u16 | 0x4000).to_be_bytes());
            at + 2
        }
        3 => {
            buf[at..at + 3].copy_from_slice(&(value | 0x80_0000).to_be_bytes()[1..]);
            at + 3
        }
        _ => {
            buf[at..at + 4].copy_from_slice(&(value | 0xC000_0000).to_be_bytes());
            at + 4
        }
    }
}

/// Writes one packet; the caller has checked that it fits.
fn write_packet(event: &Event<'_>, out: &mut Vec<u8>) {
    write_fixed(event, fixed_len(event).expect("checked by encode"), out);
}

/// Writes one packet whose [`fixed_len`] is `fixed`; the caller has checked
/// that it fits.
fn write_fixed(event: &Event<'_>, fixed: usize, out: &mut Vec<u8>) {
    let flags = flags_of(event);

    let content_len = event.file.map_or(0, |(_, c)| c.len());
    let body = fixed + content_len + 4;
    let len = packet_len(body).expect("checked by encode");

    let start = out.len();
    out.reserve(len);
    out.push(SIGNATURE);
    out.extend_from_slice(&flags.bits().to_be_bytes());
    varint::put(len as u32, out);
    let put_str = |s: &str, out: &mut Vec<u8>| {
        varint::put(s.len() as u32, out);
        out.extend_from_slice(s.as_bytes());
    };
    if let Some(ts) = event.timestamp {
        out.extend_from_slice(&ts.seconds.to_be_bytes());
        varint::put(ts.nanos, out);
    }
    if let Some(id) = event.test_id {
        put_str(id, out);
    }
    if let Some(tags) = event.tags {
        varint::put(tags.len() as u32, out);
        for tag in tags {
            put_str(tag, out);
        }
    }
    if let Some(mime) = event.mime {
        put_str(mime, out);
    }
    if let Some((name, content)) = event.file {
        put_str(name, out);
        varint::put(content.len() as u32, out);
        out.extend_from_slice(content);
    }
    if let Some(route) = event.route_code {
        put_str(route, out);
    }
    let crc = crate::codec::crc::crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    debug_assert_eq!(out.len() - start, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode::decode;

    #[test]
    fn encodes_the_spec_example() {
        let mut out = Vec::new();
        let event = Event {
            status: Status::Exists,
            runnable: true,
            test_id: Some("foo"),
            ..Event::default()
        };
        encode(&event, &mut out).unwrap();
        assert_eq!(out, b"\xb3\x29\x01\x0c\x03foo\x08\x55\x5f\x1b");
    }

    #[test]
    fn length_field_widens_exactly_at_the_boundaries() {
        // 63 bytes fit a 1-byte length; one more byte of content needs a 2-byte
        // length (65 in all); likewise at 16383.
        for (content, total) in [(52, 63), (53, 65), (16370, 16383), (16371, 16385)] {
            let data = vec![b'x'; content];
            let mut out = Vec::new();
            let event = Event {
                file: Some(("f", &data)),
                ..Event::default()
            };
            encode(&event, &mut out).unwrap();
            assert_eq!(out.len(), total, "content {content}");
            assert_eq!(decode(&out).unwrap().unwrap().len(), total);
        }
    }

    #[test]
    fn content_just_below_the_limit_fills_one_packet_or_splits() {
        for len in 4_194_280..=4_194_300 {
            let data = vec![b'x'; len];
            let mut out = Vec::new();
            let event = Event {
                file: Some(("f", &data)),
                ..Event::default()
            };
            encode(&event, &mut out).unwrap();
            let first = decode(&out).unwrap().unwrap();
            assert!(first.len() <= MAX_PACKET_LEN, "content {len}");
            let whole = first.len() == out.len();
            // 1+2+3 header, 2 name, 3 content length, 4 CRC.
            assert_eq!(whole, len + 15 <= MAX_PACKET_LEN, "content {len}");
        }
    }

    #[test]
    fn reroute_changes_only_the_route_code() {
        let content = vec![7u8; 20_000];
        for route in [None, Some("old")] {
            let mut original = Vec::new();
            let event = Event {
                status: Status::Fail,
                runnable: true,
                timestamp: Some(Timestamp {
                    seconds: 5,
                    nanos: 6,
                }),
                test_id: Some("t"),
                tags: Some(&["a", "b"]),
                mime: Some("text/plain"),
                file: Some(("log", &content)),
                route_code: route,
                ..Event::default()
            };
            encode(&event, &mut original).unwrap();
            let packet = decode(&original).unwrap().unwrap();
            let mut out = Vec::new();
            reroute(&packet, "0/old", &mut out).unwrap();
            let moved = decode(&out).unwrap().unwrap();
            assert_eq!(moved.len(), out.len());
            let mut expected = Vec::new();
            encode(
                &Event {
                    route_code: Some("0/old"),
                    ..event
                },
                &mut expected,
            )
            .unwrap();
            assert_eq!(out, expected, "same bytes as encoding with the new route");
        }
    }

    #[test]
    fn reroute_splits_a_packet_that_outgrows_the_limit() {
        let content = vec![1u8; MAX_PACKET_LEN - 20];
        let mut original = Vec::new();
        let event = Event {
            status: Status::Success,
            eof: true,
            test_id: Some("t"),
            file: Some(("f", &content)),
            ..Event::default()
        };
        encode(&event, &mut original).unwrap();
        let packet = decode(&original).unwrap().unwrap();
        assert_eq!(packet.len(), original.len(), "one packet to start with");
        let mut out = Vec::new();
        reroute(&packet, "a-long-route-code/0/1/2", &mut out).unwrap();
        let first = decode(&out).unwrap().unwrap();
        let second = decode(&out[first.len()..]).unwrap().unwrap();
        assert_eq!(first.len() + second.len(), out.len());
        assert_eq!((first.status(), first.eof()), (Status::Unset, false));
        assert_eq!((second.status(), second.eof()), (Status::Success, true));
        assert_eq!(second.route_code(), Some("a-long-route-code/0/1/2"));
    }

    #[test]
    fn packet_lengths_count_their_own_width() {
        let old = |body: usize| {
            (1..=3).map(|width| body + width).find(|&len| {
                len <= varint::MAX as usize && varint::encoded_len(len as u32) <= len - body
            })
        };
        for body in (0..70).chain(16_370..16_390).chain(4_194_290..4_194_310) {
            assert_eq!(packet_len(body), old(body), "{body}");
        }
    }

    #[test]
    fn varints_are_written_as_put_appends_them() {
        for value in [
            0,
            1,
            0x3F,
            0x40,
            0x3FFF,
            0x4000,
            0x3F_FFFF,
            0x40_0000,
            varint::MAX,
        ] {
            let mut put = Vec::new();
            varint::put(value, &mut put);
            let mut buf = [0xAA; 6];
            let end = varint_at(&mut buf, 1, value);
            assert_eq!(&buf[1..end], &put[..], "{value:#x}");
            assert_eq!(buf[end], 0xAA, "{value:#x}");
        }
    }

    /// Every shape of status packet, both ways: the short one and the
    /// general one write the same bytes.
    #[test]
    fn status_packets_are_written_as_the_general_path_writes_them() {
        let long = "i".repeat(20_000);
        let ids = [
            None,
            Some(""),
            Some("t"),
            Some(&long[..50]),
            Some(&long[..]),
            Some("a\0b"),
        ];
        let routes = [None, Some(""), Some("0/1"), Some(&long[..70])];
        let times = [
            None,
            Some(Timestamp::default()),
            Some(Timestamp {
                seconds: u32::MAX,
                nanos: 999_999_999,
            }),
            Some(Timestamp {
                seconds: 1,
                nanos: 0x40,
            }),
        ];
        for (status, runnable) in [(Status::Success, true), (Status::InProgress, false)] {
            for test_id in ids {
                for route_code in routes {
                    for timestamp in times {
                        let event = Event {
                            status,
                            runnable,
                            eof: !runnable,
                            timestamp,
                            test_id,
                            route_code,
                            ..Event::default()
                        };
                        let mut short = vec![9];
                        let written = encode_status(&event, &mut short);
                        let mut general = vec![9];
                        let result =
                            fixed_len(&event).map(|fixed| write_fixed(&event, fixed, &mut general));
                        if written {
                            assert_eq!(short, general, "{event:?}");
                        } else {
                            assert_eq!(short, [9], "nothing written: {event:?}");
                        }
                        let mut encoded = vec![9];
                        assert_eq!(encode(&event, &mut encoded), result, "{event:?}");
                        assert_eq!(encoded, general);
                    }
                }
            }
        }
    }

    #[test]
    fn nul_is_found_anywhere_in_strings_of_any_length() {
        for len in 0..80 {
            let clean = vec![0xffu8; len];
            assert!(!has_nul(&clean), "{len}");
            for at in 0..len {
                let mut bytes = clean.clone();
                bytes[at] = 0;
                assert!(has_nul(&bytes), "{len} {at}");
                // Bytes around a NUL that a careless word test confuses.
                bytes[at] = 1;
                assert!(!has_nul(&bytes), "{len} {at}");
                bytes[at] = 0x80;
                assert!(!has_nul(&bytes), "{len} {at}");
            }
        }
    }

    #[test]
    fn rejects_nul_and_leaves_the_buffer_alone() {
        let mut out = vec![1, 2];
        let event = Event {
            test_id: Some("a\0b"),
            ..Event::default()
        };
        assert_eq!(
            encode(&event, &mut out),
            Err(EncodeError::Nul(Field::TestId))
        );
        assert_eq!(out, [1, 2]);
    }

    #[test]
    fn large_content_is_split_with_status_and_eof_on_the_last_chunk() {
        let data: Vec<u8> = (0..9_000_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        let event = Event {
            status: Status::Fail,
            eof: true,
            test_id: Some("t"),
            tags: Some(&["a"]),
            file: Some(("log", &data)),
            ..Event::default()
        };
        encode(&event, &mut out).unwrap();
        let mut rest = &out[..];
        let mut joined = Vec::new();
        let mut packets = Vec::new();
        while !rest.is_empty() {
            let p = decode(rest).unwrap().unwrap();
            assert!(p.len() <= MAX_PACKET_LEN);
            joined.extend_from_slice(p.file().unwrap().content);
            packets.push((p.status(), p.eof(), p.tags().is_some(), p.test_id()));
            rest = &rest[p.len()..];
        }
        assert_eq!(joined, data);
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[0], (Status::Unset, false, false, Some("t")));
        assert_eq!(packets[2], (Status::Fail, true, true, Some("t")));
    }
}
