//! Every test vector (`tests/data/vectors/NAME.subunit`) decodes to exactly
//! its `NAME.jsonl` (SPEC section 2 and the `subunit2json` part of section 4),
//! through the library and through the `subunit2json` binary, whole and in
//! pieces, and without losing a byte.

mod common;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::Stdio;

use common::runs::{self, OwnedEvent, Rng, RunShape};
use subunit_tools::formats::json::JsonLines;
use subunit_tools::{Item, Status, StreamReader, Timestamp, decode};

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

// ---------------------------------------------------------------------------
// JsonLines against a plain serializer

/// `value` as Python's `json.dumps(value, sort_keys=True)` prints it, the
/// slow, obvious way: keys sorted, `", "` and `": "` separators, and strings
/// escaped one character at a time (printable ASCII as is, the short escapes
/// Python uses, everything else as `\uXXXX`, surrogate pairs above U+FFFF).
fn python_dumps(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    ' '..='~' => out.push(c),
                    _ => {
                        for unit in c.encode_utf16(&mut [0; 2]) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_dumps(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_dumps(&Value::String(key.clone()), out);
                out.push_str(": ");
                python_dumps(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// What `library_jsonl` should make of `input`, built independently of
/// `JsonLines`: each packet as an owned event, turned into a
/// `serde_json::Value` and printed by [`python_dumps`]; adjacent chatter
/// merged.
fn reference_jsonl(input: &[u8]) -> Vec<u8> {
    fn print(value: &serde_json::Value, out: &mut String) {
        python_dumps(value, out);
        out.push('\n');
    }
    fn end_chatter(chatter: &mut Vec<u8>, out: &mut String) {
        if !chatter.is_empty() {
            let hex: String = chatter.iter().map(|b| format!("{b:02x}")).collect();
            print(&serde_json::json!({ "chatter_hex": hex }), out);
            chatter.clear();
        }
    }
    let mut reader = StreamReader::new(input);
    let (mut out, mut chatter) = (String::new(), Vec::new());
    while let Some(item) = reader.next().expect("reading from memory cannot fail") {
        match item {
            Item::Packet(packet) => {
                end_chatter(&mut chatter, &mut out);
                print(&OwnedEvent::from_packet(&packet).to_json(), &mut out);
            }
            Item::Chatter(c) => chatter.extend_from_slice(c.bytes),
            Item::Idle => end_chatter(&mut chatter, &mut out),
        }
    }
    end_chatter(&mut chatter, &mut out);
    out.into_bytes()
}

/// Characters that JSON escaping treats differently: quotes, backslashes,
/// every kind of control, DEL, the Latin-1 range, BMP edges, astral planes.
const AWKWARD: &[char] = &[
    '"',
    '\\',
    '/',
    '\n',
    '\r',
    '\t',
    '\u{8}',
    '\u{c}',
    '\u{1}',
    '\u{1f}',
    ' ',
    '~',
    '\u{7f}',
    '\u{80}',
    '\u{a0}',
    'é',
    'ÿ',
    'Ā',
    '日',
    '\u{2028}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{feff}',
    '\u{ffff}',
    '😀',
    '\u{10000}',
    '\u{10ffff}',
];

/// Text of `len` characters: plain ASCII runs (the common case, of every
/// length around the 8-byte words a fast path might read) broken by
/// [`AWKWARD`] characters and arbitrary non-NUL ones.
fn awkward_text(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| match rng.below(10) {
            0..=5 => char::from(b' ' + rng.below(95) as u8),
            6..=8 => *rng.pick(AWKWARD),
            _ => loop {
                match char::from_u32(1 + rng.below(0x10_ffff) as u32) {
                    Some(c) => break c,
                    None => continue,
                }
            },
        })
        .collect()
}

/// A stream of random packets with awkward text in every string field,
/// attachments of every varint width up to 1 MiB, chatter between them, and
/// now and then a flipped bit or a packet cut short.
fn awkward_stream(seed: u64, packets: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for _ in 0..packets {
        let text = |rng: &mut Rng| {
            let len = match rng.below(4) {
                0 => rng.below(4),
                1 | 2 => rng.below(40),
                _ => rng.below(300),
            };
            awkward_text(rng, len as usize)
        };
        let event = OwnedEvent {
            status: Status::from_bits(rng.below(8) as u8),
            runnable: rng.chance(70),
            eof: rng.chance(30),
            timestamp: rng.chance(80).then(|| {
                let (any_seconds, any_nanos) = (rng.next_u64() as u32, rng.below(1 << 30) as u32);
                Timestamp {
                    seconds: *rng.pick(&[0, 9, 10, 99, 100, 1_700_000_000, u32::MAX, any_seconds]),
                    nanos: *rng.pick(&[0, 1, 10, 999_999_999, (1 << 30) - 1, any_nanos]),
                }
            }),
            test_id: rng.chance(90).then(|| text(&mut rng)),
            tags: rng.chance(50).then(|| {
                // Duplicates too: tags are a set.
                let n = rng.below(6) as usize;
                let mut tags: Vec<String> = (0..n).map(|_| text(&mut rng)).collect();
                if n > 1 && rng.chance(30) {
                    tags.push(tags[0].clone());
                }
                tags
            }),
            mime: rng.chance(20).then(|| text(&mut rng)),
            file: rng.chance(30).then(|| {
                let len = *rng.pick(&[0, 1, 7, 8, 9, 63, 64, 100, 16_383, 16_384, 70_000]);
                let len = if rng.chance(2) { 1 << 20 } else { len };
                let content = (0..len).map(|_| rng.next_u64() as u8).collect();
                (text(&mut rng), content)
            }),
            route_code: rng.chance(20).then(|| text(&mut rng)),
        };
        let start = out.len();
        event.encode(&mut out);
        if rng.chance(3) {
            let at = start + rng.below((out.len() - start) as u64) as usize;
            out[at] ^= 1 << rng.below(8);
        } else if rng.chance(2) {
            out.truncate(start + rng.below((out.len() - start) as u64) as usize);
        }
        if rng.chance(10) {
            let chatter: &[u8] = rng.pick::<&[u8]>(&[
                &b"make: ok\n"[..],
                b"\xb3",
                b"\xb3\x29",
                "ünï\n".as_bytes(),
                b"\0\x01\x7f\xff",
            ]);
            out.extend_from_slice(chatter);
        }
    }
    out
}

/// Every file under `tests/data` but the JSON Lines and READMEs: vectors,
/// the corpus, fuzz seeds (mostly not subunit at all: all chatter).
fn data_files() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read tests/data") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if !path.extension().is_some_and(|e| e == "jsonl" || e == "md") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&common::data_dir(), &mut files);
    files.sort();
    files
}

/// `JsonLines` prints, byte for byte, what the obvious serializer prints:
/// for every data file, generated runs with chatter, and streams of awkward
/// text, big attachments and damage. (The interop tests check the same
/// against python itself on fewer inputs.)
#[test]
fn json_lines_match_a_plain_serializer() {
    let mut inputs: Vec<(String, Vec<u8>)> = data_files()
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("read data file"),
            )
        })
        .collect();
    for seed in 1..=3 {
        let shape = RunShape {
            seed,
            tests: 300,
            unfinished: 5,
            route_codes: seed == 2,
            ..RunShape::default()
        };
        inputs.push((
            format!("run seed {seed}"),
            runs::stream_with_chatter(&shape, 10),
        ));
    }
    for seed in 1..=12 {
        inputs.push((format!("awkward seed {seed}"), awkward_stream(seed, 300)));
    }
    let mut failures = Vec::new();
    for (name, input) in &inputs {
        let (expected, actual) = (reference_jsonl(input), library_jsonl(input.as_slice()));
        if expected != actual {
            failures.push(format!("{name}: {}", first_difference(&expected, &actual)));
        }
    }
    check_all(failures);
}
