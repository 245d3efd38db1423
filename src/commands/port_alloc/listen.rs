//! `--listen`: the command gets port-alloc's bound sockets as file
//! descriptors 3, 4, ... with systemd's socket-activation environment
//! (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`; see sd_listen_fds(3)).
//!
//! `LISTEN_PID` must be the command's own pid, which exists only once the
//! child is forked, so the environment cannot be made in the parent as
//! std's `Command` makes it. Setting it in the child with `setenv` is not
//! safe: the child of a process with threads may call only
//! async-signal-safe functions between fork and exec, and `setenv`
//! allocates and takes the environment's lock (a thread of the parent
//! may have held it at the fork, and would never release it in the
//! child). So everything is built in the parent: the argument vector and
//! the whole environment, with a `LISTEN_PID=` entry of fixed size whose
//! digits the child writes in place (plain stores into memory that is its
//! own after the fork). The child then only calls getpid, dup2 and
//! execvpe, and starts the command itself (see [`Activation::exec`]).

use std::ffi::{CString, OsStr, OsString, c_char};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use std::process::{Child, Command};

use socket2::Socket;

use crate::signals::Children;

/// The first file descriptor passed (systemd's `SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// The variables of the protocol, set by port-alloc whatever it inherited.
const PROTOCOL: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// `LISTEN_PID=` and room for any pid's digits and the NUL.
const PID_ENTRY: &[u8] = b"LISTEN_PID=";
const PID_DIGITS: usize = 20;

/// The sockets to pass, numbered out of the way of where they go.
pub struct Passed {
    /// Copies of the sockets, close-on-exec, each numbered at or above
    /// `FIRST_FD + count`: moving one to its place (dup2) then never
    /// closes another that is still to move.
    fds: Vec<OwnedFd>,
    /// Descriptors held open, close-on-exec, while the command is
    /// started, so that every descriptor below `FIRST_FD + count` is in
    /// use: then std's own pipe (through which the child reports a failed
    /// exec, and whose closing at exec tells the parent it succeeded) is
    /// opened above them, and the child's dup2 never closes it.
    _placeholders: Vec<OwnedFd>,
}

impl Passed {
    /// Takes the sockets (they are closed here once renumbered: port-alloc
    /// keeps no copy that would hold the ports after the command ends).
    pub fn new(sockets: Vec<Socket>) -> io::Result<Passed> {
        let count =
            RawFd::try_from(sockets.len()).map_err(|_| io::Error::other("too many sockets"))?;
        let above = FIRST_FD + count;
        let mut fds = Vec::with_capacity(sockets.len());
        for socket in &sockets {
            fds.push(dup_from(socket.as_raw_fd(), above)?);
        }
        drop(sockets);
        let mut placeholders = Vec::new();
        loop {
            let lowest = dup_from(fds.first().map_or(0, AsRawFd::as_raw_fd), FIRST_FD)?;
            if lowest.as_raw_fd() >= above {
                break; // closed: every one below is in use
            }
            placeholders.push(lowest);
        }
        Ok(Passed {
            fds,
            _placeholders: placeholders,
        })
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.fds.len()
    }
}

/// A close-on-exec copy of `fd` numbered `from` or above.
fn dup_from(fd: RawFd, from: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor we hold; the new one is ours alone.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, from) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just made, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// What the child needs to start the command, all made in the parent.
pub struct Activation {
    /// Keep the C strings the pointers below point into alive.
    _strings: Vec<CString>,
    /// `argv`, NULL-terminated.
    argv: Vec<*const c_char>,
    /// `envp`, NULL-terminated; one entry is `pid_entry`.
    envp: Vec<*const c_char>,
    /// The `LISTEN_PID=` entry: [`PID_ENTRY`], then room for the digits
    /// and a NUL (owned here, freed on drop).
    pid_entry: *mut [u8; PID_ENTRY.len() + PID_DIGITS + 1],
    /// The sockets' descriptors, to move to 3, 4, ...
    fds: Vec<RawFd>,
}

// SAFETY: the pointers point into memory the value owns (`_strings` and
// `pid_entry`), which nothing changes after `new` but the child's
// `exec`, in its own copy of the memory, in its only thread.
unsafe impl Send for Activation {}
// SAFETY: as for Send: shared references never write through the pointers.
unsafe impl Sync for Activation {}

impl Drop for Activation {
    fn drop(&mut self) {
        // SAFETY: made by Box::into_raw in `new`, freed only here.
        drop(unsafe { Box::from_raw(self.pid_entry) });
    }
}

impl Activation {
    /// The command, with the environment of this process but for `set`
    /// (replaced or added) and the protocol's variables for `passed`
    /// named `names` (one a socket, no `:` in them).
    pub fn new(
        command: &[OsString],
        set: &[(String, String)],
        passed: &Passed,
        names: &[String],
    ) -> io::Result<Activation> {
        let c_string = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an argument or variable holds a NUL byte",
                )
            })
        };
        let mut strings = Vec::new();
        for arg in command {
            strings.push(c_string(arg.as_bytes())?);
        }
        let argc = strings.len();
        let ours = |name: &OsStr| {
            PROTOCOL.iter().any(|p| name == OsStr::new(p))
                || set.iter().any(|(n, _)| name == OsStr::new(n))
        };
        let entry = |name: &OsStr, value: &OsStr| {
            let mut bytes = name.as_bytes().to_vec();
            bytes.push(b'=');
            bytes.extend_from_slice(value.as_bytes());
            bytes
        };
        for (name, value) in std::env::vars_os().filter(|(name, _)| !ours(name)) {
            strings.push(c_string(&entry(&name, &value))?);
        }
        let protocol = [
            ("LISTEN_FDS".to_owned(), passed.len().to_string()),
            ("LISTEN_FDNAMES".to_owned(), names.join(":")),
        ];
        for (name, value) in set.iter().chain(&protocol) {
            strings.push(c_string(&entry(name.as_ref(), value.as_ref()))?);
        }
        let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut pid_entry = [0u8; PID_ENTRY.len() + PID_DIGITS + 1];
        pid_entry[..PID_ENTRY.len()].copy_from_slice(PID_ENTRY);
        let pid_entry = Box::into_raw(Box::new(pid_entry));
        let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
        envp.push(pid_entry.cast::<c_char>().cast_const());
        envp.push(std::ptr::null());
        Ok(Activation {
            _strings: strings,
            argv,
            envp,
            pid_entry,
            fds: passed.fds.iter().map(AsRawFd::as_raw_fd).collect(),
        })
    }

    /// In the child, between fork and exec: writes the child's pid into
    /// `LISTEN_PID`, moves the sockets to 3, 4, ... (dup2 leaves the new
    /// descriptors open across exec; the originals are close-on-exec, and
    /// so is everything else port-alloc holds), and starts the command.
    /// Returns only if the command cannot be started, with why.
    ///
    /// Only async-signal-safe calls (getpid, dup2) and plain stores into
    /// memory made before the fork; then execvpe, which POSIX does not
    /// list as async-signal-safe but which glibc and musl implement
    /// without allocating or locking, and which std's own child calls
    /// in the same place (execvp).
    pub fn exec(&mut self) -> io::Result<()> {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        let mut buf = [0u8; PID_DIGITS];
        let digits = crate::os::decimal(u64::from(pid), &mut buf);
        // SAFETY: the entry is ours (see Drop), and nothing else reads or
        // writes it in this, the child's only thread, until execvpe.
        let entry = unsafe { &mut *self.pid_entry };
        let start = PID_ENTRY.len();
        entry[start..start + digits.len()].copy_from_slice(digits);
        entry[start + digits.len()] = 0;
        for (to, &fd) in (FIRST_FD..).zip(&self.fds) {
            // SAFETY: fd is open (a Passed held by the parent through the
            // spawn), `to` is below every one of them (see Passed).
            if unsafe { libc::dup2(fd, to) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: NULL-terminated arrays of NUL-terminated strings that
        // live as long as self.
        unsafe { libc::execvpe(self.argv[0], self.argv.as_ptr(), self.envp.as_ptr()) };
        Err(io::Error::last_os_error())
    }
}

/// The names in `LISTEN_FDNAMES` of the sockets of `ports` on
/// `addresses` addresses, in the order [`crate::ports::bind_sockets`]
/// makes them: `PORT0`, `PORT1`, ... like the variables that hold the
/// ports, the sockets of one port on two addresses sharing its name (as
/// the sockets of one systemd socket unit share the unit's name).
pub fn names(ports: usize, addresses: usize) -> Vec<String> {
    (0..addresses)
        .flat_map(|_| (0..ports).map(|i| format!("PORT{i}")))
        .collect()
}

/// Starts `command` (made into `cmd`, with its process group and such set)
/// on the list of `children`, with `env` set and the `sockets` of `ports`
/// ports (on one address or more) passed as [`Activation`] says. Our
/// copies of the sockets are closed once it has started (or failed to).
pub fn spawn(
    children: &Children,
    cmd: &mut Command,
    command: &[OsString],
    env: &[(String, String)],
    sockets: Vec<Socket>,
    ports: usize,
) -> io::Result<Child> {
    let addresses = sockets.len() / ports.max(1);
    let passed = Passed::new(sockets)?;
    let mut activation = Activation::new(command, env, &passed, &names(ports, addresses))?;
    // SAFETY: Activation::exec makes only the calls its documentation
    // lists, async-signal-safe ones and execvpe.
    let child = unsafe { children.spawn_exec(cmd, move || activation.exec()) };
    drop(passed);
    child
}
