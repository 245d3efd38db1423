//! Whole tests as python's `StreamToDict` (testtools) hands them to a
//! callback: everything a stream says about one test (its tags, its
//! attachments, its status and the first and last timestamps) gathered
//! until the test ends, then handed on as one [`TestRecord`].
//!
//! The rules are testtools' `_StreamToTestRecord`, which python-subunit's
//! subunit2disk uses: a test is keyed by (test id, route code); it ends at
//! any status but none and `inprogress` (so `exists` ends it too); the
//! first timestamp is that of the packet that opened the record, the last
//! that of the packet that ended it (none if that packet had none); a
//! packet with tags replaces the tags; file chunks are appended to their
//! file, whose MIME type is that of its first chunk, and an empty chunk
//! does not create a file. Tests still open when the stream ends are
//! handed on last, the most recently opened first, without a last
//! timestamp. Packets without a test id are not part of any test.

use crate::codec::packet::{Packet, Status, Timestamp};
use crate::results::group::hash_key;
use crate::results::open::OpenTable;

/// One test's events gathered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestRecord {
    /// The test id.
    pub id: String,
    /// The route code it came with, if any.
    pub route_code: Option<String>,
    /// The tags of the last packet that carried tags.
    pub tags: Vec<String>,
    /// Its attachments, in the order their first chunks came.
    pub files: Vec<RecordFile>,
    /// The last status it was given; `None` ("unknown" in python) when its
    /// packets carried none.
    pub status: Option<Status>,
    /// The timestamp of its first packet.
    pub start: Option<Timestamp>,
    /// The timestamp of the packet that ended it; `None` when that had none
    /// or the stream ended first.
    pub stop: Option<Timestamp>,
}

impl TestRecord {
    /// Its status as python names it: `unknown` for none.
    pub fn status_name(&self) -> &'static str {
        self.status.and_then(Status::name).unwrap_or("unknown")
    }
}

/// One attachment of a test.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordFile {
    /// Its file name.
    pub name: String,
    /// The MIME type of its first chunk.
    pub mime: Option<String>,
    /// All its chunks, one after the other.
    pub content: Vec<u8>,
}

/// Gathers packets into [`TestRecord`]s; see the module documentation.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Open tests, each with when it was opened, found by their id and
    /// route code (the record holds both: no key is kept apart, nor
    /// allocated per test).
    open: OpenTable<(u64, TestRecord)>,
    /// Opened so far: orders what is still open at the end.
    opened: u64,
    /// Buffers of records handed back by [`Recorder::recycle`], for new
    /// records to fill rather than allocate.
    spare: Spare,
}

/// Buffers kept for reuse (a few hundred: enough for the tests in progress
/// of a typical run, or for those a command has in hand at once, to be
/// made of them).
#[derive(Debug, Default)]
struct Spare {
    records: Vec<TestRecord>,
    files: Vec<RecordFile>,
    strings: Vec<String>,
}

impl Spare {
    const KEPT: usize = 512;

    fn string(&mut self, text: &str) -> String {
        match self.strings.pop() {
            Some(mut string) => {
                string.clear();
                string.push_str(text);
                string
            }
            None => text.to_owned(),
        }
    }

    fn keep_strings(&mut self, strings: impl Iterator<Item = String>) {
        for string in strings {
            if self.strings.len() < Self::KEPT {
                self.strings.push(string);
            }
        }
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Takes in one packet; returns its test's record if the packet ended
    /// it. Packets without a test id give nothing.
    pub fn packet(&mut self, packet: &Packet<'_>) -> Option<TestRecord> {
        let id = packet.test_id()?;
        let route = packet.route_code();
        let timestamp = packet.timestamp();
        let hash = hash_key(id, route);
        let is_this = |(_, r): &(u64, TestRecord)| r.id == id && r.route_code.as_deref() == route;
        let slot = match self.open.find(hash, is_this) {
            Some(slot) => slot,
            None => {
                self.opened += 1;
                let mut record = self.spare.records.pop().unwrap_or_default();
                record.id.clear();
                record.id.push_str(id);
                match (route, &mut record.route_code) {
                    (Some(route), Some(kept)) => {
                        kept.clear();
                        kept.push_str(route);
                    }
                    (route, kept) => *kept = route.map(str::to_owned),
                }
                record.status = None;
                record.start = timestamp;
                record.stop = None;
                let rehash = |(_, r): &(u64, TestRecord)| hash_key(&r.id, r.route_code.as_deref());
                self.open.insert(hash, (self.opened, record), rehash)
            }
        };
        let (_, record) = self.open.get_mut(slot);
        let status = packet.status();
        if status != Status::Unset {
            record.status = Some(status);
        }
        record.stop = timestamp;
        if let Some(file) = packet.file().filter(|f| !f.content.is_empty()) {
            match record.files.iter_mut().find(|f| f.name == file.name) {
                Some(known) => known.content.extend_from_slice(file.content),
                None => {
                    let mut kept = self.spare.files.pop().unwrap_or_default();
                    kept.name.clear();
                    kept.name.push_str(file.name);
                    match (packet.mime(), &mut kept.mime) {
                        (Some(mime), Some(old)) => {
                            old.clear();
                            old.push_str(mime);
                        }
                        (mime, old) => *old = mime.map(str::to_owned),
                    }
                    kept.content.clear();
                    kept.content.extend_from_slice(file.content);
                    record.files.push(kept);
                }
            }
        }
        if let Some(tags) = packet.tags() {
            // Written over the strings already there: tags come with every
            // packet of many streams, most often the same ones.
            let mut n = 0;
            for tag in tags {
                match record.tags.get_mut(n) {
                    Some(kept) => {
                        kept.clear();
                        kept.push_str(tag);
                    }
                    None => record.tags.push(self.spare.string(tag)),
                }
                n += 1;
            }
            self.spare.keep_strings(record.tags.drain(n..));
        }
        if matches!(status, Status::Unset | Status::InProgress) {
            return None;
        }
        Some(self.open.remove_slot(hash, slot).1)
    }

    /// The id, then a NUL and the route code if there is one: strings hold
    /// no NUL (SPEC 1), so keys of different tests differ.
    pub(crate) fn key(key: &mut String, id: &str, route: Option<&str>) {
        key.clear();
        key.push_str(id);
        if let Some(route) = route {
            key.push('\0');
            key.push_str(route);
        }
    }

    /// Hands back a record given out before, whose buffers later records
    /// reuse (a command that is done with each record at once saves an
    /// allocation or more per test).
    pub fn recycle(&mut self, mut record: TestRecord) {
        let spare = &mut self.spare;
        spare.keep_strings(record.tags.drain(..));
        let room = Spare::KEPT.saturating_sub(spare.files.len());
        spare.files.extend(record.files.drain(..).take(room));
        if spare.records.len() < Spare::KEPT {
            spare.records.push(record);
        }
    }

    /// How many tests are open.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Ends the stream: the tests still open, the most recently opened
    /// first, each without a last timestamp.
    pub fn finish(&mut self) -> Vec<TestRecord> {
        let slots: Vec<u32> = self.open.slots().collect();
        let open = &mut self.open;
        let mut open: Vec<_> = slots
            .into_iter()
            .map(|slot| {
                let (_, record) = open.get(slot);
                let hash = hash_key(&record.id, record.route_code.as_deref());
                open.remove_slot(hash, slot)
            })
            .collect();
        open.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
        open.into_iter()
            .map(|(_, mut record)| {
                record.stop = None;
                record
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, decode, encode};

    fn feed(recorder: &mut Recorder, event: &Event<'_>) -> Option<TestRecord> {
        let mut wire = Vec::new();
        encode(event, &mut wire).unwrap();
        let packet = decode(&wire).unwrap().unwrap();
        recorder.packet(&packet)
    }

    fn at(seconds: u32) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 0 })
    }

    /// A test's id, route code, tags, attachment and its MIME type.
    type Shape<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a [&'a str]>,
        Option<(&'a str, &'a [u8])>,
        Option<&'a str>,
    );

    #[test]
    fn records_made_of_recycled_buffers_are_as_new_ones() {
        // Tests of every shape, one after the other: what one left in the
        // buffers must never show in the next.
        let mut events = Vec::new();
        let shapes: [Shape<'_>; 4] = [
            (
                "a.long.test.id.one",
                Some("0"),
                Some(&["x", "y", "worker-0"]),
                Some(("stdout", b"out")),
                Some("text/plain"),
            ),
            ("b", None, None, None, None),
            (
                "c.two",
                Some("1/2"),
                Some(&["z"]),
                Some(("traceback", b"tb")),
                None,
            ),
            ("d", None, Some(&[]), Some(("stderr", b"")), None),
        ];
        for round in 0..3 {
            for &(id, route, tags, file, mime) in &shapes {
                events.push(Event {
                    test_id: Some(id),
                    route_code: route,
                    status: Status::InProgress,
                    timestamp: at(round),
                    tags,
                    ..Event::default()
                });
                events.push(Event {
                    test_id: Some(id),
                    route_code: route,
                    file,
                    mime,
                    ..Event::default()
                });
                events.push(Event {
                    test_id: Some(id),
                    route_code: route,
                    status: if round == 1 {
                        Status::Fail
                    } else {
                        Status::Success
                    },
                    ..Event::default()
                });
            }
        }
        let (mut fresh, mut reused) = (Recorder::new(), Recorder::new());
        let mut ended = 0;
        for event in &events {
            let a = feed(&mut fresh, event);
            let b = feed(&mut reused, event);
            assert_eq!(a, b);
            if let Some(record) = b {
                reused.recycle(record);
                ended += 1;
            }
        }
        assert_eq!(ended, 12);
    }

    #[test]
    fn a_test_gathers_its_packets_until_a_final_status() {
        let mut r = Recorder::new();
        let start = Event {
            test_id: Some("t"),
            status: Status::InProgress,
            timestamp: at(10),
            tags: Some(&["a"]),
            ..Event::default()
        };
        assert_eq!(feed(&mut r, &start), None);
        for chunk in [&b"one "[..], b"", b"two"] {
            let file = Event {
                test_id: Some("t"),
                file: Some(("stdout", chunk)),
                mime: Some("text/plain"),
                ..Event::default()
            };
            assert_eq!(feed(&mut r, &file), None);
        }
        let empty = Event {
            test_id: Some("t"),
            file: Some(("empty", b"")),
            ..Event::default()
        };
        assert_eq!(feed(&mut r, &empty), None);
        let end = Event {
            test_id: Some("t"),
            status: Status::Fail,
            timestamp: at(12),
            tags: Some(&["b", "c"]),
            ..Event::default()
        };
        let record = feed(&mut r, &end).expect("fail ends it");
        assert_eq!(record.id, "t");
        assert_eq!(record.status_name(), "fail");
        assert_eq!((record.start, record.stop), (at(10), at(12)));
        assert_eq!(record.tags, ["b", "c"]);
        assert_eq!(record.files.len(), 1, "an empty chunk makes no file");
        assert_eq!(record.files[0].content, b"one two");
        assert_eq!(record.files[0].mime.as_deref(), Some("text/plain"));
        assert_eq!(r.open(), 0);
    }

    #[test]
    fn exists_ends_a_test_and_route_codes_keep_tests_apart() {
        let mut r = Recorder::new();
        let on = |route| Event {
            test_id: Some("t"),
            status: Status::InProgress,
            route_code: route,
            ..Event::default()
        };
        assert_eq!(feed(&mut r, &on(Some("0"))), None);
        assert_eq!(feed(&mut r, &on(Some("1"))), None);
        assert_eq!(feed(&mut r, &on(None)), None);
        let exists = Event {
            test_id: Some("t"),
            status: Status::Exists,
            route_code: Some("1"),
            ..Event::default()
        };
        let record = feed(&mut r, &exists).unwrap();
        assert_eq!(record.route_code.as_deref(), Some("1"));
        assert_eq!(record.status_name(), "exists");
        let left = r.finish();
        let routes: Vec<_> = left.iter().map(|t| t.route_code.as_deref()).collect();
        assert_eq!(routes, [None, Some("0")], "the most recently opened first");
        assert!(left.iter().all(|t| t.status_name() == "inprogress"));
    }

    #[test]
    fn the_last_timestamp_is_that_of_the_ending_packet_even_if_none() {
        let mut r = Recorder::new();
        let first = Event {
            test_id: Some("t"),
            file: Some(("log", b"x")),
            timestamp: at(5),
            ..Event::default()
        };
        assert_eq!(feed(&mut r, &first), None);
        let end = Event {
            test_id: Some("t"),
            status: Status::Success,
            ..Event::default()
        };
        let record = feed(&mut r, &end).unwrap();
        assert_eq!((record.start, record.stop), (at(5), None));
        assert!(record.tags.is_empty());
        let global = Event {
            file: Some(("stdout", b"chatter")),
            ..Event::default()
        };
        assert_eq!(feed(&mut r, &global), None);
        assert!(
            r.finish().is_empty(),
            "a packet without a test id opens nothing"
        );
    }
}
