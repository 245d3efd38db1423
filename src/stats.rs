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

use crate::packet::{Packet, Status, Timestamp};

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
        self.nanos as f64 / 1e9
    }
}

/// The statistics of a run, fed packet by packet.
#[derive(Debug, Default)]
pub struct Summary {
    open: HashMap<String, Record>,
    key: String,
    spare: Vec<(String, Record)>,
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
            self.tags.clear();
            self.tags.extend(packet_tags.map(|tag| tags.id(tag)));
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
        self.key.clear();
        match route_code {
            // Strings hold no NUL, so the first NUL ends the route code.
            Some(route) => {
                self.key.push('R');
                self.key.push_str(route);
            }
            None => self.key.push('-'),
        }
        self.key.push('\0');
        self.key.push_str(test_id);

        // One lookup for the usual packet; a new test costs a second one.
        if status.is_final() {
            let (key, mut record) = match self.open.remove_entry(self.key.as_str()) {
                Some(entry) => entry,
                None => self.new_record(),
            };
            record.update(packet, &mut self.tags);
            self.finish_test(test_id, route_code, &record);
            self.spare.push((key, record));
        } else if let Some(record) = self.open.get_mut(self.key.as_str()) {
            record.update(packet, &mut self.tags);
        } else {
            let (key, mut record) = self.new_record();
            record.update(packet, &mut self.tags);
            self.open.insert(key, record);
        }
    }

    /// A record for a new test keyed by `self.key`, reusing a finished one.
    fn new_record(&mut self) -> (String, Record) {
        let (mut key, mut record) = self.spare.pop().unwrap_or_default();
        key.clear();
        key.push_str(&self.key);
        record.status = Status::Unset;
        record.tags.clear();
        record.first = None;
        record.last = None;
        (key, record)
    }

    /// Ends the run: tests still open count as failed (as in python-subunit).
    pub fn finish(&mut self) {
        let mut open: Vec<(String, Record)> = self.open.drain().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, record) in open {
            let (route, test_id) = key.split_once('\0').unwrap_or(("-", &key));
            let route_code = route.strip_prefix('R');
            self.finish_test(test_id, route_code, &record);
            self.unfinished.push(Unfinished {
                test_id: test_id.to_owned(),
                route_code: route_code.map(str::to_owned),
                status: record.status,
            });
        }
    }

    fn finish_test(&mut self, test_id: &str, route_code: Option<&str>, record: &Record) {
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
        if let Some(route) = route_code {
            match self.routes.get_mut(route) {
                Some(n) => *n += 1,
                None => {
                    self.routes.insert(route.to_owned(), 1);
                }
            }
        }
        if let (Some(first), Some(last)) = (record.first, record.last) {
            let nanos = |t: Timestamp| i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
            let nanos = u64::try_from(nanos(last) - nanos(first)).unwrap_or(0);
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
        let mut tags: Vec<&str> = (self.tags.names.iter().zip(&self.tags.seen))
            .filter(|(_, seen)| **seen)
            .map(|(name, _)| &**name)
            .collect();
        tags.sort_unstable();
        tags
    }

    /// Wall-clock time from the earliest to the latest timestamp, in seconds.
    pub fn run_time(&self) -> Option<f64> {
        let (first, last) = (self.earliest?, self.latest?);
        Some(last.as_secs_f64() - first.as_secs_f64())
    }

    /// The durations of all tests added up, in seconds.
    pub fn test_time(&self) -> f64 {
        self.test_nanos as f64 / 1e9
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
