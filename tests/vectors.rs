//! Every test vector (`tests/data/vectors/NAME.subunit`) decodes to exactly
//! its `NAME.jsonl` (SPEC section 2 and the `subunit2json` part of section 4),
//! through the library and through the `subunit2json` binary, whole and in
//! pieces, and without losing a byte.

mod common;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::Stdio;

use common::runs::Rng;
use subunit_tools::formats::json::JsonLines;
use subunit_tools::{Item, StreamReader, decode};

/// Inputs up to this size written one byte at a time pause after each byte.
const PACED_MAX: usize = 4096;
const PACE: std::time::Duration = std::time::Duration::from_micros(50);

/// The one vector too large for 1-byte writes to a pipe in reasonable time.
const MAX_SIZE_VECTOR: &str = "09-max-size-packet";

struct Vector {
    name: String,
    input: Vec<u8>,
    jsonl: Vec<u8>,
    path: PathBuf,
}

fn load_vectors() -> Vec<Vector> {
    common::vectors()
        .into_iter()
        .map(|(subunit, json)| Vector {
            name: subunit
                .file_stem()
                .expect("vector file name")
                .to_string_lossy()
                .into_owned(),
            input: std::fs::read(&subunit).expect("read vector stream"),
            jsonl: std::fs::read(&json).expect("read vector jsonl"),
            path: subunit,
        })
        .collect()
}

/// A `Read` that hands out its data in pieces: all of size `max`, or of
/// random sizes in `1..=max` when given a generator.
struct Pieces<'a> {
    data: &'a [u8],
    max: usize,
    rng: Option<Rng>,
}

impl<'a> Pieces<'a> {
    fn fixed(data: &'a [u8], size: usize) -> Pieces<'a> {
        Pieces {
            data,
            max: size,
            rng: None,
        }
    }

    fn random(data: &'a [u8], seed: u64, max: usize) -> Pieces<'a> {
        Pieces {
            data,
            max,
            rng: Some(Rng::new(seed)),
        }
    }

    fn next_size(&mut self) -> usize {
        match &mut self.rng {
            None => self.max,
            Some(rng) => 1 + rng.below(self.max as u64) as usize,
        }
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.data.is_empty() {
            return Ok(0);
        }
        let n = self.next_size().min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// The JSON Lines the library makes of `source`, written as `subunit2json`
/// does: chatter closed at `Idle` and at the end.
fn library_jsonl(source: impl Read) -> Vec<u8> {
    let mut reader = StreamReader::new(source);
    let mut lines = JsonLines::new();
    let mut out = Vec::new();
    while let Some(item) = reader.next().expect("reading from memory cannot fail") {
        match item {
            Item::Packet(packet) => lines.packet(&packet, &mut out),
            Item::Chatter(chatter) => lines.chatter(chatter.bytes, &mut out),
            Item::Idle => lines.end_chatter(&mut out),
        }
        .expect("writing to a Vec cannot fail");
    }
    lines.end_chatter(&mut out).expect("write to Vec");
    out
}

fn merged(jsonl: &[u8]) -> String {
    common::merge_chatter_lines(std::str::from_utf8(jsonl).expect("JSON Lines are UTF-8"))
}

/// A short description of where `actual` first differs from `expected`
/// (both JSON Lines), instead of dumping megabytes.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    fn clip(line: Option<&[u8]>) -> String {
        match line {
            None => "<no line>".into(),
            Some(line) => {
                let text = String::from_utf8_lossy(line);
                if text.chars().count() > 160 {
                    format!("{}...", text.chars().take(160).collect::<String>())
                } else {
                    text.into_owned()
                }
            }
        }
    }
    let mut exp = expected.split(|&b| b == b'\n');
    let mut act = actual.split(|&b| b == b'\n');
    for number in 1.. {
        let (e, a) = (exp.next(), act.next());
        if e.is_none() && a.is_none() {
            break;
        }
        if e != a {
            return format!(
                "line {number} differs ({} vs {} bytes in all)\n    expected: {}\n    actual:   {}",
                expected.len(),
                actual.len(),
                clip(e),
                clip(a)
            );
        }
    }
    "outputs are equal".into()
}

fn check_all(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn library_reproduces_every_jsonl_byte_for_byte() {
    let mut failures = Vec::new();
    for v in load_vectors() {
        let file = std::fs::File::open(&v.path).expect("open vector");
        let out = library_jsonl(file);
        if out != v.jsonl {
            failures.push(format!("{}: {}", v.name, first_difference(&v.jsonl, &out)));
        }
    }
    check_all(failures);
}

#[test]
fn library_reads_every_vector_one_byte_at_a_time() {
    let mut failures = Vec::new();
    for v in load_vectors() {
        let out = library_jsonl(Pieces::fixed(&v.input, 1));
        let (expected, actual) = (merged(&v.jsonl), merged(&out));
        if expected != actual {
            failures.push(format!(
                "{} (1-byte reads): {}",
                v.name,
                first_difference(expected.as_bytes(), actual.as_bytes())
            ));
        }
    }
    check_all(failures);
}

#[test]
fn library_reads_every_vector_in_random_pieces() {
    // Piece sizes from tiny (every header split) through larger than the
    // reader's initial buffer.
    const CASES: [(u64, usize); 6] = [
        (1, 2),
        (2, 7),
        (3, 64),
        (4, 1000),
        (5, 70_000),
        (6, 600_000),
    ];
    let mut failures = Vec::new();
    for v in load_vectors() {
        for (seed, max) in CASES {
            let out = library_jsonl(Pieces::random(&v.input, seed, max));
            let (expected, actual) = (merged(&v.jsonl), merged(&out));
            if expected != actual {
                failures.push(format!(
                    "{} (seed {seed}, pieces 1..={max}): {}",
                    v.name,
                    first_difference(expected.as_bytes(), actual.as_bytes())
                ));
            }
        }
    }
    check_all(failures);
}

/// SPEC 2: nothing is lost. Chatter and packets, in order, are the input;
/// each chatter item's offset is where it lies; each packet's raw bytes are a
/// packet on their own.
fn check_lossless(name: &str, input: &[u8], source: impl Read, failures: &mut Vec<String>) {
    let mut reader = StreamReader::new(source);
    let mut rebuilt = Vec::with_capacity(input.len());
    loop {
        let item = match reader.next() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                failures.push(format!("{name}: read error {e}"));
                return;
            }
        };
        match item {
            Item::Packet(packet) => {
                let raw = packet.raw();
                match decode(raw) {
                    Ok(Some(alone)) if alone.len() == raw.len() => {}
                    other => failures.push(format!(
                        "{name}: packet at offset {} does not decode on its own to its {} bytes: {other:?}",
                        rebuilt.len(),
                        raw.len()
                    )),
                }
                rebuilt.extend_from_slice(raw);
            }
            Item::Chatter(chatter) => {
                if chatter.offset != rebuilt.len() as u64 {
                    failures.push(format!(
                        "{name}: chatter reported at offset {} but it follows {} bytes",
                        chatter.offset,
                        rebuilt.len()
                    ));
                }
                if chatter.bytes.is_empty() {
                    failures.push(format!(
                        "{name}: empty chatter at offset {}",
                        chatter.offset
                    ));
                }
                rebuilt.extend_from_slice(chatter.bytes);
            }
            Item::Idle => failures.push(format!("{name}: Idle from a non-live reader")),
        }
    }
    if reader.offset() != input.len() as u64 {
        failures.push(format!(
            "{name}: reader ended at offset {} of {}",
            reader.offset(),
            input.len()
        ));
    }
    if rebuilt != input {
        let at = common::first_difference(&rebuilt, input);
        failures.push(format!(
            "{name}: chatter + packets ({} bytes) differ from the input ({} bytes) at offset {at}",
            rebuilt.len(),
            input.len()
        ));
    }
}

#[test]
fn chatter_and_packets_reassemble_every_vector() {
    let mut failures = Vec::new();
    for v in load_vectors() {
        check_lossless(&v.name, &v.input, &v.input[..], &mut failures);
        check_lossless(
            &format!("{} (random pieces 1..=5)", v.name),
            &v.input,
            Pieces::random(&v.input, 7, 5),
            &mut failures,
        );
    }
    check_all(failures);
}

#[test]
fn binary_reproduces_every_jsonl_from_a_file_argument() {
    let mut failures = Vec::new();
    for v in load_vectors() {
        let output = common::ours("subunit2json")
            .arg(&v.path)
            .stdin(Stdio::null())
            .output()
            .expect("run subunit2json");
        if !output.status.success() {
            failures.push(format!(
                "{}: exit status {} (stderr: {})",
                v.name,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        if output.stdout != v.jsonl {
            failures.push(format!(
                "{}: {}",
                v.name,
                first_difference(&v.jsonl, &output.stdout)
            ));
        }
    }
    check_all(failures);
}

/// How a writer thread feeds the binary's stdin.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// One byte per write.
    Bytes,
    /// Writes of random sizes in `1..=max`.
    Random { seed: u64, max: usize },
}

/// Runs `subunit2json` on a real pipe fed by a thread in pieces (a write and
/// a flush each), returning (exit status success, stdout, stderr, write
/// error if any).
fn run_piped(input: &[u8], feed: Feed) -> (bool, Vec<u8>, String, Option<io::Error>) {
    let mut child = common::ours("subunit2json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn subunit2json");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = input.to_vec();
    // A writer outpaces the reader and fills the pipe, so the command would
    // read big pieces anyway; pausing after each write of a small input makes
    // it really see the input piece by piece (and pause inside packets).
    let paced = matches!(feed, Feed::Bytes) && input.len() <= PACED_MAX;
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let mut rest = &data[..];
        let mut rng = match feed {
            Feed::Bytes => None,
            Feed::Random { seed, .. } => Some(Rng::new(seed)),
        };
        while !rest.is_empty() {
            let size = match (feed, &mut rng) {
                (Feed::Random { max, .. }, Some(rng)) => 1 + rng.below(max as u64) as usize,
                _ => 1,
            };
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            stdin.write_all(piece)?;
            stdin.flush()?;
            rest = tail;
            if paced {
                std::thread::sleep(PACE);
            }
        }
        Ok(()) // dropping stdin closes the pipe
    });
    let output = child.wait_with_output().expect("wait for subunit2json");
    let written = writer.join().expect("writer thread panicked");
    (
        output.status.success(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
        written.err(),
    )
}

fn check_piped(v: &Vector, feed: Feed, failures: &mut Vec<String>) {
    let (ok, stdout, stderr, write_error) = run_piped(&v.input, feed);
    let what = format!("{} ({feed:?} on stdin)", v.name);
    if !ok {
        failures.push(format!("{what}: failed (stderr: {stderr})"));
    }
    if let Some(e) = write_error {
        failures.push(format!("{what}: writing to its stdin failed: {e}"));
    }
    let (expected, actual) = (merged(&v.jsonl), merged(&stdout));
    if expected != actual {
        failures.push(format!(
            "{what}: {}",
            first_difference(expected.as_bytes(), actual.as_bytes())
        ));
    }
}

fn is_max_size(v: &Vector) -> bool {
    v.name == MAX_SIZE_VECTOR
}

#[test]
fn binary_reads_every_vector_from_a_pipe_in_one_byte_writes() {
    let mut failures = Vec::new();
    for v in load_vectors() {
        // 4 MiB in 1-byte writes through a debug build takes minutes, so the
        // max-size packet gets small random writes (1..=64 bytes) instead;
        // it is still split across thousands of reads.
        let feed = if is_max_size(&v) {
            Feed::Random { seed: 9, max: 64 }
        } else {
            Feed::Bytes
        };
        check_piped(&v, feed, &mut failures);
    }
    check_all(failures);
}

#[test]
fn binary_reads_every_vector_from_a_pipe_in_random_writes() {
    let mut failures = Vec::new();
    for v in load_vectors() {
        for feed in [
            Feed::Random { seed: 11, max: 17 },
            Feed::Random {
                seed: 12,
                max: 100_000,
            },
        ] {
            check_piped(&v, feed, &mut failures);
        }
    }
    check_all(failures);
}
