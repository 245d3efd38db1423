//! junitxml2subunit on reports from real producers (tests/data/junit):
//! python-subunit's tests, outcomes, durations and failure text, plus the
//! output python drops; malformed reports an error with nothing written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::procs::TempDir;
use common::runs::OwnedEvent;
use common::{Decoded, data_dir, decode_all, ours, python_subunit, run_with_input};
use subunit_tools::{Status, Timestamp};

fn reports() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir().join("junit"))
        .expect("read tests/data/junit")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected the JUnit samples");
    files
}

fn well_formed() -> Vec<PathBuf> {
    let bad = |p: &Path| {
        let name = p.file_name().unwrap().to_string_lossy();
        name.starts_with("malformed") || name.starts_with("not-junit")
    };
    reports().into_iter().filter(|p| !bad(p)).collect()
}

fn convert(files: &[&Path]) -> Output {
    ours("junitxml2subunit").args(files).output().expect("run")
}

fn packets(stream: &[u8]) -> Vec<OwnedEvent> {
    decode_all(stream)
        .into_iter()
        .map(|d| match d {
            Decoded::Packet(e, _) => e,
            Decoded::Chatter(c) => panic!("chatter in the output: {c:?}"),
        })
        .collect()
}

/// One test as both tools report it: id, final status, duration in
/// microseconds, and the text attached to its final packet.
#[derive(Debug, PartialEq)]
struct Case {
    id: String,
    status: Status,
    micros: i64,
    detail: Option<Vec<u8>>,
}

fn micros(ts: Option<Timestamp>) -> i64 {
    let ts = ts.expect("a timestamp");
    i64::from(ts.seconds) * 1_000_000 + i64::from(ts.nanos / 1000)
}

/// The tests of a stream: an inprogress packet, then (ours only) file
/// packets of its output, then the final packet with its detail.
fn cases(events: &[OwnedEvent]) -> Vec<Case> {
    let mut out = Vec::new();
    let mut start = None;
    for e in events {
        match e.status {
            Status::InProgress => start = Some(micros(e.timestamp)),
            Status::Unset => {}
            status => out.push(Case {
                id: e.test_id.clone().expect("an id"),
                status,
                micros: micros(e.timestamp) - start.take().expect("started"),
                detail: e.file.as_ref().map(|(_, bytes)| bytes.clone()),
            }),
        }
    }
    out
}

#[test]
fn tests_outcomes_times_and_text_are_pythons() {
    let Some(py) = python_subunit() else { return };
    for report in well_formed() {
        let theirs = Command::new(py.join("junitxml2subunit"))
            .arg(&report)
            .output()
            .unwrap();
        let mine = convert(&[&report]);
        let what = report.display();
        let nested = what.to_string().contains("nested");
        if !nested {
            assert_eq!(
                mine.status.code(),
                theirs.status.code(),
                "{what}: exit status"
            );
        }
        let (theirs, mine) = (packets(&theirs.stdout), packets(&mine.stdout));
        let expected = cases(&theirs);
        let got = cases(&mine);
        // Python reads only top-level suites; ours also nested ones, in
        // document order: python's tests are ours without the nested.
        let kept: Vec<&Case> = got
            .iter()
            .filter(|c| expected.iter().any(|e| e.id == c.id))
            .collect();
        assert_eq!(
            kept.len(),
            expected.len(),
            "{what}: {got:#?}\npython: {expected:#?}"
        );
        for (ours, theirs) in kept.iter().zip(&expected) {
            if ours.id.ends_with("::retriesNetwork") {
                // time="1,204.5": python reads 0 (a DIFFERENCE, tested below).
                assert_eq!((ours.status, theirs.micros), (theirs.status, 0));
                continue;
            }
            assert_eq!(*ours, theirs, "{what}");
        }
        if !nested {
            assert_eq!(got.len(), expected.len(), "{what}: the same tests");
        }
        // Python's attachment is `junit detail`; ours names it.
        for e in mine.iter().filter(|e| e.status.is_final()) {
            if let Some((name, _)) = &e.file {
                let want = if e.status == Status::Skip {
                    "reason"
                } else {
                    "traceback"
                };
                assert_eq!(name, want, "{what}");
            }
        }
    }
}

#[test]
fn output_python_drops_is_attached() {
    let dir = data_dir().join("junit");
    let out = convert(&[&dir.join("surefire-TEST-com.example.CalculatorTest.xml")]);
    let events = packets(&out.stdout);
    let file = |id: &str, name: &str| -> Option<String> {
        events
            .iter()
            .find(|e| {
                e.test_id.as_deref() == Some(id) && e.file.as_ref().is_some_and(|(n, _)| n == name)
            })
            .map(|e| String::from_utf8(e.file.clone().unwrap().1).unwrap())
    };
    let class = "com.example.CalculatorTest";
    assert_eq!(
        file(&format!("{class}::dividesByZero"), "stdout").as_deref(),
        Some("dividing 1 by 0\n")
    );
    assert_eq!(
        file(&format!("{class}::multiplies"), "stderr").as_deref(),
        Some("WARN rounding\n")
    );
    assert_eq!(
        file(&format!("{class}::retriesNetwork"), "flakyFailure").as_deref(),
        Some("java.net.SocketTimeoutException: timed out")
    );
    let failure = file(&format!("{class}::multiplies"), "traceback").unwrap();
    assert!(
        failure.starts_with(
            "org.opentest4j.AssertionFailedError: expected: <6> but was: <5>\n\
             org.opentest4j.AssertionFailedError: expected: <6> but was: <5>\n\tat "
        ),
        "{failure}"
    );
    // A suite's own output is a file without a test id; an empty one is not written.
    let out = convert(&[&dir.join("gradle-TEST-org.sample.ListTest.xml")]);
    let global: Vec<_> = packets(&out.stdout)
        .into_iter()
        .filter(|e| e.test_id.is_none())
        .map(|e| e.file.unwrap())
        .collect();
    assert_eq!(
        global,
        [(
            "stdout".to_owned(),
            b"Gradle Test Executor 1 started\n".to_vec()
        )]
    );
}

#[test]
fn suite_timestamps_place_the_tests_and_thousands_separators_are_read() {
    let dir = data_dir().join("junit");
    let out = convert(&[&dir.join("gradle-TEST-org.sample.ListTest.xml")]);
    let first = packets(&out.stdout).into_iter().next().unwrap();
    // timestamp="2024-03-05T14:22:07", no offset: UTC.
    assert_eq!(
        first.timestamp,
        Some(Timestamp {
            seconds: 1_709_648_527,
            nanos: 0
        })
    );
    let out = convert(&[&dir.join("surefire-TEST-com.example.CalculatorTest.xml")]);
    let flaky = cases(&packets(&out.stdout))
        .into_iter()
        .find(|c| c.id.ends_with("::retriesNetwork"))
        .unwrap();
    assert_eq!(
        (flaky.status, flaky.micros),
        (Status::Success, 1_204_500_000)
    );
}

#[test]
fn nested_suites_are_read() {
    let out = convert(&[&data_dir().join("junit/mocha-nested.xml")]);
    let ids: Vec<String> = cases(&packets(&out.stdout))
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(
        ids,
        [
            "returns -1 when absent::Array #indexOf() returns -1 when absent",
            "appends::Array #push() appends",
            "Root Suite::top level"
        ]
    );
    assert_eq!(out.status.code(), Some(1), "one failed");
}

#[test]
fn a_malformed_report_is_an_error_and_the_others_are_converted() {
    let dir = data_dir().join("junit");
    let good = dir.join("gitlab-rspec.xml");
    let alone = convert(&[&good]);
    for (bad, says) in [
        (
            "malformed-mismatched.xml",
            "line 5, column 3: malformed XML",
        ),
        ("malformed-entity.xml", "unrecognized entity"),
        ("malformed-unfinished.xml", "ended inside <testcase>"),
        ("not-junit.xml", "not JUnit XML: the root element is <html>"),
    ] {
        let out = convert(&[&dir.join(bad), &good]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("junitxml2subunit: {}: ", dir.join(bad).display()))
                && stderr.contains(says)
                && stderr.contains("nothing of it was converted"),
            "{bad}: {stderr}"
        );
        assert_eq!(out.stdout, alone.stdout, "{bad}: nothing of it written");
    }
}

#[test]
fn a_long_report_is_held_in_a_temporary_file_until_it_is_known_whole() {
    // Over 1 MiB of packets: beyond what is held in memory.
    let mut report = String::from("<testsuite name=\"long\">\n");
    for n in 0..20_000 {
        report.push_str(&format!(
            "<testcase classname=\"pkg.Case\" name=\"test_{n}\" time=\"0.5\"/>\n"
        ));
    }
    let tmp = TempDir::new("junit-long");
    let held = |input: &str| {
        let out = run_with_input(
            {
                let mut cmd = ours("junitxml2subunit");
                cmd.env("TMPDIR", tmp.path(""));
                cmd
            },
            input.as_bytes(),
        );
        (out.status.code(), packets(&out.stdout).len(), out.stderr)
    };
    let whole = format!("{report}</testsuite>\n");
    let (status, written, _) = held(&whole);
    assert_eq!(
        (status, written),
        (Some(0), 40_000),
        "each test's start and end"
    );
    // Cut before its end: nothing of it, though most went to the file.
    let (status, written, stderr) = held(&report);
    assert_eq!((status, written), (Some(2), 0));
    assert!(String::from_utf8_lossy(&stderr).contains("nothing of it was converted"));
    assert_eq!(
        std::fs::read_dir(tmp.path("")).unwrap().count(),
        0,
        "the temporary file has no name"
    );
    // Where no temporary file can be made, the error says so.
    let out = run_with_input(
        {
            let mut cmd = ours("junitxml2subunit");
            cmd.env("TMPDIR", tmp.path("missing"));
            cmd
        },
        whole.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("temporary file") && stderr.contains("missing"),
        "{stderr}"
    );
}

#[test]
fn reports_come_from_stdin_and_directories_in_lexical_order() {
    let tmp = TempDir::new("junit-dirs");
    let dir = data_dir().join("junit");
    let (a, b) = (dir.join("go-junit-report.xml"), dir.join("pytest.xml"));
    std::fs::create_dir_all(tmp.path("reports/sub")).unwrap();
    std::fs::copy(&b, tmp.path("reports/a.xml")).unwrap();
    std::fs::copy(&a, tmp.path("reports/sub/b.xml")).unwrap();
    std::fs::write(tmp.path("reports/notes.txt"), b"not a report").unwrap();
    let walked = ours("junitxml2subunit")
        .arg("-d")
        .arg(tmp.path("reports"))
        .output()
        .unwrap();
    let listed = convert(&[&b, &a]);
    assert_eq!(walked.stdout, listed.stdout);
    let piped = run_with_input(ours("junitxml2subunit"), &std::fs::read(&a).unwrap());
    assert_eq!(piped.stdout, convert(&[&a]).stdout);
    let empty = ours("junitxml2subunit")
        .arg("-d")
        .arg(tmp.path("reports/sub/none"))
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(2), "a missing directory");
}
