//! Realistic subunit runs for tests and benchmarks: parallel workers
//! interleaving their tests, tags, attachments, skips, failures, xfails,
//! tests that never finish, route codes and chatter.
//!
//! Shared by the integration tests (`mod common`) and by
//! `examples/gen_stream.rs` (through `#[path]`), so keep it free of test-only
//! dependencies.
#![allow(dead_code)] // each user needs a different part

use std::fmt::Write as _;

use subunit_tools::{Event, Packet, Status, Timestamp, encode};

/// A small deterministic PRNG (splitmix64): reproducible streams from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One event with owned fields: what the generator makes, what tests
/// compare, in the form of `vectors/*.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedEvent {
    pub status: Status,
    pub runnable: bool,
    pub eof: bool,
    pub timestamp: Option<Timestamp>,
    pub test_id: Option<String>,
    pub tags: Option<Vec<String>>,
    pub mime: Option<String>,
    pub file: Option<(String, Vec<u8>)>,
    pub route_code: Option<String>,
}

impl OwnedEvent {
    pub fn from_packet(p: &Packet<'_>) -> OwnedEvent {
        OwnedEvent {
            status: p.status(),
            runnable: p.runnable(),
            eof: p.eof(),
            timestamp: p.timestamp(),
            test_id: p.test_id().map(str::to_owned),
            tags: p.tags().map(|t| t.map(str::to_owned).collect()),
            mime: p.mime().map(str::to_owned),
            file: p.file().map(|f| (f.name.to_owned(), f.content.to_vec())),
            route_code: p.route_code().map(str::to_owned),
        }
    }

    /// Appends the encoded packet(s).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let tags: Option<Vec<&str>> = self
            .tags
            .as_ref()
            .map(|t| t.iter().map(String::as_str).collect());
        let event = Event {
            status: self.status,
            runnable: self.runnable,
            eof: self.eof,
            timestamp: self.timestamp,
            test_id: self.test_id.as_deref(),
            tags: tags.as_deref(),
            mime: self.mime.as_deref(),
            file: self.file.as_ref().map(|(n, c)| (n.as_str(), c.as_slice())),
            route_code: self.route_code.as_deref(),
        };
        encode(&event, out).expect("generated events are encodable");
    }

    /// The event as an object of `vectors/*.jsonl` (tags sorted), for
    /// comparing with parsed JSON Lines.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        obj.insert("status".into(), self.status.name().into());
        obj.insert("runnable".into(), self.runnable.into());
        obj.insert("eof".into(), self.eof.into());
        if let Some(ts) = self.timestamp {
            obj.insert(
                "timestamp".into(),
                serde_json::json!([ts.seconds, ts.nanos]),
            );
        }
        if let Some(id) = &self.test_id {
            obj.insert("test_id".into(), id.as_str().into());
        }
        if let Some(tags) = &self.tags {
            let mut tags = tags.clone();
            tags.sort();
            tags.dedup();
            obj.insert("tags".into(), tags.into());
        }
        if let Some(mime) = &self.mime {
            obj.insert("mime".into(), mime.as_str().into());
        }
        if let Some((name, content)) = &self.file {
            obj.insert("file_name".into(), name.as_str().into());
            let mut hex = String::with_capacity(content.len() * 2);
            for b in content {
                let _ = write!(hex, "{b:02x}");
            }
            obj.insert("file_hex".into(), hex.into());
        }
        if let Some(route) = &self.route_code {
            obj.insert("route_code".into(), route.as_str().into());
        }
        serde_json::Value::Object(obj)
    }
}

/// The shape of a generated run.
#[derive(Clone, Debug)]
pub struct RunShape {
    pub seed: u64,
    /// Tests to run (the generator stops earlier once `max_bytes` is reached).
    pub tests: usize,
    /// Parallel workers, each tagged `worker-N`, interleaved.
    pub workers: usize,
    /// Give each worker's packets route code `N`.
    pub route_codes: bool,
    /// Percent of tests with stdout/stderr attachments.
    pub attachment_percent: u64,
    /// Percent of tests that fail (with a traceback), skip, xfail, uxsuccess.
    pub fail_percent: u64,
    pub skip_percent: u64,
    pub xfail_percent: u64,
    pub uxsuccess_percent: u64,
    /// Tests left in progress at the end.
    pub unfinished: usize,
    /// Enumerate every test with an `exists` packet first.
    pub enumerate: bool,
    /// Non-ASCII test ids now and then.
    pub unicode: bool,
    /// Stop after about this many bytes.
    pub max_bytes: usize,
}

impl Default for RunShape {
    fn default() -> RunShape {
        RunShape {
            seed: 1,
            tests: 200,
            workers: 4,
            route_codes: false,
            attachment_percent: 20,
            fail_percent: 5,
            skip_percent: 5,
            xfail_percent: 2,
            uxsuccess_percent: 1,
            unfinished: 0,
            enumerate: false,
            unicode: true,
            max_bytes: usize::MAX,
        }
    }
}

const MODULES: &[&str] = &["api", "compute", "network", "storage", "identity", "image"];
const WORDS: &[&str] = &[
    "create", "delete", "list", "show", "update", "resize", "attach", "detach", "boot", "rebuild",
    "snapshot", "migrate",
];

fn test_id(rng: &mut Rng, n: usize, unicode: bool) -> String {
    let module = rng.pick(MODULES);
    let word = rng.pick(WORDS);
    let suffix = if unicode && rng.chance(3) { "_é" } else { "" };
    format!(
        "tests.{module}.test_{module}.{}Test.test_{word}_{n}{suffix}",
        capitalise(module)
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn text(rng: &mut Rng, lines: u64) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..lines {
        let _ = writeln!(
            out,
            "{} INFO tempest.lib.common.rest_client [req-{:08x}] Request {i}: {} /v2/{}",
            1_700_000_000 + rng.below(1000),
            rng.next_u64() as u32,
            rng.pick(&["GET", "POST", "PUT", "DELETE"]),
            rng.pick(WORDS),
        );
    }
    out.into_bytes()
}

/// The events of a run of the given shape, in stream order.
pub fn run(shape: &RunShape) -> Vec<OwnedEvent> {
    let mut events = Vec::new();
    generate(shape, |e| {
        events.push(e);
        true
    });
    events
}

/// The run encoded with our encoder.
pub fn stream(shape: &RunShape) -> Vec<u8> {
    let mut out = Vec::new();
    generate(shape, |e| {
        e.encode(&mut out);
        out.len() < shape.max_bytes
    });
    out
}

/// The run encoded with our encoder, with chatter between packets: before
/// about `percent` percent of the packets a line of build output, and now
/// and then a `stdout` file packet without a test id (what subunit-wrap
/// makes of chatter).
pub fn stream_with_chatter(shape: &RunShape, percent: u64) -> Vec<u8> {
    stream_with(shape, percent, 0)
}

/// [`stream_with_chatter`], and about `unfinished_percent` percent of the
/// tests, all through the run, start (with their attachments) and never
/// finish, their worker moving on (see [`generate_with`]).
pub fn stream_with(shape: &RunShape, percent: u64, unfinished_percent: u64) -> Vec<u8> {
    let mut rng = Rng::new(shape.seed ^ 0xC4A7);
    let mut out = Vec::new();
    generate_with(shape, unfinished_percent, |e| {
        if rng.chance(percent) {
            let dir = rng.pick(MODULES);
            out.extend_from_slice(
                format!("make[2]: Entering directory '/build/{dir}'\n").as_bytes(),
            );
        }
        if rng.chance(percent / 4) {
            OwnedEvent {
                runnable: true,
                file: Some(("stdout".into(), text(&mut rng, 1))),
                ..OwnedEvent::default()
            }
            .encode(&mut out);
        }
        e.encode(&mut out);
        out.len() < shape.max_bytes
    });
    out
}

/// Calls `emit` with each event of the run until it returns false.
pub fn generate(shape: &RunShape, emit: impl FnMut(OwnedEvent) -> bool) {
    generate_with(shape, 0, emit);
}

/// [`generate`], with about `unfinished_percent` percent of the tests (drawn
/// as each starts) never finishing. Kept apart from [`RunShape`] so that the
/// tests' shapes stay as they are; with 0 the run is [`generate`]'s.
pub fn generate_with(
    shape: &RunShape,
    unfinished_percent: u64,
    mut emit: impl FnMut(OwnedEvent) -> bool,
) {
    let mut rng = Rng::new(shape.seed);
    let mut clock = Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    };
    let mut tick = |rng: &mut Rng| {
        // Microsecond steps: python-subunit keeps microseconds only.
        let micros = 1 + rng.below(200_000) as u32;
        let nanos = clock.nanos + micros * 1000;
        clock.seconds += nanos / 1_000_000_000;
        clock.nanos = nanos % 1_000_000_000;
        clock
    };
    let ids: Vec<String> = (0..shape.tests)
        .map(|n| test_id(&mut rng, n, shape.unicode))
        .collect();
    let workers = shape.workers.max(1);
    let route = |w: usize| shape.route_codes.then(|| w.to_string());
    let tags = |w: usize| Some(vec![format!("worker-{w}")]);

    if shape.enumerate {
        for id in &ids {
            let e = OwnedEvent {
                status: Status::Exists,
                runnable: true,
                test_id: Some(id.clone()),
                timestamp: Some(tick(&mut rng)),
                ..OwnedEvent::default()
            };
            if !emit(e) {
                return;
            }
        }
    }

    // Each worker works through its share of the tests, one step at a time:
    // start, maybe attachments, then the outcome.
    #[derive(Clone, Copy)]
    enum Step {
        Start,
        Attach(u8),
        Finish,
    }
    let finished_tests = shape.tests.saturating_sub(shape.unfinished);
    let mut queues: Vec<Vec<usize>> = vec![Vec::new(); workers];
    for n in (0..shape.tests).rev() {
        queues[n % workers].push(n);
    }
    let mut current: Vec<Option<(usize, Step)>> = vec![None; workers];
    // Whether each worker's current test is one that never finishes.
    let mut abandoned = vec![false; workers];
    loop {
        let busy: Vec<usize> = (0..workers)
            .filter(|&w| current[w].is_some() || !queues[w].is_empty())
            .collect();
        if busy.is_empty() {
            return;
        }
        let w = *rng.pick(&busy);
        let (n, step) = match current[w] {
            Some(state) => state,
            None => (queues[w].pop().expect("busy worker"), Step::Start),
        };
        let id = Some(ids[n].clone());
        let ts = Some(tick(&mut rng));
        let event = match step {
            Step::Start => {
                // No draw at 0, so that the other runs stay the same.
                abandoned[w] = unfinished_percent > 0 && rng.chance(unfinished_percent);
                let next = if rng.chance(shape.attachment_percent) {
                    Step::Attach(0)
                } else {
                    Step::Finish
                };
                current[w] = Some((n, next));
                OwnedEvent {
                    status: Status::InProgress,
                    runnable: true,
                    timestamp: ts,
                    test_id: id,
                    tags: tags(w),
                    route_code: route(w),
                    ..OwnedEvent::default()
                }
            }
            Step::Attach(k) => {
                let name = ["stdout", "stderr", "pythonlogging:''"][usize::from(k % 3)];
                let lines = 1 + rng.below(8);
                let eof = rng.chance(50);
                current[w] = Some((
                    n,
                    if k < 2 && rng.chance(40) {
                        Step::Attach(k + 1)
                    } else {
                        Step::Finish
                    },
                ));
                OwnedEvent {
                    runnable: true,
                    eof,
                    timestamp: ts,
                    test_id: id,
                    mime: Some("text/plain; charset=utf8".into()),
                    file: Some((name.into(), text(&mut rng, lines))),
                    route_code: route(w),
                    ..OwnedEvent::default()
                }
            }
            Step::Finish if n >= finished_tests || abandoned[w] => {
                // Never finishes: the worker moves on.
                current[w] = None;
                continue;
            }
            Step::Finish => {
                current[w] = None;
                let mut roll = rng.below(100);
                let mut status = Status::Success;
                for (outcome, percent) in [
                    (Status::Fail, shape.fail_percent),
                    (Status::Skip, shape.skip_percent),
                    (Status::XFail, shape.xfail_percent),
                    (Status::UxSuccess, shape.uxsuccess_percent),
                ] {
                    if roll < percent {
                        status = outcome;
                        break;
                    }
                    roll -= percent;
                }
                let file = match status {
                    Status::Fail => Some((
                        "traceback".to_string(),
                        format!(
                            "Traceback (most recent call last):\n  File \"tests/{n}.py\", line {}, in test\n    self.assertEqual(1, 2)\nAssertionError: 1 != 2\n",
                            rng.below(500)
                        )
                        .into_bytes(),
                    )),
                    Status::Skip => Some(("reason".to_string(), b"not supported here".to_vec())),
                    _ => None,
                };
                OwnedEvent {
                    status,
                    runnable: true,
                    eof: file.is_some(),
                    timestamp: ts,
                    test_id: id,
                    tags: tags(w),
                    mime: file
                        .as_ref()
                        .map(|_| "text/plain; charset=utf8".to_string()),
                    file,
                    route_code: route(w),
                }
            }
        };
        if !emit(event) {
            return;
        }
    }
}
