//! `subunit-1to2`: v1 text as a v2 stream (SPEC section 4).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::{Status, Timestamp};
use crate::formats::v1::{V1Event, V1Parser};
use crate::stream::wrap::{WrapOptions, Wrapper};

/// The command's name.
pub const NAME: &str = "subunit-1to2";

/// Arguments of `subunit-1to2`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Convert the subunit v1 text protocol to a v2 stream",
    long_about = "Convert the subunit v1 text protocol to a v2 stream, as python-subunit's \
                  subunit-1to2 does: test: becomes an inprogress packet, the outcome its \
                  attachments and a final status with the tags in force, tags: and time: \
                  apply to what follows. Text that is not protocol becomes stdout file \
                  packets, so nothing is lost and the output is all subunit."
)]
pub struct Args {
    /// Streams to read, in order, as one; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "    python -m subunit.run mytests | subunit-1to2 | subunit-stats",
    ),
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "Text that is not protocol becomes stdout file packets rather than raw bytes in \
         the middle of the v2 output. Each chunk of a multipart attachment becomes its \
         own file packet, so that subunit-2to1 writes the same chunks back. Events before \
         the first time: line carry no timestamp (python-subunit stamps them with the \
         current time). A malformed details block (a bad chunk header or Content-Type \
         line) or time: line is kept as chatter and counted on standard error; \
         python-subunit stops with a traceback there, or for a chunk header that is not \
         hexadecimal swallows the rest of the input. A test left open at the end of the \
         input ends as a failure whose traceback says the connection was lost, as in \
         python-subunit; the lines of a details block left open are kept as chatter, \
         where python-subunit drops them. A last line without a newline is read whole \
         (python-subunit drops its last character). progress: lines are dropped, as v2 \
         has no progress.",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early; 2 on usage errors and \
         when an input cannot be opened or read.",
    ),
];

/// Tags in force: the run's, and a running test's own (a copy of the run's
/// when it started, changed by tags: lines inside it), as testtools'
/// TagContext keeps them.
#[derive(Debug, Default)]
struct Tags {
    global: BTreeSet<String>,
    test: Option<BTreeSet<String>>,
}

impl Tags {
    fn change(&mut self, new: Vec<String>, gone: Vec<String>) {
        let scope = self.test.as_mut().unwrap_or(&mut self.global);
        scope.extend(new);
        for tag in gone {
            scope.remove(&tag);
        }
    }

    fn current(&self) -> &BTreeSet<String> {
        self.test.as_ref().unwrap_or(&self.global)
    }
}

/// Runs `subunit-1to2`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut out = cli::stdout();
    let mut parser = V1Parser::new();
    let mut chatter = Wrapper::new(WrapOptions::plain("stdout")).expect("plain options encode");
    let mut converter = Converter::default();
    let mut events = Vec::new();
    let mut made = Vec::new();
    let mut line = Vec::new();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = BufReader::with_capacity(64 * 1024, input);
        loop {
            line.clear();
            // Flush before a read that may wait (a live producer).
            if reader.buffer().is_empty() {
                chatter.flush(&mut made);
                out.write_all(&made)?;
                made.clear();
                out.flush()?;
            }
            if reader
                .read_until(b'\n', &mut line)
                .map_err(Error::reading(&name))?
                == 0
            {
                break;
            }
            parser.line(&line, &mut events);
            converter.convert(&mut events, &mut chatter, &mut made);
            if made.len() >= 64 * 1024 {
                out.write_all(&made)?;
                made.clear();
            }
        }
    }
    parser.finish(&mut events);
    converter.convert(&mut events, &mut chatter, &mut made);
    chatter.finish(&mut made);
    out.write_all(&made)?;
    out.flush()?;
    if parser.malformed() > 0 {
        eprintln!(
            "{NAME}: warning: {} malformed v1 block{} or line{} kept as chatter",
            parser.malformed(),
            if parser.malformed() == 1 { "" } else { "s" },
            if parser.malformed() == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Turns v1 events into packets the way testtools' ExtendedToStreamDecorator
/// does.
#[derive(Debug, Default)]
struct Converter {
    now: Option<Timestamp>,
    tags: Tags,
}

impl Converter {
    fn convert(&mut self, events: &mut Vec<V1Event>, chatter: &mut Wrapper, out: &mut Vec<u8>) {
        for event in events.drain(..) {
            match event {
                V1Event::Chatter(bytes) => {
                    chatter.chatter(&bytes, out);
                }
                V1Event::Time(ts) => self.now = Some(ts),
                V1Event::Tags { new, gone } => self.tags.change(new, gone),
                V1Event::Start { test_id } => {
                    chatter.before_packet(out);
                    self.tags.test = Some(self.tags.global.clone());
                    self.emit(
                        Event {
                            status: Status::InProgress,
                            runnable: true,
                            test_id: Some(&test_id),
                            timestamp: self.now,
                            ..Event::default()
                        },
                        out,
                    );
                }
                V1Event::Outcome {
                    test_id,
                    status,
                    attachments,
                } => {
                    chatter.before_packet(out);
                    for (name, mime, chunks) in &attachments {
                        let last = chunks.len().saturating_sub(1);
                        let empty: &[u8] = &[];
                        let pieces = if chunks.is_empty() {
                            vec![empty]
                        } else {
                            chunks.iter().map(Vec::as_slice).collect()
                        };
                        for (i, chunk) in pieces.into_iter().enumerate() {
                            self.emit(
                                Event {
                                    runnable: true,
                                    eof: i == last,
                                    timestamp: self.now,
                                    test_id: Some(&test_id),
                                    mime: Some(mime),
                                    file: Some((name, chunk)),
                                    ..Event::default()
                                },
                                out,
                            );
                        }
                    }
                    let tags: Vec<&str> = self.tags.current().iter().map(String::as_str).collect();
                    self.emit(
                        Event {
                            status,
                            runnable: true,
                            timestamp: self.now,
                            test_id: Some(&test_id),
                            tags: (!tags.is_empty()).then_some(&tags[..]),
                            ..Event::default()
                        },
                        out,
                    );
                    self.tags.test = None;
                }
            }
        }
    }

    fn emit(&self, event: Event<'_>, out: &mut Vec<u8>) {
        if let Err(err) = encode(&event, out) {
            // A name with a NUL byte cannot be in a packet; say so in one.
            let note = format!("subunit-1to2: cannot encode an event: {err}\n");
            let _ = encode(
                &Event {
                    file: Some(("stdout", note.as_bytes())),
                    ..Event::default()
                },
                out,
            );
        }
    }
}
