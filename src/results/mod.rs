//! Tests made of packets, as python-subunit's tools see a stream: packets
//! grouped per test until it ends, and the statistics of a run.
//!
//! Layer: uses [`crate::codec`] and [`crate::os`]; no I/O but the
//! temporary file in which the grouper holds tests beyond its cap.

pub mod group;
mod open;
pub mod record;
pub mod spill;
pub mod stats;
