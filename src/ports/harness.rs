//! Ports for a Rust test suite: [`PortRequest`] leases them in the same
//! directory and by the same rules as the `port-alloc` command, so tests
//! in this process, other processes' tests and shell harnesses never get
//! one port twice; [`Ports`] gives them back when dropped.

use std::path::PathBuf;
use std::time::Duration;

use super::alloc::{Request, allocate, give_back};
use super::dir::LeaseDir;
use super::error::PortError;
use super::lease::{Lease, Process};
use super::pool::{PortSet, never, pool_from_env};

/// How many ports to lease, and how: a builder, see [`Ports`].
#[derive(Debug, Clone)]
pub struct PortRequest {
    count: usize,
    consecutive: bool,
    udp: bool,
    wait: Duration,
    dir: Option<PathBuf>,
    pool: Option<PortSet>,
}

impl PortRequest {
    /// `count` ports, not necessarily adjacent, free for TCP, waited for
    /// up to 10 seconds, from the pool and lease directory the environment
    /// names for port-alloc (`PORT_ALLOC_PORTS`, `PORT_ALLOC_PORTS_FILE`,
    /// `PORT_ALLOC_DIR`).
    pub fn new(count: usize) -> PortRequest {
        PortRequest {
            count,
            consecutive: false,
            udp: false,
            wait: Duration::from_secs(10),
            dir: None,
            pool: None,
        }
    }

    /// Adjacent ports (`base`, `base + 1`, ...).
    pub fn consecutive(mut self) -> PortRequest {
        self.consecutive = true;
        self
    }

    /// Free for UDP as well.
    pub fn udp(mut self) -> PortRequest {
        self.udp = true;
        self
    }

    /// How long to wait for enough free ports.
    pub fn wait(mut self, wait: Duration) -> PortRequest {
        self.wait = wait;
        self
    }

    /// Another lease directory than `PORT_ALLOC_DIR` or /tmp/port-alloc.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> PortRequest {
        self.dir = Some(dir.into());
        self
    }

    /// Ports from `pool` only (the ports port-alloc never hands out are
    /// still left out).
    pub fn pool(mut self, pool: PortSet) -> PortRequest {
        self.pool = Some(pool);
        self
    }

    /// Leases the ports, all or none. They hold while this process lives
    /// and until the [`Ports`] is dropped.
    pub fn lease(self) -> Result<Ports, PortError> {
        let dir_path = self
            .dir
            .or_else(|| std::env::var_os("PORT_ALLOC_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(super::DEFAULT_DIR));
        let dir = LeaseDir::open(&dir_path)?;
        let mut pool = match self.pool {
            Some(pool) => pool,
            None => pool_from_env()?,
        };
        pool.remove_all(&never(&PortSet::default()));
        let owner = Process::find(std::process::id()).ok_or_else(|| PortError::Io {
            doing: "reading this process's start time".into(),
            source: std::io::Error::other("not in /proc"),
        })?;
        let request = Request {
            count: self.count,
            consecutive: self.consecutive,
            udp: self.udp,
            pool,
            command: owner.command_line(),
            owner,
            lease: None,
            grace: Duration::ZERO,
            wait: self.wait,
        };
        let leases = allocate(&dir, &request, &mut |_| {}, &|| false)?;
        Ok(Ports { dir, leases })
    }
}

/// Leased ports, given back when dropped (or at the latest when this
/// process ends, as a lease follows its owner's life).
///
/// ```
/// use subunit_tools::ports::PortRequest;
///
/// # let dir = std::env::temp_dir().join(format!("port-alloc-doc-{}", std::process::id()));
/// // Three adjacent ports, as Mercurial's run-tests uses HGPORT..HGPORT+2.
/// let ports = PortRequest::new(3).consecutive().dir(&dir).lease()?;
/// let [a, b, c] = [ports.port(0), ports.port(1), ports.port(2)];
/// assert_eq!((b, c), (a + 1, a + 2));
/// // Nothing is listening there: a server of the test's can bind it.
/// let server = std::net::TcpListener::bind(("127.0.0.1", a))?;
/// # drop(server);
/// // Another caller meanwhile gets other ports.
/// let others = PortRequest::new(3).dir(&dir).lease()?;
/// assert!(others.ports().iter().all(|p| !ports.ports().contains(p)));
/// drop(ports); // given back: the next caller may have them
/// # drop(others);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Ports {
    dir: LeaseDir,
    leases: Vec<Lease>,
}

impl Ports {
    /// The ports, in order (adjacent ones rising).
    pub fn ports(&self) -> Vec<u16> {
        self.leases.iter().map(|l| l.port).collect()
    }

    /// The `n`th port. Panics if `n` is not below the number asked for.
    pub fn port(&self, n: usize) -> u16 {
        self.leases[n].port
    }

    /// Gives the ports back now, saying if that failed (dropping them
    /// gives them back too, silently).
    pub fn release(mut self) -> Result<(), PortError> {
        let leases = std::mem::take(&mut self.leases);
        give_back(&self.dir, &leases)
    }
}

impl Drop for Ports {
    fn drop(&mut self) {
        // Nobody to tell: a lease left behind ends with this process.
        let _ = give_back(&self.dir, &self.leases);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_in_the_directory_until_dropped_or_released() {
        let path = std::env::temp_dir().join(format!("port-alloc-harness-{}", std::process::id()));
        let leased = |dir: &LeaseDir| -> Vec<u16> {
            dir.leases().unwrap().into_iter().map(|(p, _)| p).collect()
        };
        let ports = PortRequest::new(2).dir(&path).lease().unwrap();
        let dir = LeaseDir::open(&path).unwrap();
        let mut held = leased(&dir);
        held.sort_unstable();
        let mut ours = ports.ports();
        ours.sort_unstable();
        assert_eq!(held, ours);
        // Each lease names this process as its owner.
        for (_, lease) in dir.leases().unwrap() {
            assert_eq!(lease.unwrap().owner.pid, std::process::id());
        }
        drop(ports);
        assert!(leased(&dir).is_empty(), "given back when dropped");
        let ports = PortRequest::new(1)
            .pool(PortSet::range(40_000, 40_999))
            .udp()
            .dir(&path)
            .lease()
            .unwrap();
        assert!((40_000..=40_999).contains(&ports.port(0)));
        ports.release().unwrap();
        assert!(leased(&dir).is_empty(), "given back by release");
        // None free in the pool: a clear error, nothing left behind.
        let err = PortRequest::new(2)
            .pool(PortSet::range(40_000, 40_000))
            .wait(Duration::ZERO)
            .dir(&path)
            .lease()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("not enough free ports"),
            "{err}"
        );
        assert!(leased(&dir).is_empty());
        std::fs::remove_dir_all(&path).unwrap();
    }
}
