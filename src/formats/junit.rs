//! JUnit XML test reports read, one `<testcase>` at a time.
//!
//! The variants in use (Jenkins/Surefire and Gradle, pytest, Maven, Go's
//! go-junit-report, GitLab) share one shape: `<testsuites>` or a root
//! `<testsuite>`, suites nested to any depth, and in each `<testcase
//! classname name time>` at most one outcome element (`<failure>`,
//! `<error>`, `<skipped>`) and its own `<system-out>`/`<system-err>`.
//! Suites have a `timestamp` and their own output. Everything else
//! (properties, Surefire's reruns, comments) is not a result and is passed
//! over, except Surefire's `flakyFailure`/`rerunFailure` family, whose
//! text is kept as attachments.
//!
//! The parser is quick-xml's pull parser, so a report of any size is read
//! without building it in memory; it is strict where XML is (end tags
//! must match, the document must end, entities must be known) and reports
//! the byte offset of what it could not read.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};

use crate::codec::packet::Timestamp;

/// How a test case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseOutcome {
    /// No failure, error or skipped element.
    Passed,
    /// A `<failure>` or `<error>`.
    Failed,
    /// A `<skipped>`.
    Skipped,
}

/// The text of one element of a test case: an outcome element (with its
/// `message` and `type`) or captured output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseText {
    /// The element's name (`failure`, `system-out`, `flakyFailure`, ...).
    pub element: String,
    /// Its `message` attribute.
    pub message: Option<String>,
    /// Its `type` attribute.
    pub kind: Option<String>,
    /// The text inside it.
    pub text: String,
}

impl CaseText {
    /// The text python-subunit attaches for an outcome element: `type:
    /// message` (or either alone), then the body stripped, each on its own
    /// line; `None` when all are empty.
    pub fn python_detail(&self) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        let head;
        match (self.kind.as_deref(), self.message.as_deref()) {
            (Some(kind), Some(message)) if !kind.is_empty() && !message.is_empty() => {
                head = format!("{kind}: {message}");
                parts.push(&head);
            }
            (Some(kind), _) if !kind.is_empty() => parts.push(kind),
            (_, Some(message)) if !message.is_empty() => parts.push(message),
            _ => {}
        }
        let body = self.text.trim();
        if !body.is_empty() {
            parts.push(body);
        }
        (!parts.is_empty()).then(|| parts.join("\n") + "\n")
    }
}

/// One `<testcase>`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    /// Its `classname` attribute ("" when absent).
    pub classname: String,
    /// Its `name` attribute ("" when absent).
    pub name: String,
    /// Its `time` attribute in seconds (0 when absent or not a number).
    pub seconds: f64,
    /// How it ended.
    pub outcome: CaseOutcome,
    /// Its outcome elements, in document order (the first decides).
    pub outcomes: Vec<CaseText>,
    /// Its `<system-out>`, `<system-err>` and rerun elements.
    pub output: Vec<CaseText>,
    /// The byte offset of its start tag, for messages.
    pub offset: u64,
}

impl TestCase {
    /// The test id python-subunit gives it: `classname::name`, or the name
    /// alone without a class name.
    pub fn test_id(&self) -> String {
        if self.classname.is_empty() {
            self.name.clone()
        } else {
            format!("{}::{}", self.classname, self.name)
        }
    }
}

/// What a report holds, in document order.
#[derive(Clone, Debug, PartialEq)]
pub enum JunitItem {
    /// A `<testsuite>` starts, with its `timestamp` if it has a readable one.
    Suite {
        /// When the suite ran.
        timestamp: Option<Timestamp>,
    },
    /// A test case, complete.
    Case(TestCase),
    /// A suite's own `<system-out>` or `<system-err>`.
    SuiteOutput(CaseText),
}

/// Why a report could not be read.
#[derive(Debug)]
pub enum JunitError {
    /// Not well-formed XML (or not readable), at this byte offset.
    Xml {
        /// Byte offset in the input.
        offset: u64,
        /// What quick-xml said.
        message: String,
    },
    /// The input ended inside an element.
    Unfinished {
        /// The innermost open element.
        element: String,
    },
    /// Well-formed, but the root element is not `testsuites` or `testsuite`.
    NotJunit {
        /// The root element's name ("" for a document with none).
        root: String,
    },
}

impl fmt::Display for JunitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JunitError::Xml { offset, message } => {
                write!(f, "malformed XML at byte {offset}: {message}")
            }
            JunitError::Unfinished { element } => {
                write!(f, "malformed XML: the input ended inside <{element}>")
            }
            JunitError::NotJunit { root } if root.is_empty() => {
                f.write_str("not JUnit XML: no root element")
            }
            JunitError::NotJunit { root } => write!(
                f,
                "not JUnit XML: the root element is <{root}>, not <testsuites> or <testsuite>"
            ),
        }
    }
}

impl std::error::Error for JunitError {}

/// Where the parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// In `<testsuites>` or `<testsuite>`.
    Suite,
    /// In a `<testcase>`.
    Case,
    /// In an element whose text is kept (see [`Reading::text`]).
    Text,
    /// In anything else.
    Other,
}

/// Elements of a test case kept as its outcome.
const OUTCOMES: [&str; 3] = ["failure", "error", "skipped"];
/// Elements of a test case kept as its output: captured output and
/// Surefire's reruns.
const OUTPUTS: [&str; 6] = [
    "system-out",
    "system-err",
    "flakyFailure",
    "flakyError",
    "rerunFailure",
    "rerunError",
];

struct Reading {
    /// One per open element.
    stack: Vec<(String, Scope)>,
    case: Option<TestCase>,
    /// The element whose text is being gathered.
    text: Option<CaseText>,
}

/// Reads the report in `input`, handing each item to `sink` as it is
/// complete. Stops at the first error; what was handed on before it came
/// from the well-formed part of the document.
pub fn read_junit(input: impl BufRead, mut sink: impl FnMut(JunitItem)) -> Result<(), JunitError> {
    let mut reader = quick_xml::Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut state = Reading {
        stack: Vec::new(),
        case: None,
        text: None,
    };
    let mut seen_root = false;
    loop {
        buf.clear();
        let at = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| JunitError::Xml {
                offset: reader.error_position(),
                message: e.to_string(),
            })?;
        let xml_error = |message: String| JunitError::Xml {
            offset: at,
            message,
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let name = element_name(start).map_err(xml_error)?;
                if !seen_root && name != "testsuites" && name != "testsuite" {
                    return Err(JunitError::NotJunit { root: name });
                }
                seen_root = true;
                state.open(start, name, at).map_err(xml_error)?;
                if let Some(suite) = state.suite_started(start) {
                    sink(suite);
                }
                if matches!(event, Event::Empty(_)) {
                    state.close(&mut sink);
                }
            }
            Event::End(_) => state.close(&mut sink),
            Event::Text(text) => {
                if let Some(kept) = &mut state.text {
                    let text = text.xml10_content().map_err(|e| xml_error(e.to_string()))?;
                    kept.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(kept) = &mut state.text {
                    let text = data.decode().map_err(|e| xml_error(e.to_string()))?;
                    kept.text.push_str(&text);
                }
            }
            Event::GeneralRef(entity) => {
                let resolved = resolve_ref(&entity).map_err(xml_error)?;
                if let Some(kept) = &mut state.text {
                    kept.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    match state.stack.last() {
        Some((element, _)) => Err(JunitError::Unfinished {
            element: element.clone(),
        }),
        None if !seen_root => Err(JunitError::NotJunit {
            root: String::new(),
        }),
        None => Ok(()),
    }
}

impl Reading {
    /// An element starts.
    fn open(&mut self, start: &BytesStart<'_>, name: String, at: u64) -> Result<(), String> {
        let parent = self.stack.last().map(|&(_, scope)| scope);
        let scope = match (parent, name.as_str()) {
            (None | Some(Scope::Suite), "testsuites" | "testsuite") => Scope::Suite,
            (Some(Scope::Suite), "testcase") => {
                let [classname, name, time] = attributes(start, ["classname", "name", "time"])?;
                self.case = Some(TestCase {
                    classname: classname.unwrap_or_default(),
                    name: name.unwrap_or_default(),
                    seconds: time.map_or(0.0, |t| seconds(&t)),
                    outcome: CaseOutcome::Passed,
                    outcomes: Vec::new(),
                    output: Vec::new(),
                    offset: at,
                });
                Scope::Case
            }
            (Some(Scope::Case), element)
                if OUTCOMES.contains(&element) || OUTPUTS.contains(&element) =>
            {
                let [message, kind] = attributes(start, ["message", "type"])?;
                self.text = Some(CaseText {
                    element: name.clone(),
                    message,
                    kind,
                    text: String::new(),
                });
                Scope::Text
            }
            (Some(Scope::Suite), "system-out" | "system-err") => {
                self.text = Some(CaseText {
                    element: name.clone(),
                    ..CaseText::default()
                });
                Scope::Text
            }
            // Text inside an element that is kept (markup in a message)
            // stays part of it.
            (Some(Scope::Text), _) => Scope::Text,
            _ => Scope::Other,
        };
        self.stack.push((name, scope));
        Ok(())
    }

    /// The item for a `<testsuite>` that just opened.
    fn suite_started(&self, start: &BytesStart<'_>) -> Option<JunitItem> {
        match self.stack.last() {
            Some((name, Scope::Suite)) if name == "testsuite" => Some(JunitItem::Suite {
                timestamp: attributes(start, ["timestamp"])
                    .ok()
                    .and_then(|[t]| t)
                    .and_then(|t| crate::formats::v1::parse_iso8601(&t)),
            }),
            _ => None,
        }
    }

    /// The innermost element ends (quick-xml checked that its name matches).
    fn close(&mut self, sink: &mut impl FnMut(JunitItem)) {
        let Some((_, scope)) = self.stack.pop() else {
            return;
        };
        let parent = self.stack.last().map(|&(_, scope)| scope);
        match (scope, parent) {
            (Scope::Text, Some(Scope::Case)) => {
                let (Some(text), Some(case)) = (self.text.take(), self.case.as_mut()) else {
                    return;
                };
                if OUTCOMES.contains(&text.element.as_str()) {
                    if case.outcomes.is_empty() {
                        case.outcome = if text.element == "skipped" {
                            CaseOutcome::Skipped
                        } else {
                            CaseOutcome::Failed
                        };
                    } else if text.element != "skipped" {
                        // A failure after a skip (or another failure) fails it.
                        case.outcome = CaseOutcome::Failed;
                    }
                    case.outcomes.push(text);
                } else {
                    case.output.push(text);
                }
            }
            (Scope::Text, Some(Scope::Suite)) => {
                if let Some(text) = self.text.take() {
                    sink(JunitItem::SuiteOutput(text));
                }
            }
            (Scope::Case, _) => {
                if let Some(case) = self.case.take() {
                    sink(JunitItem::Case(case));
                }
            }
            _ => {}
        }
    }
}

/// An element's name.
fn element_name(start: &BytesStart<'_>) -> Result<String, String> {
    std::str::from_utf8(start.name().as_ref())
        .map(str::to_owned)
        .map_err(|_| "an element name is not UTF-8".to_owned())
}

/// The values of the attributes called `names` (normalised as XML says:
/// entities resolved, white space in them made spaces), in one pass over
/// the element's attributes.
fn attributes<const N: usize>(
    start: &BytesStart<'_>,
    names: [&str; N],
) -> Result<[Option<String>; N], String> {
    let mut values = [const { None }; N];
    for attr in start.attributes().with_checks(true) {
        let attr = attr.map_err(|e| e.to_string())?;
        if let Some(at) = names.iter().position(|n| attr.key.as_ref() == n.as_bytes()) {
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            values[at] = Some(value.into_owned());
        }
    }
    Ok(values)
}

/// `&name;` or a character reference, as XML defines them.
fn resolve_ref(entity: &quick_xml::events::BytesRef<'_>) -> Result<Cow<'static, str>, String> {
    if let Some(c) = entity.resolve_char_ref().map_err(|e| e.to_string())? {
        return Ok(Cow::Owned(c.to_string()));
    }
    let name = entity.decode().map_err(|e| e.to_string())?;
    resolve_xml_entity(&name)
        .map(Cow::Borrowed)
        .ok_or_else(|| format!("unknown entity &{name};"))
}

/// A `time` attribute in seconds, as python-subunit reads it (`float()`,
/// 0 for what is not a number) but also taking the thousands separators
/// some Surefire versions write (`1,234.5`); negative and infinite values
/// count as 0.
fn seconds(text: &str) -> f64 {
    let text = text.trim();
    let value = text
        .parse::<f64>()
        .or_else(|_| text.replace(',', "").parse::<f64>())
        .unwrap_or(0.0);
    if value.is_finite() && value > 0.0 {
        value
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(xml: &str) -> Result<Vec<JunitItem>, JunitError> {
        let mut items = Vec::new();
        read_junit(xml.as_bytes(), |item| items.push(item))?;
        Ok(items)
    }

    fn case(item: &JunitItem) -> &TestCase {
        match item {
            JunitItem::Case(case) => case,
            other => panic!("not a case: {other:?}"),
        }
    }

    #[test]
    fn text_is_unescaped_and_line_ends_normalised() {
        let got = items(
            "<testsuite><testcase classname='c' name='n &amp; m' time=' 2.5 '>\r\n\
             <failure message='a&#10;b' type='E'>x &lt; y\r\n<![CDATA[<raw>]]>&#x41;</failure>\
             </testcase></testsuite>",
        )
        .unwrap();
        assert!(matches!(got[0], JunitItem::Suite { timestamp: None }));
        let case = case(&got[1]);
        assert_eq!((case.test_id().as_str(), case.seconds), ("c::n & m", 2.5));
        assert_eq!(case.outcome, CaseOutcome::Failed);
        let failure = &case.outcomes[0];
        assert_eq!(failure.message.as_deref(), Some("a\nb"));
        assert_eq!(failure.text, "x < y\n<raw>A");
        assert_eq!(failure.python_detail().unwrap(), "E: a\nb\nx < y\n<raw>A\n");
    }

    #[test]
    fn the_first_outcome_decides_and_a_later_failure_fails() {
        let got = items(
            "<testsuites><testsuite><testcase name='a'><skipped/></testcase>\
             <testcase name='b'><skipped/><error/></testcase>\
             <testcase name='c' time='NaN'><properties/></testcase></testsuite></testsuites>",
        )
        .unwrap();
        let outcomes: Vec<_> = got[1..].iter().map(|i| case(i).outcome).collect();
        assert_eq!(
            outcomes,
            [
                CaseOutcome::Skipped,
                CaseOutcome::Failed,
                CaseOutcome::Passed
            ]
        );
        assert_eq!(case(&got[3]).seconds, 0.0);
        assert_eq!(case(&got[1]).outcomes[0].python_detail(), None);
    }

    #[test]
    fn what_is_not_a_report_is_told_apart_from_what_is_broken() {
        assert!(matches!(items(""), Err(JunitError::NotJunit { root }) if root.is_empty()));
        assert!(matches!(items("<a/>"), Err(JunitError::NotJunit { root }) if root == "a"));
        assert!(matches!(
            items("<testsuite><testcase>"),
            Err(JunitError::Unfinished { element }) if element == "testcase"
        ));
        assert!(matches!(
            items("<testsuite></testcase>"),
            Err(JunitError::Xml { .. })
        ));
    }
}
