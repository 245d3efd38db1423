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

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use crate::codec::batch::PacketBatch;
use crate::codec::packet::{Packet, Status, Timestamp};
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
    started: u64,
    /// Its packets before those in `packets`, in the temporary file.
    spilled: Option<Chain>,
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
#[derive(Debug)]
pub struct Grouper {
    open: HashTable<Test>,
    started: u64,
    spare: Vec<Test>,
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
    let mut hasher = FxHasher::default();
    hasher.write(test_id.as_bytes());
    if let Some(route) = route_code {
        hasher.write(route.as_bytes());
    }
    hasher.finish()
}

fn test_hash(test: &Test) -> u64 {
    hash_key(&test.test_id, test.route_code.as_deref())
}

/// A recycled test keeps its allocations only if they are this small: what
/// spare tests take is not counted as held.
const MAX_SPARE_MEMORY: usize = 64 * 1024;

impl Grouper {
    /// No tests yet, and no cap on what is held.
    pub fn new() -> Grouper {
        Grouper::with_max_held(usize::MAX, &std::env::temp_dir())
    }

    /// No tests yet; the packets of open tests take at most `max_held`
    /// bytes of memory, the rest going to a temporary file in `dir`.
    pub fn with_max_held(max_held: usize, dir: &Path) -> Grouper {
        Grouper {
            open: HashTable::new(),
            started: 0,
            spare: Vec::new(),
            max_held,
            held: 0,
            spill: SpillFile::new(dir),
            spilled_tests: 0,
            forced: VecDeque::new(),
            ended: Test::default(),
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
    /// reused for the next one, and no test is moved about. Packets without
    /// a test id are ignored. An error: the temporary file could not be
    /// read back.
    pub fn add(&mut self, packet: &Packet<'_>) -> io::Result<bool> {
        let Some(test_id) = packet.test_id() else {
            return Ok(false);
        };
        let route_code = packet.route_code();
        let hash = hash_key(test_id, route_code);
        let is_this = |t: &Test| t.test_id == test_id && t.route_code.as_deref() == route_code;
        if packet.status().is_final() {
            let mut test = match self.open.find_entry(hash, is_this) {
                Ok(entry) => {
                    let test = entry.remove().0;
                    self.held -= test.packets.memory();
                    test
                }
                Err(_) => self.new_test(test_id, route_code),
            };
            test.packets.push(packet);
            test.finished = true;
            self.read_back(&mut test)?;
            let done = std::mem::replace(&mut self.ended, test);
            self.recycle(done);
            return Ok(true);
        }
        match self.open.find_mut(hash, is_this) {
            Some(test) => {
                let before = test.packets.memory();
                test.packets.push(packet);
                self.held = self.held - before + test.packets.memory();
            }
            None => {
                let mut test = self.new_test(test_id, route_code);
                test.packets.push(packet);
                self.held += test.packets.memory();
                self.open.insert_unique(hash, test, test_hash);
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
        if self.forced.is_empty() {
            return None;
        }
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
        let mut open: Vec<Test> = self.open.drain().collect();
        open.sort_by_key(|t| std::cmp::Reverse(t.started));
        self.held = 0;
        open.into_iter().map(|mut test| {
            self.read_back(&mut test)?;
            Ok(test)
        })
    }

    /// Keeps a handed-on test's memory for reuse.
    fn recycle(&mut self, test: Test) {
        if self.spare.len() < 64 && test.packets.memory() <= MAX_SPARE_MEMORY {
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
        test.spilled = None;
        self.started += 1;
        test.started = self.started;
        test
    }

    /// Puts the test's packets from the temporary file back before those
    /// it holds, once it leaves the grouper.
    fn read_back(&mut self, test: &mut Test) -> io::Result<()> {
        let Some(chain) = test.spilled.take() else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        self.spill.read(chain, &mut bytes)?;
        bytes.extend_from_slice(test.packets.bytes());
        test.packets = PacketBatch::from_bytes(bytes).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "held packets came back damaged")
        })?;
        self.spilled_tests -= 1;
        if self.spilled_tests == 0 {
            self.spill.empty()?;
        }
        Ok(())
    }

    /// Over the cap: the packets of the tests that started first go to the
    /// temporary file until half the cap is held (so this is not done for
    /// every packet). A test whose packets cannot go there is handed on.
    fn relieve(&mut self) -> io::Result<()> {
        let mut order: Vec<(u64, usize)> = self
            .open
            .iter_buckets()
            .filter_map(|i| self.open.get_bucket(i).map(|t| (t, i)))
            .filter(|(t, _)| !t.packets.is_empty())
            .map(|(t, i)| (t.started, i))
            .collect();
        order.sort_unstable();
        let target = self.max_held / 2;
        for (_, index) in order {
            if self.held <= target {
                break;
            }
            let test = self.open.get_bucket_mut(index).expect("a test's bucket");
            let memory = test.packets.memory();
            match self.spill.append(test.spilled, test.packets.bytes()) {
                Ok(chain) => {
                    if test.spilled.is_none() {
                        self.spilled_tests += 1;
                    }
                    test.spilled = Some(chain);
                    test.packets = PacketBatch::new();
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
                    let entry = self.open.get_bucket_entry(index).expect("a test's bucket");
                    let mut test = entry.remove().0;
                    self.held -= memory;
                    self.notices.push_back(format!(
                        "cannot hold tests in progress in a temporary file in {} ({}): \
                         handing on test {} before its end",
                        self.spill.dir().display(),
                        crate::os::io_message(&err),
                        crate::os::shortened(&test.test_id, 200)
                    ));
                    self.read_back(&mut test)?;
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
