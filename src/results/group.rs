//! Packets grouped per test, as python-subunit's filters see a stream.
//!
//! testtools' `StreamToExtendedDecorator`, which python-subunit's
//! subunit-filter and subunit-2to1 read through, gathers the packets of a
//! test (same test id and route code) until one carries a final status
//! (success, uxsuccess, skip, fail, xfail), then hands the test on; tests
//! still open at the end of the stream are handed on then, the most
//! recently started first. `exists` packets and packets without a test id
//! are not its business: callers deal with those before [`Grouper::add`].
//!
//! Only the packets of tests in progress are held; a finished test's
//! packets go to the caller, whose memory can be given back with
//! [`Grouper::recycle`].

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use crate::codec::batch::PacketBatch;
use crate::codec::packet::{Packet, Status, Timestamp};

/// A test with all its packets.
#[derive(Debug, Default)]
pub struct Test {
    /// Its id.
    pub test_id: String,
    /// Its route code.
    pub route_code: Option<String>,
    /// Its packets, in stream order.
    pub packets: PacketBatch,
    /// Whether a packet with a final status ended it (else the stream ended
    /// first).
    pub finished: bool,
    started: u64,
}

/// One attachment of a test: a file's name, its MIME type as first given,
/// and its non-empty chunks in order (python-subunit ignores empty ones).
#[derive(Debug, PartialEq, Eq)]
pub struct Attachment<'a> {
    /// The file name.
    pub name: &'a str,
    /// The MIME type of its first non-empty chunk.
    pub mime: Option<&'a str>,
    /// Its non-empty chunks.
    pub chunks: Vec<&'a [u8]>,
}

impl Test {
    /// The latest status given (`Unset` if none was).
    pub fn status(&self) -> Status {
        self.packets
            .iter()
            .map(|p| p.status())
            .filter(|&s| s != Status::Unset)
            .last()
            .unwrap_or(Status::Unset)
    }

    /// The tags of its latest packet with tags, sorted and without repeats.
    pub fn tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> = self
            .packets
            .iter()
            .filter_map(|p| p.tags())
            .last()
            .map(Iterator::collect)
            .unwrap_or_default();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// The timestamps of its first and of its latest packet (either may be
    /// absent: testtools keeps the latest packet's even when it has none).
    pub fn timestamps(&self) -> (Option<Timestamp>, Option<Timestamp>) {
        let first = self.packets.iter().next().and_then(|p| p.timestamp());
        let last = self.packets.iter().last().and_then(|p| p.timestamp());
        (first, last)
    }

    /// Its attachments, in the order their first non-empty chunk came.
    pub fn attachments(&self) -> Vec<Attachment<'_>> {
        let mut attachments: Vec<Attachment<'_>> = Vec::new();
        for packet in self.packets.iter() {
            let Some(file) = packet.file() else { continue };
            if file.content.is_empty() {
                continue;
            }
            match attachments.iter_mut().find(|a| a.name == file.name) {
                Some(a) => a.chunks.push(file.content),
                None => attachments.push(Attachment {
                    name: file.name,
                    mime: packet.mime(),
                    chunks: vec![file.content],
                }),
            }
        }
        attachments
    }
}

/// Gathers the packets of tests until they end.
#[derive(Debug, Default)]
pub struct Grouper {
    open: HashTable<Test>,
    started: u64,
    spare: Vec<Test>,
}

/// The hash a test's (test id, route code) is kept under, in the grouper and
/// in the statistics.
pub(crate) fn hash_key(test_id: &str, route_code: Option<&str>) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(test_id.as_bytes());
    if let Some(route) = route_code {
        hasher.write(route.as_bytes());
    }
    hasher.finish()
}

impl Grouper {
    /// No tests yet.
    pub fn new() -> Grouper {
        Grouper::default()
    }

    /// Tests in progress.
    pub fn open_tests(&self) -> usize {
        self.open.len()
    }

    /// Adds a packet of the test named in it; returns the test if this
    /// packet ended it. Packets without a test id are ignored.
    pub fn add(&mut self, packet: &Packet<'_>) -> Option<Test> {
        let test_id = packet.test_id()?;
        let route_code = packet.route_code();
        let hash = hash_key(test_id, route_code);
        let is_this = |t: &Test| t.test_id == test_id && t.route_code.as_deref() == route_code;
        if packet.status().is_final() {
            let mut test = match self.open.find_entry(hash, is_this) {
                Ok(entry) => entry.remove().0,
                Err(_) => self.new_test(test_id, route_code),
            };
            test.packets.push(packet);
            test.finished = true;
            return Some(test);
        }
        match self.open.find_mut(hash, is_this) {
            Some(test) => test.packets.push(packet),
            None => {
                let mut test = self.new_test(test_id, route_code);
                test.packets.push(packet);
                self.open.insert_unique(hash, test, |t| {
                    hash_key(&t.test_id, t.route_code.as_deref())
                });
            }
        }
        None
    }

    /// Ends the stream: the tests still open, the most recently started
    /// first (the order testtools hands them on in).
    pub fn finish(&mut self) -> Vec<Test> {
        let mut open: Vec<Test> = self.open.drain().collect();
        open.sort_by_key(|t| std::cmp::Reverse(t.started));
        open
    }

    /// Gives a handed-on test's memory back for reuse.
    pub fn recycle(&mut self, test: Test) {
        if self.spare.len() < 64 {
            self.spare.push(test);
        }
    }

    fn new_test(&mut self, test_id: &str, route_code: Option<&str>) -> Test {
        let mut test = self.spare.pop().unwrap_or_default();
        test.test_id.clear();
        test.test_id.push_str(test_id);
        test.route_code = route_code.map(str::to_owned);
        test.packets.clear();
        test.finished = false;
        self.started += 1;
        test.started = self.started;
        test
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, decode, encode};

    fn packets(events: &[Event<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in events {
            encode(e, &mut out).unwrap();
        }
        out
    }

    fn each(bytes: &[u8], mut f: impl FnMut(&Packet<'_>)) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let p = decode(rest).unwrap().unwrap();
            f(&p);
            rest = &rest[p.len()..];
        }
    }

    #[test]
    fn tests_end_at_a_final_status_per_id_and_route() {
        let stream = packets(&[
            Event {
                status: Status::InProgress,
                test_id: Some("a"),
                ..Event::default()
            },
            Event {
                status: Status::InProgress,
                test_id: Some("a"),
                route_code: Some("1"),
                ..Event::default()
            },
            Event {
                test_id: Some("a"),
                file: Some(("log", b"x")),
                ..Event::default()
            },
            Event {
                status: Status::Success,
                test_id: Some("a"),
                route_code: Some("1"),
                ..Event::default()
            },
            Event {
                status: Status::InProgress,
                test_id: Some("b"),
                ..Event::default()
            },
        ]);
        let mut grouper = Grouper::new();
        let mut done = Vec::new();
        each(&stream, |p| done.extend(grouper.add(p)));
        assert_eq!(done.len(), 1);
        assert_eq!(
            (done[0].test_id.as_str(), done[0].route_code.as_deref()),
            ("a", Some("1"))
        );
        assert_eq!(done[0].packets.len(), 2);
        assert!(done[0].finished);
        let open = grouper.finish();
        let names: Vec<_> = open
            .iter()
            .map(|t| (t.test_id.as_str(), t.packets.len()))
            .collect();
        assert_eq!(names, [("b", 1), ("a", 2)], "last started first");
        assert_eq!(open[1].status(), Status::InProgress);
        let attachments = open[1].attachments();
        assert_eq!(attachments[0].name, "log");
        assert_eq!(attachments[0].chunks, [b"x"]);
    }
}
