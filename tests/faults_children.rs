//! Faults of the commands that run children, subunit-wrap -- COMMAND and
//! subunit-mux --command, as real processes: SIGTERM, SIGINT and SIGHUP
//! (no process left running, the output whole packets), a child that
//! closes its output but goes on running (waited for), and a process the
//! child started that holds the output open after the child ended (not
//! waited for beyond a moment). (Other faults: tests/faults.rs.)

mod common;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::procs::{
    Running, TIMEOUT, TempDir, none_left_with, pid_in, send, unique_marker, wait_within,
    with_default_signals,
};
use common::runs::OwnedEvent;
use common::{ours, whole_packets};
use subunit_tools::Status;

/// The two commands that run children, with `script` as their one child.
fn supervising(name: &str, script: &str) -> Command {
    let mut cmd = ours(name);
    if name == "subunit-wrap" {
        cmd.args(["--no-timestamps", "--", "sh", "-c", script]);
    } else {
        cmd.args(["--no-timestamps", "--command", script]);
    }
    with_default_signals(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Reads `child`'s stdout and stderr to their ends on threads.
fn read_outputs(child: &mut Child) -> (thread::JoinHandle<Vec<u8>>, thread::JoinHandle<String>) {
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    (
        thread::spawn(move || {
            let mut bytes = Vec::new();
            stdout.read_to_end(&mut bytes).expect("stdout");
            bytes
        }),
        thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).expect("stderr");
            text
        }),
    )
}

/// Waits (best effort, at most a few seconds) until a thread of `pid` is
/// blocked writing into a full pipe, as /proc's wchan says.
fn blocked_writing(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let writing = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|task| {
                std::fs::read_to_string(task.path().join("wchan"))
                    .is_ok_and(|w| w.contains("pipe_write"))
            });
        if writing {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// How the run ended: killed by `signal`, or (a shell that handled it)
/// 128 + `signal`.
fn ended_by(status: ExitStatus, signal: i32) -> bool {
    status.signal() == Some(signal) || status.code() == Some(128 + signal)
}

#[test]
fn a_signal_leaves_no_process_running_and_whole_packets_out() {
    for name in ["subunit-wrap", "subunit-mux"] {
        for flood in [false, true] {
            for (signal, signal_name) in [
                (libc::SIGTERM, "SIGTERM"),
                (libc::SIGINT, "SIGINT"),
                (libc::SIGHUP, "SIGHUP"),
            ] {
                let what = format!("{name}, flood {flood}, {signal_name}");
                let dir = TempDir::new(&format!("signal-{signal}-{flood}"));
                let started = dir.path("started");
                let marker = unique_marker();
                // The child, and a child of its own that would be left
                // running if the shell alone were stopped.
                let work = if flood {
                    format!("yes {marker}")
                } else {
                    format!("echo ready; sleep {marker}")
                };
                let script = format!("echo $$ > '{}'; {work}; true", started.display());
                let mut run = Running(supervising(name, &script).spawn().expect("spawn"));
                pid_in(&started);
                let (stdout, stderr) = if flood {
                    // The pipe to us is full: the command waits in a write.
                    blocked_writing(run.id());
                    send(run.id(), signal);
                    read_outputs(&mut run)
                } else {
                    let outputs = read_outputs(&mut run);
                    send(run.id(), signal);
                    outputs
                };
                let status = wait_within(&mut run, &what);
                let out = stdout.join().expect("stdout thread");
                let stderr = stderr.join().expect("stderr thread");
                assert!(ended_by(status, signal), "{what}: {status:?} {stderr}");
                assert!(!stderr.contains("panicked"), "{what}: {stderr}");
                let packets = whole_packets(&out, &what);
                if name == "subunit-wrap" {
                    let last = packets.last().expect("packets");
                    assert_eq!(
                        last.status,
                        Status::Fail,
                        "{what}: the test ends the output"
                    );
                }
                let left = none_left_with(&marker);
                assert!(left.is_empty(), "{what}: left running: {left:?}");
            }
        }
    }
}

/// subunit-mux running a command that floods it, its output unread until
/// its write blocks, then sent SIGTERM: after `wait` it still waits for
/// its batch to be written. Returns it, the marker of the command's
/// processes, and their directory.
fn mux_flooding_stopped(what: &str, wait: Duration) -> (Running, String, TempDir) {
    let marker = unique_marker();
    // Named after the marker: the tests that call this run in parallel.
    let dir = TempDir::new(&format!("signal-flooded-{marker}"));
    let started = dir.path("started");
    let script = format!("echo $$ > '{}'; yes {marker}; true", started.display());
    let mut run = Running(supervising("subunit-mux", &script).spawn().expect("spawn"));
    pid_in(&started);
    blocked_writing(run.id());
    send(run.id(), libc::SIGTERM);
    thread::sleep(wait);
    assert_eq!(
        run.try_wait().expect("try_wait"),
        None,
        "{what}: still writing"
    );
    (run, marker, dir)
}

/// subunit-mux flooded by its command, stopped by SIGTERM while the batch
/// it writes waits for a reader that takes nothing for a while: it waits
/// however long that is, then ends by the signal with whole packets out.
/// (It used to give up after 2 s, leaving the batch, and a packet, cut: the
/// packet in the pipe, 64 KiB of it, and nothing more.)
#[test]
fn a_signal_waits_for_the_batch_being_written_however_slow_the_reader() {
    let what = "subunit-mux, flood, SIGTERM, a slow reader";
    let (mut run, marker, _dir) = mux_flooding_stopped(what, Duration::from_secs(3));
    let (stdout, stderr) = read_outputs(&mut run);
    let status = wait_within(&mut run, what);
    let out = stdout.join().expect("stdout thread");
    let stderr = stderr.join().expect("stderr thread");
    assert!(
        ended_by(status, libc::SIGTERM),
        "{what}: {status:?} {stderr}"
    );
    assert!(!whole_packets(&out, what).is_empty(), "{what}");
    let left = none_left_with(&marker);
    assert!(left.is_empty(), "{what}: left running: {left:?}");
}

/// A second signal while subunit-mux waits for a reader that takes nothing
/// ends it at once (its batch cut): one who insists is not kept waiting.
#[test]
fn a_second_signal_ends_the_wait_for_the_reader_at_once() {
    let what = "subunit-mux, flood, SIGTERM twice, a reader that takes nothing";
    let (mut run, marker, _dir) = mux_flooding_stopped(what, Duration::from_millis(300));
    send(run.id(), libc::SIGTERM);
    // Nothing read: it ends without its batch written.
    let status = wait_within(&mut run, what);
    assert!(ended_by(status, libc::SIGTERM), "{what}: {status:?}");
    let left = none_left_with(&marker);
    assert!(left.is_empty(), "{what}: left running: {left:?}");
}

/// A command that ignores the signal subunit-mux passes on (as a shell may
/// hold a SIGINT back until its next command ends) is sent SIGTERM after a
/// grace: subunit-mux ends by the signal, and nothing of the command's is
/// left running. (It used to end at once, leaving the command running.)
#[test]
fn a_command_that_ignores_the_signal_is_stopped_before_mux_ends() {
    let what = "subunit-mux, a command ignoring SIGINT";
    let dir = TempDir::new("signal-ignored");
    let started = dir.path("started");
    let marker = unique_marker();
    // `trap ''` makes the shell and the sleep it starts ignore SIGINT.
    let script = format!(
        "trap '' INT; echo $$ > '{}'; echo ready; sleep {marker}; true",
        started.display()
    );
    let mut run = Running(supervising("subunit-mux", &script).spawn().expect("spawn"));
    let (stdout, stderr) = read_outputs(&mut run);
    pid_in(&started);
    send(run.id(), libc::SIGINT);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(
        run.try_wait().expect("try_wait"),
        None,
        "{what}: waits for the command"
    );
    let status = wait_within(&mut run, what);
    let out = stdout.join().expect("stdout thread");
    let stderr = stderr.join().expect("stderr thread");
    assert!(
        ended_by(status, libc::SIGINT),
        "{what}: {status:?} {stderr}"
    );
    assert!(
        stderr.contains("sending SIGTERM"),
        "{what}: says what it did: {stderr}"
    );
    whole_packets(&out, what);
    let left = none_left_with(&marker);
    assert!(left.is_empty(), "{what}: left running: {left:?}");
}

/// A child that closes its output and goes on running is waited for: its
/// exit status is the outcome.
#[test]
fn a_child_that_closes_its_output_is_waited_for() {
    for name in ["subunit-wrap", "subunit-mux"] {
        let dir = TempDir::new(&format!("closes-{name}"));
        let (closed, go) = (dir.path("closed"), dir.path("go"));
        let script = format!(
            "exec >&- 2>&-; echo $$ > '{}'; while [ ! -e '{}' ]; do sleep 0.02; done; exit 3",
            closed.display(),
            go.display()
        );
        let mut run = Running(supervising(name, &script).spawn().expect("spawn"));
        let (stdout, stderr) = read_outputs(&mut run);
        pid_in(&closed);
        // Its output has closed, and it runs: so does the command.
        assert_eq!(run.try_wait().expect("try_wait"), None, "{name}");
        std::fs::write(&go, "").expect("go");
        let status = wait_within(&mut run, name);
        let out = stdout.join().expect("stdout thread");
        let stderr = stderr.join().expect("stderr thread");
        assert_eq!(status.code(), Some(3), "{name}: {stderr}");
        if name == "subunit-wrap" {
            let packets = whole_packets(&out, name);
            let last = packets.last().expect("packets");
            assert_eq!(last.status, Status::Fail);
            assert_eq!(note(last), "exit status 3\n");
        }
    }
}

/// The exit-status note of the command's test.
fn note(e: &OwnedEvent) -> String {
    let (name, content) = e.file.as_ref().expect("an exit-status attachment");
    assert_eq!(name, "exit-status");
    String::from_utf8_lossy(content).into_owned()
}

/// A process the child started with &, its output not redirected, holds
/// the output open after the child ended: the command ends anyway, soon,
/// saying so (it used to wait for that process, here 30 s and more).
#[test]
fn a_process_holding_the_output_after_the_child_ended_is_not_waited_for() {
    for name in ["subunit-wrap", "subunit-mux"] {
        let dir = TempDir::new(&format!("held-{name}"));
        let holder = dir.path("holder");
        let marker = unique_marker();
        let script = format!(
            "sleep {marker} & echo $! > '{}'; echo started",
            holder.display()
        );
        let mut run = Running(supervising(name, &script).spawn().expect("spawn"));
        let (stdout, stderr) = read_outputs(&mut run);
        let holder = pid_in(&holder);
        // Left running by design: killed by the test.
        struct Kill(u32);
        impl Drop for Kill {
            fn drop(&mut self) {
                send(self.0, libc::SIGKILL);
            }
        }
        let _holder = Kill(holder);
        let started = Instant::now();
        let status = wait_within(&mut run, &format!("{name}, its output held open"));
        assert!(started.elapsed() < TIMEOUT, "{name}");
        let out = stdout.join().expect("stdout thread");
        let stderr = stderr.join().expect("stderr thread");
        assert_eq!(status.code(), Some(0), "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{name}: warning: "))
                && stderr.contains("still open")
                && stderr.lines().count() == 1,
            "{name}: {stderr}"
        );
        let packets = whole_packets(&out, name);
        let stdout_text: Vec<u8> = packets
            .iter()
            .filter_map(|e| e.file.as_ref())
            .filter(|(file, _)| file == "stdout")
            .flat_map(|(_, content)| content.clone())
            .collect();
        assert_eq!(
            stdout_text, b"started\n",
            "{name}: what came before is kept"
        );
        if name == "subunit-wrap" {
            let last = packets.last().expect("packets");
            assert_eq!(last.status, Status::Success);
            assert_eq!(note(last), "exit status 0; its output was still open\n");
        }
    }
}
