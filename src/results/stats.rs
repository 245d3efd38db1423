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

use rustc_hash::FxHashMap as HashMap;

use crate::codec::packet::{Packet, Status, Tags, Timestamp};
use crate::results::group::{hash_key, hash_key_bytes};
use crate::results::open::{KeyArena, KeyAt, OpenTable};

/// A test that had not finished when the stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unfinished<'a> {
    /// Its id.
    pub test_id: &'a str,
    /// Its route code.
    pub route_code: Option<&'a str>,
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
pub(crate) fn nanos_between(first: Timestamp, last: Timestamp) -> u64 {
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
    open: OpenTable<Record>,
    /// Their keys.
    keys: KeyArena,
    tags: TagTable,
    outcomes: [u64; 8],
    total: u64,
    failed: u64,
    skipped: u64,
    earliest: Option<Timestamp>,
    latest: Option<Timestamp>,
    test_nanos: u128,
    routes: BTreeMap<String, u64>,
    /// The slots of `open` left at the end, in (route code, test id) order.
    unfinished: Vec<u32>,
    slowest_wanted: usize,
    slowest: BinaryHeap<Reverse<Timed>>,
}

/// Tags by number, and tag lists by number, so a test in progress holds
/// one small number for its tags rather than strings or a list.
#[derive(Debug, Default)]
struct TagTable {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    /// Each distinct list of tag numbers, by number.
    lists: Vec<Box<[u32]>>,
    list_ids: HashMap<Box<[u32]>, u32>,
    /// Whether a finished test had the list.
    list_seen: Vec<bool>,
    /// Recent tag lists by their wire bytes: most packets repeat one of a
    /// few lists (a worker's tag), which then needs no hashing.
    recent: [(Vec<u8>, u32); 8],
    scratch: Vec<u32>,
}

/// A test's tag list before any packet gave it tags.
const NO_TAGS: u32 = u32::MAX;

impl TagTable {
    fn id(&mut self, tag: &str) -> u32 {
        if let Some(&id) = self.ids.get(tag) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(tag.into());
        self.ids.insert(tag.into(), id);
        id
    }

    /// The number of the list `tags`.
    fn list_of(&mut self, tags: Tags<'_>) -> u32 {
        let wire = tags.wire_bytes();
        let slot = (wire.len() + wire.last().map_or(0, |&b| usize::from(b))) % self.recent.len();
        if self.recent[slot].1 != NO_TAGS && self.recent[slot].0 == wire {
            return self.recent[slot].1;
        }
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        for tag in tags {
            ids.push(self.id(tag));
        }
        let list = match self.list_ids.get(&ids[..]) {
            Some(&list) => list,
            None => {
                let list = self.lists.len() as u32;
                self.lists.push(ids[..].into());
                self.list_ids.insert(ids[..].into(), list);
                self.list_seen.push(false);
                list
            }
        };
        self.scratch = ids;
        let (cached_wire, cached_list) = &mut self.recent[slot];
        cached_wire.clear();
        cached_wire.extend_from_slice(wire);
        *cached_list = list;
        list
    }
}

/// A test in progress.
#[derive(Clone, Copy, Debug)]
struct Record {
    key: KeyAt,
    status: Status,
    /// Its tag list's number, or [`NO_TAGS`].
    tags: u32,
    /// Whether `first` and `last` hold timestamps.
    timed: bool,
    first: Timestamp,
    last: Timestamp,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            key: KeyAt::default(),
            status: Status::Unset,
            tags: NO_TAGS,
            timed: false,
            first: Timestamp::default(),
            last: Timestamp::default(),
        }
    }
}

impl Record {
    #[inline]
    fn update(&mut self, packet: &Packet<'_>, tags: &mut TagTable) {
        let status = packet.status();
        if status != Status::Unset {
            self.status = status;
        }
        if let Some(ts) = packet.timestamp() {
            if !self.timed {
                self.first = ts;
                self.timed = true;
            }
            self.last = ts;
        }
        if let Some(packet_tags) = packet.tags() {
            self.tags = tags.list_of(packet_tags);
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
        // One lookup for the usual packet; a new test costs a second one.
        let keys = &self.keys;
        let is_this = |r: &Record| keys.is(r.key, test_id, route_code);
        if status.is_final() {
            let mut record = match self.open.remove(hash, is_this) {
                Some(record) => {
                    self.keys.drop_key(record.key);
                    record
                }
                None => Record::default(),
            };
            record.update(packet, &mut self.tags);
            self.finish_test(&record, test_id, route_code);
        } else if let Some(slot) = self.open.find(hash, is_this) {
            self.open.get_mut(slot).update(packet, &mut self.tags);
        } else {
            if self.keys.wants_compacting() {
                self.keys
                    .compact(self.open.values_mut().map(|r| &mut r.key));
            }
            let mut record = Record {
                key: self.keys.add(test_id, route_code),
                ..Record::default()
            };
            record.update(packet, &mut self.tags);
            let keys = &self.keys;
            self.open.insert(hash, record, |r| {
                let (id, route) = keys.get_bytes(r.key);
                hash_key_bytes(id, route)
            });
        }
    }

    /// Ends the run: tests still open count as failed (as in python-subunit).
    /// They stay in the table, where [`Summary::unfinished`] finds them:
    /// copying out their ids could double the memory of a run that ends
    /// with a great many tests in progress.
    pub fn finish(&mut self) {
        let (open, keys) = (
            std::mem::take(&mut self.open),
            std::mem::take(&mut self.keys),
        );
        let key = |slot: u32| keys.get(open.get(slot).key);
        let mut slots: Vec<u32> = open.slots().collect();
        slots.sort_by(|&a, &b| {
            let bytes = |slot: u32| keys.get_bytes(open.get(slot).key);
            let ((a_id, a_route), (b_id, b_route)) = (bytes(a), bytes(b));
            (a_route, a_id).cmp(&(b_route, b_id))
        });
        for &slot in &slots {
            let (test_id, route_code) = key(slot);
            self.finish_test(open.get(slot), test_id, route_code);
        }
        (self.open, self.keys) = (open, keys);
        self.unfinished = slots;
    }

    fn finish_test(&mut self, record: &Record, test_id: &str, route_code: Option<&str>) {
        self.total += 1;
        self.outcomes[record.status as usize] += 1;
        match record.status {
            Status::Skip => self.skipped += 1,
            Status::Fail | Status::InProgress | Status::Unset => self.failed += 1,
            _ => {}
        }
        if record.tags != NO_TAGS {
            self.tags.list_seen[record.tags as usize] = true;
        }
        if let Some(route) = route_code {
            match self.routes.get_mut(route) {
                Some(n) => *n += 1,
                None => {
                    self.routes.insert(route.to_owned(), 1);
                }
            }
        }
        if record.timed {
            let nanos = nanos_between(record.first, record.last);
            self.test_nanos += u128::from(nanos);
            self.keep_if_slow(nanos, test_id, route_code);
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
        let mut seen = vec![false; self.tags.names.len()];
        for (list, _) in (self.tags.lists.iter().zip(&self.tags.list_seen)).filter(|(_, s)| **s) {
            for &tag in list.iter() {
                seen[tag as usize] = true;
            }
        }
        let mut tags: Vec<&str> = (self.tags.names.iter().zip(&seen))
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

    /// Tests that had not finished at the end (after [`Summary::finish`]),
    /// by route code and test id.
    pub fn unfinished(&self) -> impl ExactSizeIterator<Item = Unfinished<'_>> {
        self.unfinished.iter().map(|&slot| {
            let record = self.open.get(slot);
            let (test_id, route_code) = self.keys.get(record.key);
            Unfinished {
                test_id,
                route_code,
                status: record.status,
            }
        })
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
