//! JUnit XML written: escaping that always gives well-formed XML 1.0, and
//! one `<testcase>` element at a time, so that a writer holds no more than
//! the test at hand.
//!
//! Text is escaped so that nothing is lost and nothing makes the document
//! unreadable: bytes that are not UTF-8 become U+FFFD (as
//! `String::from_utf8_lossy` replaces them), characters XML 1.0 cannot
//! hold at all (C0 controls but tab, LF and CR; U+FFFE and U+FFFF) are
//! written visibly as `\xNN` or `\uFFFE`, and CR is written as `&#13;` so
//! that a reader's line-end normalisation does not turn it into LF.

use std::borrow::Cow;

use crate::codec::packet::Timestamp;

/// The bytes [`escape`] looks at; every other byte is copied as it is.
const fn special(attribute: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    if !attribute {
        table[b'\t' as usize] = false;
        table[b'\n' as usize] = false;
    }
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[b'"' as usize] = attribute;
    // The first byte of U+FFFE and U+FFFF (and of the rest of U+F000..).
    table[0xef] = true;
    table
}

const IN_TEXT: [bool; 256] = special(false);
const IN_ATTRIBUTE: [bool; 256] = special(true);

/// Appends `bytes` as XML character data (`attribute` set: as the value of
/// a double-quoted attribute, where tab and LF are written as references
/// so that attribute normalisation keeps them).
pub fn escape(bytes: &[u8], attribute: bool, out: &mut Vec<u8>) {
    let text: Cow<'_, [u8]> = match std::str::from_utf8(bytes) {
        Ok(_) => Cow::Borrowed(bytes),
        Err(_) => Cow::Owned(String::from_utf8_lossy(bytes).into_owned().into_bytes()),
    };
    let table = if attribute { &IN_ATTRIBUTE } else { &IN_TEXT };
    let mut rest = &text[..];
    while let Some(at) = rest.iter().position(|&b| table[usize::from(b)]) {
        out.extend_from_slice(&rest[..at]);
        let b = rest[at];
        let mut used = 1;
        match b {
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'&' => out.extend_from_slice(b"&amp;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\t' => out.extend_from_slice(b"&#9;"),
            b'\n' => out.extend_from_slice(b"&#10;"),
            b'\r' => out.extend_from_slice(b"&#13;"),
            // U+FFFE and U+FFFF: EF BF BE / EF BF BF.
            0xef if rest.get(at + 1) == Some(&0xbf)
                && matches!(rest.get(at + 2), Some(0xbe | 0xbf)) =>
            {
                let which: &[u8] = if rest[at + 2] == 0xbe {
                    b"\\uFFFE"
                } else {
                    b"\\uFFFF"
                };
                out.extend_from_slice(which);
                used = 3;
            }
            0xef => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
        rest = &rest[at + used..];
    }
    out.extend_from_slice(rest);
}

/// A test's time as python's junitxml gives it, so that both write the same
/// `time`: each timestamp to the nearest microsecond (ties to even), as
/// python-subunit makes a `datetime` of it, and the difference of the two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seconds {
    micros: i64,
}

impl Seconds {
    /// From `start` to `stop`.
    pub fn between(start: Timestamp, stop: Timestamp) -> Seconds {
        let micros = |t: Timestamp| {
            let (whole, part) = (t.nanos / 1000, t.nanos % 1000);
            let round = part > 500 || (part == 500 && whole % 2 == 1);
            i64::from(t.seconds) * 1_000_000 + i64::from(whole + u32::from(round))
        };
        Seconds {
            micros: micros(stop) - micros(start),
        }
    }

    /// Appends the seconds with three decimals, as python's `"%0.3f"` of
    /// its float `seconds + 0.000001 * microseconds`; a negative time (a
    /// clock that went back) is written as 0.000.
    pub fn write(self, out: &mut Vec<u8>) {
        let micros = self.micros.max(0);
        let (whole, part) = (micros / 1_000_000, micros % 1_000_000);
        // Rounding the float can only differ from rounding the exact value
        // at a tie (a remainder of 500) or where the float has too few
        // bits left for the microseconds: there, do as python does.
        if part % 1000 == 500 || whole >= 1 << 20 {
            let float = whole as f64 + 0.000001 * part as f64;
            out.extend_from_slice(format!("{float:.3}").as_bytes());
            return;
        }
        let millis = whole * 1000 + (part + 500) / 1000;
        push_number((millis / 1000) as u64, out);
        let fraction = (millis % 1000) as usize;
        out.extend_from_slice(&[
            b'.',
            DIGITS[fraction / 100],
            DIGITS[fraction / 10 % 10],
            DIGITS[fraction % 10],
        ]);
    }
}

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = Vec::with_capacity(16);
        self.write(&mut text);
        f.write_str(std::str::from_utf8(&text).expect("digits and a dot"))
    }
}

const DIGITS: &[u8; 10] = b"0123456789";

/// Appends `n` in decimal.
pub fn push_number(n: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(crate::os::decimal(n, &mut [0; 20]));
}

/// Splits a test id as python's junitxml does: at the last dot before the
/// first `(` (parameters), the class name before it (empty when there is
/// no dot) and the name after.
pub fn split_id(id: &str) -> (&str, &str) {
    // Both are ASCII, so the byte searches cut at character boundaries.
    let end = memchr::memchr(b'(', id.as_bytes()).unwrap_or(id.len());
    match memchr::memrchr(b'.', &id.as_bytes()[..end]) {
        Some(dot) => (&id[..dot], &id[dot + 1..]),
        None => ("", id),
    }
}

/// How a test case ended, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No outcome element.
    Passed,
    /// A `<failure>`.
    Failure,
    /// An `<error>`.
    Error,
    /// A `<skipped>`.
    Skipped,
}

/// One test case to write; text fields are raw bytes, escaped here.
#[derive(Debug)]
pub struct Case<'a> {
    /// The class name (see [`split_id`]).
    pub classname: &'a str,
    /// The name.
    pub name: &'a str,
    /// Its duration, if known.
    pub time: Option<Seconds>,
    /// How it ended.
    pub outcome: Outcome,
    /// The outcome element's `message` attribute.
    pub message: Option<&'a [u8]>,
    /// The outcome element's `type` attribute.
    pub kind: Option<&'a str>,
    /// The outcome element's text.
    pub text: Option<&'a [u8]>,
    /// Its tags, written as properties named `tag`.
    pub tags: &'a [String],
    /// Text for `<system-out>`.
    pub stdout: &'a [u8],
    /// Text for `<system-err>`.
    pub stderr: &'a [u8],
    /// Earlier runs of the same test, already written by
    /// [`Case::write_rerun`]: a pass that follows failures carries them.
    pub reruns: &'a [u8],
}

impl Case<'_> {
    /// Appends the `<testcase>` element and a newline.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"    <testcase classname=\"");
        escape(self.classname.as_bytes(), true, out);
        out.extend_from_slice(b"\" name=\"");
        escape(self.name.as_bytes(), true, out);
        out.extend_from_slice(b"\"");
        if let Some(time) = self.time {
            out.extend_from_slice(b" time=\"");
            time.write(out);
            out.push(b'"');
        }
        out.extend_from_slice(b">\n");
        if !self.tags.is_empty() {
            out.extend_from_slice(b"      <properties>\n");
            for tag in self.tags {
                out.extend_from_slice(b"        <property name=\"tag\" value=\"");
                escape(tag.as_bytes(), true, out);
                out.extend_from_slice(b"\"/>\n");
            }
            out.extend_from_slice(b"      </properties>\n");
        }
        let element: &[u8] = match self.outcome {
            Outcome::Passed => b"",
            Outcome::Failure => b"failure",
            Outcome::Error => b"error",
            Outcome::Skipped => b"skipped",
        };
        if !element.is_empty() {
            out.extend_from_slice(b"      <");
            out.extend_from_slice(element);
            if let Some(message) = self.message {
                out.extend_from_slice(b" message=\"");
                escape(message, true, out);
                out.push(b'"');
            }
            if let Some(kind) = self.kind {
                out.extend_from_slice(b" type=\"");
                escape(kind.as_bytes(), true, out);
                out.push(b'"');
            }
            match self.text.filter(|t| !t.is_empty()) {
                Some(text) => {
                    out.push(b'>');
                    escape(text, false, out);
                    out.extend_from_slice(b"</");
                    out.extend_from_slice(element);
                    out.extend_from_slice(b">\n");
                }
                None => out.extend_from_slice(b"/>\n"),
            }
        }
        out.extend_from_slice(self.reruns);
        self.write_output(b"      ", out);
        out.extend_from_slice(b"    </testcase>\n");
    }

    /// Appends this failed (or errored) run as the element Surefire gives
    /// an earlier run of a test that passed in the end: `<flakyFailure>`
    /// (`<flakyError>`) with the message and type, the text as
    /// `<stackTrace>` and the run's own output. Nothing for other outcomes.
    pub fn write_rerun(&self, out: &mut Vec<u8>) {
        let element: &[u8] = match self.outcome {
            Outcome::Failure => b"flakyFailure",
            Outcome::Error => b"flakyError",
            Outcome::Passed | Outcome::Skipped => return,
        };
        out.extend_from_slice(b"      <");
        out.extend_from_slice(element);
        for (name, value) in [
            (&b" message=\""[..], self.message),
            (b" type=\"", self.kind.map(str::as_bytes)),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(name);
                escape(value, true, out);
                out.push(b'"');
            }
        }
        out.extend_from_slice(b">\n");
        if let Some(text) = self.text.filter(|t| !t.is_empty()) {
            out.extend_from_slice(b"        <stackTrace>");
            escape(text, false, out);
            out.extend_from_slice(b"</stackTrace>\n");
        }
        self.write_output(b"        ", out);
        out.extend_from_slice(b"      </");
        out.extend_from_slice(element);
        out.extend_from_slice(b">\n");
    }

    /// `<system-out>` and `<system-err>`, when there is output, each on a
    /// line of its own after `indent`.
    fn write_output(&self, indent: &[u8], out: &mut Vec<u8>) {
        for (element, text) in [
            (&b"system-out"[..], self.stdout),
            (b"system-err", self.stderr),
        ] {
            if !text.is_empty() {
                out.extend_from_slice(indent);
                out.push(b'<');
                out.extend_from_slice(element);
                out.push(b'>');
                escape(text, false, out);
                out.extend_from_slice(b"</");
                out.extend_from_slice(element);
                out.extend_from_slice(b">\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(bytes: &[u8], attribute: bool) -> String {
        let mut out = Vec::new();
        escape(bytes, attribute, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn what_xml_cannot_hold_is_written_visibly() {
        assert_eq!(escaped(b"\x1b[31mred\x00", false), "\\x1b[31mred\\x00");
        assert_eq!(escaped(b"a\xffb", false), "a\u{fffd}b");
        assert_eq!(
            escaped("\u{fffe}\u{ffff}\u{fffd}".as_bytes(), false),
            "\\uFFFE\\uFFFF\u{fffd}"
        );
        assert_eq!(
            escaped(b"<a & b>\r\n\t\"", false),
            "&lt;a &amp; b&gt;&#13;\n\t\""
        );
        assert_eq!(escaped(b"\"\t\n", true), "&quot;&#9;&#10;");
    }

    fn written(seconds: Seconds) -> String {
        let mut out = Vec::new();
        seconds.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn times_round_as_pythons_float_does() {
        // Every remainder of a millisecond, over a few seconds and far out:
        // the integer rounding agrees with rounding python's float.
        for whole in [
            0i64,
            1,
            59,
            3599,
            86_399,
            (1 << 20) - 1,
            1 << 20,
            4_000_000_000,
        ] {
            for part in (0..1_000_000)
                .step_by(7)
                .chain([499, 500, 501, 999_499, 999_500, 999_999])
            {
                let seconds = Seconds {
                    micros: whole * 1_000_000 + part,
                };
                let float = whole as f64 + 0.000001 * part as f64;
                assert_eq!(
                    written(seconds),
                    format!("{float:.3}"),
                    "{whole} s {part} us"
                );
            }
        }
        assert_eq!(written(Seconds { micros: -5 }), "0.000");
    }

    #[test]
    fn timestamps_are_taken_to_the_nearest_microsecond_ties_to_even() {
        let at = |nanos| Timestamp { seconds: 10, nanos };
        let micros = |start, stop| Seconds::between(at(start), at(stop)).micros;
        assert_eq!(micros(0, 1_499), 1);
        assert_eq!(micros(0, 1_500), 2);
        assert_eq!(micros(0, 2_500), 2);
        assert_eq!(micros(0, 2_501), 3);
        assert_eq!(micros(500, 1_000), 1, "0.5 us rounds to 0");
        let later = Timestamp {
            seconds: 12,
            nanos: 0,
        };
        assert_eq!(Seconds::between(at(999_999_600), later).micros, 1_000_000);
    }

    #[test]
    fn ids_split_at_the_last_dot_before_parameters() {
        assert_eq!(split_id("a.b.C.test_x"), ("a.b.C", "test_x"));
        assert_eq!(split_id("a.C.test(x.y)"), ("a.C", "test(x.y)"));
        assert_eq!(split_id("plain"), ("", "plain"));
        assert_eq!(split_id("noclass(a.b)"), ("", "noclass(a.b)"));
    }
}
