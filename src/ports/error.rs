//! Why port-alloc cannot go on.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::os::io_message;

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
    /// Leases taken could not be given back (the directory's lock could
    /// not be had, or a lease not removed): they stay until they are stale.
    LeftBehind {
        /// Their ports.
        ports: Vec<u16>,
        /// Why.
        why: Box<PortError>,
    },
    /// The pool of ports the environment names cannot be read.
    Pool {
        /// What is wrong, naming the variable or file.
        why: String,
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
    /// A leased port could not be bound (`--listen`).
    Bind {
        /// The address and port.
        address: std::net::SocketAddr,
        /// A UDP socket, not TCP.
        udp: bool,
        /// Why.
        source: io::Error,
    },
}

impl PortError {
    /// Whether this is a [`PortError::Bind`] that failed because something
    /// else holds the port (it was taken between probe and bind).
    pub fn is_in_use(&self) -> bool {
        matches!(self, PortError::Bind { source, .. } if source.kind() == io::ErrorKind::AddrInUse)
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::Dir { path, why } => write!(f, "lease directory {}: {why}", path.display()),
            PortError::Io { doing, source } => {
                write!(f, "{doing}: {}", io_message(source))
            }
            PortError::LeftBehind { ports, why } => {
                let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                let (them, they) = if ports.len() == 1 {
                    ("the lease of port", "it stays")
                } else {
                    ("the leases of ports", "they stay")
                };
                write!(
                    f,
                    "could not give back {them} {}: {why}; {they} until stale (see port-alloc list)",
                    list.join(", ")
                )
            }
            PortError::Pool { why } => f.write_str(why),
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
            PortError::Bind {
                address,
                udp,
                source,
            } => {
                let what = if *udp { "UDP" } else { "TCP" };
                write!(f, "cannot bind {what} {address}: {}", io_message(source))
            }
        }
    }
}

impl std::error::Error for PortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PortError::Io { source, .. } | PortError::Bind { source, .. } => Some(source),
            PortError::LeftBehind { why, .. } => Some(why.as_ref()),
            _ => None,
        }
    }
}
