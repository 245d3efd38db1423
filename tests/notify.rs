//! subunit-notify: python's words and counts in the notification, python's
//! exit status, and a clear error when the notification cannot be shown.
//! A stand-in for notify-send (`SUBUNIT_NOTIFY_SEND`) records what it was
//! given.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::procs::TempDir;
use common::runs::{self, RunShape};
use common::{corpus, ours, python_subunit, results_stream, run_with_input};
use subunit_tools::Status;

/// A notify-send that writes its arguments, one per line, to `args`, and
/// exits with `status`.
fn fake_notify_send(tmp: &TempDir, status: i32) -> (PathBuf, PathBuf) {
    let args = tmp.path("args");
    let script = tmp.file(
        "notify-send",
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\nexit {status}\n",
            args.display()
        )
        .as_bytes(),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, args)
}

fn notify(program: &Path, stream: &[u8], extra: &[&str]) -> Output {
    let mut cmd = ours("subunit-notify");
    cmd.env("SUBUNIT_NOTIFY_SEND", program).args(extra);
    run_with_input(cmd, stream)
}

/// `Total tests`, `Passed tests` and `Failed tests` of python's subunit-stats.
fn python_counts(py: &Path, stream: &[u8]) -> (String, Option<i32>) {
    let out = run_with_input(Command::new(py.join("subunit-stats")), stream);
    let text = String::from_utf8(out.stdout).unwrap();
    let count = |label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        line[label.len()..].trim().parse().unwrap()
    };
    let (total, passed, failed) = (
        count("Total tests:"),
        count("Passed tests:"),
        count("Failed tests:"),
    );
    let title = if failed > 0 {
        "Test run failed"
    } else {
        "Test run successful"
    };
    (
        format!(
            "-a\nSubunit-notify\n{title}\nTotal tests: {total}; Passed: {passed}; Failed: {failed}\n"
        ),
        out.status.code(),
    )
}

#[test]
fn the_notification_says_what_pythons_counts_say() {
    let Some(py) = python_subunit() else { return };
    let tmp = TempDir::new("notify-counts");
    let (program, args) = fake_notify_send(&tmp, 0);
    let mut streams: Vec<Vec<u8>> = corpus().iter().map(|p| std::fs::read(p).unwrap()).collect();
    streams.push(runs::stream_with(
        &RunShape {
            seed: 5,
            unfinished: 3,
            ..RunShape::default()
        },
        2,
        1,
    ));
    streams.push(results_stream(&[
        ("a", Status::Success),
        ("b", Status::Skip),
    ]));
    streams.push(Vec::new());
    for (n, stream) in streams.iter().enumerate() {
        let (expected, status) = python_counts(&py, stream);
        let out = notify(&program, stream, &["--no-passthrough"]);
        assert_eq!(
            out.status.code(),
            status,
            "stream {n}: exit status as python's"
        );
        assert!(out.stdout.is_empty(), "stream {n}");
        assert_eq!(
            std::fs::read_to_string(&args).unwrap(),
            expected,
            "stream {n}"
        );
    }
}

#[test]
fn chatter_is_passed_through_before_the_notification() {
    let tmp = TempDir::new("notify-passthrough");
    let (program, args) = fake_notify_send(&tmp, 0);
    let mut stream = b"building...\n".to_vec();
    stream.extend(results_stream(&[("a", Status::Fail)]));
    let out = notify(&program, &stream, &[]);
    assert_eq!(out.status.code(), Some(1), "a failed test");
    assert_eq!(out.stdout, b"building...\n");
    let said = std::fs::read_to_string(&args).unwrap();
    assert!(
        said.contains("Test run failed\nTotal tests: 1; Passed: 0; Failed: 1\n"),
        "{said}"
    );
}

#[test]
fn a_missing_or_failing_notify_send_is_a_clear_error() {
    let tmp = TempDir::new("notify-missing");
    let stream = results_stream(&[("a", Status::Success)]);
    let out = notify(&tmp.path("no-such-program"), &stream, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("subunit-notify: cannot show the notification: ")
            && stderr.contains("no-such-program was not found"),
        "{stderr}"
    );
    let (program, _) = fake_notify_send(&tmp, 3);
    let out = notify(&program, &stream, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed (exit status: 3)"), "{stderr}");
}

#[test]
fn output_to_is_created_empty_as_pythons() {
    let tmp = TempDir::new("notify-output-to");
    let (program, _) = fake_notify_send(&tmp, 0);
    let path = tmp.path("summary");
    std::fs::write(&path, b"old").unwrap();
    let out = notify(
        &program,
        &results_stream(&[("a", Status::Success)]),
        &["-o", path.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}
