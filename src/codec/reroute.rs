//! A route code put into a packet's raw bytes, what subunit-mux does to
//! every packet it forwards: in front of the packet's own route code
//! (`PREFIX/OLD`), or added as `PREFIX`. The bytes of the other fields are
//! copied as they are; only the flags, the length, the route code and the
//! CRC are new: the same bytes as [`encode::reroute`] writes, without
//! looking at the fields again.
//!
//! The new CRC is derived from the packet's own, against which its bytes
//! were checked when it was decoded, so that they are not hashed a second
//! time. The CRC is affine: with `crc(A‖B) = carry(crc(A), |B|) ^ crc(B)`,
//! a packet `H‖M‖R` (header, the fields copied, route code field) becomes
//! `H'‖M‖R'` by taking `R` off the end of its CRC, swapping the header's
//! part, `crc(H'‖M) = crc(H‖M) ^ carry(crc(H) ^ crc(H'), |M|)`, and hashing
//! `R'` on. For a packet that had no route code and keeps the width of its
//! length field, the header swap depends on the packet's length only (the
//! flags gain the same bit whatever they are), so it is kept per length:
//! then the new CRC costs a table lookup and the few bytes of `R'`.

use crate::codec::crc::{carry, crc32, crc32_continue};
use crate::codec::encode::{self, EncodeError};
use crate::codec::packet::{Flags, MAX_PACKET_LEN, Packet, SIGNATURE};
use crate::codec::varint;

/// Packet lengths below this have their header swap kept once worked out
/// (4 bytes each, 16 KiB per input): the lengths of test events and small
/// attachments, each seen many times in a stream.
const KEPT_SWAPS: usize = 4096;

/// A swap not yet worked out. A swap that is this value is worked out
/// every time, which gives the same CRC.
const UNKNOWN: u32 = u32::MAX;

/// Fields between the header and the route code from which the CRC of a
/// packet with a route code (or whose length field widens) is derived
/// rather than hashed: below it hashing costs fewer instructions than the
/// derivation's multiplication and its hashing of both headers.
const DERIVE_FROM: usize = 1024;

/// The size of route code fields copied whole, then cut to their length.
const PADDED: usize = 16;

/// Puts one input's route code into the packets it forwards; made once per
/// input, it keeps the route code field of packets without one ready, the
/// header swaps it has worked out, and one scratch buffer.
#[derive(Clone, Debug)]
pub struct Rerouter {
    /// The route code put in front.
    prefix: String,
    /// Whether the prefix can be encoded at all (no NUL, not too long):
    /// when not, every packet goes through [`encode::reroute`], which
    /// says why it cannot be rerouted.
    usable: bool,
    /// The route code field of a packet that had none: length and prefix.
    plain: Vec<u8>,
    /// The same, padded to a fixed size when it fits, so that it is
    /// copied without a call: `plain.len()` of its bytes count.
    plain_padded: Option<[u8; PADDED]>,
    /// `swaps[len]`: `carry(crc(H) ^ crc(H'), |M|)` for a packet of `len`
    /// bytes without a route code whose length field is as short as can
    /// be and keeps its width, or [`UNKNOWN`]. Empty until first used.
    swaps: Vec<u32>,
    /// The route code field of a packet that had one, made anew for each.
    field: Vec<u8>,
}

impl Rerouter {
    /// Reroutes under `prefix`.
    pub fn new(prefix: &str) -> Rerouter {
        let usable =
            memchr::memchr(0, prefix.as_bytes()).is_none() && prefix.len() <= varint::MAX as usize;
        let mut plain = Vec::new();
        if usable {
            varint::put(prefix.len() as u32, &mut plain);
            plain.extend_from_slice(prefix.as_bytes());
        }
        let plain_padded = (plain.len() <= PADDED).then(|| {
            let mut padded = [0; PADDED];
            padded[..plain.len()].copy_from_slice(&plain);
            padded
        });
        Rerouter {
            prefix: prefix.to_owned(),
            usable,
            plain,
            plain_padded,
            swaps: Vec::new(),
            field: Vec::new(),
        }
    }

    /// Appends `packet` with route code `PREFIX/OLD` when it had route code
    /// `OLD`, else `PREFIX`: the same bytes and the same errors as
    /// [`encode::reroute`] with that route code (a packet that would
    /// outgrow the limit is split by it; on error nothing is appended).
    pub fn reroute(&mut self, packet: &Packet<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let raw = packet.raw();
        let old_width = varint::width(raw[3]);
        let header_len = 3 + old_width;
        let middle = packet.fields_before_route();
        let old_route = packet.route_code();
        let field: &[u8] = match old_route {
            None => &self.plain,
            Some(old) => {
                let len = self.prefix.len() + 1 + old.len();
                if len > varint::MAX as usize {
                    return self.slow(packet, out);
                }
                self.field.clear();
                varint::put(len as u32, &mut self.field);
                self.field.extend_from_slice(self.prefix.as_bytes());
                self.field.push(b'/');
                self.field.extend_from_slice(old.as_bytes());
                &self.field
            }
        };
        let body = 3 + middle.len() + field.len() + 4;
        let len = match packet_len(body) {
            Some(len) if self.usable && len <= MAX_PACKET_LEN => len,
            _ => return self.slow(packet, out),
        };
        // Signature, flags and length in one word, the length's varint
        // (1 to 3 bytes) right after the flags; written whole, then cut to
        // its length, so that no byte count varies in the copy.
        let width = varint::encoded_len(len as u32);
        let flags = (packet.flags() | Flags::ROUTE_CODE).bits();
        let tagged = len as u64 | [0, 0, 0x4000, 0x80_0000][width];
        let header =
            (u64::from(SIGNATURE) << 56) | (u64::from(flags) << 40) | (tagged << (40 - 8 * width));
        let header = header.to_be_bytes();
        let new_header = &header[..3 + width];

        let start = out.len();
        out.reserve(len + PADDED);
        out.extend_from_slice(&header);
        out.truncate(start + new_header.len());
        out.extend_from_slice(middle);
        match (&self.plain_padded, old_route) {
            (Some(padded), None) => {
                let end = out.len() + field.len();
                out.extend_from_slice(padded);
                out.truncate(end);
            }
            _ => out.extend_from_slice(field),
        }
        let stored = u32::from_be_bytes(raw[raw.len() - 4..].try_into().expect("4 bytes"));
        let old_len = raw.len();
        let crc = if old_route.is_none()
            && old_len < KEPT_SWAPS
            && old_width == width
            && old_width == varint::encoded_len(old_len as u32)
        {
            if self.swaps.is_empty() {
                self.swaps = vec![UNKNOWN; KEPT_SWAPS];
            }
            let mut swap = self.swaps[old_len];
            if swap == UNKNOWN {
                swap = carry(crc32(&raw[..header_len]) ^ crc32(new_header), middle.len());
                self.swaps[old_len] = swap;
            }
            hash_on(stored ^ swap, field)
        } else if middle.len() < DERIVE_FROM {
            crc32(&out[start..])
        } else {
            let old_field = &raw[header_len + middle.len()..old_len - 4];
            let swap = carry(crc32(&raw[..header_len]) ^ crc32(new_header), middle.len());
            crc32_continue(strip(stored, old_field) ^ swap, field)
        };
        out.extend_from_slice(&crc.to_be_bytes());
        debug_assert_eq!(out.len() - start, len);
        debug_assert_eq!(
            crc,
            crc32(&out[start..out.len() - 4]),
            "the derived CRC is the CRC"
        );
        Ok(())
    }

    /// The packets [`encode::reroute`] makes, or its error.
    #[cold]
    fn slow(&self, packet: &Packet<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let route = match packet.route_code() {
            Some(old) => format!("{}/{old}", self.prefix),
            None => self.prefix.clone(),
        };
        encode::reroute(packet, &route, out)
    }
}

/// The whole length of a packet of `body` bytes besides its length field:
/// the shortest width that holds the length, which counts itself.
fn packet_len(body: usize) -> Option<usize> {
    (1..=3)
        .map(|width| body + width)
        .find(|&len| len <= varint::MAX as usize && varint::encoded_len(len as u32) <= len - body)
}

/// The CRC-32 polynomial, bit-reflected.
const POLY: u32 = 0xedb8_8320;

/// The byte-at-a-time CRC table: `TABLE[b]` is the register after one
/// byte `b` from a zero register.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// `UNDO[t]`: the index of the table entry whose top byte is `t` (the top
/// bytes of the 256 entries are distinct), to run the register backwards.
const UNDO: [u8; 256] = {
    let mut undo = [0u8; 256];
    let mut n = 0;
    while n < 256 {
        undo[(TABLE[n] >> 24) as usize] = n as u8;
        n += 1;
    }
    undo
};

/// The CRC-32 of `A‖bytes` from `crc`, the CRC-32 of `A`, a byte at a
/// time: for the few bytes of a route code field, where setting up
/// [`crc32_continue`] costs more than the work.
fn hash_on(crc: u32, bytes: &[u8]) -> u32 {
    let mut register = !crc;
    for &byte in bytes {
        register = (register >> 8) ^ TABLE[((register ^ u32::from(byte)) & 0xff) as usize];
    }
    !register
}

/// The CRC-32 of `A` from `crc`, the CRC-32 of `A‖tail`: the register
/// run backwards over `tail`. A step forwards is `r' = (r >> 8) ^
/// TABLE[(r ^ b) & 0xff]`; `r >> 8` leaves the top byte of `r'` to the
/// table entry, which tells which one it was.
fn strip(crc: u32, tail: &[u8]) -> u32 {
    let mut register = !crc;
    for &byte in tail.iter().rev() {
        let index = UNDO[(register >> 24) as usize];
        register = ((register ^ TABLE[usize::from(index)]) << 8) | u32::from(index ^ byte);
    }
    !register
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode::decode;
    use crate::codec::encode::{Event, encode};
    use crate::codec::packet::{Status, Timestamp};

    use crate::codec::crc::test_bytes as bytes;

    #[test]
    fn the_table_is_the_crc() {
        let data = bytes(1000, 5);
        assert_eq!(hash_on(0, &data), crc32(&data));
        assert_eq!(hash_on(crc32(&data[..10]), &data[10..]), crc32(&data));
    }

    #[test]
    fn strip_takes_bytes_off_the_end() {
        let data = bytes(3000, 9);
        for split in [0, 1, 2, 17, 64, 1000, 2999, 3000] {
            let (head, tail) = data.split_at(split);
            assert_eq!(strip(crc32(&data), tail), crc32(head), "split at {split}");
        }
    }

    /// Every packet shape around the length boundaries, with and without
    /// a route code, small and large: the same bytes as `encode::reroute`.
    #[test]
    fn the_same_bytes_as_encode_reroute() {
        let ts = Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        };
        let tags = ["worker-0", "smoke"];
        let mut rerouters = [Rerouter::new("0"), Rerouter::new("a-longer/name")];
        for content_len in (0..80)
            .chain(16_300..16_400)
            .chain([
                DERIVE_FROM - 1,
                DERIVE_FROM,
                KEPT_SWAPS - 90,
                KEPT_SWAPS - 60,
                100_000,
            ])
            .chain((MAX_PACKET_LEN - 120..MAX_PACKET_LEN - 60).step_by(4))
        {
            let content = bytes(content_len, content_len as u32);
            for route in [None, Some("7"), Some("x/y")] {
                let event = Event {
                    status: Status::Fail,
                    runnable: content_len % 2 == 0,
                    eof: true,
                    timestamp: (content_len % 3 != 0).then_some(ts),
                    test_id: Some("pkg.module.Class.test"),
                    tags: (content_len % 5 != 0).then_some(&tags[..]),
                    mime: Some("text/plain"),
                    file: Some(("log", &content)),
                    route_code: route,
                };
                let mut original = Vec::new();
                encode(&event, &mut original).unwrap();
                let packet = decode(&original).unwrap().unwrap();
                for rerouter in &mut rerouters {
                    let new = match route {
                        Some(old) => format!("{}/{old}", rerouter.prefix),
                        None => rerouter.prefix.clone(),
                    };
                    let mut expected = vec![9];
                    let want = encode::reroute(&packet, &new, &mut expected);
                    // Twice: the header swap worked out, then kept.
                    for _ in 0..2 {
                        let mut got = vec![9];
                        assert_eq!(rerouter.reroute(&packet, &mut got), want);
                        assert!(got == expected, "content {content_len}, route {route:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_unusable_prefix_fails_as_encode_reroute_does() {
        let mut original = Vec::new();
        encode(
            &Event {
                test_id: Some("t"),
                ..Event::default()
            },
            &mut original,
        )
        .unwrap();
        let packet = decode(&original).unwrap().unwrap();
        let mut out = vec![1];
        let got = Rerouter::new("a\0b").reroute(&packet, &mut out);
        assert_eq!(got, encode::reroute(&packet, "a\0b", &mut Vec::new()));
        assert!(got.is_err());
        assert_eq!(out, [1]);
    }
}
