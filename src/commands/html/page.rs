//! The page `subunit2html` writes: a summary, a bar of outcomes, then one
//! table per class of tests, classes with failures first and failures
//! first in each, every test's text in a `<details>` to expand. The rows
//! that are not failures are handed to the page's script as text, made
//! rows as they scroll into view, so that a page of 100,000 tests opens at
//! once.
//!
//! A page can only be written once the run has ended (its counts come
//! first, its order is not the stream's), but a run can be long: each
//! test's row is rendered when the test ends and put in a temporary file
//! ([`SpillFile`]); memory keeps only where each row is, its class and
//! its outcome.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use rustc_hash::FxHashMap as HashMap;

use crate::codec::packet::{Status, Timestamp};
use crate::results::record::TestRecord;
use crate::results::spill::{Chain, SpillFile};
use crate::results::stats::nanos_between;

/// The outcomes a row can have, in the order the summary lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Failed.
    Failed,
    /// Passed though expected to fail.
    UxSuccess,
    /// Never finished: the stream ended first.
    Unfinished,
    /// Passed.
    Passed,
    /// Skipped.
    Skipped,
    /// Failed as expected.
    XFail,
}

impl Outcome {
    /// Every outcome, in summary order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Skipped,
        Outcome::XFail,
        Outcome::UxSuccess,
        Outcome::Unfinished,
    ];

    /// The outcome of a test that ended with `status` (`None`: it did not).
    pub fn of(status: Option<Status>) -> Option<Outcome> {
        Some(match status {
            None | Some(Status::InProgress | Status::Unset) => Outcome::Unfinished,
            Some(Status::Success) => Outcome::Passed,
            Some(Status::Fail) => Outcome::Failed,
            Some(Status::Skip) => Outcome::Skipped,
            Some(Status::XFail) => Outcome::XFail,
            Some(Status::UxSuccess) => Outcome::UxSuccess,
            // Announced, never run: not a row.
            Some(Status::Exists) => return None,
        })
    }

    /// Whether it counts against the run.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::UxSuccess | Outcome::Unfinished
        )
    }

    /// Its word on the page, also its CSS class.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::XFail => "xfail",
            Outcome::UxSuccess => "uxsuccess",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// The class of a test id and its name in the class: split at the last
/// dot before any `[` (tempest's `test_x[id-...,smoke]` keeps its tags
/// with the name); an id without a dot is a class of its own name.
pub fn class_and_name(id: &str) -> (&str, &str) {
    let head = id.find('[').map_or(id, |at| &id[..at]);
    match head.rfind('.') {
        Some(dot) => (&id[..dot], &id[dot + 1..]),
        None => ("", id),
    }
}

/// One test's place on the page.
#[derive(Debug)]
struct Row {
    outcome: Outcome,
    /// Its rendered `<tr>`s in the spill file.
    chain: Chain,
}

/// Tests of one class, in the order they ended.
#[derive(Debug, Default)]
struct Class {
    name: String,
    rows: Vec<Row>,
    failures: u64,
    /// Sum of durations in nanoseconds.
    nanos: u64,
}

/// The page being gathered.
#[derive(Debug)]
pub struct Page {
    title: String,
    classes: Vec<Class>,
    class_index: HashMap<String, usize>,
    counts: [u64; Outcome::ALL.len()],
    spill: SpillFile,
    /// What came outside any test, escaped, in the order it came.
    outside: Vec<Chain>,
    /// The source of the last of it.
    outside_name: Option<String>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Sum of the tests' durations, nanoseconds.
    test_nanos: u64,
    scratch: String,
}

/// The most of one attachment shown; the rest is said to be left out
/// (a page must open in a browser, which a 1 GB `<pre>` does not).
pub const MAX_SHOWN: usize = 1 << 20;

impl Page {
    /// An empty page titled `title`, its rows kept in a temporary file in
    /// `dir`.
    pub fn new(title: &str, dir: &Path) -> Page {
        Page {
            title: title.to_owned(),
            classes: Vec::new(),
            class_index: HashMap::default(),
            counts: [0; Outcome::ALL.len()],
            spill: SpillFile::new(dir),
            outside: Vec::new(),
            outside_name: None,
            first: None,
            last: None,
            test_nanos: 0,
            scratch: String::new(),
        }
    }

    /// Notes a timestamp of the stream: the run lasts from the first to
    /// the last.
    pub fn time(&mut self, timestamp: Timestamp) {
        self.first = Some(self.first.map_or(timestamp, |t| t.min(timestamp)));
        self.last = Some(self.last.map_or(timestamp, |t| t.max(timestamp)));
    }

    /// How many tests had `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome as usize]
    }

    /// Adds an ended (or, at the end of the stream, unfinished) test.
    pub fn test(&mut self, record: &TestRecord) -> io::Result<()> {
        let Some(outcome) = Outcome::of(record.status) else {
            return Ok(());
        };
        self.counts[outcome as usize] += 1;
        let nanos = match (record.start, record.stop) {
            (Some(start), Some(stop)) => Some(nanos_between(start, stop)),
            _ => None,
        };
        self.test_nanos += nanos.unwrap_or(0);
        let (class, name) = class_and_name(&record.id);
        let html = &mut self.scratch;
        html.clear();
        let failure = outcome.is_failure();
        let _ = write!(
            html,
            "<tr class=\"t {word}\"><td class=n>",
            word = outcome.word()
        );
        escape_into(name.as_bytes(), html);
        if let Some(route) = &record.route_code {
            html.push_str(" <span class=w>");
            escape_into(route.as_bytes(), html);
            html.push_str("</span>");
        }
        if !record.tags.is_empty() {
            html.push_str(" <span class=g>");
            escape_into(record.tags.join(" ").as_bytes(), html);
            html.push_str("</span>");
        }
        let _ = writeln!(
            html,
            "</td><td class=o>{}</td><td class=d>{}</td></tr>",
            outcome.word(),
            nanos.map_or_else(|| "-".to_owned(), duration_text)
        );
        let shown: Vec<_> = record
            .files
            .iter()
            .filter(|f| !f.content.is_empty())
            .collect();
        if !shown.is_empty() || outcome == Outcome::Unfinished {
            let open = if failure { " open" } else { "" };
            html.push_str("<tr class=x><td colspan=3>");
            if outcome == Outcome::Unfinished {
                html.push_str("<p class=u>did not finish: the stream ended while it ran</p>");
            }
            for file in shown {
                let _ = write!(html, "<details{open}><summary>");
                escape_into(file.name.as_bytes(), html);
                if let Some(mime) = &file.mime {
                    html.push_str(" <span class=m>");
                    escape_into(mime.as_bytes(), html);
                    html.push_str("</span>");
                }
                html.push_str("</summary><pre>");
                let content = &file.content[..file.content.len().min(MAX_SHOWN)];
                escape_into(content, html);
                if file.content.len() > MAX_SHOWN {
                    let _ = write!(
                        html,
                        "</pre><p class=u>{} more bytes not shown</p>",
                        file.content.len() - MAX_SHOWN
                    );
                } else {
                    html.push_str("</pre>");
                }
                html.push_str("</details>");
            }
            html.push_str("</td></tr>\n");
        }
        let chain = self.spill.append(None, html.as_bytes())?;
        let index = match self.class_index.get(class) {
            Some(&index) => index,
            None => {
                self.classes.push(Class {
                    name: class.to_owned(),
                    ..Class::default()
                });
                self.class_index
                    .insert(class.to_owned(), self.classes.len() - 1);
                self.classes.len() - 1
            }
        };
        let class = &mut self.classes[index];
        class.rows.push(Row { outcome, chain });
        class.failures += u64::from(failure);
        class.nanos += nanos.unwrap_or(0);
        Ok(())
    }

    /// Adds output that came outside any test: chatter, or a file without
    /// a test id.
    pub fn outside(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let html = &mut self.scratch;
        html.clear();
        // Named where the source changes: chatter comes in pieces cut
        // wherever the input paused.
        if self.outside_name.as_deref() != Some(name) {
            html.push_str("<span class=f>== ");
            escape_into(name.as_bytes(), html);
            html.push_str("</span>\n");
            self.outside_name = Some(name.to_owned());
        }
        escape_into(bytes, html);
        let chain = self.spill.append(None, html.as_bytes())?;
        self.outside.push(chain);
        Ok(())
    }

    /// Writes the whole page.
    pub fn write(&mut self, out: &mut impl Write) -> io::Result<()> {
        let total: u64 = self.counts.iter().sum();
        let mut head = String::new();
        head.push_str("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n");
        head.push_str("<meta name=viewport content=\"width=device-width\">\n<title>");
        escape_into(self.title.as_bytes(), &mut head);
        head.push_str("</title>\n<style>\n");
        head.push_str(include_str!("page.css"));
        head.push_str("</style>\n</head><body>\n<h1>");
        escape_into(self.title.as_bytes(), &mut head);
        head.push_str("</h1>\n<div id=summary>\n<p class=counts>");
        let _ = write!(head, "<span class=total>{total} tests</span>");
        for outcome in Outcome::ALL {
            let n = self.count(outcome);
            if n > 0 || matches!(outcome, Outcome::Passed | Outcome::Failed) {
                let class = if n > 0 { outcome.word() } else { "none" };
                let _ = write!(
                    head,
                    " <span class=\"c {class}\">{n} {w}</span>",
                    w = outcome.word()
                );
            }
        }
        head.push_str("</p>\n<p class=times>");
        let run = match (self.first, self.last) {
            (Some(first), Some(last)) => duration_text(nanos_between(first, last)),
            _ => "-".to_owned(),
        };
        let _ = write!(
            head,
            "run time {run}, sum of finished tests' times {}",
            duration_text(self.test_nanos)
        );
        head.push_str("</p>\n<div class=bar>");
        for outcome in Outcome::ALL {
            let n = self.count(outcome);
            if n > 0 {
                let _ = write!(
                    head,
                    "<span class={w} style=\"flex-grow:{n}\" title=\"{n} {w}\"></span>",
                    w = outcome.word()
                );
            }
        }
        head.push_str("</div>\n</div>\n");
        head.push_str(
            "<p id=controls><input id=filter type=search placeholder=\"filter tests\" \
             aria-label=\"filter tests\"> <label><input id=failonly type=checkbox> failures \
             only</label> <span id=shown></span></p>\n",
        );
        out.write_all(head.as_bytes())?;
        // Classes with failures first, then as they first ended; in each,
        // failures first.
        let mut order: Vec<usize> = (0..self.classes.len()).collect();
        order.sort_by_key(|&i| (self.classes[i].failures == 0, i));
        let mut bytes = Vec::new();
        for i in order {
            let class = &mut self.classes[i];
            class.rows.sort_by_key(|row| !row.outcome.is_failure());
            let mut header = String::new();
            let failed = if class.failures > 0 { " failing" } else { "" };
            let _ = write!(header, "<section class=\"cls{failed}\"><table><caption>");
            escape_into(
                if class.name.is_empty() {
                    b"(no class)"
                } else {
                    class.name.as_bytes()
                },
                &mut header,
            );
            let _ = write!(
                header,
                " <span class=cc>{} tests, {} failing, {}</span></caption>\n\
                 <thead><tr><th>test</th><th>outcome</th><th>time</th></tr></thead><tbody>\n",
                class.rows.len(),
                class.failures,
                duration_text(class.nanos)
            );
            out.write_all(header.as_bytes())?;
            // The failures are rows of the page; the other rows are text
            // for the script to make rows of when they come into view (a
            // browser reads a script's text at once, but takes seconds
            // over 100,000 rows). Their text holds no `</script`: it is
            // escaped.
            let mut lazy = false;
            for row in &class.rows {
                if !row.outcome.is_failure() && !lazy {
                    out.write_all(b"</tbody></table><script type=\"text/x-rows\">\n")?;
                    lazy = true;
                }
                bytes.clear();
                self.spill.read(row.chain, &mut bytes)?;
                out.write_all(&bytes)?;
            }
            out.write_all(if lazy {
                &b"</script></section>\n"[..]
            } else {
                b"</tbody></table></section>\n"
            })?;
        }
        if !self.outside.is_empty() {
            out.write_all(b"<details id=outside><summary>output outside tests</summary><pre>")?;
            for &chain in &self.outside {
                bytes.clear();
                self.spill.read(chain, &mut bytes)?;
                out.write_all(&bytes)?;
            }
            out.write_all(b"</pre></details>\n")?;
        }
        out.write_all(b"<script>\n")?;
        out.write_all(include_str!("page.js").as_bytes())?;
        out.write_all(b"</script>\n</body></html>\n")?;
        Ok(())
    }
}

/// A duration as the page shows it: `1.234s`, `2m03.456s`, `1h02m03s`.
pub fn duration_text(nanos: u64) -> String {
    let millis = (nanos + 500_000) / 1_000_000;
    let (s, ms) = (millis / 1000, millis % 1000);
    if s < 60 {
        format!("{s}.{ms:03}s")
    } else if s < 3600 {
        format!("{}m{:02}.{ms:03}s", s / 60, s % 60)
    } else {
        let s = (millis + 500) / 1000;
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    }
}

/// Appends `bytes` as HTML text: invalid UTF-8 as U+FFFD, `&`, `<`, `>`
/// and `"` as entities, and the control characters a page cannot show
/// (all but tab, newline and carriage return, DEL and the C1 range) as
/// a visible `\xNN` (`\u{NNNN}` for C1), so nothing is dropped silently.
pub fn escape_into(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\t' | '\n' | '\r' => out.push(c),
                '\0'..='\x1f' | '\x7f' => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                '\u{80}'..='\u{9f}' => {
                    let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
                }
                _ => out.push(c),
            }
        }
        if !chunk.invalid().is_empty() {
            out.push('\u{fffd}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_split_at_the_last_dot_before_tags() {
        assert_eq!(class_and_name("a.b.C.test_x"), ("a.b.C", "test_x"));
        assert_eq!(
            class_and_name("a.C.test_x[id-1.2,smoke]"),
            ("a.C", "test_x[id-1.2,smoke]")
        );
        assert_eq!(class_and_name("test 1 - a"), ("", "test 1 - a"));
        assert_eq!(class_and_name("[x.y]"), ("", "[x.y]"));
    }

    #[test]
    fn text_is_escaped_and_nothing_dropped() {
        let mut out = String::new();
        escape_into(b"<a href=\"x\">&</a>\t\x1b[31m\xff\x00\xc2\x85\n", &mut out);
        assert_eq!(
            out,
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;\t\\x1b[31m\u{fffd}\\x00\\u{0085}\n"
        );
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration_text(0), "0.000s");
        assert_eq!(duration_text(1_234_400_000), "1.234s");
        assert_eq!(duration_text(59_999_600_000), "1m00.000s");
        assert_eq!(duration_text(123_456_000_000), "2m03.456s");
        assert_eq!(duration_text(3_723_000_000_000), "1h02m03s");
    }
}
