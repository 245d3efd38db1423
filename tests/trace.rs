//! `subunit-trace`: its lines and summary checked against the events of
//! generated runs and the corpus, live output through a slow pipe, the
//! status line through a pseudo-terminal (and never on a pipe), colours,
//! the options of os-testr, and the exit statuses of --fail-on.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::procs::{Running, TIMEOUT, TempDir};
use common::runs::{self, RunShape};
use common::tools::{at, generated_runs, packet, status};
use common::{Decoded, corpus, decode_all, ours, run_with_input};
use subunit_tools::{Event, Status, Timestamp};

/// What the trace of a stream should say, worked out from its events
/// alone: tests keyed by id and route code, ended by a final status.
#[derive(Debug, Default)]
struct Expected {
    /// (worker, shown id, outcome word, duration) of every line, sorted.
    lines: Vec<(String, String, String, String)>,
    counts: BTreeMap<&'static str, usize>,
    ran: usize,
    unfinished: Vec<String>,
}

#[derive(Default)]
struct Open {
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    tags: Option<Vec<String>>,
    status: Status,
}

fn shown_id(id: &str) -> String {
    match (id.find('['), id.find(']')) {
        (Some(a), Some(b)) if a > 0 && b > a => format!("{}{}", &id[..a], &id[b + 1..]),
        _ => id.to_owned(),
    }
}

fn duration(first: Option<Timestamp>, last: Option<Timestamp>) -> String {
    let (Some(a), Some(b)) = (first, last) else {
        return String::new();
    };
    let n = |t: Timestamp| i64::from(t.seconds) * 1_000_000_000 + i64::from(t.nanos);
    let micros = (n(b) - n(a)).max(0) / 1000;
    format!("{}.{:06}s", micros / 1_000_000, micros % 1_000_000)
}

fn expected(stream: &[u8]) -> Expected {
    let mut open: BTreeMap<(String, Option<String>), Open> = BTreeMap::new();
    let mut order = Vec::new();
    let mut exp = Expected::default();
    let line = |exp: &mut Expected, id: &str, route: &Option<String>, t: &Open| {
        let worker = route.clone().unwrap_or_else(|| {
            t.tags
                .iter()
                .flatten()
                .find_map(|t| t.strip_prefix("worker-"))
                .unwrap_or("0")
                .to_owned()
        });
        let word = match t.status {
            Status::Success => "ok",
            Status::Fail => "FAILED",
            Status::Skip => "SKIPPED",
            Status::XFail => "xfail",
            Status::UxSuccess => "uxsuccess",
            Status::InProgress => "inprogress",
            _ => "unknown",
        };
        let time = match t.status {
            Status::Skip => String::new(),
            _ => duration(t.first, t.last),
        };
        exp.lines
            .push((worker, shown_id(id), word.to_owned(), time));
        exp.ran += 1;
        *exp.counts.entry(word).or_default() += 1;
    };
    for item in decode_all(stream) {
        let Decoded::Packet(e, _) = item else {
            continue;
        };
        let Some(id) = e.test_id.clone() else {
            continue;
        };
        if e.status == Status::Exists {
            continue;
        }
        let key = (id.clone(), e.route_code.clone());
        if !open.contains_key(&key) {
            order.push(key.clone());
            open.insert(
                key.clone(),
                Open {
                    first: e.timestamp,
                    ..Open::default()
                },
            );
        }
        let t = open.get_mut(&key).expect("open");
        t.last = e.timestamp;
        if e.tags.is_some() {
            t.tags = e.tags.clone();
        }
        if e.status != Status::Unset {
            t.status = e.status;
        }
        if e.status.is_final() {
            let t = open.remove(&key).expect("open");
            line(&mut exp, &id, &key.1, &t);
        }
    }
    for key in order {
        if let Some(t) = open.remove(&key) {
            exp.unfinished.push(key.0.clone());
            line(&mut exp, &key.0, &key.1, &t);
        }
    }
    exp.lines.sort();
    exp.unfinished.sort();
    exp
}

/// The test lines of a trace, parsed, sorted.
fn lines_of(out: &str) -> Vec<(String, String, String, String)> {
    let re = regex::Regex::new(
        r"^\{([^}]*)\} (.*?)(?: \[([0-9.s]*)\])? \.\.\. (ok|FAILED|SKIPPED|xfail|uxsuccess|inprogress|unknown)(?::.*)?$",
    )
    .unwrap();
    let mut lines: Vec<_> = out
        .lines()
        .filter_map(|l| re.captures(l))
        .map(|c| {
            let text = |i| c.get(i).map_or("", |m| m.as_str()).to_owned();
            (text(1), text(2), text(4), text(3))
        })
        .collect();
    lines.sort();
    lines
}

/// The number after `label: ` in the summary.
fn count(out: &str, label: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!(" - {label}: ")))
        .unwrap_or_else(|| panic!("no {label} in {out}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn trace(args: &[&str], input: &[u8]) -> (String, String, i32) {
    let mut cmd = ours("subunit-trace");
    cmd.args(args).env_remove("TRACE_FAILONLY");
    let out = run_with_input(cmd, input);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().expect("an exit code"),
    )
}

fn check_against_events(name: &str, stream: &[u8]) {
    let exp = expected(stream);
    let (out, err, code) = trace(&[], stream);
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert_eq!(lines_of(&out), exp.lines, "{name}: the lines");
    assert!(
        out.contains(&format!("Ran: {} tests in ", exp.ran)),
        "{name}: {out}"
    );
    for (label, word) in [
        ("Passed", "ok"),
        ("Skipped", "SKIPPED"),
        ("Expected Fail", "xfail"),
        ("Unexpected Success", "uxsuccess"),
        ("Failed", "FAILED"),
    ] {
        let n = exp.counts.get(word).copied().unwrap_or(0);
        assert_eq!(count(&out, label), n, "{name}: {label}");
    }
    let failed = ["FAILED", "uxsuccess"]
        .iter()
        .any(|w| exp.counts.contains_key(w));
    let bad = failed || !exp.unfinished.is_empty() || exp.ran == exp.unfinished.len();
    assert_eq!(code, i32::from(bad), "{name}: exit status; {err}");
    if !exp.unfinished.is_empty() {
        let section = out.split("Did Not Finish").nth(1).expect("the section");
        let mut named: Vec<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix(" - "))
            .map(|l| l.rsplit(' ').next().unwrap().to_owned())
            .collect();
        named.sort();
        assert_eq!(named, exp.unfinished, "{name}: the tests left in progress");
    }
}

#[test]
fn lines_and_summary_agree_with_the_events_of_generated_runs() {
    for (name, stream) in generated_runs() {
        check_against_events(&name, &stream);
    }
}

#[test]
fn lines_and_summary_agree_with_the_events_of_the_corpus() {
    for path in corpus() {
        let stream = std::fs::read(&path).expect("read");
        check_against_events(&path.display().to_string(), &stream);
    }
}

#[test]
fn worker_balance_counts_each_workers_tests() {
    let stream = runs::stream(&RunShape {
        tests: 120,
        workers: 3,
        ..RunShape::default()
    });
    let exp = expected(&stream);
    let (out, _, _) = trace(&[], &stream);
    let balance = out.split("Worker Balance").nth(1).expect("the section");
    for w in ["0", "1", "2"] {
        let n = exp.lines.iter().filter(|l| l.0 == w).count();
        assert!(
            balance.contains(&format!(" - Worker {w} ({n} tests) => ")),
            "worker {w}: {balance}"
        );
    }
}

/// A failing test with a traceback and stdout, a passing one with stdout
/// and a log, a skip with a reason, and one that never finishes.
fn mixed() -> Vec<u8> {
    let mut s = Vec::new();
    let file = |s: &mut Vec<u8>, id, name, text: &[u8]| {
        packet(
            s,
            Event {
                test_id: Some(id),
                file: Some((name, text)),
                mime: Some("text/plain;charset=utf8"),
                tags: Some(&["worker-1"]),
                ..Event::default()
            },
        )
    };
    status(&mut s, "t.bad", Status::InProgress, at(0, 0));
    file(&mut s, "t.bad", "traceback", b"Traceback: boom\n");
    file(&mut s, "t.bad", "stdout", b"printed by bad");
    status(&mut s, "t.bad", Status::Fail, at(1_500_000, 0));
    status(&mut s, "t.good[id-1,smoke]", Status::InProgress, at(0, 0));
    file(&mut s, "t.good[id-1,smoke]", "stdout", b"printed by good");
    file(
        &mut s,
        "t.good[id-1,smoke]",
        "pythonlogging:''",
        b"a log line",
    );
    status(&mut s, "t.good[id-1,smoke]", Status::Success, at(250, 0));
    file(&mut s, "t.skip", "reason", b"not today");
    status(&mut s, "t.skip", Status::Skip, None);
    status(&mut s, "t.hung", Status::InProgress, at(0, 0));
    file(&mut s, "t.hung", "stderr", b"last words");
    s
}

#[test]
fn failures_show_their_output_and_passes_their_stdout() {
    let (out, _, code) = trace(&[], &mixed());
    assert_eq!(code, 1);
    let bad = out
        .split("{1} t.bad [1.500000s] ... FAILED\n")
        .nth(1)
        .expect(&out);
    assert!(
        bad.starts_with(
            "\nCaptured traceback:\n~~~~~~~~~~~~~~~~~~~\n    Traceback: boom\n    \n\
         \nCaptured stdout:\n~~~~~~~~~~~~~~~~\n    printed by bad\n"
        ),
        "{out}"
    );
    assert!(out.contains(
        "{1} t.good [0.000250s] ... ok\n\nCaptured stdout:\n~~~~~~~~~~~~~~~~\n    printed by good\n{1} t.skip"
    ), "a pass shows stdout, not its log: {out}");
    assert!(out.contains("{1} t.skip ... SKIPPED: not today\n"), "{out}");
    assert!(
        out.contains("{1} t.hung [] ... inprogress\n\nCaptured stderr:"),
        "{out}"
    );
    assert!(out.contains(" - Did not finish: 1\n"), "{out}");
    assert!(
        out.contains("Did Not Finish\n================\n - t.hung\n"),
        "{out}"
    );

    let (quiet, _, _) = trace(&["-n"], &mixed());
    assert!(!quiet.contains("Captured traceback"), "{quiet}");
    assert!(
        quiet.contains("printed by good"),
        "-n keeps what passes print: {quiet}"
    );

    let (only, _, _) = trace(&["--failonly", "--no-summary"], &mixed());
    let shown: Vec<_> = lines_of(&only).into_iter().map(|l| l.1).collect();
    assert_eq!(shown, ["t.bad", "t.hung"], "{only}");
    assert!(!only.contains("Totals"), "{only}");

    let mut env = ours("subunit-trace");
    env.env("TRACE_FAILONLY", "1");
    let out_env = run_with_input(env, &mixed());
    assert!(!String::from_utf8_lossy(&out_env.stdout).contains("t.good"));

    let (fails, _, _) = trace(&["-n", "--fails"], &mixed());
    let again = fails
        .split("==============================\nFailed 2 tests - output below:\n==============================\n")
        .nth(1)
        .expect(&fails);
    assert!(
        again.starts_with("\nt.bad\n-----\n\nCaptured traceback:"),
        "{again}"
    );
    assert!(
        again.contains("\nt.hung\n------\n\nCaptured stderr:"),
        "{again}"
    );

    let (abbrev, _, _) = trace(&["-a", "--no-summary"], &mixed());
    assert_eq!(abbrev, "F.Si\n");
}

#[test]
fn colours_on_request_and_never_on_a_pipe_by_default() {
    let (plain, _, _) = trace(&[], &mixed());
    assert!(!plain.contains('\x1b'), "{plain}");
    for args in [
        &["--color", "always"][..],
        &["--color"],
        &["--color=always"],
    ] {
        let (coloured, _, _) = trace(args, &mixed());
        assert!(
            coloured.contains("... \x1b[31mFAILED\x1b[0m\n"),
            "{args:?}: {coloured}"
        );
        assert!(coloured.contains("... \x1b[32mok\x1b[0m\n"), "{coloured}");
        assert!(
            coloured.contains("... \x1b[34mSKIPPED\x1b[0m: not today"),
            "{coloured}"
        );
    }
    let (never, _, _) = trace(&["--color=never"], &mixed());
    assert_eq!(never, plain);
}

#[test]
fn routes_are_workers_and_chatter_passes_through() {
    let mut s = b"build output\n".to_vec();
    packet(
        &mut s,
        Event {
            test_id: Some("t.a"),
            status: Status::Success,
            route_code: Some("3/1"),
            tags: Some(&["worker-7"]),
            ..Event::default()
        },
    );
    packet(
        &mut s,
        Event {
            file: Some(("stdout", b"global output\n")),
            ..Event::default()
        },
    );
    let (out, _, code) = trace(&["--no-summary"], &s);
    assert_eq!(out, "build output\n{3/1} t.a [] ... ok\nglobal output\n");
    assert_eq!(code, 0);
}

#[test]
fn exit_statuses_follow_fail_on() {
    let pass = common::results_stream(&[("a", Status::Success), ("b", Status::Skip)]);
    let fail = common::results_stream(&[("a", Status::Success), ("b", Status::Fail)]);
    let ux = common::results_stream(&[("a", Status::UxSuccess)]);
    let mut hung = common::results_stream(&[("a", Status::Success)]);
    status(&mut hung, "b", Status::InProgress, None);
    let mut damaged = pass.clone();
    let mut bad = common::results_stream(&[("c", Status::Success)]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // the CRC no longer matches
    damaged.extend(bad);
    let cases: &[(&str, &[u8], &[&str], i32)] = &[
        ("all pass", &pass, &[], 0),
        ("a failure", &fail, &[], 1),
        ("an unexpected success", &ux, &[], 1),
        ("a test never finished", &hung, &[], 1),
        ("no tests", b"", &[], 1),
        ("only chatter", b"hello\n", &[], 1),
        (
            "a failure, not asked",
            &fail,
            &["--fail-on", "unfinished,none-run"],
            0,
        ),
        ("unfinished, not asked", &hung, &["--fail-on=failed"], 0),
        ("unfinished, asked", &hung, &["--fail-on", "unfinished"], 1),
        ("no tests, not asked", b"", &["--fail-on", "failed"], 0),
        ("damaged, by default", &damaged, &[], 0),
        (
            "damaged, asked",
            &damaged,
            &["--fail-on", "failed,damaged"],
            1,
        ),
    ];
    for (what, input, args, code) in cases {
        let (out, err, got) = trace(args, input);
        assert_eq!(got, *code, "{what}: {out}{err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    let (_, err, _) = trace(&[], b"");
    assert!(
        err.contains("subunit-trace: the run had no test that finished"),
        "{err}"
    );
    let (_, err, _) = trace(&["--fail-on", "bogus"], b"");
    assert!(err.starts_with("subunit-trace: "), "{err}");
}

/// `sh -c SCRIPT | subunit-trace ARGS` with the trace's stdout lines on a
/// channel.
struct Live {
    script: Running,
    trace: Running,
    lines: mpsc::Receiver<String>,
}

impl Live {
    fn start(dir: &TempDir, first: &[u8], second: &[u8], args: &[&str]) -> Live {
        let a = dir.file("first", first);
        let b = dir.file("second", second);
        let script = format!("cat '{}'; read _; cat '{}'", a.display(), b.display());
        let mut script = Running(
            Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("sh"),
        );
        let mut trace = Running(
            ours("subunit-trace")
                .args(args)
                .stdin(Stdio::from(script.stdout.take().expect("stdout")))
                .stdout(Stdio::piped())
                .spawn()
                .expect("subunit-trace"),
        );
        let (tx, lines) = mpsc::channel();
        let stdout = trace.stdout.take().expect("stdout");
        thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).split(b'\n') {
                let line = String::from_utf8_lossy(&line.expect("line")).into_owned();
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Live {
            script,
            trace,
            lines,
        }
    }

    fn release(mut self) -> Vec<String> {
        self.script
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"\n")
            .expect("release");
        self.script.wait().expect("wait");
        self.trace.wait().expect("wait");
        self.lines.iter().collect()
    }
}

#[test]
fn each_line_comes_out_while_the_input_waits_and_a_pipe_gets_no_status_line() {
    let dir = TempDir::new("trace-live");
    let mut first = Vec::new();
    status(&mut first, "t.one", Status::InProgress, at(0, 0));
    status(&mut first, "t.one", Status::Success, at(1000, 0));
    status(&mut first, "t.slow", Status::InProgress, at(1000, 0));
    let mut second = Vec::new();
    status(&mut second, "t.slow", Status::Fail, at(2000, 0));
    let live = Live::start(&dir, &first, &second, &[]);
    let line = live
        .lines
        .recv_timeout(TIMEOUT)
        .expect("the line of t.one did not come while the input waited");
    assert_eq!(line, "{0} t.one [0.001000s] ... ok");
    // Longer than a tick of the status line: on a pipe nothing is drawn.
    assert!(
        live.lines
            .recv_timeout(Duration::from_millis(1200))
            .is_err()
    );
    let rest = live.release().join("\n");
    assert!(
        rest.starts_with("{0} t.slow [0.001000s] ... FAILED"),
        "{rest}"
    );
    assert!(
        !rest.contains('\x1b') && !rest.contains('\r') && !rest.contains("running"),
        "{rest}"
    );
}

/// Runs subunit-trace with its stdout on a pseudo-terminal and its stdin
/// from the script `cat FIRST; read _; cat SECOND`; returns what the
/// terminal showed before the release (once `until` is in it) and all.
fn on_a_terminal(
    first: &[u8],
    second: &[u8],
    args: &[&str],
    env: &[(&str, &str)],
    until: impl Fn(&str) -> bool,
) -> (String, String) {
    let dir = TempDir::new("trace-pty");
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds into the given ints; no name, termios
    // or size given.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let a = dir.file("first", first);
    let b = dir.file("second", second);
    let script = format!("cat '{}'; read _; cat '{}'", a.display(), b.display());
    let mut sh = Running(
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh"),
    );
    let mut cmd = ours("subunit-trace");
    cmd.args(args).env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut trace = Running(
        cmd.stdin(Stdio::from(sh.stdout.take().expect("stdout")))
            .stdout(Stdio::from(slave))
            .stderr(Stdio::null())
            .spawn()
            .expect("subunit-trace"),
    );
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut reader = std::fs::File::from(master);
    thread::spawn(move || {
        let mut buf = [0; 4096];
        // EIO once the terminal's other side is closed: the end.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while !until(&String::from_utf8_lossy(&seen)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => seen.extend(bytes),
            Err(_) => panic!(
                "what was waited for did not show on the terminal: {:?}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    let before = String::from_utf8_lossy(&seen).into_owned();
    sh.stdin
        .take()
        .expect("stdin")
        .write_all(b"\n")
        .expect("release");
    sh.wait().expect("wait");
    trace.wait().expect("wait");
    let mut all = seen;
    while let Ok(bytes) = rx.recv_timeout(Duration::from_secs(2)) {
        all.extend(bytes);
    }
    (before, String::from_utf8_lossy(&all).into_owned())
}

/// What a terminal shows at the end: each line as the last \r and erases
/// left it.
fn screen(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|line| {
            let line = line.trim_end_matches('\r');
            let line = line.rsplit('\r').next().unwrap_or(line);
            line.replace("\x1b[K", "")
        })
        .collect()
}

#[test]
fn a_terminal_shows_the_tests_in_progress_then_erases_the_line() {
    let mut first = Vec::new();
    for id in ["t.a", "t.b", "t.c"] {
        status(&mut first, id, Status::Exists, None);
    }
    status(&mut first, "t.a", Status::InProgress, at(0, 0));
    status(&mut first, "t.a", Status::Fail, at(10, 0));
    status(&mut first, "t.hang", Status::InProgress, at(10, 0));
    let mut second = Vec::new();
    status(&mut second, "t.hang", Status::Success, at(20, 0));
    // It goes on being redrawn while the input is quiet: wait for a second
    // drawing.
    let (before, all) = on_a_terminal(&first, &second, &[], &[], |seen| {
        seen.matches("1 running: t.hang (").count() >= 2
    });
    assert!(before.contains("[1/3 done, 1 failed, 0:0"), "{before:?}");
    assert!(before.contains("] 1 running: t.hang ("), "{before:?}");
    assert!(
        before.contains("\x1b[31mFAILED\x1b[0m"),
        "colour on a terminal: {before:?}"
    );
    let shown = screen(&all);
    assert!(
        shown
            .iter()
            .all(|l| !l.contains("running") && !l.contains(" done, ")),
        "the status line is left on the screen: {shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("{0} t.hang [0.000010s] ... ")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|l| l == "Ran: 2 tests in 0.0000 sec."),
        "{shown:?}"
    );
}

#[test]
fn no_colour_on_a_terminal_with_no_color_and_no_status_line_with_abbreviate() {
    let mut first = Vec::new();
    status(&mut first, "t.a", Status::Fail, None);
    status(&mut first, "t.b", Status::InProgress, None);
    let mut second = Vec::new();
    status(&mut second, "t.b", Status::Success, None);
    let (before, _) = on_a_terminal(&first, &second, &[], &[("NO_COLOR", "1")], |s| {
        s.contains("running")
    });
    assert!(before.contains("... FAILED"), "{before:?}");
    assert!(!before.contains("\x1b[3"), "{before:?}");
    let (_, all) = on_a_terminal(&first, &second, &["-a", "--no-summary"], &[], |s| {
        s.contains('F')
    });
    assert!(
        !all.contains("running") && !all.contains("\x1b[K"),
        "{all:?}"
    );
}
