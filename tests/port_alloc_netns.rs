//! port-alloc and network namespaces: each lease records its caller's
//! (the inode of /proc/self/ns/net); a live lease of another namespace
//! does not block a port (its lease is then `PORT@NETNS`), one of the
//! caller's own or of a version that did not record it does; `list` shows
//! the namespace. Other namespaces come from `unshare -n` (root); the
//! tests that need it say they are skipped where it is refused. Pools of
//! 22880-22899.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use common::port_alloc::*;

/// Our network namespace, read here independently of the library.
fn our_netns() -> u64 {
    std::fs::metadata("/proc/self/ns/net")
        .expect("stat /proc/self/ns/net")
        .ino()
}

/// Whether `unshare -n` works here; says the test is skipped if not.
fn can_unshare(test: &str) -> bool {
    let ok = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED {test}: `unshare -n` is refused here (it needs root)");
    }
    ok
}

/// `unshare -n sh -c SCRIPT sh ARGS...`: SCRIPT in a new network
/// namespace, with the fixture's environment and PORT_ALLOC our binary.
fn in_new_netns(fx: &Fixture, script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "sh", "-c", script, "sh"]).args(args);
    cmd.env("PORT_ALLOC", BIN);
    fx.env(&mut cmd);
    cmd
}

/// The names of the lease directory's files (no hidden ones), sorted.
fn lease_names(fx: &Fixture) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&fx.dir)
        .expect("the lease directory")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// A new lease records our namespace; one written as versions before it
/// wrote them (no netns line) is still read, listed as holding its port
/// in any namespace, and blocks the port here and in another namespace.
#[test]
fn a_lease_without_a_namespace_is_read_and_blocks_every_namespace() {
    let fx = Fixture::new("old", "22880-22881");
    let owner = Owner::spawn("60");
    let got = fx.take(&["--owner", &owner.pid_arg(), "--exclude", "22881"]);
    assert_eq!(got, [22880]);
    let text = fx.files()[&22880].clone().expect("the lease's text");
    assert!(
        text.lines().any(|l| l == format!("netns={}", our_netns())),
        "the lease does not record our namespace:\n{text}"
    );
    let old = lease_of(22881, owner.pid(), start_time(owner.pid()));
    assert_eq!(old.netns, None);
    fx.put_lease(&old);
    assert!(!fx.files()[&22881].as_ref().expect("text").contains("netns"));
    assert_eq!(fx.lease(22881).netns, None, "read back without a namespace");
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "the old lease blocks",
    );
    let list = stdout(&fx.run(&["list"]));
    let row = list
        .lines()
        .find(|l| l.starts_with("22881"))
        .unwrap_or_else(|| panic!("not listed:\n{list}"));
    assert_eq!(row.split_whitespace().nth(4), Some("any"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&fx.run(&["list", "--json"]))).expect("JSON");
    let netns: Vec<&serde_json::Value> = json
        .as_array()
        .expect("an array")
        .iter()
        .map(|l| &l["netns"])
        .collect();
    assert_eq!(
        netns,
        [&serde_json::json!(our_netns()), &serde_json::Value::Null]
    );
    if !can_unshare("a_lease_without_a_namespace_is_read_and_blocks_every_namespace") {
        return;
    }
    let out = run(in_new_netns(
        &fx,
        r#"exec "$PORT_ALLOC" --owner "$1" --exclude 22880"#,
        &[&owner.pid_arg()],
    ));
    assert_not_enough(&out, "the old lease blocks another namespace too");
}

/// A live lease of our namespace keeps the port from us, not from another
/// namespace: there the port is leased again (as `PORT@NETNS`), once;
/// `list` shows both leases with their namespaces (`this_netns` true for
/// ours alone), and `release` in another namespace leaves ours alone.
#[test]
fn another_namespaces_lease_does_not_block_a_port_and_list_shows_it() {
    if !can_unshare("another_namespaces_lease_does_not_block_a_port_and_list_shows_it") {
        return;
    }
    let fx = Fixture::new("netns", "22885");
    let owner = Owner::spawn("60");
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [22885]);
    let out = run(in_new_netns(
        &fx,
        r#""$PORT_ALLOC" --owner "$1"; "$PORT_ALLOC" --owner "$1"; echo "second: $?"
           readlink /proc/self/ns/net; "$PORT_ALLOC" release 22885; echo "release: $?""#,
        &[&owner.pid_arg()],
    ));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "22885",
        "another namespace gets the port:\n{}",
        show(&out)
    );
    assert_eq!(
        lines[1],
        "second: 1",
        "but only once there:\n{}",
        show(&out)
    );
    let theirs: u64 = lines[2]
        .strip_prefix("net:[")
        .and_then(|n| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a namespace: {}", lines[2]));
    assert_ne!(theirs, our_netns());
    // Their release removed their lease, not ours.
    assert_eq!(lines[3], "release: 0", "{}", show(&out));
    assert_eq!(fx.lease(22885).netns, Some(our_netns()));
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "ours still blocks us",
    );
    // Again, and kept this time, to be listed.
    let out = run(in_new_netns(
        &fx,
        r#""$PORT_ALLOC" --owner "$1" && readlink /proc/self/ns/net"#,
        &[&owner.pid_arg()],
    ));
    let text = stdout(&out);
    let theirs: u64 = text
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok())
        .unwrap_or_else(|| panic!("no namespace:\n{}", show(&out)));
    let names = lease_names(&fx);
    assert_eq!(names, ["22885".to_owned(), format!("22885@{theirs}")]);
    let list = stdout(&fx.run(&["list"]));
    let netns_column: Vec<&str> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(4).expect("a NETNS column"))
        .collect();
    assert_eq!(
        netns_column,
        [our_netns().to_string(), theirs.to_string()],
        "{list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&fx.run(&["list", "--json"]))).expect("JSON");
    let seen: Vec<(u64, bool)> = json
        .as_array()
        .expect("an array")
        .iter()
        .map(|l| {
            (
                l["netns"].as_u64().expect("netns"),
                l["this_netns"].as_bool().expect("this_netns"),
            )
        })
        .collect();
    assert_eq!(seen, [(our_netns(), true), (theirs, false)]);
}

/// Two names for one port in one namespace must not give it twice: a
/// caller of namespace N holds `PORT@N` (PORT being ours); our lease then
/// goes stale, and the next caller of N, which reclaims it and takes
/// `PORT`, finds `PORT@N` live and gives `PORT` back.
#[test]
fn a_port_freed_by_another_namespace_is_not_taken_twice_in_one_namespace() {
    if !can_unshare("a_port_freed_by_another_namespace_is_not_taken_twice_in_one_namespace") {
        return;
    }
    let fx = Fixture::new("twice", "22890");
    let ours = Owner::spawn("60");
    let theirs = Owner::spawn("60");
    assert_eq!(
        fx.take(&["--owner", &ours.pid_arg(), "--grace", "0"]),
        [22890]
    );
    let mut gate = Gate::new(fx.path("gate"));
    let gate_arg = gate.path.to_str().expect("UTF-8 path").to_owned();
    let mut running = Running::spawn(&mut in_new_netns(
        &fx,
        r#""$PORT_ALLOC" --owner "$1"; : < "$2"; "$PORT_ALLOC" --owner "$1"; echo "again: $?""#,
        &[&theirs.pid_arg(), &gate_arg],
    ));
    let lines = Lines::of(&mut running);
    assert_eq!(
        lines.next(Duration::from_secs(20)).as_deref(),
        Some("22890")
    );
    ours.end(); // our lease is stale now (grace 0): theirs may reclaim it
    gate.open();
    assert_eq!(
        lines.next(Duration::from_secs(20)).as_deref(),
        Some("again: 1"),
        "the port went twice to one namespace"
    );
    let out = finish(
        running.take(),
        std::time::Instant::now() + Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", show(&out));
    let names = lease_names(&fx);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("22890@"), "{names:?}");
}
