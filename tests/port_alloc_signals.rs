//! port-alloc -- COMMAND under signals and faults: signals passed on to the
//! command's process group, nothing left running once a signal ended the
//! run, leases released on every path; a full or closed standard output.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::port_alloc::*;
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
/// the command dies of it (128+N, quickly), and port-alloc outlives it and
/// releases the ports. A signal the command sends itself works too. (std's
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
        let out = finish(child.take(), Instant::now() + Duration::from_secs(10));
        assert_eq!(
            out.status.code(),
            Some(128 + signal),
            "SIG{name} to port-alloc: it must outlive the command and pass on its status:\n{}",
            show(&out)
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
