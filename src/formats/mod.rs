//! Other formats that carry test results, each read or written in one
//! place for every command: the v1 text protocol, JSON Lines, automake's
//! result lines and TAP.
//!
//! Layer: uses [`crate::codec`] and [`crate::results`]; no I/O.

pub mod automake;
pub mod json;
pub mod tap;
pub mod v1;
