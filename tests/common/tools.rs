//! What the interop tests of python-subunit's smaller tools share (ls,
//! tags, csv, output): running python's tool as our tests compare it, and
//! the streams they are compared on.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::runs::{self, RunShape};
use subunit_tools::{Event, Status, Timestamp, encode};

/// python-subunit's tool `name` from the venv's `bin`, with stdout unbuffered
/// (python otherwise writes text through a buffer that the bytes of chatter
/// bypass, so its order depends on the buffer's size; ours is stream order)
/// and a fixed hash seed (the order python iterates tag sets in).
pub fn python_tool(bin: &Path, name: &str) -> Command {
    let mut cmd = Command::new(bin.join(name));
    cmd.env("PYTHONUNBUFFERED", "1")
        .env("PYTHONHASHSEED", "0")
        .stdin(Stdio::null());
    cmd
}

/// Whether a vector holds invalid packets (13 to 21, and the random ones):
/// python lists a failing `subunit.parser` test for a damaged packet and
/// loses what its claimed length covers (see
/// `tests/ls.rs`), and takes packets with the reserved
/// flag or another version than 2, which are not packets to ours (SPEC 2).
pub fn invalid_vector(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let number: u32 = name[..2].parse().expect("vectors are numbered");
    (13..=21).contains(&number) || number == 30
}

/// Runs `cmd` with stdin from `/dev/null`, capturing its output.
pub fn output(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

/// A timestamp `micros` microseconds (and `nanos` more nanoseconds) after
/// 2023-11-14 22:13:20 UTC.
pub fn at(micros: u64, nanos: u32) -> Option<Timestamp> {
    let nanos = micros * 1000 + u64::from(nanos);
    Some(Timestamp {
        seconds: 1_700_000_000 + (nanos / 1_000_000_000) as u32,
        nanos: (nanos % 1_000_000_000) as u32,
    })
}

/// Appends one packet.
pub fn packet(out: &mut Vec<u8>, event: Event<'_>) {
    encode(&event, out).expect("encode");
}

/// Appends a packet of `test_id` with `status` at `timestamp`.
pub fn status(out: &mut Vec<u8>, test_id: &str, status: Status, timestamp: Option<Timestamp>) {
    packet(
        out,
        Event {
            status,
            runnable: true,
            timestamp,
            test_id: Some(test_id),
            ..Event::default()
        },
    );
}

/// Generated runs of several shapes, every one a stream python-subunit
/// reads without a parser error: chatter, tests that never finish,
/// enumeration, route codes, non-ASCII ids, attachments.
pub fn generated_runs() -> Vec<(String, Vec<u8>)> {
    let base = RunShape {
        tests: 300,
        ..RunShape::default()
    };
    vec![
        ("plain".into(), runs::stream(&base)),
        (
            "chatter and unfinished".into(),
            runs::stream_with(
                &RunShape {
                    seed: 2,
                    unfinished: 4,
                    ..base.clone()
                },
                20,
                5,
            ),
        ),
        (
            "enumerated, routed".into(),
            runs::stream(&RunShape {
                seed: 3,
                enumerate: true,
                route_codes: true,
                workers: 3,
                ..base.clone()
            }),
        ),
        (
            "one worker, many attachments".into(),
            runs::stream(&RunShape {
                seed: 4,
                workers: 1,
                attachment_percent: 80,
                fail_percent: 30,
                ..base.clone()
            }),
        ),
    ]
}

/// Streams of odd but valid packets: an attachment over 4 MiB (split over
/// packets), non-ASCII and odd test ids, packets without test id, tests
/// that restart, sub-microsecond timestamps that python rounds, tests that
/// end without ever starting, timestamps that go backwards.
pub fn awkward_streams() -> Vec<(String, Vec<u8>)> {
    let mut big = Vec::new();
    status(&mut big, "big.attachment", Status::InProgress, at(0, 0));
    let content: Vec<u8> = (0..(5 << 20) as u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    packet(
        &mut big,
        Event {
            runnable: true,
            eof: true,
            timestamp: at(1, 0),
            test_id: Some("big.attachment"),
            mime: Some("text/plain"),
            file: Some(("log", &content)),
            ..Event::default()
        },
    );
    status(&mut big, "big.attachment", Status::Fail, at(2_500_000, 0));

    let mut odd = Vec::new();
    for (i, id) in [
        "unicodé.测试.test_🙂",
        "with space, comma",
        "quote\"d",
        "new\nline",
        "tab\there",
    ]
    .into_iter()
    .enumerate()
    {
        let t = i as u64 * 1000;
        status(&mut odd, id, Status::InProgress, at(t, 500));
        status(&mut odd, id, Status::Success, at(t + 62, 1500));
    }
    // A packet without a test id, with a file: passed through.
    packet(
        &mut odd,
        Event {
            runnable: false,
            file: Some(("stdout", b"a file without a test\n")),
            mime: Some("text/plain"),
            ..Event::default()
        },
    );

    let mut quirks = Vec::new();
    // Starts, restarts (its place in the list of open tests stays), ends.
    status(&mut quirks, "a", Status::InProgress, at(10, 0));
    status(&mut quirks, "b", Status::InProgress, at(20, 0));
    status(&mut quirks, "a", Status::InProgress, at(30, 0));
    status(&mut quirks, "c", Status::Unset, at(40, 2500));
    // Ends without having started; a skip, an xfail, an uxsuccess.
    status(&mut quirks, "d", Status::Skip, at(62_500, 0));
    status(&mut quirks, "e", Status::XFail, at(187_500, 0));
    status(&mut quirks, "f", Status::UxSuccess, at(187_501, 0));
    status(&mut quirks, "b", Status::Success, at(1_062_520, 0));
    // An attachment after the end: python lists the test again at the end.
    packet(
        &mut quirks,
        Event {
            runnable: true,
            timestamp: at(1_100_000, 0),
            test_id: Some("b"),
            file: Some(("late", b"x")),
            ..Event::default()
        },
    );
    // Time goes backwards for g.
    status(&mut quirks, "g", Status::InProgress, at(2_000_000, 0));
    status(&mut quirks, "g", Status::Fail, at(1_750_000, 0));
    // The same id on two routes.
    packet(
        &mut quirks,
        Event {
            status: Status::InProgress,
            runnable: true,
            timestamp: at(2_000_001, 0),
            test_id: Some("h"),
            route_code: Some("0"),
            ..Event::default()
        },
    );
    packet(
        &mut quirks,
        Event {
            status: Status::Success,
            runnable: true,
            timestamp: at(2_000_002, 0),
            test_id: Some("h"),
            route_code: Some("1"),
            ..Event::default()
        },
    );
    status(&mut quirks, "listed", Status::Exists, at(3_000_000, 0));
    vec![
        ("attachment over 4 MiB".into(), big),
        ("odd test ids".into(), odd),
        ("python's quirks".into(), quirks),
    ]
}
