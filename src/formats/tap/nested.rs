//! TAP 14 on top of [`TapReader`]: subtests, YAML blocks and version lines.
//!
//! A [`NestedReader`] reads what `TapReader` leaves to others:
//!
//! - Subtests: a TAP stream indented by four spaces per level, the child
//!   of the test whose result line follows it at the level above. Each
//!   level is read by a `TapReader` of its own; a test of a subtest is
//!   named after its parent, `parent/child`. The child's tests come before
//!   the parent's result line (which sums them up), so the parent is named
//!   as it will most likely be: `test N`, its number at its own level, and
//!   ` - NAME` when a `# Subtest: NAME` line announced it (at either
//!   level), the form in which node-tap, Test::More and the TAP 14
//!   specification write the parent's result line. A subtest ends at the
//!   next result line, plan or `Bail out!` of a level above it; at its end
//!   the tests its plan named that never came are missing.
//! - YAML blocks: right after a result line, `---` indented two spaces
//!   more than it starts a block of diagnostics that `...` at that
//!   indentation ends (or the first line indented less).
//! - `TAP version N`: the start of a stream; one in the middle of a
//!   level's stream ends it and numbering starts again from 1.
//!
//! Every other line (`pragma +strict`, `TAP version` itself, a line not
//! at a TAP indentation, one that means nothing to TAP) is
//! [`NestedEvent::Other`], for the caller to keep.

use super::line::{is_prove_header, plan_line, result_line};
use super::{TapEvent, TapReader, push_number};

/// The indentation of one level of subtests.
const INDENT: usize = 4;

/// Subtests nested deeper than this are not read (their lines are
/// [`NestedEvent::Other`]): no real suite nests so deep, and each level
/// holds its parent's name.
pub const MAX_DEPTH: usize = 64;

/// Parents' names longer than this are not added to their children's
/// (which a long line at every level could make huge).
const MAX_PREFIX: usize = 64 * 1024;

/// What a line means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestedEvent<'a> {
    /// What the line means to the TAP stream of its level; the tests it
    /// names are named after the prefix given with it.
    Tap(TapEvent<'a>),
    /// The `---` line that starts a YAML block after the latest result.
    YamlStart,
    /// A line of the YAML block, without the block's indentation.
    Yaml(&'a str),
    /// The `...` line that ends the YAML block. (A block left open ends
    /// at the first line indented less, which is read as any other.)
    YamlEnd,
    /// A line that is not TAP of any stream here.
    Other,
}

/// One level of subtests.
#[derive(Clone, Debug)]
struct Level {
    reader: TapReader,
    /// The names of the parents, each followed by `/`; empty at the top.
    prefix: String,
    /// The name a `# Subtest:` line at this level gave the next child.
    announced: Option<String>,
}

impl Level {
    fn new(prefix: String) -> Level {
        Level {
            reader: TapReader::new(),
            prefix,
            announced: None,
        }
    }
}

/// Reads TAP 14, subtests and YAML blocks included; see the module
/// documentation.
#[derive(Clone, Debug)]
pub struct NestedReader {
    /// The top level first; never empty.
    levels: Vec<Level>,
    /// The indentation a YAML block may start at: the latest line was a
    /// result line.
    yaml_may_start: Option<usize>,
    /// The indentation of the YAML block being read.
    yaml: Option<usize>,
}

impl Default for NestedReader {
    fn default() -> NestedReader {
        NestedReader::new()
    }
}

impl NestedReader {
    /// A reader before any stream.
    pub fn new() -> NestedReader {
        NestedReader {
            levels: vec![Level::new(String::new())],
            yaml_may_start: None,
            yaml: None,
        }
    }

    /// The prefix of the tests at the level being read (for what the
    /// YAML block belongs to, and diagnostics): empty at the top.
    pub fn prefix(&self) -> &str {
        &self.levels[self.levels.len() - 1].prefix
    }

    /// Reads one line, without its newline (a trailing CR is ignored).
    /// Calls `emit` with the prefix of the tests named and what the line
    /// means, in order; a line that is not TAP gives
    /// [`NestedEvent::Other`] (after the ends of subtests it may mark).
    pub fn line<'a>(&mut self, line: &'a str, mut emit: impl FnMut(&str, NestedEvent<'a>)) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let may_start = self.yaml_may_start.take();
        if let Some(indent) = self.yaml {
            let blank = spaces == line.len();
            if spaces >= indent || blank {
                if spaces == indent && line[indent..].trim_end() == "..." {
                    self.yaml = None;
                    emit(self.prefix(), NestedEvent::YamlEnd);
                } else {
                    emit(
                        self.prefix(),
                        NestedEvent::Yaml(&line[indent.min(spaces)..]),
                    );
                }
                return;
            }
            // A line indented less ends a block left open.
            self.yaml = None;
        }
        if may_start == Some(spaces) && line[spaces..].trim_end() == "---" {
            self.yaml = Some(spaces);
            emit(self.prefix(), NestedEvent::YamlStart);
            return;
        }
        let text = &line[spaces..];
        let depth = spaces / INDENT;
        if spaces % INDENT != 0 || text.is_empty() || depth > MAX_DEPTH {
            emit(self.prefix(), NestedEvent::Other);
            return;
        }
        if let Some(name) = subtest_name(text) {
            if depth >= self.levels.len() {
                self.open(depth, name);
            } else {
                self.close(depth, &mut emit);
                self.levels[depth].announced = Some(name.to_owned());
            }
            return;
        }
        if let Some(version) = text.strip_prefix("TAP version ") {
            if depth < self.levels.len() && !version.is_empty() {
                // The start of the next stream at this level.
                self.close(depth, &mut emit);
                let level = &mut self.levels[depth];
                level
                    .reader
                    .finish(|event| emit(&level.prefix, NestedEvent::Tap(event)));
            }
            emit(self.prefix(), NestedEvent::Other);
            return;
        }
        let result = result_line(text).is_some();
        // prove's header line ends the stream before it, and is kept.
        let header = depth == 0 && is_prove_header(text);
        let tap = result || header || plan_line(text).is_some() || text.starts_with("Bail out!");
        if depth >= self.levels.len() {
            if !tap {
                // Indented text outside any subtest.
                emit(self.prefix(), NestedEvent::Other);
                return;
            }
            self.open(depth, "");
        } else if tap {
            // A line of a level above ends the subtests below it.
            self.close(depth, &mut emit);
        } else if !text.starts_with('#') {
            emit(self.prefix(), NestedEvent::Other);
            return;
        }
        let level = &mut self.levels[depth];
        let mut results = false;
        level.reader.line(text, |event| {
            results |= matches!(event, TapEvent::Result(_));
            emit(&level.prefix, NestedEvent::Tap(event));
        });
        if results {
            self.yaml_may_start = Some(spaces + 2);
        } else if result || header {
            // A line TapReader reads as no test (prove's verdict), or
            // reads and keeps (prove's header).
            emit(self.prefix(), NestedEvent::Other);
        }
    }

    /// The input ended: ends the subtests left open, and reports the tests
    /// their plans named that never came, the deepest first. The reader is
    /// then as new.
    pub fn finish(&mut self, mut emit: impl FnMut(&str, NestedEvent<'static>)) {
        self.close(0, &mut emit);
        let level = &mut self.levels[0];
        level
            .reader
            .finish(|event| emit(&level.prefix, NestedEvent::Tap(event)));
        *self = NestedReader::new();
    }

    /// Opens the levels down to `depth`, the last announced as `name`.
    fn open(&mut self, depth: usize, name: &str) {
        while self.levels.len() <= depth {
            let last = self.levels.len() == depth;
            let parent = self.levels.last_mut().expect("the top level");
            let announced = if last {
                Some(name).filter(|n| !n.is_empty())
            } else {
                None
            };
            let announced = announced.or(parent.announced.as_deref());
            let mut prefix = parent.prefix.clone();
            if prefix.len() < MAX_PREFIX {
                prefix.push_str("test ");
                push_number(parent.reader.next_number(), &mut prefix);
                if let Some(name) = announced {
                    prefix.push_str(" - ");
                    prefix.push_str(name);
                }
            }
            prefix.push('/');
            parent.announced = None;
            self.levels.push(Level::new(prefix));
        }
    }

    /// Ends the levels below `depth`, the deepest first.
    fn close<'a>(&mut self, depth: usize, emit: &mut impl FnMut(&str, NestedEvent<'a>)) {
        while self.levels.len() > depth + 1 {
            let mut level = self.levels.pop().expect("a level below");
            level
                .reader
                .finish(|event| emit(&level.prefix, NestedEvent::Tap(event)));
        }
    }
}

/// The name in `# Subtest: NAME` (empty for a bare `# Subtest`).
fn subtest_name(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("# Subtest")?;
    if rest.trim().is_empty() {
        return Some("");
    }
    Some(rest.strip_prefix(':')?.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of `input`, the end included, as text.
    fn events(input: &str) -> Vec<String> {
        let mut reader = NestedReader::new();
        let mut out = Vec::new();
        for line in input.lines() {
            reader.line(line, |prefix, e| out.push(describe(prefix, e)));
        }
        reader.finish(|prefix, e| out.push(describe(prefix, e)));
        out
    }

    fn describe(prefix: &str, event: NestedEvent) -> String {
        match event {
            NestedEvent::Tap(TapEvent::Result(r)) => format!("{:?} {prefix}{}", r.status, r.name()),
            NestedEvent::Tap(TapEvent::Missing { first, last }) => {
                format!("missing {prefix}{first}..{last}")
            }
            NestedEvent::Tap(TapEvent::Diagnostic { text }) => format!("diag {prefix}{text}"),
            NestedEvent::Tap(TapEvent::Plan { tests }) => format!("plan {prefix}{tests}"),
            NestedEvent::Tap(other) => format!("{prefix}{other:?}"),
            NestedEvent::YamlStart => "yaml start".into(),
            NestedEvent::Yaml(text) => format!("yaml {text:?}"),
            NestedEvent::YamlEnd => "yaml end".into(),
            NestedEvent::Other => "other".into(),
        }
    }

    #[test]
    fn subtests_are_named_after_their_parent() {
        let input = "TAP version 14\n1..2\n# Subtest: first\n    1..2\n    ok 1 - a\n    \
                     # Subtest: deep\n        ok 1 - x\n        1..1\n    ok 2 - deep\nok 1 - first\n    \
                     # Subtest: second\n    1..3\n    not ok 1\nnot ok 2 - second\n";
        assert_eq!(
            events(input),
            [
                "other",
                "plan 2",
                "plan test 1 - first/2",
                "Success test 1 - first/test 1 - a",
                "Success test 1 - first/test 2 - deep/test 1 - x",
                "plan test 1 - first/test 2 - deep/1",
                "Success test 1 - first/test 2 - deep",
                "Success test 1 - first",
                "plan test 2 - second/3",
                "Fail test 2 - second/test 1",
                "missing test 2 - second/2..3",
                "Fail test 2 - second",
            ]
        );
    }

    #[test]
    fn unannounced_subtests_and_stray_indentation() {
        assert_eq!(
            events("    ok 1\n    ok 2\nok 1\n  text\n    just text\n      ok 3\nok\n"),
            [
                "Success test 1/test 1",
                "Success test 1/test 2",
                "Success test 1",
                "other",
                "other",
                "other",
                "Success test 2",
            ]
        );
        // Chatter and diagnostics of a level above do not end a subtest.
        assert_eq!(
            events("    ok 1\nnoise\n# note\n    ok 2\n"),
            [
                "Success test 1/test 1",
                "other",
                "diag # note",
                "Success test 1/test 2",
            ]
        );
    }

    #[test]
    fn yaml_blocks_follow_their_result() {
        assert_eq!(
            events(
                "not ok 1 - a\n  ---\n  message: bad\n\n    nested: x\n  ...\n  ---\nok 2\n    ok 1\n      ---\n      at: y\nok 3\n"
            ),
            [
                "Fail test 1 - a",
                "yaml start",
                r#"yaml "message: bad""#,
                r#"yaml """#,
                r#"yaml "  nested: x""#,
                "yaml end",
                "other",
                "Success test 2",
                "Success test 3/test 1",
                "yaml start",
                r#"yaml "at: y""#,
                "Success test 3",
            ]
        );
        // Only right after a result, at its indentation plus two.
        assert_eq!(
            events("ok 1\n# x\n  ---\nok 2\n    ---\n"),
            [
                "Success test 1",
                "diag # x",
                "other",
                "Success test 2",
                "other"
            ]
        );
        // Left open at the end.
        assert_eq!(
            events("ok 1\n  ---\n  a: 1\n"),
            ["Success test 1", "yaml start", r#"yaml "a: 1""#]
        );
    }

    #[test]
    fn version_lines_start_new_streams() {
        assert_eq!(
            events("TAP version 13\n1..3\nok 1\nTAP version 14\nok 1\npragma +strict\n"),
            [
                "other",
                "plan 3",
                "Success test 1",
                "missing 2..3",
                "other",
                "Success test 1",
                "other",
            ]
        );
    }

    #[test]
    fn prove_s_verdict_and_header_are_other() {
        assert_eq!(
            events("1..1\nok 1\nok\nt/b.t .. \n1..2\nok 1\nt/c.t .. \n"),
            [
                "plan 1",
                "Success test 1",
                "other",
                "other",
                "plan 2",
                "Success test 1",
                "missing 2..2",
                "other"
            ]
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep = " ".repeat(INDENT * (MAX_DEPTH + 1));
        assert_eq!(events(&format!("{deep}ok 1\n")), ["other"]);
        let deepest = " ".repeat(INDENT * MAX_DEPTH);
        let events = events(&format!("{deepest}ok 1\n"));
        assert_eq!(events.len(), 1);
        assert!(events[0].ends_with("test 1/test 1"), "{events:?}");
    }
}
