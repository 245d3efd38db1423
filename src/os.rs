//! What the operating system reports, in words people read: I/O errors
//! without Rust's errno suffix, signal names, a child's exit status as a
//! shell gives it.
//!
//! Layer: the bottom one; uses nothing else of the crate.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

/// Whether `fd` is recorded, a regular file (or a block device), as
/// opposed to live: a pipe, FIFO, socket or terminal, whose bytes come as
/// they are written and whose reads may wait.
pub fn is_recorded(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: fstat writes only `stat`, for a descriptor borrowed open.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
        return false;
    }
    matches!(stat.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFBLK)
}

/// A new file in `dir` that no name refers to, read-write for its owner
/// only: its space is given back when it is closed, however the process
/// ends. `O_TMPFILE` where the file system has it, else a fresh name
/// removed at once.
pub fn unlinked_temp_file(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.read(true).write(true).mode(0o600);
    // On an error (EISDIR, EOPNOTSUPP: no O_TMPFILE here) a name is made;
    // a missing or unwritable directory fails the same way there.
    if let Ok(file) = options.clone().custom_flags(libc::O_TMPFILE).open(dir) {
        return Ok(file);
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!(".subunit-tools-{}-{n}.tmp", std::process::id()));
        match options.clone().create_new(true).open(&path) {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// An I/O error's message without Rust's " (os error N)" suffix.
pub fn io_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// The status to exit with after a child ended with `status`: its own, or
/// 128+N for signal N, as shells do.
pub fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        (None, None) => 1,
    }
}

/// The name of signal `signal` on Linux (`SIGKILL`), or `signal N`.
pub fn signal_name(signal: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signal - 1)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("signal {signal}"), |name| (*name).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_recorded_and_pipes_live() {
        use std::os::fd::AsFd;
        let file = std::fs::File::open(file!()).unwrap();
        assert!(is_recorded(file.as_fd()));
        let (socket, _other) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!is_recorded(socket.as_fd()));
    }

    #[test]
    fn temp_files_have_no_name() {
        use std::io::{Read, Seek, Write};
        let dir = std::env::temp_dir().join(format!("os-temp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut file = unlinked_temp_file(&dir).unwrap();
        file.write_all(b"held").unwrap();
        file.rewind().unwrap();
        let mut back = String::new();
        file.read_to_string(&mut back).unwrap();
        assert_eq!(back, "held");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no name left");
        std::fs::remove_dir(&dir).unwrap();
        assert!(unlinked_temp_file(&dir).is_err(), "no directory");
    }

    #[test]
    fn io_messages_lose_the_errno_suffix() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_message(&err), "No such file or directory");
    }

    #[test]
    fn signals_are_named_like_libc_names_them() {
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGSYS), "SIGSYS");
        assert_eq!(signal_name(40), "signal 40");
    }
}
