//! The result lines of automake's parallel test driver (`PASS: name`,
//! `FAIL:`, ...), as `make check` prints them.

use crate::codec::packet::Status;

/// `PASS: name` and the other lines of automake's parallel test driver.
pub fn automake_result(text: &str) -> Option<(Status, String)> {
    let (word, name) = text.split_once(": ")?;
    let status = match word {
        "PASS" => Status::Success,
        "FAIL" | "ERROR" => Status::Fail,
        "XFAIL" => Status::XFail,
        "XPASS" => Status::UxSuccess,
        "SKIP" => Status::Skip,
        _ => return None,
    };
    let name = name.trim();
    (!name.is_empty()).then(|| (status, name.to_owned()))
}
