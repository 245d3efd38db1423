//! `subunit-output`: one event from the shell, as python-subunit's
//! `subunit-output` writes it (its `_output.py`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser};

use crate::cli::{self, Error, Input};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};

/// The command's name.
pub const NAME: &str = "subunit-output";

/// How much of an attachment each packet carries (python-subunit's
/// `_CHUNK_SIZE`, 3.5 MiB).
pub const CHUNK: usize = 3_670_016;

const STATUS: &str = "Status (one of them)";
const FILE: &str = "Attachment (to the test, or to the stream alone)";

/// Arguments of `subunit-output`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Write one subunit v2 event: a test's status, an attachment, or both",
    long_about = "Write one subunit v2 event to standard output, as python-subunit's \
                  subunit-output: a test's status (--success TEST_ID, --fail TEST_ID, ...), \
                  optionally with a file attached (--attach-file), or a file attached to the \
                  stream alone. This is how shell test scripts report results.",
    group(ArgGroup::new("status").multiple(false))
)]
pub struct Args {
    /// The test passed.
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub success: Option<String>,
    /// The test failed.
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub fail: Option<String>,
    /// The test was skipped.
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub skip: Option<String>,
    /// The test failed, as expected.
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub xfail: Option<String>,
    /// The test passed but was expected to fail.
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub uxsuccess: Option<String>,
    /// The test exists (enumeration).
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub exists: Option<String>,
    /// The test is running.
    #[arg(long, value_name = "TEST_ID", group = "status", help_heading = STATUS)]
    pub inprogress: Option<String>,

    /// Attach the file at PATH; `-` reads stdin (file name `stdin`).
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath, help_heading = FILE)]
    pub attach_file: Option<PathBuf>,
    /// The attachment's name (default: PATH as given, or `stdin`).
    #[arg(long, value_name = "NAME", requires = "attach_file", help_heading = FILE)]
    pub file_name: Option<String>,
    /// The attachment's MIME type (default: none).
    #[arg(long, value_name = "TYPE", requires = "attach_file", help_heading = FILE)]
    pub mimetype: Option<String>,

    /// A tag of the event (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "A shell test script's results:\n\n    \
         subunit-output --inprogress tests.sh.login\n    \
         if ./login-works; then\n        subunit-output --success tests.sh.login\n    \
         else\n        subunit-output --fail tests.sh.login --attach-file login.log --mimetype 'text/plain; charset=utf8'\n    fi\n\n\
         A command's output, attached as it ends:\n\n    make 2>&1 | subunit-output --skip build --attach-file - --file-name make.log",
    ),
    (
        "PACKETS",
        "Without --attach-file, one packet: the status and test id, the tags and the \
         time. With it, the file is sent in chunks of 3.5 MiB (3670016 bytes), one \
         packet each, the last one (also of an empty file) with the EOF flag; every \
         packet carries the test id and the file name, the first one also the MIME \
         type, the tags, the time, and an inprogress status; a final status (success, \
         fail, skip, xfail, uxsuccess, exists) comes on the last packet. Every packet \
         is runnable. An empty TEST_ID, --mimetype or --file-name counts as not given, \
         as in python-subunit. Each packet is written as soon as the next chunk has been \
         read (or the input has ended), so a live attachment is sent as it comes.",
    ),
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "The bytes are python-subunit's but for the time, which here has \
         nanoseconds (python-subunit's: microseconds), and the order of several \
         tags, which here is the order given (python-subunit's: a set's). \
         --attach-file - with --file-name reads stdin under that name, where \
         python-subunit stops with an AttributeError. Two statuses, or \
         --file-name or --mimetype without --attach-file, are refused with clap's \
         usage message.",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early; 2 on usage errors, \
         when the file cannot be opened or read, and when the event cannot be encoded \
         (a test id or tag over 4 MiB).",
    ),
];

impl Args {
    /// The status and test id given, if any.
    fn action(&self) -> Option<(Status, &str)> {
        [
            (Status::Success, &self.success),
            (Status::Fail, &self.fail),
            (Status::Skip, &self.skip),
            (Status::XFail, &self.xfail),
            (Status::UxSuccess, &self.uxsuccess),
            (Status::Exists, &self.exists),
            (Status::InProgress, &self.inprogress),
        ]
        .into_iter()
        .find_map(|(status, id)| id.as_deref().map(|id| (status, id)))
    }
}

/// Reads up to `CHUNK` bytes, fewer only at the end of the input.
fn read_chunk(input: &mut Input, chunk: &mut Vec<u8>) -> Result<(), Error> {
    chunk.clear();
    let name = input.name().to_owned();
    input
        .by_ref()
        .take(CHUNK as u64)
        .read_to_end(chunk)
        .map_err(Error::reading(&name))?;
    Ok(())
}

/// Runs `subunit-output`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let action = args.action();
    let status = action.map(|(s, _)| s);
    // python-subunit leaves out what is empty.
    let test_id = action.map(|(_, id)| id).filter(|id| !id.is_empty());
    let mime = args.mimetype.as_deref().filter(|m| !m.is_empty());
    let mut tags: Vec<&str> = Vec::new();
    for tag in &args.tags {
        if !tags.contains(&tag.as_str()) {
            tags.push(tag);
        }
    }
    let first_status = status.filter(|s| !s.is_final()).unwrap_or_default();
    let last_status = status.filter(|s| s.is_final()).unwrap_or_default();
    let first = Event {
        status: first_status,
        runnable: true,
        timestamp: None,
        test_id,
        tags: (!tags.is_empty()).then_some(&tags[..]),
        ..Event::default()
    };
    let mut out = cli::stdout();
    let mut packet = Vec::new();
    let encoded = |event: &Event<'_>, packet: &mut Vec<u8>| {
        packet.clear();
        encode(event, packet).map_err(|e| Error::Usage(format!("cannot write the event: {e}")))
    };

    let Some(path) = &args.attach_file else {
        let event = Event {
            status: status.unwrap_or_default(),
            timestamp: Some(Timestamp::now()),
            ..first
        };
        encoded(&event, &mut packet)?;
        out.write_all(&packet)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut input = Input::open(path)?;
    let file_name = match args.file_name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None if path.as_os_str() == "-" => "stdin".to_owned(),
        None => path.to_string_lossy().into_owned(),
    };
    let (mut this, mut next) = (Vec::new(), Vec::new());
    read_chunk(&mut input, &mut this)?;
    let mut is_first = true;
    loop {
        let last = this.len() < CHUNK || {
            read_chunk(&mut input, &mut next)?;
            next.is_empty()
        };
        let event = if is_first {
            Event {
                timestamp: Some(Timestamp::now()),
                mime,
                ..first
            }
        } else {
            Event {
                runnable: true,
                test_id,
                ..Event::default()
            }
        };
        let event = Event {
            // A final status ends the last packet; inprogress stays on the first.
            status: if last && last_status != Status::Unset {
                last_status
            } else {
                event.status
            },
            eof: last,
            file: Some((&file_name, &this)),
            ..event
        };
        encoded(&event, &mut packet)?;
        out.write_all(&packet)?;
        out.flush()?;
        if last {
            return Ok(ExitCode::SUCCESS);
        }
        is_first = false;
        std::mem::swap(&mut this, &mut next);
    }
}
