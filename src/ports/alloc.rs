//! Taking, giving back and reclaiming leases: all-or-none allocation of
//! free ports, `release` and garbage collection.

use std::time::{Duration, Instant};

use super::PortError;
use super::dir::LeaseDir;
use super::lease::{Lease, Process, boot_id, netns_id, now_secs};
use super::pool::PortSet;
use super::probe::port_is_free;

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

/// Reserves `request.count` free ports, all or none, and returns their
/// leases; warnings (files in the directory that are not leases) go to
/// `warn`. Whatever fails gives back the leases it took, or says which it
/// could not ([`PortError::LeftBehind`]). While it waits for ports
/// (`request.wait`) it stops when `interrupted` says so.
pub fn allocate(
    dir: &LeaseDir,
    request: &Request,
    warn: &mut dyn FnMut(String),
    interrupted: &dyn Fn() -> bool,
) -> Result<Vec<Lease>, PortError> {
    // A wait beyond what an Instant holds is a wait for ever.
    let deadline = Instant::now().checked_add(request.wait);
    dir.remove_leftovers();
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
        if interrupted() || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
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

/// The most of the owner's command line a lease records (for people reading
/// `list`), in bytes: far below what [`LeaseDir::read`] reads back.
const MAX_COMMAND: usize = 4096;

/// The lease this request takes of `port`.
fn lease_for(request: &Request, port: u16, boot: &str) -> Lease {
    let taken = now_secs();
    // One line in the file, of a size read back whole: the lease kept in
    // memory must equal what its file says, or giving it back would not
    // recognise it.
    let mut command = request.command.replace(['\n', '\r'], " ");
    if command.len() > MAX_COMMAND {
        let mut end = MAX_COMMAND - "...".len();
        while !command.is_char_boundary(end) {
            end -= 1;
        }
        command.truncate(end);
        command.push_str("...");
    }
    Lease {
        port,
        owner: request.owner,
        boot: boot.to_owned(),
        // Who writes the file, and so owns it: LeaseDir::read says the
        // owner's uid, whatever a file says.
        // SAFETY: geteuid cannot fail.
        uid: unsafe { libc::geteuid() },
        taken,
        grace_until: taken.saturating_add(request.grace.as_secs()),
        expires: request.lease.map(|l| taken.saturating_add(l.as_secs())),
        command,
        netns: netns_id(),
        by_netns: false,
    }
}

/// Tries to lease `port`: takes a free port's lease, reclaiming a stale
/// one; then probes the port, giving the lease back if it is bound. A
/// live lease of another network namespace does not block the port: the
/// lease is then taken as `PORT@NETNS` ([`try_port_in_netns`]).
///
/// Two callers of one namespace may take the port by the two names at
/// once (one found `PORT` another namespace's, then it was freed for the
/// other): each checks the other name after taking its own, and gives
/// its own back if the other is live, so at most one keeps it (the
/// later check of the two sees the earlier take).
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
            if let Some(netns) = lease.netns {
                if let Some(Ok(other)) = dir.read_at(port, Some(netns))? {
                    if other.is_live(now_secs(), boot) {
                        give_back(dir, std::slice::from_ref(&lease))?;
                        return Ok(None);
                    }
                }
            }
            return probed(dir, request, lease);
        }
        match dir.read(port)? {
            None => continue, // released meanwhile: try again
            Some(Ok(held)) if held.is_live(now_secs(), boot) => {
                return match lease.netns {
                    Some(netns) if !held.blocks(Some(netns)) => {
                        try_port_in_netns(dir, request, port, netns, boot, warn)
                    }
                    _ => Ok(None),
                };
            }
            Some(Ok(stale)) => {
                if !dir.remove_if(&dir.lock()?, &stale, true)? {
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

/// [`try_port`] for a port whose `PORT` lease is another namespace's:
/// the lease `PORT@NETNS` of our namespace `netns`.
fn try_port_in_netns(
    dir: &LeaseDir,
    request: &Request,
    port: u16,
    netns: u64,
    boot: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Option<Lease>, PortError> {
    for _ in 0..3 {
        let lease = Lease {
            by_netns: true,
            ..lease_for(request, port, boot)
        };
        if dir.create(&lease)? {
            // PORT may have become a lease of our namespace meanwhile.
            let blocked = match dir.read(port)? {
                Some(Ok(other)) => other.is_live(now_secs(), boot) && other.blocks(Some(netns)),
                Some(Err(_)) => true,
                None => false,
            };
            if blocked {
                give_back(dir, std::slice::from_ref(&lease))?;
                return Ok(None);
            }
            return probed(dir, request, lease);
        }
        match dir.read_at(port, Some(netns))? {
            None => continue,
            Some(Ok(held)) if held.is_live(now_secs(), boot) => return Ok(None),
            Some(Ok(stale)) => {
                if !dir.remove_if(&dir.lock()?, &stale, true)? {
                    return Ok(None);
                }
            }
            Some(Err(why)) => {
                warn(format!(
                    "{}/{port}@{netns} is {why}: leaving port {port} alone",
                    dir.path().display()
                ));
                return Ok(None);
            }
        }
    }
    Ok(None)
}

/// `lease`, just taken, if its port is free; else given back.
fn probed(dir: &LeaseDir, request: &Request, lease: Lease) -> Result<Option<Lease>, PortError> {
    if port_is_free(lease.port, request.udp) {
        return Ok(Some(lease));
    }
    give_back(dir, std::slice::from_ref(&lease))?;
    Ok(None)
}

/// Gives back `leases`, taken by this process: removes each that is still
/// as taken (one released meanwhile by `release` is not ours any more),
/// under one lock of the directory. Fails with the ports whose leases
/// could not be removed.
pub fn give_back(dir: &LeaseDir, leases: &[Lease]) -> Result<(), PortError> {
    if leases.is_empty() {
        return Ok(());
    }
    let left_behind = |from: usize, why: PortError| PortError::LeftBehind {
        ports: leases[from..].iter().map(|l| l.port).collect(),
        why: Box::new(why),
    };
    let lock = dir.lock().map_err(|why| left_behind(0, why))?;
    for (i, lease) in leases.iter().enumerate() {
        dir.remove_if(&lock, lease, false)
            .map_err(|why| left_behind(i, why))?;
    }
    Ok(())
}

/// Gives back `taken` after `err`, and fails with `err`, or with what
/// was left behind if giving back failed too.
fn fail_giving_back(dir: &LeaseDir, taken: &[Lease], err: PortError) -> PortError {
    match give_back(dir, taken) {
        Ok(()) => err,
        Err(left) => left,
    }
}

/// Any `count` ports of the pool, picked at random.
fn try_any(
    dir: &LeaseDir,
    request: &Request,
    rng: &mut Rng,
    warn: &mut dyn FnMut(String),
) -> Result<(Option<Vec<Lease>>, usize), PortError> {
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
            Err(e) => return Err(fail_giving_back(dir, &taken, e)),
        }
    }
    if taken.len() == request.count {
        return Ok((Some(taken), request.count));
    }
    let found = taken.len();
    give_back(dir, &taken)?;
    Ok((None, found))
}

/// `count` adjacent ports of the pool, from a random start.
fn try_consecutive(
    dir: &LeaseDir,
    request: &Request,
    rng: &mut Rng,
    warn: &mut dyn FnMut(String),
) -> Result<(Option<Vec<Lease>>, usize), PortError> {
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
                Err(e) => return Err(fail_giving_back(dir, &taken, e)),
            }
        }
        if taken.len() == n {
            return Ok((Some(taken), n));
        }
        best = best.max(taken.len());
        give_back(dir, &taken)?;
    }
    Ok((None, best))
}

/// Removes the leases of `ports` that the caller may remove (the same user,
/// or root); returns the ports that had no lease to remove.
pub fn release(dir: &LeaseDir, ports: &[u16]) -> Result<Vec<u16>, PortError> {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let netns = netns_id();
    let mut missing = Vec::new();
    let mut lock = None;
    for &port in ports {
        // Our namespace's lease of the port: PORT@NETNS, else PORT if it
        // is not another namespace's.
        let in_netns = match netns {
            Some(n) => dir.read_at(port, Some(n))?,
            None => None,
        };
        let found = match in_netns {
            Some(found) => Some(found),
            None => dir
                .read(port)?
                .filter(|l| l.as_ref().map_or(true, |l| l.blocks(netns))),
        };
        match found {
            Some(Ok(lease)) if lease.uid == uid || uid == 0 => {
                if lock.is_none() {
                    lock = Some(dir.lock()?);
                }
                let lock = lock.as_ref().expect("just taken");
                if !dir.remove_if(lock, &lease, false)? {
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
/// The directory's lock is taken only if there is one to remove.
pub fn collect_garbage(dir: &LeaseDir) -> Result<Vec<u16>, PortError> {
    dir.remove_leftovers();
    let boot = boot_id();
    let now = now_secs();
    let mut removed = Vec::new();
    let mut lock = None;
    for (port, lease) in dir.leases()? {
        let Ok(lease) = lease else { continue };
        if lease.is_live(now, &boot) {
            continue;
        }
        if lock.is_none() {
            lock = Some(dir.lock()?);
        }
        if dir.remove_if(lock.as_ref().expect("just taken"), &lease, true)? {
            removed.push(port);
        }
    }
    Ok(removed)
}
