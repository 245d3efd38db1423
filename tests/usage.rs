//! The command line of every command: clap's whole error messages,
//! unambiguous prefixes of long options as python's optparse takes them,
//! help and version that fail like any write, help wrapped to the
//! terminal, and man pages whose SYNOPSIS and SEE ALSO say what the
//! commands take.

mod common;

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Output, Stdio};

use common::{ALL_COMMANDS, decode_all, ours, results_stream, run_with_input};
use subunit_tools::Status;

fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn usage_errors_keep_clap_s_tips_and_usage() {
    let out = ours("subunit-stats").arg("--jsn").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_text(&out);
    assert!(
        err.starts_with("subunit-stats: unexpected argument '--jsn' found\n"),
        "{err}"
    );
    assert!(
        err.contains("tip: a similar argument exists: '--json'"),
        "{err}"
    );
    assert!(err.contains("Usage: subunit-stats"), "{err}");

    let out = ours("port-alloc").arg("release").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_text(&out);
    assert!(
        err.starts_with("port-alloc: the following required arguments were not provided:\n"),
        "{err}"
    );
    assert!(
        err.contains("<PORT>..."),
        "which argument is missing: {err}"
    );

    for name in ALL_COMMANDS {
        let out = ours(name).arg("--no-such-option").output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = stderr_text(&out);
        assert!(
            err.starts_with(&format!("{name}: unexpected argument '--no-such-option'")),
            "{name}: {err}"
        );
        assert!(err.contains(&format!("Usage: {name}")), "{name}: {err}");
        assert!(!err.contains("error:"), "one COMMAND: prefix only: {err}");
        assert!(out.stdout.is_empty(), "{name}");
    }
}

/// A stream with chatter, one failing and one passing test.
fn mixed_stream() -> Vec<u8> {
    let mut stream = b"build output\n".to_vec();
    stream.extend(results_stream(&[
        ("a", Status::Fail),
        ("b", Status::Success),
    ]));
    stream
}

#[test]
fn unambiguous_prefixes_of_long_options_are_accepted() {
    let stream = mixed_stream();
    for (name, prefix, full) in [
        ("subunit-filter", "--no-pass", "--no-passthrough"),
        ("subunit-filter", "--only-gen", "--only-genuine-failures"),
        ("subunit-filter", "--succ", "--success"),
        ("subunit-stats", "--no-pass", "--no-passthrough"),
        ("subunit-stats", "--js", "--json"),
    ] {
        let by_prefix = run_with_input(
            {
                let mut cmd = ours(name);
                cmd.arg(prefix);
                cmd
            },
            &stream,
        );
        let by_name = run_with_input(
            {
                let mut cmd = ours(name);
                cmd.arg(full);
                cmd
            },
            &stream,
        );
        assert_eq!(
            by_prefix.status.code(),
            by_name.status.code(),
            "{name} {prefix}: {}",
            stderr_text(&by_prefix)
        );
        assert_ne!(by_prefix.status.code(), Some(2), "{name} {prefix}");
        assert_eq!(by_prefix.stdout, by_name.stdout, "{name} {prefix}");
    }
    // The prefix really selects: --no-pass drops the chatter.
    let mut cmd = ours("subunit-filter");
    cmd.arg("--no-pass");
    let out = run_with_input(cmd, &stream);
    assert_eq!(decode_all(&out.stdout[..]).len(), 1, "only test a's packet");
    // An exact name wins over longer names it starts: --with is not
    // --with-tag.
    let mut cmd = ours("subunit-filter");
    cmd.args(["--with", "^a$"]);
    assert_eq!(run_with_input(cmd, &stream).status.code(), Some(0));
    // An ambiguous prefix is an error.
    let mut cmd = ours("subunit-filter");
    cmd.arg("--no-s");
    let out = run_with_input(cmd, &stream);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out).starts_with("subunit-filter: "));
}

#[test]
fn filter_switches_are_shown_once_and_may_be_repeated() {
    let out = ours("subunit-filter").arg("-h").output().expect("run");
    let help = String::from_utf8(out.stdout).expect("UTF-8 help");
    for switch in [
        "--error",
        "--no-error",
        "--success",
        "--no-success",
        "--passthrough",
        "--no-passthrough",
    ] {
        // Lines that start with the switch (after its short form), as
        // options' lines do; others only mention it.
        let shown = help
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                let l = l
                    .split_once(", ")
                    .filter(|(s, _)| s.len() == 2)
                    .map_or(l, |(_, r)| r);
                l.split_whitespace().next() == Some(switch)
            })
            .count();
        assert_eq!(shown, 1, "{switch} once in:\n{help}");
        assert!(!help.contains(&format!("{switch}...")), "{help}");
    }
    // python's optparse takes a switch twice; so do we, the last of a pair
    // winning.
    let stream = mixed_stream();
    let mut cmd = ours("subunit-filter");
    cmd.args(["-s", "-s", "--no-passthrough"]);
    let out = run_with_input(cmd, &stream);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    assert_eq!(decode_all(&out.stdout[..]).len(), 2, "both tests kept");
    let mut cmd = ours("subunit-filter");
    cmd.args([
        "-s",
        "--no-success",
        "-s",
        "--no-success",
        "--no-passthrough",
    ]);
    let out = run_with_input(cmd, &stream);
    assert_eq!(decode_all(&out.stdout[..]).len(), 1, "the success dropped");
}

#[test]
fn help_and_version_fail_like_any_write() {
    for name in ALL_COMMANDS {
        for flag in ["--help", "--version"] {
            let full = OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full");
            let out = ours(name)
                .arg(flag)
                .stdout(full)
                .stderr(Stdio::piped())
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(2), "{name} {flag} > /dev/full");
            assert_eq!(
                stderr_text(&out),
                format!("{name}: error writing output: No space left on device\n")
            );
            // A closed pipe stays quiet, as for every other output.
            let mut child = ours(name)
                .arg(flag)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            drop(child.stdout.take());
            let out = child.wait_with_output().expect("wait");
            assert_eq!(out.status.code(), Some(0), "{name} {flag} | (closed)");
            assert!(out.stderr.is_empty(), "{name}: {}", stderr_text(&out));
        }
    }
}

#[test]
fn help_is_wrapped_to_the_terminal() {
    for name in ALL_COMMANDS {
        for (columns, limit) in [(Some("60"), 60), (None, 100)] {
            let mut cmd = ours(name);
            cmd.arg("--help").env_remove("COLUMNS");
            if let Some(columns) = columns {
                cmd.env("COLUMNS", columns);
            }
            let out = cmd.output().expect("run");
            let help = String::from_utf8(out.stdout).expect("UTF-8 help");
            assert!(help.lines().count() > 5, "{name}: {help}");
            for line in help.lines() {
                // A single word longer than the width cannot be broken.
                let unbreakable = line.trim().split(' ').count() == 1;
                assert!(
                    line.chars().count() <= limit || unbreakable,
                    "{name} --help with COLUMNS={columns:?}: {} columns:\n{line}",
                    line.chars().count()
                );
            }
        }
    }
}

/// The lines of a man page's section, without roff's font escapes.
fn man_section(page: &str, heading: &str) -> String {
    let start = page
        .find(&format!(".SH {heading}\n"))
        .or_else(|| page.find(&format!(".SH \"{heading}\"\n")))
        .unwrap_or_else(|| panic!("no {heading} in:\n{page}"));
    let body = &page[start..];
    let body = &body[body.find('\n').expect("heading line") + 1..];
    let end = body.find("\n.SH ").map_or(body.len(), |e| e + 1);
    body[..end]
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\-", "-")
}

#[test]
fn man_pages_show_option_values_repeats_and_see_also() {
    let man = |name: &str| {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("man/{name}.1")))
            .expect("man page")
    };
    let filter = man_section(&man("subunit-filter"), "SYNOPSIS");
    for shown in [
        "[--with-tag TAG]...",
        "[-m|--with RE]...",
        "[--rename FROM TO]...",
        "[-s|--success]",
        "[FILE]...",
    ] {
        assert!(filter.contains(shown), "{shown} in:\n{filter}");
    }
    let stats = man_section(&man("subunit-stats"), "SYNOPSIS");
    assert!(stats.contains("[-o|--output-to PATH]"), "{stats}");
    assert!(stats.contains("[--slowest N]"), "{stats}");
    assert!(
        !stats.contains("[--slowest N]..."),
        "not repeatable: {stats}"
    );
    for name in ALL_COMMANDS {
        let see_also = man_section(&man(name), "SEE ALSO");
        for other in ALL_COMMANDS {
            assert_eq!(
                see_also.contains(&format!("{other}(1)")),
                other != name,
                "{name}'s SEE ALSO and {other}:\n{see_also}"
            );
        }
    }
}
