//! `subunit2csv`: python-subunit's CSV byte for byte on generated runs, the
//! corpus, the valid vectors and odd streams, where python does not crash
//! or make up times; rows where python's AssertionError cuts the CSV short.

mod common;

use std::path::Path;

use common::procs::TempDir;
use common::runs::{RunShape, stream};
use common::tools::{
    at, awkward_streams, generated_runs, invalid_vector, output, packet, python_tool, status,
};
use common::{Decoded, corpus, decode_all, ours, python_subunit, run_with_input, vectors};
use subunit_tools::{Event, Status};

const OPTIONS: [&[&str]; 2] = [&[], &["--no-passthrough"]];

/// The CSV text among the packets passed through, and the content of
/// those packets joined (python and ours cut chatter into packets
/// differently).
fn split(stdout: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut csv, mut passed) = (Vec::new(), Vec::new());
    for item in decode_all(stdout) {
        match item {
            Decoded::Chatter(text) => csv.extend(text),
            Decoded::Packet(e, _) => passed.extend(e.file.map(|f| f.1).unwrap_or_default()),
        }
    }
    (csv, passed)
}

/// The rows of CSV text (split at CRLF: test ids here hold no CR).
fn rows(csv: &[u8]) -> Vec<Vec<u8>> {
    let mut rows: Vec<Vec<u8>> = csv.split(|&b| b == b'\r').map(<[u8]>::to_vec).collect();
    for row in rows.iter_mut().skip(1) {
        assert_eq!(row.first(), Some(&b'\n'), "rows end in CRLF");
        row.remove(0);
    }
    rows
}

/// Runs both on `path`. Where python makes up a time (before the first
/// timestamp, it writes the time of day) ours leaves the fields empty:
/// python's are emptied there too. Where python crashes with its
/// AssertionError, the rows it wrote must begin ours.
fn compare(bin: &Path, path: &Path, args: &[&str], what: &str) {
    let mut py = python_tool(bin, "subunit2csv");
    py.args(args).arg(path);
    let py = output(py);
    let mut us = ours("subunit2csv");
    us.args(args).arg(path);
    let us = output(us);
    let stderr = String::from_utf8_lossy(&py.stderr);
    let crashed = stderr.contains("Traceback");
    if crashed {
        assert!(
            stderr.contains("AssertionError: Either err or details must be provided"),
            "{what}: python: {stderr}"
        );
    }
    let ((ours_csv, ours_passed), (py_csv, py_passed)) = (split(&us.stdout), split(&py.stdout));
    if !crashed {
        assert!(
            ours_passed == py_passed,
            "{what} {args:?}: what passed through"
        );
    }
    let (ours_rows, mut py_rows) = (rows(&ours_csv), rows(&py_csv));
    if crashed {
        py_rows.pop(); // the last row, cut short or empty
    }
    // Ours leaves times out only before the first timestamp: a prefix.
    let blank = ours_rows
        .iter()
        .skip(1)
        .take_while(|r| r.ends_with(b",,"))
        .count();
    assert!(
        ours_rows
            .iter()
            .skip(1 + blank)
            .all(|r| !r.ends_with(b",,")),
        "{what}: a row without times after one with"
    );
    for (a, b) in ours_rows.iter().zip(py_rows.iter_mut()).skip(1).take(blank) {
        if a.ends_with(b",,") && !b.ends_with(b",,") {
            let cut = b.len()
                - b.rsplitn(3, |&c| c == b',')
                    .take(2)
                    .map(|f| f.len() + 1)
                    .sum::<usize>();
            b.truncate(cut);
            b.extend_from_slice(b",,");
        }
    }
    if crashed {
        assert!(
            ours_rows.len() >= py_rows.len() && ours_rows[..py_rows.len()] == py_rows[..],
            "{what} {args:?}: python's rows before its crash do not begin ours"
        );
        assert_eq!(us.status.code(), Some(1), "{what}: a test failed");
    } else {
        for (i, (a, b)) in ours_rows.iter().zip(&py_rows).enumerate() {
            assert!(
                a == b,
                "{what} {args:?}: row {i}:\nours:   {:?}\npython: {:?}",
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b)
            );
        }
        assert_eq!(ours_rows.len(), py_rows.len(), "{what} {args:?}: rows");
        assert_eq!(
            us.status.code(),
            py.status.code(),
            "{what} {args:?}: exit status"
        );
    }
}

#[test]
fn generated_and_awkward_streams_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    let dir = TempDir::new("csv-generated");
    for (name, stream) in generated_runs().into_iter().chain(awkward_streams()) {
        let path = dir.file("run.subunit", &stream);
        for args in OPTIONS {
            compare(&bin, &path, args, &name);
        }
    }
}

#[test]
fn the_corpus_and_valid_vectors_as_pythons() {
    let Some(bin) = python_subunit() else { return };
    let valid = vectors()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| !invalid_vector(p));
    for path in corpus().into_iter().chain(valid) {
        for args in OPTIONS {
            compare(&bin, &path, args, &path.display().to_string());
        }
    }
}

#[test]
fn a_generated_run_is_byte_identical() {
    // Every test timestamped, failures with tracebacks: python neither
    // crashes nor makes up times, and the whole output is the same.
    let Some(bin) = python_subunit() else { return };
    let dir = TempDir::new("csv-identical");
    let shape = RunShape {
        xfail_percent: 0,
        ..RunShape::default()
    };
    let path = dir.file("run.subunit", &stream(&shape));
    let mut py = python_tool(&bin, "subunit2csv");
    py.arg(&path);
    let mut us = ours("subunit2csv");
    us.arg(&path);
    let (py, us) = (output(py), output(us));
    assert!(
        py.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(us.stdout == py.stdout, "the CSV differs");
    assert!(rows(&us.stdout).len() > 150);
}

#[test]
fn outcomes_python_crashes_on_are_rows() {
    let mut run = Vec::new();
    status(&mut run, "quoted, \"id\"", Status::InProgress, at(0, 0));
    status(&mut run, "quoted, \"id\"", Status::Fail, at(1, 0));
    status(&mut run, "expected", Status::XFail, None);
    status(&mut run, "surprise", Status::UxSuccess, at(2, 0));
    status(&mut run, "hung", Status::InProgress, at(3, 0));
    status(&mut run, "hung too", Status::InProgress, at(4, 0));
    let out = run_with_input(ours("subunit2csv"), &run);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "test,status,start_time,stop_time\r\n\
         \"quoted, \"\"id\"\"\",failure,2023-11-14 22:13:20+00:00,2023-11-14 22:13:20.000001+00:00\r\n\
         expected,xfail,2023-11-14 22:13:20.000001+00:00,2023-11-14 22:13:20.000001+00:00\r\n\
         surprise,success,2023-11-14 22:13:20.000002+00:00,2023-11-14 22:13:20.000002+00:00\r\n\
         hung too,failure,2023-11-14 22:13:20.000004+00:00,2023-11-14 22:13:20.000004+00:00\r\n\
         hung,failure,2023-11-14 22:13:20.000003+00:00,2023-11-14 22:13:20.000003+00:00\r\n"
    );
    assert_eq!(out.status.code(), Some(1));
    let mut ux = Vec::new();
    status(&mut ux, "u", Status::UxSuccess, None);
    status(&mut ux, "s", Status::Skip, None);
    let out = run_with_input(ours("subunit2csv"), &ux);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unexpected success fails the run"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "test,status,start_time,stop_time\r\nu,success,,\r\ns,skip,,\r\n"
    );
}

#[test]
fn forward_and_output_to_split_the_stream_from_the_csv() {
    let dir = TempDir::new("csv-forward");
    let run = stream(&RunShape::default());
    let input = dir.file("run.subunit", &run);
    let plain = output({
        let mut cmd = ours("subunit2csv");
        cmd.arg(&input);
        cmd
    });
    let csv = dir.path("out.csv");
    let mut cmd = ours("subunit2csv");
    cmd.arg("-f").arg("-o").arg(&csv).arg(&input);
    let out = output(cmd);
    assert!(out.stdout == run, "the stream forwarded byte for byte");
    assert!(std::fs::read(&csv).expect("csv") == plain.stdout);
    assert_eq!(out.status.code(), plain.status.code());
}

#[test]
fn chatter_and_damage_pass_through_as_stdout_packets() {
    let mut input = b"build output\n".to_vec();
    let mut damaged = Vec::new();
    status(&mut damaged, "damaged", Status::Fail, None);
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    input.extend_from_slice(&damaged);
    status(&mut input, "after", Status::Success, at(0, 0));
    packet(
        &mut input,
        Event {
            file: Some(("log", b"no test")),
            ..Event::default()
        },
    );
    let out = run_with_input(ours("subunit2csv"), &input);
    assert_eq!(out.status.code(), Some(0), "no test failed");
    let mut passed = Vec::new();
    let mut text = Vec::new();
    for item in decode_all(&out.stdout[..]) {
        match item {
            Decoded::Packet(e, _) => passed.extend(e.file.expect("a file").1),
            Decoded::Chatter(c) => text.extend(c),
        }
    }
    let mut expected = b"build output\n".to_vec();
    expected.extend_from_slice(&damaged);
    expected.extend_from_slice(b"no test");
    assert_eq!(
        String::from_utf8_lossy(&passed),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(
        String::from_utf8_lossy(&text),
        "test,status,start_time,stop_time\r\nafter,success,2023-11-14 22:13:20+00:00,\
         2023-11-14 22:13:20+00:00\r\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 damaged packet kept as chatter"),
        "{stderr}"
    );
}
