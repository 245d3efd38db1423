//! subunit-mux: every input given back whole when the output is split by
//! route code, live FIFOs, many inputs behind a slow reader in bounded
//! memory, exit statuses, `--route-code`, and timestamps only for live
//! inputs.

mod common;

use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::procs::{Running, TIMEOUT, TempDir, gone_within, pid_in, wait_within};
use common::runs::{self, OwnedEvent, Rng, RunShape};
use common::{Decoded, decode_all, first_difference, ours, run_with_input};
use subunit_tools::codec::encode::reroute;
use subunit_tools::codec::reroute::Rerouter;
use subunit_tools::{Flags, Item, MAX_PACKET_LEN, SIGNATURE, Status, StreamReader, decode};

/// `cat 'PATH'` for `--command`.
fn cat(path: &Path) -> String {
    let path = path.to_str().expect("UTF-8 temp path");
    assert!(!path.contains('\''), "quote-free temp path: {path}");
    format!("cat '{path}'")
}

fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One line of a packet for messages.
fn short(e: &OwnedEvent) -> String {
    format!(
        "{{status {:?}, id {:?}, file {:?} ({} bytes), route {:?}, eof {}}}",
        e.status,
        e.test_id,
        e.file.as_ref().map(|f| &f.0),
        e.file.as_ref().map_or(0, |f| f.1.len()),
        e.route_code,
        e.eof
    )
}

/// Encoded length of a string field (varint length + bytes), 0 for none.
fn string_field_len(s: Option<&str>) -> usize {
    s.map_or(0, |s| {
        let width = match s.len() {
            0..=63 => 1,
            64..=16383 => 2,
            _ => 3,
        };
        width + s.len()
    })
}

// ---------------------------------------------------------------------
// Splitting the output by route code
// ---------------------------------------------------------------------

/// What subunit-mux made of one input, in output order.
#[derive(Debug)]
enum Piece {
    /// A packet of the input, its route code given back (the first part
    /// taken off).
    Packet(OwnedEvent),
    /// A `stdout` file packet made of the input's chatter.
    Stdout(OwnedEvent),
    /// A `stderr` file packet made of a command's stderr.
    Stderr(OwnedEvent),
}

impl Piece {
    fn content(&self) -> &[u8] {
        match self {
            Piece::Stdout(e) | Piece::Stderr(e) => e.file.as_ref().map_or(&[], |f| &f.1),
            Piece::Packet(_) => &[],
        }
    }
}

/// Splits the output of subunit-mux by the first part of the route code:
/// one list per input named in `names`. Panics on chatter in the output and
/// on packets of no input.
fn split_output(output: &[u8], names: &[&str]) -> Vec<Vec<Piece>> {
    let mut parts: Vec<Vec<Piece>> = names.iter().map(|_| Vec::new()).collect();
    for item in decode_all(output) {
        let mut event = match item {
            Decoded::Packet(event, _) => event,
            Decoded::Chatter(bytes) => panic!(
                "chatter in the output of subunit-mux: {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
        };
        let route = event
            .route_code
            .clone()
            .unwrap_or_else(|| panic!("packet without a route code: {}", short(&event)));
        let (k, old) = names
            .iter()
            .enumerate()
            .find_map(|(k, name)| {
                if route == *name {
                    Some((k, None))
                } else {
                    let old = route.strip_prefix(name)?.strip_prefix('/')?;
                    Some((k, Some(old.to_owned())))
                }
            })
            .unwrap_or_else(|| panic!("route code {route:?} names no input of {names:?}"));
        let wrapped = old.is_none()
            && event.test_id.is_none()
            && matches!(&event.file, Some((name, _)) if name == "stdout" || name == "stderr");
        if wrapped {
            let stdout = event.file.as_ref().is_some_and(|f| f.0 == "stdout");
            parts[k].push(if stdout {
                Piece::Stdout(event)
            } else {
                Piece::Stderr(event)
            });
        } else {
            event.route_code = old;
            parts[k].push(Piece::Packet(event));
        }
    }
    parts
}

/// The concatenated content of the stdout (or stderr) pieces.
fn wrapped(part: &[Piece], stderr: bool) -> Vec<u8> {
    part.iter()
        .filter(|p| matches!(p, Piece::Stderr(_)) == stderr)
        .flat_map(Piece::content)
        .copied()
        .collect()
}

/// The packets of a part (failure reports included).
fn packets(part: &[Piece]) -> Vec<&OwnedEvent> {
    part.iter()
        .filter_map(|p| match p {
            Piece::Packet(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Whether `e` can be a chunk of a packet split by the encoder: file
/// content without the status, tags and EOF that only the last chunk has.
fn is_chunk(e: &OwnedEvent) -> bool {
    e.status == Status::Unset && !e.eof && e.tags.is_none() && e.file.is_some()
}

/// Checks that `part` gives back `input` exactly: its packets in order,
/// each the same bytes once re-encoded with its route code given back; its
/// chatter as the content of the stdout pieces; both in their places.
/// `prefix` is the first part of its route code. The wrapped pieces carry
/// the time they arrived when the input is `live` (a pipe, a command), and
/// no timestamp when it is a recorded file. Returns the indices of the
/// input packets that came out split in two or more.
fn check_part(label: &str, input: &[u8], part: &[Piece], prefix: &str, live: bool) -> Vec<usize> {
    let mut want = Vec::new();
    let mut chatter = Vec::new();
    for item in decode_all(input) {
        match item {
            Decoded::Packet(event, raw) => want.push((event, raw)),
            Decoded::Chatter(bytes) => chatter.extend(bytes),
        }
    }
    let mut want = want.iter().enumerate();
    let mut pieces = part.iter();
    let mut rebuilt = Vec::new();
    let mut splits = Vec::new();
    while let Some(piece) = pieces.next() {
        let got = match piece {
            Piece::Stdout(e) | Piece::Stderr(e) => {
                assert!(
                    e.timestamp.is_some() == live && e.status == Status::Unset,
                    "{label}: wrapped output of a {} input: {}",
                    if live { "live" } else { "recorded" },
                    short(e)
                );
                if let Piece::Stdout(_) = piece {
                    rebuilt.extend_from_slice(piece.content());
                }
                continue;
            }
            Piece::Packet(got) => got,
        };
        let Some((i, (event, raw))) = want.next() else {
            panic!("{label}: a packet after the input's last: {}", short(got));
        };
        let mut bytes = Vec::new();
        got.encode(&mut bytes);
        if bytes != *raw {
            // The one change allowed besides the route code: content that
            // no longer fits one packet with the longer route code is split
            // as the encoder splits it. Join the chunks and compare again.
            assert!(
                is_chunk(got) && raw.len() > MAX_PACKET_LEN - 64,
                "{label}: input packet {i} ({} bytes) changed: {} became {} (bytes differ at {})",
                raw.len(),
                short(event),
                short(got),
                first_difference(&bytes, raw)
            );
            let mut content = got.file.clone().expect("chunk").1;
            loop {
                let Some(Piece::Packet(next)) = pieces.next() else {
                    panic!("{label}: input packet {i} split, its last chunk missing");
                };
                let (name, more) = next.file.as_ref().unwrap_or_else(|| {
                    panic!("{label}: chunk of packet {i} followed by {}", short(next))
                });
                assert_eq!(
                    (
                        &next.test_id,
                        &next.timestamp,
                        &next.mime,
                        &next.route_code,
                        name
                    ),
                    (
                        &got.test_id,
                        &got.timestamp,
                        &got.mime,
                        &got.route_code,
                        &got.file.as_ref().expect("file").0
                    ),
                    "{label}: the chunks of packet {i} must carry its test id, timestamp, MIME type, route code and file name"
                );
                content.extend_from_slice(more);
                assert!(
                    content.len() < raw.len(),
                    "{label}: chunks of packet {i} hold more than it did"
                );
                let joined = OwnedEvent {
                    file: Some((name.clone(), content.clone())),
                    ..next.clone()
                };
                bytes.clear();
                joined.encode(&mut bytes);
                if bytes == *raw {
                    break;
                }
                assert!(
                    is_chunk(next),
                    "{label}: split packet {i} does not join back to {}: got {}",
                    short(event),
                    short(&joined)
                );
            }
            splits.push(i);
        }
        rebuilt.extend_from_slice(raw);
    }
    if let Some((i, (event, _))) = want.next() {
        panic!(
            "{label}: input packet {i} and later missing from route code {prefix}: {}",
            short(event)
        );
    }
    let got = wrapped(part, false);
    assert!(
        got == chatter,
        "{label}: the stdout packets hold {} bytes, the input's chatter is {} bytes; they differ at {}",
        got.len(),
        chatter.len(),
        first_difference(&got, &chatter)
    );
    assert!(
        rebuilt == input,
        "{label}: packets and chatter out of place: the rebuilt input differs at {} of {}",
        first_difference(&rebuilt, input),
        input.len()
    );
    splits
}

/// The input packets that must come out split: those that outgrow the
/// packet limit with route code `prefix` (or `prefix/OLD`).
fn must_split(input: &[u8], prefix: &str) -> Vec<usize> {
    decode_all(input)
        .into_iter()
        .filter_map(|item| match item {
            Decoded::Packet(event, raw) => Some((event, raw)),
            Decoded::Chatter(_) => None,
        })
        .enumerate()
        .filter(|(_, (event, raw))| {
            let old = event.route_code.as_deref();
            let new = match old {
                Some(old) => format!("{prefix}/{old}"),
                None => prefix.to_owned(),
            };
            // Near the limit the length field is 3 bytes either way.
            raw.len() - string_field_len(old) + string_field_len(Some(&new)) > MAX_PACKET_LEN
        })
        .map(|(i, _)| i)
        .collect()
}

// ---------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------

/// A generated run with chatter, made harder: the `stdout` packets without
/// test id that `stream_with_chatter` inserts would look exactly like the
/// chatter subunit-mux wraps once they have its route code, so they get
/// route code `w` (coming out as `k/w`); some packets are damaged (a byte
/// flipped), some follow a stray 0xB3, `ó` (C3 B3, text), text without a
/// newline or an automake result line.
fn noisy_input(seed: u64, route_codes: bool, max_bytes: usize) -> Vec<u8> {
    let shape = RunShape {
        seed,
        tests: 20_000,
        route_codes,
        attachment_percent: 30,
        max_bytes,
        ..RunShape::default()
    };
    let base = runs::stream_with_chatter(&shape, 10);
    let mut rng = Rng::new(seed ^ 0xD1CE);
    let mut out = Vec::new();
    for item in decode_all(&base[..]) {
        let (mut event, mut bytes) = match item {
            Decoded::Chatter(chatter) => {
                out.extend_from_slice(&chatter);
                continue;
            }
            Decoded::Packet(event, raw) => (event, raw),
        };
        if event.test_id.is_none() && event.route_code.is_none() {
            event.route_code = Some("w".into());
            bytes.clear();
            event.encode(&mut bytes);
        }
        match rng.below(40) {
            0 => {
                // Damaged: a byte of the body or CRC flipped.
                let at = bytes.len() / 2 + rng.below((bytes.len() / 2) as u64) as usize;
                bytes[at] ^= 0x20;
            }
            1 => out.extend_from_slice(b"\xb3 stray signature\n"),
            2 => out.push(SIGNATURE),
            3 => out.extend_from_slice("acción sin salto de línea".as_bytes()),
            // Chatter, not a result: subunit-mux adds no packets.
            4 => out.extend_from_slice(b"PASS: tests.chatter.only\n"),
            _ => {}
        }
        out.extend_from_slice(&bytes);
    }
    out
}

/// One test-failure packet of exactly `len` bytes, most of it file content
/// (which holds 0xB3 bytes), with route code `route`.
fn packet_of_len(len: usize, id: &str, route: Option<&str>) -> Vec<u8> {
    let content = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 % 251) as u8).collect() };
    let mut event = OwnedEvent {
        status: Status::Fail,
        runnable: true,
        eof: true,
        timestamp: Some(subunit_tools::Timestamp {
            seconds: 1_700_000_123,
            nanos: 456_000,
        }),
        test_id: Some(id.into()),
        tags: Some(vec!["big".into(), "core".into()]),
        mime: Some("application/x-core".into()),
        file: None,
        route_code: route.map(str::to_owned),
    };
    let mut out = Vec::new();
    let mut n = len / 2;
    for _ in 0..4 {
        event.file = Some(("core".into(), content(n)));
        out.clear();
        event.encode(&mut out);
        if out.len() == len {
            break;
        }
        n = (n + len)
            .checked_sub(out.len())
            .expect("room for the fields");
    }
    assert_eq!(out.len(), len, "packet of {len} bytes built");
    let one = decode(&out).expect("valid").expect("complete").len();
    assert_eq!(one, len, "one packet of {len} bytes");
    out
}

// ---------------------------------------------------------------------
// 1. Splitting the output by route code gives back every input
// ---------------------------------------------------------------------

#[test]
fn splitting_the_output_by_route_code_gives_back_every_input() {
    let dir = TempDir::new("roundtrip");

    // Input 0, a file: a 300 kB attachment (more than the reader's first
    // buffer) in the middle of a noisy run without route codes.
    let mut in0 = noisy_input(11, false, 600_000);
    in0.push(b'\n');
    in0.extend_from_slice(&packet_of_len(300_000, "tests.big.attachment", None));
    in0.extend_from_slice(&noisy_input(111, false, 600_000));

    // Input 1, a command: route codes already (k/OLD), and stderr.
    let in1 = noisy_input(12, true, 1_200_000);

    // Input 2, a file: a packet of the maximum size without route code,
    // which cannot take route code `2` and must be split.
    let mut in2 = noisy_input(13, false, 500_000);
    in2.push(b'\n');
    in2.extend_from_slice(&packet_of_len(MAX_PACKET_LEN, "tests.max.size", None));
    in2.extend_from_slice(&noisy_input(113, true, 500_000));

    // Input 3, a command: a packet with route code `r`, 2 bytes under the
    // limit; as `3/r` it is exactly at the limit and stays whole.
    let mut in3 = noisy_input(14, true, 500_000);
    in3.push(b'\n');
    in3.extend_from_slice(&packet_of_len(
        MAX_PACKET_LEN - 2,
        "tests.at.limit",
        Some("r"),
    ));
    in3.extend_from_slice(&noisy_input(114, false, 500_000));

    // Input 4, stdin (`-`): ends in a packet cut short, which is chatter.
    let mut in4 = noisy_input(15, false, 1_000_000);
    let cut = packet_of_len(100, "tests.cut.short", None);
    in4.extend_from_slice(&cut[..60]);

    let f0 = dir.file("in0", &in0);
    let f1 = dir.file("in1", &in1);
    let f2 = dir.file("in2", &in2);
    let f3 = dir.file("in3", &in3);
    let mut mux = ours("subunit-mux");
    mux.arg(&f0)
        .arg("--command")
        .arg(format!("{}; printf 'to stderr\\nno newline' >&2", cat(&f1)))
        .arg(&f2)
        .args(["--command", &cat(&f3)])
        .arg("-");
    let out = run_with_input(mux, &in4);
    assert!(
        out.status.success(),
        "subunit-mux: {:?}, stderr: {}",
        out.status,
        stderr_text(&out)
    );
    // Damaged packets of all inputs are counted, in one line on stderr.
    let damaged: u64 = [&in0, &in1, &in2, &in3, &in4]
        .iter()
        .map(|input| {
            let mut reader = StreamReader::new(&input[..]);
            while reader.next().expect("read").is_some() {}
            reader.damage().map_or(0, |d| d.count)
        })
        .sum();
    assert!(damaged > 5, "only {damaged} damaged packets in the inputs");
    let stderr = stderr_text(&out);
    assert!(
        stderr.starts_with(&format!("subunit-mux: warning: {damaged} damaged packets "))
            && stderr.lines().count() == 1,
        "one line about {damaged} damaged packets on stderr: {stderr:?}"
    );

    let names = ["0", "1", "2", "3", "4"];
    let parts = split_output(&out.stdout, &names);
    // (label, input, whether it is live)
    let inputs: [(&str, &[u8], bool); 5] = [
        ("input 0 (file, seeds 11 and 111)", &in0, false),
        ("input 1 (command, seed 12)", &in1, true),
        ("input 2 (file, seeds 13 and 113)", &in2, false),
        ("input 3 (command, seeds 14 and 114)", &in3, true),
        ("input 4 (stdin, a pipe, seed 15)", &in4, true),
    ];
    for (k, (label, input, live)) in inputs.iter().enumerate() {
        let splits = check_part(label, input, &parts[k], names[k], *live);
        assert_eq!(
            splits,
            must_split(input, names[k]),
            "{label}: the packets split are those too large for their new route code"
        );
        let stderr = wrapped(&parts[k], true);
        let want: &[u8] = if k == 1 {
            b"to stderr\nno newline"
        } else {
            b""
        };
        assert_eq!(
            String::from_utf8_lossy(&stderr),
            String::from_utf8_lossy(want),
            "{label}: the stderr packets"
        );
    }
    assert_eq!(
        must_split(&in2, "2").len(),
        1,
        "the max-size packet of input 2 had to be split"
    );
    assert!(
        must_split(&in3, "3").is_empty(),
        "the packet exactly at the limit as 3/r fits"
    );
    // Every input had packets with route codes of their own (k/OLD).
    for (k, (label, _, _)) in inputs.iter().enumerate() {
        assert!(
            packets(&parts[k]).iter().any(|e| e.route_code.is_some()),
            "{label}: no packet kept a route code (k/OLD untested)"
        );
    }
}

// ---------------------------------------------------------------------
// 2. FIFOs are read live
// ---------------------------------------------------------------------

/// The output of a running subunit-mux, packet by packet as it comes.
struct LiveOutput {
    chunks: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl LiveOutput {
    fn start(mut stdout: ChildStdout) -> LiveOutput {
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        LiveOutput {
            chunks,
            buf: Vec::new(),
        }
    }

    /// The next packet, which must come within [`TIMEOUT`].
    fn next_packet(&mut self, what: &str) -> OwnedEvent {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if !self.buf.is_empty() {
                assert_eq!(self.buf[0], SIGNATURE, "chatter in the output");
                match decode(&self.buf) {
                    Ok(Some(packet)) => {
                        let event = OwnedEvent::from_packet(&packet);
                        let len = packet.len();
                        self.buf.drain(..len);
                        return event;
                    }
                    Ok(None) => {}
                    Err(why) => panic!("invalid packet in the output: {why:?}"),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.buf.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{what} did not come out within {TIMEOUT:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the output ended before {what}")
                }
            }
        }
    }

    /// Stdout packets of route code `route` until their content is `text`.
    fn wrapped_text(&mut self, route: &str, text: &[u8], what: &str) {
        let mut got = Vec::new();
        while got.len() < text.len() {
            let e = self.next_packet(what);
            match (&e.route_code, &e.test_id, &e.file) {
                (Some(r), None, Some((name, content))) if r == route && name == "stdout" => {
                    got.extend_from_slice(content)
                }
                _ => panic!("{what} expected, got {}", short(&e)),
            }
        }
        assert_eq!(got, text, "{what}");
    }

    /// Everything after the process ended.
    fn rest(mut self) -> Vec<u8> {
        while let Ok(chunk) = self.chunks.recv_timeout(TIMEOUT) {
            self.buf.extend_from_slice(&chunk);
        }
        self.buf
    }
}

/// Opens a FIFO for writing once a reader has it open (non-blocking open,
/// retried, so a subunit-mux that never opens it fails the test instead of
/// hanging it).
fn open_writer(fifo: &Path) -> std::fs::File {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(file) => return file,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{} was not opened for reading: {e}", fifo.display()),
        }
    }
}

fn test_packet(id: &str, status: Status, route: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    OwnedEvent {
        status,
        runnable: true,
        test_id: Some(id.into()),
        route_code: route.map(str::to_owned),
        ..OwnedEvent::default()
    }
    .encode(&mut out);
    out
}

#[test]
fn a_packet_on_one_fifo_comes_out_while_the_other_is_silent() {
    let dir = TempDir::new("fifo");
    let fifos = [dir.path("a"), dir.path("b")];
    for fifo in &fifos {
        let made = Command::new("mkfifo").arg(fifo).status().expect("mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
    }
    let mut child = Running(
        ours("subunit-mux")
            .args(&fifos)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn subunit-mux"),
    );
    let mut out = LiveOutput::start(child.stdout.take().expect("stdout"));
    let mut a = open_writer(&fifos[0]);
    let mut b = open_writer(&fifos[1]);

    a.write_all(&test_packet("on-a", Status::InProgress, None))
        .expect("write a");
    let e = out.next_packet("the packet written to FIFO a while b was silent");
    assert_eq!(
        (e.test_id.as_deref(), e.route_code.as_deref(), e.status),
        (Some("on-a"), Some("0"), Status::InProgress)
    );

    b.write_all(&test_packet("on-b", Status::Success, Some("w1")))
        .expect("write b");
    let e = out.next_packet("the packet written to FIFO b while a was silent");
    assert_eq!(
        (e.test_id.as_deref(), e.route_code.as_deref(), e.status),
        (Some("on-b"), Some("1/w1"), Status::Success)
    );

    // Chatter without a newline is wrapped as soon as the input pauses.
    b.write_all(b"waiting for the server").expect("write b");
    out.wrapped_text("1", b"waiting for the server", "the chatter on FIFO b");

    // One writer gone, the other still open: subunit-mux goes on.
    drop(a);
    b.write_all(&test_packet("on-a", Status::Fail, None))
        .expect("write b");
    let e = out.next_packet("a packet on b after a ended");
    assert_eq!(
        (e.test_id.as_deref(), e.route_code.as_deref(), e.status),
        (Some("on-a"), Some("1"), Status::Fail)
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "subunit-mux ended while FIFO b was still open"
    );

    drop(b);
    let status = wait_within(&mut child, "after both FIFOs' writers closed");
    assert!(status.success(), "subunit-mux: {status:?}");
    // What is left: the end of the stdout file of input 1.
    let rest = decode_all(&out.rest()[..]);
    let [Decoded::Packet(e, _)] = &rest[..] else {
        panic!("one EOF packet expected at the end: {rest:?}");
    };
    assert!(
        e.eof && e.route_code.as_deref() == Some("1"),
        "{}",
        short(e)
    );
    assert_eq!(
        e.file.as_ref().map(|f| (f.0.as_str(), f.1.len())),
        Some(("stdout", 0))
    );
}

// ---------------------------------------------------------------------
// 3. Many inputs, a slow reader: no deadlock, bounded memory
// ---------------------------------------------------------------------

/// Reads at most [`SLOW_READ`] bytes at a time with a pause after each, and
/// nothing at all for a while at first.
struct SlowReader<R> {
    inner: R,
    stall: Option<Duration>,
}

const SLOW_READ: usize = 16 * 1024;
const SLOW_PAUSE: Duration = Duration::from_micros(200);

impl<R: Read> Read for SlowReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(stall) = self.stall.take() {
            thread::sleep(stall);
        }
        let len = buf.len().min(SLOW_READ);
        let n = self.inner.read(&mut buf[..len])?;
        thread::sleep(SLOW_PAUSE);
        Ok(n)
    }
}

/// What identifies a packet besides its route code, length and CRC.
struct Fingerprint {
    flags: u16,
    fields: Vec<u8>,
    route: Option<String>,
}

fn fingerprints(stream: &[u8]) -> Vec<Fingerprint> {
    let mut reader = StreamReader::new(stream);
    let mut out = Vec::new();
    while let Some(item) = reader.next().expect("read") {
        match item {
            Item::Packet(p) => out.push(Fingerprint {
                flags: p.flags().bits(),
                fields: p.fields_before_route().to_vec(),
                route: p.route_code().map(str::to_owned),
            }),
            other => panic!("generated stream holds {other:?}"),
        }
    }
    out
}

/// Peak of VmHWM and VmRSS of `pid` so far, in KiB, if it still runs.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM:") || l.starts_with("VmRSS:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .max()
}

#[test]
fn many_inputs_and_a_slow_reader_neither_deadlock_nor_grow_memory() {
    const INPUTS: usize = 64;
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    let dir = TempDir::new("many");
    // Three distinct runs of 2 MiB, used in turn; every fourth input is a
    // command (`cat`) with its stdout and stderr, the others files.
    let streams: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            runs::stream(&RunShape {
                seed: 40 + i,
                tests: 20_000,
                route_codes: i == 1,
                attachment_percent: 30,
                max_bytes: 2 << 20,
                ..RunShape::default()
            })
        })
        .collect();
    let expected: Vec<Vec<Fingerprint>> = streams.iter().map(|s| fingerprints(s)).collect();
    let lens: Vec<usize> = expected.iter().map(Vec::len).collect();
    let paths: Vec<PathBuf> = streams
        .iter()
        .enumerate()
        .map(|(i, s)| dir.file(&format!("run{i}"), s))
        .collect();
    let stream_of = |k: usize| k % 3;
    let mut mux = ours("subunit-mux");
    let (mut files, mut commands) = (0u64, 0u64);
    for k in 0..INPUTS {
        let path = &paths[stream_of(k)];
        if k % 4 == 3 {
            mux.args(["--command", &cat(path)]);
            commands += 1;
        } else {
            mux.arg(path);
            files += 1;
        }
    }
    let total: usize = (0..INPUTS).map(|k| streams[stream_of(k)].len()).sum();

    // What subunit-mux may hold at once (src/reader.rs, src/pump.rs,
    // src/commands/mux.rs):
    // - every reader (a file; a command's stdout and its stderr) has a
    //   StreamReader buffer of 256 KiB, grown only for a larger packet,
    //   which these runs do not have;
    // - every input fills one batch of 64 KiB (pump::BATCH) before handing
    //   it on, and a Vec that passed 64 KiB has a capacity of 128 KiB;
    // - the channel to the writer holds 2 batches per reader;
    // - the writer holds one batch and its output buffer;
    // - the program itself (a debug build with one input: about 4 MiB);
    //   allow 8 MiB, and half again of everything for malloc's arenas.
    // That is about 84 MiB for these 48 files and 16 commands; a debug
    // build peaks near 57 MiB here. The inputs hold 128 MiB and the reader
    // stalls 2 s before reading at all, so a subunit-mux that read ahead
    // without bound would go far past it (with an unbounded channel it
    // peaked at about 185 MiB).
    let readers = files + 2 * commands;
    let design = readers * 256 * KIB
        + (files + commands) * 128 * KIB
        + 2 * readers * 128 * KIB
        + 256 * KIB
        + 8 * MIB;
    let bound = design * 3 / 2;
    assert!(
        total as u64 > bound + bound / 4,
        "the inputs ({total} bytes) must be well over the bound ({bound})"
    );

    let started = Instant::now();
    let mut child = Running(
        mux.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn subunit-mux"),
    );
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr_thread = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let consumer = thread::spawn(move || -> Result<Vec<usize>, String> {
        let mut reader = StreamReader::new(SlowReader {
            inner: stdout,
            stall: Some(Duration::from_secs(2)),
        });
        let mut next = vec![0; INPUTS];
        while let Some(item) = reader.next().map_err(|e| e.to_string())? {
            let p = match item {
                Item::Packet(p) => p,
                Item::Chatter(c) => return Err(format!("chatter at {}", c.offset)),
                Item::Idle => continue,
            };
            let route = p.route_code().ok_or("a packet without route code")?;
            let (first, old) = match route.split_once('/') {
                Some((first, old)) => (first, Some(old)),
                None => (route, None),
            };
            let k: usize = first
                .parse()
                .ok()
                .filter(|&k| k < INPUTS)
                .ok_or_else(|| format!("route code {route:?}"))?;
            let want = expected[stream_of(k)].get(next[k]).ok_or_else(|| {
                format!("input {k}: a packet after its last (route code {route:?})")
            })?;
            let same = p.flags().bits() == want.flags | Flags::ROUTE_CODE.bits()
                && p.fields_before_route() == want.fields
                && old == want.route.as_deref();
            if !same {
                return Err(format!(
                    "input {k} (run {}): packet {} differs from the input's",
                    stream_of(k),
                    next[k]
                ));
            }
            next[k] += 1;
        }
        Ok(next)
    });

    let deadline = Duration::from_secs(60);
    let mut peak = 0;
    let mut samples = 0;
    while !consumer.is_finished() {
        if let Some(kib) = rss_kib(pid) {
            peak = peak.max(kib);
            samples += 1;
        }
        if started.elapsed() > deadline {
            panic!("64 inputs and a slow reader: not done after {deadline:?} (deadlock?)");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let seen = match consumer.join() {
        Ok(Ok(seen)) => seen,
        Ok(Err(why)) => panic!("the output of 64 inputs: {why}"),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let status = wait_within(&mut child, "after its output was read");
    let stderr = stderr_thread.join().expect("stderr thread");
    assert!(
        status.success(),
        "subunit-mux: {status:?}, stderr: {stderr}"
    );
    assert_eq!(stderr, "", "nothing on stderr");
    for (k, &n) in seen.iter().enumerate() {
        assert_eq!(
            n,
            lens[stream_of(k)],
            "input {k} (run {}): packets in the output",
            stream_of(k)
        );
    }
    assert!(samples >= 10, "only {samples} memory samples");
    assert!(
        peak * KIB < bound,
        "subunit-mux used {peak} KiB at its peak, over the bound of {} KiB \
         ({readers} readers; inputs of {} MiB in all)",
        bound / KIB,
        total as u64 / MIB
    );
}

// ---------------------------------------------------------------------
// 4. Exit statuses and failures
// ---------------------------------------------------------------------

fn mux(args: &[&str]) -> Output {
    ours("subunit-mux")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run subunit-mux")
}

#[test]
fn the_first_failing_command_in_command_line_order_sets_the_status() {
    let out = mux(&[
        "--command",
        "exit 0",
        "--command",
        "sleep 0.3; exit 3",
        "--command",
        "exit 5",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit 0, exit 3 (ending last), exit 5: stderr {}",
        stderr_text(&out)
    );
    // A plain non-zero status is passed on, not reported as a test.
    assert!(
        decode_all(&out.stdout[..]).is_empty(),
        "no output expected: {:?}",
        decode_all(&out.stdout[..])
    );
    assert_eq!(stderr_text(&out), "");

    let dir = TempDir::new("status");
    let file = dir.file("in", &test_packet("t", Status::Success, None));
    let file = file.to_str().expect("UTF-8");
    let out = mux(&[file, "--command", "true", "--command", "exit 0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let out = mux(&["--command", "exit 0", file, "--command", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr_text(&out));
}

/// The one failing test reported for a command, from a split output.
fn failure_report<'a>(part: &'a [Piece], command: &str) -> &'a OwnedEvent {
    let reports: Vec<&OwnedEvent> = packets(part)
        .into_iter()
        .filter(|e| e.test_id.as_deref() == Some(command))
        .collect();
    let [report] = reports[..] else {
        panic!("one test named {command:?} expected: {reports:?}");
    };
    assert_eq!(report.status, Status::Fail, "{}", short(report));
    assert!(report.timestamp.is_some(), "{}", short(report));
    report
}

#[test]
fn a_command_killed_by_a_signal_or_not_found_is_a_failing_test() {
    let killed = "echo before; kill -9 $$";
    let missing = "no-such-command-for-subunit-mux-tests --flag";
    let out = mux(&[
        "--command",
        "echo fine",
        "--command",
        killed,
        "--command",
        missing,
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "128 + SIGKILL, the first failure in order; stderr: {}",
        stderr_text(&out)
    );
    let stderr = stderr_text(&out);
    let line = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line naming {needle:?} on stderr: {stderr:?}"))
            .to_owned()
    };
    let signal_9 = |text: &str| text.contains("signal 9") || text.contains("SIGKILL");
    let about_killed = line(killed);
    assert!(
        about_killed.starts_with("subunit-mux: ") && signal_9(&about_killed),
        "{about_killed}"
    );
    let about_missing = line(missing);
    assert!(
        about_missing.starts_with("subunit-mux: "),
        "{about_missing}"
    );

    let parts = split_output(&out.stdout, &["0", "1", "2"]);
    assert_eq!(wrapped(&parts[0], false), b"fine\n");
    assert!(packets(&parts[0]).is_empty(), "{:?}", parts[0]);

    let report = failure_report(&parts[1], killed);
    assert_eq!(report.route_code, None, "route code 1 exactly");
    let (name, note) = report.file.as_ref().expect("an exit-status attachment");
    assert_eq!(name, "exit-status");
    let note = String::from_utf8_lossy(note);
    assert!(signal_9(&note), "{note}");
    assert_eq!(wrapped(&parts[1], false), b"before\n");

    let report = failure_report(&parts[2], missing);
    assert_eq!(report.route_code, None, "route code 2 exactly");
    // The shell's complaint is the command's stderr.
    let complaint = String::from_utf8_lossy(&wrapped(&parts[2], true)).into_owned();
    assert!(complaint.contains("not found"), "{complaint:?}");

    // Alone, the shell's 127 is the status.
    let out = mux(&["--command", "true", "--command", missing]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr_text(&out));
    let parts = split_output(&out.stdout, &["0", "1"]);
    failure_report(&parts[1], missing);
}

#[test]
fn usage_and_open_errors_exit_2_before_any_output() {
    let dir = TempDir::new("errors");
    let file = dir.file("in", &test_packet("t", Status::Success, None));
    let file = file.to_str().expect("UTF-8");
    let marker = dir.path("started");
    let touch = format!("touch '{}'", marker.to_str().expect("UTF-8"));

    let missing = "/nonexistent/subunit-mux-input";
    // (arguments, what the message must say, whether it is one line of
    // ours rather than clap's usage text)
    let cases: [(Vec<&str>, &str, bool); 5] = [
        (vec!["--route", "a", file, file], "--route", true),
        (
            vec![
                "--route",
                "a",
                "--route",
                "b",
                "--route",
                "c",
                "--command",
                "true",
            ],
            "--route",
            true,
        ),
        (vec![], "--command", true),
        (
            vec!["--command", touch.as_str(), file, missing],
            missing,
            true,
        ),
        (vec!["--no-such-option", file], "--no-such-option", false),
    ];
    for (args, about, ours) in cases {
        let out = mux(&args);
        let stderr = stderr_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: output before the error");
        assert!(stderr.contains(about), "{args:?}: message {stderr:?}");
        if ours {
            assert!(
                stderr.starts_with("subunit-mux: ") && stderr.lines().count() == 1,
                "{args:?}: one line `subunit-mux: message` expected: {stderr:?}"
            );
        }
        assert!(
            !stderr.contains("panicked"),
            "{args:?}: a panic: {stderr:?}"
        );
    }
    assert!(
        !marker.exists(),
        "a command was started although an input file was missing"
    );
}

#[test]
fn a_closed_output_ends_quietly_with_status_0() {
    let dir = TempDir::new("closed");
    let file = dir.file("in", &runs::stream(&RunShape::default()));
    let mut child = ours("subunit-mux")
        .args(["--command", "yes chatter"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn subunit-mux");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0; 100];
    stdout.read_exact(&mut first).expect("the first bytes");
    drop(stdout);
    let status = wait_within(&mut child, "after its output was closed");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}

#[test]
fn dash_reads_stdin_in_its_place() {
    let dir = TempDir::new("stdin");
    let file = dir.file("in", &test_packet("from-file", Status::Success, None));
    let mut mux = ours("subunit-mux");
    mux.arg("--command")
        .arg("echo from-command")
        .arg("-")
        .arg(&file);
    let mut input = b"stdin chatter\n".to_vec();
    input.extend_from_slice(&test_packet("from-stdin", Status::Skip, Some("x")));
    let out = run_with_input(mux, &input);
    assert!(out.status.success(), "{}", stderr_text(&out));
    let parts = split_output(&out.stdout, &["0", "1", "2"]);
    assert_eq!(wrapped(&parts[0], false), b"from-command\n");
    assert_eq!(wrapped(&parts[1], false), b"stdin chatter\n");
    let ids = |k: usize| -> Vec<(Option<String>, Option<String>)> {
        packets(&parts[k])
            .iter()
            .map(|e| (e.test_id.clone(), e.route_code.clone()))
            .collect()
    };
    assert_eq!(ids(1), [(Some("from-stdin".into()), Some("x".into()))]);
    assert_eq!(ids(2), [(Some("from-file".into()), None)]);
}

// ---------------------------------------------------------------------
// 5. --route-code (alias --route)
// ---------------------------------------------------------------------

#[test]
fn route_code_is_the_option_and_route_its_visible_alias() {
    let dir = TempDir::new("route-alias");
    let file = dir.file("in", &test_packet("t", Status::Success, None));
    let file = file.to_str().expect("UTF-8");
    for option in ["--route-code", "--route"] {
        let out = mux(&[option, "unit", option, "func", file, file]);
        assert!(out.status.success(), "{option}: {}", stderr_text(&out));
        let parts = split_output(&out.stdout, &["unit", "func"]);
        for part in &parts {
            let ids: Vec<_> = packets(part).iter().map(|e| e.test_id.clone()).collect();
            assert_eq!(ids, [Some("t".to_owned())], "{option}");
        }
    }
    let help = ours("subunit-mux").arg("--help").output().expect("help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(
        help.contains("--route-code <CODE>") && help.contains("[alias: --route]"),
        "{help}"
    );
}

#[test]
fn route_code_usage_errors_read_well() {
    let dir = TempDir::new("route-messages");
    let file = dir.file("in", &test_packet("t", Status::Success, None));
    let file = file.to_str().expect("UTF-8");
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["--route-code", "a", file, file],
            "--route-code is given once for 2 inputs: give it once per input",
        ),
        (
            vec!["--route", "a", "--route", "b", file, file, file],
            "--route-code is given twice for 3 inputs: give it once per input",
        ),
        (
            vec![
                "--route",
                "a",
                "--route",
                "b",
                "--route",
                "c",
                "--command",
                "true",
            ],
            "--route-code is given 3 times for 1 input: give it once per input",
        ),
        (
            vec!["--route-code", "", file],
            "--route-code '': an input's route code must be non-empty and without '/'",
        ),
        (
            vec!["--route-code", "a/b", file],
            "--route-code 'a/b': an input's route code must be non-empty and without '/'",
        ),
        (
            vec!["--route", "a", "--route-code", "a", file, file],
            "--route-code 'a' is given twice: each input needs a route code of its own",
        ),
    ];
    for (args, message) in cases {
        let out = mux(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr_text(&out),
            format!("subunit-mux: {message}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn route_names_replace_the_numbers_everywhere() {
    let dir = TempDir::new("route");
    let mut file_input = b"file chatter\n".to_vec();
    file_input.extend_from_slice(&test_packet("in-file", Status::Success, None));
    file_input.extend_from_slice(&test_packet("in-file-routed", Status::Fail, Some("old")));
    let file = dir.file("in", &file_input);
    let cmd_input = test_packet("in-command", Status::XFail, Some("w"));
    let cmd_file = dir.file("cmd", &cmd_input);
    let command = format!(
        "printf 'command chatter\\n'; echo 'command err' >&2; {}",
        cat(&cmd_file)
    );
    let crash = "kill -9 $$";
    let out = ours("subunit-mux")
        .args(["--route", "unit", "--route", "func", "--route", "crash"])
        .arg(&file)
        .args(["--command", &command, "--command", crash])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(137), "{}", stderr_text(&out));

    // No packet carries a number as (the first part of) its route code.
    for item in decode_all(&out.stdout[..]) {
        let Decoded::Packet(e, _) = item else {
            panic!("chatter in the output")
        };
        let route = e.route_code.clone().unwrap_or_default();
        let first = route.split('/').next().unwrap_or_default();
        assert!(
            ["unit", "func", "crash"].contains(&first),
            "route code {route:?}: {}",
            short(&e)
        );
    }
    let parts = split_output(&out.stdout, &["unit", "func", "crash"]);
    let splits = check_part("input unit (file)", &file_input, &parts[0], "unit", false);
    assert!(splits.is_empty());
    assert_eq!(wrapped(&parts[0], false), b"file chatter\n");
    assert_eq!(
        packets(&parts[0])
            .iter()
            .map(|e| e.route_code.as_deref())
            .collect::<Vec<_>>(),
        [None, Some("old")],
        "unit and unit/old"
    );

    assert_eq!(wrapped(&parts[1], false), b"command chatter\n");
    assert_eq!(wrapped(&parts[1], true), b"command err\n");
    let ids: Vec<_> = packets(&parts[1])
        .iter()
        .map(|e| (e.test_id.clone(), e.route_code.clone()))
        .collect();
    assert_eq!(ids, [(Some("in-command".into()), Some("w".into()))]);

    let report = failure_report(&parts[2], crash);
    assert_eq!(report.route_code, None, "route code `crash` exactly");
}

#[test]
fn ambiguous_inputs_and_route_names_are_refused() {
    let dir = TempDir::new("ambiguous");
    let file = dir.file("in", &test_packet("t", Status::Success, None));
    let file = file.to_str().expect("UTF-8");
    for (args, about) in [
        (vec!["-", "-"], "standard input"),
        (vec!["--route", "a", "--route", "a", file, file], "twice"),
        (vec!["--route", "", file], "non-empty"),
        (vec!["--route", "a/b", file], "'/'"),
    ] {
        let out = mux(&args);
        let stderr = stderr_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: output before the error");
        assert!(
            stderr.starts_with("subunit-mux: ") && stderr.contains(about),
            "{args:?}: {stderr:?}"
        );
    }
}

#[test]
fn commands_and_what_they_started_stop_when_the_output_closes() {
    let dir = TempDir::new("stop-on-close");
    let (shell, sleeper) = (dir.path("shell"), dir.path("sleeper"));
    let command = format!(
        "echo $$ > '{}'; sleep 60 & echo $! > '{}'; wait",
        shell.display(),
        sleeper.display()
    );
    let mut child = Running(
        ours("subunit-mux")
            .args(["--command", "yes chatter", "--command", &command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn subunit-mux"),
    );
    let (shell, sleeper) = (pid_in(&shell), pid_in(&sleeper));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0; 100];
    stdout.read_exact(&mut first).expect("the first bytes");
    drop(stdout);
    assert_eq!(
        wait_within(&mut child, "after its output was closed").code(),
        Some(0)
    );
    assert!(gone_within(shell), "the command's shell {shell} still runs");
    assert!(
        gone_within(sleeper),
        "what the command started ({sleeper}) still runs"
    );
}

#[test]
fn a_terminating_signal_reaches_the_commands_and_ends_mux_by_it() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("signal");
    let sleeper = dir.path("sleeper");
    let command = format!("sleep 60 & echo $! > '{}'; wait", sleeper.display());
    let mut child = Running(
        ours("subunit-mux")
            .args(["--command", &command])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn subunit-mux"),
    );
    let sleeper = pid_in(&sleeper);
    // SAFETY: kill with the pid of our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = wait_within(&mut child, "after SIGTERM");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert!(
        gone_within(sleeper),
        "the command's child {sleeper} still runs"
    );
}

#[test]
fn a_packet_too_large_for_its_route_code_is_kept_as_chatter() {
    // A test id that fills a packet: no file content to split, so the
    // route code cannot be added.
    let id = "x".repeat(MAX_PACKET_LEN - 13);
    let packet = test_packet(&id, Status::Success, None);
    assert_eq!(packet.len(), MAX_PACKET_LEN);
    let dir = TempDir::new("unroutable");
    let file = dir.file("in", &packet);
    let out = mux(&[file.to_str().expect("UTF-8")]);
    assert_eq!(out.status.code(), Some(0));
    let mut contents = Vec::new();
    for item in decode_all(&out.stdout[..]) {
        match item {
            Decoded::Packet(e, _) => {
                assert_eq!(e.route_code.as_deref(), Some("0"), "{}", short(&e));
                if let Some((name, content)) = e.file {
                    assert_eq!(name, "stdout");
                    contents.extend(content);
                }
            }
            Decoded::Chatter(_) => panic!("chatter in the output"),
        }
    }
    assert_eq!(
        contents, packet,
        "the packet's bytes, as chatter of input 0"
    );
    assert!(
        stderr_text(&out)
            .contains("warning: 1 packet too large to take a route code was kept as chatter\n"),
        "{}",
        stderr_text(&out)
    );
}

// ---------------------------------------------------------------------
// 6. Timestamps: the arrival time only for live inputs
// ---------------------------------------------------------------------

/// The start of the recorded run of the timestamp tests.
const RECORDED: u32 = 1_700_000_000;

/// A packet of test `id` with `status`, recorded `at` seconds into the run.
fn recorded_packet(id: &str, status: Status, at: f64) -> Vec<u8> {
    let mut out = Vec::new();
    OwnedEvent {
        status,
        runnable: true,
        timestamp: Some(subunit_tools::Timestamp {
            seconds: RECORDED + at as u32,
            nanos: (at.fract() * 1e9).round() as u32,
        }),
        test_id: Some(id.into()),
        ..OwnedEvent::default()
    }
    .encode(&mut out);
    out
}

/// Two shards of one recorded run of 2.65 s, with chatter (build output,
/// a log line without its newline) around their packets.
fn recorded_shards() -> [Vec<u8>; 2] {
    [
        [
            &b"building shard 0\n"[..],
            &recorded_packet("a", Status::InProgress, 0.0),
            b"log of a\n",
            &recorded_packet("a", Status::Success, 1.5),
        ]
        .concat(),
        [
            &b"building shard 1\n"[..],
            &recorded_packet("b", Status::InProgress, 0.2),
            b"log of b",
            &recorded_packet("b", Status::Fail, 2.65),
        ]
        .concat(),
    ]
}

/// The run time subunit-stats reports for `stream`.
fn run_time(stream: &[u8]) -> f64 {
    let mut stats = ours("subunit-stats");
    stats.arg("--json");
    let out = run_with_input(stats, stream);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("subunit-stats --json");
    json["run_time"].as_f64().expect("run_time")
}

/// Seconds since the epoch, now.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

#[test]
fn recorded_files_keep_their_run_time() {
    let dir = TempDir::new("recorded");
    let shards = recorded_shards();
    let f0 = dir.file("shard0.subunit", &shards[0]);
    let f1 = dir.file("shard1.subunit", &shards[1]);
    assert!((run_time(&shards.concat()) - 2.65).abs() < 1e-6);

    // Both named, and the first as standard input redirected from the file:
    // regular files either way, whose chatter gets no timestamp.
    let named = ours("subunit-mux").arg(&f0).arg(&f1).output().expect("run");
    let redirected = ours("subunit-mux")
        .arg("-")
        .arg(&f1)
        .stdin(std::fs::File::open(&f0).expect("open"))
        .output()
        .expect("run");
    for (how, out) in [("named", named), ("stdin from a file", redirected)] {
        assert!(out.status.success(), "{how}: {}", stderr_text(&out));
        let parts = split_output(&out.stdout, &["0", "1"]);
        for (k, shard) in shards.iter().enumerate() {
            let label = format!("{how}: shard {k}");
            check_part(&label, shard, &parts[k], &k.to_string(), false);
        }
        let time = run_time(&out.stdout);
        assert!(
            (time - 2.65).abs() < 1e-6,
            "{how}: the merged run took {time} s, the recorded one 2.65 s"
        );
    }
}

#[test]
fn live_inputs_are_stamped_with_the_arrival_time() {
    let dir = TempDir::new("live-stamps");
    let shards = recorded_shards();
    let f1 = dir.file("shard1.subunit", &shards[1]);
    let before = now();
    let mut cmd = ours("subunit-mux");
    cmd.arg("-")
        .args(["--command", &format!("{}; echo err >&2", cat(&f1))]);
    let out = run_with_input(cmd, &shards[0]);
    let after = now();
    assert!(out.status.success(), "{}", stderr_text(&out));
    let parts = split_output(&out.stdout, &["0", "1"]);
    check_part("shard 0 through a pipe", &shards[0], &parts[0], "0", true);
    check_part("shard 1 from a command", &shards[1], &parts[1], "1", true);
    assert_eq!(wrapped(&parts[1], true), b"err\n");
    for piece in parts.iter().flatten() {
        if let Piece::Stdout(e) | Piece::Stderr(e) = piece {
            let ts = e.timestamp.expect("stamped");
            let at = f64::from(ts.seconds) + f64::from(ts.nanos) / 1e9;
            assert!(
                before - 1.0 <= at && at <= after + 1.0,
                "stamped {at}, not between {before} and {after}: {}",
                short(e)
            );
        }
    }
}

#[test]
fn no_timestamps_leaves_them_out_of_every_packet_made() {
    let shards = recorded_shards();
    let killed = "echo out; echo err >&2; kill -9 $$";
    let mut cmd = ours("subunit-mux");
    cmd.args(["--no-timestamps", "-", "--command", killed]);
    let out = run_with_input(cmd, &shards[0]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr_text(&out));
    let parts = split_output(&out.stdout, &["0", "1"]);
    // The input's packets keep their recorded times; nothing else has one.
    let recorded: Vec<_> = packets(&parts[0]).iter().map(|e| e.timestamp).collect();
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(Option::is_some), "{recorded:?}");
    let report = packets(&parts[1]);
    let [report] = report[..] else {
        panic!("one failure report expected: {:?}", parts[1]);
    };
    assert_eq!(
        (report.test_id.as_deref(), report.status),
        (Some(killed), Status::Fail)
    );
    assert_eq!(
        report.timestamp,
        None,
        "the failure report: {}",
        short(report)
    );
    assert_eq!(wrapped(&parts[0], false), b"building shard 0\nlog of a\n");
    assert_eq!(wrapped(&parts[1], false), b"out\n");
    assert_eq!(wrapped(&parts[1], true), b"err\n");
    for piece in parts.iter().flatten() {
        if let Piece::Stdout(e) | Piece::Stderr(e) = piece {
            assert_eq!(e.timestamp, None, "{}", short(e));
        }
    }
}

// ---------------------------------------------------------------------
// 7. Rerouting in place: the bytes of re-encoding
// ---------------------------------------------------------------------

/// The prefixes tried: input numbers, a name, and one too long for the
/// route code field to be copied whole.
const PREFIXES: [&str; 4] = ["0", "15", "unit", "a-route-code-of-thirty-bytes-x"];

/// Reroutes every packet of `stream` under every prefix, twice (the
/// second time from what the first worked out), and checks the bytes and
/// the outcome against `encode::reroute` (the re-encoding subunit-mux did
/// before), and, for packets in the shortest form, against encoding the
/// packet's fields anew with the new route code. Returns the packets.
fn check_rerouting(stream: &[u8], what: &str, rerouters: &mut [Rerouter]) -> usize {
    let mut reader = StreamReader::new(stream);
    let mut packets = 0;
    let (mut expected, mut got, mut again) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(item) = reader.next().expect("reading a buffer") {
        let Item::Packet(packet) = item else { continue };
        packets += 1;
        let event = OwnedEvent::from_packet(&packet);
        let mut canonical = Vec::new();
        event.encode(&mut canonical);
        let shortest = canonical == packet.raw();
        for (rerouter, prefix) in rerouters.iter_mut().zip(PREFIXES) {
            let route = match packet.route_code() {
                Some(old) => format!("{prefix}/{old}"),
                None => prefix.to_owned(),
            };
            expected.clear();
            got.clear();
            again.clear();
            let want = reroute(&packet, &route, &mut expected);
            let label = format!("{what}: packet {packets} under {prefix} ({})", packet.len());
            assert_eq!(rerouter.reroute(&packet, &mut got), want, "{label}");
            assert_eq!(rerouter.reroute(&packet, &mut again), want, "{label}");
            assert!(
                got == expected,
                "{label}: differs at {}",
                first_difference(&got, &expected)
            );
            assert!(again == got, "{label}: the second time differs");
            if shortest && want.is_ok() {
                let mut encoded = Vec::new();
                OwnedEvent {
                    route_code: Some(route),
                    ..event.clone()
                }
                .encode(&mut encoded);
                assert!(got == encoded, "{label}: not what encoding gives");
            }
        }
    }
    packets
}

/// A packet of exactly `len` bytes with few fields: test id, file and
/// route code `route`; none for the lengths that the length field's
/// widening skips (64 and 16384).
fn sized_packet(len: usize, route: Option<&str>) -> Option<Vec<u8>> {
    let encoded = |n: usize| {
        let mut out = Vec::new();
        OwnedEvent {
            status: Status::Fail,
            test_id: Some("t".into()),
            file: Some(("f".into(), vec![SIGNATURE; n])),
            route_code: route.map(str::to_owned),
            ..OwnedEvent::default()
        }
        .encode(&mut out);
        out
    };
    // The varints of the length and of the content length grow by at
    // most four bytes over those of an empty file.
    let around = (len + 4).saturating_sub(encoded(0).len());
    (around.saturating_sub(8)..=around)
        .rev()
        .map(encoded)
        .find(|out| out.len() == len)
}

#[test]
fn rerouting_raw_bytes_gives_what_re_encoding_gave() {
    let mut rerouters = PREFIXES.map(Rerouter::new);
    let mut packets = 0;
    // The vectors (non-minimal lengths, 4-byte nanosecond varints, the
    // largest packet, damage) and the corpus of real runs.
    let files = common::vectors().into_iter().map(|(s, _)| s);
    for path in files.chain(common::corpus()) {
        let stream = std::fs::read(&path).expect("read test data");
        packets += check_rerouting(&stream, &path.display().to_string(), &mut rerouters);
    }
    // Generated runs: timestamps, tags, attachments, with and without
    // route codes.
    for (seed, route_codes) in [(3, false), (4, true), (5, false)] {
        let stream = noisy_input(seed, route_codes, 2 << 20);
        packets += check_rerouting(&stream, &format!("run {seed}"), &mut rerouters);
    }
    // Packets whose length field widens from 1 to 2 and from 2 to 3 bytes
    // with the route code, and the largest: split, or kept as chatter.
    let mut stream = Vec::new();
    for route in [None, Some("3"), Some("7/x")] {
        let lens = (30..=70)
            .chain(16_360..=16_390)
            .chain((MAX_PACKET_LEN - 40..=MAX_PACKET_LEN).step_by(4));
        for len in lens {
            let packet = sized_packet(len, route);
            assert_eq!(packet.is_none(), [64, 16_384].contains(&len), "{len}");
            stream.extend(packet.into_iter().flatten());
        }
    }
    packets += check_rerouting(&stream, "sized packets", &mut rerouters);
    // A test id that fills the largest packet: no content to split.
    let id = "x".repeat(MAX_PACKET_LEN - 13);
    packets += check_rerouting(
        &test_packet(&id, Status::Success, None),
        "full id",
        &mut rerouters,
    );
    assert!(packets > 10_000, "{packets} packets");
}
