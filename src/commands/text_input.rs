//! The reading loop of the commands that turn a text format into subunit:
//! subunit packets in the input pass through where they stand, the text
//! between them goes to a converter, and the output is flushed before each
//! read that may wait.

use std::io::Write;

use crate::cli::{Error, ReadLog, open_inputs, stdout};
use crate::stream::reader::{Item, StreamReader};

/// Output is written in pieces of about this size.
const CHUNK: usize = 64 * 1024;

/// A converter of text to subunit, fed as the input arrives; each method
/// appends the packets it makes to `out`.
pub trait TextConverter {
    /// Takes in text that has just arrived.
    fn text(&mut self, bytes: &[u8], out: &mut Vec<u8>);
    /// A subunit packet of the input comes next, passed on as it is.
    fn before_packet(&mut self, out: &mut Vec<u8>);
    /// The input pauses (a live producer): what is held for more text may
    /// go out.
    fn pause(&mut self, _out: &mut Vec<u8>) {}
    /// One input ended; another may follow.
    fn end_input(&mut self, out: &mut Vec<u8>);
    /// The last input ended.
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// Reads `files` (standard input when none) in order through `converter`
/// to standard output, and reports any damaged packets as `command`.
pub fn convert(
    command: &str,
    files: &[std::path::PathBuf],
    converter: &mut impl TextConverter,
) -> Result<(), Error> {
    let inputs = open_inputs(files)?;
    let mut out = stdout();
    let mut made = Vec::new();
    let mut log = ReadLog::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    converter.before_packet(&mut made);
                    made.extend_from_slice(packet.raw());
                }
                Item::Chatter(chatter) => converter.text(chatter.bytes, &mut made),
                Item::Idle => {
                    // Flush before a read that may wait (a live producer).
                    converter.pause(&mut made);
                    out.write_all(&made)?;
                    made.clear();
                    out.flush()?;
                }
            }
            if made.len() >= CHUNK {
                out.write_all(&made)?;
                made.clear();
            }
        }
        converter.end_input(&mut made);
        // The input is text: no hint that it looks like v1.
        log.add_named(reader.get_ref().name(), reader.damage(), false);
    }
    converter.finish(&mut made);
    out.write_all(&made)?;
    out.flush()?;
    log.report(command);
    Ok(())
}
