//! What users give, and what is made of it, against the format's limits
//! and a fast run: a command line too long to be a test id (subunit-wrap),
//! a --rename whose result cannot be encoded, and regular expressions that
//! would take minutes to match (subunit-filter).

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::procs::{Running, TempDir, wait_within};
use common::{Decoded, decode_all, ours, results_stream, run_with_input};
use subunit_tools::{Event, MAX_PACKET_LEN, Status, encode};

fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd` with `input` on its stdin, killing it if it takes longer than
/// the tests' timeout (a slow regular expression).
fn run_within(mut cmd: Command, input: &[u8], what: &str) -> Output {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = TempDir::new(&format!("limits-{}", RUNS.fetch_add(1, Ordering::SeqCst)));
    let path = dir.file("in.subunit", input);
    cmd.arg(&path).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = Running(cmd.spawn().expect("spawn"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).expect("stdout");
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut bytes).expect("stderr");
        bytes
    });
    let status = wait_within(&mut child, what);
    Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

/// The test ids of the packets in `stream`, in order; no chatter allowed.
fn packet_ids(stream: &[u8]) -> Vec<Option<String>> {
    decode_all(stream)
        .into_iter()
        .map(|item| match item {
            Decoded::Packet(e, _) => e.test_id,
            Decoded::Chatter(c) => panic!("chatter in the output: {} bytes", c.len()),
        })
        .collect()
}

// ---------------------------------------------------------------------
// subunit-wrap: the command line as the test id
// ---------------------------------------------------------------------

/// A command line of more than 4 MiB once quoted: each `'` is written
/// `'\''` in the test id, so the arguments themselves stay within what
/// the kernel lets one command line hold (about 2 MiB).
#[test]
fn a_command_line_too_long_for_a_test_id_is_cut_short() {
    let word = "'".repeat(120_000);
    let mut cmd = ours("subunit-wrap");
    cmd.args([
        "--no-timestamps",
        "--",
        "sh",
        "-c",
        "echo out; exit 3",
        "sh",
    ]);
    for _ in 0..9 {
        cmd.arg(&word);
    }
    let full_id = format!(
        "sh -c 'echo out; exit 3' sh{}",
        format!(" '{}'", r"'\''".repeat(120_000)).repeat(9)
    );
    assert!(full_id.len() > MAX_PACKET_LEN, "the id must not fit");
    let out = cmd.output().expect("run subunit-wrap");
    let stderr = stderr_text(&out);
    assert_eq!(out.status.code(), Some(3), "CMD's status: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let ids: Vec<String> = packet_ids(&out.stdout).into_iter().flatten().collect();
    assert_eq!(ids.len(), 2, "in progress, then fail");
    assert_eq!(ids[0], ids[1]);
    let id = &ids[0];
    let kept = id.strip_suffix('…').expect("the cut is marked with …");
    assert!(full_id.starts_with(kept), "the start of the command line");
    assert!(
        kept.len() > MAX_PACKET_LEN - 4096,
        "cut no shorter than needed: {} bytes",
        kept.len()
    );
}

/// The command-line word `word` as subunit-wrap quotes it in the test id.
fn quoted(word: &str) -> String {
    if word.chars().all(|c| c.is_alphanumeric()) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Words that make the test id of `sh -c SCRIPT sh WORDS...` exactly
/// `len` bytes long, most of them quotes (4 bytes each once quoted), so
/// the command line itself stays a quarter of that.
fn words_for_id(script: &str, len: usize) -> (Vec<String>, String) {
    let mut id = format!("sh -c {} sh", quoted(script));
    let mut words = Vec::new();
    let mut push = |word: String, id: &mut String| {
        id.push(' ');
        id.push_str(&quoted(&word));
        words.push(word);
    };
    let full = 1 + quoted(&"'".repeat(120_000)).len();
    while len - id.len() > full + 10 {
        push("'".repeat(120_000), &mut id);
    }
    // A word of x (m + 1 bytes with its space), then one of quotes
    // (4k + 3 bytes), to land exactly.
    let rest = len - id.len();
    let m = (1..=4)
        .find(|m| (rest - (m + 1) - 3) % 4 == 0)
        .expect("a fit");
    push("x".repeat(m), &mut id);
    let k = (len - id.len() - 3) / 4;
    push("'".repeat(k), &mut id);
    assert_eq!(id.len(), len);
    (words, id)
}

/// An id that just fits an in-progress packet must fit the final one too,
/// which carries an exit-status attachment.
#[test]
fn a_command_line_near_the_limit_fits_every_packet_of_its_test() {
    let runs = [13, 20, 40, 60, 200, 5000].map(|spare| (spare, "--no-timestamps"));
    for (spare, timestamps) in runs
        .into_iter()
        .chain([(13, "--mime=text/plain"), (60, "--mime=x")])
    {
        let (words, full_id) = words_for_id("exit 1", MAX_PACKET_LEN - spare);
        let mut cmd = ours("subunit-wrap");
        cmd.args([timestamps, "--", "sh", "-c", "exit 1", "sh"]);
        cmd.args(&words);
        let out = cmd.output().expect("run subunit-wrap");
        let stderr = stderr_text(&out);
        assert_eq!(out.status.code(), Some(1), "spare {spare}: {stderr:.300}");
        let ids: Vec<String> = packet_ids(&out.stdout).into_iter().flatten().collect();
        assert_eq!(ids.len(), 2, "spare {spare}");
        assert_eq!(ids[0], ids[1], "spare {spare}");
        match ids[0].strip_suffix('…') {
            Some(kept) => assert!(full_id.starts_with(kept), "spare {spare}"),
            None => assert!(
                ids[0] == full_id,
                "spare {spare}: the id is whole or marked as cut"
            ),
        }
        if spare >= 1000 {
            assert!(
                ids[0] == full_id,
                "spare {spare}: an id that fits is kept whole"
            );
        }
    }
}

// ---------------------------------------------------------------------
// subunit-filter: --rename beyond the limit
// ---------------------------------------------------------------------

fn test_packets(id: &str, status: Status) -> Vec<u8> {
    let mut out = Vec::new();
    for (status, file) in [
        (Status::InProgress, None),
        (Status::Unset, Some(("log", &b"some output"[..]))),
        (status, None),
    ] {
        let event = Event {
            status,
            runnable: true,
            test_id: Some(id),
            file,
            eof: file.is_some(),
            ..Event::default()
        };
        encode(&event, &mut out).expect("encode");
    }
    out
}

#[test]
fn a_rename_that_cannot_be_encoded_keeps_the_old_id_and_says_so() {
    // Renamed, these ids triple in length: over the 4 MiB limit.
    let long_a = format!("a.{}", "x".repeat(2 * 1024 * 1024));
    let long_b = format!("b.{}", "x".repeat(2 * 1024 * 1024));
    let mut input = test_packets(&long_a, Status::Fail);
    input.extend(test_packets("tests.short", Status::Fail));
    input.extend(test_packets(&long_b, Status::Fail));
    // Renamed, this one fits its packets but the one with many tags.
    let long_c = format!("c.{}", "x".repeat((MAX_PACKET_LEN - 600) / 3));
    let tags: Vec<String> = (0..100).map(|i| format!("tag-{i:05}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let mut tagged = test_packets(&long_c, Status::Fail);
    let start = Event {
        status: Status::InProgress,
        test_id: Some(&long_c),
        tags: Some(&tags),
        ..Event::default()
    };
    encode(&start, &mut input).expect("encode");
    input.append(&mut tagged);
    let exists = Event {
        status: Status::Exists,
        test_id: Some(&long_a),
        ..Event::default()
    };
    encode(&exists, &mut input).expect("encode");
    let mut cmd = ours("subunit-filter");
    cmd.args([
        "--no-passthrough",
        "--rename",
        "x",
        "xxx",
        "--rename",
        "short",
        "renamed",
    ]);
    let out = run_with_input(cmd, &input);
    let stderr = stderr_text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let ids: Vec<String> = packet_ids(&out.stdout).into_iter().flatten().collect();
    let mut expected = vec![long_a.clone(); 3];
    expected.extend(vec!["tests.renamed".to_owned(); 3]);
    expected.extend(vec![long_b.clone(); 3]);
    expected.extend(vec![long_c.clone(); 4]);
    expected.push(long_a.clone());
    assert!(ids == expected, "every packet of a test keeps one id");
    assert_eq!(stderr.lines().count(), 1, "one warning: {:.300}", stderr);
    assert!(
        stderr.starts_with("subunit-filter: warning: 4 renamed test ids are too long")
            && stderr.contains("kept their old ids")
            && stderr.len() < 400,
        "a count, the first id cut short: {stderr:.500}"
    );
}

// ---------------------------------------------------------------------
// subunit-filter: regular expressions that would take minutes
// ---------------------------------------------------------------------

#[test]
fn a_costly_regular_expression_is_refused_at_once_naming_its_option() {
    // Matching this on a 100k-character id took 42 s: it is a 100000-fold
    // repetition.
    let id = "a".repeat(100_000);
    let input = results_stream(&[(id.as_str(), Status::Fail)]);
    let huge = "(a{100}){100}{10}";
    // Unicode classes are large: a hundred of them in a row.
    let large = r"\w{100}";
    for (args, option, pattern) in [
        (vec!["--with", huge], "--with", huge),
        (
            vec!["--without", "ok", "--without", huge],
            "--without",
            huge,
        ),
        (vec!["--rename", huge, "X"], "--rename", huge),
        (vec!["-m", large], "--with", large),
    ] {
        let started = Instant::now();
        let mut cmd = ours("subunit-filter");
        cmd.args(&args);
        let out = run_within(cmd, &input, &format!("{args:?}"));
        let stderr = stderr_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing written");
        assert!(
            stderr.starts_with("subunit-filter: regular expression ")
                && stderr.contains(&format!("'{pattern}'"))
                && stderr.contains(option)
                && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
        // Not a timing assertion on the matching: refused before any.
        eprintln!("{args:?} refused in {:?}", started.elapsed());
    }
}

#[test]
fn ordinary_and_bounded_regular_expressions_still_work() {
    let long = "a".repeat(100_000);
    let input = results_stream(&[
        ("tests.unit.test_calc.TestAdd.test_one", Status::Fail),
        ("tests.functional.test_api.TestGet.test_é", Status::Fail),
        (long.as_str(), Status::Fail),
    ]);
    let (unit, functional) = (
        "tests.unit.test_calc.TestAdd.test_one",
        "tests.functional.test_api.TestGet.test_é",
    );
    for (args, expected) in [
        (
            vec!["--with", r"^(tests|unit)\.[a-z_]+\.\w+\.Test\w+\.test_\w+"],
            vec![unit, functional],
        ),
        // Several Unicode classes (each about 50 KiB compiled) joined.
        (
            vec![
                "-m",
                r"\w+\.\w+\.\w+\.\w+\.\w+",
                "-m",
                r"\d{4}-\d{2}",
                "-m",
                r"^a[\w.]+failureNone\{\}\Z",
                "-m",
                r"\btest_\w+\b",
                "-m",
                r"(?i)TESTADD",
            ],
            vec![unit, functional, &long],
        ),
        // At the limit of repetition: matched, and in bounded time.
        (vec!["--with", "a{1000}"], vec![&long]),
        (
            vec!["--without", "^tests", "--without", "(a{10}){99}b"],
            vec![&long],
        ),
        (
            vec!["--rename", r"^tests\.(\w+)\.", r"\1:", "--with", "^unit:"],
            vec!["unit:test_calc.TestAdd.test_one"],
        ),
    ] {
        let started = Instant::now();
        let mut cmd = ours("subunit-filter");
        cmd.args(&args);
        let out = run_within(cmd, &input, &format!("{args:?}"));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr_text(&out)
        );
        let ids: Vec<String> = packet_ids(&out.stdout).into_iter().flatten().collect();
        let start = |id: &str| id.chars().take(40).collect::<String>();
        let short: Vec<String> = ids.iter().map(|i| start(i)).collect();
        let expected: Vec<String> = expected.iter().map(|i| start(i)).collect();
        assert_eq!(short, expected, "{args:?}");
        eprintln!("{args:?} took {:?}", started.elapsed());
    }
}

/// A test handed on before its end (--max-held, no room for a temporary
/// file) is renamed too: it keeps its old id the same way.
#[test]
fn a_test_handed_on_early_keeps_its_old_id_when_renamed_too_long() {
    let long = format!("a.{}", "x".repeat(2 * 1024 * 1024));
    let input = test_packets(&long, Status::Fail);
    let mut cmd = ours("subunit-filter");
    cmd.args([
        "--no-passthrough",
        "--max-held",
        "1K",
        "--rename",
        "x",
        "xxx",
    ])
    .env("TMPDIR", "/nonexistent/subunit-tools-test");
    let out = run_with_input(cmd, &input);
    let stderr = stderr_text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr:.500}");
    let ids: Vec<String> = packet_ids(&out.stdout).into_iter().flatten().collect();
    assert_eq!(ids.len(), 3, "{stderr:.500}");
    assert!(
        ids.iter().all(|id| *id == long),
        "the old id in every packet"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("subunit-filter: warning: ") && l.contains("renamed test id")),
        "{stderr:.500}"
    );
    assert!(
        stderr.len() < 2000,
        "ids are cut short in messages: {} bytes",
        stderr.len()
    );
}

// ---------------------------------------------------------------------
// subunit-1to2: a v1 test name too long for a packet
// ---------------------------------------------------------------------

#[test]
fn a_v1_test_name_too_long_for_a_packet_is_cut_short_in_each_packet() {
    // Shorter than the 4 MiB a v1 line may be, longer than an id in a
    // packet may be.
    for len in [MAX_PACKET_LEN - 8, MAX_PACKET_LEN - 70_000] {
        let name = "t".repeat(len);
        let v1 = format!(
            "test: {name}\ntags: slow\nfailure: {name} [\ntraceback\n]\ntest: b\nsuccess: b\n"
        );
        let out = run_with_input(ours("subunit-1to2"), v1.as_bytes());
        let stderr = stderr_text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr:.300}");
        let ids: Vec<String> = packet_ids(&out.stdout).into_iter().flatten().collect();
        let long: Vec<&String> = ids.iter().filter(|id| id.starts_with("ttt")).collect();
        assert!(
            long.len() >= 3,
            "in progress, traceback, failure: {}",
            long.len()
        );
        assert!(
            long.iter().all(|id| *id == long[0]),
            "one id in every packet"
        );
        if len > MAX_PACKET_LEN - 65536 {
            let kept = long[0].strip_suffix('…').expect("cut short with …");
            assert!(name.starts_with(kept));
        } else {
            assert_eq!(*long[0], name, "a name that fits is kept whole");
        }
        assert_eq!(ids.last().map(String::as_str), Some("b"));
    }
}
