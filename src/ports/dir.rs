//! The lease directory, held open: every file operation goes through its
//! descriptor and never follows a symbolic link.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::PortError;
use super::alloc::random_u64;
use super::lease::{Lease, LeaseFile, Process, netns_id};
use super::probe::port_is_free;
use crate::os::io_message;

/// The name of a lease file: `PORT`, or `PORT@NETNS` for the lease of
/// network namespace `NETNS` taken while `PORT` was another namespace's.
fn file_name(port: u16, netns: Option<u64>) -> String {
    match netns {
        None => port.to_string(),
        Some(netns) => format!("{port}@{netns}"),
    }
}

/// The port and namespace of a lease file's name, only as [`file_name`]
/// writes them ("22950", not "022950" or "+22950").
fn parse_name(name: &str) -> Option<(u16, Option<u64>)> {
    let (port, netns) = match name.split_once('@') {
        Some((port, netns)) => (port, Some(netns)),
        None => (name, None),
    };
    let port = port.parse::<u16>().ok()?;
    let netns = match netns {
        Some(n) => Some(n.parse::<u64>().ok()?),
        None => None,
    };
    (file_name(port, netns) == name).then_some((port, netns))
}

fn cstring(name: &str) -> CString {
    CString::new(name).expect("lease file names hold no NUL")
}

/// The lease directory, held open: every operation is relative to it.
#[derive(Debug)]
pub struct LeaseDir {
    path: PathBuf,
    fd: OwnedFd,
    /// The directory's owner.
    owner: u32,
}

/// An exclusive lock of the lease directory, released on drop: flock(2) of
/// the directory itself, held open. Not of a file in it: whoever may
/// remove or replace such a file (its owner, in a sticky directory) could
/// make two callers hold "the" lock at once, and a FIFO or a symbolic link
/// put there would block or redirect the open. Nobody but the directory's
/// owner (the caller or root, see [`LeaseDir::open`]) can replace the
/// directory itself.
pub struct Lock<'d> {
    dir: &'d LeaseDir,
    /// The file `.lock` that port-alloc 0.1.0 locked, locked too.
    _legacy: Option<File>,
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        // SAFETY: flock on a descriptor we own. (The legacy lock goes with
        // its file.)
        unsafe { libc::flock(self.dir.fd.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// How long to wait for the directory's lock. Whoever holds it keeps it for
/// a few reads, an unlink and a probe: longer means a stuck or hostile
/// holder, and waiting on would keep the caller (and its leases) hanging.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Why a lease directory owned by `uid` with `mode` is unsafe to use, if it
/// is: its owner (sticky bit or not) and, without the sticky bit, anyone who
/// may write to it can remove any lease in it, and the port is then handed
/// out again while its owner lives.
fn check_owner_and_mode(uid: u32, mode: u32) -> Result<(), String> {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if uid != me && uid != 0 {
        return Err(format!(
            "owned by user {uid}, neither you (user {me}) nor root: its owner could \
             remove your leases and hand their ports out again. Set PORT_ALLOC_DIR \
             to a directory of your own, or have root make the shared one, e.g. \
             with the systemd-tmpfiles line 'd /tmp/port-alloc 1777 root root -'"
        ));
    }
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(
            "is writable by others without the sticky bit: they could remove your \
             leases; refusing (chmod +t it)"
                .into(),
        );
    }
    Ok(())
}

/// Who holds a flock(2) of what `fd` is open on, as /proc/locks says: a
/// pid (in the pid namespace /proc belongs to) and its command line.
fn lock_holder(fd: BorrowedFd<'_>) -> Option<(u32, String)> {
    let file = File::from(fd.try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let ours = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; a waiter's line
    // has "->" after the number.
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [_, "FLOCK", _, _, pid, id, ..] if id == ours => {
                let pid: u32 = pid.parse().ok()?;
                let command = Process::find(pid).map(|p| p.command_line());
                Some((pid, command.unwrap_or_else(|| "ended".into())))
            }
            _ => None,
        }
    })
}

impl LeaseDir {
    /// Opens the lease directory, making it (sticky and writable by all, as
    /// /tmp is) if it does not exist. Refuses a symbolic link, something
    /// that is not a directory, a directory of another user but root, and a
    /// directory others may write to without the sticky bit: in each, someone
    /// else could remove the caller's leases. Checked on every run, on the
    /// directory held open, so whatever happens to the path afterwards.
    pub fn open(path: &Path) -> Result<LeaseDir, PortError> {
        let dir_error = |why: String| PortError::Dir {
            path: path.to_owned(),
            why,
        };
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| dir_error("the path holds a NUL byte".into()))?;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(dir_error("is a symbolic link: refusing to use it".into()));
        }
        // SAFETY: a valid C string; mkdir does not keep the pointer.
        let made = unsafe { libc::mkdir(c_path.as_ptr(), 0o1777) } == 0;
        if !made {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(dir_error(format!("cannot create it: {}", io_message(&err))));
            }
        }
        // SAFETY: as above; the result is checked and owned at once.
        let raw = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            let err = io::Error::last_os_error();
            let why = match err.raw_os_error() {
                Some(libc::ELOOP) => "is a symbolic link: refusing to use it".to_owned(),
                Some(libc::ENOTDIR) => "is not a directory".to_owned(),
                _ => format!("cannot open it: {}", io_message(&err)),
            };
            return Err(dir_error(why));
        }
        // SAFETY: `raw` is a descriptor we just opened and nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let file = File::from(fd.try_clone().map_err(|e| dir_error(e.to_string()))?);
        if made {
            // mkdir's mode went through the umask; make it /tmp-like.
            use std::os::unix::fs::PermissionsExt;
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o1777));
        }
        let meta = file.metadata().map_err(|e| dir_error(e.to_string()))?;
        check_owner_and_mode(meta.uid(), meta.mode()).map_err(dir_error)?;
        Ok(LeaseDir {
            path: path.to_owned(),
            fd,
            owner: meta.uid(),
        })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, doing: String) -> impl FnOnce(io::Error) -> PortError {
        move |source| PortError::Io { doing, source }
    }

    /// Opens `name` in the directory with `flags` (never following a
    /// symbolic link).
    fn open_at(&self, name: &str, flags: i32, mode: libc::c_uint) -> io::Result<File> {
        let c_name = cstring(name);
        // SAFETY: valid descriptor and C string; the result is checked and
        // owned at once.
        let raw = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c_name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor we just opened and nobody else owns.
        Ok(unsafe { File::from_raw_fd(raw) })
    }

    fn unlink_at(&self, name: &str) -> io::Result<()> {
        let c_name = cstring(name);
        // SAFETY: valid descriptor and C string.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c_name.as_ptr(), 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes the directory's lock, waiting up to [`LOCK_WAIT`] for it.
    /// While port-alloc 0.1.0 may still run on the machine, its lock file
    /// `.lock` is locked too, if it is a regular file of the directory's
    /// owner (opened without blocking or following a link): anything else
    /// named so is left alone.
    pub fn lock(&self) -> Result<Lock<'_>, PortError> {
        let deadline = Instant::now() + LOCK_WAIT;
        self.flock_within(self.fd.as_fd(), deadline)?;
        let mut lock = Lock {
            dir: self,
            _legacy: None,
        };
        let legacy = self
            .open_at(".lock", libc::O_RDONLY | libc::O_NONBLOCK, 0)
            .ok()
            .filter(|file| {
                file.metadata()
                    .is_ok_and(|m| m.is_file() && m.uid() == self.owner)
            });
        if let Some(file) = legacy {
            self.flock_within(file.as_fd(), deadline)?;
            lock._legacy = Some(file);
        }
        Ok(lock)
    }

    /// Locks `fd` (exclusively), trying until `deadline`.
    fn flock_within(&self, fd: BorrowedFd<'_>, deadline: Instant) -> Result<(), PortError> {
        loop {
            // SAFETY: flock on a descriptor borrowed open.
            if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if !matches!(err.raw_os_error(), Some(libc::EWOULDBLOCK | libc::EINTR)) {
                return Err(self
                    .io_error(format!("cannot lock {}", self.path.display()))(
                    err
                ));
            }
            if Instant::now() >= deadline {
                let holder = lock_holder(fd)
                    .map(|(pid, command)| format!(" by process {pid} ({command})"))
                    .unwrap_or_default();
                return Err(PortError::Dir {
                    path: self.path.clone(),
                    why: format!(
                        "its lock has been held for over {} seconds{holder}: if that \
                         process is stuck, end it",
                        LOCK_WAIT.as_secs()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Takes the lease of `lease.port` if nobody holds it: `Ok(false)` if
    /// the port's lease file exists.
    pub fn create(&self, lease: &Lease) -> Result<bool, PortError> {
        let name = file_name(lease.port, lease.by_netns.then_some(lease.netns).flatten());
        let temp = format!(
            ".tmp-{}-{}-{:x}",
            std::process::id(),
            lease.port,
            random_u64()
        );
        let doing = || format!("cannot write a lease in {}", self.path.display());
        let mut file = self
            .open_at(&temp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o644)
            .map_err(self.io_error(doing()))?;
        let written = file.write_all(lease.to_text().as_bytes());
        drop(file);
        if let Err(e) = written {
            let _ = self.unlink_at(&temp);
            return Err(self.io_error(doing())(e));
        }
        let (c_temp, c_name) = (cstring(&temp), cstring(&name));
        // SAFETY: valid descriptor and C strings; linkat fails if the name
        // exists (as anything, symbolic links included) and follows nothing.
        let linked = unsafe {
            libc::linkat(
                self.fd.as_raw_fd(),
                c_temp.as_ptr(),
                self.fd.as_raw_fd(),
                c_name.as_ptr(),
                0,
            )
        } == 0;
        let err = io::Error::last_os_error();
        let _ = self.unlink_at(&temp);
        if linked {
            Ok(true)
        } else if err.raw_os_error() == Some(libc::EEXIST) {
            Ok(false)
        } else {
            Err(self.io_error(doing())(err))
        }
    }

    /// The lease of `port` (its file `PORT`): `Ok(None)` if there is none,
    /// `Ok(Some(Err))` with a reason if the file there is not a lease.
    pub fn read(&self, port: u16) -> Result<Option<LeaseFile>, PortError> {
        self.read_at(port, None)
    }

    /// [`LeaseDir::read`] of the file `PORT@NETNS` with `Some(netns)`: the
    /// lease of `port` in network namespace `netns` taken while `PORT` was
    /// another namespace's.
    pub fn read_at(&self, port: u16, netns: Option<u64>) -> Result<Option<LeaseFile>, PortError> {
        let name = file_name(port, netns);
        let mut file = match self.open_at(&name, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Ok(Some(Err("a symbolic link".into())));
            }
            Err(e) => {
                return Ok(Some(Err(format!("unreadable: {}", io_message(&e)))));
            }
        };
        let owner = match file.metadata() {
            Ok(meta) if meta.is_file() => meta.uid(),
            _ => return Ok(Some(Err("not a regular file".into()))),
        };
        let mut text = String::new();
        if Read::by_ref(&mut file)
            .take(64 * 1024)
            .read_to_string(&mut text)
            .is_err()
        {
            return Ok(Some(Err("not text".into())));
        }
        Ok(Some(match Lease::parse(&text) {
            // The lease's user is whoever wrote the file, whatever it says:
            // that is whose leases `release` lets remove it, and whose
            // processes it may follow for ever (Lease::forged).
            Some(lease) if netns.is_some() && lease.netns != netns => {
                Err("a lease of another network namespace".into())
            }
            Some(lease) if lease.port == port => Ok(Lease {
                uid: owner,
                by_netns: netns.is_some(),
                ..lease
            }),
            Some(_) => Err("a lease of another port".into()),
            None => Err("not a lease".into()),
        }))
    }

    /// Removes the lease of `expected.port` if it is still `expected`,
    /// under `lock` (of this directory); returns whether it did. With
    /// `only_unbound`, also only if the port is not bound (reclaiming a
    /// stale lease).
    pub fn remove_if(
        &self,
        lock: &Lock<'_>,
        expected: &Lease,
        only_unbound: bool,
    ) -> Result<bool, PortError> {
        debug_assert!(
            std::ptr::eq(lock.dir, self),
            "the lock of another directory"
        );
        let slot = expected.by_netns.then_some(expected.netns).flatten();
        match self.read_at(expected.port, slot)? {
            Some(Ok(lease)) if lease == *expected => {}
            _ => return Ok(false),
        }
        // Whether the port is bound can be seen only in its own namespace.
        if only_unbound && expected.blocks(netns_id()) && !port_is_free(expected.port, false) {
            return Ok(false);
        }
        self.unlink_at(&file_name(expected.port, slot))
            .map_err(self.io_error(format!("cannot remove the lease of port {}", expected.port)))?;
        Ok(true)
    }

    /// Every file in the directory named like a port, with its lease.
    pub fn leases(&self) -> Result<Vec<(u16, LeaseFile)>, PortError> {
        // The directory we hold open, not whatever its path names now.
        let held = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let entries = std::fs::read_dir(&held)
            .map_err(self.io_error(format!("cannot list {}", self.path.display())))?;
        let mut leases = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some((port, netns)) = name.to_str().and_then(parse_name) else {
                continue;
            };
            if let Some(lease) = self.read_at(port, netns)? {
                leases.push((port, lease));
            }
        }
        leases.sort_by_key(|(port, lease)| (*port, lease.as_ref().ok().map(|l| l.by_netns)));
        Ok(leases)
    }

    /// Removes temporary files left by callers killed while writing a lease
    /// (`.tmp-PID-...`): at once if process PID has ended, after a minute
    /// otherwise (the pid may have been given to another process). A
    /// writer keeps its file for microseconds; one that finds it gone
    /// fails, and takes no port.
    pub fn remove_leftovers(&self) {
        let held = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let Ok(entries) = std::fs::read_dir(held) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(".tmp-") else {
                continue;
            };
            let writer_ended = rest
                .split('-')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| Process::find(pid).is_none());
            let old = || {
                entry
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(60))
            };
            if writer_ended || old() {
                let _ = self.unlink_at(name);
            }
        }
    }
}
