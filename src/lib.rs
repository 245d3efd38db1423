//! The subunit toolkit: read, write and transform subunit v2 test-result
//! streams.
//!
//! - [`packet`]: the packet model ([`Packet`], [`Flags`], [`Status`]).
//! - [`decode`] and [`encode`]: the pure codec, no I/O.
//! - [`reader`]: the recovering [`StreamReader`] over any `Read`.

#![deny(missing_docs)]

pub mod decode;
pub mod encode;
pub mod group;
pub mod packet;
pub mod ports;
pub mod pump;
pub mod reader;
pub mod signals;
pub mod stats;
pub mod v1;
pub mod varint;
pub mod wrap;

pub use decode::{Invalid, decode};
pub use encode::{EncodeError, Event, encode};
pub use packet::{FileChunk, Flags, MAX_PACKET_LEN, Packet, SIGNATURE, Status, Tags, Timestamp};
pub use reader::{Chatter, Damage, Item, StreamReader};

pub mod batch;
pub mod cli;
pub mod commands;
pub mod json;
