//! port-alloc's pool (PORT_ALLOC_PORTS, PORT_ALLOC_PORTS_FILE, --exclude,
//! browsers' bad ports), its options (--consecutive, --wait, --json, the
//! limits of --lease, --grace and --wait) and its subcommands (release,
//! list, gc).

mod common;

use std::fs::{self};
use std::thread;
use std::time::{Duration, Instant};

use common::port_alloc::*;
use subunit_tools::ports::Lease;

// ---------------------------------------------------------------------------
// 5. Pool, exclusions, options

/// PORT_ALLOC_PORTS: ranges, single ports, commas and spaces.
#[test]
fn the_pool_can_be_replaced_by_a_list() {
    let fx = Fixture::new("pool", "22300-22302,22310 22312");
    let owner = Owner::spawn("60");
    let got = set(fx.take(&["-n", "5", "--owner", &owner.pid_arg()]));
    assert_eq!(got, set([22300, 22301, 22302, 22310, 22312]));
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "the whole pool is taken",
    );
}

/// PORT_ALLOC_PORTS_FILE: the same list, with newlines and comments.
#[test]
fn the_pool_can_come_from_a_file() {
    let fx = Fixture::without_pool("pool-file");
    let file = fx.path("pool");
    fs::write(
        &file,
        "# our ports\n22320-22321  # two\n\n22325,22327\n# 22330 is commented out\n",
    )
    .expect("write the pool file");
    let owner = Owner::spawn("60");
    let take = |n: &str| {
        let mut cmd = fx.cmd(&["-n", n, "--owner", &owner.pid_arg()]);
        cmd.env("PORT_ALLOC_PORTS_FILE", &file);
        run(cmd)
    };
    let got = set(ok_ports(&take("4"), "from the file"));
    assert_eq!(got, set([22320, 22321, 22325, 22327]));
    assert_not_enough(&take("1"), "the file's pool is taken");
}

/// --exclude takes ports out of the pool on every path: a list pool, a
/// file pool, several options, --consecutive, --wait and -- COMMAND.
#[test]
fn excluded_ports_are_never_handed_out() {
    let fx = Fixture::new("exclude", "22340-22349");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for _ in 0..5 {
        let got = set(fx.take(&["-n", "3", "--owner", &o, "--exclude", "22341-22346,22348"]));
        assert_eq!(got, set([22340, 22347, 22349]));
        assert_not_enough(
            &fx.run(&["--owner", &o, "--exclude", "22341-22346,22348"]),
            "all but the excluded are taken",
        );
        let out = fx.run(&["release", "22340", "22347", "22349"]);
        assert!(out.status.success(), "{}", show(&out));
        // Several options add up.
        let got = set(fx.take(&[
            "-n",
            "2",
            "--owner",
            &o,
            "--exclude",
            "22340-22345",
            "--exclude",
            "22347",
            "--exclude",
            "22349",
        ]));
        assert_eq!(got, set([22346, 22348]));
        let out = fx.run(&["release", "22346", "22348"]);
        assert!(out.status.success(), "{}", show(&out));
        // With a command.
        let out = run(fx.cmd(&[
            "-n",
            "1",
            "--exclude",
            "22340-22348",
            "--",
            "sh",
            "-c",
            r#"echo "$PORTS""#,
        ]));
        assert_eq!(stdout(&out), "22349\n", "{}", show(&out));
        // Adjacent ports.
        let got = fx.take(&[
            "-n",
            "3",
            "--consecutive",
            "--owner",
            &o,
            "--exclude",
            "22340-22345",
        ]);
        assert!(
            got == [22346, 22347, 22348] || got == [22347, 22348, 22349],
            "{got:?}"
        );
        let _ = fx.run(&["release", "22346", "22347", "22348", "22349"]);
        assert_not_enough(
            &fx.run(&[
                "-n",
                "2",
                "--consecutive",
                "--owner",
                &o,
                "--exclude",
                "22341,22343,22345,22347,22349",
            ]),
            "no two adjacent ports left",
        );
    }
    // With --wait, an excluded port is not what the wait ends with.
    fx.take(&["-n", "9", "--owner", &o, "--exclude", "22349"]);
    assert_not_enough(
        &fx.run(&["--owner", &o, "--exclude", "22349", "--wait", "0.3"]),
        "waiting while only an excluded port is free",
    );
    assert!(
        !fx.lease_ports().contains(&22349),
        "the excluded port was leased"
    );
    // A file pool.
    let fx = Fixture::without_pool("exclude-file");
    let file = fx.path("pool");
    fs::write(&file, "22350-22353\n").expect("write the pool file");
    let mut cmd = fx.cmd(&["-n", "2", "--owner", &o, "--exclude", "22350,22352"]);
    cmd.env("PORT_ALLOC_PORTS_FILE", &file);
    assert_eq!(set(ok_ports(&run(cmd), "a file pool")), set([22351, 22353]));
    assert_eq!(fx.lease_ports(), set([22351, 22353]));
    assert_fails(
        &fx.run(&["--exclude", "22350-abc"]),
        2,
        &["--exclude"],
        "a bad --exclude",
    );
}

/// The ports browsers refuse (6000, 6665-6669, ...) are never handed out,
/// even from a pool that names them.
#[test]
fn browser_bad_ports_are_never_handed_out() {
    let fx = Fixture::new("browser", "6000,6665-6669,22440,10080");
    let owner = Owner::spawn("60");
    for _ in 0..5 {
        let got = fx.take(&["--", "sh", "-c", r#"echo "$PORTS""#]);
        assert_eq!(got, [22440]);
    }
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [22440]);
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "only browser-bad ports are left",
    );
    let fx = Fixture::new("browser-run", "6664-6670");
    for _ in 0..5 {
        assert_not_enough(
            &fx.run(&["-n", "2", "--consecutive", "--", "true"]),
            "6665-6669 break every run of 2 in 6664-6670",
        );
    }
}

/// Asking for more than are free fails with a clear message and reserves
/// nothing, even when some were free (and taken, then given back).
#[test]
fn a_short_pool_reserves_nothing() {
    let fx = Fixture::new("short", "22450-22454");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let out = fx.run(&["-n", "6", "--owner", &o]);
    assert_fails(
        &out,
        1,
        &[
            "not enough free ports",
            "wanted 6",
            "found 5",
            "pool of 5",
            "nothing reserved",
        ],
        "6 of 5",
    );
    assert!(fx.lease_ports().is_empty(), "reserved: {:?}", fx.files());
    let held = set(fx.take(&["-n", "2", "--owner", &o]));
    for _ in 0..10 {
        assert_not_enough(&fx.run(&["-n", "4", "--owner", &o]), "4 of 3 free");
        assert_eq!(fx.lease_ports(), held, "only the first two stay leased");
        let out = run(fx.cmd(&["-n", "4", "--", "true"]));
        assert_not_enough(&out, "4 of 3 free, with a command");
        assert_eq!(fx.lease_ports(), held);
    }
    fx.assert_no_temp_files();
}

/// The same, when the owner's command line holds a newline (a multi-line
/// `sh -c` script): the leases taken before running short must still be
/// given back.
#[test]
fn a_short_pool_reserves_nothing_for_a_multiline_command() {
    let fx = Fixture::new("short-newline", "22690-22692");
    let out = run(fx.cmd(&["-n", "4", "--", "sh", "-c", "true\ntrue"]));
    assert_not_enough(&out, "4 of 3");
    assert!(
        fx.lease_ports().is_empty(),
        "'nothing reserved', but these are leased: {:?}",
        fx.files()
    );
    // The script's status is port-alloc's; its command line has a newline.
    let out = run(fx.sh("\"$PORT_ALLOC\" -n 4\nexit $?", &[]));
    assert_not_enough(&out, "4 of 3, owner a multi-line script");
    assert!(
        fx.lease_ports().is_empty(),
        "'nothing reserved', but these are leased: {:?}",
        fx.files()
    );
}

/// --consecutive gives N adjacent ports, and fails when no run of N is
/// free.
#[test]
fn consecutive_ports_are_adjacent() {
    let fx = Fixture::new("consecutive", "22400-22402,22404-22408,22410-22411");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for _ in 0..5 {
        let got = fx.take(&["-n", "5", "--consecutive", "--owner", &o]);
        assert_eq!(
            got,
            [22404, 22405, 22406, 22407, 22408],
            "the only run of 5"
        );
        let _ = fx.run(&["release", "22404", "22405", "22406", "22407", "22408"]);
        let got = fx.take(&["-n", "3", "--consecutive", "--owner", &o]);
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 1),
            "not adjacent: {got:?}"
        );
        let args: Vec<String> = got.iter().map(u16::to_string).collect();
        let mut release = vec!["release"];
        release.extend(args.iter().map(String::as_str));
        assert!(fx.run(&release).status.success());
    }
    let out = fx.run(&["-n", "6", "--consecutive", "--owner", &o]);
    assert_fails(&out, 1, &["adjacent", "nothing reserved"], "no run of 6");
    // A lease in the middle of the only run of 5 leaves none.
    fx.put_lease(&lease_of(22406, owner.pid(), start_time(owner.pid())));
    let out = fx.run(&["-n", "5", "--consecutive", "--owner", &o]);
    assert_fails(&out, 1, &["adjacent"], "the run of 5 is broken by a lease");
    assert_eq!(fx.lease_ports(), set([22406]), "nothing else reserved");
    let out = run(fx.cmd(&[
        "-n",
        "3",
        "--consecutive",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS""#,
    ]));
    assert!(out.status.success(), "{}", show(&out));
    let ports: Vec<u16> = stdout(&out)
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert!(
        ports == [22400, 22401, 22402],
        "the only run of 3 left is 22400-22402, got {ports:?}"
    );
}

/// A run that ends at port 65535 can be had.
#[test]
fn consecutive_ports_up_to_65535() {
    let fx = Fixture::new("consecutive-top", "65533-65535");
    let got = run(fx.cmd(&[
        "-n",
        "3",
        "--consecutive",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS""#,
    ]));
    assert_eq!(stdout(&got), "65533 65534 65535\n", "{}", show(&got));
}

/// `release` removes the lease at once (the port can be had again); a port
/// with no lease is an error (status 1); several ports at once.
#[test]
fn release_ends_a_lease() {
    let fx = Fixture::new("release", "22460-22461");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let got = fx.take(&["-n", "2", "--owner", &o]);
    assert_eq!(set(got), set([22460, 22461]));
    assert_not_enough(&fx.run(&["--owner", &o]), "both leased");
    let out = fx.run(&["release", "22460"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(fx.lease_ports(), set([22461]), "the lease file is gone");
    assert_eq!(fx.take(&["--owner", &o]), [22460], "taken again");
    let out = fx.run(&["release", "22460", "22461"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(fx.lease_ports().is_empty());
    let out = fx.run(&["release", "22460"]);
    assert_fails(&out, 1, &["no lease", "22460"], "release without a lease");
    // One with a lease and one without: the first is released, status 1.
    fx.take(&["--owner", &o, "--exclude", "22461"]);
    let out = fx.run(&["release", "22460", "22461"]);
    assert_fails(
        &out,
        1,
        &["no lease", "22461"],
        "release of one leased and one not",
    );
    assert!(fx.lease_ports().is_empty(), "22460 was released");
    fx.assert_no_temp_files();
}

/// `list` shows each lease's port, owner pid, liveness and when it really
/// ends, and why (with its owner, at the end of its grace, its lease cap);
/// `list --json` is an array of the same.
#[test]
fn list_shows_the_leases() {
    let fx = Fixture::new("list", "22470-22479");
    let owner = Owner::spawn("60");
    let mut got = fx.take(&[
        "-n",
        "2",
        "--owner",
        &owner.pid_arg(),
        "--lease",
        "100",
        "--exclude",
        "22477-22479",
    ]);
    got.sort_unstable();
    let dead = stale_lease(22479);
    fx.put_lease(&dead);
    fs::write(fx.dir.join("22478"), "garbage\n").expect("write garbage");
    // Its owner gone, in its grace period: it ends when the grace does,
    // not at its expiry.
    let in_grace = Lease {
        grace_until: now() + 45,
        ..lease_of(22477, dead_pid(), 1)
    };
    fx.put_lease(&in_grace);
    let taken = now();
    let out = fx.run(&["list"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let seconds_after = |line: &str, words: &str| -> u64 {
        line.split(words)
            .nth(1)
            .and_then(|r| r.split('s').next())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no '{words}Ns': {line}"))
    };
    for port in &got {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(port.to_string().as_str()))
            .unwrap_or_else(|| panic!("port {port} not listed:\n{text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.contains(&owner.pid_arg().as_str()),
            "no owner pid: {line}"
        );
        assert!(
            words.contains(&"alive") && words.contains(&"live"),
            "{line}"
        );
        assert!(line.contains("when its owner exits"), "{line}");
        let cap = seconds_after(line, "at most in ");
        assert!((90..=100).contains(&cap), "lease cap in {cap}s: {line}");
        assert!(line.contains("s (lease cap)"), "{line}");
        let grace = seconds_after(line, "not before ");
        assert!((50..=60).contains(&grace), "grace {grace}s: {line}");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("22477"))
        .unwrap_or_else(|| panic!("the lease in its grace not listed:\n{text}"));
    assert!(line.contains("gone") && line.contains(" live "), "{line}");
    let ends = seconds_after(line, " in ");
    assert!((35..=45).contains(&ends), "ends in {ends}s: {line}");
    assert!(line.contains("s (grace; owner gone)"), "{line}");
    assert!(!line.contains("500s"), "not at its expiry: {line}");
    let line = text
        .lines()
        .find(|l| l.starts_with("22479"))
        .unwrap_or_else(|| panic!("the stale lease not listed:\n{text}"));
    assert!(line.contains("gone") && line.contains("stale"), "{line}");
    assert!(line.contains("ended (owner gone)"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("22478") && l.contains("not a lease")),
        "the garbage file is listed as not a lease:\n{text}"
    );
    let out = fx.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("list --json: {e}:\n{}", show(&out)));
    let items = items.as_array().expect("list --json prints an array");
    assert_eq!(items.len(), 5, "{items:?}");
    let item = items
        .iter()
        .find(|i| i["port"] == 22477)
        .expect("the lease in its grace");
    assert_eq!(item["ends"]["when"], "grace ends", "{item}");
    assert_eq!(item["ends"]["at"], in_grace.grace_until, "{item}");
    assert_eq!(item["ends"]["because"], "owner gone", "{item}");
    for port in &got {
        let item = items
            .iter()
            .find(|i| i["port"] == *port)
            .unwrap_or_else(|| panic!("port {port} not in {items:?}"));
        assert_eq!(item["pid"], owner.pid(), "{item}");
        assert_eq!(item["live"], true, "{item}");
        assert_eq!(item["owner_alive"], true, "{item}");
        let expires = item["expires"].as_u64().expect("expires is a number");
        assert!(
            (taken + 90..=taken + 100).contains(&expires),
            "expires {expires}, taken about {taken}: {item}"
        );
        assert_eq!(item["ends"]["when"], "owner exits", "{item}");
        assert_eq!(item["ends"]["at_most"], expires, "{item}");
    }
    let item = items
        .iter()
        .find(|i| i["port"] == 22479)
        .expect("the stale lease");
    assert_eq!(item["live"], false, "{item}");
    assert_eq!(item["pid"], dead.owner.pid, "{item}");
    let item = items
        .iter()
        .find(|i| i["port"] == 22478)
        .expect("the garbage file");
    assert!(item["error"].is_string(), "{item}");
}

/// gc removes the stale leases (dead owner past its grace; expired) and
/// keeps the live ones (owner alive; within grace) and files that are not
/// leases.
#[test]
fn gc_removes_stale_leases_only() {
    let fx = Fixture::new("gc", "22480-22489");
    let owner = Owner::spawn("60");
    let live = fx.take(&["--owner", &owner.pid_arg(), "--exclude", "22481-22489"]);
    assert_eq!(live, [22480]);
    let short = Owner::spawn("60");
    fx.take(&[
        "--owner",
        &short.pid_arg(),
        "--grace",
        "0",
        "--exclude",
        "22480,22482-22489",
    ]);
    fx.take(&[
        "--owner",
        &short.pid_arg(),
        "--grace",
        "30",
        "--exclude",
        "22480-22481,22483-22489",
    ]);
    short.end();
    // Expired although the owner lives.
    fx.take(&[
        "--owner",
        &owner.pid_arg(),
        "--grace",
        "0",
        "--lease",
        "0",
        "--exclude",
        "22480-22482,22484-22489",
    ]);
    fs::write(fx.dir.join("22484"), "garbage\n").expect("write garbage");
    assert_eq!(fx.lease_ports(), set(22480..=22484));
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        stdout(&out),
        "22481\n22483\n",
        "gc removes the dead owner's and the expired lease"
    );
    assert_eq!(fx.lease_ports(), set([22480, 22482, 22484]));
    assert_eq!(
        fs::read_to_string(fx.dir.join("22484")).expect("garbage kept"),
        "garbage\n"
    );
    let out = fx.run(&["gc", "--json"]);
    assert_eq!(stdout(&out), "{\"removed\":[]}\n", "{}", show(&out));
}

/// --wait: a caller waits for a held port to be released and then gets it;
/// without --wait it fails at once; a short --wait runs out.
#[test]
fn wait_for_a_port_to_be_released() {
    let fx = Fixture::new("wait", "22500");
    let mut hold = Gate::new(fx.path("hold"));
    let mut holder = Running::spawn(&mut fx.cmd(&[
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS"; : < "$0""#,
        hold.path.to_str().expect("UTF-8 path"),
    ]));
    let lines = Lines::of(&mut holder);
    assert_eq!(
        lines.next(Duration::from_secs(10)).as_deref(),
        Some("22500")
    );
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let started = Instant::now();
    assert_not_enough(&fx.run(&["--owner", &o]), "held, without --wait");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "without --wait it fails at once, not after {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert_not_enough(
        &fx.run(&["--owner", &o, "--wait", "0.3"]),
        "held through --wait 0.3",
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "--wait 0.3 gave up after {:?}",
        started.elapsed()
    );
    let mut waiter = Running::spawn(&mut fx.cmd(&["--owner", &o, "--wait", "20"]));
    thread::sleep(Duration::from_millis(500));
    assert!(
        waiter.try_wait().expect("try_wait").is_none(),
        "--wait 20 gave up while the port was held"
    );
    hold.open();
    let out = finish(waiter.take(), Instant::now() + Duration::from_secs(20));
    assert_eq!(ok_ports(&out, "--wait 20"), [22500]);
    assert_eq!(fx.lease(22500).owner.pid, owner.pid());
    let out = finish(holder.take(), Instant::now() + Duration::from_secs(10));
    assert!(out.status.success(), "{}", show(&out));
}

/// --json prints the ports as a JSON array, and they are leased.
#[test]
fn json_output_of_an_allocation() {
    let fx = Fixture::new("json", "22510-22519");
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "3", "--json", "--owner", &owner.pid_arg()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).ends_with('\n'));
    let ports: Vec<u16> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not a JSON array of ports: {e}\n{}", show(&out)));
    assert_eq!(ports.len(), 3);
    assert!(ports.iter().all(|p| (22510..=22519).contains(p)));
    assert_eq!(set(ports.iter().copied()).len(), 3);
    assert_eq!(fx.lease_ports(), set(ports));
}

/// Bad input is a usage error (status 2) with a message naming it, and
/// reserves nothing.
#[test]
fn invalid_input_is_a_usage_error() {
    let fx = Fixture::without_pool("invalid");
    for pool in ["abc", "0", "65536", "22530-22520", "22520-abc", "1-2-3"] {
        let mut cmd = fx.cmd(&["-n", "1", "--", "true"]);
        cmd.env("PORT_ALLOC_PORTS", pool);
        assert_fails(
            &run(cmd),
            2,
            &["PORT_ALLOC_PORTS"],
            &format!("PORT_ALLOC_PORTS={pool}"),
        );
    }
    let file = fx.path("bad-pool");
    fs::write(&file, "22520\n# fine\nnonsense\n").expect("write the pool file");
    let mut cmd = fx.cmd(&["--", "true"]);
    cmd.env("PORT_ALLOC_PORTS_FILE", &file);
    assert_fails(
        &run(cmd),
        2,
        &["PORT_ALLOC_PORTS_FILE", "nonsense"],
        "a bad pool file",
    );
    let mut cmd = fx.cmd(&["--", "true"]);
    cmd.env("PORT_ALLOC_PORTS_FILE", fx.path("missing"));
    assert_fails(&run(cmd), 2, &["missing"], "a missing pool file");
    let gone = dead_pid();
    let mut cmd = fx.cmd(&["--owner", &gone.to_string()]);
    cmd.env("PORT_ALLOC_PORTS", "22520");
    assert_fails(
        &run(cmd),
        2,
        &["--owner", "no such process"],
        "--owner of a dead process",
    );
    for wait in ["--wait=-1", "--wait=NaN", "--wait=inf"] {
        let mut cmd = fx.cmd(&[wait, "--", "true"]);
        cmd.env("PORT_ALLOC_PORTS", "22520");
        assert_fails(&run(cmd), 2, &["--wait"], wait);
    }
    // clap's own errors (status 2; clap words them).
    for args in [
        &["-n", "0"][..],
        &["--count", "x"],
        &["--bogus"],
        &["release"],
    ] {
        let out = fx.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{}", show(&out));
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    assert!(fx.lease_ports().is_empty(), "reserved: {:?}", fx.files());
}

/// --lease, --grace and --wait beyond their maxima (u64 overflow, f64
/// overflow, a Duration or an Instant that cannot hold them) are usage
/// errors naming the option and its maximum: never a panic, never a lease
/// that wraps around and ends at once. NaN, infinities and negative waits
/// are refused too. At their maxima, a live owner's port is not handed to a
/// second caller.
#[test]
fn time_options_beyond_their_maxima_are_refused() {
    let fx = Fixture::new("limits", "22700");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for (option, value, max) in [
        ("--lease", "18446744073709551615", "2592000"),
        ("--lease", "18446744073709551616", "2592000"),
        ("--lease", "2592001", "2592000"),
        ("--grace", "18446744073709551615", "86400"),
        ("--grace", "86401", "86400"),
        ("--wait", "1e300", "86400"),
        ("--wait", "1e19", "86400"),
        ("--wait", "86400.5", "86400"),
    ] {
        for with_command in [false, true] {
            let arg = format!("{option}={value}");
            let mut args = vec![arg.as_str(), "--owner", &o];
            if with_command {
                args = vec![arg.as_str(), "--", "true"];
            }
            let out = fx.run(&args);
            assert_fails(&out, 2, &[option, max], &format!("{args:?}"));
        }
    }
    for wait in ["NaN", "inf", "-inf", "-1", "-1e-9", "soon"] {
        let arg = format!("--wait={wait}");
        assert_fails(&fx.run(&[&arg, "--owner", &o]), 2, &["--wait"], &arg);
    }
    assert!(fx.lease_ports().is_empty(), "reserved: {:?}", fx.files());
    // At the maxima the lease holds; the second caller finds no port.
    let taken = now();
    let got = fx.take(&["--lease", "2592000", "--grace", "86400", "--owner", &o]);
    assert_eq!(got, [22700]);
    let lease = fx.lease(22700);
    assert!(
        (taken..=taken + 5).contains(&lease.taken),
        "taken at {}, about {taken}",
        lease.taken
    );
    assert_eq!(lease.expires, Some(lease.taken + 2_592_000));
    assert_eq!(lease.grace_until, lease.taken + 86_400);
    assert_not_enough(
        &fx.run(&["--owner", &o, "--wait", "0.2", "--lease", "2592000"]),
        "a second caller while the owner lives",
    );
}
