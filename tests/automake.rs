//! `make check | subunit-wrap | subunit-stats` on a real automake suite
//! (tests/data/automake: tests that pass, fail, skip, xfail, xpass, error,
//! and a TAP script run by automake's TAP driver) counts what automake
//! counts, with and without `VERBOSE=yes` (which prints test-suite.log,
//! repeating the result of every test that did not pass).
//!
//! Needs autoconf and automake (`.ci/run` installs them); without them the
//! test is skipped with a message, except under `CI=true`, where that is a
//! failure.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ours, run_with_input};
use serde_json::Value;

/// Whether `tool --version` runs.
fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A copy of the fixture project in a fresh directory, configured.
struct Project(PathBuf);

impl Project {
    fn configured() -> Option<Project> {
        let missing: Vec<&str> = ["autoreconf", "automake", "autoconf", "make"]
            .into_iter()
            .filter(|tool| !have(tool))
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "{} not installed (apt-get install automake autoconf make)",
                missing.join(", ")
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}; CI=true requires the automake tests to run");
            }
            let _ = writeln!(std::io::stderr(), "SKIPPED automake tests: {why}");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("subunit-automake-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&common::data_dir().join("automake"), &dir);
        let project = Project(dir);
        project.run("autoreconf", &["-i"]);
        project.run("./configure", &[]);
        Some(project)
    }

    /// `program` in the project, without the flags of a make that runs
    /// these tests (`make check` of this project).
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.0)
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL");
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
        out.stdout
    }

    /// `make check ARGS...`'s standard output; the suite fails.
    fn make_check(&self, args: &[&str]) -> String {
        let out = self
            .command("make")
            .arg("check")
            .args(args)
            .output()
            .expect("make check");
        assert!(!out.status.success(), "the suite has failures: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// automake's summary: `# TOTAL: 12` and the others, by word.
fn summary(output: &str) -> Vec<(String, u64)> {
    let start = output
        .find("Testsuite summary")
        .expect("the console summary");
    output[start..]
        .lines()
        .filter_map(|line| {
            let (word, count) = line.strip_prefix("# ")?.split_once(':')?;
            Some((word.to_owned(), count.trim().parse().ok()?))
        })
        .collect()
}

/// Our subunit-stats --json of `output` wrapped with `wrap_args`.
fn stats(output: &str, wrap_args: &[&str]) -> Value {
    let mut wrap = ours("subunit-wrap");
    wrap.args(wrap_args);
    let wrapped = run_with_input(wrap, output.as_bytes());
    assert!(wrapped.status.success());
    let mut stats = ours("subunit-stats");
    stats.args(["--json", "--no-passthrough"]);
    let stats = run_with_input(stats, &wrapped.stdout);
    serde_json::from_slice(&stats.stdout).expect("JSON")
}

/// The console's result lines: those before the first rule of `=`.
fn console_results(output: &str) -> Vec<&str> {
    let words = [
        "PASS: ", "FAIL: ", "SKIP: ", "XFAIL: ", "XPASS: ", "ERROR: ",
    ];
    output
        .lines()
        .take_while(|l| !l.starts_with("====="))
        .filter(|l| words.iter().any(|w| l.starts_with(w)))
        .collect()
}

#[test]
fn each_test_counts_once_as_automake_counts_it() {
    let Some(project) = Project::configured() else {
        return;
    };
    let plain = project.make_check(&[]);
    let verbose = project.make_check(&["VERBOSE=yes"]);
    assert!(
        verbose.contains(".. contents:: :depth: 2") && !plain.contains(".. contents::"),
        "VERBOSE=yes prints test-suite.log:\n{verbose}"
    );
    let counts = summary(&verbose);
    assert_eq!(counts, summary(&plain));
    let count = |word: &str| {
        counts
            .iter()
            .find(|(w, _)| w == word)
            .unwrap_or_else(|| panic!("# {word}: in {counts:?}"))
            .1
    };
    for output in [&plain, &verbose] {
        for args in [&[][..], &["--tap"][..]] {
            let json = stats(output, args);
            let outcome = |name: &str| json["outcomes"][name].as_u64().expect("count");
            let what = format!("{args:?} on\n{output}\n{json:#}");
            assert_eq!(json["total"].as_u64(), Some(count("TOTAL")), "{what}");
            assert_eq!(outcome("success"), count("PASS"), "{what}");
            assert_eq!(outcome("fail"), count("FAIL") + count("ERROR"), "{what}");
            assert_eq!(outcome("skip"), count("SKIP"), "{what}");
            assert_eq!(outcome("xfail"), count("XFAIL"), "{what}");
            assert_eq!(outcome("uxsuccess"), count("XPASS"), "{what}");
        }
    }
    // Every kind of result is there, and test-suite.log repeated some.
    assert!(
        ["PASS", "FAIL", "SKIP", "XFAIL", "XPASS", "ERROR"]
            .iter()
            .all(|w| count(w) > 0)
    );
    assert!(verbose.contains("\nFAIL: fail\n==========\n"), "{verbose}");

    // python's subunit-stats counts our stream the same.
    if let Some(py) = common::python_subunit() {
        let wrapped = run_with_input(ours("subunit-wrap"), verbose.as_bytes());
        let mut python = Command::new(py.join("subunit-stats"));
        python.arg("--no-passthrough");
        let text =
            String::from_utf8(run_with_input(python, &wrapped.stdout).stdout).expect("UTF-8");
        assert!(
            text.contains(&format!("Total tests: {:>7}\n", count("TOTAL"))),
            "{text}"
        );
    }

    // The output captured in tests/data (read by the unit test of the
    // automake reader) has the same results as today's automake prints.
    let captured = std::fs::read_to_string(common::data_dir().join("automake-verbose.log"))
        .expect("captured output");
    assert_eq!(console_results(&captured), console_results(&verbose));
    assert_eq!(summary(&captured), counts);
}
