//! The pool: which ports may be handed out at all (SPEC's 1024-65535
//! minus the ephemeral range, the kernel's reserved ports and browsers' bad ports).

use std::fmt;

use super::error::PortError;

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

/// The pool the environment names, as port-alloc reads it:
/// `PORT_ALLOC_PORTS` (a list such as `20000-20999, 30000`), else the file
/// `PORT_ALLOC_PORTS_FILE` names (the same, with newlines and `#`
/// comments), else [`default_pool`]. Exclusions are not taken out.
pub fn pool_from_env() -> Result<PortSet, PortError> {
    let pool_error = |why: String| PortError::Pool { why };
    if let Some(list) = std::env::var_os("PORT_ALLOC_PORTS") {
        let list = list.to_string_lossy().into_owned();
        PortSet::parse(&list).map_err(|e| pool_error(format!("PORT_ALLOC_PORTS: {e}")))
    } else if let Some(path) = std::env::var_os("PORT_ALLOC_PORTS_FILE") {
        let path = std::path::PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            pool_error(format!(
                "cannot open {}: {}",
                path.display(),
                crate::os::io_message(&e)
            ))
        })?;
        PortSet::parse(&text)
            .map_err(|e| pool_error(format!("PORT_ALLOC_PORTS_FILE {}: {e}", path.display())))
    } else {
        Ok(default_pool())
    }
}

/// The default pool: 1024-65535 without the ephemeral range.
pub fn default_pool() -> PortSet {
    let mut pool = PortSet::range(1024, 65535);
    if let Some(ephemeral) = ephemeral_ports() {
        pool.remove_all(&ephemeral);
    }
    pool
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
}
