//! `subunit-stats --json` and `--slowest` times: worked out from the
//! integer seconds and nanoseconds of the timestamps, so they print as the
//! exact decimal durations, where seconds since the epoch as a float keep
//! only about 0.2 microseconds.

mod common;

use common::{ours, run_with_input};
use subunit_tools::{Event, Status, Timestamp, encode};

fn at(seconds: u32, nanos: u32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

/// A test from `start` to `end`.
fn timed_test(id: &str, start: Option<Timestamp>, end: Option<Timestamp>) -> Vec<u8> {
    let mut out = Vec::new();
    for (status, timestamp) in [(Status::InProgress, start), (Status::Success, end)] {
        let event = Event {
            status,
            runnable: true,
            test_id: Some(id),
            timestamp,
            ..Event::default()
        };
        encode(&event, &mut out).expect("encode");
    }
    out
}

/// The JSON summary, as text and parsed.
fn stats_json(stream: &[u8]) -> (String, serde_json::Value) {
    let mut cmd = ours("subunit-stats");
    cmd.args(["--json", "--slowest", "3"]);
    let out = run_with_input(cmd, stream);
    assert!(out.status.success(), "exit {}", out.status);
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let doc = serde_json::from_str(&text).expect("one JSON document");
    (text, doc)
}

#[test]
fn run_time_is_exact_where_float_epoch_seconds_are_not() {
    // 1700000000.36149 - 1700000000.1 in f64 is 0.2614901065826416.
    let (first, last) = (
        at(1_700_000_000, 100_000_000),
        at(1_700_000_000, 361_490_000),
    );
    let float_span = last.unwrap().as_secs_f64() - first.unwrap().as_secs_f64();
    assert_ne!(float_span, 0.26149, "the timestamps show the float error");
    let (text, doc) = stats_json(&timed_test("a", first, last));
    assert!(text.contains("\"run_time\": 0.26149,"), "{text}");
    assert_eq!(doc["run_time"], 0.26149);
    assert_eq!(doc["test_time"], 0.26149);
    assert_eq!(doc["slowest"][0]["seconds"], 0.26149);

    // A day and a bit, to the nanosecond.
    let (first, last) = (
        at(1_000_000_000, 123_456_789),
        at(1_000_086_400, 987_654_321),
    );
    let (text, doc) = stats_json(&timed_test("long", first, last));
    assert!(text.contains("\"run_time\": 86400.864197532,"), "{text}");
    assert_eq!(doc["test_time"], 86400.864197532);
    assert_eq!(doc["slowest"][0]["seconds"], 86400.864197532);

    // Nanoseconds beyond a second (the wire allows them) still count.
    let (first, last) = (at(1_700_000_000, 0), at(1_700_000_001, 1_000_000_001));
    let (_, doc) = stats_json(&timed_test("odd", first, last));
    assert_eq!(doc["run_time"], 2.000000001);
}

#[test]
fn test_time_adds_durations_without_rounding() {
    // Three tests of 0.1 s: 0.1 + 0.1 + 0.1 is 0.30000000000000004 in f64.
    let mut stream = Vec::new();
    for (i, id) in ["x", "y", "z"].into_iter().enumerate() {
        let start = 1_700_000_000 + i as u32;
        stream.extend(timed_test(
            id,
            at(start, 250_000_000),
            at(start, 350_000_000),
        ));
    }
    let (text, doc) = stats_json(&stream);
    assert!(text.contains("\"test_time\": 0.3,"), "{text}");
    assert_eq!(doc["run_time"], 2.1);
    let slowest: Vec<f64> = doc["slowest"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["seconds"].as_f64().expect("seconds"))
        .collect();
    assert_eq!(slowest, [0.1, 0.1, 0.1]);
}

/// Header bytes of a candidate claiming `claim` bytes (3-byte length):
/// `flags` and then a field of the given length prefix filling the claim,
/// padded to 16 bytes. Every 16 bytes such a candidate covers the next
/// `claim / 16` ones, and only its CRC rejects it.
fn claiming(flags: [u8; 2], name: &[u8], claim: usize) -> Vec<u8> {
    let varint_3 = |value: usize| (value as u32 | 0x80_0000).to_be_bytes()[1..].to_vec();
    let mut out = vec![0xb3, flags[0], flags[1]];
    out.extend(varint_3(claim));
    out.extend_from_slice(name);
    // What is left of the claim after this header, its last length field
    // (3 bytes) and the CRC.
    out.extend(varint_3(claim - out.len() - 3 - 4));
    out.resize(16, b'x');
    out
}

#[test]
fn overlapping_damaged_candidates_are_all_kept_as_chatter_and_counted() {
    // Candidates whose file content, or test id, fills a 256 KiB claim,
    // every 16 bytes; then enough text for the last ones to be complete.
    // (benches/adversarial.sh times such input: linear in its size.)
    let claim = 256 * 1024;
    let mut input = Vec::new();
    for pattern in [
        claiming([0x20, 0x40], b"\x01x", claim),
        claiming([0x28, 0x01], b"", claim),
    ] {
        for _ in 0..(1 << 20) / 16 {
            input.extend_from_slice(&pattern);
        }
    }
    let candidates = input.len() / 16;
    input.extend(std::iter::repeat_n(b'.', claim));
    let out = run_with_input(ours("subunit-stats"), &input);
    assert!(out.status.success(), "exit {}", out.status);
    // The chatter comes through byte for byte, before the summary.
    assert!(
        out.stdout.starts_with(&input) && out.stdout[input.len()..].starts_with(b"Total tests:"),
        "the output is not the input and the summary"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{candidates} damaged packets kept as chatter")),
        "{stderr}"
    );
    let mut cmd = ours("subunit-stats");
    cmd.args(["--json", "--no-passthrough"]);
    let out = run_with_input(cmd, &input);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["damaged_packets"], candidates as u64);
    assert_eq!(doc["chatter_bytes"], input.len() as u64);
}
