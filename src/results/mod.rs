//! Tests made of packets, as python-subunit's tools see a stream: packets
//! grouped per test until it ends, and the statistics of a run; and
//! output held back until it is known to be wanted.
//!
//! Layer: uses [`crate::codec`] and [`crate::os`]; no I/O but the
//! temporary files in which the grouper holds tests beyond its cap and
//! [`held::HeldOutput`] output beyond its limit.

pub mod group;
pub mod held;
mod open;
pub mod record;
pub mod spill;
pub mod stats;
