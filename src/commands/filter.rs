//! `subunit-filter`: python-subunit's test selection, packets forwarded
//! untouched (SPEC section 4).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches, Parser};
use regex::Regex;

use crate::cli::{self, Error, ReadLog};
use crate::codec::encode::{EncodeError, Event, encode};
use crate::codec::packet::{Packet, Status};
use crate::commands::held::{HeldArgs, HeldTests, held_man};
use crate::formats::v1::ContentType;
use crate::os;
use crate::patterns;
use crate::results::group::Test;
use crate::stream::reader::{Item, StreamReader};
use crate::stream::wrap::{WrapOptions, Wrapper};

/// The command's name.
pub const NAME: &str = "subunit-filter";

/// The help heading of the on/off switches.
const SWITCHES: &str = "Switches (the last one of a pair wins)";

/// Arguments of `subunit-filter`. Like python-subunit's, the outcome and
/// passthrough switches are read left to right, the last one winning, and
/// `-F` stands for `--no-success --no-skip --no-xfail --no-passthrough`
/// where it is given.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Select tests from a subunit v2 stream by outcome, tag, id or text",
    long_about = "Select tests from a subunit v2 stream, with python-subunit's subunit-filter \
                  options and defaults: failures, errors, skips and unexpected successes are \
                  kept, successes and expected failures dropped, unless the options say \
                  otherwise. A test's packets are held until its outcome is known, then \
                  forwarded byte for byte, or dropped. Chatter and packets without a test id \
                  are passed through as they come (chatter wrapped as stdout file packets), \
                  unless --no-passthrough.",
    // A switch may be given again (python's optparse allows it): the last
    // one of each pair counts, see Switches::resolve.
    args_override_self = true
)]
pub struct Args {
    /// Streams to read, in order, as one; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// Include errors (the default).
    #[arg(long = "error", help_heading = SWITCHES)]
    pub error: bool,

    /// Exclude errors.
    #[arg(short = 'e', long = "no-error", help_heading = SWITCHES)]
    pub no_error: bool,

    /// Include failures (the default).
    #[arg(long = "failure", help_heading = SWITCHES)]
    pub failure: bool,

    /// Exclude failures.
    #[arg(short = 'f', long = "no-failure", help_heading = SWITCHES)]
    pub no_failure: bool,

    /// Include successes.
    #[arg(short = 's', long = "success", help_heading = SWITCHES)]
    pub success: bool,

    /// Exclude successes (the default).
    #[arg(long = "no-success", help_heading = SWITCHES)]
    pub no_success: bool,

    /// Exclude skips.
    #[arg(long = "no-skip", help_heading = SWITCHES)]
    pub no_skip: bool,

    /// Include expected failures.
    #[arg(long = "xfail", help_heading = SWITCHES)]
    pub xfail: bool,

    /// Exclude expected failures (the default).
    #[arg(long = "no-xfail", help_heading = SWITCHES)]
    pub no_xfail: bool,

    /// Forward non-subunit input as `stdout` file packets (the default).
    #[arg(long = "passthrough", help_heading = SWITCHES)]
    pub passthrough: bool,

    /// Discard all non-subunit input and packets without a test id.
    #[arg(long = "no-passthrough", help_heading = SWITCHES)]
    pub no_passthrough: bool,

    /// Only pass through failures and errors: --no-success --no-skip
    /// --no-xfail --no-passthrough.
    #[arg(short = 'F', long = "only-genuine-failures", help_heading = SWITCHES)]
    pub only_genuine_failures: bool,

    /// Include only tests with this tag (repeatable: all of them).
    #[arg(long = "with-tag", value_name = "TAG", help_heading = "Selection")]
    pub with_tags: Vec<String>,

    /// Exclude tests with this tag (repeatable: any of them).
    #[arg(long = "without-tag", value_name = "TAG", help_heading = "Selection")]
    pub without_tags: Vec<String>,

    /// Include only tests matching this regular expression (repeatable: any).
    #[arg(
        short = 'm',
        long = "with",
        value_name = "RE",
        help_heading = "Selection"
    )]
    pub with: Vec<String>,

    /// Exclude tests matching this regular expression (repeatable: any).
    #[arg(long = "without", value_name = "RE", help_heading = "Selection")]
    pub without: Vec<String>,

    /// File of test ids expected to fail: their failures become expected
    /// failures, their successes unexpected successes (repeatable).
    #[arg(long = "fixup-expected-failures", value_name = "FILE", value_hint = clap::ValueHint::FilePath, help_heading = "Changes")]
    pub fixup_expected_failures: Vec<PathBuf>,

    /// Replace matches of the regular expression FROM in test ids with TO.
    // The help is an attribute: rustdoc would read `\g<name>` as HTML.
    #[arg(long = "rename", num_args = 2, value_names = ["FROM", "TO"], help_heading = "Changes",
          help = "Replace matches of the regular expression FROM in test ids with TO \
                  (repeatable, applied in order; \\1 and \\g<name> refer to groups)")]
    pub rename: Vec<String>,

    /// How much of the tests in progress is held in memory.
    #[command(flatten)]
    pub held: HeldArgs,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "The failures of a run, as a stream:\n\n    subunit-filter -F run.subunit | subunit2json\n\n\
         Everything but the slow tests:\n\n    subunit-filter -s --xfail --without-tag slow run.subunit\n\n\
         Failures that mention a timeout in their attachments:\n\n    subunit-filter -F -m 'TimeoutError' run.subunit",
    ),
    (
        "SELECTION",
        "Tests are told apart by test id and route code. A test's outcome is its first \
         final status; a test still running at the end of the input counts as a failure. \
         --with and --without search, as python-subunit does, the text made of the test \
         id, the outcome's name (success, failure, skip, expectedfailure), the word None \
         and python's rendering of the attachments (name, content type and bytes); the \
         patterns are joined with | and searched in multi-line mode. --with-tag and \
         --without-tag look at the tags of the test's latest packet with tags. As in \
         python-subunit, unexpected successes are always kept; errors do not occur in v2 \
         streams, so -e and --error change nothing there.",
    ),
    (
        "FORWARDING",
        "Kept packets are forwarded byte for byte: route codes, timestamps, tags and \
         attachments stay as they were. Only --rename (the test id) and \
         --fixup-expected-failures (the final status) make a packet be written anew. \
         A test's packets are held only until its outcome is known (see TESTS IN \
         PROGRESS). Enumeration (exists) packets are \
         not results: they are forwarded as they come, when they pass the id and tag \
         filters (see DIFFERENCES).",
    ),
    held_man!(
        "its packets so far are forwarded as they are (renamed by --rename), \
         whatever the selection, and its later packets are selected as a test of their own."
    ),
    ("REGULAR EXPRESSIONS", patterns::LIMITS_MAN),
    (
        "RENAMING",
        "--rename applies its replacements in order to every test id. A test whose new \
         id is too long for a packet (4 MiB) keeps its old id, in every one of its \
         packets, so that nothing is lost; one warning on standard error at the end \
         counts such ids and shows the first, and the exit status stays 0. \
         (python-subunit stops there with a ValueError traceback.)",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "python-subunit re-encodes what it forwards, losing exists packets and changing \
         how attachments are split. Here an exists packet is forwarded when its test id \
         and tags pass the id and tag filters, so subunit-filter -m test_calc | subunit-ls \
         --exists lists only the test_calc tests; the outcome switches (-s, -F, \
         --no-skip, ...) do not apply to it. --with-tag and --without-tag look at the \
         packet's own tags. --with and --without search its test id alone, after \
         --rename: no outcome name, no None, no attachments (an exists packet has no \
         outcome), so -m test_calc keeps test_calc.A.test_add's exists packet while -m \
         success or -m Traceback keeps none. A test still running at the end is forwarded as it \
         was, without the fail status python-subunit adds (unless \
         --fixup-expected-failures makes it an expected failure, which is added). \
         --rename renames every test; python-subunit leaves skipped, expected-failure \
         and unexpected-success tests unrenamed, and so do --with and --without, which \
         see the name python-subunit would. Regular expressions follow Rust's regex \
         syntax, which covers the common Python syntax (\\Z included) except look-around \
         and backreferences; --rename replacements take Python's \\1, \\g<name> and \
         escapes, and are refused where Python refuses them. Several files may be given. \
         --max-held is not python-subunit's (see TESTS IN PROGRESS).",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early; 2 on usage errors \
         (such as an invalid regular expression) and when an input or fixup file cannot \
         be opened or read.",
    ),
];

/// The choices the switches make, read left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Switches {
    success: bool,
    failure: bool,
    skip: bool,
    xfail: bool,
    passthrough: bool,
}

impl Switches {
    fn resolve(matches: &ArgMatches) -> Switches {
        // The position of the last occurrence among some switches.
        let last = |ids: &[&str]| -> Option<usize> {
            ids.iter()
                .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
                .filter_map(|id| matches.indices_of(id).and_then(Iterator::max))
                .max()
        };
        // Whether `on` was given after every `off`, or `default` if neither.
        let choose = |on: &[&str], off: &[&str], default: bool| match (last(on), last(off)) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => default,
        };
        const F: &str = "only_genuine_failures";
        Switches {
            success: choose(&["success"], &["no_success", F], false),
            failure: choose(&["failure"], &["no_failure"], true),
            skip: choose(&[], &["no_skip", F], true),
            xfail: choose(&["xfail"], &["no_xfail", F], false),
            passthrough: choose(&["passthrough"], &["no_passthrough", F], true),
        }
    }
}

/// The outcome names python-subunit's filter predicates see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Skip,
    ExpectedFailure,
    UnexpectedSuccess,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Skip => "skip",
            Outcome::ExpectedFailure => "expectedfailure",
            Outcome::UnexpectedSuccess => "uxsuccess",
        }
    }
}

/// The whole selection, from the arguments.
struct Selection {
    switches: Switches,
    with_tags: Vec<String>,
    without_tags: Vec<String>,
    with: Option<Regex>,
    without: Option<Regex>,
    expected_failures: HashSet<String>,
    renames: Vec<(Regex, String)>,
}

/// What happens to a test.
struct Verdict {
    keep: bool,
    /// The status to write instead of the test's own (fixup).
    status: Option<Status>,
    /// The id to write instead of the test's own (rename).
    test_id: Option<String>,
}

impl Selection {
    fn new(args: &Args, matches: &ArgMatches) -> Result<Selection, Error> {
        let mut expected_failures = HashSet::new();
        for path in &args.fixup_expected_failures {
            let text = std::fs::read(path).map_err(|source| Error::Open {
                path: path.clone(),
                source,
            })?;
            // python-subunit's read_test_list: text before a #, right-stripped.
            for line in String::from_utf8_lossy(&text).split_inclusive('\n') {
                let before = line.split('#').next().unwrap_or_default();
                if !before.is_empty() {
                    expected_failures.insert(before.trim_end().to_owned());
                }
            }
        }
        let renames = args
            .rename
            .chunks(2)
            .map(|pair| {
                let from = patterns::compile("--rename", &pair[0])?;
                let to = patterns::python_replacement(&pair[1], &from).map_err(|why| {
                    Error::Usage(format!("invalid --rename replacement '{}': {why}", pair[1]))
                })?;
                Ok((from, to))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Selection {
            switches: Switches::resolve(matches),
            with_tags: args.with_tags.clone(),
            without_tags: args.without_tags.clone(),
            with: patterns::compile_any_multiline("--with", &args.with)?,
            without: patterns::compile_any_multiline("--without", &args.without)?,
            expected_failures,
            renames,
        })
    }

    /// The test id after the renames, borrowed when none changes it (as
    /// for most tests: no copy each).
    fn rename<'a>(&self, test_id: &'a str) -> Cow<'a, str> {
        let mut name = Cow::Borrowed(test_id);
        for (from, to) in &self.renames {
            if let Cow::Owned(renamed) = from.replace_all(&name, to.as_str()) {
                name = Cow::Owned(renamed);
            }
        }
        name
    }

    /// python-subunit's decision for a test (TestResultFilter and
    /// _PredicateFilter under StreamToExtendedDecorator).
    fn verdict(&self, test: &Test) -> Verdict {
        let renamed = self.rename(&test.test_id);
        let status = test.status();
        let expected = |id: &str| self.expected_failures.contains(id);
        // Renames and fixups apply where python-subunit applies them: on
        // the success and failure paths only.
        let (outcome, new_status, seen_id) = match status {
            Status::Success if expected(&renamed) => (
                Outcome::UnexpectedSuccess,
                Some(Status::UxSuccess),
                &*renamed,
            ),
            Status::Success => (Outcome::Success, None, &*renamed),
            Status::Skip => (Outcome::Skip, None, test.test_id.as_str()),
            Status::XFail => (Outcome::ExpectedFailure, None, test.test_id.as_str()),
            Status::UxSuccess => (Outcome::UnexpectedSuccess, None, test.test_id.as_str()),
            _ if expected(&renamed) => (Outcome::ExpectedFailure, Some(Status::XFail), &*renamed),
            _ => (Outcome::Failure, None, &*renamed),
        };
        let keep = outcome == Outcome::UnexpectedSuccess || self.passes(test, outcome, seen_id);
        Verdict {
            keep,
            status: new_status,
            test_id: (renamed != test.test_id).then(|| renamed.into_owned()),
        }
    }

    fn passes(&self, test: &Test, outcome: Outcome, seen_id: &str) -> bool {
        let s = self.switches;
        let allowed = match outcome {
            Outcome::Success => s.success,
            Outcome::Failure => s.failure,
            Outcome::Skip => s.skip,
            Outcome::ExpectedFailure => s.xfail,
            Outcome::UnexpectedSuccess => true,
        };
        if !allowed {
            return false;
        }
        if (!self.with_tags.is_empty() || !self.without_tags.is_empty())
            && !self.tags_pass(&test.tags())
        {
            return false;
        }
        if self.with.is_some() || self.without.is_some() {
            let text = format!("{seen_id}{}None{}", outcome.name(), python_details(test));
            return self.text_passes(&text);
        }
        true
    }

    /// Whether an enumeration (exists) packet goes on: the outcome switches
    /// do not apply to it, the tag filters look at its own tags, and
    /// --with and --without search its test id (as forwarded, renamed)
    /// alone, as it has no outcome or attachments.
    fn lists(&self, renamed: &str, tags: &[&str]) -> bool {
        self.tags_pass(tags) && self.text_passes(renamed)
    }

    /// --with-tag (all of them) and --without-tag (none of them).
    fn tags_pass(&self, tags: &[&str]) -> bool {
        self.with_tags.iter().all(|t| tags.contains(&t.as_str()))
            && !self.without_tags.iter().any(|t| tags.contains(&t.as_str()))
    }

    /// --with (one of them matches) and --without (none matches).
    fn text_passes(&self, text: &str) -> bool {
        self.with.as_ref().is_none_or(|re| re.is_match(text))
            && !self.without.as_ref().is_some_and(|re| re.is_match(text))
    }
}

/// `str(details)` in python-subunit: the dict of attachments by name, each
/// `<Content type=TYPE, value=b'...'>`.
fn python_details(test: &Test) -> String {
    let mut out = String::from("{");
    for (i, attachment) in test.attachments().iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let value: Vec<u8> = attachment.chunks.concat();
        out.push_str(&python_str_repr(attachment.name));
        out.push_str(": <Content type=");
        out.push_str(&ContentType::parse(attachment.mime).python_repr());
        out.push_str(", value=");
        out.push_str(&python_bytes_repr(&value));
        out.push('>');
    }
    out.push('}');
    out
}

fn python_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double { '"' } else { '\'' }
}

fn python_bytes_repr(bytes: &[u8]) -> String {
    let quote = python_quote(bytes.contains(&b'\''), bytes.contains(&b'"')) as u8;
    let mut out = String::from("b");
    out.push(quote as char);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    out
}

fn python_str_repr(s: &str) -> String {
    let quote = python_quote(s.contains('\''), s.contains('"'));
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Runs `subunit-filter` with the arguments parsed into `matches`.
pub fn run(matches: &ArgMatches) -> Result<ExitCode, Error> {
    let args = Args::from_arg_matches(matches).map_err(|e| Error::Usage(e.to_string()))?;
    let selection = Selection::new(&args, matches)?;
    let inputs = cli::open_inputs(&args.files)?;
    let passthrough = selection.switches.passthrough;
    let mut wrapper = Wrapper::new(WrapOptions::plain("stdout")).expect("plain options encode");
    let mut out = cli::stdout();
    let mut made = Vec::new();
    let mut held = HeldTests::new(NAME, &args.held);
    let mut log = ReadLog::default();
    let mut renames = Unencodable::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) if packet.test_id().is_none() => {
                    if passthrough {
                        wrapper.before_packet(&mut made);
                        made.extend_from_slice(packet.raw());
                    }
                }
                Item::Packet(packet) if packet.status() == Status::Exists => {
                    let renamed = selection.rename(packet.test_id().unwrap_or_default());
                    let tags: Vec<&str> = packet.tags().map(Iterator::collect).unwrap_or_default();
                    if selection.lists(&renamed, &tags)
                        && write_packet(&packet, Some(&renamed), None, &mut made).is_err()
                    {
                        // Nothing was appended: it goes on as it was.
                        renames.add(packet.test_id().unwrap_or_default());
                        made.extend_from_slice(packet.raw());
                    }
                }
                Item::Packet(packet) => {
                    if held.add(&packet)? {
                        write_test(&selection, held.ended(), &mut renames, &mut made);
                    }
                    while let Some(test) = held.forced_out() {
                        forward_forced_out(&selection, &test, &mut renames, &mut made);
                    }
                }
                Item::Chatter(chatter) => {
                    if passthrough {
                        wrapper.chatter(chatter.bytes, &mut made);
                    }
                }
                Item::Idle => {
                    wrapper.flush(&mut made);
                    out.write_all(&made)?;
                    made.clear();
                    out.flush()?;
                }
            }
            if made.len() >= 64 * 1024 {
                out.write_all(&made)?;
                made.clear();
            }
        }
        log.add_reader(&reader);
    }
    for test in held.finish() {
        write_test(&selection, &test?, &mut renames, &mut made);
        if made.len() >= 64 * 1024 {
            out.write_all(&made)?;
            made.clear();
        }
    }
    wrapper.finish(&mut made);
    out.write_all(&made)?;
    out.flush()?;
    log.report(NAME);
    renames.report();
    Ok(ExitCode::SUCCESS)
}

/// Writes a kept test's packets: as they were, unless renamed or fixed up.
/// A test whose new id cannot be encoded (too long for a packet) keeps its
/// old id in every packet, and `renames` counts it.
fn write_test(selection: &Selection, test: &Test, renames: &mut Unencodable, out: &mut Vec<u8>) {
    let verdict = selection.verdict(test);
    if verdict.keep {
        write_kept(test, &verdict, renames, out);
    }
}

/// Forwards the packets so far of a test forced out of holding, as they
/// are but renamed (see TESTS IN PROGRESS).
fn forward_forced_out(
    selection: &Selection,
    test: &Test,
    renames: &mut Unencodable,
    out: &mut Vec<u8>,
) {
    let renamed = selection.rename(&test.test_id);
    let verdict = Verdict {
        keep: true,
        status: None,
        test_id: (renamed != test.test_id).then(|| renamed.into_owned()),
    };
    write_kept(test, &verdict, renames, out);
}

/// [`write_test`] once the test is kept.
fn write_kept(test: &Test, verdict: &Verdict, renames: &mut Unencodable, out: &mut Vec<u8>) {
    let start = out.len();
    if write_test_as(test, verdict, verdict.test_id.as_deref(), out).is_err() {
        out.truncate(start);
        renames.add(&test.test_id);
        // Its own id came in packets, so it encodes with them again.
        write_test_as(test, verdict, None, out).expect("the packets' own ids encode");
    }
}

/// Writes a kept test's packets with `test_id` (`None`: their own).
fn write_test_as(
    test: &Test,
    verdict: &Verdict,
    test_id: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let last = test.packets.len().saturating_sub(1);
    let mut last_timestamp = None;
    for (i, packet) in test.packets.iter().enumerate() {
        last_timestamp = packet.timestamp().or(last_timestamp);
        let status = verdict.status.filter(|_| test.finished && i == last);
        write_packet(&packet, test_id, status, out)?;
    }
    if let (Some(status), false) = (verdict.status, test.finished) {
        // The stream ended first: the expected failure is said here.
        let event = Event {
            status,
            runnable: true,
            timestamp: last_timestamp,
            test_id: Some(test_id.unwrap_or(&test.test_id)),
            route_code: test.route_code.as_deref(),
            ..Event::default()
        };
        encode(&event, out)?;
    }
    Ok(())
}

/// Appends a packet, written anew only if its test id or status changes.
fn write_packet(
    packet: &Packet<'_>,
    test_id: Option<&str>,
    status: Option<Status>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let test_id = test_id.filter(|id| Some(*id) != packet.test_id());
    if test_id.is_none() && status.is_none() {
        out.extend_from_slice(packet.raw());
        return Ok(());
    }
    let tags: Option<Vec<&str>> = packet.tags().map(Iterator::collect);
    let event = Event {
        status: status.unwrap_or(packet.status()),
        runnable: packet.runnable(),
        eof: packet.eof(),
        timestamp: packet.timestamp(),
        test_id: test_id.or(packet.test_id()),
        tags: tags.as_deref(),
        mime: packet.mime(),
        file: packet.file().map(|f| (f.name, f.content)),
        route_code: packet.route_code(),
    };
    encode(&event, out)
}

/// The renamed test ids that could not be encoded (too long for a packet),
/// reported once at the end.
#[derive(Debug, Default)]
struct Unencodable {
    count: u64,
    first: Option<String>,
}

impl Unencodable {
    /// A test (or an exists packet) of `old_id` kept that id.
    fn add(&mut self, old_id: &str) {
        self.count += 1;
        self.first
            .get_or_insert_with(|| os::shortened(old_id, 100).into_owned());
    }

    fn report(&self) {
        let Some(first) = &self.first else { return };
        let (ids, kept) = if self.count == 1 {
            ("id is", "that test kept its old id")
        } else {
            ("ids are", "those tests kept their old ids")
        };
        eprintln!(
            "{NAME}: warning: {} renamed test {ids} too long for a packet (4 MiB); {kept} \
             (the first: {first})",
            self.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_are_pythons() {
        assert_eq!(python_bytes_repr(b"a'b\n\x00\xff"), r#"b"a'b\n\x00\xff""#);
        assert_eq!(python_bytes_repr(b"it's \"x\""), r#"b'it\'s "x"'"#);
        assert_eq!(python_str_repr("traceback"), "'traceback'");
        assert_eq!(python_str_repr("a'b"), "\"a'b\"");
    }

    #[test]
    fn switches_are_read_left_to_right() {
        let resolve = |args: &[&str]| {
            let matches = <Args as clap::CommandFactory>::command()
                .try_get_matches_from(std::iter::once("subunit-filter").chain(args.iter().copied()))
                .unwrap();
            Switches::resolve(&matches)
        };
        let default = resolve(&[]);
        assert_eq!(
            default,
            Switches {
                success: false,
                failure: true,
                skip: true,
                xfail: false,
                passthrough: true
            }
        );
        assert!(resolve(&["-F", "-s"]).success);
        assert!(!resolve(&["-s", "-F"]).success);
        assert!(resolve(&["-F", "--passthrough"]).passthrough);
        assert!(!resolve(&["--passthrough", "-F"]).passthrough);
        assert!(!resolve(&["--no-skip"]).skip);
        assert!(resolve(&["--no-xfail", "--xfail"]).xfail);
    }
}
