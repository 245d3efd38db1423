//! Owned batches of decoded packets, to hand packets to another thread
//! without decoding them again.

use crate::codec::decode::{decode, decode_known};
use crate::codec::packet::{Layout, Packet, SIGNATURE};

/// Packets copied out of the reader's buffer with their decoded layout.
#[derive(Debug, Default)]
pub struct PacketBatch {
    bytes: Vec<u8>,
    packets: Vec<(usize, usize, Layout)>,
}

impl PacketBatch {
    /// An empty batch.
    pub fn new() -> PacketBatch {
        PacketBatch::default()
    }

    /// Adds a copy of `packet`.
    pub fn push(&mut self, packet: &Packet<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(packet.raw());
        self.packets
            .push((start, self.bytes.len(), packet.layout()));
    }

    /// How many packets it holds.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether it holds no packet.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// The bytes of all its packets.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The bytes of all its packets, one after the other.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The memory it has taken (its allocations, not only what they hold).
    pub fn memory(&self) -> usize {
        self.bytes.capacity() + self.packets.capacity() * size_of::<(usize, usize, Layout)>()
    }

    /// A batch of the packets in `bytes`, which must be whole valid
    /// packets one after the other (as [`PacketBatch::bytes`] gives them);
    /// `None` if they are not.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<PacketBatch> {
        let mut batch = PacketBatch::new();
        batch.extend_from_bytes(&bytes, true).then_some(batch)
    }

    /// Adds copies of the packets in `bytes`, which must be whole valid
    /// packets one after the other, checking their CRCs again if
    /// `check_crc` (else only their fields: for bytes that never left
    /// memory since they were decoded). `false` if they are not whole
    /// valid packets; the batch then holds those before the first that is
    /// not.
    pub fn extend_from_bytes(&mut self, bytes: &[u8], check_crc: bool) -> bool {
        let mut at = 0;
        while at < bytes.len() {
            let packet = if check_crc {
                match bytes[at..].first() {
                    Some(&SIGNATURE) => decode(&bytes[at..]).ok().flatten(),
                    _ => None,
                }
            } else {
                decode_known(&bytes[at..])
            };
            let Some(packet) = packet else {
                return false;
            };
            self.push(&packet);
            at += packet.len();
        }
        true
    }

    /// Empties it, keeping its memory for reuse.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.packets.clear();
    }

    /// The packets, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = Packet<'_>> {
        // The bytes and layout come from a packet the decoder validated, as
        // `Packet::from_parts` requires.
        self.packets
            .iter()
            .map(|&(start, end, layout)| Packet::from_parts(&self.bytes[start..end], layout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Status, decode, encode};

    #[test]
    fn packets_come_back_as_they_went_in() {
        let mut wire = Vec::new();
        for (id, status) in [("a", Status::InProgress), ("b", Status::Fail)] {
            let event = Event {
                status,
                test_id: Some(id),
                tags: Some(&["worker-0"]),
                ..Event::default()
            };
            encode(&event, &mut wire).unwrap();
        }
        let mut batch = PacketBatch::new();
        let mut rest = &wire[..];
        while let Some(p) = decode(rest).unwrap() {
            batch.push(&p);
            rest = &rest[p.len()..];
            if rest.is_empty() {
                break;
            }
        }
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.byte_len(), wire.len());
        let got: Vec<_> = batch
            .iter()
            .map(|p| {
                (
                    p.test_id(),
                    p.status(),
                    p.tags().unwrap().collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("a"), Status::InProgress, vec!["worker-0"]),
                (Some("b"), Status::Fail, vec!["worker-0"])
            ]
        );
        let again = PacketBatch::from_bytes(batch.bytes().to_vec()).unwrap();
        assert!(
            again
                .iter()
                .map(|p| p.raw().to_vec())
                .eq(batch.iter().map(|p| p.raw().to_vec()))
        );
        assert!(PacketBatch::from_bytes(wire[1..].to_vec()).is_none());
        batch.clear();
        assert!(batch.is_empty() && batch.iter().next().is_none());
    }
}
