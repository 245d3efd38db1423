//! `tap2subunit`: compared with python-subunit's on many TAP inputs, event
//! by event (results in order, and the chatter), and byte for byte where
//! no documented difference applies; TAP 14 subtests, YAML blocks,
//! several streams; nothing lost; results out while the input pauses.

mod common;

use std::process::Command;

use common::procs::LivePipe;
use common::runs::OwnedEvent;
use common::{Decoded, decode_all, ours, run_with_input};
use subunit_tools::Status;

/// The packets of `stream` with a test id, and the concatenated content of
/// its `stdout` packets without one; the stream must be packets only.
fn split(stream: &[u8]) -> (Vec<OwnedEvent>, Vec<u8>) {
    let mut results = Vec::new();
    let mut stdout = Vec::new();
    for item in decode_all(stream) {
        let Decoded::Packet(event, _) = item else {
            panic!("raw chatter in the output: {item:?}");
        };
        match (&event.test_id, &event.file) {
            (Some(_), _) => results.push(event),
            (None, Some((name, content))) if name == "stdout" => stdout.extend(content),
            _ => panic!("unexpected packet {event:?}"),
        }
    }
    (results, stdout)
}

fn tap2subunit(input: &[u8]) -> Vec<u8> {
    let out = run_with_input(ours("tap2subunit"), input);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    out.stdout
}

/// python-subunit's tap2subunit on `input`, if it is here.
fn python(input: &[u8]) -> Option<Vec<u8>> {
    let py = common::python_subunit()?;
    let out = run_with_input(Command::new(py.join("tap2subunit")), input);
    assert!(out.status.success(), "python on {input:?}: {out:?}");
    Some(out.stdout)
}

/// Ours on `input`, whose results (every field of their packets) and
/// chatter must be python's; returns ours.
fn same_events(input: &str) -> (Vec<OwnedEvent>, Vec<u8>) {
    let ours = split(&tap2subunit(input.as_bytes()));
    if let Some(python) = python(input.as_bytes()) {
        let python = split(&python);
        assert_eq!(ours.0, python.0, "results on {input:?}");
        assert_eq!(
            String::from_utf8_lossy(&ours.1),
            String::from_utf8_lossy(&python.1),
            "chatter on {input:?}"
        );
    }
    ours
}

/// (test id, status, attachments as `name: text`) of each result.
fn summary(results: &[OwnedEvent]) -> Vec<(String, Status, String)> {
    results
        .iter()
        .map(|e| {
            let file = e.file.as_ref().map_or(String::new(), |(name, text)| {
                format!("{name}: {}", String::from_utf8_lossy(text))
            });
            (e.test_id.clone().unwrap_or_default(), e.status, file)
        })
        .collect()
}

fn s(id: &str, status: Status, file: &str) -> (String, Status, String) {
    (id.to_owned(), status, file.to_owned())
}

const MISSING: &str = "tap meta: test missing from TAP output";

#[test]
fn plain_tap_is_python_s() {
    let (results, chatter) = same_events(
        "TAP version 13\n1..6\nok 1 - first\nnot ok 2 second\n# got 2\n#   want 1\n\
         ok 3 # SKIP no network\nnot ok 4 - later # TODO not yet\n# known\nok\nok 6 é ünï\n",
    );
    assert_eq!(
        summary(&results),
        [
            s("test 1 - first", Status::Success, ""),
            s(
                "test 2 second",
                Status::Fail,
                "tap comment: # got 2\n#   want 1"
            ),
            s("test 3", Status::Skip, "tap comment: no network"),
            s(
                "test 4 - later",
                Status::XFail,
                "tap comment: not yet\n# known"
            ),
            s("test 5", Status::Success, ""),
            s("test 6 é ünï", Status::Success, ""),
        ]
    );
    assert_eq!(chatter, b"TAP version 13\n");
    assert!(
        results
            .iter()
            .all(|e| !e.runnable && e.eof && e.timestamp.is_none())
    );
}

#[test]
fn plans_missing_numbers_and_bail_out_are_python_s() {
    for input in [
        "1..5\nok 1\nnot ok 4 - late\n",
        "ok 1\nok 2\n1..4\n",
        "1..3 # three\nok 1\n",
        "1..2\nok 1\nok 2\n",
        "ok 1\nok 3\nok 2\nok\n",
        "1..3\nok 1\nBail out! no database\n",
        "1..3\nok 1\nBail out! disk\n# full\n",
        "ok 1\nBail out!  spaced\n",
    ] {
        same_events(input);
    }
    let (results, _) = same_events("1..5\nok 1\nnot ok 4 - late\n");
    assert_eq!(
        summary(&results),
        [
            s("test 1", Status::Success, ""),
            s("test 2", Status::Fail, MISSING),
            s("test 3", Status::Fail, MISSING),
            s("test 4 - late", Status::Fail, ""),
            s("test 5", Status::Fail, MISSING),
        ]
    );
}

#[test]
fn chatter_is_kept_as_python_keeps_it() {
    let (results, chatter) = same_events(
        "make[1]: entering\n1..2\nok 1\nsome output\n\n  indented text\nnot ok 2\nokay\nok1\n",
    );
    assert_eq!(results.len(), 2);
    assert_eq!(
        chatter,
        b"make[1]: entering\nsome output\n\n  indented text\nokay\nok1\n"
    );
}

/// With chatter only before the first result, the output is python's
/// byte for byte.
#[test]
fn byte_for_byte_without_chatter_between_results() {
    let Some(_) = common::python_subunit() else {
        return;
    };
    for input in [
        "TAP version 13\n1..3\nok 1 - a\nnot ok 2 - b\n# why\nok 3 # skip later\n",
        "preamble\nok 1\nnot ok 2 # TODO x\nok 5\n1..6\n",
        "1..2\nok 1 - é\nBail out! gone\n",
    ] {
        let ours = tap2subunit(input.as_bytes());
        assert_eq!(Some(ours), python(input.as_bytes()), "{input:?}");
    }
    // A long run, as perl's Test::More prints one.
    let mut tap = String::from("TAP version 13\n1..20000\n");
    for n in 1..=20_000 {
        match n % 50 {
            7 => tap.push_str(&format!(
                "not ok {n} - case {n}\n#   Failed test at t/a.t line {n}.\n#   got: 1\n"
            )),
            11 => tap.push_str(&format!("ok {n} # skip no network\n")),
            13 => tap.push_str(&format!("not ok {n} - flaky # TODO fix\n")),
            _ => tap.push_str(&format!("ok {n} - case {n}\n")),
        }
    }
    let ours = tap2subunit(tap.as_bytes());
    assert!(Some(ours) == python(tap.as_bytes()), "20000 tests");
}

/// A small xorshift generator: the same inputs every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A TAP stream made of what both read alike: a plan first or last (or
/// none), results numbered in order, with gaps, repeats or no number,
/// descriptions, SKIP and TODO (on failures) directives, diagnostics right
/// after results, chatter before the first result or after a result
/// without diagnostics, and maybe a bail out with a reason at the end.
fn random_tap(rng: &mut Rng) -> String {
    let tests = rng.below(12);
    let mut tap = String::new();
    let plan = rng.below(3);
    if rng.below(2) == 0 {
        tap.push_str("TAP version 13\n");
    }
    if rng.below(3) == 0 {
        tap.push_str("build output\n");
    }
    // Numbers skip ahead by 2 at most: a leading plan is never fulfilled
    // before the last test (after which a test 1 would start a new stream
    // here), and a plan is never 1..0.
    let planned = match plan {
        0 => 3 * tests + 1 + rng.below(3),
        _ => tests + 1 + rng.below(3),
    };
    if plan == 0 {
        tap.push_str(&format!("1..{planned}\n"));
    }
    let mut number = 1;
    for _ in 0..tests {
        let ok = rng.below(3) != 0;
        tap.push_str(if ok { "ok" } else { "not ok" });
        match rng.below(6) {
            0 => {}
            1 => number += 1 + rng.below(2),
            2 => number = number.saturating_sub(1).max(1),
            _ => {}
        }
        if rng.below(5) != 0 {
            tap.push_str(&format!(" {number}"));
        }
        number += 1;
        let description = rng.pick(&["", "- a test", "second one", "- é ünïcode", "-", "x\ty"]);
        if !description.is_empty() {
            tap.push(' ');
            tap.push_str(description);
        }
        match rng.below(5) {
            0 => tap.push_str(rng.pick(&[" # SKIP", " # skip slow", " # SKIP no db here"])),
            1 if !ok => tap.push_str(rng.pick(&[" # TODO", " # todo later", " # TODO fix it"])),
            _ => {}
        }
        tap.push('\n');
        match rng.below(4) {
            0 => tap.push_str("# diagnostic\n"),
            1 => tap.push_str("# got: 1\n#   expected: 2\n"),
            2 => tap.push_str(rng.pick(&["a line of output\n", "\n", "  indented\n"])),
            _ => {}
        }
    }
    if plan == 1 {
        tap.push_str(&format!("1..{planned}\n"));
    }
    // (After a trailing plan, python writes the missing tests after the
    // bail out, at the end of its input; we write them at the plan.)
    if plan != 1 && rng.below(4) == 0 {
        tap.push_str("Bail out! the end\n");
    }
    tap
}

#[test]
fn random_tap_is_python_s() {
    if common::python_subunit().is_none() {
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Many streams, each compared on its own, and all of them in one
    // input (one plan in python's reading: so only those without plans).
    let mut planless = String::new();
    for _ in 0..60 {
        let tap = random_tap(&mut rng);
        same_events(&tap);
        if !tap.contains("1..") && !tap.contains("Bail") {
            // A version line starts a new stream here.
            planless.push_str(&tap.replace("TAP version 13\n", ""));
        }
    }
    same_events(&planless);
}

#[test]
fn documented_differences() {
    // A passing TODO test is an unexpected success (python: xfail).
    let ours = summary(&split(&tap2subunit(b"ok 1 # TODO done early\n")).0);
    assert_eq!(
        ours,
        [s("test 1", Status::UxSuccess, "tap comment: done early")]
    );
    if let Some(py) = python(b"ok 1 # TODO done early\n") {
        assert_eq!(split(&py).0[0].status, Status::XFail);
    }
    // 1..0 without a reason: python crashes, we skip the file.
    let ours = split(&tap2subunit(b"1..0\n")).0;
    assert_eq!(summary(&ours), [s("file skip", Status::Skip, "")]);
    assert!(ours[0].runnable, "as tap2subunit marks file skip");
    // With one, the word SKIP is not kept.
    let ours = summary(&split(&tap2subunit(b"1..0 # SKIP no db\n")).0);
    assert_eq!(ours, [s("file skip", Status::Skip, "tap comment: no db")]);
    // A # that starts no directive ends the description, and the comment
    // is attached (python: the line is chatter).
    let (ours, chatter) = split(&tap2subunit(b"ok 1 - a # note \n"));
    assert_eq!(
        summary(&ours),
        [s("test 1 - a", Status::Success, "tap comment: note")]
    );
    assert!(chatter.is_empty());
    // TAP 14's escaped \# is part of the description, \\ a backslash.
    let (ours, _) = split(&tap2subunit(b"ok 1 - a \\# b \\\\# SKIP c\\#\n"));
    assert_eq!(
        summary(&ours),
        [s("test 1 - a # b \\", Status::Skip, "tap comment: c\\#")]
    );
    // Diagnostics before any result are chatter (python attaches them to
    // the first test).
    let (ours, chatter) = split(&tap2subunit(b"# hello\nok 1\n"));
    assert_eq!(summary(&ours), [s("test 1", Status::Success, "")]);
    assert_eq!(chatter, b"# hello\n");
    // The last line counts without a newline; CR LF is kept in chatter.
    let (ours, chatter) = split(&tap2subunit(b"x\r\nok 1 - a\r\n# d\r\nnot ok 2"));
    assert_eq!(
        summary(&ours),
        [
            s("test 1 - a", Status::Success, "tap comment: # d"),
            s("test 2", Status::Fail, "")
        ]
    );
    assert_eq!(chatter, b"x\r\n");
}

#[test]
fn subtests_are_parent_slash_child() {
    let input = "TAP version 14\n1..2\n# Subtest: first\n    1..3\n    ok 1 - a\n    \
                 not ok 2 - b\n    # why b\n        ok 1 - deep\n        1..1\n    ok 2 - c\n\
                 not ok 1 - first\n    # Subtest: second\n    ok 1\n    1..1\nok 2 - second\n";
    let (results, chatter) = split(&tap2subunit(input.as_bytes()));
    assert_eq!(
        summary(&results),
        [
            s("test 1 - first/test 1 - a", Status::Success, ""),
            s(
                "test 1 - first/test 2 - b",
                Status::Fail,
                "tap comment: # why b"
            ),
            s("test 1 - first/test 3/test 1 - deep", Status::Success, ""),
            s("test 1 - first/test 3 - c", Status::Success, ""),
            s("test 1 - first", Status::Fail, ""),
            s("test 2 - second/test 1", Status::Success, ""),
            s("test 2 - second", Status::Success, ""),
        ]
    );
    assert_eq!(chatter, b"TAP version 14\n");
    // A subtest cut short: what its plan named is missing, named after it.
    let (results, _) = split(&tap2subunit(b"    1..2\n    ok 1\nnot ok 1 - crashed\n"));
    assert_eq!(
        summary(&results),
        [
            s("test 1/test 1", Status::Success, ""),
            s("test 1/test 2", Status::Fail, MISSING),
            s("test 1 - crashed", Status::Fail, ""),
        ]
    );
}

#[test]
fn yaml_blocks_are_attached_to_their_test() {
    let input = "1..2\nnot ok 1 - sum\n  ---\n  message: wrong\n  data:\n    got: 2\n  ...\n\
                 # after\nok 2\n  ---\n  left: open\nnot yaml\n";
    let out = tap2subunit(input.as_bytes());
    let (results, chatter) = split(&out);
    assert_eq!(
        summary(&results),
        [
            s(
                "test 1 - sum",
                Status::Unset,
                "tap yaml: message: wrong\ndata:\n  got: 2\n"
            ),
            s("test 1 - sum", Status::Fail, "tap comment: # after"),
            s("test 2", Status::Unset, "tap yaml: left: open\n"),
            s("test 2", Status::Success, ""),
        ]
    );
    assert_eq!(
        results[0].mime.as_deref(),
        Some("text/x-yaml; charset=UTF8")
    );
    assert!(results[0].eof);
    assert_eq!(chatter, b"not yaml\n");
    // python's subunit-stats counts the two packets as one test.
    if let Some(py) = common::python_subunit() {
        let mut stats = Command::new(py.join("subunit-stats"));
        stats.arg("--no-passthrough");
        let stats = run_with_input(stats, &out);
        let text = String::from_utf8_lossy(&stats.stdout);
        assert!(text.contains("Total tests:       2\n"), "{text}");
    }
}

#[test]
fn several_streams_in_one_input_and_pragmas() {
    let input = "TAP version 14\n1..3\nok 1\npragma +strict\nTAP version 14\n1..1\nok 1 - b\n\
                 1..2\nok 1 - c\n";
    let (results, chatter) = split(&tap2subunit(input.as_bytes()));
    assert_eq!(
        summary(&results),
        [
            s("test 1", Status::Success, ""),
            s("test 2", Status::Fail, MISSING),
            s("test 3", Status::Fail, MISSING),
            s("test 1 - b", Status::Success, ""),
            s("test 1 - c", Status::Success, ""),
            s("test 2", Status::Fail, MISSING),
        ]
    );
    assert_eq!(chatter, b"TAP version 14\npragma +strict\nTAP version 14\n");
}

/// Every byte that is not TAP comes out: invalid UTF-8, a line over the
/// longest TAP line, subunit packets (byte for byte), and each file is a
/// stream of its own.
#[test]
fn nothing_is_lost() {
    let long = "x".repeat(200_000);
    let packet = common::results_stream(&[("from v2", Status::Success)]);
    let mut input = format!("ok 1\n{long}\nbad \u{fffd}").into_bytes();
    input.extend_from_slice(b"\xff\xfe\n");
    input.extend_from_slice(&packet);
    input.extend_from_slice(b"not ok 2\n");
    let out = tap2subunit(&input);
    let items = decode_all(&out[..]);
    let mut chatter = Vec::new();
    let mut ids = Vec::new();
    let mut passed = false;
    for item in &items {
        let Decoded::Packet(event, raw) = item else {
            panic!("raw chatter")
        };
        if raw == &packet {
            passed = true;
        } else if let Some(id) = &event.test_id {
            ids.push(id.clone());
        } else {
            let (_, content) = event.file.as_ref().expect("a file");
            assert!(content.len() <= 64 * 1024);
            chatter.extend_from_slice(content);
        }
    }
    assert!(passed, "the packet is passed on byte for byte");
    assert_eq!(ids, ["test 1", "test 2"]);
    let mut expected = format!("{long}\nbad \u{fffd}").into_bytes();
    expected.extend_from_slice(b"\xff\xfe\n");
    assert_eq!(chatter, expected);
    // Two files, two streams.
    let dir = std::env::temp_dir().join(format!("tap2subunit-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (a, b) = (dir.join("a.tap"), dir.join("b.tap"));
    std::fs::write(&a, "1..2\nok 1\n").expect("write");
    std::fs::write(&b, "ok 1 - b").expect("write");
    let out = ours("tap2subunit").arg(&a).arg(&b).output().expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success());
    assert_eq!(
        summary(&split(&out.stdout).0),
        [
            s("test 1", Status::Success, ""),
            s("test 2", Status::Fail, MISSING),
            s("test 1 - b", Status::Success, ""),
        ]
    );
}

#[test]
fn a_result_goes_out_while_the_script_waits() {
    let pipe = LivePipe::start(
        "printf '1..2\\n    ok 1 - sub\\nnot ok 1 - a\\n# why\\n'; read _; echo 'ok 2'",
        ours("tap2subunit"),
    );
    let result = loop {
        let line = pipe.next_line("the result did not come out while the script waited");
        if line.contains("\"test_id\": \"test 1 - a\"") {
            break line;
        }
    };
    assert!(result.contains("\"status\": \"fail\""), "{result}");
    assert!(result.contains("\"file_hex\": \"2320776879\""), "{result}");
    let rest = pipe.release();
    assert!(
        rest.iter().any(|l| l.contains("\"test_id\": \"test 2\"")),
        "{rest:?}"
    );
}
