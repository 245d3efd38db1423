//! Streams as they arrive: the recovering reader (SPEC section 2), chatter
//! wrapped into packets, inputs pumped on threads to one writer, and
//! reading that can be ended early.
//!
//! Layer: uses [`crate::codec`] and [`crate::formats`]; reads `Read`
//! sources and writes `Write` sinks, but opens nothing itself.

pub mod cancel;
pub mod offload;
pub mod pump;
pub mod reader;
pub mod window;
pub mod wrap;
