//! Free TCP ports for test harnesses, leased without a daemon.
//!
//! A lease is a file named after its port in a machine-wide directory. It
//! is made complete in a private temporary file and then linked into place:
//! `linkat` fails if the name exists, so at most one caller ever holds a
//! port's lease, and readers never see half a lease. A caller takes the
//! lease *before* probing the port, so cooperating callers never even probe
//! each other's ports. Every operation goes through a descriptor of the
//! directory (`openat`, `linkat`, `unlinkat`) and opens nothing that is a
//! symbolic link, so other users' symlinks cannot redirect it.
//!
//! A lease lives while its owner process lives (checked by pid *and* the
//! process's start time and the boot, so a reused pid does not keep it
//! alive) and at most until its expiry, but never less than its grace
//! period. Removing a lease, one's own or a stale one, happens under an
//! exclusive lock of the directory after reading it again, so a reclaimer
//! never removes a lease that was just taken.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};

/// The machine-wide lease directory when `PORT_ALLOC_DIR` is not set.
pub const DEFAULT_DIR: &str = "/tmp/port-alloc";

/// Ports browsers refuse to connect to (the Fetch standard's "bad ports").
pub const BROWSER_BAD_PORTS: [u16; 81] = [
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6697, 10080,
];

/// A set of ports.
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet(Box<[u64; 1024]>);

impl Default for PortSet {
    fn default() -> Self {
        PortSet(Box::new([0; 1024]))
    }
}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortSet({} ports)", self.len())
    }
}

impl PortSet {
    /// The ports `lo..=hi`.
    pub fn range(lo: u16, hi: u16) -> PortSet {
        let mut set = PortSet::default();
        for port in lo..=hi {
            set.insert(port);
        }
        set
    }

    /// Adds a port.
    pub fn insert(&mut self, port: u16) {
        self.0[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// Takes the ports of `other` out.
    pub fn remove_all(&mut self, other: &PortSet) {
        for (word, other) in self.0.iter_mut().zip(other.0.iter()) {
            *word &= !other;
        }
    }

    /// How many ports.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ports, in order.
    pub fn ports(&self) -> Vec<u16> {
        (0..=u16::MAX).filter(|&p| self.contains(p)).collect()
    }

    /// Parses `lo-hi,port,...` (commas or whitespace between items, `#`
    /// comments to the end of a line).
    pub fn parse(text: &str) -> Result<PortSet, String> {
        let mut set = PortSet::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            for item in line.split(|c: char| c == ',' || c.is_whitespace()) {
                if item.is_empty() {
                    continue;
                }
                let port = |s: &str| -> Result<u16, String> {
                    s.trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p > 0)
                        .ok_or_else(|| format!("'{s}' is not a port (1-65535)"))
                };
                match item.split_once('-') {
                    Some((lo, hi)) => {
                        let (lo, hi) = (port(lo)?, port(hi)?);
                        if lo > hi {
                            return Err(format!("'{item}' is an empty range"));
                        }
                        for p in lo..=hi {
                            set.insert(p);
                        }
                    }
                    None => set.insert(port(item)?),
                }
            }
        }
        Ok(set)
    }
}

/// The kernel's ephemeral range (`ip_local_port_range`), if readable.
pub fn ephemeral_ports() -> Option<PortSet> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u16>());
    match (parts.next(), parts.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some(PortSet::range(lo, hi)),
        _ => None,
    }
}

/// Ports the kernel keeps out of automatic assignment
/// (`ip_local_reserved_ports`), if readable.
pub fn kernel_reserved_ports() -> PortSet {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports")
        .ok()
        .and_then(|text| PortSet::parse(&text).ok())
        .unwrap_or_default()
}

/// The ports never handed out, whatever the pool: the kernel's reserved
/// ports, the browsers' bad ports and `exclude`.
pub fn never(exclude: &PortSet) -> PortSet {
    let mut never = kernel_reserved_ports();
    for port in BROWSER_BAD_PORTS {
        never.insert(port);
    }
    for port in exclude.ports() {
        never.insert(port);
    }
    never
}

/// The default pool: 1024-65535 without the ephemeral range.
pub fn default_pool() -> PortSet {
    let mut pool = PortSet::range(1024, 65535);
    if let Some(ephemeral) = ephemeral_ports() {
        pool.remove_all(&ephemeral);
    }
    pool
}

/// Whether `port` is free: nothing is bound to it on 0.0.0.0, ::, 127.0.0.1
/// or ::1 (TCP, and UDP too with `udp`). Binding without SO_REUSEADDR, as a
/// server would; a family the machine lacks is skipped.
pub fn port_is_free(port: u16, udp: bool) -> bool {
    let addresses = [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    let kinds: &[(Type, Protocol)] = if udp {
        &[(Type::STREAM, Protocol::TCP), (Type::DGRAM, Protocol::UDP)]
    } else {
        &[(Type::STREAM, Protocol::TCP)]
    };
    for &(kind, protocol) in kinds {
        for address in addresses {
            let socket = match Socket::new(Domain::for_address(address), kind, Some(protocol)) {
                Ok(socket) => socket,
                Err(_) => continue, // no such family here
            };
            if address.is_ipv6() && socket.set_only_v6(true).is_err() {
                continue;
            }
            match socket.bind(&address.into()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {} // no ::1 here
                Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
                Err(_) => return false,
            }
        }
    }
    true
}

/// A process as a lease names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    /// Its pid.
    pub pid: u32,
    /// Its start time, in clock ticks after boot (`/proc/PID/stat`).
    pub start: u64,
}

impl Process {
    /// The running process `pid`, if there is one.
    pub fn find(pid: u32) -> Option<Process> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields follow
        // the last ')'. starttime is field 22, the 20th after it.
        let after = &stat[stat.rfind(')')? + 1..];
        let start = after.split_whitespace().nth(19)?.parse().ok()?;
        Some(Process { pid, start })
    }

    /// Whether this very process is still running (a zombie has ended).
    pub fn is_alive(&self) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        let zombie = stat
            .rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X");
        !zombie && Process::find(self.pid) == Some(*self)
    }

    /// Its command line, words separated by spaces.
    pub fn command_line(&self) -> String {
        let raw = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        let words: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        words.join(" ")
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A lease of one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The port.
    pub port: u16,
    /// The owner, whose life the lease follows.
    pub owner: Process,
    /// The boot the owner belongs to.
    pub boot: String,
    /// The user who took it.
    pub uid: u32,
    /// When it was taken (seconds since the epoch).
    pub taken: u64,
    /// Until when it holds whatever the owner does.
    pub grace_until: u64,
    /// When it ends even if the owner lives (`None`: never).
    pub expires: Option<u64>,
    /// The owner's command line, for people reading `list`.
    pub command: String,
}

const MAGIC: &str = "port-alloc lease 1";

impl Lease {
    /// The lease's file content.
    pub fn to_text(&self) -> String {
        let expires = self
            .expires
            .map_or_else(|| "never".to_owned(), |e| e.to_string());
        let command: String = self
            .command
            .chars()
            .map(|c| if c == '\n' { ' ' } else { c })
            .collect();
        format!(
            "{MAGIC}\nport={}\npid={}\nstart={}\nboot={}\nuid={}\ntaken={}\ngrace_until={}\nexpires={expires}\ncommand={command}\n",
            self.port,
            self.owner.pid,
            self.owner.start,
            self.boot,
            self.uid,
            self.taken,
            self.grace_until
        )
    }

    /// Parses a lease file; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Lease> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut field = std::collections::HashMap::new();
        for line in lines {
            let (k, v) = line.split_once('=')?;
            field.insert(k, v);
        }
        let num = |k: &str| field.get(k)?.parse::<u64>().ok();
        Some(Lease {
            port: field.get("port")?.parse().ok()?,
            owner: Process {
                pid: field.get("pid")?.parse().ok()?,
                start: num("start")?,
            },
            boot: (*field.get("boot")?).to_owned(),
            uid: field.get("uid")?.parse().ok()?,
            taken: num("taken")?,
            grace_until: num("grace_until")?,
            expires: match *field.get("expires")? {
                "never" => None,
                e => Some(e.parse().ok()?),
            },
            command: (*field.get("command")?).to_owned(),
        })
    }

    /// Whether the lease still holds at `now`: within its grace period, or
    /// its owner (of this boot) alive and the lease not expired.
    pub fn is_live(&self, now: u64, boot: &str) -> bool {
        if now < self.grace_until {
            return true;
        }
        let expired = self.expires.is_some_and(|e| now >= e);
        !expired && self.boot == boot && self.owner.is_alive()
    }
}

/// What a port's file in the lease directory holds: a lease, or why it is
/// not one.
pub type LeaseFile = Result<Lease, String>;

/// Why port-alloc cannot go on.
#[derive(Debug)]
pub enum PortError {
    /// The lease directory is unusable.
    Dir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A file operation in the lease directory failed.
    Io {
        /// What was being done.
        doing: String,
        /// The error.
        source: io::Error,
    },
    /// Fewer ports are free than asked for; nothing was reserved.
    NotEnough {
        /// Asked for.
        wanted: usize,
        /// How many were free.
        found: usize,
        /// The pool's size.
        pool: usize,
        /// Adjacent ports were asked for.
        consecutive: bool,
    },
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::Dir { path, why } => write!(f, "lease directory {}: {why}", path.display()),
            PortError::Io { doing, source } => {
                write!(f, "{doing}: {}", crate::cli::io_message(source))
            }
            PortError::NotEnough {
                wanted,
                found,
                pool,
                consecutive,
            } => {
                let what = if *consecutive { " adjacent" } else { "" };
                write!(
                    f,
                    "not enough free ports: wanted {wanted}{what}, found {found} in a pool of {pool}; nothing reserved"
                )
            }
        }
    }
}

impl std::error::Error for PortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PortError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn cstring(name: &str) -> CString {
    CString::new(name).expect("lease file names hold no NUL")
}

/// The lease directory, held open: every operation is relative to it.
#[derive(Debug)]
pub struct LeaseDir {
    path: PathBuf,
    fd: OwnedFd,
}

/// An exclusive lock of the lease directory, released on drop.
pub struct Lock(File);

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

impl LeaseDir {
    /// Opens the lease directory, making it (sticky and writable by all, as
    /// /tmp is) if it does not exist. Refuses a symbolic link, something
    /// that is not a directory, and a directory others may write to without
    /// the sticky bit (they could remove anyone's leases).
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
                return Err(dir_error(format!(
                    "cannot create it: {}",
                    crate::cli::io_message(&err)
                )));
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
                _ => format!("cannot open it: {}", crate::cli::io_message(&err)),
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
        if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(dir_error(
                "is writable by others without the sticky bit: refusing (chmod +t it)".into(),
            ));
        }
        Ok(LeaseDir {
            path: path.to_owned(),
            fd,
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

    /// Takes the directory's lock, waiting up to a few seconds for it.
    pub fn lock(&self) -> Result<Lock, PortError> {
        let file = self
            .open_at(".lock", libc::O_RDONLY | libc::O_CREAT, 0o644)
            .map_err(self.io_error(format!("cannot open {}/.lock", self.path.display())))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Lock(file));
            }
            if Instant::now() >= deadline {
                return Err(PortError::Dir {
                    path: self.path.clone(),
                    why: "its lock has been held for over 5 seconds".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Takes the lease of `lease.port` if nobody holds it: `Ok(false)` if
    /// the port's lease file exists.
    pub fn create(&self, lease: &Lease) -> Result<bool, PortError> {
        let name = lease.port.to_string();
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

    /// The lease of `port`: `Ok(None)` if there is none, `Ok(Some(Err))`
    /// with a reason if the file there is not a lease.
    pub fn read(&self, port: u16) -> Result<Option<LeaseFile>, PortError> {
        let name = port.to_string();
        let mut file = match self.open_at(&name, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Ok(Some(Err("a symbolic link".into())));
            }
            Err(e) => {
                return Ok(Some(Err(format!(
                    "unreadable: {}",
                    crate::cli::io_message(&e)
                ))));
            }
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => {}
            _ => return Ok(Some(Err("not a regular file".into()))),
        }
        let mut text = String::new();
        if Read::by_ref(&mut file)
            .take(64 * 1024)
            .read_to_string(&mut text)
            .is_err()
        {
            return Ok(Some(Err("not text".into())));
        }
        Ok(Some(match Lease::parse(&text) {
            Some(lease) if lease.port == port => Ok(lease),
            Some(_) => Err("a lease of another port".into()),
            None => Err("not a lease".into()),
        }))
    }

    /// Removes the lease of `port` if it is still `expected`, under the
    /// directory's lock; returns whether it did. With `only_unbound`, also
    /// only if the port is not bound (reclaiming a stale lease).
    pub fn remove_if(&self, expected: &Lease, only_unbound: bool) -> Result<bool, PortError> {
        let _lock = self.lock()?;
        match self.read(expected.port)? {
            Some(Ok(lease)) if lease == *expected => {}
            _ => return Ok(false),
        }
        if only_unbound && !port_is_free(expected.port, false) {
            return Ok(false);
        }
        self.unlink_at(&expected.port.to_string())
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
            // Only a port's own name ("22950", not "022950" or "+22950").
            let Some(port) = name
                .to_str()
                .and_then(|n| n.parse::<u16>().ok().filter(|p| p.to_string() == n))
            else {
                continue;
            };
            if let Some(lease) = self.read(port)? {
                leases.push((port, lease));
            }
        }
        leases.sort_by_key(|(port, _)| *port);
        Ok(leases)
    }

    /// Removes temporary files left by callers that died while writing a
    /// lease (older than a minute).
    pub fn remove_leftovers(&self) {
        let held = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let Ok(entries) = std::fs::read_dir(held) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| n.starts_with(".tmp-")) else {
                continue;
            };
            let old = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(60));
            if old {
                let _ = self.unlink_at(name);
            }
        }
    }
}

/// A random number from the kernel (for temporary names and picking ports).
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: writes at most 8 bytes into `bytes`.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n == 8 {
        u64::from_ne_bytes(bytes)
    } else {
        u64::from(std::process::id()) ^ now_secs().rotate_left(32)
    }
}

/// A small PRNG (splitmix64) seeded from the kernel, to pick ports at random.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// What to ask for.
#[derive(Debug, Clone)]
pub struct Request {
    /// How many ports.
    pub count: usize,
    /// Adjacent ports.
    pub consecutive: bool,
    /// Check UDP too.
    pub udp: bool,
    /// The ports to choose from (exclusions already taken out).
    pub pool: PortSet,
    /// The owner whose life the leases follow.
    pub owner: Process,
    /// The owner's command line, recorded in the leases.
    pub command: String,
    /// The longest a lease holds (`None`: while the owner lives).
    pub lease: Option<Duration>,
    /// The least a lease holds.
    pub grace: Duration,
    /// How long to wait for enough ports.
    pub wait: Duration,
}

/// Reserves `request.count` free ports, all or none; warnings (files in
/// the directory that are not leases) go to `warn`.
pub fn allocate(
    dir: &LeaseDir,
    request: &Request,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<u16>, PortError> {
    let deadline = Instant::now() + request.wait;
    let mut rng = Rng(random_u64());
    loop {
        let (taken, found) = if request.consecutive {
            try_consecutive(dir, request, &mut rng, warn)?
        } else {
            try_any(dir, request, &mut rng, warn)?
        };
        if let Some(ports) = taken {
            return Ok(ports);
        }
        if Instant::now() >= deadline {
            return Err(PortError::NotEnough {
                wanted: request.count,
                found,
                pool: request.pool.len(),
                consecutive: request.consecutive,
            });
        }
        std::thread::sleep(Duration::from_millis(50 + rng.below(100) as u64));
    }
}

/// The lease this request takes of `port`.
fn lease_for(request: &Request, port: u16, boot: &str) -> Lease {
    let taken = now_secs();
    // One line in the file: the lease kept in memory must equal what its
    // file says, or giving it back would not recognise it.
    let command = request.command.replace(['\n', '\r'], " ");
    Lease {
        port,
        owner: request.owner,
        boot: boot.to_owned(),
        // SAFETY: getuid cannot fail.
        uid: unsafe { libc::getuid() },
        taken,
        grace_until: taken + request.grace.as_secs(),
        expires: request.lease.map(|l| taken + l.as_secs()),
        command,
    }
}

/// Tries to lease `port`: takes a free port's lease, reclaiming a stale
/// one; then probes the port, giving the lease back if it is bound.
fn try_port(
    dir: &LeaseDir,
    request: &Request,
    port: u16,
    boot: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Option<Lease>, PortError> {
    for _ in 0..3 {
        let lease = lease_for(request, port, boot);
        if dir.create(&lease)? {
            if port_is_free(port, request.udp) {
                return Ok(Some(lease));
            }
            dir.remove_if(&lease, false)?;
            return Ok(None);
        }
        match dir.read(port)? {
            None => continue, // released meanwhile: try again
            Some(Ok(held)) if held.is_live(now_secs(), boot) => return Ok(None),
            Some(Ok(stale)) => {
                if !dir.remove_if(&stale, true)? {
                    return Ok(None);
                }
            }
            Some(Err(why)) => {
                warn(format!(
                    "{}/{port} is {why}: leaving port {port} alone",
                    dir.path().display()
                ));
                return Ok(None);
            }
        }
    }
    Ok(None)
}

fn give_back(dir: &LeaseDir, leases: &[Lease]) {
    for lease in leases {
        let _ = dir.remove_if(lease, false);
    }
}

/// Any `count` ports of the pool, picked at random.
fn try_any(
    dir: &LeaseDir,
    request: &Request,
    rng: &mut Rng,
    warn: &mut dyn FnMut(String),
) -> Result<(Option<Vec<u16>>, usize), PortError> {
    let boot = boot_id();
    let mut candidates = request.pool.ports();
    let mut left = candidates.len();
    let mut taken: Vec<Lease> = Vec::new();
    while taken.len() < request.count && left > 0 {
        let i = rng.below(left);
        let port = candidates[i];
        candidates.swap(i, left - 1);
        left -= 1;
        match try_port(dir, request, port, &boot, warn) {
            Ok(Some(lease)) => taken.push(lease),
            Ok(None) => {}
            Err(e) => {
                give_back(dir, &taken);
                return Err(e);
            }
        }
    }
    if taken.len() == request.count {
        return Ok((Some(taken.iter().map(|l| l.port).collect()), request.count));
    }
    let found = taken.len();
    give_back(dir, &taken);
    Ok((None, found))
}

/// `count` adjacent ports of the pool, from a random start.
fn try_consecutive(
    dir: &LeaseDir,
    request: &Request,
    rng: &mut Rng,
    warn: &mut dyn FnMut(String),
) -> Result<(Option<Vec<u16>>, usize), PortError> {
    let boot = boot_id();
    let n = request.count;
    let mut starts: Vec<u16> = request
        .pool
        .ports()
        .into_iter()
        .filter(|&p| {
            (0..n)
                .all(|i| u16::try_from(usize::from(p) + i).is_ok_and(|q| request.pool.contains(q)))
        })
        .collect();
    let mut best = 0;
    let mut left = starts.len();
    while left > 0 {
        let i = rng.below(left);
        let start = starts[i];
        starts.swap(i, left - 1);
        left -= 1;
        let mut taken: Vec<Lease> = Vec::new();
        for port in (0..n).map(|i| start + i as u16) {
            match try_port(dir, request, port, &boot, warn) {
                Ok(Some(lease)) => taken.push(lease),
                Ok(None) => break,
                Err(e) => {
                    give_back(dir, &taken);
                    return Err(e);
                }
            }
        }
        if taken.len() == n {
            return Ok((Some(taken.iter().map(|l| l.port).collect()), n));
        }
        best = best.max(taken.len());
        give_back(dir, &taken);
    }
    Ok((None, best))
}

/// Removes the leases of `ports` that the caller may remove (the same user,
/// or root); returns the ports that had no lease to remove.
pub fn release(dir: &LeaseDir, ports: &[u16]) -> Result<Vec<u16>, PortError> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut missing = Vec::new();
    for &port in ports {
        match dir.read(port)? {
            Some(Ok(lease)) if lease.uid == uid || uid == 0 => {
                if !dir.remove_if(&lease, false)? {
                    missing.push(port);
                }
            }
            Some(Ok(lease)) => {
                return Err(PortError::Dir {
                    path: dir.path().to_owned(),
                    why: format!("the lease of port {port} belongs to user {}", lease.uid),
                });
            }
            Some(Err(why)) => {
                return Err(PortError::Dir {
                    path: dir.path().to_owned(),
                    why: format!("{port} is {why}, not a lease: leaving it alone"),
                });
            }
            None => missing.push(port),
        }
    }
    Ok(missing)
}

/// Removes every stale lease whose port is not bound; returns their ports.
pub fn collect_garbage(dir: &LeaseDir) -> Result<Vec<u16>, PortError> {
    dir.remove_leftovers();
    let boot = boot_id();
    let now = now_secs();
    let mut removed = Vec::new();
    for (port, lease) in dir.leases()? {
        if let Ok(lease) = lease {
            if !lease.is_live(now, &boot) && dir.remove_if(&lease, true)? {
                removed.push(port);
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists_parse() {
        let set = PortSet::parse("2000-2002, 3000\n# comment\n4000 # more").unwrap();
        assert_eq!(set.ports(), [2000, 2001, 2002, 3000, 4000]);
        assert!(PortSet::parse("0").is_err());
        assert!(PortSet::parse("70000").is_err());
        assert!(PortSet::parse("5-3").is_err());
        assert!(PortSet::parse("abc").is_err());
    }

    #[test]
    fn leases_round_trip_and_live_by_owner_or_grace() {
        let me = Process::find(std::process::id()).unwrap();
        let now = now_secs();
        let lease = Lease {
            port: 4321,
            owner: me,
            boot: boot_id(),
            uid: 0,
            taken: now - 100,
            grace_until: now - 40,
            expires: Some(now + 500),
            command: "cargo test".into(),
        };
        assert_eq!(Lease::parse(&lease.to_text()), Some(lease.clone()));
        assert!(lease.is_live(now, &boot_id()), "owner alive");
        let reused_pid = Lease {
            owner: Process {
                start: me.start + 1,
                ..me
            },
            ..lease.clone()
        };
        assert!(
            !reused_pid.is_live(now, &boot_id()),
            "another process with the pid"
        );
        assert!(!lease.is_live(now, "another boot"));
        assert!(!lease.is_live(now + 600, &boot_id()), "expired");
        let fresh = Lease {
            grace_until: now + 10,
            ..reused_pid
        };
        assert!(fresh.is_live(now, &boot_id()), "within grace");
        assert_eq!(Lease::parse("garbage"), None);
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let process = Process::find(child.id());
        // Not reaped yet: a zombie once it has ended.
        let deadline = Instant::now() + Duration::from_secs(10);
        while process.is_some_and(|p| p.is_alive()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!process.is_some_and(|p| p.is_alive()));
        assert!(
            Process::find(child.id()).is_some(),
            "still in /proc until reaped"
        );
        child.wait().unwrap();
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_is_free(port, false));
        // (Whether it is free once closed depends on the rest of the
        // machine: the kernel's port may be taken again at once.)
        drop(listener);
    }
}
