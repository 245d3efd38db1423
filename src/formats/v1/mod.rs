//! The subunit v1 text protocol, as python-subunit writes and reads it.
//!
//! Writing ([`V1Writer`]) follows python-subunit's `TestProtocolClient` fed
//! by testtools' `StreamToExtendedDecorator`, byte for byte: a test is
//! written when it ends, as `time:`, `tags:`, `test:`, `time:`, the outcome
//! with its attachments in a multipart block, and `tags:` removing its tags.
//! The one difference: the words of a `tags:` line are sorted (python's
//! order depends on string hashing).
//!
//! Reading ([`V1Parser`]) follows `TestProtocolServer`: a line-based state
//! machine in which anything that is not protocol is chatter.
//!
//! [`V1Sniffer`] tells whether text that reached a v2 command looks like v1.

mod content_type;
mod details;
mod item;
mod parse;
mod sniff;
mod time;
mod write;

pub use content_type::ContentType;
pub use item::{TagWords, V1Attachment, V1Item, V1Sink, tag_words};
pub use parse::{MAX_HELD_BLOCK, MAX_LINE, V1Event, V1Parser};
pub use sniff::V1Sniffer;
pub use time::{parse_iso8601, python_micros, python_str_time, python_time};
pub use write::{V1Formatter, V1Writer};
