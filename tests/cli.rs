//! Behaviour every user sees from the commands: errors, exit statuses,
//! closed pipes, live output, and subunit-stats' options.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::runs::{self, OwnedEvent, RunShape};
use common::{Decoded, decode_all, ours, run_with_input};
use subunit_tools::{Event, Status, Timestamp, encode};

const COMMANDS: [&str; 2] = ["subunit-stats", "subunit2json"];

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("subunit-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

fn packet(event: Event<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&event, &mut out).expect("encode");
    out
}

fn at(seconds: u32) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_700_000_000 + seconds,
        nanos: 0,
    })
}

fn test_event(id: &str, status: Status, seconds: u32) -> Vec<u8> {
    packet(Event {
        status,
        runnable: true,
        test_id: Some(id),
        timestamp: at(seconds),
        ..Event::default()
    })
}

fn stdout_text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr_text(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr")
}

#[test]
fn a_missing_file_is_a_one_line_error_with_status_2() {
    for name in COMMANDS {
        let out = ours(name)
            .arg("/nonexistent/nosuchfile")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            out.stdout.is_empty(),
            "{name} wrote {:?}",
            stdout_text(&out)
        );
        assert_eq!(
            stderr_text(&out),
            format!("{name}: cannot open /nonexistent/nosuchfile: No such file or directory\n")
        );
    }
}

#[test]
fn a_missing_second_file_fails_before_any_output() {
    let good = temp_file("good.subunit", &test_event("a", Status::Success, 0));
    for name in COMMANDS {
        let out = ours(name)
            .arg(&good)
            .arg("/nonexistent/b")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(out.stdout.is_empty(), "{name} wrote output before failing");
    }
    std::fs::remove_file(good).ok();
}

#[test]
fn usage_errors_exit_2_and_help_and_version_exit_0() {
    for name in COMMANDS {
        let out = ours(name).arg("--no-such-flag").output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr_text(&out).contains("--no-such-flag"), "{name}");

        let out = ours(name).arg("--help").output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert!(stdout_text(&out).contains("Usage:"), "{name}");

        let out = ours(name).arg("--version").output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert_eq!(
            stdout_text(&out),
            format!("{name} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
    let out = ours("subunit-stats")
        .args(["--json", "--forward"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--json conflicts with --forward"
    );
}

/// Reads one line of the child's stdout, then closes the pipe as `head -1`
/// does, and returns the child's status and stderr.
fn close_after_first_line(mut child: Child) -> (Option<i32>, String) {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    assert!(!line.is_empty(), "no first line");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    (child.wait().expect("wait").code(), stderr)
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_0() {
    // Far more than the pipe and our output buffer hold.
    let shape = RunShape {
        tests: 20_000,
        ..RunShape::default()
    };
    let big = temp_file("big.subunit", &runs::stream_with_chatter(&shape, 50));
    let child = ours("subunit2json")
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    assert_eq!(close_after_first_line(child), (Some(0), String::new()));

    // subunit-stats passes chatter through; a closed stdout ends it too.
    let child = ours("subunit-stats")
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    assert_eq!(close_after_first_line(child), (Some(0), String::new()));
    std::fs::remove_file(big).ok();
}

/// A child whose stdout lines arrive on a channel, to see what it has
/// written while its input is still open.
struct Live {
    child: Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Live {
    fn start(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in stdout.lines() {
                if tx.send(line.expect("line")).is_err() {
                    break;
                }
            }
        });
        Live {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The next line, which must come while the input stays open.
    fn next_line(&self, what: &str) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what} did not come out while the producer was waiting"))
    }

    fn finish(self) -> Vec<String> {
        drop(self.stdin);
        let mut child = self.child;
        assert!(child.wait().expect("wait").success());
        self.lines.iter().collect()
    }
}

#[test]
fn subunit2json_shows_each_packet_while_the_producer_waits() {
    let mut live = Live::start(ours("subunit2json"));
    live.send(&test_event("first", Status::InProgress, 0));
    let line = live.next_line("the first packet");
    assert!(line.contains("\"test_id\": \"first\""), "{line}");

    // Chatter without a newline is handed on too, before the next packet.
    live.send(b"waiting for server");
    assert_eq!(
        live.next_line("the chatter"),
        r#"{"chatter_hex": "77616974696e6720666f7220736572766572"}"#
    );
    live.send(&test_event("first", Status::Success, 1));
    let line = live.next_line("the second packet");
    assert!(line.contains("\"status\": \"success\""), "{line}");
    assert!(live.finish().is_empty());
}

#[test]
fn a_fifo_is_read_live_like_a_pipe() {
    let fifo = std::env::temp_dir().join(format!("subunit-cli-{}-fifo", std::process::id()));
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let mut child = ours("subunit2json")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Opening for writing waits until the command has opened it to read.
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open fifo");
    writer
        .write_all(&test_event("over-fifo", Status::Success, 0))
        .expect("write");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in lines.by_ref() {
            if tx.send(line.expect("line")).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the packet came out while the FIFO stayed open");
    assert!(line.contains("\"test_id\": \"over-fifo\""), "{line}");
    drop(writer);
    assert!(child.wait().expect("wait").success());
    std::fs::remove_file(fifo).ok();
}

#[test]
fn subunit_stats_passes_chatter_through_while_the_producer_waits() {
    let mut live = Live::start({
        let mut cmd = ours("subunit-stats");
        cmd.stderr(Stdio::null());
        cmd
    });
    live.send(b"make[1]: Entering directory\n");
    assert_eq!(live.next_line("the chatter"), "make[1]: Entering directory");
    live.send(&packet(Event {
        file: Some(("stdout", b"loose output\n")),
        ..Event::default()
    }));
    assert_eq!(live.next_line("the file content"), "loose output");
    live.send(&test_event("t", Status::Success, 0));
    let rest = live.finish();
    assert_eq!(rest[0], "Total tests:       1");
}

/// A run with known composition, counted here independently of the
/// command: returns the stream and the events.
fn composed_run() -> (Vec<u8>, Vec<OwnedEvent>) {
    let shape = RunShape {
        seed: 11,
        tests: 300,
        workers: 3,
        route_codes: true,
        unfinished: 4,
        enumerate: true,
        fail_percent: 10,
        skip_percent: 10,
        xfail_percent: 5,
        uxsuccess_percent: 5,
        ..RunShape::default()
    };
    (runs::stream(&shape), runs::run(&shape))
}

#[test]
fn stats_json_counts_what_the_stream_holds() {
    let (mut stream, events) = composed_run();
    let chatter = b"compiling...\n";
    stream.splice(0..0, chatter.iter().copied());
    // A damaged packet (bad CRC) at the end: kept as chatter and counted.
    let mut damaged = test_event("damaged", Status::Fail, 0);
    *damaged.last_mut().expect("crc") ^= 1;
    stream.extend_from_slice(&damaged);

    let out = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.arg("--json");
            cmd
        },
        &stream,
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");

    let mut final_status = std::collections::BTreeMap::new();
    let mut started = std::collections::BTreeSet::new();
    for e in &events {
        let (Some(id), Some(route)) = (&e.test_id, &e.route_code) else {
            continue;
        };
        if e.status != Status::Exists {
            started.insert((route.clone(), id.clone()));
        }
        if e.status.is_final() {
            final_status.insert((route.clone(), id.clone()), e.status);
        }
    }
    let count = |s: Status| final_status.values().filter(|&&v| v == s).count() as u64;
    let unfinished = (started.len() - final_status.len()) as u64;
    assert_eq!(unfinished, 4);
    assert_eq!(doc["total"], started.len() as u64);
    assert_eq!(doc["failed"], count(Status::Fail) + unfinished);
    assert_eq!(doc["skipped"], count(Status::Skip));
    assert_eq!(
        doc["passed"],
        count(Status::Success) + count(Status::XFail) + count(Status::UxSuccess)
    );
    for (name, status) in [
        ("success", Status::Success),
        ("fail", Status::Fail),
        ("skip", Status::Skip),
        ("xfail", Status::XFail),
        ("uxsuccess", Status::UxSuccess),
    ] {
        assert_eq!(doc["outcomes"][name], count(status), "outcome {name}");
    }
    assert_eq!(doc["outcomes"]["inprogress"], unfinished);
    assert_eq!(doc["unfinished"].as_array().expect("list").len(), 4);
    assert_eq!(
        doc["tags"],
        serde_json::json!(["worker-0", "worker-1", "worker-2"])
    );
    let routes = doc["route_codes"].as_object().expect("route codes");
    assert_eq!(
        routes.values().map(|v| v.as_u64().expect("n")).sum::<u64>(),
        started.len() as u64
    );
    assert_eq!(doc["damaged_packets"], 1);
    assert_eq!(doc["chatter_bytes"], (chatter.len() + damaged.len()) as u64);
    let times: Vec<f64> = events
        .iter()
        .filter_map(|e| e.timestamp)
        .map(|t| t.as_secs_f64())
        .collect();
    let span = times.iter().copied().fold(f64::MIN, f64::max)
        - times.iter().copied().fold(f64::MAX, f64::min);
    let run_time = doc["run_time"].as_f64().expect("run_time");
    assert!((run_time - span).abs() < 1e-3, "{run_time} vs {span}");
    assert_eq!(out.status.code(), Some(1), "failures mean exit 1");
    assert!(
        stderr_text(&out).contains("1 damaged packet kept as chatter"),
        "{}",
        stderr_text(&out)
    );
}

#[test]
fn stats_slowest_lists_the_longest_tests_first() {
    let mut stream = Vec::new();
    for (id, start, end) in [("quick", 0, 1), ("slow", 0, 30), ("middling", 5, 15)] {
        stream.extend(test_event(id, Status::InProgress, start));
        stream.extend(test_event(id, Status::Success, end));
    }
    let out = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.args(["--slowest", "2"]);
            cmd
        },
        &stream,
    );
    let text = stdout_text(&out);
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Slowest tests:")
        .skip(1)
        .collect();
    assert_eq!(listed, ["      30.000s  slow", "      10.000s  middling"]);

    let out = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.args(["--slowest", "2", "--json"]);
            cmd
        },
        &stream,
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["slowest"][0]["test_id"], "slow");
    assert_eq!(doc["slowest"][0]["seconds"], 30.0);
    assert_eq!(doc["slowest"].as_array().expect("list").len(), 2);
    assert_eq!(doc["test_time"], 41.0);
}

#[test]
fn stats_passthrough_order_and_no_passthrough() {
    let mut stream = b"before\n".to_vec();
    stream.extend(test_event("a", Status::InProgress, 0));
    stream.extend(packet(Event {
        file: Some(("stdout", b"loose\n")),
        ..Event::default()
    }));
    // Attachments of a test are not passed through.
    stream.extend(packet(Event {
        test_id: Some("a"),
        file: Some(("stdout", b"attached\n")),
        ..Event::default()
    }));
    stream.extend(test_event("a", Status::Success, 1));
    stream.extend(b"after\n");

    let out = run_with_input(ours("subunit-stats"), &stream);
    let text = stdout_text(&out);
    assert!(
        text.starts_with("before\nloose\nafter\nTotal tests:       1\n"),
        "{text}"
    );
    let out = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.arg("--no-passthrough");
            cmd
        },
        &stream,
    );
    assert!(stdout_text(&out).starts_with("Total tests:"));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn stats_output_to_sends_only_the_summary_to_the_file() {
    let mut stream = b"chatter\n".to_vec();
    stream.extend(test_event("a", Status::Fail, 0));
    let summary = std::env::temp_dir().join(format!("subunit-cli-{}-summary", std::process::id()));
    let out = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.arg("-o").arg(&summary);
            cmd
        },
        &stream,
    );
    assert_eq!(stdout_text(&out), "chatter\n");
    let written = std::fs::read_to_string(&summary).expect("summary file");
    assert!(
        written.starts_with("Total tests:       1\nPassed tests:      0\nFailed tests:      1\n")
    );
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_file(summary).ok();
}

#[test]
fn stats_forward_passes_packets_through_untouched() {
    let (stream, _) = composed_run();
    let mut input = b"chatter line\n".to_vec();
    input.extend_from_slice(&stream);
    let out = run_with_input(
        {
            let mut cmd = ours("subunit-stats");
            cmd.args(["--forward", "-o", "/dev/null"]);
            cmd
        },
        &input,
    );
    let items = decode_all(&out.stdout[..]);
    assert!(
        items.iter().all(|i| matches!(i, Decoded::Packet(..))),
        "only packets"
    );
    // The chatter comes first as a `stdout` file packet, then the input's
    // packets byte for byte.
    let Decoded::Packet(first, _) = &items[0] else {
        unreachable!()
    };
    assert_eq!(
        first.file,
        Some(("stdout".into(), b"chatter line\n".to_vec()))
    );
    assert_eq!(first.test_id, None);
    let forwarded: Vec<u8> = items[1..]
        .iter()
        .flat_map(|i| match i {
            Decoded::Packet(_, raw) => raw.clone(),
            Decoded::Chatter(_) => unreachable!(),
        })
        .collect();
    assert_eq!(forwarded, stream);
}

#[test]
fn stats_reads_several_files_as_one_run() {
    let first = temp_file("part1.subunit", &test_event("t", Status::InProgress, 0));
    let mut second_bytes = test_event("t", Status::Fail, 2);
    second_bytes.extend(test_event("u", Status::Success, 3));
    let second = temp_file("part2.subunit", &second_bytes);
    let out = ours("subunit-stats")
        .arg(&first)
        .arg(&second)
        .output()
        .expect("run");
    assert!(
        stdout_text(&out)
            .starts_with("Total tests:       2\nPassed tests:      1\nFailed tests:      1\n"),
        "{}",
        stdout_text(&out)
    );
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_file(first).ok();
    std::fs::remove_file(second).ok();
}

#[test]
fn stats_names_tests_that_never_finished_on_stderr() {
    let mut stream = test_event("hung", Status::InProgress, 0);
    stream.extend(test_event("fine", Status::Success, 1));
    let out = run_with_input(ours("subunit-stats"), &stream);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_text(&out).contains("Failed tests:      1\n"));
    assert_eq!(
        stderr_text(&out),
        "subunit-stats: 1 test never finished (counted as failed): hung\n"
    );
}

/// v1 text as python-subunit's `subunit-2to1` writes it.
const V1_TEXT: &[u8] = b"time: 2023-11-14 22:13:20.000000Z\ntest: calc.test_add\n\
    time: 2023-11-14 22:13:21.000000Z\nsuccessful: calc.test_add [ multipart\n]\n\
    test: calc.test_sub\nfailure: calc.test_sub [ multipart\n\
    Content-Type: text/plain;charset=utf8\ntraceback\n5\r\nboom\n0\r\n]\n";

fn v1_hint(command: &str, input: &str) -> String {
    format!(
        "{command}: warning: no subunit v2 packets in {input}; it looks like subunit v1 text: \
         convert it with subunit-1to2\n"
    )
}

#[test]
fn v2_commands_say_once_when_the_input_looks_like_v1() {
    for command in [
        "subunit-stats",
        "subunit-filter",
        "subunit-2to1",
        "subunit2json",
    ] {
        let out = run_with_input(ours(command), V1_TEXT);
        assert_eq!(stderr_text(&out), v1_hint(command, "stdin"), "{command}");
        // The hint changes nothing else.
        assert_eq!(out.status.code(), Some(0), "{command}");
    }
    let out = run_with_input(ours("subunit-stats"), V1_TEXT);
    assert!(stdout_text(&out).contains("Total tests:       0\n"));

    // Several inputs: only the v1 one is named; per input for subunit-mux.
    let v1 = temp_file("hint.v1", V1_TEXT);
    let v2 = temp_file("hint.subunit", &test_event("t", Status::Success, 0));
    for command in ["subunit-stats", "subunit-mux"] {
        let out = ours(command).arg(&v2).arg(&v1).output().expect("run");
        assert_eq!(
            stderr_text(&out),
            v1_hint(command, &v1.display().to_string()),
            "{command}"
        );
        let out = ours(command).arg(&v2).arg(&v2).output().expect("run");
        assert_eq!(stderr_text(&out), "", "{command} on v2 only");
    }
    let out = ours("subunit-mux")
        .args(["--command", &format!("cat {}", v1.display())])
        .args(["--command", &format!("cat {} >&2", v1.display())])
        .output()
        .expect("run");
    assert_eq!(
        stderr_text(&out),
        v1_hint(
            "subunit-mux",
            &format!("the output of 'cat {}'", v1.display())
        ),
        "a command's stderr is not a stream"
    );
    std::fs::remove_file(v1).ok();
    std::fs::remove_file(v2).ok();
}

#[test]
fn no_v1_hint_for_v2_streams_other_text_or_subunit_wrap() {
    // One packet anywhere makes the stream v2, however much v1 is around it.
    let mut mixed = V1_TEXT.to_vec();
    mixed.extend(test_event("t", Status::Success, 0));
    mixed.extend_from_slice(V1_TEXT);
    let build_log: &[u8] = b"cc -c calc.c\ncalc.c:3: error: expected ';'\nerror: build failed\n\
        make: *** [all] Error 1\nrunning test: calc\n";
    let indented: Vec<u8> = V1_TEXT
        .split_inclusive(|&b| b == b'\n')
        .flat_map(|line| [&b"  "[..], line].concat())
        .collect();
    for (what, input) in [
        ("a v2 stream with v1 text", &mixed[..]),
        ("a build log", build_log),
        ("v1 words not at a line start", &indented),
        ("nothing", b""),
    ] {
        for command in [
            "subunit-stats",
            "subunit-filter",
            "subunit-2to1",
            "subunit2json",
        ] {
            let out = run_with_input(ours(command), input);
            assert_eq!(stderr_text(&out), "", "{command} on {what}");
        }
    }
    // subunit-wrap takes text that is not subunit by design.
    let out = run_with_input(ours("subunit-wrap"), V1_TEXT);
    assert!(out.status.success());
    assert_eq!(stderr_text(&out), "", "subunit-wrap");
}
