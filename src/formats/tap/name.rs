//! How `tap2subunit` names the tests it reports, which every reader of
//! TAP here names them as too. Each name can be appended to a buffer the
//! caller reuses: a TAP stream names a test on nearly every line.

/// The name of test `number`: `test N`, then the description if any.
pub fn test_name(number: u64, description: &str) -> String {
    let mut name = String::new();
    write_test_name(number, description, &mut name);
    name
}

/// Appends [`test_name`] to `name`, a buffer the caller reuses. The
/// description is as a result line spells it: TAP 14's escapes `\#` and
/// `\\` stand for `#` and `\`; any other backslash is itself.
pub fn write_test_name(number: u64, description: &str, name: &mut String) {
    name.push_str("test ");
    push_number(number, name);
    if description.is_empty() {
        return;
    }
    name.push(' ');
    let mut rest = description;
    while let Some(at) = rest.find('\\') {
        name.push_str(&rest[..at]);
        match rest.as_bytes().get(at + 1) {
            Some(escaped @ (b'#' | b'\\')) => {
                name.push(char::from(*escaped));
                rest = &rest[at + 2..];
            }
            _ => {
                name.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    name.push_str(rest);
}

/// Appends `number` in decimal to `text`, as `{number}` formats it, without
/// the formatting machinery (a TAP stream names a test on every line).
pub fn push_number(number: u64, text: &mut String) {
    let mut buf = [0u8; 20];
    let digits = crate::os::decimal(number, &mut buf);
    text.reserve(digits.len());
    for &digit in digits {
        text.push(char::from(digit));
    }
}

/// The name of the test that reports a `Bail out!`: the line itself.
pub fn bail_out_name(reason: &str) -> String {
    let mut name = String::new();
    write_bail_out_name(reason, &mut name);
    name
}

/// Appends [`bail_out_name`] to `name`, a buffer the caller reuses.
pub fn write_bail_out_name(reason: &str, name: &mut String) {
    name.push_str("Bail out!");
    if !reason.is_empty() {
        name.push(' ');
        name.push_str(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_formatted_as_format_would() {
        for number in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX / 10, u64::MAX] {
            assert_eq!(test_name(number, ""), format!("test {number}"));
            assert_eq!(test_name(number, "- a"), format!("test {number} - a"));
        }
        let mut name = String::from("kept ");
        write_test_name(7, "x", &mut name);
        assert_eq!(name, "kept test 7 x");
    }

    #[test]
    fn tap_14_escapes_are_undone_in_names() {
        assert_eq!(test_name(1, r"- a \# b"), "test 1 - a # b");
        assert_eq!(test_name(1, r"C:\\dir\\"), r"test 1 C:\dir\");
        assert_eq!(
            test_name(1, r"a\b \"),
            r"test 1 a\b \",
            "a lone backslash is kept"
        );
        assert_eq!(test_name(1, r"\\\#é\"), r"test 1 \#é\");
    }

    #[test]
    fn bail_out_names_are_the_line() {
        assert_eq!(bail_out_name("no disk"), "Bail out! no disk");
        assert_eq!(bail_out_name(""), "Bail out!");
        let mut name = String::from("kept ");
        write_bail_out_name("x", &mut name);
        assert_eq!(name, "kept Bail out! x");
    }
}
