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

/// Appends `bytes` as XML character data (`attribute` set: as the value of
/// a double-quoted attribute, where tab and LF are written as references
/// so that attribute normalisation keeps them).
pub fn escape(bytes: &[u8], attribute: bool, out: &mut Vec<u8>) {
    let text: Cow<'_, str> = String::from_utf8_lossy(bytes);
    let text = text.as_bytes();
    let mut done = 0;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let replacement: Option<&[u8]> = match b {
            b'<' => Some(b"&lt;"),
            b'>' => Some(b"&gt;"),
            b'&' => Some(b"&amp;"),
            b'"' if attribute => Some(b"&quot;"),
            b'\t' if attribute => Some(b"&#9;"),
            b'\n' if attribute => Some(b"&#10;"),
            b'\r' => Some(b"&#13;"),
            b'\t' | b'\n' => None,
            0..=0x1f => Some(b""),
            // U+FFFE and U+FFFF: EF BF BE / EF BF BF.
            0xef if text.get(i + 1) == Some(&0xbf)
                && matches!(text.get(i + 2), Some(0xbe | 0xbf)) =>
            {
                Some(b"")
            }
            _ => None,
        };
        if let Some(replacement) = replacement {
            out.extend_from_slice(&text[done..i]);
            if replacement.is_empty() && b == 0xef {
                let which = if text[i + 2] == 0xbe { "FFFE" } else { "FFFF" };
                out.extend_from_slice(b"\\u");
                out.extend_from_slice(which.as_bytes());
                i += 3;
            } else {
                if replacement.is_empty() {
                    out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                } else {
                    out.extend_from_slice(replacement);
                }
                i += 1;
            }
            done = i;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&text[done..]);
}

/// Splits a test id as python's junitxml does: at the last dot before the
/// first `(` (parameters), the class name before it (empty when there is
/// no dot) and the name after.
pub fn split_id(id: &str) -> (&str, &str) {
    let end = id.find('(').unwrap_or(id.len());
    match id[..end].rfind('.') {
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
    /// Its duration in seconds, if known.
    pub time: Option<f64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The outcome element's `message` attribute.
    pub message: Option<&'a [u8]>,
    /// The outcome element's `type` attribute.
    pub kind: Option<&'a str>,
    /// The outcome element's text.
    pub text: Option<&'a [u8]>,
    /// Properties (name, value) of the case.
    pub properties: &'a [(&'a str, &'a str)],
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
            out.extend_from_slice(format!(" time=\"{:.3}\"", time.max(0.0)).as_bytes());
        }
        out.extend_from_slice(b">\n");
        if !self.properties.is_empty() {
            out.extend_from_slice(b"      <properties>\n");
            for (name, value) in self.properties {
                out.extend_from_slice(b"        <property name=\"");
                escape(name.as_bytes(), true, out);
                out.extend_from_slice(b"\" value=\"");
                escape(value.as_bytes(), true, out);
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

    #[test]
    fn ids_split_at_the_last_dot_before_parameters() {
        assert_eq!(split_id("a.b.C.test_x"), ("a.b.C", "test_x"));
        assert_eq!(split_id("a.C.test(x.y)"), ("a.C", "test(x.y)"));
        assert_eq!(split_id("plain"), ("", "plain"));
        assert_eq!(split_id("noclass(a.b)"), ("", "noclass(a.b)"));
    }
}
