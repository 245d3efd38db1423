//! What every command shares (SPEC section 4): inputs named on the command
//! line or stdin, one buffered stdout, `COMMAND: message` errors, exit
//! status 2 for usage and I/O errors, quiet status 0 on a closed stdout.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, StdoutLock};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::os::io_message;
use crate::stream::reader::{Damage, StreamReader};

/// Exit status for usage and I/O errors (clap uses it for usage errors too).
pub const EXIT_ERROR: u8 = 2;

/// An input stream: a named file or stdin.
#[derive(Debug)]
pub struct Input {
    name: String,
    file: File,
}

impl Input {
    /// How messages name this input: the path as given, or `stdin`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Standard input, read directly from file descriptor 0 (bypassing
    /// std's buffer, so readiness checks see exactly what is pending).
    pub fn stdin() -> Result<Input, Error> {
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| Error::Read {
                input: "stdin".into(),
                source,
            })?;
        Ok(Input {
            name: "stdin".into(),
            file: File::from(fd),
        })
    }

    /// Whether the input is recorded, a regular file (or a block device),
    /// as opposed to live: a pipe, FIFO, socket or terminal, whose bytes
    /// come as they are written.
    pub fn is_recorded(&self) -> bool {
        crate::os::is_recorded(self.file.as_fd())
    }

    /// Opens `path`; `-` is stdin.
    pub fn open(path: &Path) -> Result<Input, Error> {
        if path.as_os_str() == "-" {
            return Input::stdin();
        }
        let file = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(Input {
            name: path.display().to_string(),
            file,
        })
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl AsFd for Input {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Opens every input up front, so a missing file fails the command before
/// it writes anything; no paths means stdin.
pub fn open_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, Error> {
    if paths.is_empty() {
        return Ok(vec![Input::stdin()?]);
    }
    paths.iter().map(|path| Input::open(path)).collect()
}

/// Stdout, locked once and buffered; flush it before each blocking read.
pub fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// A command's failure.
#[derive(Debug)]
pub enum Error {
    /// An input could not be opened.
    Open {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An input could not be read.
    Read {
        /// The input's name.
        input: String,
        /// Why.
        source: io::Error,
    },
    /// An output file could not be created.
    Create {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Output could not be written.
    Write(io::Error),
    /// The arguments make no sense together.
    Usage(String),
    /// Something the command needs besides its inputs and outputs failed
    /// (a program it runs): the message says what and why.
    Failed(String),
}

impl Error {
    /// Wraps a read error of the input called `input`.
    pub fn reading(input: &str) -> impl FnOnce(io::Error) -> Error + '_ {
        |source| Error::Read {
            input: input.to_owned(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open { path, source } => {
                write!(f, "cannot open {}: {}", path.display(), io_message(source))
            }
            Error::Read { input, source } => {
                write!(f, "error reading {input}: {}", io_message(source))
            }
            Error::Create { path, source } => {
                write!(
                    f,
                    "cannot create {}: {}",
                    path.display(),
                    io_message(source)
                )
            }
            Error::Write(source) => write!(f, "error writing output: {}", io_message(source)),
            Error::Usage(message) | Error::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Open { source, .. }
            | Error::Read { source, .. }
            | Error::Create { source, .. }
            | Error::Write(source) => Some(source),
            Error::Usage(_) | Error::Failed(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    /// Unlabelled I/O errors in command code come from writing output.
    fn from(source: io::Error) -> Error {
        Error::Write(source)
    }
}

/// What every command's command line accepts and how its help looks,
/// applied to each command's clap definition both when it runs and when
/// its man page and completions are made: unambiguous prefixes of long
/// options (`--no-pass` for `--no-passthrough`), as python's optparse
/// accepts them and users' scripts use them; help wrapped to the terminal
/// (or `COLUMNS`), at most 100 columns wide.
pub fn command(command: clap::Command) -> clap::Command {
    command.infer_long_args(true).max_term_width(100)
}

/// Reads the command line: `Ok` with clap's matches, or `Err` with the
/// status to exit with once help or the version is printed (0; 2 if it
/// cannot be written) or a usage error is reported as `COMMAND: message`,
/// clap's whole message with its tips and usage (2).
pub fn matches(command: clap::Command) -> Result<clap::ArgMatches, ExitCode> {
    matches_from(command, std::env::args_os())
}

/// [`matches()`] of the command line `args` (the program's name first), for
/// a command that rearranges its own before clap reads them.
pub fn matches_from(
    command: clap::Command,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<clap::ArgMatches, ExitCode> {
    let command = self::command(command);
    let name = command.get_name().to_owned();
    command
        .try_get_matches_from(args)
        .map_err(|err| report_command_line(&name, &err))
}

fn report_command_line(name: &str, err: &clap::Error) -> ExitCode {
    if !err.use_stderr() {
        // Help and version: standard output, which may fail like any write
        // (a full disk); a closed pipe is quiet, as everywhere.
        return match write_help(err) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: {}", Error::Write(e));
                ExitCode::from(EXIT_ERROR)
            }
        };
    }
    let text = err.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    eprint!("{name}: {text}");
    if !text.ends_with('\n') {
        eprintln!();
    }
    ExitCode::from(EXIT_ERROR)
}

fn write_help(err: &clap::Error) -> io::Result<()> {
    use std::io::{IsTerminal, Write};
    let mut out = io::stdout().lock();
    let text = err.render();
    if out.is_terminal() {
        write!(out, "{}", text.ansi())?;
    } else {
        write!(out, "{text}")?;
    }
    out.flush()
}

/// [`matches()`] made into the command's arguments.
pub fn parse<A: clap::Parser>() -> Result<A, ExitCode> {
    let matches = matches(A::command())?;
    A::from_arg_matches(&matches).map_err(|err| {
        eprintln!("{}: {}", A::command().get_name(), err.kind());
        ExitCode::from(EXIT_ERROR)
    })
}

/// Ends a command: reports an error as `COMMAND: message` on stderr with
/// status 2, except a closed stdout anywhere in the error's chain, which
/// ends the command quietly with status 0.
pub fn finish(command: &str, result: Result<ExitCode, Error>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{command}: {err}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cause = err.source();
    }
    false
}

/// What reading the inputs of a run saw, reported once at the end: the
/// damaged packets over all inputs (SPEC 2.5), and the inputs that held no
/// packet at all but looked like subunit v1 text
/// (`StreamReader::looks_like_v1`), named with a hint to convert them
/// (otherwise a v1 stream would quietly count no tests).
#[derive(Debug, Default)]
pub struct ReadLog {
    damaged: u64,
    first_damage: Option<(String, Damage)>,
    v1_inputs: Vec<String>,
}

impl ReadLog {
    /// Adds what `reader` saw of its input, by the input's name.
    pub fn add_reader(&mut self, reader: &StreamReader<Input>) {
        self.add_named(
            &reader.get_ref().name,
            reader.damage(),
            reader.looks_like_v1(),
        );
    }

    /// Adds what a reader of the input called `name` saw: its damage, and
    /// whether it looked like v1 (pass `false` where text is what the
    /// input is meant to hold).
    pub fn add_named(&mut self, name: &str, damage: Option<Damage>, looks_like_v1: bool) {
        if let Some(damage) = damage {
            self.damaged += damage.count;
            if self.first_damage.is_none() {
                self.first_damage = Some((name.to_owned(), damage));
            }
        }
        if looks_like_v1 {
            self.v1_inputs.push(name.to_owned());
        }
    }

    /// How many damaged packets there were.
    pub fn damaged(&self) -> u64 {
        self.damaged
    }

    /// The one-line report of damage, if there was any.
    pub fn damage_message(&self) -> Option<String> {
        let (input, first) = self.first_damage.as_ref()?;
        let plural = if self.damaged == 1 { "" } else { "s" };
        Some(format!(
            "{} damaged packet{plural} kept as chatter (first at byte {} of {input}: {})",
            self.damaged, first.first_offset, first.first_reason
        ))
    }

    /// The one-line hint, if an input looked like v1.
    pub fn v1_message(&self) -> Option<String> {
        let (it, looks) = match self.v1_inputs.len() {
            0 => return None,
            1 => ("it", "it looks"),
            _ => ("them", "they look"),
        };
        Some(format!(
            "no subunit v2 packets in {}; {looks} like subunit v1 text: convert {it} with \
             subunit-1to2",
            self.v1_inputs.join(", ")
        ))
    }

    /// Writes each report to stderr as `COMMAND: warning: ...`.
    pub fn report(&self, command: &str) {
        for message in [self.damage_message(), self.v1_message()]
            .into_iter()
            .flatten()
        {
            eprintln!("{command}: warning: {message}");
        }
    }
}

/// Parses a size of memory as options take it: a number of bytes with an
/// optional suffix K, M, G or T (powers of 1024; `KiB`, `MB`... mean the
/// same, in any case): `64M`, `1G`, `4096`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "'{text}' is not a size (a number, then K, M, G or T)"
            ));
        }
    };
    let number: usize = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (a number, then K, M, G or T)"))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// The man page section of every command that reports with [`ReadLog`] (which
/// names the inputs that look like v1).
pub const V1_INPUT_MAN: (&str, &str) = (
    "V1 INPUT",
    "An input that held no v2 packet at all, but whose chatter looks like the subunit \
     v1 text protocol (a line starting with test: or testing:, and a line starting \
     with an outcome: success:, successful:, failure:, error:, skip:, xfail: or \
     uxsuccess:), is named once on standard error with a warning to convert it with \
     subunit-1to2; otherwise a v1 stream would quietly hold no tests. Each input is \
     looked at on its own, and only until its first packet, in its first MiB of chatter. \
     Nothing else changes: the \
     output and the exit status are those of any input without packets. \
     python-subunit gives no such warning.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_in_the_chain() {
        let err = Error::Write(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&err));
        let err = Error::Read {
            input: "x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(!is_broken_pipe(&err));
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("3MB"), Ok(3 << 20));
        for bad in ["", "M", "1.5G", "-1", "12Q", "1 G"] {
            assert!(
                parse_size(bad).unwrap_err().contains("is not a size"),
                "{bad}"
            );
        }
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn v1_inputs_are_named_in_one_hint() {
        let mut log = ReadLog::default();
        log.add_named("a.subunit", None, false);
        assert_eq!(log.v1_message(), None);
        log.add_named("stdin", None, true);
        assert_eq!(
            log.v1_message().unwrap(),
            "no subunit v2 packets in stdin; it looks like subunit v1 text: convert it with \
             subunit-1to2"
        );
        log.add_named("old.v1", None, true);
        assert!(log.v1_message().unwrap().starts_with(
            "no subunit v2 packets in stdin, old.v1; they look like subunit v1 text: convert them"
        ));
    }
}
