//! Tests made of packets, as python-subunit's tools see a stream: packets
//! grouped per test until it ends, and the statistics of a run.
//!
//! Layer: uses [`crate::codec`] only; no I/O.

pub mod group;
pub mod stats;
