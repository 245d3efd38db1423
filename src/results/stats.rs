//! Test-run statistics with python-subunit's meaning.
//!
//! python-subunit's `subunit-stats` feeds the stream through testtools'
//! `StreamToExtendedDecorator`: `exists` packets are ignored; packets are
//! grouped per (test id, route code); a test ends at its first final status
//! (success, uxsuccess, skip, fail, xfail); tests still open at the end of
//! the stream count as failures. A test's tags are those of its latest
//! packet that had tags. Failed counts fail and unfinished tests; passed is
//! total - failed - skipped, so xfail and uxsuccess count as passed.
//!
//! Memory grows with the tests in progress, not with the stream: a finished
//! test leaves only its counts behind, and its record is reused.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use hashbrown::HashTable;
use rustc_hash::FxHashMap as HashMap;

use crate::codec::packet::{Packet, Status, Tags, Timestamp};
use crate::results::group::hash_key;

/// A test that had not finished when the stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    /// Its id.
    pub test_id: String,
    /// Its route code.
    pub route_code: Option<String>,
    /// `InProgress`, or `Unset` when it never had a status.
    pub status: Status,
}

/// A finished test's duration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timed {
    /// From its first to its last timestamp, in nanoseconds.
    pub nanos: u64,
    /// Its id.
    pub test_id: String,
    /// Its route code.
    pub route_code: Option<String>,
}

impl Timed {
    /// The duration in seconds.
    pub fn seconds(&self) -> f64 {
        seconds(u128::from(self.nanos))
    }
}

/// Nanoseconds from `first` to `last` (0 if `last` is earlier).
fn nanos_between(first: Timestamp, last: Timestamp) -> u64 {
    let nanos = |t: Timestamp| i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    u64::try_from(nanos(last) - nanos(first)).unwrap_or(0)
}

/// Nanoseconds as seconds: one correctly rounded division of exact
/// integers, so durations up to days print as their exact decimal
/// (0.26149, not 0.2614901065826416).
fn seconds(nanos: u128) -> f64 {
    let (whole, part) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    match u64::try_from(nanos) {
        Ok(n) if n < 1 << 53 => n as f64 / 1e9,
        _ => whole as f64 + part as f64 / 1e9,
    }
}

/// The statistics of a run, fed packet by packet.
#[derive(Debug, Default)]
pub struct Summary {
    /// Tests in progress, by test id and route code.
    open: HashTable<OpenTest>,
    /// Finished tests' entries, reused for new tests.
    spare: Vec<OpenTest>,
    tags: TagTable,
    outcomes: [u64; 8],
    total: u64,
    failed: u64,
    skipped: u64,
    earliest: Option<Timestamp>,
    latest: Option<Timestamp>,
    test_nanos: u128,
    routes: BTreeMap<String, u64>,
    unfinished: Vec<Unfinished>,
    slowest_wanted: usize,
    slowest: BinaryHeap<Reverse<Timed>>,
}

/// Tags by number, so records hold small numbers rather than strings.
#[derive(Debug, Default)]
struct TagTable {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    seen: Vec<bool>,
    /// Recent tag lists by their wire bytes: most packets repeat one of a
    /// few lists (a worker's tag), which then needs no hashing.
    recent: [(Vec<u8>, Vec<u32>); 8],
}

impl TagTable {
    fn id(&mut self, tag: &str) -> u32 {
        if let Some(&id) = self.ids.get(tag) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(tag.into());
        self.seen.push(false);
        self.ids.insert(tag.into(), id);
        id
    }

    /// Puts the numbers of `tags` in `out`.
    fn ids_of(&mut self, tags: Tags<'_>, out: &mut Vec<u32>) {
        let wire = tags.wire_bytes();
        let slot = (wire.len() + wire.last().map_or(0, |&b| usize::from(b))) % self.recent.len();
        out.clear();
        if self.recent[slot].0 == wire {
            out.extend_from_slice(&self.recent[slot].1);
            return;
        }
        for tag in tags {
            out.push(self.id(tag));
        }
        let (cached_wire, cached_ids) = &mut self.recent[slot];
        cached_wire.clear();
        cached_wire.extend_from_slice(wire);
        cached_ids.clear();
        cached_ids.extend_from_slice(out);
    }
}

/// A test in progress.
#[derive(Debug, Default)]
struct OpenTest {
    test_id: String,
    route_code: Option<String>,
    record: Record,
}

impl OpenTest {
    fn is(&self, test_id: &str, route_code: Option<&str>) -> bool {
        self.test_id == test_id && self.route_code.as_deref() == route_code
    }
}

#[derive(Debug, Default)]
struct Record {
    status: Status,
    tags: Vec<u32>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

impl Record {
    fn update(&mut self, packet: &Packet<'_>, tags: &mut TagTable) {
        let status = packet.status();
        if status != Status::Unset {
            self.status = status;
        }
        if let Some(ts) = packet.timestamp() {
            self.first = self.first.or(Some(ts));
            self.last = Some(ts);
        }
        if let Some(packet_tags) = packet.tags() {
            tags.ids_of(packet_tags, &mut self.tags);
        }
    }
}

impl Summary {
    /// An empty summary that keeps the `slowest` longest tests.
    pub fn new(slowest: usize) -> Summary {
        Summary {
            slowest_wanted: slowest,
            ..Summary::default()
        }
    }

    /// Takes in one packet.
    pub fn packet(&mut self, packet: &Packet<'_>) {
        let timestamp = packet.timestamp();
        if let Some(ts) = timestamp {
            self.earliest = Some(self.earliest.map_or(ts, |e| e.min(ts)));
            self.latest = Some(self.latest.map_or(ts, |l| l.max(ts)));
        }
        let Some(test_id) = packet.test_id() else {
            return;
        };
        let status = packet.status();
        if status == Status::Exists {
            return;
        }
        let route_code = packet.route_code();
        let hash = hash_key(test_id, route_code);
        let is_this = |open: &OpenTest| open.is(test_id, route_code);
        // One lookup for the usual packet; a new test costs a second one.
        if status.is_final() {
            let mut test = match self.open.find_entry(hash, is_this) {
                Ok(entry) => entry.remove().0,
                Err(_) => self.new_test(test_id, route_code),
            };
            test.record.update(packet, &mut self.tags);
            self.finish_test(&test);
            self.spare.push(test);
        } else if let Some(test) = self.open.find_mut(hash, is_this) {
            test.record.update(packet, &mut self.tags);
        } else {
            let mut test = self.new_test(test_id, route_code);
            test.record.update(packet, &mut self.tags);
            self.open.insert_unique(hash, test, |t| {
                hash_key(&t.test_id, t.route_code.as_deref())
            });
        }
    }

    /// An entry for a new test, reusing a finished one's memory.
    fn new_test(&mut self, test_id: &str, route_code: Option<&str>) -> OpenTest {
        let mut test = self.spare.pop().unwrap_or_default();
        test.test_id.clear();
        test.test_id.push_str(test_id);
        match route_code {
            Some(route) => {
                let owned = test.route_code.get_or_insert_with(String::new);
                owned.clear();
                owned.push_str(route);
            }
            None => test.route_code = None,
        }
        test.record.status = Status::Unset;
        test.record.tags.clear();
        test.record.first = None;
        test.record.last = None;
        test
    }

    /// Ends the run: tests still open count as failed (as in python-subunit).
    pub fn finish(&mut self) {
        let mut open: Vec<OpenTest> = self.open.drain().collect();
        open.sort_by(|a, b| (&a.route_code, &a.test_id).cmp(&(&b.route_code, &b.test_id)));
        for test in open {
            self.finish_test(&test);
            self.unfinished.push(Unfinished {
                status: test.record.status,
                test_id: test.test_id,
                route_code: test.route_code,
            });
        }
    }

    fn finish_test(&mut self, test: &OpenTest) {
        let record = &test.record;
        self.total += 1;
        self.outcomes[record.status as usize] += 1;
        match record.status {
            Status::Skip => self.skipped += 1,
            Status::Fail | Status::InProgress | Status::Unset => self.failed += 1,
            _ => {}
        }
        for &tag in &record.tags {
            self.tags.seen[tag as usize] = true;
        }
        if let Some(route) = &test.route_code {
            match self.routes.get_mut(route) {
                Some(n) => *n += 1,
                None => {
                    self.routes.insert(route.clone(), 1);
                }
            }
        }
        if let (Some(first), Some(last)) = (record.first, record.last) {
            let nanos = nanos_between(first, last);
            self.test_nanos += u128::from(nanos);
            self.keep_if_slow(nanos, &test.test_id, test.route_code.as_deref());
        }
    }

    fn keep_if_slow(&mut self, nanos: u64, test_id: &str, route_code: Option<&str>) {
        if self.slowest_wanted == 0 {
            return;
        }
        if self.slowest.len() == self.slowest_wanted {
            match self.slowest.peek() {
                Some(Reverse(least)) if least.nanos < nanos => {
                    self.slowest.pop();
                }
                _ => return,
            }
        }
        self.slowest.push(Reverse(Timed {
            nanos,
            test_id: test_id.to_owned(),
            route_code: route_code.map(str::to_owned),
        }));
    }

    /// Tests seen (finished or not).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Tests that failed or did not finish.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Tests skipped.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Tests neither failed nor skipped (success, xfail, uxsuccess).
    pub fn passed(&self) -> u64 {
        self.total - self.failed - self.skipped
    }

    /// How many tests ended with `status` (`InProgress` and `Unset` for
    /// tests that never finished).
    pub fn outcome(&self, status: Status) -> u64 {
        self.outcomes[status as usize]
    }

    /// The tags of the tests, sorted.
    pub fn seen_tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> = (self.tags.names.iter().zip(&self.tags.seen))
            .filter(|(_, seen)| **seen)
            .map(|(name, _)| &**name)
            .collect();
        tags.sort_unstable();
        tags
    }

    /// Wall-clock time from the earliest to the latest timestamp, in seconds:
    /// the nearest `f64` to the exact difference, worked out in integer
    /// nanoseconds (epoch seconds as `f64` keep only about 0.2 us).
    pub fn run_time(&self) -> Option<f64> {
        let (first, last) = (self.earliest?, self.latest?);
        Some(seconds(u128::from(nanos_between(first, last))))
    }

    /// The durations of all tests added up, in seconds (summed in integer
    /// nanoseconds, so no rounding builds up).
    pub fn test_time(&self) -> f64 {
        seconds(self.test_nanos)
    }

    /// Tests per route code.
    pub fn route_codes(&self) -> &BTreeMap<String, u64> {
        &self.routes
    }

    /// Tests that had not finished at the end (after [`Summary::finish`]).
    pub fn unfinished(&self) -> &[Unfinished] {
        &self.unfinished
    }

    /// The slowest tests, slowest first.
    pub fn slowest(&self) -> Vec<&Timed> {
        let mut slowest: Vec<&Timed> = self.slowest.iter().map(|Reverse(t)| t).collect();
        slowest.sort_by(|a, b| b.cmp(a));
        slowest
    }

    /// Whether no test failed (python-subunit's exit status 0).
    pub fn was_successful(&self) -> bool {
        self.failed == 0
    }

    /// python-subunit's summary text, byte for byte.
    pub fn python_text(&self) -> String {
        format!(
            "Total tests:   {:5}\nPassed tests:  {:5}\nFailed tests:  {:5}\nSkipped tests: {:5}\nSeen tags: {}\n",
            self.total,
            self.passed(),
            self.failed,
            self.skipped,
            self.seen_tags().join(", ")
        )
    }
}
