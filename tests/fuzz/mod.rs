//! The properties the fuzz targets check, shared by `fuzz/` (cargo-fuzz,
//! nightly) and `tests/fuzz_corpus.rs`, which replays every checked-in
//! corpus file through them as a plain test, so CI always runs them.
//!
//! Each check takes the fuzzer's bytes and panics when a property fails.

#![allow(dead_code)]

use std::io::{self, Read};

use subunit_tools::codec::decode;
use subunit_tools::formats::tap::{TapEvent, TapReader};
use subunit_tools::formats::v1::{V1Event, V1Parser, V1Writer};
use subunit_tools::patterns;
use subunit_tools::results::group::{Grouper, Test};
use subunit_tools::stream::reader::{Item, StreamReader};

/// A property check: panics when the property fails on these bytes.
pub type Check = fn(&[u8]);

/// The fuzz targets by name, each with its check: `fuzz/fuzz_targets/NAME.rs`
/// calls the check, and `tests/data/fuzz/NAME/` is its corpus.
pub const TARGETS: &[(&str, Check)] = &[
    ("reader", reader),
    ("group", group),
    ("v1_parse", v1_parse),
    ("v1_roundtrip", v1_roundtrip),
    ("tap", tap),
    ("patterns", patterns),
];

/// A source that hands its bytes out in pieces of varying sizes, from 1
/// byte up, derived from a seed: the reader must not care.
struct Pieces<'a> {
    bytes: &'a [u8],
    state: u32,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        // Mostly small pieces, sometimes large ones.
        let size = match self.state >> 28 {
            0..=9 => 1 + (self.state >> 8) as usize % 8,
            10..=13 => 1 + (self.state >> 8) as usize % 300,
            _ => 1 + (self.state >> 8) as usize % 70_000,
        };
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// What a reader handed on, with adjacent chatter joined (it may come in
/// any number of pieces).
#[derive(Debug, PartialEq, Eq)]
enum Out {
    Packet(Vec<u8>),
    Chatter(Vec<u8>),
}

fn read_all(mut reader: StreamReader<impl Read>) -> (Vec<Out>, Option<u64>) {
    let mut out = Vec::new();
    let mut offset = 0u64;
    while let Some(item) = reader.next().expect("reading from memory cannot fail") {
        match item {
            Item::Packet(packet) => {
                let raw = packet.raw();
                // A packet re-decodes to itself.
                let again = decode::decode(raw)
                    .expect("a packet the reader gave re-decodes")
                    .expect("a packet the reader gave is whole");
                assert_eq!(again.raw(), raw);
                assert_eq!(again.test_id(), packet.test_id());
                assert_eq!(again.status(), packet.status());
                offset += raw.len() as u64;
                out.push(Out::Packet(raw.to_vec()));
            }
            Item::Chatter(chatter) => {
                assert!(!chatter.bytes.is_empty(), "empty chatter handed on");
                assert_eq!(chatter.offset, offset, "chatter offset");
                offset += chatter.bytes.len() as u64;
                match out.last_mut() {
                    Some(Out::Chatter(run)) => run.extend_from_slice(chatter.bytes),
                    _ => out.push(Out::Chatter(chatter.bytes.to_vec())),
                }
            }
            Item::Idle => panic!("a reader of memory never idles"),
        }
    }
    assert_eq!(reader.offset(), offset, "reader offset");
    (out, reader.damage().map(|d| d.count))
}

/// The reader: every byte comes out once, in order (SPEC 2.4); what comes
/// out does not depend on how the input was split into reads; every packet
/// re-decodes to itself. The first byte seeds the read sizes.
pub fn reader(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let (whole, damaged) = read_all(StreamReader::new(stream));
    let joined: Vec<u8> = whole
        .iter()
        .flat_map(|out| match out {
            Out::Packet(bytes) | Out::Chatter(bytes) => bytes.iter().copied(),
        })
        .collect();
    assert_eq!(joined, stream, "bytes conserved");
    let pieces = Pieces {
        bytes: stream,
        state: u32::from(seed),
    };
    let (split, split_damaged) = read_all(StreamReader::new(pieces));
    assert_eq!(whole, split, "independent of read sizes");
    assert_eq!(damaged, split_damaged, "damage independent of read sizes");
}

/// The tests a grouper hands on, in order, each as (id, route code,
/// finished, its packets' bytes); with a cap, also that the cap holds.
fn grouped(stream: &[u8], mut grouper: Grouper, cap: usize) -> Vec<GroupedTest> {
    let mut reader = StreamReader::new(stream);
    let mut tests = Vec::new();
    let take = |test: &Test, tests: &mut Vec<GroupedTest>| {
        let packets: Vec<Vec<u8>> = test.packets.iter().map(|p| p.raw().to_vec()).collect();
        for packet in test.packets.iter() {
            assert_eq!(packet.test_id(), Some(test.test_id.as_str()));
            assert_eq!(packet.route_code(), test.route_code.as_deref());
        }
        let finals = test
            .packets
            .iter()
            .filter(|p| p.status().is_final())
            .count();
        assert_eq!(
            finals,
            usize::from(test.finished),
            "one final status ends a test"
        );
        tests.push((
            test.test_id.clone(),
            test.route_code.clone(),
            test.finished,
            packets,
        ));
    };
    while let Some(item) = reader.next().unwrap() {
        if let Item::Packet(packet) = item {
            if grouper.add(&packet).expect("the spill file works") {
                take(grouper.ended(), &mut tests);
            }
            assert!(
                grouper.held() <= cap,
                "held {} over the cap {cap}",
                grouper.held()
            );
            assert!(
                grouper.forced_out().is_none(),
                "forced out with a working spill file"
            );
        }
    }
    for test in grouper.finish() {
        let test = test.expect("the spill file reads back");
        assert!(!test.finished);
        take(&test, &mut tests);
    }
    assert_eq!(grouper.open_tests(), 0);
    tests
}

type GroupedTest = (String, Option<String>, bool, Vec<Vec<u8>>);

/// The packets of a stream as the grouper of subunit-filter and
/// subunit-2to1 sees them: every packet with a test id comes out in exactly
/// one test, in stream order within it, and a test holds only its own.
/// With a cap on what is held in memory (from the first byte; the rest
/// goes to a temporary file), the tests handed on are exactly the same.
pub fn group(data: &[u8]) {
    let Some((&cap, stream)) = data.split_first() else {
        return;
    };
    let unbounded = grouped(stream, Grouper::new(), usize::MAX);
    let mut given: Vec<&[u8]> = Vec::new();
    let mut reader = StreamReader::new(stream);
    let mut all = Vec::new();
    while let Some(item) = reader.next().unwrap() {
        if let Item::Packet(packet) = item {
            if packet.test_id().is_some() {
                all.push(packet.raw().to_vec());
            }
        }
    }
    given.extend(all.iter().map(Vec::as_slice));
    let mut got: Vec<&[u8]> = unbounded
        .iter()
        .flat_map(|t| t.3.iter().map(Vec::as_slice))
        .collect();
    given.sort();
    got.sort();
    assert_eq!(given, got, "every packet in exactly one test");
    let cap = usize::from(cap) * 64;
    let capped = grouped(
        stream,
        Grouper::with_max_held(cap, &std::env::temp_dir()),
        cap,
    );
    assert_eq!(unbounded, capped, "a cap on what is held changes nothing");
}

fn v1_events(text: &[u8]) -> Vec<V1Event> {
    let mut parser = V1Parser::new();
    let mut events = Vec::new();
    for line in text.split_inclusive(|b| *b == b'\n') {
        parser.line(line, &mut events);
    }
    parser.finish(&mut events);
    events
}

/// The v1 parser on any text: no panic, and after `finish` it is as new
/// (the same text again gives the same events).
pub fn v1_parse(data: &[u8]) {
    let mut parser = V1Parser::new();
    let mut first = Vec::new();
    let mut second = Vec::new();
    for events in [&mut first, &mut second] {
        for line in data.split_inclusive(|b| *b == b'\n') {
            parser.line(line, events);
        }
        parser.finish(events);
    }
    assert_eq!(first, second, "the parser is as new after finish");
    assert_eq!(first, v1_events(data));
}

/// Whether a test can be said in v1 at all: its id, tags and attachment
/// names must be single lines v1's grammar can carry.
fn v1_can_carry(test: &Test) -> bool {
    let line_safe =
        |s: &str| !s.is_empty() && !s.contains(['\n', '\r']) && s.trim() == s && !s.contains(" [");
    line_safe(&test.test_id)
        && test
            .tags()
            .iter()
            .all(|t| !t.is_empty() && !t.starts_with('-') && !t.contains(char::is_whitespace))
        && test.attachments().iter().all(|a| line_safe(a.name))
}

/// What subunit-2to1 writes for a test reads back, through our v1 parser,
/// as the same test: its id, its outcome and its attachments' contents.
pub fn v1_roundtrip(data: &[u8]) {
    let mut reader = StreamReader::new(data);
    let mut grouper = Grouper::new();
    while let Some(item) = reader.next().unwrap() {
        if let Item::Packet(packet) = item {
            if packet.test_id().is_some()
                && packet.status() != subunit_tools::codec::packet::Status::Exists
                && grouper.add(&packet).unwrap()
            {
                reads_back_in_v1(grouper.ended());
            }
        }
    }
    for test in grouper.finish() {
        reads_back_in_v1(&test.unwrap());
    }
}

/// What subunit-2to1 writes for `test`, if v1 can say it, reads back as it.
fn reads_back_in_v1(test: &Test) {
    if !v1_can_carry(test) {
        return;
    }
    let mut text = Vec::new();
    V1Writer.test(test, &mut text);
    let events = v1_events(&text);
    let outcome = events.iter().find_map(|e| match e {
        V1Event::Outcome {
            test_id,
            status,
            attachments,
        } => Some((test_id, status, attachments)),
        _ => None,
    });
    let (test_id, _status, attachments) = outcome.unwrap_or_else(|| {
        panic!(
            "no outcome read back from {:?}",
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(test_id, &test.test_id);
    let mut want: Vec<(String, Vec<u8>)> = test
        .attachments()
        .iter()
        .map(|a| (a.name.to_owned(), a.chunks.concat()))
        .collect();
    want.sort();
    let mut have: Vec<(String, Vec<u8>)> = attachments
        .iter()
        .map(|(name, _mime, chunks)| (name.clone(), chunks.concat()))
        .collect();
    have.sort();
    assert_eq!(want, have, "attachments read back");
}

/// The TAP reader on any lines: no panic, missing ranges are ordered, and
/// after `finish` it is as new (the same lines again give the same events).
pub fn tap(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut reader = TapReader::new();
    let mut runs = [Vec::new(), Vec::new()];
    for run in &mut runs {
        let mut record = |event: TapEvent<'_>| {
            if let TapEvent::Missing { first, last } = event {
                assert!(1 <= first && first <= last, "missing {first}..{last}");
            }
            if let TapEvent::Result(result) = event {
                assert!(result.number >= 1);
            }
            run.push(format!("{event:?}"));
        };
        for line in text.split('\n') {
            reader.line(line, &mut record);
        }
        reader.finish(&mut record);
    }
    assert_eq!(runs[0], runs[1], "the reader is as new after finish");
}

/// subunit-filter's user patterns (`--with`, `--without`, `--rename`):
/// the input is a pattern, a replacement and a test id, NUL-separated.
/// Whatever they are, building and applying them does not panic, a rename
/// gives a string, and (with `make fuzz`'s per-input timeout) nothing the
/// limits let through is slow.
pub fn patterns(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let (pattern, replacement, id) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if let Ok(Some(any)) = patterns::compile_any_multiline("--with", &[pattern.to_owned()]) {
        any.is_match(id);
    }
    let Ok(from) = patterns::compile("--rename", pattern) else {
        return;
    };
    if let Ok(to) = patterns::python_replacement(replacement, &from) {
        let renamed = from.replace_all(id, to.as_str());
        if !from.is_match(id) {
            assert_eq!(renamed, id, "a rename that does not match changes nothing");
        }
    }
}
