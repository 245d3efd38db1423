//! `subunit-ls`: byte for byte python-subunit's output and exit status on
//! generated runs, the corpus, the vectors python reads without a parser
//! error and odd streams; where python crashes or loses data, what ours
//! does instead.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::procs::{Running, TempDir};
use common::tools::{
    at, awkward_streams, generated_runs, invalid_vector, output, python_tool, status,
};
use common::{corpus, first_difference, ours, python_subunit, run_with_input, vectors};
use subunit_tools::Status;

const OPTIONS: [&[&str]; 6] = [
    &[],
    &["--times"],
    &["--exists"],
    &["--no-passthrough"],
    &["--times", "--exists", "--no-passthrough"],
    &["--times", "--no-passthrough"],
];

/// Runs both on `path` with `args`; `None` when python crashed (its
/// traceback is checked to be the known --times one, and its output so far
/// to be where ours begins).
fn compare(bin: &Path, path: &Path, args: &[&str], what: &str) -> Option<()> {
    let mut py = python_tool(bin, "subunit-ls");
    py.args(args).arg(path);
    let py = output(py);
    let mut us = ours("subunit-ls");
    us.args(args).arg(path);
    let us = output(us);
    let stderr = String::from_utf8_lossy(&py.stderr);
    if stderr.contains("Traceback") {
        assert!(
            stderr.contains("AttributeError: 'int' object has no attribute 'seconds'"),
            "{what} {args:?}: python: {stderr}"
        );
        assert!(
            us.stdout.starts_with(&py.stdout),
            "{what} {args:?}: python's output before its crash is not where ours starts \
             (at byte {})",
            first_difference(&us.stdout, &py.stdout)
        );
        return None;
    }
    assert!(
        us.stdout == py.stdout,
        "{what} {args:?}: outputs differ at byte {} ({} ours, {} python):\nours:   {:?}\npython: {:?}",
        first_difference(&us.stdout, &py.stdout),
        us.stdout.len(),
        py.stdout.len(),
        String::from_utf8_lossy(&us.stdout[..us.stdout.len().min(300)]),
        String::from_utf8_lossy(&py.stdout[..py.stdout.len().min(300)]),
    );
    assert_eq!(
        us.status.code(),
        py.status.code(),
        "{what} {args:?}: exit status"
    );
    assert!(
        us.stderr.is_empty(),
        "{what}: {}",
        String::from_utf8_lossy(&us.stderr)
    );
    Some(())
}

#[test]
fn generated_and_awkward_streams_list_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    let dir = TempDir::new("ls-generated");
    for (name, stream) in generated_runs().into_iter().chain(awkward_streams()) {
        let path = dir.file("run.subunit", &stream);
        for args in OPTIONS {
            let compared = compare(&bin, &path, args, &name);
            // Only --exists with --times makes python crash on these (and
            // --times on the quirks, a test of which ends unstarted).
            let crashes = args.contains(&"--times")
                && (args.contains(&"--exists") && name.contains("enumerated")
                    || name.contains("quirks"));
            if !crashes {
                assert!(compared.is_some(), "{name} {args:?}: python crashed");
            }
        }
    }
}

#[test]
fn the_corpus_lists_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    for path in corpus() {
        for args in OPTIONS {
            compare(&bin, &path, args, &path.display().to_string());
        }
    }
}

#[test]
fn valid_vectors_list_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    let mut compared = 0;
    for (path, _) in vectors().into_iter().filter(|(p, _)| !invalid_vector(p)) {
        for args in OPTIONS {
            compare(&bin, &path, args, &path.display().to_string());
        }
        compared += 1;
    }
    assert!(compared >= 12, "only {compared} vectors compared");
}

#[test]
fn times_without_a_start_are_zero_where_python_crashes() {
    let mut stream = Vec::new();
    status(&mut stream, "no.start", Status::Success, at(5, 0));
    status(&mut stream, "listed", Status::Exists, None);
    status(&mut stream, "timed", Status::InProgress, at(10, 0));
    status(&mut stream, "timed", Status::Success, at(1_010, 0));
    status(&mut stream, "untimed", Status::Fail, None);
    let mut cmd = ours("subunit-ls");
    cmd.args(["--times", "--exists"]);
    let out = run_with_input(cmd, &stream);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "no.start 0.000\nlisted 0.000\ntimed 0.001\nuntimed 0.000\n"
    );
    assert_eq!(out.status.code(), Some(1), "untimed failed");
}

#[test]
fn damage_is_chatter_not_a_test() {
    let mut stream = b"build output\n".to_vec();
    status(&mut stream, "before", Status::Success, None);
    let mut damaged = Vec::new();
    status(&mut damaged, "damaged", Status::Fail, None);
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff; // its CRC
    stream.extend_from_slice(&damaged);
    status(&mut stream, "after", Status::Success, None);
    let out = run_with_input(ours("subunit-ls"), &stream);
    let mut expected = b"build output\nbefore\n".to_vec();
    expected.extend_from_slice(&damaged);
    expected.extend_from_slice(b"after\n");
    assert_eq!(
        out.stdout, expected,
        "the damaged bytes pass through, in place"
    );
    assert_eq!(out.status.code(), Some(0), "no test failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("subunit-ls: warning: 1 damaged packet kept as chatter"),
        "{stderr}"
    );
    let mut cmd = ours("subunit-ls");
    cmd.arg("--no-passthrough");
    let out = run_with_input(cmd, &stream);
    assert_eq!(out.stdout, b"before\nafter\n");
}

#[test]
fn several_files_are_one_run() {
    let dir = TempDir::new("ls-files");
    let mut first = Vec::new();
    status(&mut first, "spans", Status::InProgress, at(0, 0));
    status(&mut first, "one", Status::Success, at(1, 0));
    let mut second = b"chatter\n".to_vec();
    status(&mut second, "spans", Status::Success, at(250_000, 0));
    let paths: Vec<PathBuf> = vec![
        dir.file("1.subunit", &first),
        dir.file("2.subunit", &second),
    ];
    let mut cmd = ours("subunit-ls");
    cmd.arg("--times").args(&paths);
    let out = output(cmd);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "one 0.000\nchatter\nspans 0.250\n"
    );
    // The same as the files concatenated on stdin.
    let mut cmd = ours("subunit-ls");
    cmd.args(["--times", "-"]);
    let joined = [first, second].concat();
    assert_eq!(run_with_input(cmd, &joined).stdout, out.stdout);
}

#[test]
fn each_test_is_listed_as_it_ends() {
    let mut cmd = ours("subunit-ls");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = Running(cmd.spawn().expect("spawn"));
    let mut stdin = child.0.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout"));
    for id in ["first", "second"] {
        let mut packet = Vec::new();
        status(&mut packet, id, Status::Success, None);
        stdin.write_all(&packet).expect("write");
        stdin.flush().expect("flush");
        // The input stays open: the line must come now.
        let mut line = String::new();
        lines.read_line(&mut line).expect("read");
        assert_eq!(line, format!("{id}\n"));
    }
    drop(stdin);
    let status = child.0.wait().expect("wait");
    assert!(status.success());
}

#[test]
fn the_python_names_work() {
    // optparse's prefixes of long options, as users' scripts use them.
    let mut stream = Vec::new();
    status(&mut stream, "t", Status::InProgress, at(0, 0));
    status(&mut stream, "t", Status::Success, at(500_000, 0));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_subunit-ls"));
    cmd.args(["--time", "--no-pass"]);
    assert_eq!(run_with_input(cmd, &stream).stdout, b"t 0.500\n");
}
