//! subunit2html: the page's rows and counts against the stream's events and
//! subunit-stats, text escaped and nothing dropped, the page written whole,
//! os-testr's arguments; and the page opened in headless Chromium (its
//! text, the filter, a screenshot).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::procs::TempDir;
use common::runs::{self, OwnedEvent, RunShape};
use common::{ours, run_with_input};
use subunit_tools::Status;

/// The page made of `stream` (on standard output).
fn page(stream: &[u8]) -> String {
    let out = run_with_input(
        {
            let mut cmd = ours("subunit2html");
            cmd.args(["-o", "-"]);
            cmd
        },
        stream,
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("the page is UTF-8")
}

/// How many rows of each outcome the page has.
fn rows(page: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for part in page.split("<tr class=\"t ").skip(1) {
        let word = part.split('"').next().unwrap();
        *counts.entry(word.to_owned()).or_default() += 1;
    }
    counts
}

fn encode(events: &[OwnedEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        e.encode(&mut out);
    }
    out
}

fn event(id: &str, status: Status) -> OwnedEvent {
    OwnedEvent {
        test_id: Some(id.into()),
        status,
        runnable: true,
        ..OwnedEvent::default()
    }
}

#[test]
fn rows_and_counts_are_the_streams_tests() {
    let shape = RunShape {
        seed: 7,
        tests: 3000,
        workers: 4,
        route_codes: true,
        fail_percent: 5,
        skip_percent: 5,
        xfail_percent: 2,
        uxsuccess_percent: 2,
        attachment_percent: 10,
        ..RunShape::default()
    };
    let stream = runs::stream_with(&shape, 3, 2);
    let html = page(&stream);
    // The oracle: each test (id and route code) and its last status; a
    // test ends at a final status, one never ended is unfinished.
    let mut open: BTreeMap<(String, Option<String>), Status> = BTreeMap::new();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let word = |status: Status| match status {
        Status::Success => "passed",
        Status::Fail => "failed",
        Status::Skip => "skipped",
        Status::XFail => "xfail",
        Status::UxSuccess => "uxsuccess",
        _ => "unfinished",
    };
    for item in common::decode_all(&stream[..]) {
        let common::Decoded::Packet(e, _) = item else {
            continue;
        };
        let Some(id) = e.test_id.clone() else {
            continue;
        };
        let key = (id, e.route_code.clone());
        if e.status.is_final() {
            open.remove(&key);
            *expected.entry(word(e.status).into()).or_default() += 1;
        } else if e.status == Status::InProgress || !open.contains_key(&key) {
            open.insert(key, e.status);
        }
    }
    *expected.entry("unfinished".into()).or_default() += open.len() as u64;
    assert!(expected["unfinished"] > 0 && expected["failed"] > 0);
    assert_eq!(rows(&html), expected);
    let total: u64 = expected.values().sum();
    assert!(html.contains(&format!("<span class=total>{total} tests</span>")));
    for (word, n) in &expected {
        assert!(html.contains(&format!(">{n} {word}</span>")), "{word}: {n}");
    }
    // The same counts as subunit-stats, which is checked against python's.
    let stats = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.args(["--json", "--no-passthrough"]);
            cmd
        },
        &stream,
    );
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["total"], total);
    assert_eq!(stats["outcomes"]["fail"], expected["failed"]);
    assert_eq!(stats["outcomes"]["success"], expected["passed"]);
    // Failing classes first; in a class, failures first.
    let sections: Vec<&str> = html.split("<section class=\"cls").skip(1).collect();
    let first_passing = sections.iter().position(|s| !s.starts_with(" failing"));
    if let Some(at) = first_passing {
        assert!(sections[at..].iter().all(|s| !s.starts_with(" failing")));
    }
    for section in &sections {
        let outcomes: Vec<bool> = section
            .split("<tr class=\"t ")
            .skip(1)
            .map(|row| {
                ["failed", "uxsuccess", "unfinished"]
                    .iter()
                    .any(|w| row.starts_with(w))
            })
            .collect();
        assert!(outcomes.windows(2).all(|w| w[0] >= w[1]), "failures first");
    }
}

#[test]
fn text_is_escaped_visibly_and_output_outside_tests_is_kept() {
    let mut events = vec![
        event("pkg.T.test_<b>", Status::InProgress),
        OwnedEvent {
            file: Some((
                "traceback".into(),
                b"AssertionError: <script>alert(1)</script> & \x1b[31mred\xff\x00\n".to_vec(),
            )),
            eof: true,
            ..event("pkg.T.test_<b>", Status::Unset)
        },
        event("pkg.T.test_<b>", Status::Fail),
        OwnedEvent {
            file: Some(("stdout".into(), b"outside </pre> a test\n".to_vec())),
            ..OwnedEvent::default()
        },
        event("pkg.U.test_hangs", Status::InProgress),
        OwnedEvent {
            file: Some(("stdout".into(), b"last words\n".to_vec())),
            ..event("pkg.U.test_hangs", Status::Unset)
        },
    ];
    let mut stream = b"make: chatter \x07 here\n".to_vec();
    stream.extend(encode(&events));
    events.clear();
    let html = page(&stream);
    assert!(html.contains("test_&lt;b&gt;"));
    assert!(html.contains(
        "AssertionError: &lt;script&gt;alert(1)&lt;/script&gt; &amp; \\x1b[31mred\u{fffd}\\x00"
    ));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("outside &lt;/pre&gt; a test"));
    assert!(html.contains("make: chatter \\x07 here"));
    assert!(html.contains("did not finish") && html.contains("last words"));
    assert_eq!(rows(&html).get("unfinished"), Some(&1));
    // Nothing but the scripts' own text is a script.
    assert_eq!(html.matches("<script>").count(), 1);
}

#[test]
fn the_page_is_written_whole_where_os_testr_writes_it() {
    let tmp = TempDir::new("html-out");
    let stream = tmp.file(
        "run.subunit",
        &common::results_stream(&[("a.T.t", Status::Success)]),
    );
    // os-testr's form: STREAM OUTPUT.
    let out = ours("subunit2html")
        .arg(&stream)
        .arg(tmp.path("report.html"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report = std::fs::read_to_string(tmp.path("report.html")).unwrap();
    assert!(report.ends_with("</html>\n") && report.contains("1 passed"));
    // Its default, results.html, in the working directory.
    let out = ours("subunit2html")
        .arg(&stream)
        .current_dir(tmp.path(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(tmp.path("results.html")).unwrap(),
        report
    );
    // No temporary file is left beside it.
    let mut names: Vec<_> = std::fs::read_dir(tmp.path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["report.html", "results.html", "run.subunit"]);
    // With -o, every argument is a stream.
    let out = ours("subunit2html")
        .args(["-o", "-"])
        .arg(&stream)
        .arg(&stream)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 tests"));
    // Three without -o is a usage error, and a bad input leaves the old
    // page as it was.
    let out = ours("subunit2html")
        .args([&stream, &stream, &stream])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("subunit2html: "));
    let out = ours("subunit2html")
        .arg(tmp.path("missing.subunit"))
        .arg(tmp.path("report.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(tmp.path("report.html")).unwrap(),
        report
    );
    let out = ours("subunit2html")
        .arg(&stream)
        .arg(tmp.path("no/such/dir/page.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir/page.html"));
}

#[test]
fn what_is_not_a_regular_file_is_written_not_replaced() {
    let tmp = TempDir::new("html-fifo");
    let stream = tmp.file(
        "run.subunit",
        &common::results_stream(&[("a.T.t", Status::Success)]),
    );
    let fifo = tmp.path("page.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = ours("subunit2html")
        .arg(&stream)
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(reader.join().unwrap().contains("1 passed"));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A link is written through, and stays a link.
    let target = tmp.file("target.html", b"old");
    let link = tmp.path("link.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = ours("subunit2html")
        .arg(&stream)
        .arg(&link)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("1 passed")
    );
}

/// Debian's Chromium, or `None` with a skip noted (a failure under
/// CI=true, where .ci/run installs it).
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Some(path);
    }
    let why = "chromium not found (Debian: apt-get install chromium; .ci/run installs it)";
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{why}; CI=true requires it"
    );
    eprintln!("SKIPPED a browser test: {why}");
    None
}

/// Chromium headless on `page` (a path, plus `#fragment`), as the machine's
/// closed network wants it, with a profile in `profile`.
fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1000,800",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn a_browser_shows_the_counts_the_traceback_and_filters() {
    let Some(chromium) = chromium() else {
        return;
    };
    let tmp = TempDir::new("html-browser");
    let mut events = Vec::new();
    for n in 0..300 {
        events.push(event(&format!("pkg.mod.TestOk.test_{n}"), Status::Success));
    }
    events.push(event("pkg.mod.TestBad.test_broken", Status::InProgress));
    events.push(OwnedEvent {
        file: Some((
            "traceback".into(),
            b"Traceback (most recent call last):\nAssertionError: 41 != 42\n".to_vec(),
        )),
        eof: true,
        ..event("pkg.mod.TestBad.test_broken", Status::Fail)
    });
    let stream = tmp.file("run.subunit", &encode(&events));
    let html = tmp.path("page.html");
    let out = ours("subunit2html")
        .arg(&stream)
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let url = format!("file://{}", html.display());
    let dom = |fragment: &str| {
        let out = headless(&chromium, &tmp.path("profile"))
            // Time for the script's observer to see what is in view (virtual
            // time: it costs nothing when the page is idle; 3 s was too little
            // once on a loaded machine).
            .arg("--virtual-time-budget=10000")
            .arg("--dump-dom")
            .arg(format!("{url}{fragment}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let shown = dom("");
    assert!(
        shown.contains("301 tests") && shown.contains("300 passed") && shown.contains("1 failed")
    );
    assert!(shown.contains("AssertionError: 41 != 42"));
    assert!(shown.contains("data-ready-ms="), "the script ran");
    // The passing rows are made by the script: the first classes at once,
    // the rest as they come into view.
    assert!(
        shown.contains("<td class=\"n\">test_0"),
        "rows made in view"
    );
    // The filter from a link: only the matching row is left.
    let filtered = dom("#filter=test_29");
    let visible = filtered
        .split("<tr class=\"t ")
        .skip(1)
        .filter(|row| !row.split('"').next().unwrap().contains("hidden"))
        .count();
    assert_eq!(visible, 11, "test_29 and test_290..299");
    assert!(filtered.contains("11 shown"));
    let failures = dom("#failures");
    assert!(failures.contains("1 shown"));
    // A screenshot, for a person to look at.
    let png = tmp.path("page.png");
    let out = headless(&chromium, &tmp.path("profile"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
}
