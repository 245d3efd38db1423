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
//!
//! From a Rust test suite (this crate as a dev-dependency), [`PortRequest`]
//! leases ports and [`Ports`] gives them back when dropped: the same
//! leases as the command's, so both kinds of caller share one pool.
//!
//! Layer: uses nothing else of the crate but [`crate::os`]; the command
//! `port-alloc` is built on it.

mod alloc;
mod dir;
mod error;
mod harness;
mod lease;
mod listen;
mod pool;
mod probe;

pub use alloc::{Request, allocate, collect_garbage, give_back, random_u64, release};
pub use dir::{LOCK_WAIT, LeaseDir, Lock};
pub use error::PortError;
pub use harness::{PortRequest, Ports};
pub use lease::{
    EndReason, Lease, LeaseEnd, LeaseFile, MAX_GRACE, MAX_LEASE, Process, boot_id, netns_id,
};
pub use listen::bind_sockets;
pub use pool::{
    BROWSER_BAD_PORTS, PortSet, default_pool, ephemeral_ports, kernel_reserved_ports, never,
    pool_from_env,
};
pub use probe::port_is_free;

/// The machine-wide lease directory when `PORT_ALLOC_DIR` is not set.
pub const DEFAULT_DIR: &str = "/tmp/port-alloc";
