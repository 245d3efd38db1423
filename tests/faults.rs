//! Faults, with every subunit command run as a real process: a full disk
//! (/dev/full), a closed standard output, an input file cut short while it
//! is read, and a low limit of open files. (Signals and the children of
//! subunit-wrap and subunit-mux: tests/faults_children.rs.)
//!
//! Each fault must end the command with a clear one-line message and
//! status 2, or quietly with status 0 for a closed pipe, never a panic;
//! a command that runs children leaves none of them running.

mod common;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::procs::{
    Running, TempDir, none_left_with, unique_marker, wait_within, with_default_signals,
};
use common::runs::{self, RunShape};
use common::{ALL_COMMANDS, ours, whole_packets};

/// The subunit commands (port-alloc has tests of its own).
fn subunit_commands() -> Vec<&'static str> {
    ALL_COMMANDS
        .into_iter()
        .filter(|&name| name != "port-alloc")
        .collect()
}

/// Far more than a pipe and the commands' buffers hold: a v2 stream with
/// chatter (which subunit-stats passes through as it reads), and the same
/// size of v1 text for subunit-1to2.
struct Inputs {
    v2: PathBuf,
    v1: PathBuf,
    /// A JUnit XML report of as many tests, for junitxml2subunit.
    junit: PathBuf,
    /// Where subunit2disk writes.
    disk: PathBuf,
    _dir: TempDir,
}

fn inputs(name: &str) -> Inputs {
    let dir = TempDir::new(name);
    let shape = RunShape {
        tests: 20_000,
        ..RunShape::default()
    };
    let v2 = dir.file("big.subunit", &runs::stream_with_chatter(&shape, 50));
    let v1: String = (0..40_000)
        .map(|i| format!("test: tests.t{i}\nsome output of t{i}\nsuccess: tests.t{i}\n"))
        .collect();
    let v1 = dir.file("big.v1", v1.as_bytes());
    let cases: String = (0..40_000)
        .map(|i| {
            format!(
                "<testcase classname='tests' name='t{i}' time='0.1'>\
                 <failure message='m'>some output of t{i}</failure></testcase>\n"
            )
        })
        .collect();
    let junit = format!("<testsuites><testsuite name='big'>\n{cases}</testsuite></testsuites>\n");
    let junit = dir.file("big.xml", junit.as_bytes());
    let disk = dir.path("disk");
    Inputs {
        v2,
        v1,
        junit,
        disk,
        _dir: dir,
    }
}

/// One way to run a command over the inputs; `marker` is in the command
/// line of the children it runs, if it runs any.
struct Invocation {
    name: &'static str,
    args: Vec<OsString>,
    marker: Option<String>,
}

impl Invocation {
    fn command(&self) -> Command {
        let mut cmd = ours(self.name);
        cmd.args(&self.args).stdin(Stdio::null());
        // subunit-notify's notification, shown by a program that does nothing.
        cmd.env("SUBUNIT_NOTIFY_SEND", "true");
        with_default_signals(&mut cmd);
        cmd
    }

    fn label(&self) -> String {
        format!("{} {:?}", self.name, self.args)
    }
}

/// Every command reading the inputs as it usually does, and the two that
/// run children doing that with a child that writes a lot, then sleeps.
fn invocations(inputs: &Inputs) -> Vec<Invocation> {
    let file = |name, args: &[&str], path: &Path| Invocation {
        name,
        args: args
            .iter()
            .map(OsString::from)
            .chain([path.as_os_str().to_owned()])
            .collect(),
        marker: None,
    };
    let child = |name, args: &[&str]| {
        let marker = unique_marker();
        let script = format!("seq 100000; sleep {marker}");
        Invocation {
            name,
            args: args
                .iter()
                .map(OsString::from)
                .chain([script.into()])
                .collect(),
            marker: Some(marker),
        }
    };
    let mut all = Vec::new();
    let disk = inputs.disk.to_str().expect("a UTF-8 temporary path");
    for name in subunit_commands() {
        let path = match name {
            "subunit-1to2" => &inputs.v1,
            "junitxml2subunit" => &inputs.junit,
            _ => &inputs.v2,
        };
        let args: &[&str] = match name {
            "subunit-filter" => &["-s"],
            "subunit-tags" => &["worker-9", "--file"],
            "subunit-output" => &["--fail", "big", "--attach-file"],
            "subunit2disk" => &["-d", disk],
            // The page to standard output, not results.html here.
            "subunit2html" => &["-o", "-"],
            _ => &[],
        };
        all.push(file(name, args, path));
    }
    all.push(child("subunit-wrap", &["--", "sh", "-c"]));
    all.push(child("subunit-mux", &["--command"]));
    all
}

/// Reads the child's stderr to its end on a thread (so that a child that
/// hangs is still killed by `wait_within`).
fn stderr_of(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).expect("read stderr");
        text
    })
}

fn check_none_left(run: &Invocation, what: &str) {
    if let Some(marker) = &run.marker {
        let left = none_left_with(marker);
        assert!(
            left.is_empty(),
            "{}: {what}: left running: {left:?}",
            run.label()
        );
    }
}

#[test]
fn a_full_disk_is_a_clear_error_with_status_2() {
    let inputs = inputs("full");
    let mut runs = invocations(&inputs);
    // --help and --version write to standard output too.
    for name in subunit_commands() {
        for flag in ["--help", "--version"] {
            runs.push(Invocation {
                name,
                args: vec![flag.into()],
                marker: None,
            });
        }
    }
    for run in runs {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut cmd = run.command();
        cmd.stdout(full).stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().expect("spawn"));
        let stderr = stderr_of(&mut child);
        let status = wait_within(&mut child, &run.label());
        let stderr = stderr.join().expect("stderr thread");
        assert_eq!(status.code(), Some(2), "{}: {stderr}", run.label());
        assert_eq!(
            stderr,
            format!(
                "{}: error writing output: No space left on device\n",
                run.name
            ),
            "{}",
            run.label()
        );
        check_none_left(&run, "after a full disk");
    }
}

#[test]
fn a_closed_output_ends_every_command_quietly_with_status_0() {
    let inputs = inputs("closed");
    for run in invocations(&inputs) {
        let mut cmd = run.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().expect("spawn"));
        let mut stdout = child.stdout.take().expect("stdout");
        let mut first = [0; 100];
        stdout.read_exact(&mut first).expect("the first bytes");
        drop(stdout);
        let stderr = stderr_of(&mut child);
        let status = wait_within(&mut child, &format!("{}: after | head", run.label()));
        let stderr = stderr.join().expect("stderr thread");
        assert_eq!(
            (status.code(), stderr.as_str()),
            (Some(0), ""),
            "{}",
            run.label()
        );
        check_none_left(&run, "after | head");
    }
}

/// What a command that runs children makes of a child that has written
/// all it will and sleeps: the closed output is found without a write,
/// and the child stopped (issue 10 item 9: `sleep 37` was left running).
#[test]
fn a_closed_output_stops_a_silent_child_at_once() {
    // The second script ignores SIGTERM: it is killed after a grace time
    // (the review found it kept subunit-wrap waiting for ever).
    let scripts = [
        "echo some output; sleep MARKER",
        "trap '' TERM; echo some output; while :; do sleep MARKER; done",
    ];
    for (name, script) in ["subunit-wrap", "subunit-mux"]
        .into_iter()
        .flat_map(|name| scripts.map(|script| (name, script)))
    {
        let marker = unique_marker();
        let script = script.replace("MARKER", &marker);
        let mut cmd = ours(name);
        if name == "subunit-wrap" {
            cmd.args(["--", "sh", "-c", &script]);
        } else {
            cmd.args(["--command", &script]);
        }
        with_default_signals(&mut cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().expect("spawn"));
        let mut stdout = child.stdout.take().expect("stdout");
        // The child's line, in a packet: the child sleeps now.
        let mut seen = Vec::new();
        let mut buf = [0; 4096];
        while !seen.windows(10).any(|w| w == b"some outpu") {
            let n = stdout.read(&mut buf).expect("read");
            assert!(n > 0, "{name}: output ended early");
            seen.extend_from_slice(&buf[..n]);
        }
        drop(stdout);
        let stderr = stderr_of(&mut child);
        // Within the timeout, far less than the child's 30 s.
        let status = wait_within(&mut child, &format!("{name}: after its output closed"));
        let stderr = stderr.join().expect("stderr thread");
        assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "{name}");
        let left = none_left_with(&marker);
        assert!(left.is_empty(), "{name}: the child still runs: {left:?}");
    }
}

/// An input file cut short while a command reads it (another process
/// truncating a log): the command goes on to the new end, without a crash,
/// and what it read before the cut comes out whole.
#[test]
fn an_input_cut_short_while_read_loses_nothing_before_the_cut() {
    let inputs = inputs("truncated");
    // A JUnit report cut short is malformed XML, reported with nothing of
    // it written (tests/junitxml2subunit.rs); subunit2html and
    // subunit2junitxml write their document only at the end of their
    // input, so there is no reading it mid-way.
    for run in invocations(&inputs).into_iter().filter(|run| {
        run.marker.is_none()
            && !matches!(
                run.name,
                "junitxml2subunit" | "subunit2html" | "subunit2junitxml"
            )
    }) {
        let dir = TempDir::new(&format!("truncated-{}", run.name));
        let original = PathBuf::from(run.args.last().expect("a file"));
        let bytes = std::fs::read(&original).expect("read the input");
        let path = dir.file("input", &bytes);
        let mut args = run.args.clone();
        *args.last_mut().expect("a file") = path.clone().into();
        let mut cmd = ours(run.name);
        cmd.args(&args)
            .env("SUBUNIT_NOTIFY_SEND", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().expect("spawn"));
        let mut stdout = child.stdout.take().expect("stdout");
        // It has read some of its input and waits for us to read: cut the
        // file to a third, in the middle of something.
        let mut output = vec![0; 1000];
        stdout.read_exact(&mut output).expect("the first bytes");
        let cut = bytes.len() / 3 + 7;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the input")
            .set_len(cut as u64)
            .expect("truncate");
        stdout.read_to_end(&mut output).expect("the rest");
        let stderr = stderr_of(&mut child);
        let status = wait_within(&mut child, &run.label());
        let stderr = stderr.join().expect("stderr thread");
        let label = run.label();
        // subunit-stats, subunit-ls, subunit2csv, subunit-notify and
        // subunit-trace say 1 when a test failed, as the stream has some.
        let ok = if matches!(
            run.name,
            "subunit-stats" | "subunit-ls" | "subunit2csv" | "subunit-notify" | "subunit-trace"
        ) {
            1
        } else {
            0
        };
        assert!(
            status.code().is_some_and(|c| c <= ok) && !stderr.contains("panicked"),
            "{label}: {status:?} {stderr}"
        );
        match run.name {
            // What it read before the cut comes out, as it would from a
            // file that ended there (but for the last piece, cut short).
            "subunit2json" => {
                let prefix = dir.file("prefix", &bytes[..cut]);
                let expected = ours("subunit2json").arg(&prefix).output().expect("run");
                let expected = String::from_utf8(expected.stdout).expect("UTF-8");
                let got = String::from_utf8(output).expect("UTF-8");
                let whole: Vec<&str> = expected
                    .lines()
                    .filter(|l| !l.starts_with("{\"chatter"))
                    .collect();
                let got: Vec<&str> = got
                    .lines()
                    .filter(|l| !l.starts_with("{\"chatter"))
                    .collect();
                assert!(
                    got.len() >= whole.len() && got[..whole.len()] == whole[..],
                    "{label}: {} packets before the cut, {} out",
                    whole.len(),
                    got.len()
                );
            }
            "subunit-wrap" | "subunit-filter" | "subunit-1to2" | "subunit-mux" => {
                let packets = whole_packets(&output, &label);
                assert!(packets.len() > 10, "{label}: {} packets", packets.len());
            }
            _ => assert!(output.len() > 1000, "{label}: the summary or text"),
        }
    }
}

/// FIFOs, each opened for writing by the test (read-write, so that the
/// open does not wait for a reader), so that subunit-mux holds every one
/// open at once.
struct Fifos {
    paths: Vec<PathBuf>,
    writers: Vec<std::fs::File>,
    _dir: TempDir,
}

fn fifos(count: usize) -> Fifos {
    let dir = TempDir::new(&format!("fifos-{count}"));
    let mut paths = Vec::new();
    let mut writers = Vec::new();
    for i in 0..count {
        let path = dir.path(&format!("fifo{i}"));
        let made = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
        assert!(made.success(), "mkfifo {}", path.display());
        writers.push(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .expect("open the FIFO"),
        );
        paths.push(path);
    }
    Fifos {
        paths,
        writers,
        _dir: dir,
    }
}

/// `sh -c 'ulimit -n LIMIT; exec "$@"' sh COMMAND ARGS...`.
fn with_open_file_limit(limit: u32, name: &str, args: &[OsString]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$@\""))
        .arg("sh")
        .arg(ours(name).get_program())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Checks what a command did under a low limit of open files: no panic,
/// and if it failed, a clear message of its own on each line.
fn check_open_file_error(label: &str, name: &str, status: std::process::ExitStatus, stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{label}: {stderr}"
    );
    if status.code() != Some(0) {
        assert!(
            stderr.contains("Too many open files")
                && stderr.lines().all(|l| l.starts_with(&format!("{name}: "))),
            "{label}: {status:?}, a clear message expected: {stderr}"
        );
    }
}

#[test]
fn a_low_open_file_limit_is_a_clear_error_not_a_panic() {
    let inputs = inputs("ulimit");
    let files: Vec<OsString> = (0..12).map(|_| inputs.v2.clone().into()).collect();
    // subunit-output attaches one file; subunit-tags takes each with --file.
    let mut runs: Vec<(&str, Vec<OsString>)> = subunit_commands()
        .into_iter()
        .filter(|&name| name != "subunit-output")
        .map(|name| match name {
            "subunit-tags" => (
                name,
                files
                    .iter()
                    .flat_map(|f| [OsString::from("--file"), f.clone()])
                    .collect(),
            ),
            // Into a directory of the test's own, not the working one.
            "subunit2disk" => (
                name,
                [OsString::from("-d"), inputs.disk.clone().into()]
                    .into_iter()
                    .chain(files.iter().cloned())
                    .collect(),
            ),
            "subunit2html" => (
                name,
                ["-o", "-"]
                    .map(OsString::from)
                    .into_iter()
                    .chain(files.iter().cloned())
                    .collect(),
            ),
            _ => (name, files.clone()),
        })
        .collect();
    let commands: Vec<OsString> = (0..8)
        .flat_map(|i| ["--command".into(), format!("echo {i}; sleep 0.2").into()])
        .collect();
    runs.push(("subunit-mux", commands));
    runs.push((
        "subunit-wrap",
        ["--", "echo", "hi"].map(OsString::from).to_vec(),
    ));
    let mut failed = 0;
    for (name, args) in runs {
        for limit in [5, 6, 8] {
            let label = format!("{name} {:?}... with ulimit -n {limit}", &args[..2]);
            let mut cmd = with_open_file_limit(limit, name, &args);
            let mut child = Running(cmd.spawn().expect("spawn"));
            let mut stdout = child.stdout.take().expect("stdout");
            let out = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            let stderr = stderr_of(&mut child);
            let status = wait_within(&mut child, &label);
            let stderr = stderr.join().expect("stderr thread");
            out.join().expect("stdout thread").expect("stdout");
            check_open_file_error(&label, name, status, &stderr);
            failed += usize::from(status.code() != Some(0));
        }
    }
    assert!(failed > 0, "the limits were too high to test anything");
}

/// How many of `paths` process `pid` has open, as /proc says.
fn opened_by(pid: u32, paths: &[PathBuf]) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| paths.contains(target))
        .count()
}

/// FIFOs stay open as long as their writers: subunit-mux holds every one
/// at once, and says at once which it could not open.
#[test]
fn fifos_beyond_the_open_file_limit_are_named_at_once() {
    use std::io::BufRead;
    use std::time::Instant;
    let fifos = fifos(12);
    let args: Vec<OsString> = fifos.paths.iter().map(|p| p.clone().into()).collect();
    let mut child = Running(
        with_open_file_limit(8, "subunit-mux", &args)
            .spawn()
            .expect("spawn"),
    );
    let mut stdout = child.stdout.take().expect("stdout");
    let out = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let _ = lines_tx.send(line.expect("stderr"));
        }
    });
    // Every FIFO opened or refused, while its writer is there: only then
    // may the writers go (a FIFO opened later would wait for a writer).
    let mut said = Vec::new();
    let deadline = Instant::now() + common::procs::TIMEOUT;
    while said.len() + opened_by(child.id(), &fifos.paths) < fifos.paths.len() {
        assert!(
            Instant::now() < deadline,
            "FIFOs neither opened nor refused: {said:?}"
        );
        if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(20)) {
            said.push(line);
        }
    }
    assert!(!said.is_empty(), "ulimit -n 8 let every FIFO open");
    for line in &said {
        assert!(
            line.starts_with("subunit-mux: cannot open ") && line.ends_with("Too many open files"),
            "{line}"
        );
    }
    // The others are read on: they end when their writers close.
    drop(fifos.writers);
    let status = wait_within(&mut child, "after the FIFOs closed");
    out.join().expect("stdout thread").expect("stdout");
    said.extend(lines.iter());
    check_open_file_error("subunit-mux FIFOs", "subunit-mux", status, &said.join("\n"));
    assert_eq!(status.code(), Some(2));
}
