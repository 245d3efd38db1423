//! `subunit-filter` (SPEC section 4) against python-subunit 1.4.6.
//!
//! - For many option sets, on realistic generated runs (interleaved workers,
//!   attachments, tags, skips, xfails, unexpected successes, tests never
//!   finished, exists packets, chatter, route codes, non-ASCII ids), our
//!   filter selects the same tests with the same outcomes as python's
//!   `subunit-filter`, and passes the same non-test output through.
//! - What we forward is the input, byte for byte: every packet is one of
//!   the input's, a kept test's packets come complete and in input order,
//!   a dropped test's not at all; the only new packets wrap chatter.
//!   Exists packets go on when their id and tags pass the id and tag
//!   filters (python's filter drops them all).
//! - `--fixup-expected-failures` and `--rename` change only the field they
//!   are about.
//! - Bad regular expressions and missing files are usage errors (exit 2).
//! - A kept test is written out as soon as its outcome is known, while the
//!   input is still open.
//!
//! Outputs are compared as testtools groups them: a test is a test id plus
//! route code, from its first packet to its first final status; a test
//! without a final status at the end counts as `fail`, since python's
//! filter writes a fail status for it where ours leaves it open (see the
//! man page's DIFFERENCES section). python's output loses route codes, so
//! the comparison is by test id and outcome.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, mpsc};
use std::time::{Duration, Instant};

use common::runs::{self, OwnedEvent, Rng, RunShape};
use common::{Decoded, decode_all, run_with_input};
use regex::Regex;
use subunit_tools::{Status, Timestamp};

// ---------------------------------------------------------------------------
// Running the two filters

/// Our `subunit-filter`.
fn filter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_subunit-filter"))
}

/// Our filter's stdout for `input`, checking that it ran cleanly.
fn run_ours(label: &str, args: &[String], input: &[u8]) -> Vec<u8> {
    let mut cmd = filter();
    cmd.args(args);
    let output = run_with_input(cmd, input);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{label}: our subunit-filter {args:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// python-subunit's `subunit-filter` stdout for `input` (on stdin).
fn run_python(py: &Path, label: &str, args: &[String], input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(py.join("subunit-filter"));
    // The fixup files hold non-ASCII ids: read them as UTF-8 whatever the
    // locale.
    cmd.args(args).env("PYTHONUTF8", "1");
    let output = run_with_input(cmd, input);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{label}: python's subunit-filter {args:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A file under the temp dir, unique to this process and call, removed on
/// drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(label: &str, bytes: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "subunit-filter-test-{}-{n}-{label}",
            std::process::id()
        ));
        std::fs::write(&path, bytes).expect("write temp file");
        TempFile(path)
    }

    fn arg(&self) -> String {
        self.0.to_str().expect("temp paths are UTF-8").to_owned()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

// ---------------------------------------------------------------------------
// Grouping a stream into tests, as testtools does

/// One test of a stream: its packets from the first to the first final
/// status (or to the end of the stream).
#[derive(Debug)]
struct TestRecord {
    id: String,
    route: Option<String>,
    packets: Vec<(OwnedEvent, Vec<u8>)>,
    /// The final status, if one came.
    status: Option<Status>,
}

impl TestRecord {
    /// The outcome python's output gives it: a test never finished is
    /// written as failed.
    fn outcome(&self) -> &'static str {
        self.status.and_then(Status::name).unwrap_or("fail")
    }

    fn raws(&self) -> Vec<&[u8]> {
        self.packets.iter().map(|(_, raw)| raw.as_slice()).collect()
    }
}

/// The tests of a decoded stream, as testtools' `_StreamToTestRecord`
/// groups them: finished ones in the order they finished, then the ones
/// never finished, by id. Packets without a test id and exists packets are
/// not tests.
fn group_tests(items: &[Decoded]) -> Vec<TestRecord> {
    let mut open: HashMap<(String, Option<String>), TestRecord> = HashMap::new();
    let mut done = Vec::new();
    for item in items {
        let Decoded::Packet(event, raw) = item else {
            continue;
        };
        let Some(id) = &event.test_id else { continue };
        if event.status == Status::Exists {
            continue;
        }
        let key = (id.clone(), event.route_code.clone());
        let test = open.entry(key).or_insert_with(|| TestRecord {
            id: id.clone(),
            route: event.route_code.clone(),
            packets: Vec::new(),
            status: None,
        });
        test.packets.push((event.clone(), raw.clone()));
        if event.status.is_final() {
            let key = (id.clone(), event.route_code.clone());
            let mut test = open.remove(&key).expect("just added");
            test.status = Some(event.status);
            done.push(test);
        }
    }
    let mut unfinished: Vec<TestRecord> = open.into_values().collect();
    unfinished.sort_by(|a, b| (&a.id, &a.route).cmp(&(&b.id, &b.route)));
    done.extend(unfinished);
    done
}

/// The tests of a stream with their outcomes, ids passed through
/// `normalize`, sorted (a multiset: an id may run on several routes).
fn selection(items: &[Decoded], normalize: fn(&str) -> String) -> Vec<(String, &'static str)> {
    let mut tests: Vec<_> = group_tests(items)
        .iter()
        .map(|t| (normalize(&t.id), t.outcome()))
        .collect();
    tests.sort();
    tests
}

/// What a stream says outside tests: chatter and the content of file
/// packets without a test id, in stream order.
fn non_test_content(items: &[Decoded]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Decoded::Chatter(bytes) => out.extend_from_slice(bytes),
            Decoded::Packet(event, _) if event.test_id.is_none() => {
                if let Some((_, content)) = &event.file {
                    out.extend_from_slice(content);
                }
            }
            Decoded::Packet(..) => {}
        }
    }
    out
}

fn count_outcomes(selection: &[(String, &'static str)]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for (_, outcome) in selection {
        *counts.entry(*outcome).or_insert(0) += 1;
    }
    counts
}

// ---------------------------------------------------------------------------
// Inputs

fn realistic_shape(seed: u64) -> RunShape {
    RunShape {
        seed,
        tests: 300,
        workers: 4,
        route_codes: false,
        attachment_percent: 30,
        fail_percent: 10,
        skip_percent: 8,
        xfail_percent: 5,
        uxsuccess_percent: 3,
        unfinished: 6,
        enumerate: true,
        unicode: true,
        max_bytes: usize::MAX,
    }
}

struct Input {
    label: String,
    bytes: Vec<u8>,
}

/// Four interleaved workers, exists packets first, chatter and `stdout`
/// packets without a test id between packets, six tests never finished.
fn input_with_chatter() -> Input {
    let shape = realistic_shape(11);
    Input {
        label: format!(
            "seed {}: {} tests, {} workers, exists packets, chatter, {} unfinished",
            shape.seed, shape.tests, shape.workers, shape.unfinished
        ),
        bytes: runs::stream_with_chatter(&shape, 8),
    }
}

/// Route codes: two runs of the same test ids interleaved, one on routes
/// `0`..`3`, the other on routes `r0`..`r3` with other outcomes; tests of
/// the first left unfinished finish in the second.
fn input_with_route_codes() -> Input {
    let first = RunShape {
        tests: 150,
        route_codes: true,
        unfinished: 4,
        enumerate: false,
        ..realistic_shape(23)
    };
    let second = RunShape {
        fail_percent: 25,
        skip_percent: 3,
        xfail_percent: 8,
        uxsuccess_percent: 4,
        unfinished: 0,
        ..first.clone()
    };
    let a = runs::run(&first);
    let mut b = runs::run(&second);
    for event in &mut b {
        event.route_code = event.route_code.take().map(|r| format!("r{r}"));
    }
    let mut rng = Rng::new(99);
    let (mut i, mut j) = (0, 0);
    let mut bytes = Vec::new();
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && rng.chance(50)) {
            a[i].encode(&mut bytes);
            i += 1;
        } else {
            b[j].encode(&mut bytes);
            j += 1;
        }
    }
    Input {
        label: format!(
            "seed {}: {} test ids on routes 0..3 and r0..r3, {} unfinished",
            first.seed, first.tests, first.unfinished
        ),
        bytes,
    }
}

/// Cases the generator does not make, one or two tests each: a test with
/// attachments only (testtools' "unknown"), tags changing within a test,
/// quotes, backslashes and non-UTF-8 bytes in attachments, MIME types
/// without a type, with parameters or none at all, empty chunks, the same
/// id run twice, an attachment after the final status, quotes in ids.
fn edge_input() -> Input {
    let mut clock = 0;
    let mut tick = || {
        clock += 1;
        Some(Timestamp {
            seconds: 1_700_000_000 + clock,
            nanos: 0,
        })
    };
    let mut events = Vec::new();
    let mut add =
        |id: &str, status: Status, tags: &[&str], file: Option<(&str, Option<&str>, &[u8])>| {
            events.push(OwnedEvent {
                status,
                runnable: true,
                eof: file.is_some(),
                timestamp: tick(),
                test_id: Some(id.to_owned()),
                tags: (!tags.is_empty()).then(|| tags.iter().map(|t| (*t).to_owned()).collect()),
                mime: file.and_then(|(_, mime, _)| mime.map(str::to_owned)),
                file: file.map(|(name, _, content)| (name.to_owned(), content.to_vec())),
                route_code: None,
            });
        };
    let text = Some("text/plain; charset=utf8");
    add(
        "edge.unknown",
        Status::Unset,
        &[],
        Some(("log", text, b"orphan log\n")),
    );
    add("edge.tags_change", Status::InProgress, &["a", "slow"], None);
    add("edge.tags_change", Status::Success, &["a"], None);
    add("edge.tags_start", Status::InProgress, &["slow"], None);
    add("edge.tags_start", Status::Success, &[], None);
    add("edge.quotes", Status::InProgress, &[], None);
    add(
        "edge.quotes",
        Status::Fail,
        &[],
        Some(("traceback", None, b"it's \"quoted\"\n\xff\x00\ttab\\ end")),
    );
    add(
        "edge.single",
        Status::Fail,
        &[],
        Some(("reason", text, b"it's single")),
    );
    add(
        "edge.params",
        Status::Fail,
        &[],
        Some(("log", Some("Text/X-Log; B=2; a=\"1\""), b"params")),
    );
    add(
        "edge.notype",
        Status::Fail,
        &[],
        Some(("log", Some("garbage"), b"no type")),
    );
    add(
        "edge.empty_mime",
        Status::Fail,
        &[],
        Some(("log", Some(""), b"empty MIME")),
    );
    add("edge.chunks", Status::InProgress, &[], None);
    add("edge.chunks", Status::Unset, &[], Some(("out", text, b"")));
    add(
        "edge.chunks",
        Status::Unset,
        &[],
        Some(("out", text, b"first ")),
    );
    add(
        "edge.chunks",
        Status::Unset,
        &[],
        Some(("err", text, b"other")),
    );
    add(
        "edge.chunks",
        Status::Fail,
        &[],
        Some(("out", text, b"second")),
    );
    add("edge.twice", Status::InProgress, &["x"], None);
    add("edge.twice", Status::Fail, &["x"], None);
    add("edge.twice", Status::InProgress, &["y"], None);
    add("edge.twice", Status::Success, &["y"], None);
    add("edge.after", Status::Success, &[], None);
    add(
        "edge.after",
        Status::Unset,
        &[],
        Some(("late", text, b"late output")),
    );
    add(
        "edge.it's \"id\"",
        Status::Skip,
        &["slow"],
        Some(("reason", text, b"why")),
    );
    add("edge.uxsuccess", Status::UxSuccess, &["slow"], None);
    add(
        "edge.xfail",
        Status::XFail,
        &[],
        Some(("traceback", text, b"expected")),
    );
    let mut bytes = Vec::new();
    for e in &events {
        e.encode(&mut bytes);
    }
    Input {
        label: "hand-made edge cases".to_owned(),
        bytes,
    }
}

/// A `--fixup-expected-failures` file for a stream: some failing, some
/// passing, some never finished, a skip, an xfail and a uxsuccess, with
/// comments and trailing blanks as python's `read_test_list` allows. Ids
/// go through `name` (to list renamed ids).
fn fixup_list(items: &[Decoded], name: fn(&str) -> String) -> String {
    let tests = group_tests(items);
    let of = |status: Option<Status>| -> Vec<&str> {
        tests
            .iter()
            .filter(|t| t.status == status)
            .map(|t| t.id.as_str())
            .collect()
    };
    let fails = of(Some(Status::Fail));
    let successes = of(Some(Status::Success));
    let unfinished = of(None);
    assert!(
        fails.len() >= 4 && successes.len() >= 20 && unfinished.len() >= 2,
        "the input should have failures, successes and unfinished tests"
    );
    let mut ids: Vec<&str> = Vec::new();
    ids.extend(fails.iter().step_by(2));
    ids.extend(successes.iter().step_by(7));
    ids.extend(&unfinished[..2]);
    for status in [Status::Skip, Status::XFail, Status::UxSuccess] {
        ids.extend(of(Some(status)).first());
    }
    let mut text = String::from("# known failures\n\n");
    for (i, id) in ids.iter().enumerate() {
        let line = match i % 3 {
            0 => format!("{}\n", name(id)),
            1 => format!("{}   # bug {i}\n", name(id)),
            _ => format!("{}\t\n", name(id)),
        };
        text.push_str(&line);
    }
    text
}

/// The ids of a fixup list.
fn listed_ids(list: &str) -> Vec<String> {
    list.lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Differential against python-subunit

/// Where the fixup file's path goes in a case's arguments.
const FIXUP: &str = "{FIXUP}";
/// Where the path of the fixup file with renamed ids goes.
const FIXUP_RENAMED: &str = "{FIXUP_RENAMED}";

/// An option set, and how to map test ids of both outputs to one naming
/// (python leaves skips, xfails and uxsuccesses unrenamed; we rename all).
struct Case {
    args: &'static [&'static str],
    normalize: fn(&str) -> String,
    /// python keeps nothing but the unexpected successes (always kept).
    only_uxsuccess: bool,
    /// Run on the input with route codes too (python is slow to start, so
    /// not every case runs on both inputs).
    on_routes: bool,
}

impl Case {
    fn on_routes(self) -> Case {
        Case {
            on_routes: true,
            ..self
        }
    }
}

fn same(id: &str) -> String {
    id.to_owned()
}

/// `--rename '^tests\.' 'renamed.'`, for ids python left unrenamed.
fn rename_prefix(id: &str) -> String {
    match id.strip_prefix("tests.") {
        Some(rest) => format!("renamed.{rest}"),
        None => id.to_owned(),
    }
}

/// `--rename '^tests\.(\w+)\.test_\w+\.' '\g<1>:' --rename '(create|delete)'
/// '$\1$'`, for ids python left unrenamed (renamed ones no longer start
/// with `tests.`).
fn rename_twice(id: &str) -> String {
    if !id.starts_with("tests.") {
        return id.to_owned();
    }
    static FIRST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^tests\.(\w+)\.test_\w+\.").unwrap());
    static SECOND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(create|delete)").unwrap());
    let id = FIRST.replace_all(id, "${1}:");
    SECOND.replace_all(&id, "$$${1}$$").into_owned()
}

fn case(args: &'static [&'static str]) -> Case {
    Case {
        args,
        normalize: same,
        only_uxsuccess: false,
        on_routes: false,
    }
}

fn renamed(args: &'static [&'static str], normalize: fn(&str) -> String) -> Case {
    Case {
        args,
        normalize,
        only_uxsuccess: false,
        on_routes: false,
    }
}

fn only_uxsuccess(args: &'static [&'static str]) -> Case {
    Case {
        only_uxsuccess: true,
        ..case(args)
    }
}

/// Runs each case through both filters and compares the selected tests
/// and outcomes, and the non-test output.
fn compare_with_python(py: &Path, input: &Input, cases: &[&Case]) {
    let items = decode_all(input.bytes.as_slice());
    let uses_fixups = cases
        .iter()
        .any(|c| c.args.iter().any(|a| [FIXUP, FIXUP_RENAMED].contains(a)));
    let fixups = uses_fixups.then(|| {
        (
            TempFile::new("fixup", fixup_list(&items, same).as_bytes()),
            TempFile::new(
                "fixup-renamed",
                fixup_list(&items, rename_prefix).as_bytes(),
            ),
        )
    });
    let everything = selection(&items, same);
    let mut problems = Vec::new();
    let mut distinct = Vec::new();
    for case in cases {
        let args: Vec<String> = case
            .args
            .iter()
            .map(|&a| match a {
                FIXUP => fixups.as_ref().unwrap().0.arg(),
                FIXUP_RENAMED => fixups.as_ref().unwrap().1.arg(),
                a => a.to_owned(),
            })
            .collect();
        let label = format!("subunit-filter {:?} on {}", case.args, input.label);
        let ours = decode_all(run_ours(&label, &args, &input.bytes).as_slice());
        let python = decode_all(run_python(py, &label, &args, &input.bytes).as_slice());
        let ours_selected = selection(&ours, case.normalize);
        let python_selected = selection(&python, case.normalize);
        let others = python_selected
            .iter()
            .filter(|t| t.1 != "uxsuccess")
            .count();
        if case.only_uxsuccess {
            assert!(
                others == 0 && !python_selected.is_empty(),
                "{label}: python should keep the uxsuccesses only: {:?}",
                count_outcomes(&python_selected)
            );
        } else {
            assert!(
                others > 0,
                "{label}: python selects no test but uxsuccesses, the case tests too little"
            );
        }
        if ours_selected != python_selected {
            let only = |a: &[(String, &str)], b: &[(String, &str)]| -> Vec<String> {
                a.iter()
                    .filter(|t| !b.contains(t))
                    .take(8)
                    .map(|(id, outcome)| format!("{outcome} {id}"))
                    .collect()
            };
            problems.push(format!(
                "{label}: different tests selected\n  ours:   {:?}\n  python: {:?}\n  only ours:   {:#?}\n  only python: {:#?}",
                count_outcomes(&ours_selected),
                count_outcomes(&python_selected),
                only(&ours_selected, &python_selected),
                only(&python_selected, &ours_selected),
            ));
        }
        let (ours_text, python_text) = (non_test_content(&ours), non_test_content(&python));
        if ours_text != python_text {
            problems.push(format!(
                "{label}: different non-test output ({} bytes ours, {} python), first difference at byte {}",
                ours_text.len(),
                python_text.len(),
                common::first_difference(&ours_text, &python_text)
            ));
        }
        if !distinct.contains(&python_selected) {
            distinct.push(python_selected);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // The cases should tell options apart, not all select the same.
    assert!(
        distinct.len() * 2 > cases.len() && !distinct.iter().all(|s| *s == everything),
        "{}: only {} distinct selections from {} cases",
        input.label,
        distinct.len(),
        cases.len()
    );
}

/// Every case on the input with chatter, those marked on_routes on the
/// input with route codes too.
fn compare_on_both_inputs(py: &Path, cases: &[Case]) {
    compare_with_python(py, &input_with_chatter(), &cases.iter().collect::<Vec<_>>());
    let on_routes: Vec<&Case> = cases.iter().filter(|c| c.on_routes).collect();
    compare_with_python(py, &input_with_route_codes(), &on_routes);
}

#[test]
fn outcome_switches_select_what_python_selects() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let cases = [
        case(&[]).on_routes(),
        case(&["-s"]),
        case(&["-F"]).on_routes(),
        case(&["--xfail"]),
        case(&["--no-skip"]).on_routes(),
        case(&["-f"]).on_routes(),
        case(&["-s", "--xfail"]).on_routes(),
        case(&["-e", "--no-skip", "--xfail"]),
        case(&["--no-success", "-s", "--no-xfail", "-f", "--failure"]),
        // -F is --no-success --no-skip --no-xfail --no-passthrough where it
        // stands: the switches are read left to right.
        case(&["-F", "-s"]),
        case(&["-s", "-F"]).on_routes(),
        case(&["-F", "--passthrough", "--xfail"]),
        case(&["--passthrough", "-F"]),
        case(&["--no-passthrough", "-s"]),
    ];
    compare_on_both_inputs(&py, &cases);
}

#[test]
fn tags_and_regular_expressions_select_what_python_selects() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let cases = [
        case(&["-s", "--with-tag", "worker-1"]).on_routes(),
        case(&[
            "--without-tag",
            "worker-2",
            "-s",
            "--without-tag",
            "worker-3",
        ]),
        // Both tags on one test never happens: only uxsuccesses are left.
        only_uxsuccess(&["--with-tag", "worker-0", "--with-tag", "worker-1"]),
        only_uxsuccess(&[
            "--xfail",
            "--with-tag",
            "worker-0",
            "--without-tag",
            "worker-0",
        ]),
        // On the test id; several -m are joined with |.
        case(&["-s", "-m", r"test_(create|delete)_\d"]).on_routes(),
        case(&[
            "-s",
            "--with",
            r"create_\d+success",
            "-m",
            r"delete_\d+failure",
        ]),
        case(&["-s", "--xfail", "-m", "é"]).on_routes(),
        // On the attachments, in python's rendering.
        case(&["--without", "Traceback"]).on_routes(),
        case(&["-s", "--without", "pythonlogging"]),
        case(&["-s", "-m", r#"charset="utf8""#]),
        case(&["-s", "-m", r"value=b'\d+ INFO"]),
        // Newlines in attachments are escaped in python's rendering, so
        // this matches nothing even in multi-line mode.
        case(&["--without", "^AssertionError"]),
        // On the outcome's name.
        case(&["-s", "--xfail", "-m", "expectedfailureNone|skipNone"]).on_routes(),
        case(&["-s", "--xfail", "--without", r"\dsuccessNone"]),
        case(&["-F", "-m", "failure", "--without-tag", "worker-3"]),
    ];
    compare_on_both_inputs(&py, &cases);
}

#[test]
fn fixups_and_renames_select_what_python_selects() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let cases = [
        // Listed failures become xfails (dropped unless --xfail), listed
        // successes uxsuccesses (kept), listed unfinished tests xfails.
        case(&["--fixup-expected-failures", FIXUP]).on_routes(),
        case(&["--fixup-expected-failures", FIXUP, "--xfail", "-s"]).on_routes(),
        case(&["-F", "--fixup-expected-failures", FIXUP]),
        case(&[
            "--fixup-expected-failures",
            FIXUP,
            "-m",
            "uxsuccess|failure",
        ]),
        renamed(
            &["--rename", r"^tests\.", "renamed.", "-s", "--xfail"],
            rename_prefix,
        )
        .on_routes(),
        renamed(
            &[
                "-s",
                "--rename",
                r"^tests\.(\w+)\.test_\w+\.",
                r"\g<1>:",
                "--xfail",
                "--rename",
                "(create|delete)",
                r"$\1$",
            ],
            rename_twice,
        ),
        // -m sees the new name of successes and failures, the old one of
        // skips and xfails.
        renamed(
            &[
                "--rename",
                r"^tests\.",
                "renamed.",
                "-s",
                "-m",
                r"^renamed\.",
            ],
            rename_prefix,
        ),
        // The fixup list names tests by their new names.
        renamed(
            &[
                "--rename",
                r"^tests\.",
                "renamed.",
                "--fixup-expected-failures",
                FIXUP_RENAMED,
                "--xfail",
            ],
            rename_prefix,
        )
        .on_routes(),
    ];
    compare_on_both_inputs(&py, &cases);
}

#[test]
fn edge_cases_select_what_python_selects() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let cases = [
        case(&[]),
        case(&["-s", "--xfail"]),
        case(&["-s", "--without-tag", "slow"]),
        case(&["-s", "--with-tag", "a", "--xfail"]),
        case(&["-m", r"it\\'s"]),
        case(&["-m", r#"b'it\\'s "quoted"\\n"#]),
        case(&["-m", r"\\xff\\x00\\ttab\\\\ end"]),
        case(&["-m", "application/octet-stream"]),
        case(&["-m", r#"text/x-log; a="1"; b="2""#]),
        // No type, or an empty MIME type: testtools makes it text/plain.
        case(&[
            "-m",
            r"'log': <Content type=text/plain, value=b'no type'>\}",
        ]),
        case(&[
            "-m",
            r"'log': <Content type=text/plain, value=b'empty MIME'>\}",
        ]),
        case(&["-m", "value=b'first second'"]),
        case(&["-m", r"\{'out': .*, 'err': "]),
        case(&["-s", "-m", "orphan|late output"]),
        case(&["-s", "--xfail", "-m", r#"^edge\.it's "id"skip"#]),
    ];
    compare_with_python(&py, &edge_input(), &cases.iter().collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// 2. Packets are forwarded byte for byte

/// Checks that `output` is `input` filtered: see the module comment.
/// Returns how many tests were kept.
/// `listed` says which exists packets pass the id and tag filters.
fn assert_forwarded_verbatim(
    label: &str,
    input: &[u8],
    output: &[u8],
    passthrough: bool,
    listed: fn(&OwnedEvent) -> bool,
) -> usize {
    let inp = decode_all(input);
    let out = decode_all(output);
    if let Some(pos) = out.iter().position(|i| matches!(i, Decoded::Chatter(_))) {
        panic!("{label}: item {pos} of the output is not a packet: {out:?}");
    }

    // Tests: each kept one whole, in input order.
    let in_tests = group_tests(&inp);
    let mut by_key = HashMap::new();
    for t in &in_tests {
        let previous = by_key.insert((t.id.clone(), t.route.clone()), t);
        assert!(previous.is_none(), "{label}: a test id+route runs twice");
    }
    let out_tests = group_tests(&out);
    let mut seen = HashMap::new();
    for t in &out_tests {
        let key = (t.id.clone(), t.route.clone());
        let Some(original) = by_key.get(&key) else {
            panic!("{label}: output test {key:?} is not in the input");
        };
        assert!(
            seen.insert(key.clone(), ()).is_none(),
            "{label}: test {key:?} written twice"
        );
        assert_eq!(
            t.raws(),
            original.raws(),
            "{label}: test {key:?}: its packets are not the input's, complete and in order"
        );
    }

    // Exists packets: those that pass the id and tag filters, as they
    // were, in order.
    let exists = |items: &[Decoded]| -> Vec<Vec<u8>> {
        items
            .iter()
            .filter_map(|i| match i {
                Decoded::Packet(e, raw)
                    if e.test_id.is_some() && e.status == Status::Exists && listed(e) =>
                {
                    Some(raw.clone())
                }
                _ => None,
            })
            .collect()
    };
    let (forwarded, expected) = (exists(&out), exists(&inp));
    let in_exists = inp
        .iter()
        .filter(|i| matches!(i, Decoded::Packet(e, _) if e.status == Status::Exists))
        .count();
    assert!(in_exists > 10, "{label}: the input has exists packets");
    assert_eq!(
        forwarded, expected,
        "{label}: exists packets not forwarded as they were"
    );
    assert!(
        out.iter().all(
            |i| !matches!(i, Decoded::Packet(e, _) if e.status == Status::Exists && !listed(e))
        ),
        "{label}: an exists packet the filters drop was forwarded"
    );

    // Outside tests: the input's packets as they were, chatter wrapped as
    // stdout packets without a test id, nothing else.
    let in_plain: Vec<&Vec<u8>> = inp
        .iter()
        .filter_map(|i| match i {
            Decoded::Packet(e, raw) if e.test_id.is_none() => Some(raw),
            _ => None,
        })
        .collect();
    let in_chatter: Vec<u8> = inp
        .iter()
        .filter_map(|i| match i {
            Decoded::Chatter(bytes) => Some(bytes.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    let mut next_plain = 0;
    let mut wrapped = Vec::new();
    for item in &out {
        let Decoded::Packet(event, raw) = item else {
            continue;
        };
        if event.test_id.is_some() {
            continue;
        }
        if in_plain.get(next_plain) == Some(&raw) {
            next_plain += 1;
            continue;
        }
        let is_wrap = event.status == Status::Unset
            && event.route_code.is_none()
            && event
                .file
                .as_ref()
                .is_some_and(|(name, _)| name == "stdout");
        assert!(is_wrap, "{label}: packet {event:?} is not the input's");
        wrapped.extend_from_slice(&event.file.as_ref().expect("a file").1);
    }
    if passthrough {
        assert_eq!(
            next_plain,
            in_plain.len(),
            "{label}: not all packets without a test id forwarded, in order"
        );
        assert!(
            wrapped == in_chatter,
            "{label}: wrapped chatter ({} bytes) is not the input's ({} bytes), first difference at {}",
            wrapped.len(),
            in_chatter.len(),
            common::first_difference(&wrapped, &in_chatter)
        );
        assert_eq!(
            String::from_utf8_lossy(&non_test_content(&out)),
            String::from_utf8_lossy(&non_test_content(&inp)),
            "{label}: non-test output out of order"
        );
    } else {
        assert!(
            next_plain == 0 && wrapped.is_empty(),
            "{label}: --no-passthrough but non-test output written"
        );
    }
    out_tests.len()
}

#[test]
fn kept_packets_are_the_inputs_byte_for_byte() {
    let plain = runs::stream(&RunShape {
        route_codes: true,
        ..realistic_shape(5)
    });
    let chatty = runs::stream_with_chatter(&realistic_shape(6), 10);
    let chatty_items = decode_all(chatty.as_slice());
    assert!(
        chatty_items
            .iter()
            .any(|i| matches!(i, Decoded::Chatter(_)))
            && chatty_items
                .iter()
                .any(|i| matches!(i, Decoded::Packet(e, _) if e.test_id.is_none())),
        "seed 6: the input should have chatter and packets without a test id"
    );
    let total = |bytes: &[u8]| group_tests(&decode_all(bytes)).len();
    // The generated exists packets have no tags, and their ids never say
    // Traceback.
    type Listed = fn(&OwnedEvent) -> bool;
    let all: Listed = |_| true;
    let none: Listed = |_| false;
    let option_sets: [(&[&str], bool, Listed); 8] = [
        (&[], true, all),
        (&["-s", "--xfail"], true, all),
        (&["-F"], false, all),
        (&["-s", "--no-passthrough"], false, all),
        (&["--xfail", "-m", "Traceback"], true, none),
        (&["-s", "--with-tag", "worker-1"], true, none),
        (&["--without-tag", "worker-1", "--no-skip"], true, all),
        (&["-F", "--passthrough"], true, all),
    ];
    for (name, input) in [
        ("seed 5 with route codes, no chatter", &plain),
        ("seed 6 with chatter", &chatty),
    ] {
        let tests = total(input);
        for (args, passthrough, listed) in option_sets {
            let label = format!("subunit-filter {args:?} on {name}");
            let output = run_ours(&label, &strings(args), input);
            let kept = assert_forwarded_verbatim(&label, input, &output, passthrough, listed);
            assert!(kept > 0, "{label}: no test kept");
            if args != ["-s", "--xfail"] {
                assert!(kept < tests, "{label}: no test dropped");
            }
        }
    }
}

/// Enumeration packets go on when their id and tags pass the id and tag
/// filters, whatever the outcome switches say; --with and --without search
/// the (renamed) test id alone. Read back by python's `subunit-ls
/// --exists`, which lists the tests that exist and those that ran.
#[test]
fn exists_packets_pass_only_the_id_and_tag_filters() {
    let Some(py) = common::python_subunit() else {
        return;
    };
    let tests: [(&str, &[&str], Status); 3] = [
        ("test_calc.A.test_add", &["unit"], Status::Success),
        ("test_calc.A.test_sub", &["slow", "unit"], Status::Fail),
        ("test_io.B.test_read", &["io"], Status::Fail),
    ];
    let mut input = Vec::new();
    for status in [Status::Exists, Status::InProgress, Status::Unset] {
        for (id, tags, outcome) in tests {
            OwnedEvent {
                status: if status == Status::Unset {
                    outcome
                } else {
                    status
                },
                runnable: true,
                test_id: Some(id.to_owned()),
                tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
                ..OwnedEvent::default()
            }
            .encode(&mut input);
        }
    }
    let (add, sub, read) = (
        "test_calc.A.test_add",
        "test_calc.A.test_sub",
        "test_io.B.test_read",
    );
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &[add, read, read, sub, sub]),
        (&["-m", "test_calc"], &[add, sub, sub]),
        (&["--without", "test_calc"], &[read, read]),
        (&["--with-tag", "unit"], &[add, sub, sub]),
        (&["--with-tag", "unit", "--without-tag", "slow"], &[add]),
        (&["--without-tag", "unit"], &[read, read]),
        // Outcome switches do not apply to exists packets.
        (&["-F", "-m", "test_calc"], &[add, sub, sub]),
        (&["--no-failure", "-m", "test_calc"], &[add, sub]),
        // The text searched is the id alone: no outcome name.
        (&["-s", "-m", "success"], &[add]),
        (&["-m", "None"], &[read, sub]),
        // The id as forwarded, renamed.
        (
            &["-s", "--rename", "^test_calc", "calc", "-m", "^calc"],
            &[
                "calc.A.test_add",
                "calc.A.test_add",
                "calc.A.test_sub",
                "calc.A.test_sub",
            ],
        ),
    ];
    for (args, expected) in cases {
        let label = format!("subunit-filter {args:?} | subunit-ls --exists");
        let output = run_ours(&label, &strings(args), &input);
        let mut ls = Command::new(py.join("subunit-ls"));
        ls.arg("--exists");
        let listed = run_with_input(ls, &output);
        // subunit-ls exits 1 when a listed test failed.
        assert!(
            matches!(listed.status.code(), Some(0 | 1)) && listed.stderr.is_empty(),
            "{label}: subunit-ls failed: {}",
            String::from_utf8_lossy(&listed.stderr)
        );
        let text = String::from_utf8(listed.stdout).expect("UTF-8");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(lines, expected, "{label}");
    }
}

// ---------------------------------------------------------------------------
// 3. --fixup-expected-failures rewrites only the final status

/// Whether two encodings of a packet differ only in the status bits and
/// the CRC.
fn differ_only_in_status(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.len() > 7
        && a[..2] == b[..2]
        && a[2] & !7 == b[2] & !7
        && a[3..a.len() - 4] == b[3..b.len() - 4]
}

#[test]
fn fixup_rewrites_only_the_final_status() {
    let shape = RunShape {
        route_codes: true,
        ..realistic_shape(31)
    };
    let input = runs::stream(&shape);
    let inp = decode_all(input.as_slice());
    let list = fixup_list(&inp, same);
    let listed = listed_ids(&list);
    let file = TempFile::new("fixup", list.as_bytes());
    let args = strings(&["--fixup-expected-failures", &file.arg(), "-s", "--xfail"]);
    let label = format!("subunit-filter {args:?} on seed {}", shape.seed);
    let out = decode_all(run_ours(&label, &args, &input).as_slice());

    let in_tests = group_tests(&inp);
    let out_tests = group_tests(&out);
    assert_eq!(
        out_tests.len(),
        in_tests.len(),
        "{label}: -s --xfail keeps every test"
    );
    let mut by_key = HashMap::new();
    for t in &in_tests {
        by_key.insert((t.id.clone(), t.route.clone()), t);
    }
    let mut rewritten = BTreeMap::new();
    for t in &out_tests {
        let key = (t.id.clone(), t.route.clone());
        let original = by_key[&key];
        let fixed = listed.contains(&t.id);
        let new_status = match original.status {
            Some(Status::Fail) if fixed => Some(Status::XFail),
            Some(Status::Success) if fixed => Some(Status::UxSuccess),
            None if fixed => Some(Status::XFail),
            _ => None,
        };
        let Some(new_status) = new_status else {
            assert_eq!(
                t.raws(),
                original.raws(),
                "{label}: {key:?} ({}, listed: {fixed}) should be forwarded unchanged",
                original.outcome()
            );
            continue;
        };
        let was = original
            .status
            .and_then(Status::name)
            .unwrap_or("unfinished");
        *rewritten.entry(was).or_insert(0) += 1;
        assert_eq!(
            t.status,
            Some(new_status),
            "{label}: {key:?} was {}",
            original.outcome()
        );
        let n = original.packets.len();
        if original.status.is_some() {
            // The final status packet written anew, the rest as it was.
            assert_eq!(t.packets.len(), n, "{label}: {key:?}: packet count");
            assert_eq!(
                t.raws()[..n - 1],
                original.raws()[..n - 1],
                "{label}: {key:?}: packets before the final status changed"
            );
            let (got, got_raw) = &t.packets[n - 1];
            let (was, was_raw) = &original.packets[n - 1];
            let expected = OwnedEvent {
                status: new_status,
                ..was.clone()
            };
            assert_eq!(
                got, &expected,
                "{label}: {key:?}: final packet should differ only in status"
            );
            assert!(
                differ_only_in_status(got_raw, was_raw),
                "{label}: {key:?}: final packet re-encoded differently:\n{was_raw:02x?}\n{got_raw:02x?}"
            );
        } else {
            // Never finished: its packets, then an added xfail.
            assert_eq!(t.packets.len(), n + 1, "{label}: {key:?}: packet count");
            assert_eq!(
                t.raws()[..n],
                original.raws()[..],
                "{label}: {key:?}: packets changed"
            );
            let added = &t.packets[n].0;
            assert!(
                added.test_id.as_deref() == Some(t.id.as_str())
                    && added.route_code == t.route
                    && added.status == Status::XFail
                    && added.file.is_none(),
                "{label}: {key:?}: added packet {added:?}"
            );
        }
    }
    assert!(
        rewritten.get("fail").is_some_and(|&n| n >= 2)
            && rewritten.get("success").is_some_and(|&n| n >= 2)
            && rewritten.get("unfinished") == Some(&2)
            && rewritten.len() == 3,
        "{label}: listed failures, successes and the two unfinished tests should be rewritten: {rewritten:?}"
    );
}

// ---------------------------------------------------------------------------
// 4. --rename rewrites only the test id

#[test]
fn rename_rewrites_only_the_test_id() {
    let shape = RunShape {
        route_codes: true,
        ..realistic_shape(41)
    };
    let input = runs::stream_with_chatter(&shape, 5);
    let inp = decode_all(input.as_slice());
    let from = r"^tests\.(\w+)\.test_\w+\.";
    let from_re = Regex::new(from).unwrap();
    let rename = |id: &str| from_re.replace(id, "${1}/").into_owned();
    let args = strings(&["-s", "--xfail", "--rename", from, r"\1/"]);
    let label = format!("subunit-filter {args:?} on seed {}", shape.seed);
    let output = run_ours(&label, &args, &input);
    let out = decode_all(output.as_slice());

    // Every packet with a test id: the input's, renamed; in the same order
    // per test, and exists packets where they were among the others.
    let renamed_input: Vec<OwnedEvent> = inp
        .iter()
        .filter_map(|i| match i {
            Decoded::Packet(e, _) if e.test_id.is_some() => {
                let mut e = e.clone();
                e.test_id = e.test_id.as_deref().map(rename);
                Some(e)
            }
            _ => None,
        })
        .collect();
    let got: Vec<&OwnedEvent> = out
        .iter()
        .filter_map(|i| match i {
            Decoded::Packet(e, _) if e.test_id.is_some() => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        got.len(),
        renamed_input.len(),
        "{label}: every packet of every test is kept"
    );
    for e in &got {
        assert!(
            !e.test_id.as_deref().unwrap().starts_with("tests."),
            "{label}: not renamed: {e:?}"
        );
    }
    let exists = |events: &mut dyn Iterator<Item = &OwnedEvent>| -> Vec<OwnedEvent> {
        events
            .filter(|e| e.status == Status::Exists)
            .cloned()
            .collect()
    };
    assert_eq!(
        exists(&mut got.iter().copied()),
        exists(&mut renamed_input.iter()),
        "{label}: exists packets"
    );
    let per_test = |events: &mut dyn Iterator<Item = &OwnedEvent>| {
        let mut tests: BTreeMap<(String, Option<String>), Vec<OwnedEvent>> = BTreeMap::new();
        for e in events.filter(|e| e.status != Status::Exists) {
            tests
                .entry((e.test_id.clone().unwrap(), e.route_code.clone()))
                .or_default()
                .push(e.clone());
        }
        tests
    };
    let got_tests = per_test(&mut got.iter().copied());
    let want_tests = per_test(&mut renamed_input.iter());
    assert_eq!(got_tests.len(), want_tests.len(), "{label}: test count");
    for (key, want) in &want_tests {
        assert_eq!(
            got_tests.get(key),
            Some(want),
            "{label}: {key:?}: packets should differ from the input's only in the test id"
        );
    }

    // Packets without a test id are not renamed: forwarded as they were.
    let plain = |items: &[Decoded]| -> Vec<Vec<u8>> {
        items
            .iter()
            .filter_map(|i| match i {
                Decoded::Packet(e, raw) if e.test_id.is_none() => Some(raw.clone()),
                _ => None,
            })
            .collect()
    };
    let out_plain = plain(&out);
    for raw in plain(&inp) {
        assert!(
            out_plain.contains(&raw),
            "{label}: a packet without a test id was changed"
        );
    }

    // A rename that matches nothing changes no byte.
    let unrenamed = run_ours(&label, &strings(&["-s", "--xfail"]), &input);
    let no_match = run_ours(
        &label,
        &strings(&["-s", "--xfail", "--rename", "^nomatch", "x"]),
        &input,
    );
    assert!(
        no_match == unrenamed,
        "{label}: --rename matching nothing changed the output"
    );
}

// ---------------------------------------------------------------------------
// 5. Bad input

fn small_stream() -> Vec<u8> {
    runs::stream(&RunShape {
        tests: 20,
        fail_percent: 30,
        ..realistic_shape(3)
    })
}

/// Checks a usage error: exit 2, nothing on stdout, one line on stderr
/// starting with `prefix` and mentioning `mention`.
fn assert_usage_error(label: &str, output: &Output, prefix: &str, mention: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{label}: exit status (stderr: {stderr})"
    );
    assert!(
        output.stdout.is_empty(),
        "{label}: {} bytes written to stdout",
        output.stdout.len()
    );
    assert!(
        stderr.starts_with(prefix) && stderr.ends_with('\n') && stderr.lines().count() == 1,
        "{label}: stderr should be one line starting with {prefix:?}, is:\n{stderr}"
    );
    assert!(
        stderr.contains(mention),
        "{label}: stderr should mention {mention:?}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{label}: {stderr}"
    );
}

#[test]
fn invalid_regular_expressions_are_usage_errors() {
    let input = small_stream();
    for args in [
        &["-m", "("][..],
        &["-s", "--with", "a(b"],
        &["--without", "[z-a]"],
        &["--without", "ok", "--without", "x{2,1}"],
        &["--rename", "(", "x"],
        &["--rename", "a", "b", "--rename", "[", "c"],
    ] {
        let mut cmd = filter();
        cmd.args(args);
        let output = run_with_input(cmd, &input);
        let bad = args.last().unwrap();
        let bad = if args[0] == "--rename" {
            args[args.len() - 2]
        } else {
            bad
        };
        assert_usage_error(
            &format!("subunit-filter {args:?}"),
            &output,
            "subunit-filter: invalid regular expression",
            bad,
        );
    }
}

#[test]
fn missing_or_unreadable_files_are_usage_errors() {
    let input = small_stream();
    let missing = std::env::temp_dir().join(format!(
        "subunit-filter-test-{}-no-such-file",
        std::process::id()
    ));
    let missing = missing.to_str().unwrap();
    let dir = std::env::temp_dir();
    let dir = dir.to_str().unwrap();
    for (args, mention) in [
        (vec!["--fixup-expected-failures", missing], missing),
        (vec!["--fixup-expected-failures", dir], dir),
        (vec![missing], missing),
        (vec!["-s", dir], dir),
    ] {
        let mut cmd = filter();
        cmd.args(&args);
        let output = run_with_input(cmd, &input);
        assert_usage_error(
            &format!("subunit-filter {args:?}"),
            &output,
            "subunit-filter: ",
            mention,
        );
    }
}

// ---------------------------------------------------------------------------
// 6. Streaming

/// Reads a child's stdout on a thread; `wait_for` waits until what has
/// come so far passes a check.
struct LiveOutput {
    chunks: mpsc::Receiver<Vec<u8>>,
    bytes: Vec<u8>,
}

impl LiveOutput {
    fn new(mut stdout: impl Read + Send + 'static) -> LiveOutput {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        LiveOutput {
            chunks: rx,
            bytes: Vec::new(),
        }
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn(&[Decoded]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(&decode_all(self.bytes.as_slice())) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.bytes.extend_from_slice(&chunk),
                Err(_) => panic!(
                    "{what}: not written within 10 s while the input was still open ({} bytes out so far)",
                    self.bytes.len()
                ),
            }
        }
    }

    fn rest(mut self) -> Vec<u8> {
        while let Ok(chunk) = self.chunks.recv_timeout(Duration::from_secs(20)) {
            self.bytes.extend_from_slice(&chunk);
        }
        self.bytes
    }
}

#[test]
fn a_failure_is_written_before_the_input_ends() {
    let shape = RunShape {
        tests: 400,
        unfinished: 0,
        enumerate: false,
        fail_percent: 5,
        ..realistic_shape(53)
    };
    let input = runs::stream(&shape);
    let items = decode_all(input.as_slice());
    // The first test to fail, and where its final packet ends.
    let first_fail = group_tests(&items)
        .into_iter()
        .find(|t| t.status == Some(Status::Fail))
        .expect("a failing test");
    let final_raw = &first_fail.packets.last().unwrap().1;
    let mut end = 0;
    for item in &items {
        let Decoded::Packet(_, raw) = item else {
            unreachable!("no chatter")
        };
        end += raw.len();
        if raw == final_raw {
            break;
        }
    }
    assert!(
        end < input.len() / 2,
        "seed {}: the first failure should come early",
        shape.seed
    );

    let mut child = filter()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn subunit-filter");
    let mut stdin = child.stdin.take().unwrap();
    let mut live = LiveOutput::new(child.stdout.take().unwrap());
    let label = format!("seed {}: {}", shape.seed, first_fail.id);
    let wanted = first_fail.raws();
    let has_test = |out: &[Decoded]| {
        group_tests(out)
            .iter()
            .any(|t| t.id == first_fail.id && t.raws() == wanted)
    };

    stdin.write_all(&input[..end]).unwrap();
    live.wait_for(&format!("{label}: the first failing test"), has_test);

    // Chatter is handed on as it comes too.
    stdin.write_all(b"live chatter line\n").unwrap();
    live.wait_for(&format!("{label}: chatter after it"), |out| {
        non_test_content(out).ends_with(b"live chatter line\n")
    });

    stdin.write_all(&input[end..]).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let output = live.rest();
    assert!(status.success(), "{label}: exit status {status}");
    let tests = group_tests(&decode_all(output.as_slice()));
    assert_eq!(
        tests.iter().filter(|t| t.id == first_fail.id).count(),
        1,
        "{label}: the failing test should be written once"
    );
    assert!(
        tests.len() > 1 && tests.iter().all(|t| t.status != Some(Status::Success)),
        "{label}: the default selection, the whole run through"
    );
}
