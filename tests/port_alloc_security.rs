//! port-alloc against a hostile lease directory and hostile local users:
//! symbolic links, files that are not leases, a directory of another user,
//! a lock held or replaced, forged leases, leftovers of killed runs.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::time::{Duration, Instant};

use common::port_alloc::*;
use subunit_tools::ports::Lease;

// ---------------------------------------------------------------------------
// 6. A hostile lease directory

/// PORT_ALLOC_DIR itself a symbolic link (to a directory, or to nowhere) is
/// refused and nothing is written through it; so is a regular file.
#[test]
fn a_symlinked_lease_directory_is_refused() {
    let fx = Fixture::without_pool("dir-symlink");
    let target = fx.path("elsewhere");
    fs::create_dir(&target).expect("create the target");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let link = fx.path("link");
    symlink(&target, &link).expect("symlink");
    let dangling = fx.path("dangling");
    let nowhere = fx.path("nowhere");
    symlink(&nowhere, &dangling).expect("symlink");
    let file = fx.path("a-file");
    fs::write(&file, "precious\n").expect("write");
    for (dir, what) in [
        (&link, "a symlink"),
        (&dangling, "a dangling symlink"),
        (&file, "a file"),
    ] {
        for args in [&["-n", "1"][..], &["list"], &["gc"], &["release", "22540"]] {
            let mut cmd = fx.cmd(args);
            cmd.env("PORT_ALLOC_DIR", dir)
                .env("PORT_ALLOC_PORTS", "22540");
            let out = run(cmd);
            assert_fails(
                &out,
                2,
                &["lease directory", dir.to_str().expect("UTF-8")],
                &format!("PORT_ALLOC_DIR {what}, {args:?}"),
            );
        }
    }
    assert_eq!(
        fs::read_dir(&target).expect("list").count(),
        0,
        "something was written through the symlink"
    );
    assert!(
        !nowhere.exists(),
        "the dangling symlink's target was created"
    );
    assert_eq!(fs::read_to_string(&file).expect("read"), "precious\n");
}

/// A new lease directory is made /tmp-like (1777); an existing one
/// writable by everyone without the sticky bit is refused.
#[test]
fn the_lease_directory_must_be_sticky_if_world_writable() {
    let fx = Fixture::without_pool("dir-mode");
    let fresh = fx.path("fresh");
    let mut cmd = fx.cmd(&["list"]);
    cmd.env("PORT_ALLOC_DIR", &fresh);
    let out = run(cmd);
    assert!(out.status.success(), "{}", show(&out));
    let mode = fs::symlink_metadata(&fresh)
        .expect("created")
        .permissions()
        .mode();
    assert!(
        fs::symlink_metadata(&fresh).expect("created").is_dir(),
        "a directory"
    );
    assert_eq!(
        mode & 0o7777,
        0o1777,
        "created sticky and writable by all: {mode:o}"
    );
    let open = fx.path("open");
    fs::create_dir(&open).expect("mkdir");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
    for args in [&["-n", "1"][..], &["list"], &["gc"]] {
        let mut cmd = fx.cmd(args);
        cmd.env("PORT_ALLOC_DIR", &open)
            .env("PORT_ALLOC_PORTS", "22545");
        assert_fails(
            &run(cmd),
            2,
            &["writable by others", "sticky"],
            &format!("a world-writable directory, {args:?}"),
        );
    }
    assert_eq!(
        fs::read_dir(&open).expect("list").count(),
        0,
        "something was written into the refused directory"
    );
    // A private directory is fine.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut cmd = fx.cmd(&["--", "true"]);
    cmd.env("PORT_ALLOC_DIR", &open)
        .env("PORT_ALLOC_PORTS", "22545");
    assert!(run(cmd).status.success());
}

/// Changes the owner of `path` to `uid` (and group `uid`); `false` if this
/// user may not (the test is then skipped with a message).
fn chown(path: &std::path::Path, uid: u32) -> bool {
    match std::os::unix::fs::chown(path, Some(uid), Some(uid)) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipping: cannot chown {} to {uid}: {e}", path.display());
            false
        }
    }
}

/// A user id that is neither root nor ours.
const OTHER_USER: u32 = 54_321;

/// A lease directory owned by another user (neither the caller nor root)
/// is refused on every run, with a message saying how to set one up: its
/// owner could remove the caller's leases (sticky bit or not) and hand
/// their ports out again. So is one that others may write to without the
/// sticky bit (group-writable too), even if it was fine when created.
#[test]
fn a_lease_directory_of_another_user_is_refused() {
    let fx = Fixture::without_pool("dir-owner");
    let used = fx.path("used");
    fs::create_dir(&used).expect("mkdir");
    fs::set_permissions(&used, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let at = |dir: &std::path::Path, args: &[&str]| {
        let mut cmd = fx.cmd(args);
        cmd.env("PORT_ALLOC_DIR", dir)
            .env("PORT_ALLOC_PORTS", "22710-22711");
        run(cmd)
    };
    let got = ok_ports(&at(&used, &["--owner", &o]), "a directory of ours");
    let all_args: [&[&str]; 5] = [
        &["-n", "1", "--owner", &o],
        &["--", "true"],
        &["list"],
        &["gc"],
        &["release", "22710"],
    ];
    // Taken over by another user after it was made: checked on every run.
    if chown(&used, OTHER_USER) {
        for args in all_args {
            assert_fails(
                &at(&used, args),
                2,
                &[
                    "lease directory",
                    "owned by user 54321",
                    "PORT_ALLOC_DIR",
                    "systemd-tmpfiles",
                    "d /tmp/port-alloc 1777 root root -",
                ],
                &format!("a directory of another user, {args:?}"),
            );
        }
        let names: Vec<_> = fs::read_dir(&used)
            .expect("list")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert_eq!(
            names,
            [got[0].to_string()],
            "nothing was added to or removed from the other user's directory"
        );
    }
    // Group-writable without the sticky bit.
    let group = fx.path("group");
    fs::create_dir(&group).expect("mkdir");
    fs::set_permissions(&group, fs::Permissions::from_mode(0o770)).expect("chmod");
    for args in all_args {
        assert_fails(
            &at(&group, args),
            2,
            &["writable by others", "sticky", "chmod +t"],
            &format!("a group-writable directory, {args:?}"),
        );
    }
    // Sticky, it is fine.
    fs::set_permissions(&group, fs::Permissions::from_mode(0o1770)).expect("chmod");
    ok_ports(
        &at(&group, &["--owner", &o]),
        "a sticky group-writable directory",
    );
}

/// Symbolic links named like ports (to a file of someone else's, to a path
/// that does not exist): their ports are never handed out, the targets are
/// never written or created, a warning names them, and release and gc leave
/// them alone.
#[test]
fn symlinks_named_like_ports_are_left_alone() {
    let fx = Fixture::new("port-symlinks", "22600-22602");
    let victim = fx.path("victim");
    fs::write(&victim, "precious\n").expect("write the victim");
    let nowhere = fx.path("nowhere");
    symlink(&victim, fx.dir.join("22600")).expect("symlink");
    symlink(&nowhere, fx.dir.join("22601")).expect("symlink");
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "2", "--owner", &owner.pid_arg()]);
    assert_not_enough(&out, "2 ports where 2 of 3 are symlinks");
    let err = stderr(&out);
    for port in ["22600", "22601"] {
        assert!(
            err.lines().any(|l| l.starts_with("port-alloc: warning: ")
                && l.contains(port)
                && l.contains("symbolic link")),
            "no warning naming {port}:\n{err}"
        );
    }
    for _ in 0..10 {
        let got = fx.take(&["--", "sh", "-c", r#"echo "$PORTS""#]);
        assert_eq!(got, [22602]);
    }
    let out = fx.run(&["release", "22600"]);
    assert_fails(&out, 2, &["22600", "symbolic link"], "release of a symlink");
    let out = fx.run(&["release", "22601"]);
    assert_fails(&out, 2, &["22601"], "release of a dangling symlink");
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = fx.run(&["list"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("22600") && stdout(&out).contains("22601"),
        "list shows them:\n{}",
        show(&out)
    );
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(
        !nowhere.exists() && fs::symlink_metadata(&nowhere).is_err(),
        "the dangling target was created"
    );
    for port in ["22600", "22601"] {
        assert!(
            fs::symlink_metadata(fx.dir.join(port))
                .expect("still there")
                .file_type()
                .is_symlink(),
            "{port} was replaced"
        );
    }
}

/// Whatever is named `.lock` in the lease directory (a FIFO, a symbolic
/// link to someone's file or to nowhere, a directory, another user's file)
/// is left alone and changes nothing: the lock is the directory's own.
/// Before, a FIFO there made release, gc and `-- true` block for ever in
/// open(2), deaf to SIGTERM.
#[test]
fn whatever_is_named_lock_is_left_alone() {
    let fx = Fixture::new("lock-names", "22720-22721");
    let victim = fx.path("victim");
    fs::write(&victim, "precious\n").expect("write the victim");
    let nowhere = fx.path("nowhere");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let lock = fx.dir.join(".lock");
    let soon = || Instant::now() + Duration::from_secs(10);
    for kind in ["fifo", "symlink", "dangling", "dir", "theirs"] {
        let _ = fs::remove_file(&lock);
        let _ = fs::remove_dir(&lock);
        let mut fifo = None;
        match kind {
            "fifo" => fifo = Some(Gate::new(lock.clone())),
            "symlink" => symlink(&victim, &lock).expect("symlink"),
            "dangling" => symlink(&nowhere, &lock).expect("symlink"),
            "dir" => fs::create_dir(&lock).expect("mkdir"),
            _ => {
                fs::write(&lock, "").expect("write");
                let _ = std::os::unix::fs::chown(&lock, Some(OTHER_USER), None);
            }
        }
        let port = fx.take(&["--owner", &o, "--exclude", "22721"]);
        assert_eq!(port, [22720], ".lock a {kind}");
        fx.put_lease(&stale_lease(22721));
        let release = spawn(&mut fx.cmd(&["release", "22720"]));
        let gc = spawn(&mut fx.cmd(&["gc"]));
        let out = finish(release, soon());
        assert!(
            out.status.success(),
            "release, .lock a {kind}: {}",
            show(&out)
        );
        let out = finish(gc, soon());
        assert!(out.status.success(), "gc, .lock a {kind}: {}", show(&out));
        assert_eq!(stdout(&out), "22721\n", "gc, .lock a {kind}");
        let command = spawn(&mut fx.cmd(&["-n", "2", "--", "true"]));
        let out = finish(command, soon());
        assert!(
            out.status.success(),
            "-- true, .lock a {kind}: {}",
            show(&out)
        );
        assert!(
            fx.lease_ports().is_empty(),
            ".lock a {kind}: {:?}",
            fx.files()
        );
        drop(fifo);
    }
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(
        fs::symlink_metadata(&nowhere).is_err(),
        "the dangling target was created"
    );
}

/// While another process holds the directory's lock (flock(1), as a
/// hostile user could), what must remove a lease gives up after about 5
/// seconds with a message naming the holder: release and gc fail (status
/// 2), and `-- true` says which leases it could not give back and exits
/// non-zero, never 0 with its leases left behind. Allocating free ports
/// needs no lock.
#[test]
fn a_lock_held_by_another_process_is_an_error_not_a_silent_success() {
    let fx = Fixture::new("lock-held", "22722-22725");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let mine = fx.take(&["--owner", &o, "--exclude", "22723-22725"]);
    assert_eq!(mine, [22722]);
    // gc has something to remove: it needs the lock.
    fx.put_lease(&stale_lease(22725));
    let holder = hold_lock(&fx.dir);
    let holder_pid = holder.id().to_string();
    let started = Instant::now();
    let release = spawn(&mut fx.cmd(&["release", "22722"]));
    let gc = spawn(&mut fx.cmd(&["gc"]));
    let command = spawn(&mut fx.cmd(&[
        "-n",
        "2",
        "--grace",
        "0",
        "--exclude",
        "22725",
        "--",
        "true",
    ]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let needles = ["lock", "held", "5 seconds", holder_pid.as_str()];
    assert_fails(&finish(release, deadline), 2, &needles, "release");
    assert_fails(&finish(gc, deadline), 2, &needles, "gc");
    let out = finish(command, deadline);
    assert_ne!(out.status.code(), Some(0), "-- true: {}", show(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up only after {:?}",
        started.elapsed()
    );
    let left: Vec<u16> = fx
        .lease_ports()
        .into_iter()
        .filter(|p| ![22722, 22725].contains(p))
        .collect();
    assert_eq!(left.len(), 2, "{:?}", fx.files());
    let err = stderr(&out);
    for port in &left {
        assert!(
            err.contains("could not give back") && err.contains(&port.to_string()),
            "-- true does not say it left the lease of {port}:\n{}",
            show(&out)
        );
    }
    assert_eq!(
        fx.lease(22722).owner.pid,
        owner.pid(),
        "the lease was removed without the lock"
    );
    // Once the lock is free, everything works again.
    drop(holder);
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    let mut stale = set(left);
    stale.insert(22725);
    assert_eq!(
        set(ok_ports(&out, "gc")),
        stale,
        "gc removes what -- true left"
    );
    let out = fx.run(&["release", "22722"]);
    assert!(out.status.success(), "{}", show(&out));
}

/// The lock file of port-alloc 0.1.0 (`.lock`, a regular file of the
/// directory's owner) is honoured too while such versions may still run:
/// held by another process, release fails after about 5 seconds.
#[test]
fn the_lock_file_of_port_alloc_0_1_is_honoured() {
    let fx = Fixture::new("lock-legacy", "22726");
    let owner = Owner::spawn("60");
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [22726]);
    let lock = fx.dir.join(".lock");
    fs::write(&lock, "").expect("write .lock");
    let holder = hold_lock(&lock);
    let out = fx.run(&["release", "22726"]);
    let holder_pid = holder.id().to_string();
    assert_fails(&out, 2, &["lock", "held", &holder_pid], "release");
    assert_eq!(fx.lease_ports(), set([22726]));
    drop(holder);
    let out = fx.run(&["release", "22726"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(fx.lease_ports().is_empty());
}

/// A file named like a port that is not a lease (garbage, or a lease of
/// another port) keeps its port out of use, is warned about and left
/// alone; release refuses it and gc keeps it.
#[test]
fn a_file_that_is_not_a_lease_is_left_alone() {
    let fx = Fixture::new("garbage", "22620-22622");
    let garbage = fx.dir.join("22620");
    fs::write(&garbage, "garbage, not a lease\n").expect("write garbage");
    let misplaced = lease_of(22699, dead_pid(), 1).to_text();
    fs::write(fx.dir.join("22621"), &misplaced).expect("write a misplaced lease");
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "2", "--owner", &owner.pid_arg()]);
    assert_not_enough(&out, "2 of 1 usable");
    let err = stderr(&out);
    for (port, why) in [("22620", "not a lease"), ("22621", "another port")] {
        assert!(
            err.lines().any(|l| l.starts_with("port-alloc: warning: ")
                && l.contains(port)
                && l.contains(why)),
            "no warning naming {port} ({why}):\n{err}"
        );
    }
    for _ in 0..10 {
        assert_eq!(fx.take(&["--", "sh", "-c", r#"echo "$PORTS""#]), [22622]);
    }
    let out = fx.run(&["release", "22620"]);
    assert_fails(&out, 2, &["22620", "not a lease"], "release of garbage");
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        fs::read_to_string(&garbage).expect("garbage kept"),
        "garbage, not a lease\n"
    );
    assert_eq!(
        fs::read_to_string(fx.dir.join("22621")).expect("kept"),
        misplaced
    );
}

/// Hand-written leases that no honest caller could write are not live: an
/// allocation takes their ports over, gc removes them, list says why. Each
/// gives no more than what anyone may do honestly: hold a port for at
/// most --lease's maximum whatever the owner, or while a process of one's
/// own lives.
#[test]
fn forged_leases_do_not_hold() {
    let fx = Fixture::new("forged", "22730-22738");
    let owner = Owner::spawn("60");
    let (pid, start) = (owner.pid(), start_time(owner.pid()));
    let init_start = start_time(1);
    let now = now();
    let forged = [
        // Another boot's, in a grace of ten years: the boot comes first.
        Lease {
            boot: "00000000-0000-0000-0000-000000000000".into(),
            grace_until: now + 10 * 365 * 86_400,
            ..lease_of(22730, pid, start)
        },
        // A grace beyond --grace's maximum, its owner gone.
        Lease {
            grace_until: now - 100 + 86_401,
            ..lease_of(22731, dead_pid(), 1)
        },
        // An expiry beyond --lease's maximum, its owner alive.
        Lease {
            expires: Some(now - 100 + 2_592_001),
            ..lease_of(22732, pid, start)
        },
        // Taken (and in its grace) two days from now.
        Lease {
            taken: now + 2 * 86_400,
            grace_until: now + 2 * 86_400 + 60,
            expires: Some(now + 2 * 86_400 + 600),
            ..lease_of(22733, dead_pid(), 1)
        },
    ];
    // Honest, at the maxima: they hold.
    let honest = Lease {
        grace_until: now - 100 + 86_400,
        expires: Some(now - 100 + 2_592_000),
        ..lease_of(22736, pid, start)
    };
    let root_for_ever = Lease {
        expires: None,
        ..lease_of(22737, 1, init_start)
    };
    for lease in forged.iter().chain([&honest, &root_for_ever]) {
        fx.put_lease(lease);
    }
    // Another user's: one for ever following pid 1 (which is not theirs),
    // one claiming to be root's; and one following pid 1 for at most
    // --lease's maximum, which anyone may take honestly (--owner 1).
    let theirs = [
        Lease {
            uid: OTHER_USER,
            expires: None,
            ..lease_of(22734, 1, init_start)
        },
        Lease {
            uid: 0,
            expires: None,
            ..lease_of(22735, 1, init_start)
        },
        Lease {
            uid: OTHER_USER,
            expires: Some(now - 100 + 2_592_000),
            ..lease_of(22738, 1, init_start)
        },
    ];
    let mut chowned = true;
    for lease in &theirs {
        fx.put_lease(lease);
        let path = fx.dir.join(lease.port.to_string());
        chowned &= std::os::unix::fs::chown(&path, Some(OTHER_USER), None).is_ok();
    }
    if !chowned {
        eprintln!("skipping other users' leases: cannot chown");
        for lease in &theirs {
            let _ = fs::remove_file(fx.dir.join(lease.port.to_string()));
        }
    }
    let mut stale: Vec<u16> = forged.iter().map(|l| l.port).collect();
    let mut kept = vec![22736, 22737];
    if chowned {
        stale.extend([22734, 22735]);
        kept.push(22738);
    }
    let out = fx.run(&["list"]);
    assert!(out.status.success(), "{}", show(&out));
    for port in &stale {
        let line = stdout(&out)
            .lines()
            .find(|l| l.starts_with(&port.to_string()))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{port} not listed:\n{}", show(&out)));
        assert!(
            line.contains("stale") && line.contains("ended ("),
            "{port} is listed as live: {line}"
        );
        if *port != 22730 {
            assert!(line.contains("forged"), "{port}: {line}");
        }
    }
    let me = Owner::spawn("60");
    let n = stale.len().to_string();
    let mut taken = fx.take(&["-n", &n, "--owner", &me.pid_arg()]);
    taken.sort_unstable();
    assert_eq!(taken, stale, "the forged leases' ports are taken over");
    assert_not_enough(
        &fx.run(&["--owner", &me.pid_arg()]),
        "the honest leases hold",
    );
    // gc removes them too.
    for port in &taken {
        fs::remove_file(fx.dir.join(port.to_string())).expect("rm");
    }
    for lease in &forged {
        fx.put_lease(lease);
    }
    if chowned {
        for lease in &theirs[..2] {
            fx.put_lease(lease);
            let path = fx.dir.join(lease.port.to_string());
            std::os::unix::fs::chown(&path, Some(OTHER_USER), None).expect("chown");
        }
    }
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    let removed: Vec<u16> = stdout(&out)
        .lines()
        .map(|l| l.parse().expect("a port"))
        .collect();
    assert_eq!(removed, stale, "gc removes exactly the forged leases");
    assert_eq!(fx.lease_ports(), set(kept), "the honest leases are kept");
}

/// A command line over 64 KiB (the command's own with `-- COMMAND`, the
/// owner's otherwise) is recorded shortened, so the leases taken are
/// recognised when given back: "nothing reserved" leaves nothing, a port
/// found bound gives its lease back, and the command's leases go when it
/// ends. Before, the lease was read back cut off at 64 KiB, never matched,
/// and stayed.
#[test]
fn leases_of_a_long_command_line_are_given_back() {
    let (listener, bound) = listen("127.0.0.1");
    let fx = Fixture::new("long-command", &format!("22750-22751,{bound}"));
    let long = format!("true {}", "x".repeat(70 * 1024));
    let out = run(fx.cmd(&["-n", "4", "--", "sh", "-c", &long]));
    assert_not_enough(&out, "4 of 3 for a long command");
    assert!(fx.lease_ports().is_empty(), "left: {:?}", fx.lease_ports());
    // Two are had: the bound port's lease, taken before probing, must go.
    for _ in 0..5 {
        let out = run(fx.cmd(&["-n", "2", "--", "sh", "-c", &long]));
        assert!(
            out.status.success(),
            "{}",
            show(&out).chars().take(2000).collect::<String>()
        );
        assert!(fx.lease_ports().is_empty(), "left: {:?}", fx.lease_ports());
    }
    // The owner's command line (sh -c SCRIPT LONG).
    let script = r#""$PORT_ALLOC" -n 4 --grace 0; exit $?"#;
    let out = run(fx.sh(script, &[&long]));
    assert_not_enough(&out, "4 of 3 for an owner with a long command line");
    assert!(fx.lease_ports().is_empty(), "left: {:?}", fx.lease_ports());
    let owner = Owner::spawn("60");
    fx.take(&["-n", "2", "--owner", &owner.pid_arg()]);
    let lease = fx.leases().into_values().next().expect("a lease");
    assert!(lease.command.starts_with("sleep 60"), "{}", lease.command);
    drop(listener);
}

/// What killed callers leave (`.tmp-PID-...` files: a lease being
/// written) is removed by the next allocation, not only by gc: at once if
/// the writer has ended, after a minute otherwise. A live writer's fresh
/// file is left alone.
#[test]
fn leftovers_of_killed_callers_are_removed_by_the_next_run() {
    let fx = Fixture::new("leftovers", "22770");
    let dead = dead_pid();
    let me = std::process::id();
    let minutes_ago = std::time::SystemTime::now() - Duration::from_secs(120);
    let put = |name: &str, old: bool| {
        let path = fx.dir.join(name);
        fs::write(&path, "port-alloc lease 1\n").expect("write");
        if old {
            let file = fs::File::options().write(true).open(&path).expect("open");
            file.set_modified(minutes_ago).expect("set the time");
        }
    };
    put(&format!(".tmp-{dead}-22770-1f"), false);
    put(&format!(".tmp-{me}-22770-2f"), true);
    put(".tmp-garbage-old", true);
    let live = format!(".tmp-{me}-22770-3f");
    put(&live, false);
    put(".tmp-garbage-new", false);
    let owner = Owner::spawn("60");
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [22770]);
    let mut left: Vec<String> = fs::read_dir(&fx.dir)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    left.sort();
    assert_eq!(left, [live, ".tmp-garbage-new".to_owned()]);
}
