//! `gojson2subunit`: real `go test -json` output (tests/data/gojson/, from
//! Go 1.19, and hand-made samples of Go 1.24's build events and of
//! test2json without times) compared with python-subunit's, byte for byte
//! where no documented difference applies and result by result elsewhere;
//! nothing lost; each event out as it comes.

mod common;

use std::process::Command;

use common::procs::LivePipe;
use common::runs::OwnedEvent;
use common::{Decoded, data_dir, decode_all, ours, run_with_input};
use subunit_tools::Status;

fn sample(name: &str) -> Vec<u8> {
    let path = data_dir().join("gojson").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(cmd: Command, input: &[u8]) -> (Vec<u8>, Option<i32>) {
    let out = run_with_input(cmd, input);
    assert!(out.stderr.is_empty(), "{out:?}");
    (out.stdout, out.status.code())
}

fn gojson2subunit(input: &[u8]) -> (Vec<u8>, Option<i32>) {
    run(ours("gojson2subunit"), input)
}

fn python(input: &[u8]) -> Option<(Vec<u8>, Option<i32>)> {
    let py = common::python_subunit()?;
    Some(run(Command::new(py.join("gojson2subunit")), input))
}

/// The packets with a test id, and the content of the `stdout` packets
/// without one, concatenated; the stream must be packets only.
fn split(stream: &[u8]) -> (Vec<OwnedEvent>, Vec<u8>) {
    let mut results = Vec::new();
    let mut chatter = Vec::new();
    for item in decode_all(stream) {
        let Decoded::Packet(event, _) = item else {
            panic!("raw chatter in the output: {item:?}");
        };
        match (&event.test_id, &event.file) {
            (Some(_), _) => results.push(event),
            (None, Some((name, content))) if name == "stdout" => chatter.extend(content),
            _ => panic!("unexpected packet {event:?}"),
        }
    }
    (results, chatter)
}

fn id_status(events: &[OwnedEvent]) -> Vec<(String, Status)> {
    events
        .iter()
        .map(|e| (e.test_id.clone().unwrap_or_default(), e.status))
        .collect()
}

/// The samples on which ours is python's byte for byte: no line python
/// drops, no test left open.
#[test]
fn real_go_output_is_python_s_byte_for_byte() {
    for name in ["mixed.json", "panic.json", "killed.json"] {
        let input = sample(name);
        let ours = gojson2subunit(&input);
        if let Some(python) = python(&input) {
            assert!(ours == python, "{name}: ours and python's differ");
        }
    }
    let (out, code) = gojson2subunit(&sample("mixed.json"));
    assert_eq!(code, Some(1));
    let results = id_status(&split(&out).0);
    let finals: Vec<_> = results
        .iter()
        .filter(|(_, s)| *s != Status::InProgress)
        .map(|(id, s)| (id.strip_prefix("example.com/calc/mixed.").unwrap_or(id), *s))
        .collect();
    assert_eq!(
        finals,
        [
            ("TestAdd", Status::Success),
            ("TestDivide/by_one", Status::Success),
            ("TestDivide/by_zero", Status::Fail),
            ("TestDivide/nested/deep", Status::Skip),
            ("TestDivide/nested", Status::Success),
            ("TestDivide", Status::Fail),
            ("TestSkipped", Status::Skip),
            ("TestUnicodeΩ/名前_with_space", Status::Success),
            ("TestUnicodeΩ", Status::Success),
            ("TestParallelB", Status::Fail),
            ("TestParallelA", Status::Success),
            ("example.com/calc/mixed [build]", Status::Fail),
        ]
    );
    // Output attached, timestamps from the events, in order.
    let (events, _) = split(&out);
    let add = events
        .iter()
        .find(|e| e.test_id.as_deref() == Some("example.com/calc/mixed.TestAdd") && e.eof)
        .expect("TestAdd's outcome");
    let (name, text) = add.file.as_ref().expect("output");
    assert_eq!(name, "go test output");
    assert!(String::from_utf8_lossy(text).contains("adding 2 and 2"));
    let times: Vec<_> = events.iter().filter_map(|e| e.timestamp).collect();
    assert_eq!(times.len(), events.len());
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

/// A sample, our results beyond python's, and pieces of our chatter.
type Case = (
    &'static str,
    &'static [(&'static str, Status)],
    &'static [&'static str],
);

/// Every other sample: python's results are all ours, in the same order;
/// ours adds exactly the documented ones; the chatter is what python
/// drops; the exit status is python's.
#[test]
fn the_other_samples_differ_only_as_documented() {
    let cases: &[Case] = &[
        // os.Exit in a test: it fails when its package ends, not at the
        // end of the input (here the same outcome, another place).
        ("exit.json", &[], &[]),
        ("timeout.json", &[], &[]),
        (
            "bench.json",
            &[],
            &[
                "goos: linux\n",
                "BenchmarkConcat-2",
                "ok  \texample.com/calc/mixed",
            ],
        ),
        (
            "all-packages.json",
            &[("example.com/calc/broken [build]", Status::Fail)],
            &[
                "# example.com/calc/broken [example.com/calc/broken.test]\n",
                "ok  \t",
            ],
        ),
        (
            "go124-build-failure.json",
            &[],
            &["ok  \texample.com/calc/ok\t0.060s\n", "[no test files]"],
        ),
        (
            "test2json-no-times.json",
            &[],
            &["FAIL\n", "\"Elapsed\":1.8"],
        ),
        (
            "no-run-events.json",
            &[("pkg/cached.TestSlow", Status::InProgress)],
            &["(cached)"],
        ),
        (
            "odd-lines.json",
            &[("pkg/a.TestSilent", Status::Fail)],
            &[
                "go: downloading",
                "panic: runtime error",
                "[signal SIGSEGV",
                "\n\n42\n[\"not\", \"an\", \"object\"]\n",
                "\"telemetry\"",
                "\"late output\"",
            ],
        ),
    ];
    let py = common::python_subunit();
    for (name, extra, chatter) in cases {
        let input = sample(name);
        let (out, code) = gojson2subunit(&input);
        let (ours, said) = split(&out);
        let said = String::from_utf8_lossy(&said);
        for piece in *chatter {
            assert!(
                said.contains(piece),
                "{name}: {piece:?} not in chatter {said:?}"
            );
        }
        if py.is_none() {
            continue;
        }
        let (py_out, py_code) = python(&input).expect("python");
        assert_eq!(code, py_code, "{name}: exit status");
        let (theirs, py_said) = split(&py_out);
        assert!(py_said.is_empty(), "python writes no chatter");
        // Python's results, in order, are ours less the extras; a test
        // failed where its package ended is python's failed at the end.
        // (A package's failure has its build's output too, from Go 1.24.)
        let key = |e: &OwnedEvent| {
            let build = e
                .test_id
                .as_deref()
                .is_some_and(|i| i.ends_with(" [build]"));
            (
                e.test_id.clone(),
                e.status,
                e.file.clone().filter(|_| !build),
            )
        };
        let mut left: Vec<_> = ours.iter().collect();
        for event in &theirs {
            let at = left
                .iter()
                .position(|o| key(o) == key(event))
                .unwrap_or_else(|| panic!("{name}: python's {event:?} not in ours {ours:?}"));
            let ours_event = left.remove(at);
            // Times are python's, except for tests python ends only at the
            // end of the input (without one).
            if event.timestamp.is_some() {
                assert_eq!(ours_event.timestamp, event.timestamp, "{name}: {event:?}");
            }
        }
        let left: Vec<_> = left
            .iter()
            .map(|e| (e.test_id.clone().unwrap_or_default(), e.status))
            .collect();
        let extra: Vec<_> = extra.iter().map(|(i, s)| (i.to_string(), *s)).collect();
        assert_eq!(left, extra, "{name}: our results beyond python's");
    }
}

#[test]
fn tests_open_at_their_package_s_end_fail_then() {
    let (out, code) = gojson2subunit(&sample("timeout.json"));
    assert_eq!(code, Some(1));
    let (events, _) = split(&out);
    let finals: Vec<_> = id_status(&events)
        .into_iter()
        .filter(|(_, s)| *s != Status::InProgress)
        .collect();
    assert_eq!(
        finals,
        [
            ("example.com/calc/hang.TestQuick".into(), Status::Success),
            ("example.com/calc/hang.TestHangs".into(), Status::Fail),
            ("example.com/calc/hang [build]".into(), Status::Fail),
        ]
    );
    let hangs = &events[events.len() - 2];
    assert!(hangs.timestamp.is_some(), "at the package's time");
    let text = String::from_utf8_lossy(&hangs.file.as_ref().expect("output").1).into_owned();
    assert!(text.contains("panic: test timed out"), "{text}");
    // A Go 1.19 build failure (text, not JSON) is a failing test.
    let (out, _) = gojson2subunit(&sample("all-packages.json"));
    let (events, _) = split(&out);
    let build = events
        .iter()
        .find(|e| e.test_id.as_deref() == Some("example.com/calc/broken [build]"))
        .expect("the build failure");
    assert_eq!(build.status, Status::Fail);
    // Go 1.24's build output is attached to the package's failure.
    let (out, _) = gojson2subunit(&sample("go124-build-failure.json"));
    let (events, _) = split(&out);
    let build = events
        .iter()
        .find(|e| e.test_id.as_deref() == Some("example.com/calc/broken [build]"))
        .expect("the build failure");
    let text = String::from_utf8_lossy(&build.file.as_ref().expect("output").1).into_owned();
    assert_eq!(
        text,
        "# example.com/calc/broken [example.com/calc/broken.test]\n\
         broken/broken_test.go:6:2: undefined: undefinedFunction\n\
         FAIL\texample.com/calc/broken [build failed]\n"
    );
}

#[test]
fn nothing_is_lost() {
    // NUL in a test id (a packet cannot hold one), a test that never ran.
    let (out, _) =
        gojson2subunit(b"{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"T\\u0000\"}\n");
    let (events, _) = split(&out);
    assert_eq!(
        id_status(&events),
        [
            ("p.T\u{fffd}".into(), Status::InProgress),
            ("p.T\u{fffd}".into(), Status::Fail)
        ]
    );
    let (out, _) = gojson2subunit(&sample("odd-lines.json"));
    let (events, _) = split(&out);
    let orphan = events
        .iter()
        .find(|e| e.test_id.as_deref() == Some("pkg/a.TestOrphan"))
        .expect("output of a test that never ran");
    assert_eq!(orphan.status, Status::Fail);
    let mut input = String::from("{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"TestBig\"}\n");
    let line = "y".repeat(999) + "\n";
    let json_line = serde_json::to_string(&line).expect("json");
    for _ in 0..3000 {
        input.push_str(&format!(
            "{{\"Action\":\"output\",\"Package\":\"p\",\"Test\":\"TestBig\",\"Output\":{json_line}}}\n"
        ));
    }
    input.push_str("{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestBig\"}\n");
    let (out, code) = gojson2subunit(input.as_bytes());
    assert_eq!(code, Some(0));
    let (events, _) = split(&out);
    let mut text = Vec::new();
    for e in &events {
        if let Some((name, content)) = &e.file {
            assert_eq!(name, "go test output");
            assert!(content.len() <= 1024 * 1024);
            text.extend_from_slice(content);
        }
    }
    assert_eq!(text, line.repeat(3000).as_bytes());
    assert!(events.len() >= 4, "in parts while it runs");
    assert_eq!(
        events.last().map(|e| (e.status, e.eof)),
        Some((Status::Success, true))
    );
}

/// A generated run of many tests, subtests and output: byte for byte.
#[test]
fn a_long_run_is_python_s() {
    if common::python_subunit().is_none() {
        return;
    }
    let mut input = String::new();
    let mut second = 0u32;
    let mut time = || {
        second += 1;
        format!(
            "2024-06-01T08:{:02}:{:02}.{:09}Z",
            second / 60 % 60,
            second % 60,
            second * 7
        )
    };
    for n in 0..1500 {
        let pkg = format!("example.com/m/pkg{}", n / 300);
        let test = format!("Test{n}");
        let t = time();
        input.push_str(&format!(
            "{{\"Time\":\"{t}\",\"Action\":\"run\",\"Package\":\"{pkg}\",\"Test\":\"{test}\"}}\n"
        ));
        for sub in 0..n % 3 {
            let t = time();
            input.push_str(&format!(
                "{{\"Time\":\"{t}\",\"Action\":\"output\",\"Package\":\"{pkg}\",\"Test\":\"{test}/s{sub}\",\"Output\":\"sub é {sub}\\n\"}}\n\
                 {{\"Time\":\"{t}\",\"Action\":\"pass\",\"Package\":\"{pkg}\",\"Test\":\"{test}/s{sub}\",\"Elapsed\":0}}\n"
            ));
        }
        let action = ["pass", "fail", "skip"][n % 7 % 3];
        let t = time();
        input.push_str(&format!(
            "{{\"Time\":\"{t}\",\"Action\":\"output\",\"Package\":\"{pkg}\",\"Test\":\"{test}\",\"Output\":\"--- {action}\\n\"}}\n\
             {{\"Time\":\"{t}\",\"Action\":\"{action}\",\"Package\":\"{pkg}\",\"Test\":\"{test}\",\"Elapsed\":0.5}}\n"
        ));
    }
    let ours = gojson2subunit(input.as_bytes());
    assert!(
        Some(ours) == python(input.as_bytes()),
        "ours and python's differ"
    );
}

#[test]
fn each_event_goes_out_as_it_comes() {
    let pipe = LivePipe::start(
        "echo '{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"TestWaits\"}'; read _; \
         echo '{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"TestWaits\"}'",
        ours("gojson2subunit"),
    );
    let first = pipe.next_line("the run event did not come out while the test ran");
    assert!(first.contains("\"status\": \"inprogress\""), "{first}");
    let rest = pipe.release();
    assert!(
        rest.iter().any(|l| l.contains("\"status\": \"success\"")),
        "{rest:?}"
    );
}
