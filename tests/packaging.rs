//! What a packager relies on: `make install` installs what cargo built,
//! wherever cargo put it; `make check` finds a python-subunit that is
//! already installed and needs no network then, and says how many interop
//! tests it skipped when there is none.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{python_subunit, python_subunit_in, results_stream, run_with_input};
use subunit_tools::Status;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("packaging-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn make_install_takes_the_binaries_from_cargo_s_target_directory() {
    let elsewhere = scratch("target");
    let out = Command::new("make")
        .args(["-n", "install", "PREFIX=/usr", "DESTDIR=/tmp/staging"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &elsewhere)
        .env_remove("MAKEFLAGS")
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8(out.stdout).expect("UTF-8");
    // One loop installs every command ($c).
    let from = format!("\"{}/release/$c\"", elsewhere.display());
    assert!(
        plan.contains(&format!("{from} /tmp/staging/usr/bin/$c")),
        "the commands installed from {from}:\n{plan}"
    );
    assert!(!plan.contains(" target/release/"), "{plan}");
}

#[test]
fn an_installed_python_subunit_is_used_as_it_is() {
    let Some(venv_bin) = python_subunit() else {
        return;
    };
    let dir = scratch("shim");
    let script = root().join("tests/py/python-subunit.sh");
    // The venv's python stands for a distro's python3 with python3-subunit.
    let python = venv_bin.join("python");
    // A requirement pip cannot get: used, it would fail.
    let out = Command::new(&script)
        .arg(&python)
        .arg(&dir)
        .arg("/nonexistent/python_subunit.whl")
        .output()
        .expect("run the script");
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("python-subunit 1.4.6 of"), "{said}");
    assert!(!dir.join("bin/pip").exists(), "no virtualenv made");
    // Its tools behave as the virtualenv's do, exit status included.
    let stream = results_stream(&[("a", Status::Success), ("b", Status::Fail)]);
    for tool in ["subunit-stats", "subunit-ls", "subunit-2to1"] {
        let theirs = run_with_input(Command::new(venv_bin.join(tool)), &stream);
        let shim = run_with_input(Command::new(dir.join("bin").join(tool)), &stream);
        assert!(!shim.stdout.is_empty(), "{tool}");
        assert_eq!(shim.stdout, theirs.stdout, "{tool}");
        assert_eq!(shim.status.code(), theirs.status.code(), "{tool}");
    }

    // A python without subunit and no way to install it: a warning, no
    // directory, and success (the tests then skip and count).
    let dir = scratch("none");
    let out = Command::new(&script)
        .arg("/usr/bin/python3")
        .arg(&dir)
        .arg("/nonexistent/python_subunit.whl")
        .env("PYTHONNOUSERSITE", "1")
        .output()
        .expect("run the script");
    assert!(out.status.success());
    if !String::from_utf8_lossy(&out.stdout).contains("python-subunit") {
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("WARNING: no python-subunit"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!dir.exists());
    }
}

#[test]
fn interop_tests_without_python_subunit_are_counted_or_fail_under_ci() {
    let skips = scratch("skips");
    std::fs::create_dir_all(&skips).expect("mkdir");
    let file = skips.join("skipped");
    let missing = Path::new("/nonexistent/venv");
    let found = std::thread::Builder::new()
        .name("skip_counter_probe".into())
        .spawn({
            let file = file.clone();
            move || {
                python_subunit_in(missing, false, Some(file.clone()));
                python_subunit_in(missing, false, Some(file))
            }
        })
        .expect("spawn")
        .join()
        .expect("no panic without CI");
    assert_eq!(found, None);
    assert_eq!(
        std::fs::read_to_string(&file).expect("skips noted"),
        "skip_counter_probe\nskip_counter_probe\n"
    );
    let under_ci = std::thread::spawn(move || python_subunit_in(missing, true, None)).join();
    assert!(under_ci.is_err(), "CI=true turns a skip into a failure");
}

#[test]
fn the_licences_cargo_names_are_shipped_with_a_changelog() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let license = manifest
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .expect("a license field")
        .trim_matches('"');
    assert_eq!(license, "Apache-2.0 OR BSD-3-Clause");
    for (file, opening) in [
        (
            "LICENSE-APACHE",
            "Apache License\n                           Version 2.0",
        ),
        (
            "LICENSE-BSD",
            "Redistribution and use in source and binary forms",
        ),
    ] {
        let text =
            std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains(opening), "{file} is not the licence's text");
    }
    // Addresses that do not exist are worse than none.
    for key in ["repository", "homepage"] {
        assert!(
            !manifest.lines().any(|l| l.starts_with(&format!("{key} "))),
            "Cargo.toml names a {key}"
        );
    }
    let changelog = std::fs::read_to_string(root().join("CHANGELOG.md")).expect("CHANGELOG.md");
    assert!(
        changelog.contains(&format!("## {}", env!("CARGO_PKG_VERSION"))),
        "the changelog has the current version"
    );
}

#[test]
fn the_readme_starts_with_the_two_commands_and_says_what_is_needed() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let first_block: Vec<&str> = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a first code block")
        .lines()
        .collect();
    assert_eq!(
        first_block,
        [
            "cargo run --release --bin subunit-stats -- examples/sample.subunit",
            "make check"
        ]
    );
    assert!(root().join("examples/sample.subunit").is_file());
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let rust = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version")
        .trim_matches('"');
    let requirements = readme
        .split("## Requirements\n")
        .nth(1)
        .expect("a Requirements section");
    assert!(
        requirements.contains(&format!("Rust {rust} or later")),
        "the README's Rust version is Cargo.toml's {rust}"
    );
    assert!(
        requirements.contains("venv"),
        "python3's venv for make check"
    );
    let install = readme
        .split("## Install\n")
        .nth(1)
        .expect("an Install section");
    assert!(install.contains("make install") && install.contains("cargo install --path ."));
    assert!(
        readme.contains("--no-passthrough"),
        "why the first command prints chatter, and how not to"
    );
}
