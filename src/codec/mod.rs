//! The wire format of subunit v2 (SPEC section 1): packets, their fields and
//! varints, a pure decoder and encoder over byte buffers, and owned batches.
//!
//! Layer: the bottom one; no I/O, and nothing else of the crate is used.

pub mod batch;
pub mod crc;
pub mod decode;
pub mod encode;
pub mod packet;
pub mod reroute;
pub mod varint;
