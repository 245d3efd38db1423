//! The directory layout of subunit2disk, without the I/O: where a test or
//! an attachment goes, and the `test.json` that describes a test.
//!
//! python-subunit's subunit2disk makes a directory per test id (an id with
//! `/` in it makes nested directories), writes `test.json` and each
//! attachment into it under the attachment's name, and adds `-1`, `-2`,
//! ... to a name that is taken. It keeps a name inside the root by
//! comparing resolved paths as strings, which lets `../rootX/...` out into
//! a sibling directory, loops forever on an id of `..`, and follows
//! symbolic links. Here a name is made of components that are checked one
//! by one ([`components`]), so nothing can leave the root whatever the
//! name; the writer then opens each component without following links.

use std::fmt::Write as _;

use crate::formats::v1::python_str_time;
use crate::results::record::TestRecord;

/// The longest file name component Linux allows (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// Bytes kept of a component that is too long, leaving room for a hash
/// of it and for a `-N` suffix.
const KEPT: usize = 200;

/// The path components under which `name` (a test id or an attachment
/// name) is written, each a safe file name: not empty, not `.` or `..`,
/// without `/` or control characters (NUL among them), at most 255
/// bytes.
///
/// A name whose `/`-separated parts are all safe as they are keeps them
/// as nested directories, as python-subunit makes them. Otherwise it
/// becomes one component: `/` and `\` become `_` (as python squashes a
/// name that would escape), a name that is empty, `.` or `..` gets a `_`
/// in front, control characters become `%XX`, and a component over 255
/// bytes is cut and ends in a hash of the whole, so different long names
/// stay apart.
pub fn components(name: &str) -> Vec<String> {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.iter().all(|part| is_safe(part)) {
        return parts.into_iter().map(str::to_owned).collect();
    }
    vec![squashed(name)]
}

/// `name` as one safe component (see [`components`]).
pub fn squashed(name: &str) -> String {
    let mut one = String::with_capacity(name.len() + 1);
    if matches!(name, "" | "." | "..") {
        one.push('_');
    }
    for c in name.chars() {
        match c {
            '/' | '\\' => one.push('_'),
            c if c.is_ascii_control() => {
                let _ = write!(one, "%{:02X}", c as u32);
            }
            c => one.push(c),
        }
    }
    if one.len() > NAME_MAX {
        let mut cut = KEPT;
        while !one.is_char_boundary(cut) {
            cut -= 1;
        }
        one.truncate(cut);
        let _ = write!(one, "-{:016x}", fnv1a(name.as_bytes()));
    }
    one
}

/// Whether `part` is a safe component as it is.
fn is_safe(part: &str) -> bool {
    !matches!(part, "" | "." | "..")
        && part.len() <= NAME_MAX
        && !part.bytes().any(|b| b.is_ascii_control())
}

/// `name`, or `name-N` for the `attempt`th name tried after it was taken.
pub fn numbered(name: &str, attempt: u32) -> String {
    if attempt == 0 {
        name.to_owned()
    } else {
        format!("{name}-{attempt}")
    }
}

/// A stable 64-bit hash (FNV-1a): names must map to the same file name in
/// every run, which the standard hashers do not promise.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The `test.json` of a test, as python's subunit2disk writes it:
/// `json.dumps(summary, sort_keys=True, ensure_ascii=False)` of its id,
/// sorted tags, status, sorted attachment names and first and last
/// timestamps (`str()` of python's datetime, or `null`).
pub fn test_json(record: &TestRecord) -> String {
    let mut details: Vec<&str> = record.files.iter().map(|f| f.name.as_str()).collect();
    details.sort_unstable();
    let mut tags: Vec<&str> = record.tags.iter().map(String::as_str).collect();
    tags.sort_unstable();
    tags.dedup();
    let time = |ts| match ts {
        Some(ts) => string(&python_str_time(ts)),
        None => "null".to_owned(),
    };
    format!(
        "{{\"details\": {}, \"id\": {}, \"start\": {}, \"status\": {}, \"stop\": {}, \"tags\": {}}}",
        list(&details),
        string(&record.id),
        time(record.start),
        string(record.status_name()),
        time(record.stop),
        list(&tags),
    )
}

/// A JSON string as python's `json.dumps(..., ensure_ascii=False)` writes
/// it: non-ASCII as it is, control characters escaped (serde_json escapes
/// the same characters the same way).
fn string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serialises")
}

/// A JSON list of strings with python's `", "` separator.
fn list(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::{Status, Timestamp};
    use crate::results::record::RecordFile;

    #[test]
    fn safe_names_keep_their_nesting_and_unsafe_ones_become_one_component() {
        assert_eq!(components("pkg.mod.Test.test_x"), ["pkg.mod.Test.test_x"]);
        assert_eq!(components("a/b/c"), ["a", "b", "c"]);
        assert_eq!(components("../../etc/passwd"), [".._.._etc_passwd"]);
        assert_eq!(components("/etc/passwd"), ["_etc_passwd"]);
        assert_eq!(components("a//b"), ["a__b"]);
        assert_eq!(components("a/./b"), ["a_._b"]);
        assert_eq!(components(".."), ["_.."]);
        assert_eq!(components("."), ["_."]);
        assert_eq!(components(""), ["_"]);
        assert_eq!(
            components("a\\b"),
            ["a\\b"],
            "one file name on Linux, as python's"
        );
        assert_eq!(components("../a\\b"), [".._a_b"]);
        assert_eq!(components("bell\x07/x"), ["bell%07_x"]);
        assert_eq!(components("é/ü"), ["é", "ü"]);
    }

    #[test]
    fn long_names_are_cut_and_stay_apart() {
        let long = |c: char| format!("{}{c}", "x".repeat(300));
        let (a, b) = (squashed(&long('a')), squashed(&long('b')));
        assert!(a.len() <= NAME_MAX && b.len() <= NAME_MAX);
        assert_ne!(a, b);
        assert_eq!(components(&long('a')), [a]);
        let wide = "é".repeat(200);
        assert!(squashed(&wide).len() <= NAME_MAX);
    }

    #[test]
    fn every_component_is_a_safe_file_name() {
        for name in [
            "", ".", "..", "/", "//", "a/..", "../a", "a/../b", "\\", "x\0y", "\n", "a/\x7f",
        ] {
            for part in components(name) {
                assert!(is_safe(&part), "{name:?} gave {part:?}");
                assert!(!part.contains('/') && !part.contains('\0'));
            }
        }
    }

    #[test]
    fn test_json_is_pythons() {
        let record = TestRecord {
            id: "t.é\"x".into(),
            route_code: None,
            tags: vec!["b".into(), "a".into()],
            files: vec![
                RecordFile {
                    name: "traceback".into(),
                    ..RecordFile::default()
                },
                RecordFile {
                    name: "stdout".into(),
                    ..RecordFile::default()
                },
            ],
            status: Some(Status::Fail),
            start: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 5_000,
            }),
            stop: None,
        };
        assert_eq!(
            test_json(&record),
            "{\"details\": [\"stdout\", \"traceback\"], \"id\": \"t.é\\\"x\", \
             \"start\": \"2023-11-14 22:13:20.000005+00:00\", \"status\": \"fail\", \
             \"stop\": null, \"tags\": [\"a\", \"b\"]}"
        );
    }
}
