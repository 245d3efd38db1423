//! The line subunit-trace writes for each test as it ends, in os-testr's
//! words: `{worker} test.id [1.234567s] ... ok`, then the test's captured
//! output where os-testr shows it.

use std::io::{self, Write};

use crate::codec::packet::{Status, Timestamp};
use crate::results::group::{Attachment, Test};

/// What to show of each test; from the options.
#[derive(Clone, Copy, Debug)]
pub(super) struct Style {
    /// `-n`: no attachments after failures.
    pub(super) no_failure_debug: bool,
    /// `--failonly`: lines of failures only.
    pub(super) fail_only: bool,
    /// `-a`: one character per test.
    pub(super) abbreviate: bool,
    /// ANSI colours on the outcome.
    pub(super) color: bool,
}

const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const BLUE: &str = "34";

/// Whether a test of this outcome fails the run: it failed, unexpectedly
/// succeeded, or never finished.
pub(super) fn is_failure(status: Status) -> bool {
    matches!(
        status,
        Status::Fail | Status::UxSuccess | Status::InProgress | Status::Unset
    )
}

/// Its worker: the route code, else the number of a `worker-N` tag of its
/// latest packet with tags (as os-testr finds it), else 0.
pub(super) fn worker(test: &Test) -> &str {
    if let Some(route) = &test.route_code {
        return route;
    }
    // Not Test::tags: sorting a list per test is a cost for nothing here.
    test.packets
        .iter()
        .filter_map(|p| p.tags())
        .last()
        .and_then(|mut tags| tags.find_map(|t| t.strip_prefix("worker-")))
        .unwrap_or("0")
}

/// The test id as os-testr shows it: without the first `[...]` (tempest's
/// tags in the id), when it is not at the start.
pub(super) fn display_name(id: &str) -> std::borrow::Cow<'_, str> {
    let find = |b| memchr::memchr(b, id.as_bytes());
    match (find(b'['), find(b']')) {
        (Some(open), Some(close)) if open > 0 && close > open => {
            format!("{}{}", &id[..open], &id[close + 1..]).into()
        }
        _ => id.into(),
    }
}

/// `%d.%06ds` of the time from `first` to `last`, as os-testr writes it;
/// empty without both.
pub(super) struct Duration(pub(super) Option<Timestamp>, pub(super) Option<Timestamp>);

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0, self.1) {
            (Some(first), Some(last)) => {
                let nanos =
                    |t: Timestamp| i64::from(t.seconds) * 1_000_000_000 + i64::from(t.nanos);
                let micros = (nanos(last) - nanos(first)).max(0) / 1000;
                write!(f, "{}.{:06}s", micros / 1_000_000, micros % 1_000_000)
            }
            _ => Ok(()),
        }
    }
}

fn paint(out: &mut impl Write, color: bool, code: &str, text: &str) -> io::Result<()> {
    if color {
        write!(out, "\x1b[{code}m{text}\x1b[0m")
    } else {
        out.write_all(text.as_bytes())
    }
}

/// Writes what is shown of `test` (nothing, under `--failonly`, for a test
/// that did not fail). Returns whether anything was written.
pub(super) fn write_test(
    out: &mut impl Write,
    test: &Test,
    worker: &str,
    style: Style,
) -> io::Result<bool> {
    let status = test.status();
    let failed = is_failure(status);
    if style.fail_only && !failed {
        return Ok(false);
    }
    if style.abbreviate {
        let (c, code) = match status {
            Status::Success => (".", GREEN),
            Status::Fail => ("F", RED),
            Status::Skip => ("S", BLUE),
            Status::XFail => ("x", GREEN),
            Status::UxSuccess => ("u", RED),
            _ => ("i", YELLOW),
        };
        paint(out, style.color, code, c)?;
        return Ok(true);
    }
    let name = display_name(&test.test_id);
    let (first, last) = test.timestamps();
    if status == Status::Skip {
        write!(out, "{{{worker}}} {name} ... ")?;
        paint(out, style.color, BLUE, "SKIPPED")?;
        let attachments = test.attachments();
        if let Some(reason) = attachments.iter().find(|a| a.name == "reason") {
            let text = String::from_utf8_lossy(&reason.chunks.concat()).into_owned();
            if !text.is_empty() {
                write!(out, ": {text}")?;
            }
        }
        out.write_all(b"\n")?;
        return Ok(true);
    }
    write!(out, "{{{worker}}} {name} [{}] ... ", Duration(first, last))?;
    let (word, code) = match status {
        Status::Success => ("ok", GREEN),
        Status::Fail => ("FAILED", RED),
        Status::XFail => ("xfail", GREEN),
        Status::UxSuccess => ("uxsuccess", RED),
        Status::InProgress => ("inprogress", YELLOW),
        _ => ("unknown", YELLOW),
    };
    paint(out, style.color, code, word)?;
    out.write_all(b"\n")?;
    match status {
        // os-testr shows what a passing test printed, always.
        Status::Success => write_attachments(out, test, false)?,
        _ if !style.no_failure_debug => write_attachments(out, test, true)?,
        _ => {}
    }
    Ok(true)
}

/// Writes a test's attachments as os-testr does: each under `Captured
/// NAME:` and a rule, its lines indented four spaces; only `stdout` and
/// `stderr` unless `all`. A name is cut at its first `:` (python's
/// `pythonlogging:''`).
pub(super) fn write_attachments(out: &mut impl Write, test: &Test, all: bool) -> io::Result<()> {
    for attachment in test.attachments() {
        let name = attachment.name.split(':').next().unwrap_or_default();
        if !all && name != "stdout" && name != "stderr" {
            continue;
        }
        write_attachment(out, name, &attachment)?;
    }
    Ok(())
}

fn write_attachment(
    out: &mut impl Write,
    name: &str,
    attachment: &Attachment<'_>,
) -> io::Result<()> {
    let content = attachment.chunks.concat();
    let title = format!("Captured {name}:");
    write!(out, "\n{title}\n{}\n", "~".repeat(title.chars().count()))?;
    let text = String::from_utf8_lossy(&content);
    for line in text.split('\n') {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_durations_as_os_testr_writes_them() {
        assert_eq!(display_name("a.b.test_x[id-1,smoke]"), "a.b.test_x");
        assert_eq!(
            display_name("a.b.test_x[id-1](scenario)"),
            "a.b.test_x(scenario)"
        );
        assert_eq!(display_name("[x]a"), "[x]a");
        assert_eq!(display_name("a]b[c"), "a]b[c");
        let at = |seconds, nanos| Some(Timestamp { seconds, nanos });
        let duration = |a, b| Duration(a, b).to_string();
        assert_eq!(duration(at(10, 500), at(12, 234_567_890)), "2.234567s");
        assert_eq!(duration(at(10, 0), None), "");
        assert_eq!(duration(at(12, 0), at(10, 0)), "0.000000s");
    }
}
