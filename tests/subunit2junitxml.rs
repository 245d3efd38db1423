//! `subunit2junitxml`: well-formed XML valid against a Surefire-shaped
//! schema on every stream (chatter, control characters, invalid UTF-8,
//! unfinished tests), the same test cases as python-subunit's where
//! python writes valid XML, and read back by our junitxml2subunit.

mod common;

use std::path::Path;
use std::process::Command;

use common::procs::TempDir;
use common::tools::{awkward_streams, generated_runs, packet, python_tool, status};
use common::{corpus, ours, python_subunit, run_with_input};
use quick_xml::events::Event as Xml;
use subunit_tools::{Event, Status};

/// xmllint, or a loud skip (a failure under CI=true).
fn xmllint() -> bool {
    if Command::new("xmllint").arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("xmllint not found; CI=true requires the schema tests to run");
    }
    eprintln!("SKIPPED schema check: xmllint not found (apt-get install libxml2-utils)");
    false
}

/// Checks `xml` against tests/data/junit-schema/junit.xsd.
fn validate(xml: &[u8], what: &str) {
    if !xmllint() {
        return;
    }
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = TempDir::new(&format!("junit-schema-{n}"));
    let path = dir.path("report.xml");
    std::fs::write(&path, xml).unwrap();
    let schema = common::data_dir().join("junit-schema/junit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&path)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "{what}: not valid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (classname, name, outcome, time) of each test case.
#[allow(deprecated)] // unescape_value: enough for these ASCII-safe checks
fn cases(xml: &[u8]) -> Vec<(String, String, String, Option<String>)> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut cases = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).expect("well-formed XML") {
            Xml::Eof => break,
            Xml::Start(e) | Xml::Empty(e) => {
                let attr = |name: &[u8]| {
                    e.try_get_attribute(name)
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"testcase" => cases.push((
                        attr(b"classname").unwrap_or_default(),
                        attr(b"name").unwrap(),
                        "pass".to_owned(),
                        attr(b"time"),
                    )),
                    outcome @ (b"failure" | b"error" | b"skipped") => {
                        cases.last_mut().unwrap().2 = String::from_utf8_lossy(outcome).into();
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        buf.clear();
    }
    cases
}

fn junit(input: &[u8], args: &[&str]) -> std::process::Output {
    let mut cmd = ours("subunit2junitxml");
    cmd.args(args);
    run_with_input(cmd, input)
}

#[test]
fn every_corpus_stream_and_generated_run_gives_a_valid_report() {
    let mut streams: Vec<(String, Vec<u8>)> = corpus()
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    streams.extend(generated_runs());
    streams.extend(awkward_streams());
    for (what, stream) in &streams {
        for args in [&[][..], &["--suite-per-worker"], &["--flavor", "jenkins"]] {
            let out = junit(stream, args);
            assert!(out.status.code().unwrap() < 2, "{what}: {out:?}");
            validate(&out.stdout, what);
            cases(&out.stdout);
        }
    }
}

#[test]
fn control_characters_and_invalid_utf8_are_escaped_visibly() {
    let mut stream = b"chatter \x1b[31m\xff\n".to_vec();
    status(&mut stream, "pkg.Class.test_one", Status::InProgress, None);
    packet(
        &mut stream,
        Event {
            test_id: Some("pkg.Class.test_one"),
            file: Some(("traceback", b"Boom \x00\x1b[0m\xfe\xff\r\nline two\n")),
            mime: Some("text/plain"),
            ..Event::default()
        },
    );
    status(&mut stream, "pkg.Class.test_one", Status::Fail, None);
    let out = junit(&stream, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8");
    validate(&out.stdout, "control characters");
    assert!(
        text.contains("Boom \\x00\\x1b[0m\u{fffd}\u{fffd}&#13;\nline two"),
        "{text}"
    );
    assert!(
        text.contains("message=\"Boom \\x00\\x1b[0m\u{fffd}\u{fffd}&#13;\""),
        "{text}"
    );
    assert!(
        text.contains("<system-out>chatter \\x1b[31m\u{fffd}\n</system-out>"),
        "{text}"
    );
    assert_eq!(
        cases(&out.stdout),
        [(
            "pkg.Class".into(),
            "test_one".into(),
            "failure".into(),
            None
        )]
    );
}

#[test]
fn an_unfinished_test_is_an_error_with_its_last_output() {
    let mut stream = Vec::new();
    status(
        &mut stream,
        "a.b.ok",
        Status::InProgress,
        common::tools::at(0, 0),
    );
    status(
        &mut stream,
        "a.b.ok",
        Status::Success,
        common::tools::at(1_500_000, 0),
    );
    status(&mut stream, "a.b.hung", Status::InProgress, None);
    packet(
        &mut stream,
        Event {
            test_id: Some("a.b.hung"),
            file: Some(("stdout", b"waiting for the lock\n")),
            ..Event::default()
        },
    );
    let out = junit(&stream, &["--flavor", "gitlab"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unfinished test fails the run"
    );
    validate(&out.stdout, "unfinished");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("<error message=\"did not finish\">waiting for the lock\n</error>"),
        "{text}"
    );
    assert!(
        text.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not finish: a.b.hung"));
    let got = cases(&out.stdout);
    assert_eq!(
        got[0].3.as_deref(),
        Some("1.500"),
        "time from the timestamps"
    );
    assert_eq!(got[1].2, "error");
}

#[test]
fn many_unfinished_tests_are_counted_not_all_named() {
    let mut stream = Vec::new();
    for n in 0..25 {
        status(
            &mut stream,
            &format!("a.b.hung_{n}"),
            Status::InProgress,
            None,
        );
    }
    let out = junit(&stream, &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("message=\"did not finish\"").count(),
        25,
        "all in the report"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("did not finish: a.b.hung_").count(),
        10,
        "{stderr}"
    );
    assert!(
        stderr.contains("and 15 more tests that did not finish"),
        "{stderr}"
    );
}

/// One run of a test: in progress, a traceback when given, then `status`.
fn run(stream: &mut Vec<u8>, id: &str, status: Status, traceback: Option<&str>, route: &str) {
    for (status, file) in [
        (Status::InProgress, None),
        (
            Status::Unset,
            traceback.map(|t| ("traceback", t.as_bytes())),
        ),
        (status, None),
    ] {
        if status == Status::Unset && file.is_none() {
            continue;
        }
        packet(
            stream,
            Event {
                test_id: Some(id),
                status,
                file,
                route_code: Some(route),
                ..Event::default()
            },
        );
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn repeated_names_are_made_unique_except_for_jenkins() {
    let stream = common::results_stream(&[
        ("a.t", Status::Success),
        ("a.t", Status::Success),
        ("a.t (run 2)", Status::Success),
        ("a.t", Status::Success),
        (".t", Status::Success),
        ("t", Status::Success),
    ]);
    let names = |args: &[&str]| -> Vec<(String, String)> {
        cases(&junit(&stream, args).stdout)
            .into_iter()
            .map(|c| (c.0, c.1))
            .collect()
    };
    let named = names(&[]);
    let pairs: Vec<(&str, &str)> = named.iter().map(|(c, n)| (&c[..], &n[..])).collect();
    assert_eq!(
        pairs,
        [
            ("a", "t"),
            ("a", "t (run 2)"),
            ("a", "t (run 2) (run 2)"),
            ("a", "t (run 3)"),
            ("", "t"),
            ("", "t (run 2)"),
        ],
        "each (classname, name) once, whatever the ids"
    );
    assert_eq!(names(&["--flavor", "gitlab"]), named);
    let jenkins = names(&["--flavor", "jenkins"]);
    assert_eq!(jenkins[1], ("a".to_owned(), "t".to_owned()), "{jenkins:?}");
}

#[test]
fn a_retry_that_passes_is_one_flaky_pass_under_jenkins() {
    let mut stream = Vec::new();
    run(
        &mut stream,
        "a.b.t",
        Status::Fail,
        Some("Traceback\nAssertionError: first"),
        "0",
    );
    run(&mut stream, "a.b.ok", Status::Success, None, "0");
    run(
        &mut stream,
        "a.b.t",
        Status::Fail,
        Some("Traceback\nAssertionError: <again>"),
        "1",
    );
    run(&mut stream, "a.b.t", Status::Success, None, "1");
    for args in [
        &["--flavor", "jenkins"][..],
        &["--flavor", "jenkins", "--suite-per-worker"],
    ] {
        let out = junit(&stream, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: flaky is a pass; {}",
            stderr(&out)
        );
        validate(&out.stdout, "flaky");
        let text = String::from_utf8_lossy(&out.stdout);
        let got = cases(&out.stdout);
        let t: Vec<_> = got.iter().filter(|c| c.1 == "t").collect();
        assert_eq!(t.len(), 1, "{args:?}: one case for the test: {text}");
        assert_eq!(t[0].2, "pass", "{text}");
        let first = text.find("<stackTrace>Traceback\nAssertionError: first</stackTrace>");
        let again = text.find("<stackTrace>Traceback\nAssertionError: &lt;again&gt;</stackTrace>");
        assert!(
            first.is_some() && first < again,
            "{args:?}: both runs, in order: {text}"
        );
        assert_eq!(
            text.matches("<flakyFailure message=\"Traceback\">").count(),
            2,
            "{text}"
        );
        assert!(!text.contains("<failure"), "{text}");
        assert!(
            text.contains("<testsuites tests=\"2\" failures=\"0\""),
            "{text}"
        );
        assert!(
            stderr(&out).contains("flaky: a.b.t (failed 2 times, then passed)"),
            "{}",
            stderr(&out)
        );
    }
    // Elsewhere each run is a case of its own: the failures stay.
    let out = junit(&stream, &[]);
    assert_eq!(out.status.code(), Some(1));
    let outcomes: Vec<_> = cases(&out.stdout).into_iter().map(|c| (c.1, c.2)).collect();
    let want = [
        ("t", "failure"),
        ("ok", "pass"),
        ("t (run 2)", "failure"),
        ("t (run 3)", "pass"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(outcomes, want);
    assert!(!out.stdout.windows(5).any(|w| w == b"flaky"));
    assert!(stderr(&out).contains("flaky: a.b.t (failed 2 times, then passed)"));
}

#[test]
fn a_failure_after_the_last_pass_stays_a_failure() {
    let mut stream = Vec::new();
    run(&mut stream, "a.b.t", Status::Success, None, "0");
    run(
        &mut stream,
        "a.b.t",
        Status::Fail,
        Some("Traceback\nlate"),
        "0",
    );
    run(
        &mut stream,
        "a.b.u",
        Status::Fail,
        Some("Traceback\nnever passes"),
        "0",
    );
    run(&mut stream, "a.b.ok", Status::Success, None, "0");
    let out = junit(&stream, &["--flavor", "jenkins"]);
    assert_eq!(out.status.code(), Some(1));
    validate(&out.stdout, "late failure");
    let got: Vec<_> = cases(&out.stdout).into_iter().map(|c| (c.1, c.2)).collect();
    let want = [
        ("t", "pass"),
        ("ok", "pass"),
        ("t", "failure"),
        ("u", "failure"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        got, want,
        "held failures come after the suite's other cases"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tests=\"4\" failures=\"2\""), "{text}");
    assert!(!text.contains("flaky"), "{text}");
    assert!(!stderr(&out).contains("flaky"), "{}", stderr(&out));
}

#[test]
fn many_flaky_tests_are_counted_not_all_named() {
    let mut stream = Vec::new();
    for n in 0..13 {
        let id = format!("a.b.t_{n}");
        run(&mut stream, &id, Status::Fail, Some("Traceback\nx"), "0");
        run(&mut stream, &id, Status::Success, None, "0");
    }
    let out = junit(&stream, &["--flavor", "jenkins"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert_eq!(
        err.matches("(failed once, then passed)").count(),
        10,
        "{err}"
    );
    assert!(err.contains("... and 3 more flaky tests"), "{err}");
    assert_eq!(cases(&out.stdout).len(), 13);
}

#[test]
fn forward_needs_output_to() {
    let out = junit(b"", &["--forward"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn our_report_reads_back_through_junitxml2subunit() {
    for path in corpus() {
        let out = junit(&std::fs::read(&path).unwrap(), &["--no-passthrough"]);
        let back = run_with_input(ours("junitxml2subunit"), &out.stdout);
        assert!(
            back.status.code().is_some_and(|c| c < 2),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&back.stderr)
        );
        let listed = run_with_input(ours("subunit-ls"), &back.stdout);
        let ids = String::from_utf8_lossy(&listed.stdout).lines().count();
        assert_eq!(ids, cases(&out.stdout).len(), "{}", path.display());
    }
}

/// Test cases (classname, name, outcome, time) as python's subunit2junitxml
/// writes them, where it writes valid XML: with --no-passthrough and
/// streams where no test ends unfinished or without an attachment.
#[test]
fn the_same_cases_as_pythons_subunit2junitxml() {
    let Some(bin) = python_subunit() else {
        return;
    };
    if !bin.join("python").is_file()
        || !Command::new(bin.join("python"))
            .args(["-c", "import junitxml"])
            .status()
            .is_ok_and(|s| s.success())
    {
        panic!("the venv lacks junitxml: pip install junitxml==0.7");
    }
    let mut compared = 0;
    for path in corpus() {
        compared += compare(&bin, &path) as usize;
    }
    assert!(compared >= 2, "python wrote valid XML on too few streams");
}

fn compare(bin: &Path, path: &Path) -> bool {
    let mut py = python_tool(bin, "subunit2junitxml");
    py.arg("--no-passthrough")
        .stdin(std::fs::File::open(path).unwrap());
    let py = py.output().unwrap();
    let mut reader = quick_xml::Reader::from_reader(&py.stdout[..]);
    let mut buf = Vec::new();
    let well_formed = loop {
        match reader.read_event_into(&mut buf) {
            Ok(Xml::Eof) => break true,
            Err(_) => break false,
            _ => buf.clear(),
        }
    };
    if !well_formed || py.stdout.is_empty() {
        return false;
    }
    let us = junit(&std::fs::read(path).unwrap(), &["--no-passthrough"]);
    // Times too: both take each timestamp to the microsecond and round the
    // same way.
    let (mut a, mut b) = (cases(&us.stdout), cases(&py.stdout));
    a.sort();
    b.sort();
    assert_eq!(a, b, "{}: test cases", path.display());
    assert_eq!(
        us.status.code(),
        py.status.code(),
        "{}: exit",
        path.display()
    );
    true
}

/// The report with the padding of start tags written in place taken out.
fn unpadded(xml: &[u8]) -> String {
    let text = String::from_utf8_lossy(xml);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.strip_suffix(">\n") {
            Some(tag) if line.trim_start().starts_with("<testsuite") => {
                out.push_str(tag.trim_end());
                out.push_str(">\n");
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[test]
fn a_report_in_a_file_is_written_in_place_and_says_the_same() {
    let dir = TempDir::new("junit-in-place");
    let mut streams: Vec<Vec<u8>> = generated_runs()
        .into_iter()
        .take(2)
        .map(|(_, s)| s)
        .collect();
    streams.extend(awkward_streams().into_iter().map(|(_, s)| s));
    let mut retry = Vec::new();
    run(&mut retry, "a.b.t", Status::Fail, Some("Traceback\nx"), "0");
    run(&mut retry, "a.b.t", Status::Success, None, "1");
    run(&mut retry, "a.b.u", Status::Fail, Some("Traceback\ny"), "0");
    streams.push(retry);
    for (n, stream) in streams.iter().enumerate() {
        let input = dir.path(&format!("in-{n}.subunit"));
        std::fs::write(&input, stream).unwrap();
        // Chatter goes on to standard output with -o but into the report
        // without it: leave it out to compare the two.
        for flavor in [
            &["--no-passthrough", "--flavor", "jenkins"][..],
            &["--no-passthrough"],
            &["--no-passthrough", "--suite-per-worker"],
        ] {
            let piped = junit(stream, flavor);
            // -o PATH, and standard output sent to a file.
            let path = dir.path("report.xml");
            let mut cmd = ours("subunit2junitxml");
            cmd.stderr(std::process::Stdio::null());
            cmd.args(flavor).arg("-o").arg(&path).arg(&input);
            let status = cmd.status().unwrap();
            assert_eq!(status.code(), piped.status.code());
            let written = std::fs::read(&path).unwrap();
            let mut cmd = ours("subunit2junitxml");
            cmd.stderr(std::process::Stdio::null());
            cmd.args(flavor).arg(&input);
            cmd.stdout(std::fs::File::create(&path).unwrap());
            cmd.status().unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                written,
                "{n} {flavor:?}: -o and >"
            );
            validate(&written, "in place");
            assert_eq!(
                unpadded(&written),
                unpadded(&piped.stdout),
                "{n} {flavor:?}"
            );
            if flavor.contains(&"--suite-per-worker") {
                assert_eq!(
                    written, piped.stdout,
                    "{n}: several suites are copied, not padded"
                );
            }
            // Appended to (>>): offsets are not kept, so written at the end.
            std::fs::write(&path, b"before\n").unwrap();
            let mut cmd = ours("subunit2junitxml");
            cmd.stderr(std::process::Stdio::null());
            cmd.args(flavor).arg(&input);
            cmd.stdout(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap(),
            );
            cmd.status().unwrap();
            let appended = std::fs::read(&path).unwrap();
            assert!(appended.starts_with(b"before\n"), "{n} {flavor:?}: >> kept");
            assert!(
                appended[7..] == piped.stdout[..],
                "{n} {flavor:?}: >> as piped"
            );
        }
    }
}

#[test]
fn a_report_that_cannot_be_written_is_a_clear_error_at_once() {
    // The file size limit (with SIGXFSZ ignored, writes past it fail with
    // EFBIG) stops the writing thread partway: the reading thread must
    // stop too, and the error be told, whichever file it was writing.
    let dir = TempDir::new("junit-too-large");
    let mut stream = Vec::new();
    for i in 0..20_000 {
        let failed = i % 3 == 0;
        let (status, traceback) = if failed {
            (Status::Fail, Some("Traceback\nboom"))
        } else {
            (Status::Success, None)
        };
        run(
            &mut stream,
            &format!("a.b.test_{i}"),
            status,
            traceback,
            "0",
        );
    }
    let input = dir.path("in.subunit");
    std::fs::write(&input, &stream).unwrap();
    let bin = ours("subunit2junitxml").get_program().to_owned();
    for (args, to) in [
        ("", "-o report.xml"),
        ("--flavor jenkins", "-o report.xml"),
        ("--suite-per-worker", "> report.xml"),
        ("", ""),
    ] {
        let script = format!(
            "trap '' XFSZ; ulimit -f 64; exec {} --no-passthrough {args} in.subunit {to}",
            bin.to_str().unwrap()
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(dir.path("."))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{script}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "subunit2junitxml: error writing output: File too large\n",
            "{script}"
        );
    }
}
