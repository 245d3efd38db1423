//! `subunit-output`: python-subunit's bytes but for the timestamp, for every
//! status, tags, attachments of every size (chunked as python chunks them,
//! the last chunk EOF), from a file or stdin; what ours does where python
//! crashes, and its usage errors.

mod common;

use std::path::Path;

use common::procs::TempDir;
use common::runs::OwnedEvent;
use common::tools::python_tool;
use common::{Decoded, decode_all, ours, python_subunit, run_with_input};
use subunit_tools::Timestamp;

/// The packets of `stream`, which must hold nothing else.
fn packets(stream: &[u8], what: &str) -> Vec<(OwnedEvent, Vec<u8>)> {
    decode_all(stream)
        .into_iter()
        .map(|item| match item {
            Decoded::Packet(e, raw) => (e, raw),
            Decoded::Chatter(c) => panic!("{what}: chatter {:?}", String::from_utf8_lossy(&c)),
        })
        .collect()
}

/// Ours' packets, checked to be python's byte for byte once ours' timestamp
/// (taken while it ran) is replaced by python's.
fn compare(bin: &Path, args: &[&str], stdin: &[u8]) -> Vec<OwnedEvent> {
    let what = format!("{args:?}");
    let mut py = python_tool(bin, "subunit-output");
    py.args(args);
    let py = run_with_input(py, stdin);
    assert!(
        py.status.success(),
        "{what}: python: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let before = Timestamp::now();
    let mut us = ours("subunit-output");
    us.args(args);
    let us = run_with_input(us, stdin);
    let after = Timestamp::now();
    assert!(
        us.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&us.stderr)
    );
    let (ours_packets, py_packets) = (packets(&us.stdout, &what), packets(&py.stdout, &what));
    assert_eq!(ours_packets.len(), py_packets.len(), "{what}: packets");
    let mut events = Vec::new();
    for (i, ((a, _), (b, b_raw))) in ours_packets.into_iter().zip(py_packets).enumerate() {
        assert_eq!(
            a.timestamp.is_some(),
            b.timestamp.is_some(),
            "{what}: packet {i}'s time"
        );
        if let Some(t) = a.timestamp {
            assert!(before <= t && t <= after, "{what}: the time is when it ran");
        }
        let mut same_time = OwnedEvent {
            timestamp: b.timestamp,
            ..a.clone()
        };
        if a.tags.as_ref().is_some_and(|t| t.len() > 1) {
            // python's order is a set's: compare the sets.
            same_time.tags.as_mut().expect("tags").sort();
            let mut sorted = b.clone();
            sorted.tags.as_mut().expect("tags").sort();
            assert_eq!(same_time, sorted, "{what}: packet {i}");
        } else {
            let mut raw = Vec::new();
            same_time.encode(&mut raw);
            assert!(
                raw == b_raw,
                "{what}: packet {i} differs:\nours:   {same_time:?}\npython: {b:?}"
            );
        }
        events.push(a);
    }
    events
}

#[test]
fn every_status_and_tags_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    for status in [
        "--success",
        "--fail",
        "--skip",
        "--xfail",
        "--uxsuccess",
        "--exists",
        "--inprogress",
    ] {
        compare(&bin, &[status, "tests.sh.test_é"], b"");
        compare(&bin, &[status, "t", "--tag", "worker-1"], b"");
    }
    // No status: a bare timestamp packet, or one with tags.
    compare(&bin, &[], b"");
    compare(&bin, &["--tag", "only"], b"");
    // An empty test id counts as none.
    let events = compare(&bin, &["--success", ""], b"");
    assert_eq!(events[0].test_id, None);
    let events = compare(
        &bin,
        &["--fail", "t", "--tag", "b", "--tag", "a", "--tag", "b"],
        b"",
    );
    assert_eq!(
        events[0].tags,
        Some(vec!["b".to_owned(), "a".to_owned()]),
        "as given"
    );
}

#[test]
fn attachments_are_chunked_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    let dir = TempDir::new("output-attach");
    const CHUNK: usize = 3_670_016;
    let bytes = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 % 251) as u8).collect() };
    for (size, chunks) in [(0, 1), (100, 1), (CHUNK, 1), (2 * CHUNK, 2), (8 << 20, 3)] {
        let path = dir.file(&format!("f{size}"), &bytes(size));
        let path = path.to_str().expect("UTF-8 path");
        for args in [
            vec!["--fail", "t", "--attach-file", path],
            vec!["--inprogress", "t", "--attach-file", path, "--tag", "x"],
            vec![
                "--attach-file",
                path,
                "--mimetype",
                "text/plain",
                "--file-name",
                "log",
            ],
        ] {
            let events = compare(&bin, &args, b"");
            assert_eq!(events.len(), chunks, "{args:?}");
            let joined: Vec<u8> = events
                .iter()
                .flat_map(|e| e.file.as_ref().expect("a file").1.clone())
                .collect();
            assert!(joined == bytes(size), "{args:?}: the content");
            assert!(
                events.last().expect("a packet").eof,
                "the last chunk is EOF"
            );
            assert!(events.iter().rev().skip(1).all(|e| !e.eof));
        }
    }
    // An empty MIME type or file name counts as none.
    let path = dir.file("small", b"hello\n");
    let path = path.to_str().expect("UTF-8 path");
    let events = compare(
        &bin,
        &[
            "--skip",
            "t",
            "--attach-file",
            path,
            "--mimetype",
            "",
            "--file-name",
            "",
        ],
        b"",
    );
    assert_eq!(events[0].mime, None);
    assert_eq!(events[0].file.as_ref().expect("a file").0, path);
    // From stdin, 5 MiB: two chunks, named stdin.
    let input = bytes(5 << 20);
    let events = compare(
        &bin,
        &["--success", "from.stdin", "--attach-file", "-"],
        &input,
    );
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].file.as_ref().expect("a file").0, "stdin");
}

#[test]
fn stdin_takes_a_file_name_where_python_crashes() {
    if let Some(bin) = python_subunit() {
        let mut py = python_tool(&bin, "subunit-output");
        py.args(["--fail", "t", "--attach-file", "-", "--file-name", "log"]);
        let py = run_with_input(py, b"text");
        assert!(String::from_utf8_lossy(&py.stderr).contains("AttributeError"));
    }
    let mut cmd = ours("subunit-output");
    cmd.args(["--fail", "t", "--attach-file", "-", "--file-name", "log"]);
    let out = run_with_input(cmd, b"text");
    assert!(out.status.success());
    let events = packets(&out.stdout, "stdin");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0.file, Some(("log".to_owned(), b"text".to_vec())));
}

#[test]
fn usage_errors_exit_2() {
    for (args, message) in [
        (
            &["--success", "a", "--fail", "b"][..],
            "cannot be used with",
        ),
        (&["--mimetype", "text/plain"][..], "--attach-file"),
        (&["--file-name", "x", "--success", "a"][..], "--attach-file"),
        (
            &["--fail", "t", "--attach-file", "/no/such/file"][..],
            "cannot open /no/such/file",
        ),
    ] {
        let out = run_with_input(
            {
                let mut cmd = ours("subunit-output");
                cmd.args(args);
                cmd
            },
            b"",
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("subunit-output: ") && stderr.contains(message),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing written");
    }
}
