//! port-alloc -- COMMAND under signals and faults: signals passed on to the
//! command's process group, nothing left running once a signal ended the
//! run, leases released on every path; a full or closed standard output.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use common::port_alloc::*;
use common::procs::gone_within;
use common::procs::send;

/// A signal sent to port-alloc reaches the command; port-alloc survives it
/// to release the ports and exits with the command's status.
#[test]
fn signals_to_port_alloc_reach_the_command() {
    let fx = Fixture::new("signal", "22060-22069");
    // The command handles the signal: its exit status comes back.
    let mut child = Running::spawn(&mut fx.cmd(&[
        "-n",
        "2",
        "--",
        "sh",
        "-c",
        r#"trap 'echo got-term; exit 7' TERM; echo "ready $PORTS"; while :; do sleep 0.05; done"#,
    ]));
    let lines = Lines::of(&mut child);
    let ready = lines
        .next(Duration::from_secs(10))
        .expect("the command starts");
    assert!(ready.starts_with("ready "), "{ready}");
    assert_eq!(fx.lease_ports().len(), 2, "2 leases while the command runs");
    send(child.id(), libc::SIGTERM);
    assert_eq!(
        lines.next(Duration::from_secs(10)).as_deref(),
        Some("got-term"),
        "the command's trap ran"
    );
    let out = finish(child.take(), Instant::now() + Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

/// The signal mask of a command run directly and of one run by port-alloc
/// (the SigBlk line of /proc/self/status).
fn signal_masks(fx: &Fixture) -> (String, String) {
    let mut direct = Command::new("grep");
    direct.args(["SigBlk", "/proc/self/status"]);
    let direct = run(direct);
    let held = run(fx.cmd(&["--", "grep", "SigBlk", "/proc/self/status"]));
    assert!(held.status.success(), "{}", show(&held));
    (stdout(&direct), stdout(&held))
}

/// The command starts with its caller's signal mask, so a signal passed on
/// to it works even if it never unblocks signals (sleep, most servers):
/// the command dies of it quickly, and port-alloc outlives it, releases
/// the ports and then ends by the same signal, as subunit-wrap does. A
/// signal the command sends itself works too (128+N: port-alloc did not
/// get it). (std's
/// Command keeps the parent's signal mask, rust-lang/rust#101077: blocking
/// the forwarded signals in port-alloc must not block them in the command.)
#[test]
fn signals_reach_a_command_that_does_not_unblock_them() {
    let fx = Fixture::new("signal-mask", "22070-22079");
    let (direct, held) = signal_masks(&fx);
    assert_eq!(
        held, direct,
        "the command's signal mask is not its caller's"
    );
    let out = run(fx.cmd(&["--", "sh", "-c", "kill -TERM $$"]));
    assert_eq!(out.status.code(), Some(128 + 15), "{}", show(&out));
    for (signal, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGUSR1, "USR1"),
    ] {
        let started = Instant::now();
        let mut child =
            Running::spawn(&mut fx.cmd(&["--", "sh", "-c", "echo ready; exec sleep 30"]));
        let lines = Lines::of(&mut child);
        assert_eq!(
            lines.next(Duration::from_secs(10)).as_deref(),
            Some("ready")
        );
        send(child.id(), signal);
        ended_by(
            child.take(),
            signal,
            &format!("SIG{name} to port-alloc: it must outlive the command and end by its signal"),
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIG{name} did not reach the command"
        );
        assert!(
            fx.lease_ports().is_empty(),
            "leases left after SIG{name}: {:?}",
            fx.files()
        );
    }
}

/// Waits for port-alloc `child` (within 30 seconds), which must end by
/// `signal`; what it printed.
fn ended_by(child: std::process::Child, signal: i32, what: &str) -> std::process::Output {
    let out = finish(child, Instant::now() + Duration::from_secs(30));
    assert_eq!(out.status.signal(), Some(signal), "{what}:\n{}", show(&out));
    out
}

/// The pid a command wrote into `path`, once it is there.
fn pid_written(path: &Path) -> u32 {
    common::procs::pid_in(path)
}

/// Whether process `pid` runs (is neither gone nor a zombie).
fn runs(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
    })
}

/// `port-alloc -n 2 -- sh -c SCRIPT` in a process group of its own (so not
/// in a terminal's foreground: the command leads a group of its own), once
/// SCRIPT has printed "ready" and written the pid of what it started in
/// the background into the fixture's `bg.pid`.
fn start_with_background(fx: &Fixture, script: &str) -> (Running, Lines, u32) {
    let pid_file = fx.path("bg.pid");
    let _ = fs::remove_file(&pid_file);
    let mut child = Running::spawn(&mut fx.cmd(&[
        "-n",
        "2",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        pid_file.to_str().expect("UTF-8 path"),
    ]));
    let lines = Lines::of(&mut child);
    assert_eq!(
        lines.next(Duration::from_secs(10)).as_deref(),
        Some("ready")
    );
    let background = pid_written(&pid_file);
    assert!(runs(background), "the background process runs");
    assert_eq!(fx.lease_ports().len(), 2, "2 leases while the command runs");
    (child, lines, background)
}

/// SIGTERM, SIGINT or SIGHUP to port-alloc ends the command and what it
/// started (`sh -c 'sleep 37 & wait'`: its process group gets the signal;
/// the sleep, which a shell starts with SIGINT ignored, is ended once sh
/// has): no process is left, the leases are released, and port-alloc ends
/// by the signal. Before, only sh got the signal and the sleep outlived
/// the leases.
#[test]
fn a_signal_ends_the_command_and_what_it_started() {
    let fx = Fixture::new("signal-group", "22780-22789");
    let script = r#"sleep 37 & echo $! > "$1"; echo ready; wait"#;
    for (signal, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGINT, "INT"),
        (libc::SIGHUP, "HUP"),
    ] {
        let (mut child, _lines, background) = start_with_background(&fx, script);
        send(child.id(), signal);
        ended_by(
            child.take(),
            signal,
            &format!("SIG{name}: port-alloc ends by it"),
        );
        assert!(
            !runs(background),
            "SIG{name}: the command's background sleep {background} outlived port-alloc"
        );
        assert!(
            fx.lease_ports().is_empty(),
            "SIG{name}: leases left: {:?}",
            fx.files()
        );
    }
}

/// A signal to end the run still ends it when the command ignores it (sh
/// with `trap '' INT`, and so the sleep it starts): 5 seconds later
/// port-alloc says so and sends SIGTERM to the command's group; it then
/// ends by the signal it got, its leases released and nothing left.
#[test]
fn a_signal_the_command_ignores_still_ends_the_run() {
    let fx = Fixture::new("signal-ignored", "22790-22799");
    let script = r#"trap '' INT; sleep 37 & echo $! > "$1"; echo ready; wait"#;
    let (mut child, _lines, background) = start_with_background(&fx, script);
    send(child.id(), libc::SIGINT);
    let out = ended_by(child.take(), libc::SIGINT, "port-alloc");
    assert!(
        stderr(&out).contains("still runs 5 seconds after a signal to end it: sending SIGTERM"),
        "{}",
        show(&out)
    );
    assert!(
        !runs(background),
        "the sleep {background} outlived port-alloc"
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

/// A signal that comes once the command has been reaped is passed on to
/// nobody (its pid may be another process's by then) and ends port-alloc,
/// after the leases are given back. Here port-alloc waits for the
/// directory's lock (held by flock(1)) after the command ended.
#[test]
fn a_signal_after_the_command_ended_is_for_port_alloc_alone() {
    let fx = Fixture::new("signal-after", "22800-22801");
    let holder = hold_lock(&fx.dir);
    let mut child = Running::spawn(&mut fx.cmd(&["--", "sh", "-c", "echo $$"]));
    let out = Lines::of(&mut child);
    let command: u32 = out
        .next(Duration::from_secs(10))
        .and_then(|l| l.parse().ok())
        .expect("the command's pid");
    assert!(gone_within(command), "the command ended");
    // Reaped: its /proc entry is gone, port-alloc waits for the lock.
    eventually("the command reaped", || {
        fs::metadata(format!("/proc/{command}")).is_err()
    });
    send(child.id(), libc::SIGTERM);
    thread::sleep(Duration::from_millis(200));
    drop(holder);
    ended_by(child.take(), libc::SIGTERM, "port-alloc");
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

/// A signal that comes while the leases are being taken, before the
/// command starts or the ports are printed, gives them back and ends
/// port-alloc by it. Here port-alloc, short of a port, holds a lease it
/// must give back while another process holds the directory's lock.
/// Before, the signal killed it on the spot and the lease stayed.
#[test]
fn a_signal_while_taking_leases_gives_them_back() {
    let fx = Fixture::new("signal-taking", "22802-22803");
    let owner = Owner::spawn("60");
    let held = fx.take(&["--owner", &owner.pid_arg(), "--exclude", "22803"]);
    assert_eq!(held, [22802]);
    for args in [
        &["-n", "2", "--wait", "30", "--", "true"][..],
        &["-n", "2", "--wait", "30"],
    ] {
        let holder = hold_lock(&fx.dir);
        let mut child = Running::spawn(&mut fx.cmd(args));
        eventually("port-alloc took the free port", || {
            fx.lease_ports().contains(&22803)
        });
        send(child.id(), libc::SIGTERM);
        thread::sleep(Duration::from_millis(200));
        drop(holder);
        let out = ended_by(child.take(), libc::SIGTERM, &format!("{args:?}"));
        assert_eq!(out.stdout, b"", "{args:?}: printed ports");
        assert_eq!(fx.lease_ports(), set([22802]), "{args:?}: {:?}", fx.files());
    }
}

/// Runs `port-alloc ARGS` in the foreground of a terminal of its own (a
/// pty, by python3's pty module), waits for it to print "ready", types
/// `keys`, and returns how it ended ("exit N", "signal N" or "timeout")
/// and what the terminal showed; `None` without python3.
fn in_a_terminal(fx: &Fixture, keys: &str, args: &[&str]) -> Option<(String, String)> {
    const SCRIPT: &str = r#"
import os, pty, select, sys, time
keys = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
shown = b""
def read_until(needle, seconds):
    global shown
    end = time.time() + seconds
    while time.time() < end:
        if select.select([fd], [], [], 0.05)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            shown += data
            if needle is not None and needle in shown:
                return True
    return False
read_until(b"ready", 10)
os.write(fd, keys)
read_until(None, 15)
end = time.time() + 10
done, status = os.waitpid(pid, os.WNOHANG)
while done == 0 and time.time() < end:
    time.sleep(0.01)
    done, status = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(-pid, 9)
    os.waitpid(pid, 0)
    print("timeout")
elif os.WIFSIGNALED(status):
    print("signal", os.WTERMSIG(status))
else:
    print("exit", os.WEXITSTATUS(status))
sys.stdout.write(shown.decode(errors="replace"))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", SCRIPT, keys, BIN]).args(args);
    fx.env(&mut cmd);
    let out = match cmd.output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => panic!("the pty script failed: {}", show(&out)),
        Err(e) => {
            eprintln!("skipping the terminal test: no python3 ({e})");
            return None;
        }
    };
    let text = stdout(&out);
    let (how, shown) = text.split_once('\n').unwrap_or((&text, ""));
    Some((how.to_owned(), shown.to_owned()))
}

/// In its terminal's foreground, the command stays in port-alloc's
/// process group: it can read the terminal (in a group of its own it would
/// be stopped by SIGTTIN, and port-alloc would wait for ever), and Ctrl-C
/// reaches it directly; port-alloc then ends by SIGINT, its leases
/// released.
#[test]
fn in_a_terminal_the_command_reads_it_and_gets_ctrl_c() {
    let fx = Fixture::new("terminal", "22810-22811");
    let script = r#"echo ready; read line; echo "read:$line""#;
    let Some((how, shown)) = in_a_terminal(&fx, "hello\n", &["--", "sh", "-c", script]) else {
        return;
    };
    assert_eq!(how, "exit 0", "the terminal showed:\n{shown}");
    assert!(
        shown.contains("read:hello"),
        "the terminal showed:\n{shown}"
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
    let script = "echo ready; exec sleep 37";
    let (how, shown) =
        in_a_terminal(&fx, "\x03", &["-n", "2", "--", "sh", "-c", script]).expect("python3");
    assert_eq!(
        how,
        format!("signal {}", libc::SIGINT),
        "the terminal showed:\n{shown}"
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

/// A standard output that is full (/dev/full) is an error, status 2 with
/// a message, for an allocation (its ports given back: nobody got them),
/// list, gc and --help; a closed one (a pipe whose reader has gone) ends
/// port-alloc quietly with status 0, the ports given back too.
#[test]
fn a_full_or_closed_output() {
    let fx = Fixture::new("output", "22820-22829");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    fx.put_lease(&stale_lease(22829));
    let full = || {
        fs::File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    let mut gc_ran = false;
    for args in [
        &["-n", "3", "--owner", &o, "--exclude", "22829"][..],
        &["-n", "3", "--json", "--owner", &o, "--exclude", "22829"],
        &["list"],
        &["list", "--json"],
        &["gc"],
        &["--help"],
    ] {
        let out = fx
            .cmd(args)
            .stdout(full())
            .stderr(Stdio::piped())
            .output()
            .expect("run port-alloc");
        assert_fails(
            &out,
            2,
            &["error writing output", "No space left on device"],
            &format!("{args:?} > /dev/full"),
        );
        // Only the stale lease, until gc removes it (and cannot say so).
        gc_ran |= args[0] == "gc";
        let expected = if gc_ran { set([]) } else { set([22829]) };
        assert_eq!(fx.lease_ports(), expected, "{args:?} > /dev/full");
    }
    for args in [&["-n", "3", "--owner", &o][..], &["list"], &["--help"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = fx
            .cmd(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run port-alloc");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} | (closed): {}",
            show(&out)
        );
        assert!(out.stderr.is_empty(), "{args:?} | (closed): {}", show(&out));
        assert!(
            fx.lease_ports().is_empty(),
            "{args:?} | (closed): {:?}",
            fx.files()
        );
    }
}
