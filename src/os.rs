//! What the operating system reports, in words people read: I/O errors
//! without Rust's errno suffix, signal names, a child's exit status as a
//! shell gives it, text cut short for a message; and the processes below
//! this one, to stop what a child leaves running.
//!
//! Layer: the bottom one; uses nothing else of the crate.

use std::borrow::Cow;
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

/// `text` cut to at most `max` bytes at a character boundary and ended
/// with `…` when cut, so that it stays valid UTF-8 and shows it was cut:
/// for a test id too long for a packet, or one too long to show whole in
/// a message.
pub fn shortened(text: &str, max: usize) -> Cow<'_, str> {
    const ELLIPSIS: &str = "…";
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}", &text[..end]))
}

/// Asks the kernel to back the 2 MiB-aligned part of `table` with huge
/// pages where it can (transparent huge pages in "madvise" mode): for a
/// table of megabytes read at random, whose every lookup would otherwise
/// miss the TLB as well as the cache. Best done before the table is first
/// written; a refusal (no THP) changes nothing but speed.
pub fn advise_huge_pages<T>(table: &mut [T]) {
    const HUGE: usize = 2 << 20;
    let start = table.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(table);
    let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if from < to {
        // SAFETY: the range lies within `table`'s own memory, and
        // MADV_HUGEPAGE changes only how it is backed, never its contents.
        unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
    }
}

/// The decimal digits of `number`, written into `buf`, as `{number}`
/// formats it: without allocating or the formatting machinery, so that a
/// child may use it between fork and exec (and a hot loop cheaply).
pub fn decimal(number: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = number;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    &buf[at..]
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

/// Whether `fd` is a pipe whose every reader has gone (so a write would
/// fail with EPIPE), as poll tells without writing.
pub fn output_closed(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and the count says one; no waiting.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready == 1 && pfd.revents & libc::POLLERR != 0
}

/// Makes this process the reaper of its orphaned descendants
/// (`PR_SET_CHILD_SUBREAPER`): a process whose parent ends, below this
/// one, becomes this one's child instead of init's, so that
/// [`signal_descendants`] still finds it.
pub fn adopt_orphans() -> io::Result<()> {
    // SAFETY: prctl with an integer option and argument only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reaps the children of this process that have ended, but `keep` (a
/// child that is reaped elsewhere): the orphans adopted with
/// [`adopt_orphans`], which would otherwise stay zombies while we run.
pub fn reap_adopted(keep: u32) {
    loop {
        // SAFETY: `info` is written by the call; WNOWAIT only looks.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        if unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) } != 0 {
            return;
        }
        // SAFETY: si_pid is set by waitid (0 when no child has ended).
        let pid = unsafe { info.si_pid() };
        if pid <= 0 || pid as u32 == keep {
            // Nothing ended, or only the one kept (which waitid may name
            // again and again until it is reaped).
            return;
        }
        // SAFETY: reaps the child just found ended, one that is ours.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    }
}

/// A process as /proc/PID/stat says: its parent and when it started (the
/// pid and the start time name one process, even once the pid is reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    started: u64,
    running: bool,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses (which may hold anything):
    // state, ppid, then the start time as the 20th field.
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
        running: !matches!(fields.first(), Some(&("Z" | "X"))),
    })
}

/// Sends `signal` to every running process below this one (children,
/// theirs, and orphans adopted by [`adopt_orphans`]), except those in
/// `except` (children signalled otherwise); returns how many. Processes
/// started while it looks are looked for again, a few times. A pid is
/// signalled only while it still names the process that was found (a
/// pidfd checked against its start time), so never one that reused it.
pub fn signal_descendants(signal: i32, except: &[u32]) -> usize {
    let mut done: Vec<u32> = except.to_vec();
    let mut sent = 0;
    for _ in 0..3 {
        let found: Vec<(u32, Stat)> = descendants()
            .into_iter()
            .filter(|(pid, stat)| stat.running && !done.contains(pid))
            .collect();
        if found.is_empty() {
            break;
        }
        for (pid, stat) in found {
            done.push(pid);
            if signal_if_same(pid, stat, signal) {
                sent += 1;
            }
        }
    }
    sent
}

/// The processes below this one, as /proc says now.
fn descendants() -> Vec<(u32, Stat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<(u32, Stat)> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect();
    let mut below = vec![std::process::id()];
    let mut found = Vec::new();
    // Parents come before their children in no particular order: go on
    // while a round finds more.
    loop {
        let more: Vec<(u32, Stat)> = all
            .iter()
            .filter(|(pid, stat)| below.contains(&stat.ppid) && !below.contains(pid))
            .copied()
            .collect();
        if more.is_empty() {
            return found;
        }
        below.extend(more.iter().map(|(pid, _)| *pid));
        found.extend(more);
    }
}

/// Sends `signal` to `pid` if it is still the process `stat` describes.
fn signal_if_same(pid: u32, found: Stat, signal: i32) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a descriptor
    // that we own and close below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0 as libc::c_long) };
    if fd < 0 {
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            // A kernel before 5.3: the pid, as found a moment ago.
            // SAFETY: kill with a pid and a signal number.
            return unsafe { libc::kill(pid as libc::pid_t, signal) } == 0;
        }
        return false;
    }
    // SAFETY: `fd` is the pidfd just opened, ours alone.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    // The pidfd names whatever process had the pid when it was opened:
    // the one found if it started at the same time.
    if stat(pid).map(|now| now.started) != Some(found.started) {
        return false;
    }
    // SAFETY: a pidfd of ours, a signal number, no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd() as libc::c_long,
            signal as libc::c_long,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_long,
        ) == 0
    }
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
    fn a_descendant_is_found_and_signalled_while_it_is_the_one_found() {
        use std::os::unix::process::ExitStatusExt;
        // Other tests of this binary have children too: only this one is
        // signalled here (signal_descendants is tried by subunit-wrap's).
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let (_, found) = descendants()
            .into_iter()
            .find(|(pid, _)| *pid == child.id())
            .expect("a child is below us");
        assert!(found.running);
        assert_eq!(found.ppid, std::process::id());
        let other = Stat {
            started: found.started + 1,
            ..found
        };
        assert!(
            !signal_if_same(child.id(), other, libc::SIGTERM),
            "not the one found"
        );
        assert!(signal_if_same(child.id(), found, libc::SIGTERM));
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn a_pipe_without_readers_is_closed_output() {
        use std::os::fd::{AsFd, FromRawFd, OwnedFd};
        let mut fds = [0; 2];
        // SAFETY: pipe writes two new descriptors, owned from here on.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        assert!(!output_closed(writer.as_fd()));
        drop(reader);
        assert!(output_closed(writer.as_fd()));
        let file = std::fs::File::open(file!()).unwrap();
        assert!(!output_closed(file.as_fd()));
    }

    #[test]
    fn shortened_text_stays_utf8_and_within_the_limit() {
        assert_eq!(shortened("short", 10), "short");
        assert_eq!(shortened("abcdefghij", 10), "abcdefghij");
        assert_eq!(shortened("abcdefghijk", 10), "abcdefg…");
        // Not inside the two bytes of é.
        assert_eq!(shortened("abcdeéfghijk", 10), "abcdeé…");
        let cut = shortened("abcdeféghijk", 10);
        assert_eq!(cut, "abcdef…");
        assert!(cut.len() <= 10);
    }

    #[test]
    fn decimal_digits_are_those_format_writes() {
        let mut buf = [0u8; 20];
        for n in [0, 7, 10, 4_194_304, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
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
