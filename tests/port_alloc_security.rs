//! port-alloc against a hostile lease directory and hostile local users:
//! symbolic links, files that are not leases, a directory of another user,
//! a lock held or replaced, forged leases, leftovers of killed runs.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use common::port_alloc::*;

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

/// A `.lock` that is a symbolic link is an error, with a message, and is
/// never written or created through.
#[test]
fn a_symlinked_lock_is_an_error() {
    let fx = Fixture::new("lock-symlink", "22640-22641");
    let victim = fx.path("victim");
    fs::write(&victim, "precious\n").expect("write the victim");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).expect("chmod");
    let nowhere = fx.path("nowhere");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for target in [&victim, &nowhere] {
        let _ = fs::remove_file(fx.dir.join(".lock"));
        let port = fx.take(&["--owner", &o, "--exclude", "22641"]);
        assert_eq!(port, [22640]);
        symlink(target, fx.dir.join(".lock")).expect("symlink");
        // Releasing takes the lock.
        let out = fx.run(&["release", "22640"]);
        assert_fails(&out, 2, &[".lock"], "release with a symlinked .lock");
        assert_eq!(
            fx.lease_ports(),
            set([22640]),
            "the lease was not removed unlocked"
        );
        // So does reclaiming a stale lease, in gc and in an allocation.
        fx.put_lease(&stale_lease(22641));
        let out = fx.run(&["gc"]);
        assert_fails(&out, 2, &[".lock"], "gc with a symlinked .lock");
        let out = fx.run(&["--owner", &o, "--exclude", "22640"]);
        assert_fails(&out, 2, &[".lock"], "an allocation that must reclaim");
        let _ = fs::remove_file(fx.dir.join("22640"));
        let _ = fs::remove_file(fx.dir.join("22641"));
    }
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(
        fs::symlink_metadata(&nowhere).is_err(),
        "the lock's dangling target was created"
    );
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
