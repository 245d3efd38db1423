//! Other formats that carry test results, each read or written in one
//! place for every command: the v1 text protocol, JSON Lines, automake's
//! result lines, TAP, JUnit XML and subunit2disk's directory layout; and a cheap look at whether chatter is v1 text.
//!
//! Layer: uses [`crate::codec`] and [`crate::results`]; no I/O.

pub mod automake;
pub mod disk;
pub mod gojson;
pub mod json;
pub mod junit;
pub mod junit_write;
pub mod tap;
pub mod text;
pub mod v1;
