//! Streams as they arrive: the recovering reader (SPEC section 2), chatter
//! wrapped into packets, and inputs pumped on threads to one writer.
//!
//! Layer: uses [`crate::codec`] and [`crate::formats`]; reads `Read`
//! sources and writes `Write` sinks, but opens nothing itself.

pub mod pump;
pub mod reader;
pub mod window;
pub mod wrap;
