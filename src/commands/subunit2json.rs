//! `subunit2json`: the stream as JSON Lines (SPEC section 4).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error, ReadLog};
use crate::formats::json::JsonLines;
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit2json";

/// Arguments of `subunit2json`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Print a subunit v2 stream as JSON Lines",
    long_about = "Print a subunit v2 stream as JSON Lines: one object per packet or run of \
                  chatter (bytes between packets), in stream order, written as soon as \
                  each is decoded.\n\n\
                  A packet is {\"status\", \"runnable\", \"eof\"} plus the fields present: \
                  \"timestamp\" as [seconds, nanos], \"test_id\", \"tags\" (sorted), \"mime\", \
                  \"file_name\", \"file_hex\" and \"route_code\". Chatter is {\"chatter_hex\"}; \
                  adjacent chatter is merged, except where live input paused. Keys are \
                  sorted and non-ASCII characters escaped, as Python's \
                  json.dumps(obj, sort_keys=True) writes them."
)]
pub struct Args {
    /// Streams to read, in order; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Test ids of the failures:\n\n    subunit2json run.subunit | jq -r 'select(.status == \"fail\") | .test_id'\n\n\
         Follow a live run:\n\n    run-tests | subunit2json",
    ),
    (
        "DAMAGED INPUT",
        "Bytes that are not a valid packet are chatter; a damaged packet gives up only \
         its first byte, so valid packets inside or after it are still found and nothing \
         is lost. The number of damaged packets and the offset of the first are reported \
         once on standard error.",
    ),
    cli::V1_INPUT_MAN,
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early (as by head); \
         2 on usage errors and when an input cannot be opened or read.",
    ),
];

/// Runs `subunit2json`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let mut out = cli::stdout();
    let mut lines = JsonLines::new();
    let mut log = ReadLog::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        loop {
            let item = reader.next().map_err(Error::reading(&name))?;
            match item {
                Some(Item::Packet(packet)) => lines.packet(&packet, &mut out)?,
                Some(Item::Chatter(chatter)) => lines.chatter(chatter.bytes, &mut out)?,
                Some(Item::Idle) => {
                    lines.end_chatter(&mut out)?;
                    out.flush()?;
                }
                None => break,
            }
        }
        lines.end_chatter(&mut out)?;
        log.add_reader(&reader);
    }
    out.flush()?;
    log.report(NAME);
    Ok(ExitCode::SUCCESS)
}
