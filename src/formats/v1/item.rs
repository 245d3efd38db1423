//! What the v1 parser says, borrowed: [`V1Item`]s handed to a [`V1Sink`]
//! as they are read, so that a reader that converts them as they come
//! (subunit-1to2) needs nothing allocated per line; [`V1Event`]s are the
//! same, owned.

use super::parse::V1Event;
use crate::codec::packet::{Status, Timestamp};

/// An attachment of an outcome: name, MIME type, chunks in order.
pub type V1Attachment = (String, String, Vec<Vec<u8>>);

/// What a v1 stream says, item by item: a [`V1Event`], borrowed from the
/// line read and from the parser for as long as [`V1Sink::item`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Item<'a> {
    /// `test: NAME`.
    Start {
        /// The test.
        test_id: &'a str,
    },
    /// The outcome of the current test, with its attachments.
    Outcome {
        /// The test.
        test_id: &'a str,
        /// Its status.
        status: Status,
        /// Its attachments in the order given.
        attachments: &'a [V1Attachment],
    },
    /// Part of an attachment of the current test, ahead of its outcome (see
    /// [`V1Event::File`]).
    File {
        /// The test.
        test_id: &'a str,
        /// The attachment's name.
        name: &'a str,
        /// Its MIME type.
        mime: &'a str,
        /// The next bytes of its content.
        bytes: &'a [u8],
        /// Whether they are its last.
        eof: bool,
    },
    /// `tags:` — its words ([`tag_words`]): `-NAME` removes a tag, any
    /// other word adds one; the additions apply before the removals.
    Tags {
        /// The words.
        words: &'a str,
    },
    /// `time:`.
    Time(Timestamp),
    /// Bytes that are not protocol.
    Chatter(&'a [u8]),
}

impl V1Item<'_> {
    /// The same, owned.
    pub fn to_event(&self) -> V1Event {
        match *self {
            V1Item::Start { test_id } => V1Event::Start {
                test_id: test_id.to_owned(),
            },
            V1Item::Outcome {
                test_id,
                status,
                attachments,
            } => V1Event::Outcome {
                test_id: test_id.to_owned(),
                status,
                attachments: attachments.to_vec(),
            },
            V1Item::File {
                test_id,
                name,
                mime,
                bytes,
                eof,
            } => V1Event::File {
                test_id: test_id.to_owned(),
                name: name.to_owned(),
                mime: mime.to_owned(),
                bytes: bytes.to_vec(),
                eof,
            },
            V1Item::Tags { words } => {
                let (mut new, mut gone) = (Vec::new(), Vec::new());
                for tag in tag_words(words) {
                    match tag.strip_prefix('-') {
                        Some(t) => gone.push(t.to_owned()),
                        None => new.push(tag.to_owned()),
                    }
                }
                V1Event::Tags { new, gone }
            }
            V1Item::Time(ts) => V1Event::Time(ts),
            V1Item::Chatter(bytes) => V1Event::Chatter(bytes.to_vec()),
        }
    }
}

/// The words of a `tags:` line, as [`str::split_whitespace`] splits them,
/// ASCII text byte by byte.
pub fn tag_words(text: &str) -> TagWords<'_> {
    TagWords {
        rest: text,
        ascii: text.is_ascii(),
    }
}

/// The words of a `tags:` line: see [`tag_words`].
#[derive(Debug, Clone)]
pub struct TagWords<'a> {
    rest: &'a str,
    ascii: bool,
}

/// `char::is_whitespace` for an ASCII byte: tab, LF, VT, FF, CR, space.
fn is_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

impl<'a> Iterator for TagWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = if self.ascii {
            let bytes = self.rest.as_bytes();
            let start = bytes.iter().position(|&b| !is_space(b))?;
            let len = bytes[start..].iter().position(|&b| is_space(b));
            (start, len.map_or(bytes.len(), |len| start + len))
        } else {
            let start = self.rest.find(|c: char| !c.is_whitespace())?;
            let len = self.rest[start..].find(char::is_whitespace);
            (start, len.map_or(self.rest.len(), |len| start + len))
        };
        let word = &self.rest[start..end];
        self.rest = &self.rest[end..];
        Some(word)
    }
}

/// Takes the parser's items as they are read.
pub trait V1Sink {
    /// The next item.
    fn item(&mut self, item: V1Item<'_>);
}

/// Gathers the items as events.
impl V1Sink for Vec<V1Event> {
    fn item(&mut self, item: V1Item<'_>) {
        self.push(item.to_event());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_words_split_as_split_whitespace() {
        let pieces = [
            "a",
            "worker-0",
            "-gone",
            " ",
            "\t",
            "\n",
            "\r",
            "\u{b}",
            "\u{c}",
            "\u{85}",
            "\u{a0}",
            "\u{2003}",
            "\u{3000}",
            "é",
            "-",
            "\u{1f600}",
            "x\u{a0}y",
        ];
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            for i in 0..(state >> 60) {
                text.push_str(pieces[(state >> (i * 4 % 56)) as usize % pieces.len()]);
            }
            let ours: Vec<&str> = tag_words(&text).collect();
            let theirs: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
}
