//! How `tap2subunit` names the tests it reports, which every reader of
//! TAP here names them as too.

/// The name of test `number`: `test N`, then the description if any.
pub fn test_name(number: u64, description: &str) -> String {
    if description.is_empty() {
        format!("test {number}")
    } else {
        format!("test {number} {description}")
    }
}

/// The name of the test that reports a `Bail out!`: the line itself.
pub fn bail_out_name(reason: &str) -> String {
    if reason.is_empty() {
        "Bail out!".to_owned()
    } else {
        format!("Bail out! {reason}")
    }
}
