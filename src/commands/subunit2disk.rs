//! `subunit2disk`: a stream exported to a directory per test (issue 12).

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Error, ReadLog};
use crate::formats::disk::{components, numbered, squashed, test_json};
use crate::results::record::{Recorder, TestRecord};
use crate::stream::reader::{Item, StreamReader};

/// The command's name.
pub const NAME: &str = "subunit2disk";

/// Arguments of `subunit2disk`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Export a subunit v2 stream to files on disk, a directory per test",
    long_about = "Export a subunit v2 stream to files on disk: a directory per test id \
                  under DIR, holding test.json (the test's id, status, tags, attachment \
                  names and first and last timestamps, as python-subunit's subunit2disk \
                  writes it) and each attachment under its own name. A taken name gets \
                  -1, -2, ... added. Each test is written as soon as it ends; tests still \
                  running when the stream ends are written last, with status inprogress \
                  and no stop time.\n\n\
                  Output that belongs to no test (chatter, and files without a test id) \
                  is written to standard output, unless --no-passthrough."
)]
pub struct Args {
    /// Root directory to export to (created if missing).
    #[arg(
        short = 'd',
        long,
        value_name = "DIR",
        default_value = ".",
        value_hint = clap::ValueHint::DirPath
    )]
    pub directory: PathBuf,

    /// Drop output that belongs to no test instead of writing it to
    /// standard output.
    #[arg(long)]
    pub no_passthrough: bool,

    /// Streams to read, in order; stdin when none are given or for `-`.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub files: Vec<PathBuf>,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Export a run and look at a failure:\n\n    subunit2disk -d out run.subunit\n    \
         grep -l '\"fail\"' out/*/test.json",
    ),
    (
        "FILE NAMES",
        "A test id with / in it makes nested directories, as python's does, when every \
         part between the slashes is a safe file name. Otherwise the id becomes one name: \
         / and \\ become _, an id that is empty, . or .. gets a _ in front, control \
         characters become %XX, and a name over 255 bytes is cut and ends in a hash of \
         the whole. Attachment names follow the same rules inside their test's directory. \
         Every directory and file is opened without following symbolic links and files \
         are never overwritten, so nothing is written outside DIR, whatever the stream \
         or the directory holds.",
    ),
    (
        "DIFFERENCES",
        "From python-subunit 1.4.6's subunit2disk: several FILE arguments are read in \
         order (python's takes one). Python keeps a name inside DIR by comparing resolved \
         paths as text, which lets an id like ../DIRx/t write into a sibling directory, \
         follows symbolic links found in DIR, and loops until it crashes on an id of \
         ..; ours checks each part of the name (see FILE NAMES), so ids with empty, . or \
         .. parts, or with control characters, are named differently from python's. \
         Python discards chatter and files without a test id; ours writes them to \
         standard output (--no-passthrough drops them). A damaged packet is reported on \
         standard error instead of ending python's run.",
    ),
    cli::V1_INPUT_MAN,
    (
        "EXIT STATUS",
        "0 when the export completed, as python's; 2 on usage errors, when an input \
         cannot be read or a file cannot be written under DIR. A closed standard output \
         (as by head) ends the command quietly with status 0.",
    ),
];

/// Runs `subunit2disk`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let inputs = cli::open_inputs(&args.files)?;
    let root = ExportDir::open(&args.directory)?;
    let mut out = cli::stdout();
    let mut recorder = Recorder::new();
    let mut log = ReadLog::default();
    for input in inputs {
        let name = input.name().to_owned();
        let mut reader = StreamReader::live(input);
        while let Some(item) = reader.next().map_err(Error::reading(&name))? {
            match item {
                Item::Packet(packet) => {
                    if let Some(record) = recorder.packet(&packet) {
                        root.write(&record)?;
                    } else if packet.test_id().is_none() && !args.no_passthrough {
                        if let Some(file) = packet.file() {
                            out.write_all(file.content)?;
                        }
                    }
                }
                Item::Chatter(chatter) if !args.no_passthrough => out.write_all(chatter.bytes)?,
                Item::Chatter(_) => {}
                Item::Idle => out.flush()?,
            }
        }
        log.add_reader(&reader);
    }
    for record in recorder.finish() {
        root.write(&record)?;
    }
    out.flush()?;
    log.report(NAME);
    Ok(ExitCode::SUCCESS)
}

/// The root directory of an export, held open: every name under it is
/// opened relative to it, one component at a time, without following
/// symbolic links.
struct ExportDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl ExportDir {
    fn open(path: &Path) -> Result<ExportDir, Error> {
        let create = |source| Error::Create {
            path: path.to_owned(),
            source,
        };
        fs::create_dir_all(path).map_err(create)?;
        let fd = open_dir(
            libc::AT_FDCWD,
            &c_name(path.as_os_str().as_encoded_bytes()),
            true,
        )
        .map_err(create)?;
        Ok(ExportDir {
            fd,
            path: path.to_owned(),
        })
    }

    /// Writes one test: its directory, `test.json`, its attachments.
    fn write(&self, record: &TestRecord) -> Result<(), Error> {
        let make_dir = |at, name: &CString| {
            mkdir(at, name)?;
            open_dir(at, name, false)
        };
        let (dir, path) = place(self.fd.as_raw_fd(), &self.path, &record.id, make_dir)?;
        let json = test_json(record);
        let files = std::iter::once(("test.json", json.as_bytes())).chain(
            record
                .files
                .iter()
                .map(|f| (f.name.as_str(), &f.content[..])),
        );
        for (name, content) in files {
            let (mut file, path) = place(dir.as_raw_fd(), &path, name, create_new)?;
            file.write_all(content)
                .map_err(|source| Error::Create { path, source })?;
        }
        Ok(())
    }
}

/// Makes `name` (a test id or attachment name) under the directory `at`
/// (whose path is `path`) with `create`: its components nested, the last
/// one numbered if taken. Where a parent is in the way (a file, or a link,
/// which is not followed), the whole name goes into one component instead.
fn place<T>(
    at: RawFd,
    path: &Path,
    name: &str,
    create: impl Fn(RawFd, &CString) -> io::Result<T>,
) -> Result<(T, PathBuf), Error> {
    let parts = components(name);
    match nested(at, path, &parts, &create) {
        Err((_, e)) if parts.len() > 1 && in_the_way(&e) => {
            nested(at, path, &[squashed(name)], &create)
        }
        made => made,
    }
    .map_err(|(path, source)| Error::Create { path, source })
}

fn nested<T>(
    at: RawFd,
    path: &Path,
    parts: &[String],
    create: impl Fn(RawFd, &CString) -> io::Result<T>,
) -> Result<(T, PathBuf), (PathBuf, io::Error)> {
    let (last, parents) = parts.split_last().expect("a name has a component");
    let mut path = path.to_owned();
    let mut parent: Option<OwnedFd> = None;
    for part in parents {
        path.push(part);
        let at = parent.as_ref().map_or(at, AsRawFd::as_raw_fd);
        let name = c_name(part.as_bytes());
        match mkdir(at, &name) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err((path, e)),
            _ => {}
        }
        parent = Some(open_dir(at, &name, false).map_err(|e| (path.clone(), e))?);
    }
    let at = parent.as_ref().map_or(at, AsRawFd::as_raw_fd);
    for attempt in 0.. {
        let name = numbered(last, attempt);
        match create(at, &c_name(name.as_bytes())) {
            Ok(made) => return Ok((made, path.join(name))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err((path.join(name), e)),
        }
    }
    unreachable!("some numbered name is free")
}

/// Whether opening a parent failed because something other than a
/// directory is there (a file, or a symbolic link not followed).
fn in_the_way(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP))
}

/// A name for the C calls; names come from strings without NUL (SPEC 1,
/// and [`components`] escapes control characters), paths from the OS.
fn c_name(bytes: &[u8]) -> CString {
    CString::new(bytes).expect("names hold no NUL")
}

fn mkdir(at: RawFd, name: &CString) -> io::Result<()> {
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    if unsafe { libc::mkdirat(at, name.as_ptr(), 0o777) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens a directory; `follow` only for the root the user named.
fn open_dir(at: RawFd, name: &CString, follow: bool) -> io::Result<OwnedFd> {
    let flags = libc::O_RDONLY
        | libc::O_DIRECTORY
        | libc::O_CLOEXEC
        | if follow { 0 } else { libc::O_NOFOLLOW };
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::openat(at, name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates a file that did not exist (a link in its place counts as
/// existing and is not followed).
fn create_new(at: RawFd, name: &CString) -> io::Result<File> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::openat(at, name.as_ptr(), flags, 0o666 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}
