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
//! packets are lent to the caller ([`Grouper::ended`]) until the next one
//! ends. What is
//! held in memory is capped ([`Grouper::with_max_held`]): beyond the cap,
//! the packets of the tests that started first go to a temporary file
//! ([`SpillFile`]) until they end, when they are read back, so what is
//! handed on is the same. Where
//! the file cannot be written (a full disk), the test that started first
//! is handed on before its end instead ([`Grouper::forced_out`]), so that
//! memory stays bounded and nothing is lost.

use std::collections::VecDeque;
use std::hash::Hasher;
use std::io;
use std::path::Path;

use rustc_hash::FxHasher;

use crate::codec::batch::PacketBatch;
use crate::codec::packet::{Packet, Status, Timestamp};
use crate::results::open::OpenTable;
use crate::results::spill::{Chain, SpillFile};

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
    /// first, or it was handed on early, see [`Grouper::forced_out`]).
    pub finished: bool,
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

/// A test in progress, as small as it can be: its packets back to back,
/// and where its key is. Every packet of a test carries its test id and
/// route code, so the key is read from the first packet held rather than
/// kept apart; only a test whose packets all went to the temporary file
/// keeps a copy.
#[derive(Debug, Default)]
struct OpenTest {
    /// Its packets since it started or last went to the temporary file.
    bytes: Vec<u8>,
    /// The test id's and route code's places in the first packet of
    /// `bytes` (`route` empty and `routed` false without a route code).
    id: (u32, u32),
    route: (u32, u32),
    routed: bool,
    started: u64,
    spilled: Option<Box<Spilled>>,
}

/// What a test whose packets went to the temporary file keeps.
#[derive(Debug)]
struct Spilled {
    chain: Chain,
    test_id: Box<str>,
    route_code: Option<Box<str>>,
}

impl OpenTest {
    /// A test starting with `packet`, its packets kept in `bytes` (empty).
    fn new(packet: &Packet<'_>, started: u64, bytes: Vec<u8>) -> OpenTest {
        debug_assert!(bytes.is_empty());
        let mut test = OpenTest {
            bytes,
            started,
            ..OpenTest::default()
        };
        test.push(packet);
        test
    }

    /// Adds a packet of the test.
    fn push(&mut self, packet: &Packet<'_>) {
        if self.bytes.is_empty() {
            let layout = packet.layout();
            let span = |s: crate::codec::packet::Span| (s.start, s.end);
            self.id = span(layout.test_id);
            self.route = span(layout.route_code);
            self.routed = layout
                .flags
                .contains(crate::codec::packet::Flags::ROUTE_CODE);
        }
        self.bytes.extend_from_slice(packet.raw());
    }

    /// The memory its packets take.
    fn memory(&self) -> usize {
        self.bytes.capacity()
    }

    /// Its test id and route code as bytes.
    #[inline]
    fn key(&self) -> (&[u8], Option<&[u8]>) {
        match &self.spilled {
            Some(spilled) if self.bytes.is_empty() => (
                spilled.test_id.as_bytes(),
                spilled.route_code.as_deref().map(str::as_bytes),
            ),
            _ => {
                let at = |(start, end): (u32, u32)| &self.bytes[start as usize..end as usize];
                (at(self.id), self.routed.then(|| at(self.route)))
            }
        }
    }

    #[inline]
    fn is(&self, test_id: &str, route_code: Option<&str>) -> bool {
        let (id, route) = self.key();
        id == test_id.as_bytes() && route == route_code.map(str::as_bytes)
    }

    /// Its test id and route code.
    fn key_text(&self) -> (&str, Option<&str>) {
        // Both were checked as UTF-8 when the packet was decoded.
        fn text(b: &[u8]) -> &str {
            std::str::from_utf8(b).expect("decoded strings are UTF-8")
        }
        let (id, route) = self.key();
        (text(id), route.map(text))
    }

    fn hash(&self) -> u64 {
        let (id, route) = self.key_text();
        hash_key(id, route)
    }
}

/// Gathers the packets of tests until they end.
#[derive(Debug)]
pub struct Grouper {
    open: OpenTable<OpenTest>,
    started: u64,
    /// The most memory the packets of open tests may take.
    max_held: usize,
    /// The memory they take.
    held: usize,
    spill: SpillFile,
    /// Open tests with packets in the temporary file.
    spilled_tests: usize,
    /// Tests handed on before their end.
    forced: VecDeque<Test>,
    /// The test the last packet ended, lent to the caller.
    ended: Test,
    /// Bytes read back from the temporary file.
    scratch: Vec<u8>,
    /// Emptied buffers of ended tests, for tests that start: most tests
    /// are short, and allocating and freeing one buffer per test was a
    /// tenth of subunit-filter's time.
    spare: Vec<Vec<u8>>,
    /// Warnings for the caller to show.
    notices: VecDeque<String>,
    /// Whether the first spill was told.
    told: bool,
}

impl Default for Grouper {
    fn default() -> Self {
        Grouper::new()
    }
}

/// The hash a test's (test id, route code) is kept under, in the grouper and
/// in the statistics.
pub(crate) fn hash_key(test_id: &str, route_code: Option<&str>) -> u64 {
    hash_key_bytes(test_id.as_bytes(), route_code.map(str::as_bytes))
}

/// [`hash_key`] of a key kept as bytes.
pub(crate) fn hash_key_bytes(test_id: &[u8], route_code: Option<&[u8]>) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(test_id);
    if let Some(route) = route_code {
        hasher.write(route);
    }
    hasher.finish()
}

impl Grouper {
    /// No tests yet, and no cap on what is held.
    pub fn new() -> Grouper {
        Grouper::with_max_held(usize::MAX, &std::env::temp_dir())
    }

    /// No tests yet; the packets of open tests take at most `max_held`
    /// bytes of memory, the rest going to a temporary file in `dir`.
    pub fn with_max_held(max_held: usize, dir: &Path) -> Grouper {
        Grouper {
            open: OpenTable::default(),
            started: 0,
            max_held,
            held: 0,
            spill: SpillFile::new(dir),
            spilled_tests: 0,
            forced: VecDeque::new(),
            ended: Test::default(),
            scratch: Vec::new(),
            spare: Vec::new(),
            notices: VecDeque::new(),
            told: false,
        }
    }

    /// Tests in progress.
    pub fn open_tests(&self) -> usize {
        self.open.len()
    }

    /// The memory the packets of the tests in progress take (at most the
    /// cap once [`Grouper::add`] has returned).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Adds a packet of the test named in it; `true` if this packet ended
    /// the test, which is then lent as [`Grouper::ended`] with all its
    /// packets (those in the temporary file read back): its memory is
    /// reused for the next one. Packets without a test id are ignored. An
    /// error: the temporary file could not be read back.
    pub fn add(&mut self, packet: &Packet<'_>) -> io::Result<bool> {
        let Some(test_id) = packet.test_id() else {
            return Ok(false);
        };
        let route_code = packet.route_code();
        let hash = hash_key(test_id, route_code);
        let is_this = |t: &OpenTest| t.is(test_id, route_code);
        if packet.status().is_final() {
            let open = self.open.remove(hash, is_this);
            let mut ended = std::mem::take(&mut self.ended);
            ended.test_id.clear();
            ended.test_id.push_str(test_id);
            ended.route_code = route_code.map(str::to_owned);
            ended.packets.clear();
            ended.finished = true;
            if let Some(open) = open {
                self.held -= open.memory();
                self.take_packets(open, &mut ended.packets)?;
            }
            ended.packets.push(packet);
            self.ended = ended;
            return Ok(true);
        }
        match self.open.find(hash, is_this) {
            Some(slot) => {
                let test = self.open.get_mut(slot);
                let before = test.memory();
                test.push(packet);
                self.held = self.held - before + test.memory();
            }
            None => {
                self.started += 1;
                let bytes = self.spare.pop().unwrap_or_default();
                let test = OpenTest::new(packet, self.started, bytes);
                self.held += test.memory();
                self.open.insert(hash, test, OpenTest::hash);
            }
        }
        if self.held > self.max_held {
            self.relieve()?;
        }
        Ok(false)
    }

    /// The test the last [`Grouper::add`] that returned `true`
    /// ended.
    pub fn ended(&self) -> &Test {
        &self.ended
    }

    /// A test handed on before its end because its packets could be
    /// neither held nor put in the temporary file (a full disk): its
    /// packets so far, `finished` false. Its later packets make a test of
    /// their own. Ask after each [`Grouper::add`].
    pub fn forced_out(&mut self) -> Option<Test> {
        self.forced.pop_front()
    }

    /// Whether [`Grouper::notice`] has one.
    pub fn has_notice(&self) -> bool {
        !self.notices.is_empty()
    }

    /// A warning to show (the first time tests went to the temporary file,
    /// each test handed on early), if any. Ask after each [`Grouper::add`].
    pub fn notice(&mut self) -> Option<String> {
        self.notices.pop_front()
    }

    /// Ends the stream: the tests still open, the most recently started
    /// first (the order testtools hands them on in), each read back from
    /// the temporary file as it is taken.
    pub fn finish(&mut self) -> impl Iterator<Item = io::Result<Test>> + '_ {
        let mut slots: Vec<u32> = self.open.slots().collect();
        let open = &self.open;
        slots.sort_unstable_by_key(|&slot| std::cmp::Reverse(open.get(slot).started));
        self.held = 0;
        slots.into_iter().map(|slot| {
            let hash = self.open.get(slot).hash();
            let open = self.open.remove_slot(hash, slot);
            self.unfinished(open)
        })
    }

    /// A test handed on before its end, with all its packets.
    fn unfinished(&mut self, open: OpenTest) -> io::Result<Test> {
        let (test_id, route_code) = open.key_text();
        let mut test = Test {
            test_id: test_id.to_owned(),
            route_code: route_code.map(str::to_owned),
            ..Test::default()
        };
        self.take_packets(open, &mut test.packets)?;
        Ok(test)
    }

    /// Puts an open test's packets in `packets`: those from the temporary
    /// file first, then those it holds.
    fn take_packets(&mut self, open: OpenTest, packets: &mut PacketBatch) -> io::Result<()> {
        if let Some(spilled) = &open.spilled {
            let mut bytes = std::mem::take(&mut self.scratch);
            bytes.clear();
            self.spill.read(spilled.chain, &mut bytes)?;
            // What the file gives back is checked again, CRCs and all.
            if !packets.extend_from_bytes(&bytes, true) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "held packets came back damaged",
                ));
            }
            self.scratch = bytes;
            self.spilled_tests -= 1;
            if self.spilled_tests == 0 {
                self.spill.empty()?;
            }
        }
        // These never left memory: they were decoded when they came.
        let whole = packets.extend_from_bytes(&open.bytes, false);
        debug_assert!(whole, "held packets are whole packets");
        self.keep_spare(open.bytes);
        Ok(())
    }

    /// Keeps an ended test's buffer for a test to come, if it is small and
    /// few are kept (so the spares take at most 128 KiB).
    fn keep_spare(&mut self, mut bytes: Vec<u8>) {
        const SPARE_BUFFERS: usize = 32;
        const SPARE_CAPACITY: usize = 4096;
        if bytes.capacity() <= SPARE_CAPACITY && self.spare.len() < SPARE_BUFFERS {
            bytes.clear();
            self.spare.push(bytes);
        }
    }

    /// Over the cap: the packets of the tests that started first go to the
    /// temporary file until half the cap is held (so this is not done for
    /// every packet). A test whose packets cannot go there is handed on.
    fn relieve(&mut self) -> io::Result<()> {
        let mut order: Vec<(u64, u32)> = self
            .open
            .slots()
            .map(|slot| (self.open.get(slot), slot))
            .filter(|(t, _)| !t.bytes.is_empty())
            .map(|(t, slot)| (t.started, slot))
            .collect();
        order.sort_unstable();
        let target = self.max_held / 2;
        for (_, slot) in order {
            if self.held <= target {
                break;
            }
            let test = self.open.get_mut(slot);
            let memory = test.memory();
            let chain = test.spilled.as_ref().map(|s| s.chain);
            match self.spill.append(chain, &test.bytes) {
                Ok(chain) => {
                    match &mut test.spilled {
                        Some(spilled) => spilled.chain = chain,
                        None => {
                            let (test_id, route_code) = test.key_text();
                            test.spilled = Some(Box::new(Spilled {
                                chain,
                                test_id: test_id.into(),
                                route_code: route_code.map(Into::into),
                            }));
                            self.spilled_tests += 1;
                        }
                    }
                    test.bytes = Vec::new();
                    self.held -= memory;
                    if !self.told {
                        self.told = true;
                        self.notices.push_back(format!(
                            "tests in progress hold more than {}: holding those that \
                             started first in a temporary file in {} until they end",
                            size_text(self.max_held),
                            self.spill.dir().display()
                        ));
                    }
                }
                Err(err) => {
                    let hash = test.hash();
                    let open = self.open.remove_slot(hash, slot);
                    self.held -= memory;
                    let test = self.unfinished(open)?;
                    self.notices.push_back(format!(
                        "cannot hold tests in progress in a temporary file in {} ({}): \
                         handing on test {} before its end",
                        self.spill.dir().display(),
                        crate::os::io_message(&err),
                        crate::os::shortened(&test.test_id, 200)
                    ));
                    self.forced.push_back(test);
                }
            }
        }
        Ok(())
    }
}

/// A size in bytes as `--max-held` takes it: `256M` rather than 268435456.
pub fn size_text(bytes: usize) -> String {
    for (shift, suffix) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{}{suffix}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
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
        each(&stream, |p| {
            if grouper.add(p).unwrap() {
                let test = grouper.ended();
                done.push((
                    test.test_id.clone(),
                    test.route_code.clone(),
                    test.packets.len(),
                    test.finished,
                ));
            }
        });
        assert_eq!(done, [("a".to_string(), Some("1".to_string()), 2, true)]);
        let open: Vec<Test> = grouper.finish().map(Result::unwrap).collect();
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

    /// Interleaved tests, each with a few attachment packets, some never
    /// ending: (test id, packets in stream order).
    fn interleaved(tests: usize, chunk: usize) -> Vec<u8> {
        let content: Vec<u8> = (0..chunk).map(|i| b'a' + (i % 26) as u8).collect();
        let ids: Vec<String> = (0..tests).map(|i| format!("test.{i}")).collect();
        let mut out = Vec::new();
        for round in 0..6 {
            for (i, id) in ids.iter().enumerate() {
                let status = match round {
                    0 => Status::InProgress,
                    5 if i % 7 == 3 => continue, // never ends
                    5 => Status::Success,
                    _ => Status::Unset,
                };
                let event = Event {
                    status,
                    test_id: Some(id),
                    file: (round > 0 && round < 5).then_some(("log", &content[..])),
                    ..Event::default()
                };
                encode(&event, &mut out).unwrap();
            }
        }
        out
    }

    /// What a grouper hands on, as (id, finished, packet bytes), and the
    /// most it held after any packet.
    fn hand_on(grouper: &mut Grouper, stream: &[u8]) -> (Vec<(String, bool, Vec<u8>)>, usize) {
        let mut out = Vec::new();
        let mut most = 0;
        let keep = |test: &Test, out: &mut Vec<_>| {
            out.push((
                test.test_id.clone(),
                test.finished,
                test.packets.bytes().to_vec(),
            ));
        };
        each(stream, |p| {
            if grouper.add(p).unwrap() {
                keep(grouper.ended(), &mut out);
            }
            while let Some(test) = grouper.forced_out() {
                keep(&test, &mut out);
            }
            most = most.max(grouper.held());
        });
        for test in grouper.finish() {
            keep(&test.unwrap(), &mut out);
        }
        (out, most)
    }

    #[test]
    fn beyond_the_cap_tests_wait_in_a_file_and_come_back_the_same() {
        let stream = interleaved(40, 3000);
        let (unbounded, most) = hand_on(&mut Grouper::new(), &stream);
        assert!(most > 300_000, "the run holds {most} bytes at most");
        let cap = 64 * 1024;
        let mut grouper = Grouper::with_max_held(cap, &std::env::temp_dir());
        let (capped, most) = hand_on(&mut grouper, &stream);
        assert!(most <= cap, "held {most} bytes, more than {cap}");
        assert!(capped == unbounded, "what is handed on differs");
        let notice = grouper.notice().expect("a warning");
        assert!(
            notice.starts_with("tests in progress hold more than 64K:"),
            "{notice}"
        );
        assert_eq!(grouper.notice(), None, "one warning");
    }

    #[test]
    fn without_a_file_the_oldest_test_is_handed_on_early() {
        let stream = interleaved(40, 3000);
        let (unbounded, _) = hand_on(&mut Grouper::new(), &stream);
        let cap = 64 * 1024;
        let nowhere = Path::new("/nonexistent/subunit-tools");
        let mut grouper = Grouper::with_max_held(cap, nowhere);
        let (capped, most) = hand_on(&mut grouper, &stream);
        assert!(most <= cap, "held {most} bytes, more than {cap}");
        // Every packet is handed on once, in the order of its test's.
        let packets = |tests: &[(String, bool, Vec<u8>)]| {
            let mut all: Vec<(String, Vec<u8>)> = Vec::new();
            for (id, _, bytes) in tests {
                let mut bytes = &bytes[..];
                while !bytes.is_empty() {
                    let p = decode(bytes).unwrap().unwrap();
                    all.push((id.clone(), p.raw().to_vec()));
                    bytes = &bytes[p.len()..];
                }
            }
            all.sort();
            all
        };
        assert_eq!(packets(&capped), packets(&unbounded));
        let early: Vec<&String> = capped.iter().filter(|t| !t.1).map(|t| &t.0).collect();
        assert!(early.len() > unbounded.iter().filter(|t| !t.1).count());
        assert_eq!(early[0], "test.0", "the test that started first goes first");
        let notice = grouper.notice().unwrap();
        assert!(
            notice.contains("/nonexistent/subunit-tools")
                && notice.ends_with("handing on test test.0 before its end"),
            "{notice}"
        );
    }
}
