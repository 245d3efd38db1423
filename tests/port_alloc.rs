//! port-alloc (SPEC section 4): no two live holders ever share a port, even
//! with many callers at once; `-- COMMAND` holds its ports while it runs;
//! leases follow their owners; bound ports are never handed out. The pool,
//! options and subcommands are in port_alloc_options.rs, signals and faults
//! in port_alloc_signals.rs, --listen in port_alloc_listen.rs, a hostile
//! lease directory and hostile users in port_alloc_security.rs; the
//! fixtures in common/port_alloc.rs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::port_alloc::*;
use subunit_tools::ports::Lease;

// ---------------------------------------------------------------------------
// 1. Races

const CALLERS: usize = 50;
const ROUNDS: usize = 20;

/// Spawns `CALLERS` copies of `script` (run by sh after `$1` `$2` ...
/// = READY GO ARGS...), each waiting at a start gate; opens the gate once
/// all are waiting, so they all run port-alloc at the same moment.
/// The gate comes back open: keep it until the callers are done, as one
/// that has said it is ready may not have reached the gate yet (dropping
/// it removes the FIFO, and a caller that comes later then fails).
fn start_together(fx: &Fixture, round: usize, script: &str, args: &[&str]) -> (Procs, Gate) {
    let ready = fx.path(&format!("ready-{round}"));
    let mut go = Gate::new(fx.path(&format!("go-{round}")));
    let ready_arg = ready.to_str().expect("UTF-8 path").to_owned();
    let go_arg = go.path.to_str().expect("UTF-8 path").to_owned();
    let script = format!(r#"echo >> "$1"; : < "$2"; shift 2; {script}"#);
    let mut procs = Procs::default();
    for _ in 0..CALLERS {
        let mut all = vec![ready_arg.as_str(), go_arg.as_str()];
        all.extend_from_slice(args);
        procs.push(spawn(&mut fx.sh(&script, &all)));
    }
    eventually("every caller at the start gate", || {
        line_count(&ready) >= CALLERS
    });
    go.open();
    (procs, go)
}

/// Default mode: in each round 50 callers take 3 ports each at once for an
/// owner that lives through the round; then the owner dies, leaving 150
/// stale leases (grace 0) that the next round's callers must reclaim while
/// racing each other. The same directory throughout, so reclaiming is raced
/// as well as taking. No port may go to two callers of a round, every
/// port's lease must name the round's owner, and no other lease of the
/// owner may be left (give-backs of partial picks complete).
#[test]
fn race_fifty_callers_never_share_a_port() {
    let fx = Fixture::new("race", "21000-21349");
    let mut reclaimed = 0;
    let mut stale: BTreeSet<u16> = BTreeSet::new();
    for round in 0..ROUNDS {
        let owner = Owner::spawn("120");
        let (mut procs, _go) = start_together(
            &fx,
            round,
            r#"exec "$PORT_ALLOC" -n 3 --owner "$1" --grace 0"#,
            &[&owner.pid_arg()],
        );
        let outputs = procs.finish_all(Duration::from_secs(60));
        let mut holder: BTreeMap<u16, usize> = BTreeMap::new();
        for (i, out) in outputs.iter().enumerate() {
            let ports = ok_ports(out, &format!("round {round}, caller {i}"));
            assert_eq!(ports.len(), 3, "round {round}, caller {i}:\n{}", show(out));
            for port in ports {
                assert!(
                    (21000..=21349).contains(&port),
                    "round {round}: port {port} is not in the pool"
                );
                if let Some(other) = holder.insert(port, i) {
                    panic!("round {round}: port {port} handed to callers {other} and {i} at once");
                }
            }
        }
        assert_eq!(holder.len(), 3 * CALLERS);
        let leases = fx.leases();
        for port in holder.keys() {
            let lease = leases.get(port).unwrap_or_else(|| {
                panic!("round {round}: port {port} was handed out without a lease on disk")
            });
            assert_eq!(
                lease.owner.pid,
                owner.pid(),
                "round {round}: the lease of port {port} was replaced: {lease:?}"
            );
        }
        let owned: BTreeSet<u16> = leases
            .iter()
            .filter(|(_, l)| l.owner.pid == owner.pid())
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(
            owned,
            holder.keys().copied().collect(),
            "round {round}: leases of the owner that nobody was given (a give-back failed)"
        );
        reclaimed += holder.keys().filter(|p| stale.contains(p)).count();
        stale = leases.keys().copied().collect();
        owner.end();
    }
    fx.assert_no_temp_files();
    assert!(
        reclaimed > 0,
        "no round took over a stale lease: the reclaiming path was not exercised"
    );
}

/// `-- COMMAND` mode, as a harness uses it: in each round 50 callers
/// `port-alloc -n 3 --grace 0 -- sh -c 'echo $PORTS; : < GATE'` start at once
/// and all hold their ports together (each command waits at a gate until
/// every one has printed its ports): no port is printed by two of them.
/// Then a few port-allocs are killed (their leases go stale and must be
/// reclaimed by later rounds) and the rest end normally, releasing theirs.
#[test]
fn race_fifty_commands_alive_together_never_share_a_port() {
    let fx = Fixture::new("race-cmd", "21400-21749");
    let mut holds = Vec::new();
    let mut stale: BTreeSet<u16> = BTreeSet::new();
    let mut all_killed: BTreeSet<u32> = BTreeSet::new();
    let mut reclaimed = 0;
    for round in 0..ROUNDS {
        let hold = Gate::new(fx.path(&format!("hold-{round}")));
        let inner = r#"echo "$PORTS"; : < "$0""#;
        let (mut procs, _go) = start_together(
            &fx,
            round,
            r#"exec "$PORT_ALLOC" -n 3 --grace 0 -- sh -c "$1" "$2""#,
            &[inner, hold.path.to_str().expect("UTF-8 path")],
        );
        let lines: Vec<Lines> = (0..CALLERS).map(|i| Lines::of(procs.get_mut(i))).collect();
        let mut printed: Vec<Option<String>> = lines
            .iter()
            .map(|l| l.next(Duration::from_secs(60)))
            .collect();
        if printed.iter().any(Option::is_none) {
            let mut hold = hold;
            hold.open();
            let outputs = procs.finish_all(Duration::from_secs(60));
            let failed: Vec<String> = (0..CALLERS)
                .filter(|&i| printed[i].is_none())
                .map(|i| format!("caller {i}: {}", show(&outputs[i])))
                .collect();
            panic!("round {round}: callers failed:\n{}", failed.join("\n"));
        }
        // Every command is now running (it printed) and holding: none may
        // share a port with another.
        let mut holder: BTreeMap<u16, usize> = BTreeMap::new();
        let leases = fx.leases();
        for (i, line) in printed.iter_mut().enumerate() {
            let line = line.take().unwrap_or_default();
            let ports: Vec<u16> = line
                .split_whitespace()
                .map(|p| p.parse().expect("PORTS holds ports"))
                .collect();
            assert_eq!(ports.len(), 3, "round {round}, caller {i}: PORTS='{line}'");
            for port in ports {
                if let Some(other) = holder.insert(port, i) {
                    panic!(
                        "round {round}: port {port} held by the commands of callers {other} and {i} at once"
                    );
                }
                let pid = procs.get(i).id();
                assert_eq!(
                    leases.get(&port).map(|l| l.owner.pid),
                    Some(pid),
                    "round {round}: port {port} is held by port-alloc {pid} without its lease"
                );
            }
        }
        reclaimed += holder.keys().filter(|p| stale.contains(p)).count();
        // Kill a few port-allocs, leaving stale leases for the next rounds
        // to reclaim while racing.
        let mut killed = BTreeSet::new();
        for i in (round % 10..CALLERS).step_by(10) {
            let child = procs.get_mut(i);
            killed.insert(child.id());
            child.kill().expect("kill port-alloc");
            child.wait().expect("reap port-alloc");
        }
        let mut hold = hold;
        hold.open();
        for i in 0..CALLERS {
            let child = procs.take(i);
            let pid = child.id();
            let out = finish(child, Instant::now() + Duration::from_secs(60));
            if !killed.contains(&pid) {
                assert!(
                    out.status.success(),
                    "round {round}, caller {i}: {}",
                    show(&out)
                );
            }
        }
        holds.push(hold);
        all_killed.extend(killed);
        // The rest released their ports on the way out.
        let left = fx.leases();
        for (port, lease) in &left {
            assert!(
                all_killed.contains(&lease.owner.pid),
                "round {round}: port {port} still leased by a port-alloc that ended normally: {lease:?}"
            );
        }
        stale = left.keys().copied().collect();
    }
    fx.assert_no_temp_files();
    assert!(
        reclaimed > 0,
        "no round took over a stale lease: the reclaiming path was not exercised"
    );
}

// ---------------------------------------------------------------------------
// 2. -- COMMAND

/// While a command holds 3 ports of a pool of 10, every allocation of 7
/// gets exactly the other 7, and 8 are never available; afterwards all 10
/// are free again.
#[test]
fn ports_held_by_a_command_are_never_handed_out_while_it_runs() {
    let fx = Fixture::new("held", "22000-22009");
    let pool = set(22000..=22009);
    let mut hold = Gate::new(fx.path("hold"));
    let mut holder = Running::spawn(&mut fx.cmd(&[
        "-n",
        "3",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS"; : < "$0""#,
        hold.path.to_str().expect("UTF-8 path"),
    ]));
    let lines = Lines::of(&mut holder);
    let held: BTreeSet<u16> = lines
        .next(Duration::from_secs(10))
        .expect("the holder prints its ports")
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(held.len(), 3);
    assert!(held.is_subset(&pool));
    for &port in &held {
        assert_eq!(
            fx.lease(port).owner.pid,
            holder.id(),
            "the lease of port {port} names the port-alloc that runs the command"
        );
    }
    let rest: BTreeSet<u16> = pool.difference(&held).copied().collect();
    for attempt in 0..15 {
        let out = run(fx.cmd(&["-n", "7", "--", "sh", "-c", r#"echo "$PORTS""#]));
        assert!(out.status.success(), "attempt {attempt}:\n{}", show(&out));
        let got = set(stdout(&out)
            .split_whitespace()
            .map(|p| p.parse::<u16>().expect("a port")));
        assert_eq!(got, rest, "attempt {attempt}: not exactly the free ports");
        let out = fx.run(&["-n", "8"]);
        assert_not_enough(&out, "8 ports while 3 of 10 are held");
    }
    let owner = Owner::spawn("60");
    for attempt in 0..15 {
        let got = set(fx.take(&["-n", "7", "--owner", &owner.pid_arg()]));
        assert_eq!(got, rest, "attempt {attempt} in default mode");
        let ours: Vec<String> = got.iter().map(u16::to_string).collect();
        let mut release = vec!["release"];
        release.extend(ours.iter().map(String::as_str));
        let out = fx.run(&release);
        assert!(out.status.success(), "{}", show(&out));
        assert_eq!(fx.lease_ports(), held, "only the command's leases are left");
    }
    hold.open();
    let out = finish(holder.take(), Instant::now() + Duration::from_secs(10));
    assert!(out.status.success(), "the holder: {}", show(&out));
    assert!(
        fx.lease_ports().is_empty(),
        "leases left after the command ended: {:?}",
        fx.files()
    );
    let all = run(fx.cmd(&["-n", "10", "--", "sh", "-c", r#"echo "$PORTS""#]));
    assert!(all.status.success(), "{}", show(&all));
    assert_eq!(
        set(stdout(&all)
            .split_whitespace()
            .map(|p| p.parse::<u16>().expect("a port"))),
        pool,
        "all ports free again after the holder ended"
    );
    fx.assert_no_temp_files();
}

/// The command gets PORT0..PORT2 and PORTS (and no PORT3), sees its leases
/// in the directory while it runs, and they are gone afterwards.
#[test]
fn a_command_gets_its_ports_in_the_environment() {
    let fx = Fixture::new("env", "22020-22029");
    let out = run(fx.cmd(&[
        "-n",
        "3",
        "--",
        "sh",
        "-c",
        r#"echo "$PORT0 $PORT1 $PORT2"; echo "$PORTS"; echo "${PORT3-unset}"; ls "$PORT_ALLOC_DIR""#,
    ]));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{}", show(&out));
    assert_eq!(lines[0], lines[1], "PORT0..PORT2 are PORTS, in order");
    assert_eq!(lines[2], "unset", "PORT3 is not set for 3 ports");
    let ports: Vec<u16> = lines[1]
        .split(' ')
        .map(|p| {
            p.parse()
                .expect("PORTS is ports separated by single spaces")
        })
        .collect();
    assert_eq!(set(ports.iter().copied()).len(), 3, "3 distinct ports");
    assert!(ports.iter().all(|p| (22020..=22029).contains(p)));
    let listed: BTreeSet<u16> = lines[3..].iter().filter_map(|l| l.parse().ok()).collect();
    assert_eq!(
        listed,
        set(ports),
        "while the command runs, the directory holds exactly its leases"
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
    // One port: PORT0 and PORTS.
    let out = run(fx.cmd(&["--", "sh", "-c", r#"echo "$PORT0|$PORTS|${PORT1-unset}""#]));
    let text = stdout(&out);
    let fields: Vec<&str> = text.trim_end().split('|').collect();
    assert_eq!(fields.len(), 3, "{}", show(&out));
    assert_eq!(fields[0], fields[1]);
    assert_eq!(fields[2], "unset");
}
/// port-alloc exits with the command's status, 128+N when a signal N killed
/// it, and 127 when there is no such command; the leases are released in
/// every case.
#[test]
fn a_commands_exit_status_is_passed_on() {
    let fx = Fixture::new("status", "22040-22049");
    for (script, code) in [
        ("true", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -KILL $$", 128 + 9),
    ] {
        let out = run(fx.cmd(&["-n", "2", "--", "sh", "-c", script]));
        assert_eq!(
            out.status.code(),
            Some(code),
            "sh -c '{script}':\n{}",
            show(&out)
        );
        assert!(
            fx.lease_ports().is_empty(),
            "leases left after sh -c '{script}': {:?}",
            fx.files()
        );
    }
    let missing = fx.path("no-such-command");
    let out = run(fx.cmd(&["--", missing.to_str().expect("UTF-8 path")]));
    assert_fails(
        &out,
        127,
        &["cannot run", "no-such-command"],
        "a missing command",
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}
// ---------------------------------------------------------------------------
// 3. Owners

/// A lease whose owner died is taken over once its grace is over (grace 0:
/// at once); while the owner lives it holds.
#[test]
fn a_dead_owners_lease_is_reclaimed() {
    let fx = Fixture::new("dead-owner", "22100-22102");
    let owner = Owner::spawn("0.2");
    let first = set(fx.take(&["-n", "3", "--owner", &owner.pid_arg(), "--grace", "0"]));
    assert_eq!(first, set(22100..=22102));
    let lease = fx.lease(22100);
    assert_eq!(lease.owner.pid, owner.pid(), "the lease names the owner");
    assert_eq!(
        lease.owner.start,
        start_time(owner.pid()),
        "the lease records the owner's start time"
    );
    assert_eq!(lease.boot, boot_id(), "the lease records the boot");
    assert_eq!(lease.uid, uid());
    let out = fx.run(&["-n", "1", "--grace", "0"]);
    assert_not_enough(&out, "while the owner lives");
    owner.wait();
    let next = Owner::spawn("60");
    let again = set(fx.take(&["-n", "3", "--owner", &next.pid_arg(), "--grace", "0"]));
    assert_eq!(again, first, "the dead owner's ports are taken over");
    for port in again {
        assert_eq!(
            fx.lease(port).owner.pid,
            next.pid(),
            "port {port}'s new lease"
        );
    }
    fx.assert_no_temp_files();
}

/// A dead owner's lease holds until its grace is over: neither an
/// allocation nor gc takes it.
#[test]
fn a_dead_owner_within_its_grace_still_holds() {
    let fx = Fixture::new("grace", "22110-22112");
    let owner = Owner::spawn("60");
    let pid = owner.pid();
    let first = set(fx.take(&["-n", "3", "--owner", &owner.pid_arg(), "--grace", "30"]));
    owner.end();
    let out = fx.run(&["-n", "1", "--grace", "0"]);
    assert_not_enough(&out, "a dead owner within its grace");
    let gc = fx.run(&["gc"]);
    assert!(gc.status.success(), "{}", show(&gc));
    assert_eq!(stdout(&gc), "", "gc removed nothing");
    assert_eq!(fx.lease_ports(), first);
    assert!(fx.leases().values().all(|l| l.owner.pid == pid));
}

/// Without --owner the lease follows the calling process (port-alloc's
/// parent); with the default grace a short-lived caller's ports hold after
/// it ends, with --grace 0 they are free as soon as it is gone.
#[test]
fn the_default_owner_is_the_calling_process() {
    let fx = Fixture::new("parent", "22130");
    let out = run(fx.sh(r#""$PORT_ALLOC" --grace 0 && echo "shell $$""#, &[]));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("22130"));
    let shell: u32 = lines
        .next()
        .and_then(|l| l.strip_prefix("shell "))
        .and_then(|p| p.parse().ok())
        .expect("the shell's pid");
    let lease = fx.lease(22130);
    assert_eq!(
        lease.owner.pid, shell,
        "the lease's owner is the calling shell"
    );
    assert!(
        lease.command.starts_with("sh -c"),
        "the lease records the owner's command line: {lease:?}"
    );
    // The shell has ended (and been reaped): the port is free again.
    fx.take(&["--grace", "0", "--owner", &Owner::spawn("1").pid_arg()]);

    let fx = Fixture::new("parent-grace", "22131");
    let out = run(fx.sh(r#""$PORT_ALLOC" && true"#, &[]));
    assert_eq!(ok_ports(&out, "in a subshell"), [22131]);
    let out = fx.run(&["-n", "1"]);
    assert_not_enough(&out, "a short-lived caller's port within the default grace");
}

/// A lease names its owner by pid and start time: another process with the
/// same pid (here: a live process, but a different start time) does not
/// keep the lease alive, nor does the right process of another boot, nor
/// the right process past the lease's expiry.
#[test]
fn a_reused_pid_does_not_keep_a_lease_alive() {
    let fx = Fixture::new("reused-pid", "22120-22123");
    let owner = Owner::spawn("60");
    let pid = owner.pid();
    let start = start_time(pid);
    let live = lease_of(22120, pid, start);
    let reused = lease_of(22121, pid, start + 1);
    let other_boot = Lease {
        boot: "00000000-0000-0000-0000-000000000000".into(),
        ..lease_of(22122, pid, start)
    };
    let expired = Lease {
        expires: Some(now() - 1),
        ..lease_of(22123, pid, start)
    };
    for lease in [&live, &reused, &other_boot, &expired] {
        fx.put_lease(lease);
    }
    let me = Owner::spawn("60");
    let got = set(fx.take(&["-n", "3", "--owner", &me.pid_arg()]));
    assert_eq!(
        got,
        set([22121, 22122, 22123]),
        "the reused pid's, the other boot's and the expired lease are taken over; the live one is not"
    );
    assert_eq!(fx.lease(22120), live, "the live lease is untouched");
    let out = fx.run(&["-n", "1", "--owner", &me.pid_arg()]);
    assert_not_enough(&out, "only the live lease's port is left");
}

// ---------------------------------------------------------------------------
// 4. Ports bound by others

/// Ports that something has bound (TCP on 127.0.0.1, on 0.0.0.0, on [::1]
/// and dual-stack [::] where there is IPv6) are never handed out, and their
/// leases are given back at once.
#[test]
fn ports_bound_by_others_are_never_handed_out() {
    let fx_free = set(22200..=22202);
    let mut listeners = vec![listen("127.0.0.1"), listen("0.0.0.0")];
    if has_ipv6_loopback() {
        listeners.push(listen("::1"));
        listeners.push(listen("::"));
    } else {
        eprintln!("no IPv6 loopback here: skipping the [::1] listener");
    }
    let bound: BTreeSet<u16> = listeners.iter().map(|(_, port)| *port).collect();
    let pool: Vec<String> = bound
        .iter()
        .chain(fx_free.iter())
        .map(u16::to_string)
        .collect();
    let fx = Fixture::new("bound", &pool.join(","));
    for attempt in 0..20 {
        let got = set(fx.take(&["-n", "3", "--", "sh", "-c", r#"printf '%s\n' $PORTS"#]));
        assert_eq!(
            got, fx_free,
            "attempt {attempt}: a bound port was handed out ({bound:?} are bound)"
        );
        let out = fx.run(&["-n", "4", "--", "true"]);
        assert_not_enough(&out, "only 3 ports are not bound");
        assert!(
            fx.lease_ports().is_empty(),
            "leases left after probing bound ports: {:?}",
            fx.files()
        );
    }
    // One at a time, in default mode too.
    let owner = Owner::spawn("60");
    for _ in 0..3 {
        fx.take(&["--owner", &owner.pid_arg()]);
    }
    assert_eq!(
        fx.lease_ports(),
        fx_free,
        "only the unbound ports were leased"
    );
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "the rest are bound",
    );
    // Once the listeners close, their ports can be had.
    drop(listeners);
    let got = set(fx.take(&["-n", &bound.len().to_string(), "--owner", &owner.pid_arg()]));
    assert_eq!(got, bound, "the ports are free once the listeners close");
    fx.assert_no_temp_files();
}

/// With --udp a port bound for UDP is not handed out; without, UDP does
/// not matter.
#[test]
fn udp_checks_udp_too() {
    let (_socket, port) = bind_free("UDP", |port| UdpSocket::bind(("127.0.0.1", port)));
    let fx = Fixture::new("udp", &port.to_string());
    let owner = Owner::spawn("60");
    assert_not_enough(
        &fx.run(&["--udp", "--owner", &owner.pid_arg()]),
        "a UDP-bound port with --udp",
    );
    assert!(fx.lease_ports().is_empty(), "the lease was given back");
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [port]);
}

/// gc (and an allocation) leave a stale lease alone while its port is
/// bound; once it is not, gc removes it.
#[test]
fn a_stale_lease_of_a_bound_port_is_kept() {
    let (listener, bound) = listen("127.0.0.1");
    let fx = Fixture::new("gc-bound", &format!("{bound},22220"));
    let kept = stale_lease(bound);
    fx.put_lease(&kept);
    fx.put_lease(&stale_lease(22220));
    let gc = fx.run(&["gc"]);
    assert!(gc.status.success(), "{}", show(&gc));
    assert_eq!(
        stdout(&gc),
        "22220\n",
        "gc removes only the unbound port's lease"
    );
    assert_eq!(fx.lease_ports(), set([bound]));
    assert_eq!(
        fx.lease(bound),
        kept,
        "the bound port's stale lease is untouched"
    );
    let owner = Owner::spawn("60");
    assert_eq!(fx.take(&["-n", "1", "--owner", &owner.pid_arg()]), [22220]);
    assert_not_enough(
        &fx.run(&["-n", "1", "--owner", &owner.pid_arg()]),
        "the stale lease of a bound port",
    );
    assert_eq!(fx.lease(bound), kept, "an allocation did not take it over");
    drop(listener);
    let gc = fx.run(&["gc", "--json"]);
    assert!(gc.status.success(), "{}", show(&gc));
    let removed: serde_json::Value = serde_json::from_slice(&gc.stdout).expect("gc --json");
    assert_eq!(removed, serde_json::json!({ "removed": [bound] }));
    assert_eq!(fx.lease_ports(), set([22220]));
}
