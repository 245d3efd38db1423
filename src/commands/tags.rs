//! `subunit-tags`: adds and removes tags on every packet, as python-subunit's
//! `tag_stream`, forwarding the packets it does not change byte for byte.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};

use crate::cli::{self, Error, ReadLog};
use crate::codec::encode::{Event, encode};
use crate::codec::packet::Packet;
use crate::os;
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit-tags";

/// Arguments of `subunit-tags`, once [`command_line`] has put the tags
/// last. Every argument that does not start with `--` is a tag, `-TAG`
/// one to remove, so there are no short options (`-h` removes the tag
/// `h`, as in python-subunit).
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Add and remove tags on every packet of a subunit v2 stream",
    long_about = "Add tags to, and remove tags from, every packet of a subunit v2 stream, \
                  as python-subunit's subunit-tags: subunit-tags foo adds foo, \
                  subunit-tags foo -bar adds foo and removes bar. A packet whose tags this \
                  does not change is forwarded byte for byte; the others are written anew \
                  with their new tags. Chatter (bytes that are not subunit) becomes stdout \
                  file packets, tagged as well, as python-subunit does.",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Args {
    /// Tags to add (TAG) and to remove (-TAG), in any order; a tag both
    /// added and removed is removed.
    #[arg(value_name = "TAG")]
    pub tags: Vec<String>,

    /// A stream to read (repeatable: in order, as one; `-` is stdin).
    /// Without it, stdin.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub file: Vec<PathBuf>,

    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print version.
    #[arg(long, action = ArgAction::Version)]
    pub version: Option<bool>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Tag a worker's results before merging them:\n\n    run-tests | subunit-tags worker-1 > w1.subunit\n\n\
         Move tests from one tag to another:\n\n    subunit-tags slow -quick < run.subunit | subunit-filter --with-tag slow",
    ),
    (
        "TAGGING",
        "A packet's new tags are its tags, plus each TAG, minus each -TAG. When they \
         are the tags it had (as a set), the packet goes on as it came; otherwise it \
         is written anew with the tags it kept, in their order, then the added ones, \
         in the order given, and its other fields as they were. A packet left without \
         tags has no tags field. Packets without a test id are tagged too, as \
         python-subunit tags them. Each piece of chatter becomes a stdout file packet \
         (runnable, no test id) carrying the new tags, as in python-subunit.",
    ),
    (
        "DAMAGED INPUT",
        "Bytes that are not a valid packet are chatter; a damaged packet gives up only \
         its first byte, so valid packets inside or after it are still found. Its \
         bytes go on as chatter, and the number of damaged packets is reported once on \
         standard error.",
    ),
    cli::V1_INPUT_MAN,
    (
        "DIFFERENCES FROM PYTHON-SUBUNIT",
        "python-subunit writes every packet anew: timestamps lose their nanoseconds \
         beyond the microsecond, empty MIME types and tag lists are dropped and tags \
         come in a set's random order. Here packets whose tags do not change are \
         forwarded byte for byte, and changed ones keep their fields exactly, with \
         tags in a fixed order (see TAGGING). A packet that the new tags make too \
         long (over 4 MiB) has its file content split over several packets, the \
         last one with the status and EOF; python-subunit stops with a ValueError. \
         Damaged packets are chatter (tagged stdout packets, their bytes intact) \
         rather than a failing subunit.parser test, and packets with the reserved \
         flag set or another version than 2 are damaged ones. Chatter is cut where the \
         input paused or the reader's buffer ended, not where python's one-byte \
         reads happened to. Input may come from files (--file); python-subunit \
         reads stdin only, and takes every argument as a tag, so arguments starting \
         with -- are options here (--file, --help, --version, or an error); tags that \
         start with -- may follow a -- argument.",
    ),
    (
        "EXIT STATUS",
        "0 on success, also when standard output is closed early; 2 on usage errors \
         and when an input cannot be opened or read.",
    ),
];

/// The tags to add and to remove, as python's `tags_to_new_gone` splits them.
#[derive(Debug, Default)]
struct Changes {
    add: Vec<String>,
    remove: Vec<String>,
}

impl Changes {
    fn new(tags: &[String]) -> Changes {
        let mut changes = Changes::default();
        for tag in tags {
            let (list, name) = match tag.strip_prefix('-') {
                Some(name) => (&mut changes.remove, name),
                None => (&mut changes.add, tag.as_str()),
            };
            if !list.iter().any(|t| t == name) {
                list.push(name.to_owned());
            }
        }
        changes
    }

    /// The new tags of a packet that had `old` (`None`: no tags field), or
    /// `None` when they are the same set.
    fn apply<'a>(&'a self, old: Option<Vec<&'a str>>) -> Option<Vec<&'a str>> {
        let old = old.unwrap_or_default();
        let mut new: Vec<&str> = Vec::with_capacity(old.len() + self.add.len());
        for tag in old
            .iter()
            .copied()
            .chain(self.add.iter().map(String::as_str))
        {
            if !new.contains(&tag) && !self.remove.iter().any(|t| t == tag) {
                new.push(tag);
            }
        }
        // `new` has no repeats: the same set if it is as big as `old`'s and
        // all in it.
        let distinct = old
            .iter()
            .enumerate()
            .filter(|&(i, t)| !old[..i].contains(t))
            .count();
        let same = new.len() == distinct && new.iter().all(|t| old.contains(t));
        (!same).then_some(new)
    }
}

/// Packets the new tags made too long to encode (no file content to
/// split), forwarded as they were, reported once at the end.
#[derive(Debug, Default)]
struct TooLong {
    count: u64,
    first: Option<String>,
}

/// The command line `args` (the program's name first) as clap reads it:
/// the options (each argument starting with `--`, and the value after a
/// `--file` without `=`), then `--` and the tags (every other argument, and
/// all after a `--` of the user's), which may start with `-`. Tags and
/// options may be mixed, as python-subunit's arguments are all tags.
pub fn command_line(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args = args.into_iter();
    let mut options: Vec<OsString> = args.next().into_iter().collect();
    let mut tags = Vec::new();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            tags.extend(args.by_ref());
        } else if text.starts_with("--") {
            // `--file` or an unambiguous prefix of it, without `=VALUE`.
            let takes_value = text.len() >= 3 && "--file".starts_with(&*text);
            options.push(arg);
            if takes_value {
                options.extend(args.next());
            }
        } else {
            tags.push(arg);
        }
    }
    options.push("--".into());
    options.extend(tags);
    options
}

/// Runs `subunit-tags`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let changes = Changes::new(&args.tags);
    let inputs = cli::open_inputs(&args.file)?;
    let mut out = cli::stdout();
    let mut log = ReadLog::default();
    let mut made = Vec::new();
    let mut too_long = TooLong::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    let old = packet.tags().map(Iterator::collect);
                    match changes.apply(old) {
                        None => out.write_all(packet.raw())?,
                        Some(tags) => {
                            made.clear();
                            if retag(&packet, &tags, &mut made) {
                                out.write_all(&made)?;
                            } else {
                                too_long.count += 1;
                                too_long.first.get_or_insert_with(|| {
                                    let id = packet.test_id().unwrap_or("(no test id)");
                                    os::shortened(id, 100).into_owned()
                                });
                                out.write_all(packet.raw())?;
                            }
                        }
                    }
                }
                Item::Chatter(chatter) => {
                    // python-subunit's non_subunit_name="stdout" packet.
                    let tags = changes.apply(None).unwrap_or_default();
                    made.clear();
                    let event = Event {
                        runnable: true,
                        tags: (!tags.is_empty()).then_some(&tags[..]),
                        file: Some(("stdout", chatter.bytes)),
                        ..Event::default()
                    };
                    if encode(&event, &mut made).is_err() {
                        // Tags too long for any packet: the bytes go on bare.
                        too_long.count += 1;
                        too_long.first.get_or_insert_with(|| "(chatter)".into());
                        out.write_all(chatter.bytes)?;
                    } else {
                        out.write_all(&made)?;
                    }
                }
                Item::Idle => out.flush()?,
            }
        }
        log.add_reader(&reader);
    }
    out.flush()?;
    log.report(NAME);
    if let Some(first) = &too_long.first {
        eprintln!(
            "{NAME}: warning: {} packet{} too long for a packet (4 MiB) with the new tags \
             went on unchanged (the first: {first})",
            too_long.count,
            if too_long.count == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Appends `packet` with `tags` instead of its own (none when empty); false
/// when it cannot be encoded (nothing appended then).
fn retag(packet: &Packet<'_>, tags: &[&str], out: &mut Vec<u8>) -> bool {
    let event = Event {
        status: packet.status(),
        runnable: packet.runnable(),
        eof: packet.eof(),
        timestamp: packet.timestamp(),
        test_id: packet.test_id(),
        tags: (!tags.is_empty()).then_some(tags),
        mime: packet.mime(),
        file: packet.file().map(|f| (f.name, f.content)),
        route_code: packet.route_code(),
    };
    encode(&event, out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(args: &[&str]) -> Changes {
        Changes::new(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn new_tags_keep_the_old_order_then_the_added() {
        let c = changes(&["b", "-x", "a", "b"]);
        assert_eq!(
            c.apply(Some(vec!["z", "x", "y"])),
            Some(vec!["z", "y", "b", "a"])
        );
        assert_eq!(c.apply(None), Some(vec!["b", "a"]));
        assert_eq!(c.apply(Some(vec!["a", "b"])), None, "the same set");
        assert_eq!(c.apply(Some(vec!["b", "a", "a"])), None, "a set");
    }

    #[test]
    fn options_go_first_and_tags_after_a_double_dash() {
        let line = |args: &[&str]| -> Vec<String> {
            command_line(args.iter().map(OsString::from))
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect()
        };
        assert_eq!(
            line(&[
                "t", "a", "-b", "--file", "x", "-c", "--fi", "y", "--file=z", "--help"
            ]),
            [
                "t", "--file", "x", "--fi", "y", "--file=z", "--help", "--", "a", "-b", "-c"
            ]
        );
        assert_eq!(
            line(&["t", "-h", "--", "--odd", "--file"]),
            ["t", "--", "-h", "--odd", "--file"]
        );
        assert_eq!(line(&["t", "--nope", "x"]), ["t", "--nope", "--", "x"]);
    }

    #[test]
    fn a_tag_added_and_removed_is_removed() {
        let c = changes(&["foo", "-foo"]);
        assert_eq!(c.apply(Some(vec!["foo"])), Some(vec![]));
        assert_eq!(c.apply(None), None);
        assert_eq!(changes(&["-gone"]).apply(Some(vec!["kept"])), None);
    }
}
