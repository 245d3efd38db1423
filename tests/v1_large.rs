//! `subunit-1to2` on large v1 input, in memory that does not grow with it:
//!
//! - a line without a newline of many MiB converts byte for byte, in
//!   `stdout` file packets (time linear in its length);
//! - a details block larger than what is held of it goes out in parts,
//!   file packets of the same name with EOF on the last, that decode (with
//!   our `subunit-2to1` and python-subunit's, and back) to the same
//!   attachments as the block;
//! - such a block left open at the end of the input, or malformed after
//!   it began to go out, loses nothing.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{Decoded, run_with_input};
use subunit_tools::Status;

fn ours(name: &str) -> Command {
    common::ours(name)
}

/// Runs `cmd` on `input`, expecting success; (stdout, stderr).
fn run(what: &str, cmd: Command, input: &[u8]) -> (Vec<u8>, String) {
    let out = run_with_input(cmd, input);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what}: exit {}: {stderr}",
        out.status
    );
    (out.stdout, stderr)
}

/// The packets of a stream that must be all packets.
fn packets(what: &str, v2: &[u8]) -> Vec<common::runs::OwnedEvent> {
    common::decode_all(v2)
        .into_iter()
        .map(|item| match item {
            Decoded::Packet(event, _) => event,
            Decoded::Chatter(c) => panic!("{what}: chatter in the output: {} bytes", c.len()),
        })
        .collect()
}

/// What a stream says of its tests: each (test, file name)'s content, its
/// chunks concatenated, and each test's final status.
#[derive(Debug, Default, PartialEq, Eq)]
struct Said {
    files: BTreeMap<(String, String), Vec<u8>>,
    outcomes: BTreeMap<String, Status>,
}

fn said(events: &[common::runs::OwnedEvent]) -> Said {
    let mut said = Said::default();
    for e in events {
        let Some(id) = &e.test_id else { continue };
        if let Some((name, content)) = &e.file {
            said.files
                .entry((id.clone(), name.clone()))
                .or_default()
                .extend_from_slice(content);
        }
        if !matches!(
            e.status,
            Status::Unset | Status::InProgress | Status::Exists
        ) {
            said.outcomes.insert(id.clone(), e.status);
        }
    }
    // testtools ignores empty attachments; so does the comparison.
    said.files.retain(|_, content| !content.is_empty());
    said
}

/// Bytes that are not all alike, so parts out of order would show.
fn varied(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i / 7 + usize::from(seed)) % 26) as u8)
        .collect()
}

#[test]
fn a_long_line_without_a_newline_converts_byte_exact() {
    let line = varied(32 << 20, 1);
    let (v2, _) = run("subunit-1to2", ours("subunit-1to2"), &line);
    let events = packets("subunit-1to2", &v2);
    let mut content = Vec::new();
    for e in &events {
        let (name, bytes) = e.file.as_ref().expect("stdout file packets only");
        assert_eq!(name, "stdout");
        assert!(
            bytes.len() <= 64 * 1024,
            "a packet of {} bytes",
            bytes.len()
        );
        content.extend_from_slice(bytes);
    }
    assert!(content == line, "the packets' content is not the line");
    assert!(events.last().unwrap().eof, "the file ends with EOF");
}

/// A v1 run with two large details blocks (python-subunit's forms): a
/// failure's simple block of 3 MiB of lines, some quoting a `]`, and a
/// skip's multipart block of two attachments, one in many chunks and one
/// in a single chunk of 2.5 MiB without a newline; and what they hold.
fn large_blocks() -> (Vec<u8>, Said) {
    let mut v1 = b"test: a\nfailure: a [\n".to_vec();
    let mut message = Vec::new();
    for i in 0..40_000 {
        let line = format!("  File \"t.py\", line {i}, in test_{i}: {}\n", i * 7);
        if i % 1000 == 0 {
            v1.extend_from_slice(b" ]quoted\n");
            message.extend_from_slice(b"]quoted\n");
        }
        v1.extend_from_slice(line.as_bytes());
        message.extend_from_slice(line.as_bytes());
    }
    v1.extend_from_slice(b"]\ntest: b\nskip: b [ multipart\nContent-Type: text/plain\nlog\n");
    let log = varied(3 << 20, 2);
    for chunk in log.chunks(100_000) {
        v1.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
        v1.extend_from_slice(chunk);
    }
    v1.extend_from_slice(b"0\r\nContent-Type: application/octet-stream\ncore\n");
    let core = varied(5 << 19, 3);
    v1.extend_from_slice(format!("{:X}\r\n", core.len()).as_bytes());
    v1.extend_from_slice(&core);
    v1.extend_from_slice(b"0\r\n]\n");
    let mut expected = Said::default();
    expected
        .files
        .insert(("a".into(), "traceback".into()), message);
    expected.files.insert(("b".into(), "log".into()), log);
    expected.files.insert(("b".into(), "core".into()), core);
    expected.outcomes.insert("a".into(), Status::Fail);
    expected.outcomes.insert("b".into(), Status::Skip);
    (v1, expected)
}

#[test]
fn large_details_blocks_go_out_in_parts_and_decode_the_same() {
    let (v1, expected) = large_blocks();
    let (v2, stderr) = run("subunit-1to2", ours("subunit-1to2"), &v1);
    assert!(stderr.is_empty(), "{stderr}");
    let events = packets("subunit-1to2", &v2);
    assert_eq!(said(&events), expected, "what our subunit-1to2 wrote");
    // In parts: several packets per attachment, EOF on the last only.
    for (test, name) in [("a", "traceback"), ("b", "log"), ("b", "core")] {
        let parts: Vec<_> = events
            .iter()
            .filter(|e| {
                e.test_id.as_deref() == Some(test)
                    && e.file.as_ref().is_some_and(|(n, _)| n == name)
            })
            .collect();
        assert!(parts.len() > 1, "{test} {name}: one packet");
        assert!(
            parts.last().unwrap().eof,
            "{test} {name}: no EOF at the end"
        );
        assert!(
            parts[..parts.len() - 1].iter().all(|p| !p.eof),
            "{test} {name}: EOF before the end"
        );
    }
    // Our subunit-2to1 writes the blocks back; read again, they say the
    // same. So does python-subunit's, when it is there.
    let (again, _) = run("subunit-2to1", ours("subunit-2to1"), &v2);
    let (v2_again, _) = run("subunit-1to2 again", ours("subunit-1to2"), &again);
    assert_eq!(
        said(&packets("round trip", &v2_again)),
        expected,
        "our round trip"
    );
    if let Some(py) = common::python_subunit() {
        let (theirs, _) = run(
            "python subunit-2to1",
            Command::new(py.join("subunit-2to1")),
            &v2,
        );
        let (v2_theirs, _) = run("subunit-1to2 of python's", ours("subunit-1to2"), &theirs);
        assert_eq!(
            said(&packets("python round trip", &v2_theirs)),
            expected,
            "through python-subunit's subunit-2to1"
        );
    }
}

#[test]
fn a_large_block_cut_short_or_malformed_loses_nothing() {
    // Left open by the end of the input: what came is the traceback, which
    // ends with python-subunit's lost-connection words; the test fails.
    let message = varied(3 << 20, 4);
    let mut v1 = b"test: a\nerror: a [\n".to_vec();
    v1.extend_from_slice(&message);
    let (v2, _) = run("subunit-1to2", ours("subunit-1to2"), &v1);
    let said_open = said(&packets("open block", &v2));
    let traceback = &said_open.files[&("a".to_string(), "traceback".to_string())];
    assert!(
        traceback.starts_with(&message),
        "the block's bytes come first"
    );
    let words = b"lost connection during failure report of test 'a'\n";
    assert!(traceback.ends_with(words), "then the lost connection");
    assert_eq!(said_open.outcomes["a"], Status::Fail);

    // Malformed after 2 MiB went out: the chunks so far are the attachment,
    // the rest of the block is chatter (stdout), counted on stderr.
    let log = varied(2 << 20, 5);
    let mut v1 = b"test: b\nfailure: b [ multipart\nContent-Type: text/plain\nlog\n".to_vec();
    v1.extend_from_slice(format!("{:X}\r\n", log.len()).as_bytes());
    v1.extend_from_slice(&log);
    let rest = b"zz\r\nnot a chunk\n]\nsuccess: b\n";
    v1.extend_from_slice(rest);
    let (v2, stderr) = run("subunit-1to2", ours("subunit-1to2"), &v1);
    assert!(stderr.contains("1 malformed v1 block"), "{stderr}");
    let said_bad = said(&packets("malformed block", &v2));
    assert!(said_bad.files[&("b".to_string(), "log".to_string())] == log);
    let chatter: Vec<u8> = packets("malformed block", &v2)
        .iter()
        .filter(|e| e.test_id.is_none())
        .filter_map(|e| e.file.as_ref().map(|(_, c)| c.clone()))
        .flatten()
        .collect();
    assert_eq!(chatter, b"zz\r\nnot a chunk\n]\n", "the rest, as chatter");
    assert_eq!(said_bad.outcomes["b"], Status::Success);
}
