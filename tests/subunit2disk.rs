//! subunit2disk: the same tree as python-subunit's where python's is safe,
//! nothing outside the directory whatever the stream, output that belongs
//! to no test passed through, tests written as they end.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::procs::{TIMEOUT, TempDir};
use common::runs::{self, RunShape};
use common::{corpus, ours, python_subunit, run_with_input};
use subunit_tools::{Event, Status, Timestamp, encode};

/// Every file under `root` by its path relative to it, with its bytes;
/// directories by their path with `None`, links not followed.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let kind = std::fs::symlink_metadata(&path).expect("stat");
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).expect("read link");
                into.insert(rel, Some(format!("-> {}", target.display()).into_bytes()));
            } else if kind.is_dir() {
                into.insert(rel, None);
                walk(root, &path, into);
            } else {
                into.insert(rel, Some(std::fs::read(&path).expect("read file")));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    files
}

fn export(dir: &Path, stream: &[u8], extra: &[&str]) -> std::process::Output {
    let mut cmd = ours("subunit2disk");
    cmd.arg("-d").arg(dir).args(extra);
    run_with_input(cmd, stream)
}

fn event<'a>(id: &'a str, status: Status, seconds: u32) -> Event<'a> {
    Event {
        status,
        runnable: true,
        test_id: Some(id),
        timestamp: Some(Timestamp {
            seconds,
            nanos: seconds * 1_001,
        }),
        ..Event::default()
    }
}

fn push(stream: &mut Vec<u8>, event: &Event<'_>) {
    encode(event, stream).expect("encode");
}

/// A stream python handles without trouble but with every case its layout
/// has: repeated ids, route codes, nested ids and an id that is a parent of
/// another, an attachment called test.json, attachments in several chunks
/// and over 4 MiB, empty chunks, tags replaced, a test ended by `exists`,
/// tests left open (written last, newest first), non-ASCII, chatter and
/// files without a test id.
fn awkward_stream() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"build output before the run\n");
    for (n, id) in ["dup", "dup", "a/b", "a", "a/b/c", "t.\u{e9}"]
        .iter()
        .enumerate()
    {
        let n = n as u32;
        push(&mut s, &event(id, Status::InProgress, 100 + n));
        push(
            &mut s,
            &Event {
                file: Some(("stdout", b"first ")),
                mime: Some("text/plain; charset=utf8"),
                ..event(id, Status::Unset, 101 + n)
            },
        );
        push(
            &mut s,
            &Event {
                file: Some(("stdout", b"")),
                ..event(id, Status::Unset, 101 + n)
            },
        );
        push(
            &mut s,
            &Event {
                file: Some(("test.json", b"not the summary")),
                tags: Some(&["old"]),
                ..event(id, Status::Unset, 102 + n)
            },
        );
        push(
            &mut s,
            &Event {
                tags: Some(&["worker-1", "b"]),
                ..event(id, [Status::Success, Status::Fail][n as usize % 2], 103 + n)
            },
        );
    }
    let big = vec![b'x'; 4 * 1024 * 1024 + 100];
    push(
        &mut s,
        &Event {
            file: Some(("traceback", &big)),
            eof: true,
            ..event("big", Status::Fail, 200)
        },
    );
    for route in ["0", "1"] {
        push(
            &mut s,
            &Event {
                route_code: Some(route),
                ..event("routed", Status::InProgress, 300)
            },
        );
    }
    push(
        &mut s,
        &Event {
            route_code: Some("1"),
            ..event("routed", Status::Skip, 301)
        },
    );
    push(&mut s, &event("listed", Status::Exists, 400));
    push(
        &mut s,
        &Event {
            file: Some(("stderr", b"global file\n")),
            ..Event::default()
        },
    );
    s.extend_from_slice(b"chatter between packets\n");
    push(&mut s, &event("open", Status::InProgress, 500));
    push(&mut s, &event("open", Status::InProgress, 501));
    push(
        &mut s,
        &Event {
            route_code: Some("0"),
            ..event("dup", Status::InProgress, 502)
        },
    );
    s
}

fn python_tree(py: &Path, stream: &[u8], dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut cmd = Command::new(py.join("subunit2disk"));
    cmd.arg("-d").arg(dir);
    let out = run_with_input(cmd, stream);
    assert!(
        out.status.success(),
        "python's subunit2disk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tree(dir)
}

#[test]
fn the_tree_is_pythons() {
    let Some(py) = python_subunit() else { return };
    let tmp = TempDir::new("disk-same-tree");
    let generated = runs::stream_with(
        &RunShape {
            seed: 12,
            tests: 300,
            route_codes: true,
            attachment_percent: 40,
            unfinished: 5,
            ..RunShape::default()
        },
        3,
        2,
    );
    let mut streams: Vec<(String, Vec<u8>)> = corpus()
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    streams.push(("generated".into(), generated));
    streams.push(("awkward".into(), awkward_stream()));
    for (n, (what, stream)) in streams.iter().enumerate() {
        let (theirs, mine) = (tmp.path(&format!("py{n}")), tmp.path(&format!("ours{n}")));
        let expected = python_tree(&py, stream, &theirs);
        let out = export(&mine, stream, &["--no-passthrough"]);
        assert!(out.status.success(), "{what}: {out:?}");
        let got = tree(&mine);
        assert!(expected.len() > 2, "{what}: python wrote {expected:?}");
        let names = |t: &BTreeMap<String, Option<Vec<u8>>>| t.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&got), names(&expected), "{what}: the same files");
        for (name, bytes) in &expected {
            assert!(got[name] == *bytes, "{what}: {name} differs");
        }
    }
}

#[test]
fn nothing_is_written_outside_the_directory() {
    let tmp = TempDir::new("disk-outside");
    let root = tmp.path("out");
    let outside = tmp.path("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // A link in the directory to somewhere else, and a file where a
    // nested id wants a directory.
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    std::fs::write(root.join("plain"), b"mine").unwrap();
    let sibling = format!("../{}x/t", root.file_name().unwrap().to_string_lossy());
    let mut s = Vec::new();
    for id in [
        "../escape",
        "..",
        ".",
        "",
        "/abs/path",
        sibling.as_str(),
        "link/t",
        "link",
        "plain/t",
        "a/../../b",
        "bell\x07",
    ] {
        push(
            &mut s,
            &Event {
                file: Some(("../../../attachment", b"x")),
                ..event(id, Status::Fail, 1)
            },
        );
    }
    let out = export(&root, &s, &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(tree(&outside).is_empty(), "written through the link");
    assert_eq!(std::fs::read(root.join("plain")).unwrap(), b"mine");
    let siblings: Vec<_> = std::fs::read_dir(tmp.path("")).unwrap().collect();
    assert_eq!(siblings.len(), 2, "only out and outside: {siblings:?}");
    let got = tree(&root);
    let jsons = got.keys().filter(|k| k.ends_with("test.json")).count();
    assert_eq!(jsons, 11, "every test written: {:?}", got.keys());
    for dir in [
        ".._escape",
        "_..",
        "_.",
        "_",
        "_abs_path",
        "link-1",
        "plain_t",
        "bell%07",
        "a_.._.._b",
    ] {
        assert!(
            got.contains_key(&format!("{dir}/test.json")),
            "{dir} in {:?}",
            got.keys()
        );
    }
    assert!(got.contains_key("link_t/test.json"), "{:?}", got.keys());
    assert!(got.contains_key(".._escape/.._.._.._attachment"));
}

#[test]
fn output_of_no_test_is_passed_through_unless_asked_not_to() {
    let tmp = TempDir::new("disk-passthrough");
    let stream = awkward_stream();
    let out = export(&tmp.path("a"), &stream, &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "build output before the run\nglobal file\nchatter between packets\n"
    );
    let out = export(&tmp.path("b"), &stream, &["--no-passthrough"]);
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(tree(&tmp.path("a")), tree(&tmp.path("b")));
}

#[test]
fn damage_is_reported_and_the_tests_around_it_written() {
    let tmp = TempDir::new("disk-damage");
    let mut s = Vec::new();
    push(&mut s, &event("before", Status::Success, 1));
    let at = s.len();
    push(&mut s, &event("damaged", Status::Success, 2));
    s[at + 6] ^= 0xff;
    push(&mut s, &event("after", Status::Success, 3));
    let out = export(&tmp.path("out"), &s, &["--no-passthrough"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("subunit2disk: ") && stderr.contains("damaged"),
        "{stderr}"
    );
    let got = tree(&tmp.path("out"));
    assert!(got.contains_key("before/test.json") && got.contains_key("after/test.json"));
    assert!(!got.contains_key("damaged/test.json"));
}

#[test]
fn a_directory_that_cannot_be_made_is_an_error_naming_it() {
    let tmp = TempDir::new("disk-unwritable");
    let file = tmp.file("a-file", b"");
    let out = export(&file.join("sub"), &event_stream("t"), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("subunit2disk: cannot create ") && stderr.contains("a-file/sub"),
        "{stderr}"
    );
}

fn event_stream(id: &str) -> Vec<u8> {
    let mut s = Vec::new();
    push(&mut s, &event(id, Status::Success, 1));
    s
}

#[test]
fn each_test_is_written_when_it_ends() {
    let tmp = TempDir::new("disk-live");
    let root = tmp.path("out");
    let mut child = ours("subunit2disk")
        .arg("-d")
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&event_stream("first")).unwrap();
    stdin.flush().unwrap();
    let start = Instant::now();
    while !root.join("first/test.json").exists() {
        assert!(
            start.elapsed() < TIMEOUT,
            "first test not written while input is open"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
