//! The subunit toolkit: read, write and transform subunit v2 test-result
//! streams, and hand test harnesses free TCP ports.
//!
//! One module per layer, each using only those above it in this list:
//!
//! - [`os`]: what the operating system reports, in words.
//! - [`codec`]: the wire format ([`Packet`], [`Flags`], [`Status`]) and the
//!   pure codec ([`decode`], [`encode`]), no I/O.
//! - [`results`]: tests grouped from packets, a run's statistics.
//! - [`formats`]: v1, JSON Lines, automake and TAP result lines, JUnit XML
//!   (read and written), go test -json, subunit2disk's layout.
//! - [`stream`]: the recovering [`StreamReader`] over any `Read`, chatter
//!   wrapped into packets, inputs pumped to one writer.
//! - [`ports`]: port-alloc's leased free ports (uses only [`os`]).
//! - [`signals`], [`cli`] and [`patterns`]: what commands share (signals
//!   taken by one thread; inputs, stdout, errors and exit codes; regular
//!   expressions from the command line, within limits).
//! - [`commands`]: one module per command; `src/bin/` only calls them.

#![deny(missing_docs)]

pub mod cli;
pub mod codec;
pub mod commands;
pub mod formats;
pub mod os;
pub mod patterns;
pub mod ports;
pub mod results;
pub mod signals;
pub mod stream;

pub use codec::decode::{Invalid, decode};
pub use codec::encode::{EncodeError, Event, encode};
pub use codec::packet::{
    FileChunk, Flags, MAX_PACKET_LEN, Packet, SIGNATURE, Status, Tags, Timestamp,
};
pub use stream::reader::{Chatter, Damage, Item, StreamReader};
