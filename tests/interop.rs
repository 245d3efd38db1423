//! Interoperability with python-subunit 1.4.6, the reference implementation
//! (SPEC sections 1, 2 and subunit-stats in 4).
//!
//! - python's encoder (`StreamResultToBytes`) -> our decoder, same events;
//! - our encoder -> python's decoder (`ByteStreamToStreamResult`), same
//!   events, and our `subunit2json` prints python's `json.dumps` lines;
//! - both encoders write the same bytes for the same event;
//! - our `subunit-stats` prints the same stdout and exits with the same
//!   status as python's `subunit-stats`.
//!
//! The python side is `tests/py/encode_events.py` and
//! `tests/py/decode_stream.py`, run with the venv's python.

mod common;

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::runs::{self, OwnedEvent, RunShape};
use common::{Decoded, run_with_input};
use serde_json::Value;
use subunit_tools::{Status, Timestamp};

// ---------------------------------------------------------------------------
// Helpers

/// A file under the temp dir, unique to this process and call, removed on
/// drop (tests run in parallel threads and processes).
struct TempFile(PathBuf);

impl TempFile {
    fn new(label: &str, bytes: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let safe: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = std::env::temp_dir().join(format!(
            "subunit-interop-{}-{n}-{safe}.subunit",
            std::process::id()
        ));
        std::fs::write(&path, bytes).expect("write temp file");
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn open(&self) -> File {
        File::open(&self.0).expect("open temp file")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

fn run_with_stdin_file(mut cmd: Command, file: &TempFile) -> Output {
    cmd.stdin(file.open())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

/// Checks that a python helper ran cleanly.
fn check_python(what: &str, output: &Output) {
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{what}: python failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Shows up to 200 bytes of a byte string in hex, for assertion messages.
fn hex_preview(bytes: &[u8]) -> String {
    if bytes.len() <= 200 {
        hex(bytes)
    } else {
        format!("{}... ({} bytes)", hex(&bytes[..200]), bytes.len())
    }
}

/// The event as a line for `encode_events.py`: the vectors format, but with
/// the tags in the event's own order (python writes them as given).
fn python_input_line(event: &OwnedEvent) -> String {
    let mut value = event.to_json();
    if let Some(tags) = &event.tags {
        value["tags"] = tags.clone().into();
    }
    let mut line = value.to_string();
    line.push('\n');
    line
}

/// The stream python-subunit's `StreamResultToBytes` writes for `events`.
fn python_encode(py: &Path, label: &str, events: &[OwnedEvent]) -> Vec<u8> {
    let input: String = events.iter().map(python_input_line).collect();
    let mut cmd = Command::new(py.join("python"));
    cmd.arg(script("encode_events.py"));
    let output = run_with_input(cmd, input.as_bytes());
    check_python(&format!("encode_events.py on {label}"), &output);
    output.stdout
}

/// What python-subunit's `ByteStreamToStreamResult` reports for `stream`:
/// one object per `status()` call. The stream is given as a regular file on
/// stdin, so python gathers each chatter run into one call.
fn python_decode_lines(py: &Path, label: &str, stream: &[u8]) -> String {
    let file = TempFile::new(label, stream);
    let mut cmd = Command::new(py.join("python"));
    cmd.arg(script("decode_stream.py"));
    let output = run_with_stdin_file(cmd, &file);
    check_python(&format!("decode_stream.py on {label}"), &output);
    String::from_utf8(output.stdout).expect("decode_stream.py prints ASCII JSON")
}

fn python_decode(py: &Path, label: &str, stream: &[u8]) -> Vec<Value> {
    python_decode_lines(py, label, stream)
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{label}: bad JSON from python {line:?}: {e}"))
        })
        .collect()
}

fn encode_all(events: &[OwnedEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        e.encode(&mut out);
    }
    out
}

/// How python-subunit reports chatter: a `stdout` file without a test id.
fn chatter_as_python_sees_it(bytes: &[u8]) -> Value {
    serde_json::json!({
        "status": null,
        "runnable": true,
        "eof": false,
        "file_name": "stdout",
        "file_hex": hex(bytes),
    })
}

/// Asserts that two lists of JSON events are equal, naming the first
/// difference.
fn assert_same_events(label: &str, what: &str, expected: &[Value], got: &[Value]) {
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        assert_eq!(
            e, g,
            "{label}: {what}: event {i} differs (left: expected, right: got)"
        );
    }
    assert_eq!(
        expected.len(),
        got.len(),
        "{label}: {what}: {} events expected, {} got; first extra: {:?}",
        expected.len(),
        got.len(),
        expected.get(got.len()).or(got.get(expected.len()))
    );
}

/// Generated runs for the codec tests, with what each is meant to cover.
fn codec_shapes() -> Vec<(&'static str, RunShape)> {
    vec![
        (
            "default",
            RunShape {
                seed: 11,
                tests: 60,
                ..RunShape::default()
            },
        ),
        (
            "route-codes",
            RunShape {
                seed: 12,
                tests: 60,
                workers: 3,
                route_codes: true,
                attachment_percent: 50,
                ..RunShape::default()
            },
        ),
        (
            "enumerate-unfinished-outcomes",
            RunShape {
                seed: 13,
                tests: 50,
                enumerate: true,
                unfinished: 3,
                fail_percent: 20,
                skip_percent: 20,
                xfail_percent: 10,
                uxsuccess_percent: 10,
                ..RunShape::default()
            },
        ),
        (
            "unicode-attachments",
            RunShape {
                seed: 14,
                tests: 120,
                workers: 8,
                route_codes: true,
                attachment_percent: 80,
                unicode: true,
                ..RunShape::default()
            },
        ),
    ]
}

/// Makes sure the generated runs really hold what the shapes promise, so
/// the comparisons cover them.
fn check_coverage(runs: &[(&str, Vec<OwnedEvent>)]) {
    let all = || runs.iter().flat_map(|(_, events)| events);
    let has = |what: &str, pred: &dyn Fn(&OwnedEvent) -> bool| {
        assert!(all().any(pred), "the generated runs have no {what}");
    };
    has("route code", &|e| e.route_code.is_some());
    has("attachment", &|e| {
        e.file.is_some() && e.status == Status::Unset
    });
    has("non-ASCII test id", &|e| {
        e.test_id.as_ref().is_some_and(|id| !id.is_ascii())
    });
    has("exists packet", &|e| e.status == Status::Exists);
    for status in Status::ALL {
        has(&format!("{status:?} packet"), &|e| e.status == status);
    }
}

/// Hand-picked events at the edges of the format.
fn edge_events() -> Vec<OwnedEvent> {
    let ts = |seconds, nanos| Some(Timestamp { seconds, nanos });
    let id = |s: &str| Some(s.to_string());
    let mut events = Vec::new();
    // No fields at all, and nothing but flags.
    events.push(OwnedEvent::default());
    events.push(OwnedEvent {
        runnable: true,
        ..OwnedEvent::default()
    });
    events.push(OwnedEvent {
        eof: true,
        ..OwnedEvent::default()
    });
    // Every status, runnable and not.
    for (i, status) in Status::ALL.into_iter().enumerate() {
        events.push(OwnedEvent {
            status,
            runnable: i % 2 == 0,
            test_id: id(&format!("pkg.mod.Test.test_{i}")),
            timestamp: ts(1_700_000_000 + i as u32, 1000 * i as u32),
            ..OwnedEvent::default()
        });
    }
    // Timestamps at the edges, and nanoseconds on both sides of the varint
    // width limits 63, 16383 and 4194303 (in whole microseconds: python
    // keeps microseconds only).
    for (seconds, nanos) in [
        (0, 0),
        (u32::MAX, 999_999_000),
        (1, 1_000),
        (1, 16_000),
        (1, 17_000),
        (1, 4_194_000),
        (1, 4_195_000),
    ] {
        events.push(OwnedEvent {
            status: Status::Success,
            timestamp: ts(seconds, nanos),
            test_id: id("t"),
            ..OwnedEvent::default()
        });
    }
    // Empty strings (python omits only an empty MIME type and tag list).
    events.push(OwnedEvent {
        status: Status::InProgress,
        runnable: true,
        test_id: id(""),
        file: Some((String::new(), Vec::new())),
        route_code: id(""),
        ..OwnedEvent::default()
    });
    // Empty file content with EOF, with and without a test id.
    for test_id in [id("pkg.Test.test_empty"), None] {
        events.push(OwnedEvent {
            runnable: true,
            eof: true,
            test_id,
            mime: id("text/plain; charset=utf8"),
            file: Some(("stdout".into(), Vec::new())),
            ..OwnedEvent::default()
        });
    }
    // Non-ASCII everywhere, including characters outside the BMP (surrogate
    // pairs in python's JSON) and control characters.
    events.push(OwnedEvent {
        status: Status::Fail,
        runnable: true,
        eof: true,
        timestamp: ts(1_700_000_000, 123_456_000),
        test_id: id("pkg.Tést.test_ü_日本_🦀\t\"q\"\\"),
        tags: Some(vec!["ταγ".into(), "worker-0".into(), "🏷".into()]),
        mime: id("text/plain; charset=utf-8"),
        file: Some(("файл\n".into(), "trace ✓\n".as_bytes().to_vec())),
        route_code: id("ρ/1"),
    });
    // Tags out of order and repeated: written as given, read as a set.
    events.push(OwnedEvent {
        status: Status::Skip,
        test_id: id("t"),
        tags: Some(vec!["zeta".into(), "alpha".into(), "zeta".into()]),
        ..OwnedEvent::default()
    });
    // String and content lengths at the varint boundaries.
    for n in [63, 64, 16383, 16384] {
        events.push(OwnedEvent {
            status: Status::Success,
            test_id: Some("i".repeat(n)),
            ..OwnedEvent::default()
        });
        events.push(OwnedEvent {
            test_id: id("t"),
            file: Some(("f".into(), vec![b'x'; n])),
            ..OwnedEvent::default()
        });
    }
    // Binary content, every byte value, including 0xB3 and NUL.
    events.push(OwnedEvent {
        test_id: id("t"),
        mime: id("application/octet-stream"),
        file: Some(("blob".into(), (0..=255).collect())),
        eof: true,
        ..OwnedEvent::default()
    });
    events
}

/// Events whose packets are 59..=63, 65..=70, 16379..=16383 and
/// 16385..=16390 bytes long: around the one-byte and two-byte length field
/// limits (a 64- or 16384-byte packet has no shortest-form encoding, so
/// writers jump from 63 to 65 and from 16383 to 16385).
///
/// Packet length = 1 (0xB3) + 2 (flags) + length field + 2 (test id "t")
/// + 2 (file name "f") + content length varint + content + 4 (CRC).
fn length_boundary_events() -> Vec<OwnedEvent> {
    (46..=56)
        .chain(16364..=16374)
        .map(|n| OwnedEvent {
            test_id: Some("t".into()),
            file: Some(("f".into(), vec![b'.'; n])),
            ..OwnedEvent::default()
        })
        .collect()
}

/// Compares python's encoding of `events` with ours, packet by packet.
fn assert_same_bytes(label: &str, events: &[OwnedEvent], python: &[u8]) {
    let mut offset = 0;
    for (i, event) in events.iter().enumerate() {
        let mut ours = Vec::new();
        event.encode(&mut ours);
        let theirs = &python[offset.min(python.len())..(offset + ours.len()).min(python.len())];
        assert!(
            theirs == ours.as_slice(),
            "{label}: event {i} is encoded differently\nevent:  {event:?}\nours:   {}\npython: {}",
            hex_preview(&ours),
            hex_preview(theirs),
        );
        offset += ours.len();
    }
    assert_eq!(
        offset,
        python.len(),
        "{label}: python wrote {} more bytes than we did",
        python.len() as isize - offset as isize
    );
}

// ---------------------------------------------------------------------------
// 1. python's encoder -> our decoder

fn assert_we_decode_python(py: &Path, label: &str, events: &[OwnedEvent]) {
    let python = python_encode(py, label, events);
    let decoded = common::decode_all(python.as_slice());
    let got: Vec<Value> = decoded
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Decoded::Packet(e, _) => e.to_json(),
            Decoded::Chatter(bytes) => panic!(
                "{label}: item {i} of python's stream decodes as chatter: {}",
                hex_preview(bytes)
            ),
        })
        .collect();
    let expected: Vec<Value> = events.iter().map(OwnedEvent::to_json).collect();
    assert_same_events(label, "our decoding of python's stream", &expected, &got);
}

#[test]
fn python_encoded_runs_decode_to_the_same_events() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let shapes = codec_shapes();
    let runs: Vec<_> = shapes
        .iter()
        .map(|(name, shape)| (*name, runs::run(shape)))
        .collect();
    check_coverage(&runs);
    for ((name, events), (_, shape)) in runs.iter().zip(&shapes) {
        let label = format!("run {name} (seed {})", shape.seed);
        assert_we_decode_python(&py, &label, events);
    }
}

#[test]
fn python_encoded_edge_events_decode_to_the_same_events() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    assert_we_decode_python(&py, "edge events", &edge_events());
    assert_we_decode_python(&py, "length boundaries", &length_boundary_events());
}

// ---------------------------------------------------------------------------
// 2. our encoder -> python's decoder

#[test]
fn our_encoded_runs_decode_in_python_to_the_same_events() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    for (name, shape) in codec_shapes() {
        let label = format!("run {name} (seed {})", shape.seed);
        let expected: Vec<Value> = runs::run(&shape).iter().map(OwnedEvent::to_json).collect();
        let got = python_decode(&py, &label, &runs::stream(&shape));
        assert_same_events(&label, "python's decoding of our stream", &expected, &got);
    }
}

#[test]
fn our_encoded_edge_events_decode_in_python_to_the_same_events() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    for (label, events) in [
        ("edge events", edge_events()),
        ("length boundaries", length_boundary_events()),
    ] {
        let expected: Vec<Value> = events.iter().map(OwnedEvent::to_json).collect();
        let got = python_decode(&py, label, &encode_all(&events));
        assert_same_events(label, "python's decoding of our stream", &expected, &got);
    }
}

/// Chatter between packets: python and our reader split the stream into the
/// same packets and the same chatter runs.
#[test]
fn chatter_streams_split_the_same_in_python_and_our_reader() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    for seed in [31, 32] {
        let shape = RunShape {
            seed,
            tests: 60,
            route_codes: seed % 2 == 0,
            ..RunShape::default()
        };
        let label = format!("chatter run (seed {seed})");
        let stream = runs::stream_with_chatter(&shape, 30);
        let ours = common::decode_all(stream.as_slice());
        assert!(
            ours.iter().any(|d| matches!(d, Decoded::Chatter(_))),
            "{label}: the stream has no chatter"
        );
        let expected: Vec<Value> = ours
            .iter()
            .map(|item| match item {
                Decoded::Packet(e, _) => e.to_json(),
                Decoded::Chatter(bytes) => chatter_as_python_sees_it(bytes),
            })
            .collect();
        let got = python_decode(&py, &label, &stream);
        assert_same_events(&label, "python's decoding vs ours", &expected, &got);
    }
}

/// Our `subunit2json` prints exactly the lines python's `json.dumps` makes
/// of python's decoding (key order, separators, `\uXXXX` escapes, surrogate
/// pairs), for streams without chatter.
#[test]
fn subunit2json_prints_what_python_json_dumps_prints() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let (name, shape) = codec_shapes()
        .into_iter()
        .find(|(name, _)| *name == "unicode-attachments")
        .expect("shape");
    for (label, stream) in [
        ("edge events".to_string(), encode_all(&edge_events())),
        (
            format!("run {name} (seed {})", shape.seed),
            runs::stream(&shape),
        ),
    ] {
        let python = python_decode_lines(&py, &label, &stream);
        let ours = run_with_input(common::ours("subunit2json"), &stream);
        assert!(
            ours.status.success(),
            "{label}: subunit2json failed: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let ours = String::from_utf8(ours.stdout).expect("subunit2json prints UTF-8");
        for (i, (p, o)) in python.lines().zip(ours.lines()).enumerate() {
            assert_eq!(
                p, o,
                "{label}: line {i} differs (left: python, right: ours)"
            );
        }
        assert_eq!(
            python.lines().count(),
            ours.lines().count(),
            "{label}: line counts differ"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Both encoders write the same bytes

#[test]
fn both_encoders_write_the_same_bytes_for_generated_runs() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    for (name, shape) in codec_shapes() {
        let label = format!("run {name} (seed {})", shape.seed);
        let events = runs::run(&shape);
        let python = python_encode(&py, &label, &events);
        assert_same_bytes(&label, &events, &python);
        assert_eq!(
            python,
            runs::stream(&shape),
            "{label}: runs::stream differs from python's encoding"
        );
    }
}

#[test]
fn both_encoders_write_the_same_bytes_for_edge_events() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let events = edge_events();
    let python = python_encode(&py, "edge events", &events);
    assert_same_bytes("edge events", &events, &python);
}

#[test]
fn both_encoders_write_the_same_bytes_at_length_field_boundaries() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let events = length_boundary_events();
    let python = python_encode(&py, "length boundaries", &events);
    assert_same_bytes("length boundaries", &events, &python);
    // The lengths python wrote really straddle both limits.
    let lengths: Vec<usize> = common::decode_all(python.as_slice())
        .iter()
        .map(|d| match d {
            Decoded::Packet(_, raw) => raw.len(),
            Decoded::Chatter(c) => panic!("chatter in python's stream: {}", hex_preview(c)),
        })
        .collect();
    for want in [62, 63, 65, 66, 16382, 16383, 16385, 16386] {
        assert!(
            lengths.contains(&want),
            "no packet of {want} bytes among {lengths:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. subunit-stats against python's subunit-stats

/// Python's counts from its summary (total, passed, failed, skipped), to
/// check that a shape really covers what it is meant to.
fn summary_counts(stdout: &[u8]) -> [u64; 4] {
    let text = String::from_utf8_lossy(stdout);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .rposition(|l| l.starts_with("Total tests:"))
        .unwrap_or_else(|| panic!("no summary in python's output:\n{text}"));
    let mut counts = [0; 4];
    for (k, count) in counts.iter_mut().enumerate() {
        let line = lines.get(at + k).expect("summary line");
        *count = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad summary line {line:?}"));
    }
    counts
}

/// Runs python's and our `subunit-stats` with `args` on `stream` and asserts
/// the same stdout bytes and exit status. Ours runs with the file named on
/// the command line, as python does, and (except with `--forward`, whose
/// output re-encodes chatter in runs that a pipe may split where the input
/// paused) on a pipe. Returns python's output.
fn compare_stats(py: &Path, label: &str, stream: &[u8], args: &[&str]) -> Output {
    let file = TempFile::new(label, stream);
    let python = Command::new(py.join("subunit-stats"))
        .args(args)
        .arg(file.path())
        .output()
        .expect("run python subunit-stats");
    assert!(
        python.stderr.is_empty(),
        "{label}: python's subunit-stats wrote to stderr:\n{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let from_file = common::ours("subunit-stats")
        .args(args)
        .arg(file.path())
        .output()
        .expect("run subunit-stats");
    let mut runs = vec![("file argument", from_file)];
    if !args.iter().any(|a| *a == "-f" || *a == "--forward") {
        let mut cmd = common::ours("subunit-stats");
        cmd.args(args);
        runs.push(("stdin pipe", run_with_input(cmd, stream)));
    }
    for (how, ours) in &runs {
        let context = format!(
            "{label}, args {args:?}, {how}\n{}--- python status: {}; ours: {}\n--- our stderr:\n{}",
            describe_difference(&python.stdout, &ours.stdout),
            python.status,
            ours.status,
            String::from_utf8_lossy(&ours.stderr),
        );
        assert!(ours.stdout == python.stdout, "stdout differs: {context}");
        assert_eq!(
            ours.status.code(),
            python.status.code(),
            "exit status differs: {context}"
        );
    }
    python
}

/// Both outputs in full when short, else where they first differ and how
/// they end (the summary).
fn describe_difference(python: &[u8], ours: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if python.len() + ours.len() <= 4000 {
        return format!("--- python:\n{}\n--- ours:\n{}\n", text(python), text(ours));
    }
    let at = python
        .iter()
        .zip(ours)
        .position(|(a, b)| a != b)
        .unwrap_or(python.len().min(ours.len()));
    let window = |b: &[u8]| text(&b[at.saturating_sub(200)..(at + 200).min(b.len())]);
    let tail = |b: &[u8]| text(&b[b.len().saturating_sub(300)..]);
    format!(
        "first difference at byte {at} of {} (python) and {} (ours)\n\
         --- python around it:\n{}\n--- ours around it:\n{}\n\
         --- python ends:\n{}\n--- ours ends:\n{}\n",
        python.len(),
        ours.len(),
        window(python),
        window(ours),
        tail(python),
        tail(ours),
    )
}

fn stats_shape(seed: u64) -> RunShape {
    RunShape {
        seed,
        tests: 80,
        fail_percent: 0,
        skip_percent: 0,
        xfail_percent: 0,
        uxsuccess_percent: 0,
        ..RunShape::default()
    }
}

#[test]
fn subunit_stats_matches_python_on_generated_runs() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    // (name, shape, check on python's [total, passed, failed, skipped] and
    // exit status, so each shape covers what its name says)
    type Check = fn([u64; 4], Option<i32>) -> bool;
    let cases: Vec<(&str, RunShape, Check)> = vec![
        ("all passing", stats_shape(41), |c, rc| {
            c[0] > 0 && c[0] == c[1] && rc == Some(0)
        }),
        (
            "failures",
            RunShape {
                fail_percent: 15,
                skip_percent: 5,
                ..stats_shape(42)
            },
            |c, rc| c[2] > 0 && rc == Some(1),
        ),
        (
            "skips, xfail and uxsuccess",
            RunShape {
                skip_percent: 20,
                xfail_percent: 15,
                uxsuccess_percent: 10,
                ..stats_shape(43)
            },
            |c, _| c[3] > 0,
        ),
        (
            "xfail only",
            RunShape {
                xfail_percent: 40,
                ..stats_shape(44)
            },
            |c, _| c[0] > 0,
        ),
        (
            "uxsuccess only",
            RunShape {
                uxsuccess_percent: 40,
                ..stats_shape(45)
            },
            |c, _| c[0] > 0,
        ),
        (
            "unfinished tests",
            RunShape {
                unfinished: 7,
                fail_percent: 5,
                ..stats_shape(46)
            },
            |c, _| c[0] > 0,
        ),
        (
            "route codes",
            RunShape {
                route_codes: true,
                workers: 6,
                fail_percent: 5,
                skip_percent: 5,
                ..stats_shape(47)
            },
            |c, _| c[0] > 0,
        ),
        (
            "enumerate",
            RunShape {
                enumerate: true,
                unfinished: 2,
                skip_percent: 10,
                ..stats_shape(48)
            },
            |c, _| c[0] > 0,
        ),
        (
            "one worker, no attachments",
            RunShape {
                workers: 1,
                attachment_percent: 0,
                fail_percent: 10,
                ..stats_shape(49)
            },
            |c, _| c[0] > 0,
        ),
    ];
    for (name, shape, check) in cases {
        let label = format!("{name} (seed {})", shape.seed);
        let python = compare_stats(&py, &label, &runs::stream(&shape), &[]);
        let counts = summary_counts(&python.stdout);
        assert!(
            check(counts, python.status.code()),
            "{label}: the shape does not cover what it should: python counts {counts:?}, status {}",
            python.status
        );
    }
}

#[test]
fn subunit_stats_matches_python_on_an_empty_stream() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let python = compare_stats(&py, "empty stream", b"", &[]);
    assert_eq!(summary_counts(&python.stdout), [0; 4]);
}

#[test]
fn subunit_stats_matches_python_on_the_corpus() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let corpus = common::corpus();
    assert!(!corpus.is_empty(), "no streams in the corpus");
    for path in corpus {
        let stream = std::fs::read(&path).expect("read corpus stream");
        let label = path.file_name().expect("file name").to_string_lossy();
        compare_stats(&py, &label, &stream, &[]);
        // Forwarding re-encodes every packet in python.
        compare_stats(&py, &label, &stream, &["--forward"]);
    }
}

#[test]
fn subunit_stats_passes_chatter_through_like_python() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    for seed in [51, 52] {
        let shape = RunShape {
            route_codes: seed % 2 == 0,
            fail_percent: 5,
            skip_percent: 5,
            ..stats_shape(seed)
        };
        let label = format!("chatter run (seed {seed})");
        let stream = runs::stream_with_chatter(&shape, 30);
        let python = compare_stats(&py, &label, &stream, &[]);
        let summary_at = python
            .stdout
            .windows(12)
            .position(|w| w == b"Total tests:")
            .expect("summary");
        let passed_through = &python.stdout[..summary_at];
        assert!(
            passed_through.windows(7).any(|w| w == b"make[2]")
                && passed_through.windows(4).any(|w| w == b"INFO"),
            "{label}: python passed no chatter or no stdout file packets through"
        );
        let python = compare_stats(&py, &label, &stream, &["--no-passthrough"]);
        assert!(
            python.stdout.starts_with(b"Total tests:"),
            "{label}: python printed chatter with --no-passthrough"
        );
        // Forwarding: python re-encodes the packets and wraps chatter in
        // `stdout` file packets; without passthrough it drops everything
        // without a test id.
        let has_chatter = |out: &[u8]| out.windows(7).any(|w| w == b"make[2]");
        let python = compare_stats(&py, &label, &stream, &["--forward"]);
        assert!(
            has_chatter(&python.stdout),
            "{label}: python forwarded no chatter"
        );
        let python = compare_stats(&py, &label, &stream, &["--forward", "--no-passthrough"]);
        assert!(
            !has_chatter(&python.stdout),
            "{label}: python forwarded chatter with --no-passthrough"
        );
    }
}

/// A test event: `status` for `test_id`, everything else default.
fn test_event(test_id: &str, status: Status) -> OwnedEvent {
    OwnedEvent {
        status,
        runnable: true,
        test_id: Some(test_id.into()),
        ..OwnedEvent::default()
    }
}

/// Hand-made streams with chatter at the edges of SPEC 2 rule 1, where
/// python-subunit's reader (a UTF-8 decoder deciding whether 0xB3 starts a
/// packet) and ours must agree.
fn chatter_edge_streams() -> Vec<(&'static str, Vec<u8>)> {
    let mut p = Vec::new();
    test_event("p", Status::Success).encode(&mut p);
    let cat = |parts: &[&[u8]]| parts.concat();
    vec![
        // "ó" is C3 B3: the B3 is text, and so is the newline after it.
        ("utf-8 B3 then newline", cat(&[b"caf\xc3\xb3\n", &p])),
        // After complete text a packet needs no newline before it.
        ("text then packet", cat(&[b"no newline", &p, b"x\r\n", &p])),
        ("B3 character then packet", cat(&[b"\xc3\xb3", &p, &p])),
        // A pending lead byte makes the packet's B3 text.
        ("pending lead byte", cat(&[b"ab\xc3", &p, b"\n", &p])),
        ("invalid UTF-8", cat(&[b"\xff\xfe", &p, b"z"])),
        ("trailing chatter", cat(&[&p, b"tail without newline"])),
    ]
}

#[test]
fn chatter_edge_cases_split_the_same_in_python_and_our_reader() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    for (label, stream) in chatter_edge_streams() {
        let expected: Vec<Value> = common::decode_all(stream.as_slice())
            .iter()
            .map(|item| match item {
                Decoded::Packet(e, _) => e.to_json(),
                Decoded::Chatter(bytes) => chatter_as_python_sees_it(bytes),
            })
            .collect();
        let got = python_decode(&py, label, &stream);
        assert_same_events(label, "python's decoding vs ours", &expected, &got);
        compare_stats(&py, label, &stream, &[]);
    }
}

/// Small streams at the corners of how python-subunit (through testtools'
/// `StreamToExtendedDecorator`) turns events into counted tests.
#[test]
fn subunit_stats_matches_python_on_edge_streams() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    use Status::*;
    let ev = test_event;
    let with = |mut e: OwnedEvent, f: &dyn Fn(&mut OwnedEvent)| {
        f(&mut e);
        e
    };
    let tags = |t: &[&str]| Some(t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let log = |e: &mut OwnedEvent| {
        e.file = Some(("log".into(), b"x\n".to_vec()));
        e.eof = true;
    };
    let cases: Vec<(&str, Vec<OwnedEvent>)> = vec![
        ("exists only", vec![ev("a", Exists), ev("b", Exists)]),
        (
            "exists then run",
            vec![ev("a", Exists), ev("a", InProgress), ev("a", Success)],
        ),
        ("outcome without start", vec![ev("a", Success)]),
        (
            "same test twice",
            vec![
                ev("a", InProgress),
                ev("a", Success),
                ev("a", InProgress),
                ev("a", Fail),
            ],
        ),
        (
            "status without test id",
            vec![
                with(OwnedEvent::default(), &|e| e.status = Fail),
                ev("a", Success),
            ],
        ),
        (
            "not runnable",
            vec![
                with(ev("a", InProgress), &|e| e.runnable = false),
                with(ev("a", Fail), &|e| e.runnable = false),
            ],
        ),
        (
            "tags on start only",
            vec![
                with(ev("a", InProgress), &|e| e.tags = tags(&["t1", "t2"])),
                ev("a", Success),
            ],
        ),
        (
            "tags without test id",
            vec![
                with(OwnedEvent::default(), &|e| {
                    e.tags = tags(&["global"]);
                    e.file = Some(("stdout".into(), b"hi\n".to_vec()));
                }),
                with(ev("a", Success), &|e| e.tags = tags(&["t", "", "x y"])),
            ],
        ),
        (
            "same id on two route codes",
            vec![
                with(ev("a", InProgress), &|e| e.route_code = Some("0".into())),
                with(ev("a", InProgress), &|e| e.route_code = Some("1".into())),
                with(ev("a", Success), &|e| e.route_code = Some("0".into())),
                with(ev("a", Fail), &|e| e.route_code = Some("1".into())),
            ],
        ),
        (
            "attachment after the outcome",
            vec![ev("a", Success), with(ev("a", Unset), &log)],
        ),
        ("attachment only", vec![with(ev("a", Unset), &log)]),
        (
            "file without test id, not stdout",
            vec![with(OwnedEvent::default(), &|e| {
                e.file = Some(("stderr".into(), b"err\n".to_vec()));
                e.route_code = Some("3".into());
                e.mime = Some("text/plain".into());
                e.eof = true;
            })],
        ),
        (
            "no status, tags only",
            vec![with(ev("a", Unset), &|e| e.tags = tags(&["q"]))],
        ),
        (
            "in progress only",
            vec![
                ev("a", InProgress),
                with(ev("b", InProgress), &|e| e.tags = tags(&["w"])),
            ],
        ),
    ];
    for (label, events) in cases {
        compare_stats(&py, label, &encode_all(&events), &[]);
    }
}
