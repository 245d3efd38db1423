//! `subunit-2to1`: a v2 stream as v1 text (SPEC section 4).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error, ReadLog};
use crate::codec::packet::Status;
use crate::commands::held::{HeldArgs, HeldTests, held_man};
use crate::formats::v1::V1Formatter;
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit-2to1";

/// Arguments of `subunit-2to1`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Convert a subunit v2 stream to the v1 text protocol",
    long_about = "Convert a subunit v2 stream to the v1 text protocol, as python-subunit's \
                  subunit-2to1 does. A test is written when it ends: its time, its tags, \
                  test:, the time it ended, its outcome with its attachments in a multipart \
                  block, and a tags: line removing its tags. Tests that never end are \
                  written as failures at the end, the most recently started first. Chatter \
                  and the content of files without a test id are written through as they \
                  come; enumeration (exists) packets are left out."
)]
pub struct Args {
    /// Streams to read, in order, as one; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,

    /// How much of the tests in progress is held in memory.
    #[command(flatten)]
    pub held: HeldArgs,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Read a run with a v1 tool:\n\n    subunit-2to1 run.subunit | subunit-ls\n\n\
         Round trip:\n\n    subunit-2to1 run.subunit | subunit-1to2 > again.subunit",
    ),
    held_man!(
        "it is written as a test still running at the end is (a failure), and its later \
         packets as a test of their own."
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "For a stream without chatter the output is python-subunit's byte for byte, \
         except that the words of a tags: line are sorted (python-subunit's order depends \
         on string hashing). Damaged packets do not end the stream or become a \
         subunit.parser test: they are written through as chatter and counted on \
         standard error. --max-held is not python-subunit's (see TESTS IN PROGRESS).",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early; 2 on usage errors and \
         when an input cannot be opened or read.",
    ),
];

/// Runs `subunit-2to1`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut out = cli::stdout();
    let mut held = HeldTests::new(NAME, &args.held);
    let mut writer = V1Formatter::default();
    let mut text = Vec::new();
    let mut log = ReadLog::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) if packet.test_id().is_none() => {
                    if let Some(file) = packet.file() {
                        out.write_all(file.content)?;
                    }
                }
                Item::Packet(packet) if packet.status() == Status::Exists => {}
                Item::Packet(packet) => {
                    if held.add(&packet)? {
                        text.clear();
                        writer.test(held.ended(), &mut text);
                        out.write_all(&text)?;
                    }
                    while let Some(test) = held.forced_out() {
                        text.clear();
                        writer.test(&test, &mut text);
                        out.write_all(&text)?;
                    }
                }
                Item::Chatter(chatter) => out.write_all(chatter.bytes)?,
                Item::Idle => out.flush()?,
            }
        }
        log.add_reader(&reader);
    }
    for test in held.finish() {
        text.clear();
        writer.test(&test?, &mut text);
        out.write_all(&text)?;
    }
    out.flush()?;
    log.report(NAME);
    Ok(ExitCode::SUCCESS)
}
