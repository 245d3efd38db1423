//! `subunit-tags`: the same events as python-subunit's on generated runs,
//! the corpus, the valid vectors and odd streams; the packets it does not
//! change forwarded byte for byte; what ours does where python loses data
//! or crashes.

mod common;

use std::path::Path;

use common::procs::TempDir;
use common::runs::{OwnedEvent, RunShape, stream};
use common::tools::{
    at, awkward_streams, generated_runs, invalid_vector, output, packet, python_tool, status,
};
use common::{Decoded, corpus, decode_all, ours, python_subunit, run_with_input, vectors};
use subunit_tools::{Event, MAX_PACKET_LEN, Status, Timestamp};

const TAG_ARGS: [&[&str]; 3] = [
    &["foo"],
    &["-worker-0", "worker-1"],
    &["foo", "-foo", "bar"],
];

/// What a tagged stream says, as it can be compared with python's: the
/// packets with a test id, with timestamps in whole microseconds (python
/// keeps no more), tags as sorted sets, empty tag lists and MIME types
/// absent (python drops them); the bytes outside tests (chatter and files
/// without a test id) joined, and each such packet's tags.
#[derive(Debug, PartialEq, Eq)]
struct Said {
    tests: Vec<OwnedEvent>,
    other: Vec<u8>,
    other_tags: Vec<Option<Vec<String>>>,
}

fn micros(ts: Timestamp) -> Timestamp {
    let (q, r) = (u64::from(ts.nanos) / 1000, u64::from(ts.nanos) % 1000);
    let micros = match r {
        0..=499 => q,
        500 => q + (q & 1),
        _ => q + 1,
    };
    let total = u64::from(ts.seconds) * 1_000_000 + micros;
    Timestamp {
        seconds: (total / 1_000_000) as u32,
        nanos: (total % 1_000_000) as u32 * 1000,
    }
}

fn said(stream: &[u8]) -> Said {
    let mut said = Said {
        tests: Vec::new(),
        other: Vec::new(),
        other_tags: Vec::new(),
    };
    for item in decode_all(stream) {
        match item {
            Decoded::Chatter(bytes) => said.other.extend_from_slice(&bytes),
            Decoded::Packet(mut e, _) => {
                e.timestamp = e.timestamp.map(micros);
                e.tags = e.tags.filter(|t| !t.is_empty()).map(|mut t| {
                    t.sort();
                    t.dedup();
                    t
                });
                e.mime = e.mime.filter(|m| !m.is_empty());
                if e.test_id.is_none() {
                    if let Some((_, content)) = &e.file {
                        said.other.extend_from_slice(content);
                    }
                    said.other_tags.push(e.tags);
                } else {
                    said.tests.push(e);
                }
            }
        }
    }
    said
}

/// Runs both on `stream` with `args`: the same tests, the same bytes
/// outside tests, every packet outside tests with the tags python gives
/// its (the chatter is cut into packets differently).
fn compare(bin: &Path, stream: &[u8], args: &[&str], what: &str) {
    let mut py = python_tool(bin, "subunit-tags");
    py.args(args);
    let py = run_with_input(py, stream);
    let mut us = ours("subunit-tags");
    us.args(args);
    let us = run_with_input(us, stream);
    assert!(
        us.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&us.stderr)
    );
    if String::from_utf8_lossy(&py.stderr).contains("ValueError: Length too long") {
        // A packet the tags make too long: see a_packet_made_too_long_is_split.
        return;
    }
    assert!(
        py.status.success(),
        "{what} {args:?}: python: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let (ours_said, py_said) = (said(&us.stdout), said(&py.stdout));
    assert_eq!(
        ours_said.tests.len(),
        py_said.tests.len(),
        "{what} {args:?}"
    );
    for (i, (a, b)) in ours_said.tests.iter().zip(&py_said.tests).enumerate() {
        assert_eq!(a, b, "{what} {args:?}: test packet {i}");
    }
    assert!(
        ours_said.other == py_said.other,
        "{what} {args:?}: the bytes outside tests"
    );
    let expected = py_said.other_tags.first().cloned();
    for tags in ours_said.other_tags.iter().chain(&py_said.other_tags) {
        assert_eq!(
            Some(tags),
            expected.as_ref(),
            "{what} {args:?}: tags outside tests"
        );
    }
}

#[test]
fn generated_and_awkward_streams_tag_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    for (name, stream) in generated_runs().into_iter().chain(awkward_streams()) {
        if name.contains("4 MiB") {
            continue; // python crashes: see a_packet_made_too_long_is_split
        }
        for args in TAG_ARGS {
            compare(&bin, &stream, args, &name);
        }
    }
}

#[test]
fn the_corpus_and_valid_vectors_tag_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    let valid = vectors()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| !invalid_vector(p));
    for path in corpus().into_iter().chain(valid) {
        let stream = std::fs::read(&path).expect("read");
        for args in TAG_ARGS {
            compare(&bin, &stream, args, &path.display().to_string());
        }
    }
}

#[test]
fn unchanged_packets_are_forwarded_byte_for_byte() {
    let run = stream(&RunShape {
        tests: 500,
        ..RunShape::default()
    });
    // No packet has the tag: the output is the input.
    let mut cmd = ours("subunit-tags");
    cmd.arg("-absent");
    let out = run_with_input(cmd, &run);
    assert!(out.status.success());
    assert!(out.stdout == run, "removing an absent tag changes nothing");

    // Adding worker-0: the packets that had it come as they were, the
    // others anew with the tag after their own, their fields intact.
    let mut cmd = ours("subunit-tags");
    cmd.arg("worker-0");
    let out = run_with_input(cmd, &run);
    let (before, after) = (decode_all(&run[..]), decode_all(&out.stdout[..]));
    assert_eq!(before.len(), after.len());
    let mut kept = 0;
    for (b, a) in before.iter().zip(&after) {
        let (Decoded::Packet(b, b_raw), Decoded::Packet(a, a_raw)) = (b, a) else {
            panic!("chatter in a stream without any");
        };
        let had = b
            .tags
            .as_ref()
            .is_some_and(|t| t.contains(&"worker-0".into()));
        if had {
            assert_eq!(a_raw, b_raw);
            kept += 1;
        } else {
            let mut expected = b.clone();
            expected
                .tags
                .get_or_insert_with(Vec::new)
                .push("worker-0".into());
            assert_eq!(a, &expected);
        }
    }
    assert!(kept > 50, "{kept} packets had the tag");
}

#[test]
fn a_packet_made_too_long_is_split_where_python_crashes() {
    // A packet of the largest size, with file content: a tag more does
    // not fit.
    let full_packet = |content: &[u8]| {
        let mut out = Vec::new();
        packet(
            &mut out,
            Event {
                status: Status::Fail,
                runnable: true,
                eof: true,
                timestamp: at(0, 123),
                test_id: Some("big"),
                mime: Some("text/plain"),
                file: Some(("log", content)),
                ..Event::default()
            },
        );
        out
    };
    let overhead = full_packet(&[0; 1 << 20]).len() - (1 << 20);
    let content = vec![b'x'; MAX_PACKET_LEN - overhead];
    let full = full_packet(&content);
    assert_eq!(full.len(), MAX_PACKET_LEN);
    if let Some(bin) = python_subunit() {
        let mut py = python_tool(&bin, "subunit-tags");
        py.arg("a-long-enough-tag");
        let py = run_with_input(py, &full);
        assert!(
            String::from_utf8_lossy(&py.stderr).contains("ValueError: Length too long"),
            "python: {}",
            String::from_utf8_lossy(&py.stderr)
        );
    }
    let mut cmd = ours("subunit-tags");
    cmd.arg("a-long-enough-tag");
    let out = run_with_input(cmd, &full);
    assert!(out.status.success() && out.stderr.is_empty());
    let packets: Vec<OwnedEvent> = decode_all(&out.stdout[..])
        .into_iter()
        .map(|d| match d {
            Decoded::Packet(e, _) => e,
            Decoded::Chatter(_) => panic!("chatter"),
        })
        .collect();
    assert_eq!(packets.len(), 2, "split in two");
    let joined: Vec<u8> = packets
        .iter()
        .flat_map(|p| p.file.as_ref().expect("file").1.clone())
        .collect();
    assert!(joined == content);
    let last = &packets[1];
    assert_eq!((last.status, last.eof), (Status::Fail, true));
    assert_eq!(last.tags, Some(vec!["a-long-enough-tag".to_owned()]));
    assert_eq!((packets[0].status, packets[0].eof), (Status::Unset, false));
    assert_eq!(packets[0].timestamp, at(0, 123), "nanoseconds kept");
}

#[test]
fn damage_and_chatter_become_tagged_stdout_packets() {
    let mut input = b"build output\n".to_vec();
    let mut damaged = Vec::new();
    status(&mut damaged, "damaged", Status::Fail, None);
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    input.extend_from_slice(&damaged);
    status(&mut input, "after", Status::Success, None);
    let mut cmd = ours("subunit-tags");
    cmd.args(["new", "-h"]);
    let out = run_with_input(cmd, &input);
    assert!(out.status.success());
    let said = said(&out.stdout);
    let mut other = b"build output\n".to_vec();
    other.extend_from_slice(&damaged);
    assert!(said.other == other, "the damaged bytes are kept");
    assert!(
        said.other_tags
            .iter()
            .all(|t| t == &Some(vec!["new".to_owned()])),
        "{:?}",
        said.other_tags
    );
    assert_eq!(said.tests.len(), 1);
    assert_eq!(said.tests[0].tags, Some(vec!["new".to_owned()]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 damaged packet kept as chatter"),
        "{stderr}"
    );
}

#[test]
fn files_are_read_in_order_and_double_dashes_are_not_tags() {
    let dir = TempDir::new("tags-files");
    let mut first = Vec::new();
    status(&mut first, "one", Status::Success, None);
    let mut second = Vec::new();
    status(&mut second, "two", Status::Success, None);
    let (a, b) = (dir.file("a", &first), dir.file("b", &second));
    let mut cmd = ours("subunit-tags");
    cmd.arg("t").arg("--file").arg(&a).arg("--file").arg(&b);
    let out = output(cmd);
    let mut stdin = ours("subunit-tags");
    stdin.arg("t");
    assert_eq!(
        out.stdout,
        run_with_input(stdin, &[first, second].concat()).stdout
    );
    assert_eq!(said(&out.stdout).tests.len(), 2);

    let mut cmd = ours("subunit-tags");
    cmd.args(["t", "--fiel", "x"]);
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("subunit-tags: unexpected argument '--fiel'"),
        "{stderr}"
    );
}
