//! `subunit-wrap --tap`: TAP read as python-subunit's tap2subunit reads it
//! (names, outcomes, attachments), plans kept (missing tests fail), every
//! byte still chatter, results out while the input pauses.

mod common;

use std::process::Command;

use common::procs::LivePipe;
use common::{Decoded, decode_all, ours, run_with_input};
use subunit_tools::Status;

/// A test's result as a stream reports it: id, status, and the attachment
/// (file name, MIME type, text) its packet carries.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reported {
    id: String,
    status: Status,
    attachment: Option<(String, Option<String>, String)>,
}

fn reported(id: &str, status: Status, attachment: Option<(&str, &str)>) -> Reported {
    Reported {
        id: id.to_owned(),
        status,
        attachment: attachment.map(|(name, text)| {
            (
                name.to_owned(),
                Some("text/plain; charset=UTF8".to_owned()),
                text.to_owned(),
            )
        }),
    }
}

/// The results in `stream` (packets with a test id and a final status), and
/// the contents of its `stdout` file packets without a test id.
fn results_and_stdout(stream: &[u8]) -> (Vec<Reported>, Vec<u8>) {
    let mut results = Vec::new();
    let mut stdout = Vec::new();
    for item in decode_all(stream) {
        let Decoded::Packet(event, _) = item else {
            panic!("chatter in the output: {item:?}");
        };
        match (&event.test_id, &event.file) {
            (Some(id), file) => {
                assert!(event.status.is_final(), "{event:?}");
                results.push(Reported {
                    id: id.clone(),
                    status: event.status,
                    attachment: file.as_ref().map(|(name, content)| {
                        assert!(event.eof, "an attachment in one packet: {event:?}");
                        (
                            name.clone(),
                            event.mime.clone(),
                            String::from_utf8(content.clone()).expect("UTF-8"),
                        )
                    }),
                });
            }
            (None, Some((name, content))) if name == "stdout" => stdout.extend(content),
            _ => panic!("unexpected packet {event:?}"),
        }
    }
    (results, stdout)
}

/// Ours on `input`: its results, after checking that every input byte came
/// out, in order, as the content of the stdout file packets.
fn wrap_tap(input: &str) -> Vec<Reported> {
    let out = run_with_input(wrap_cmd(), input.as_bytes());
    assert!(out.status.success(), "{out:?}");
    let (results, stdout) = results_and_stdout(&out.stdout);
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        input,
        "every byte stays chatter"
    );
    results
}

/// python-subunit's tap2subunit on `input`: its results (its stdout
/// packets are the lines it did not read as TAP).
fn tap2subunit(input: &str) -> Option<Vec<Reported>> {
    let py = common::python_subunit()?;
    let out = run_with_input(Command::new(py.join("tap2subunit")), input.as_bytes());
    assert!(out.status.success(), "tap2subunit on {input:?}: {out:?}");
    Some(results_and_stdout(&out.stdout).0)
}

/// `subunit-wrap --tap`.
fn wrap_cmd() -> Command {
    let mut cmd = ours("subunit-wrap");
    cmd.arg("--tap");
    cmd
}

/// Our results and tap2subunit's on `input` must be the same.
fn same_as_tap2subunit(input: &str) -> Vec<Reported> {
    let ours = wrap_tap(input);
    if let Some(python) = tap2subunit(input) {
        assert_eq!(ours, python, "ours and tap2subunit's on {input:?}");
    }
    ours
}

fn missing(number: u64) -> Reported {
    reported(
        &format!("test {number}"),
        Status::Fail,
        Some(("tap meta", "test missing from TAP output")),
    )
}

#[test]
fn a_crashed_script_is_not_green() {
    let input = "1..4\nok 1 - a\nok 2 - b\n";
    let results = same_as_tap2subunit(input);
    assert_eq!(
        results,
        [
            reported("test 1 - a", Status::Success, None),
            reported("test 2 - b", Status::Success, None),
            missing(3),
            missing(4),
        ]
    );
    // subunit-stats, ours and python's, count 4 tests, 2 failed, and fail.
    let wrapped = run_with_input(wrap_cmd(), input.as_bytes());
    let mut stats = ours("subunit-stats");
    stats.arg("--no-passthrough");
    let ours_stats = run_with_input(stats, &wrapped.stdout);
    let text = String::from_utf8_lossy(&ours_stats.stdout).into_owned();
    assert!(text.contains("Total tests:       4\n"), "{text}");
    assert!(text.contains("Failed tests:      2\n"), "{text}");
    assert_eq!(ours_stats.status.code(), Some(1));
    if let Some(py) = common::python_subunit() {
        let mut python = Command::new(py.join("subunit-stats"));
        python.arg("--no-passthrough");
        let python = run_with_input(python, &wrapped.stdout);
        assert_eq!(String::from_utf8_lossy(&python.stdout), text);
        assert_eq!(python.status.code(), Some(1));
    }
}

#[test]
fn missing_tests_match_tap2subunit() {
    // Skipped-over numbers, a trailing plan, a plan with a comment, a plan
    // kept, no plan.
    for input in [
        "1..5\nok 1\nnot ok 4 - late\n",
        "ok 1\nok 2\n1..4\n",
        "1..3 # three\nok 1\n",
        "1..2\nok 1\nok 2\n",
        "ok 1\nok 3\n",
    ] {
        same_as_tap2subunit(input);
    }
    assert_eq!(
        wrap_tap("1..5\nok 1\nnot ok 4 - late\n"),
        [
            reported("test 1", Status::Success, None),
            missing(2),
            missing(3),
            reported("test 4 - late", Status::Fail, None),
            missing(5),
        ]
    );
    assert_eq!(
        wrap_tap("ok 1\nok 2\n1..4\n")[2..],
        [missing(3), missing(4)]
    );
}

#[test]
fn bail_out_is_a_failure_and_the_rest_is_missing() {
    let results = same_as_tap2subunit("1..3\nok 1\nBail out! no database\n");
    assert_eq!(
        results,
        [
            reported("test 1", Status::Success, None),
            reported("Bail out! no database", Status::Fail, None),
            missing(2),
            missing(3),
        ]
    );
    // Without a reason: tap2subunit names it "Bail out! ", with a space.
    let ours = wrap_tap("Bail out!\n");
    assert_eq!(ours, [reported("Bail out!", Status::Fail, None)]);
    if let Some(python) = tap2subunit("Bail out!\n") {
        assert_eq!(python[0].id, "Bail out! ");
    }
}

#[test]
fn a_skipped_script_is_one_skipped_test_with_its_reason() {
    let ours = wrap_tap("1..0 # SKIP no database\n");
    assert_eq!(
        ours,
        [reported(
            "file skip",
            Status::Skip,
            Some(("tap comment", "no database"))
        )]
    );
    if let Some(python) = tap2subunit("1..0 # SKIP no database\n") {
        // Same test, outcome and attachment name; tap2subunit keeps the
        // word SKIP and gives no MIME type (documented in the man page).
        let [python] = &python[..] else {
            panic!("{python:?}")
        };
        assert_eq!((&python.id, python.status), (&ours[0].id, ours[0].status));
        let (name, mime, text) = python.attachment.clone().expect("attachment");
        assert_eq!(
            (name.as_str(), mime, text.as_str()),
            ("tap comment", None, "SKIP no database")
        );
    }
    // tap2subunit crashes on 1..0 without a reason; we skip the file.
    assert_eq!(
        wrap_tap("1..0\n"),
        [reported("file skip", Status::Skip, None)]
    );
}

#[test]
fn reasons_and_diagnostics_are_attached_and_stay_chatter() {
    let input = "1..3\nnot ok 1 - sum\n# got 2\n#   want 1\nok 2 # SKIP slow\nnot ok 3 # TODO later\n# known\n";
    let results = same_as_tap2subunit(input);
    assert_eq!(
        results,
        [
            reported(
                "test 1 - sum",
                Status::Fail,
                Some(("tap comment", "# got 2\n#   want 1"))
            ),
            reported("test 2", Status::Skip, Some(("tap comment", "slow"))),
            reported(
                "test 3",
                Status::XFail,
                Some(("tap comment", "later\n# known"))
            ),
        ]
    );
}

#[test]
fn a_plain_comment_is_attached_and_an_escaped_hash_is_no_comment() {
    // tap2subunit takes both lines for output; a result is kept here, with
    // nothing of the line lost.
    let input = "ok 1 - a # note\nok 2 - b \\# c \\\\# d\n";
    assert_eq!(
        wrap_tap(input),
        [
            reported("test 1 - a", Status::Success, Some(("tap comment", "note"))),
            reported(
                "test 2 - b # c \\",
                Status::Success,
                Some(("tap comment", "d"))
            ),
        ]
    );
}

#[test]
fn several_scripts_in_a_row_are_counted_plan_by_plan() {
    // tap2subunit reads the first plan only; we start a stream at each.
    assert_eq!(
        wrap_tap("1..2\nok 1 - a\n1..2\nok 1 - b\nok 2 - c\n"),
        [
            reported("test 1 - a", Status::Success, None),
            missing(2),
            reported("test 1 - b", Status::Success, None),
            reported("test 2 - c", Status::Success, None),
        ]
    );
}

/// `subunit-wrap --tap -- prove -v t/`, as the README shows it: the tests
/// prove counts (its `Tests=N`), plus prove itself as the command's test,
/// whatever its scripts' plans look like. prove prints a bare `ok` after
/// each passing script; it is not a test.
#[test]
fn prove_s_tests_are_counted_as_prove_counts_them() {
    if Command::new("prove").arg("--version").output().is_err() {
        eprintln!("SKIPPED prove_s_tests_are_counted_as_prove_counts_them: no prove here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("subunit-tap-prove-{}", std::process::id()));
    let t = dir.join("t");
    std::fs::create_dir_all(&t).expect("mkdir");
    for (name, tap) in [
        ("a.t", "1..2\nok 1 - a\nok 2 - b\n"),
        ("b.t", "ok 1 - c\nok 2 - d\n1..2\n"),
        ("c.t", "1..3\nok 1\nnot ok 2 - e\nok 3 # SKIP later\n"),
        ("d.t", "1..2\nok 1\nok 2\n"),
    ] {
        let path = t.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\nprintf '{}'\n", tap.replace('\n', "\\n")),
        )
        .expect("write a test script");
        let mut perms = std::fs::metadata(&path).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).expect("chmod");
    }
    let prove = Command::new("prove")
        .args(["-v", "t/"])
        .current_dir(&dir)
        .output()
        .expect("run prove");
    let said = String::from_utf8_lossy(&prove.stdout);
    let counted: usize = said
        .lines()
        .find_map(|l| l.split("Tests=").nth(1))
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("prove's summary: {said}"));
    assert_eq!(counted, 9, "{said}");
    let out = wrap_cmd()
        .args(["--", "prove", "-v", "t/"])
        .current_dir(&dir)
        .output()
        .expect("run subunit-wrap");
    let _ = std::fs::remove_dir_all(&dir);
    // Every test's outcome: (id, status) of the packets with a final one.
    let results: Vec<(String, Status)> = decode_all(&out.stdout[..])
        .into_iter()
        .filter_map(|item| match item {
            Decoded::Packet(event, _) if event.status.is_final() => {
                Some((event.test_id.unwrap_or_default(), event.status))
            }
            _ => None,
        })
        .collect();
    let tap: Vec<_> = results
        .iter()
        .filter(|(id, _)| id.starts_with("test "))
        .collect();
    assert_eq!(tap.len(), counted, "{results:?}");
    assert_eq!(
        results.len(),
        counted + 1,
        "and prove's own test: {results:?}"
    );
    let failed = tap
        .iter()
        .filter(|(_, status)| *status == Status::Fail)
        .count();
    assert_eq!(failed, 1, "{results:?}");
    assert_eq!(out.status.code(), prove.status.code());
}

/// Each file named is a TAP stream of its own: a script's missing tests
/// are its own, and the next file is numbered from 1. The last line of a
/// file counts even without a newline.
#[test]
fn each_file_is_its_own_tap_stream() {
    let dir = std::env::temp_dir().join(format!("subunit-tap-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (a, b) = (dir.join("a.tap"), dir.join("b.tap"));
    std::fs::write(&a, "1..4\nok 1\n").expect("write");
    std::fs::write(&b, "ok 1\nok 2\n1..2\nnot ok - no newline").expect("write");
    let out = wrap_cmd().arg(&a).arg(&b).output().expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    let (results, stdout) = results_and_stdout(&out.stdout);
    assert_eq!(
        stdout, b"1..4\nok 1\nok 1\nok 2\n1..2\nnot ok - no newline",
        "every byte"
    );
    let names: Vec<(&str, Status)> = results.iter().map(|r| (r.id.as_str(), r.status)).collect();
    assert_eq!(
        names,
        [
            ("test 1", Status::Success),
            ("test 2", Status::Fail),
            ("test 3", Status::Fail),
            ("test 4", Status::Fail),
            ("test 1", Status::Success),
            ("test 2", Status::Success),
            ("test 1 - no newline", Status::Fail),
        ]
    );
}

#[test]
fn without_tap_the_lines_are_chatter_only() {
    let out = run_with_input(ours("subunit-wrap"), b"1..4\nok 1\nBail out!\n");
    let (results, stdout) = results_and_stdout(&out.stdout);
    assert!(results.is_empty(), "{results:?}");
    assert_eq!(stdout, b"1..4\nok 1\nBail out!\n");
}

#[test]
fn a_result_goes_out_while_the_script_waits() {
    // The script prints a failure and its diagnostic, then waits for us:
    // the result, with the diagnostic attached, must come out meanwhile.
    let mut wrap = ours("subunit-wrap");
    wrap.args(["--tap", "--no-timestamps"]);
    let pipe = LivePipe::start(
        "printf '1..2\\nnot ok 1 - a\\n# why\\n'; read _; echo 'ok 2'",
        wrap,
    );
    let result = loop {
        let line = pipe.next_line("the result did not come out while the script waited");
        if line.contains("\"test_id\": \"test 1 - a\"") {
            break line;
        }
    };
    assert!(result.contains("\"status\": \"fail\""), "{result}");
    // "# why" in hex: the diagnostic is attached.
    assert!(result.contains("\"file_hex\": \"2320776879\""), "{result}");
    let rest = pipe.release();
    assert!(
        rest.iter().any(|l| l.contains("\"test_id\": \"test 2\"")),
        "{rest:?}"
    );
}
