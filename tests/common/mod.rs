//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different part

pub mod port_alloc;
pub mod procs;
pub mod runs;
pub mod tools;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use subunit_tools::{Event, Item, Status, StreamReader, encode};

/// `tests/data`: the test vectors and the corpus of real streams, kept in
/// the repository so the tests need nothing outside it (see its README).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Every `(NAME.subunit, NAME.jsonl)` pair in `tests/data/vectors`, sorted.
pub fn vectors() -> Vec<(PathBuf, PathBuf)> {
    let dir = data_dir().join("vectors");
    let mut pairs: Vec<_> = std::fs::read_dir(&dir)
        .expect("read vectors")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "subunit"))
        .map(|p| {
            let json = p.with_extension("jsonl");
            (p, json)
        })
        .collect();
    pairs.sort();
    assert!(
        pairs.len() >= 27,
        "expected the test vectors in {}",
        dir.display()
    );
    pairs
}

/// Every stream in `tests/data/corpus`, sorted.
pub fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir().join("corpus"))
        .expect("read corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "subunit"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected the corpus in tests/data/corpus");
    files
}

/// One packet per test, each runnable with its status and nothing else.
pub fn results_stream(results: &[(&str, Status)]) -> Vec<u8> {
    let mut stream = Vec::new();
    for &(id, status) in results {
        let event = Event {
            status,
            runnable: true,
            test_id: Some(id),
            ..Event::default()
        };
        encode(&event, &mut stream).expect("encode");
    }
    stream
}

/// Every command of ours.
pub const ALL_COMMANDS: [&str; 20] = [
    "subunit-stats",
    "subunit2json",
    "subunit-wrap",
    "subunit-filter",
    "subunit-2to1",
    "subunit-1to2",
    "subunit-mux",
    "port-alloc",
    "subunit2disk",
    "subunit-notify",
    "junitxml2subunit",
    "tap2subunit",
    "gojson2subunit",
    "subunit-ls",
    "subunit-tags",
    "subunit2csv",
    "subunit-output",
    "subunit2html",
    "subunit-trace",
    "subunit2junitxml",
];

/// A command of ours, built by cargo for the integration tests.
pub fn ours(name: &str) -> Command {
    let path = match name {
        "subunit-stats" => env!("CARGO_BIN_EXE_subunit-stats"),
        "subunit2json" => env!("CARGO_BIN_EXE_subunit2json"),
        "subunit-wrap" => env!("CARGO_BIN_EXE_subunit-wrap"),
        "subunit-filter" => env!("CARGO_BIN_EXE_subunit-filter"),
        "subunit-2to1" => env!("CARGO_BIN_EXE_subunit-2to1"),
        "subunit-1to2" => env!("CARGO_BIN_EXE_subunit-1to2"),
        "subunit-mux" => env!("CARGO_BIN_EXE_subunit-mux"),
        "port-alloc" => env!("CARGO_BIN_EXE_port-alloc"),
        "subunit2disk" => env!("CARGO_BIN_EXE_subunit2disk"),
        "subunit-notify" => env!("CARGO_BIN_EXE_subunit-notify"),
        "junitxml2subunit" => env!("CARGO_BIN_EXE_junitxml2subunit"),
        "tap2subunit" => env!("CARGO_BIN_EXE_tap2subunit"),
        "gojson2subunit" => env!("CARGO_BIN_EXE_gojson2subunit"),
        "subunit-ls" => env!("CARGO_BIN_EXE_subunit-ls"),
        "subunit-tags" => env!("CARGO_BIN_EXE_subunit-tags"),
        "subunit2csv" => env!("CARGO_BIN_EXE_subunit2csv"),
        "subunit-output" => env!("CARGO_BIN_EXE_subunit-output"),
        "subunit2html" => env!("CARGO_BIN_EXE_subunit2html"),
        "subunit-trace" => env!("CARGO_BIN_EXE_subunit-trace"),
        "subunit2junitxml" => env!("CARGO_BIN_EXE_subunit2junitxml"),
        other => panic!("unknown command {other}"),
    };
    Command::new(path)
}

/// Runs `cmd` with `input` written to its stdin from another thread (so a
/// large output cannot deadlock against a large input).
pub fn run_with_input(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::scope(|s| {
        s.spawn(move || {
            // A command may exit without reading everything; that shows in
            // its output, not here.
            let _ = stdin.write_all(input);
        });
        child.wait_with_output().expect("wait")
    })
}

/// Where two byte strings first differ (the shorter length if one is a
/// prefix of the other), for assertion messages.
pub fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// Joins adjacent `chatter_hex` objects of JSON Lines text, so outputs that
/// split chatter at different places compare equal (SPEC 2: live input may
/// split a chatter run).
pub fn merge_chatter_lines(jsonl: &str) -> String {
    let mut out = String::new();
    let mut chatter: Option<String> = None;
    for line in jsonl.lines() {
        let hex = line
            .strip_prefix("{\"chatter_hex\": \"")
            .and_then(|rest| rest.strip_suffix("\"}"));
        match hex {
            Some(hex) => chatter.get_or_insert_with(String::new).push_str(hex),
            None => {
                if let Some(hex) = chatter.take() {
                    out.push_str(&format!("{{\"chatter_hex\": \"{hex}\"}}\n"));
                }
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if let Some(hex) = chatter {
        out.push_str(&format!("{{\"chatter_hex\": \"{hex}\"}}\n"));
    }
    out
}

/// What the library reader makes of `bytes`: the items as owned values,
/// adjacent chatter merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    Packet(runs::OwnedEvent, Vec<u8>),
    Chatter(Vec<u8>),
}

/// Reads everything from `source` with the library reader.
pub fn decode_all(source: impl std::io::Read) -> Vec<Decoded> {
    let mut reader = StreamReader::new(source);
    let mut items = Vec::new();
    while let Some(item) = reader.next().expect("read") {
        match item {
            Item::Packet(p) => items.push(Decoded::Packet(
                runs::OwnedEvent::from_packet(&p),
                p.raw().to_vec(),
            )),
            Item::Chatter(c) => match items.last_mut() {
                Some(Decoded::Chatter(prev)) => prev.extend_from_slice(c.bytes),
                _ => items.push(Decoded::Chatter(c.bytes.to_vec())),
            },
            Item::Idle => {}
        }
    }
    items
}

/// The python-subunit virtualenv's `bin` folder, if usable: from
/// `SUBUNIT_PYTHON_VENV`, else `target/venv` (both made by
/// `tests/py/python-subunit.sh`, which `make check` runs).
///
/// Without it each interop test says on stderr that it is skipped (past
/// the test harness's capture, which takes only the print macros, so a
/// plain `cargo test` shows it) and adds its name to the file named by
/// `SUBUNIT_INTEROP_SKIPS`, if set, for `make check` to count; under
/// `CI=true` it fails instead.
pub fn python_subunit() -> Option<PathBuf> {
    let venv = std::env::var_os("SUBUNIT_PYTHON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv"));
    python_subunit_in(
        &venv,
        std::env::var("CI").is_ok_and(|v| v == "true"),
        std::env::var_os("SUBUNIT_INTEROP_SKIPS").map(PathBuf::from),
    )
}

/// [`python_subunit`] with its settings given: the venv, whether a skip is
/// a failure (`CI=true`), the file that counts skips.
pub fn python_subunit_in(venv: &Path, ci: bool, skips: Option<PathBuf>) -> Option<PathBuf> {
    let bin = venv.join("bin");
    if bin.join("subunit-stats").is_file() && bin.join("python").is_file() {
        return Some(bin);
    }
    let why = format!(
        "python-subunit not found in {} (run `make check`, or set SUBUNIT_PYTHON_VENV)",
        venv.display()
    );
    if ci {
        panic!("{why}; CI=true requires the interop tests to run");
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("an interop test")
        .to_owned();
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    if let Some(skips) = skips {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&skips)
            .unwrap_or_else(|e| panic!("open {}: {e}", skips.display()));
        // One write per line: appends from parallel tests do not mix.
        file.write_all(format!("{test}\n").as_bytes())
            .expect("note the skipped test");
    }
    None
}

/// The packets of `stream`, which must be whole packets only (no chatter:
/// no packet torn by the writer's end).
pub fn whole_packets(stream: &[u8], what: &str) -> Vec<runs::OwnedEvent> {
    decode_all(stream)
        .into_iter()
        .map(|item| match item {
            Decoded::Packet(e, _) => e,
            Decoded::Chatter(c) => panic!(
                "{what}: {} bytes of chatter (a torn packet?) in: {:?}",
                c.len(),
                String::from_utf8_lossy(&c[..c.len().min(80)])
            ),
        })
        .collect()
}
