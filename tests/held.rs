//! `--max-held` of subunit-filter and subunit-2to1: beyond it, tests in
//! progress wait in a temporary file in $TMPDIR, and the output is the
//! same as without a cap, with one warning; without a usable temporary
//! file, the test that started first is handed on early, with a warning
//! naming it, and nothing is lost. (That what is held stays under the cap
//! is shown by the grouper's unit tests.)

mod common;

use std::process::Command;

use common::procs::TempDir;
use common::{Decoded, decode_all, ours, run_with_input};
use subunit_tools::{Event, Status, encode};

/// 120 tests started at once, each then writing attachments of a few KiB
/// in turns, ending in every status (every ninth never ends): 3 MiB of
/// tests in progress at the peak.
fn many_in_progress() -> Vec<u8> {
    let ids: Vec<String> = (0..120).map(|i| format!("tests.t{i:03}")).collect();
    let statuses = [
        Status::Success,
        Status::Fail,
        Status::Skip,
        Status::XFail,
        Status::UxSuccess,
    ];
    let mut out = Vec::new();
    let mut put = |event: Event<'_>| encode(&event, &mut out).expect("encode");
    for id in &ids {
        put(Event {
            status: Status::InProgress,
            runnable: true,
            test_id: Some(id),
            tags: Some(&["worker-0"]),
            ..Event::default()
        });
    }
    for round in 0..5u8 {
        for (i, id) in ids.iter().enumerate() {
            let log = vec![b'a' + (i % 26) as u8 + round; 5000 + i];
            put(Event {
                test_id: Some(id),
                mime: Some("text/plain"),
                file: Some(("log", &log)),
                ..Event::default()
            });
        }
    }
    for (i, id) in ids.iter().enumerate() {
        if i % 9 == 4 {
            continue;
        }
        put(Event {
            status: statuses[i % statuses.len()],
            runnable: true,
            test_id: Some(id),
            ..Event::default()
        });
    }
    out
}

/// Runs `command ARGS` on `input` with $TMPDIR set; (stdout, stderr).
fn run(command: &str, args: &[&str], tmpdir: &std::path::Path, input: &[u8]) -> (Vec<u8>, String) {
    let mut cmd: Command = ours(command);
    cmd.args(args).env("TMPDIR", tmpdir);
    let out = run_with_input(cmd, input);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{command} {args:?}: exit {}: {stderr}",
        out.status
    );
    (out.stdout, stderr)
}

#[test]
fn over_the_cap_the_output_is_the_same_with_one_warning() {
    let input = many_in_progress();
    let dir = TempDir::new("held");
    for (command, args) in [
        ("subunit-filter", &["-s", "--xfail"][..]),
        ("subunit-filter", &[][..]),
        ("subunit-2to1", &[][..]),
    ] {
        let (unbounded, stderr) = run(command, args, dir.path("").as_path(), &input);
        assert!(stderr.is_empty(), "{stderr}");
        let capped_args = [args, &["--max-held", "64K"]].concat();
        let (capped, stderr) = run(command, &capped_args, dir.path("").as_path(), &input);
        assert!(
            capped == unbounded,
            "{command} {args:?}: the output differs with --max-held"
        );
        let warnings: Vec<&str> = stderr.lines().collect();
        assert_eq!(warnings.len(), 1, "{stderr}");
        assert!(
            warnings[0].starts_with(&format!(
                "{command}: warning: tests in progress hold more than 64K: holding those \
                 that started first in a temporary file in {}",
                dir.path("").display()
            )),
            "{stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path("")).unwrap().collect();
        assert!(left.is_empty(), "files left in $TMPDIR: {left:?}");
    }
}

/// The packets of a stream, sorted: what was forwarded, whatever the order.
fn packets(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = decode_all(stream)
        .into_iter()
        .map(|item| match item {
            Decoded::Packet(_, raw) => raw,
            Decoded::Chatter(c) => panic!("chatter in the output: {c:?}"),
        })
        .collect();
    all.sort();
    all
}

#[test]
fn without_a_temporary_file_tests_are_handed_on_early_and_nothing_is_lost() {
    let input = many_in_progress();
    let nowhere = std::path::Path::new("/nonexistent/subunit-tools");
    let (filtered, stderr) = run(
        "subunit-filter",
        &["-s", "--xfail", "--max-held", "64K"],
        nowhere,
        &input,
    );
    // Everything is kept: the same packets as the input, some tests earlier.
    assert_eq!(packets(&filtered), packets(&input));
    assert!(filtered != input, "no test was handed on early");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "subunit-filter: warning: cannot hold tests in progress in a temporary file in \
             /nonexistent/subunit-tools ("
        ) && first.ends_with("): handing on test tests.t000 before its end"),
        "{stderr}"
    );
    // subunit-2to1 writes a test handed on early as one still running.
    let (v1, stderr) = run("subunit-2to1", &["--max-held", "64K"], nowhere, &input);
    assert!(
        stderr.contains("handing on test tests.t000 before its end"),
        "{stderr}"
    );
    let text = String::from_utf8_lossy(&v1);
    let first_test = text.lines().position(|l| l == "test: tests.t000").unwrap();
    assert_eq!(
        text.lines().nth(first_test + 1),
        Some("failure: tests.t000 [ multipart"),
        "handed on as still running"
    );
}

#[test]
fn a_bad_size_is_a_usage_error() {
    for command in ["subunit-filter", "subunit-2to1"] {
        let mut cmd = ours(command);
        cmd.args(["--max-held", "lots"]);
        let out = run_with_input(cmd, b"");
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("'lots' is not a size"), "{stderr}");
    }
}
