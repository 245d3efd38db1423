//! What the operating system reports, in words people read: I/O errors
//! without Rust's errno suffix, signal names, a child's exit status as a
//! shell gives it.
//!
//! Layer: the bottom one; uses nothing else of the crate.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

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
