//! A lease of one port: who owns it, for how long, and its file's text.

use std::time::{SystemTime, UNIX_EPOCH};

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

    /// Whether it runs as user `uid` (its real or effective user).
    pub fn runs_as(&self, uid: u32) -> bool {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return false;
        };
        // "Uid:\treal\teffective\tsaved\tfilesystem"
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .is_some_and(|ids| {
                ids.split_whitespace()
                    .take(2)
                    .any(|id| id.parse() == Ok(uid))
            })
    }

    /// The process a lease should follow when `parent` started port-alloc
    /// and no owner was named: the calling shell. That is `parent`, unless
    /// it is a subshell — a fork of its own parent that never ran another
    /// program (same executable, same command line), as the `$(...)` of
    /// `read -r p <<<"$(port-alloc | tr ...)"` is: a subshell ends as soon
    /// as port-alloc does, so the leases follow the shell it was forked
    /// from (and on up through subshells of subshells).
    pub fn calling_shell(parent: u32) -> u32 {
        let identity = |pid: u32| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some((exe, cmdline))
        };
        let mut shell = parent;
        // A bound, in case /proc says something odd.
        for _ in 0..32 {
            let Some(up) = parent_of(shell).filter(|&p| p > 1) else {
                break;
            };
            match (identity(shell), identity(up)) {
                (Some(a), Some(b)) if a == b => shell = up,
                _ => break,
            }
        }
        shell
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

/// The parent of process `pid` (`/proc/PID/stat`, field 4).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// This process's network namespace: the inode of `/proc/self/ns/net`
/// (`None` where that cannot be read). Ports are only shared within one
/// namespace: a port bound in one is free in another.
pub fn netns_id() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The longest grace period a lease may have (`--grace`): a day. A lease
/// file claiming more was not written by port-alloc (see [`Lease::forged`]).
pub const MAX_GRACE: u64 = 86_400;

/// The longest a lease may hold (`--lease`): 30 days. A lease file claiming
/// more was not written by port-alloc.
pub const MAX_LEASE: u64 = 30 * 86_400;

/// How far in the future a lease may say it was taken (the clock may have
/// been set back since): a day.
const CLOCK_SLACK: u64 = 86_400;

pub(super) fn now_secs() -> u64 {
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
    /// The network namespace of the caller that took it (the inode of its
    /// `/proc/self/ns/net`); `None` in leases of versions before it, which
    /// block their port in every namespace.
    pub netns: Option<u64>,
    /// Whether its file is `PORT@NETNS`, not `PORT`: taken while `PORT`
    /// was the lease of another namespace (not written in the file: its
    /// name says it).
    pub by_netns: bool,
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
            "{MAGIC}\nport={}\npid={}\nstart={}\nboot={}\nuid={}\ntaken={}\ngrace_until={}\nexpires={expires}\n{}command={command}\n",
            self.port,
            self.owner.pid,
            self.owner.start,
            self.boot,
            self.uid,
            self.taken,
            self.grace_until,
            // A line older versions skip (they read the fields they know).
            self.netns
                .map_or_else(String::new, |n| format!("netns={n}\n")),
        )
    }

    /// Whether this lease keeps its port from a caller of network
    /// namespace `netns`: one of the same namespace, or where either
    /// namespace is unknown.
    pub fn blocks(&self, netns: Option<u64>) -> bool {
        self.netns.is_none() || netns.is_none() || self.netns == netns
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
            netns: match field.get("netns") {
                None => None,
                Some(n) => Some(n.parse().ok()?),
            },
            by_netns: false,
        })
    }

    /// Why no honest caller could have written this lease, if so; `now`
    /// says when that is judged. port-alloc writes the time it took the
    /// lease, a grace and an expiry within the options' maxima, and
    /// "never" expires only for `-- COMMAND`, whose owner is port-alloc
    /// itself, run by the lease's user (the owner of its file, see
    /// `LeaseDir::read`). Anything else would block a port longer than an
    /// honest caller can.
    pub fn forged(&self, now: u64) -> Option<&'static str> {
        if self.taken > now.saturating_add(CLOCK_SLACK) {
            Some("forged: taken in the future")
        } else if self.grace_until > self.taken.saturating_add(MAX_GRACE) {
            Some("forged: a grace beyond --grace's maximum")
        } else if self
            .expires
            .is_some_and(|e| e > self.taken.saturating_add(MAX_LEASE))
        {
            Some("forged: an expiry beyond --lease's maximum")
        } else {
            None
        }
    }

    /// Whether an owner that never lets the lease expire is one that
    /// port-alloc could have written: a process of the lease's user.
    fn owner_may_hold_for_ever(&self) -> bool {
        self.expires.is_some() || self.owner.runs_as(self.uid)
    }

    /// Whether the lease still holds at `now`: of this boot, not forged,
    /// and within its grace period or its owner alive and the lease not
    /// expired. The boot comes first: nothing of another boot holds.
    pub fn is_live(&self, now: u64, boot: &str) -> bool {
        if self.boot != boot || self.forged(now).is_some() {
            return false;
        }
        if now < self.grace_until {
            return true;
        }
        let expired = self.expires.is_some_and(|e| now >= e);
        !expired && self.owner.is_alive() && self.owner_may_hold_for_ever()
    }

    /// When the lease ends, and why, as seen at `now` (for people reading
    /// `list`): what [`Lease::is_live`] decides, spelt out.
    pub fn end(&self, now: u64, boot: &str) -> LeaseEnd {
        if self.boot != boot {
            return LeaseEnd::Ended {
                why: EndReason::OtherBoot,
            };
        }
        if let Some(why) = self.forged(now) {
            return LeaseEnd::Ended {
                why: EndReason::Forged(why),
            };
        }
        let running = self.owner.is_alive();
        let owner_alive = running && self.owner_may_hold_for_ever();
        let expired = self.expires.is_some_and(|e| now >= e);
        if owner_alive && !expired {
            return LeaseEnd::WithOwner {
                not_before: (now < self.grace_until).then_some(self.grace_until),
                at_most: self.expires.map(|e| e.max(self.grace_until)),
            };
        }
        let why = if owner_alive {
            EndReason::LeaseCap
        } else if running {
            EndReason::Forged("forged: never expires, but its owner is another user's")
        } else {
            EndReason::OwnerGone
        };
        if now < self.grace_until {
            LeaseEnd::Grace {
                until: self.grace_until,
                why,
            }
        } else {
            LeaseEnd::Ended { why }
        }
    }
}

/// When a lease ends ([`Lease::end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// When its owner exits (but not before the grace period ends), and at
    /// the latest when it expires (`--lease`).
    WithOwner {
        /// The end of the grace period, if it is still to come.
        not_before: Option<u64>,
        /// When it expires, if it does.
        at_most: Option<u64>,
    },
    /// At the end of its grace period, its owner gone or its time up.
    Grace {
        /// The end of the grace period.
        until: u64,
        /// Why it does not last longer.
        why: EndReason,
    },
    /// It has ended: a stale lease, to be reclaimed.
    Ended {
        /// Why.
        why: EndReason,
    },
}

impl LeaseEnd {
    /// Whether the lease still holds (as [`Lease::is_live`] says).
    pub fn is_live(self) -> bool {
        !matches!(self, LeaseEnd::Ended { .. })
    }

    /// Whether its owner (of this boot) was alive, and one the lease may
    /// follow.
    pub fn owner_alive(self) -> bool {
        match self {
            LeaseEnd::WithOwner { .. } => true,
            LeaseEnd::Grace { why, .. } | LeaseEnd::Ended { why } => why == EndReason::LeaseCap,
        }
    }
}

/// Why a lease ends before its owner does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The owner has exited (or is of another boot).
    OwnerGone,
    /// The lease reached its longest (`--lease`).
    LeaseCap,
    /// The lease is of another boot: nothing of it runs any more.
    OtherBoot,
    /// No honest caller could have written the lease ([`Lease::forged`]):
    /// why, starting with "forged: ".
    Forged(&'static str),
}

impl EndReason {
    /// How `list` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::OwnerGone => "owner gone",
            EndReason::LeaseCap => "lease cap",
            EndReason::OtherBoot => "another boot",
            EndReason::Forged(why) => why,
        }
    }
}

/// What a port's file in the lease directory holds: a lease, or why it is
/// not one.
pub type LeaseFile = Result<Lease, String>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

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
            netns: netns_id(),
            by_netns: false,
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
    fn a_lease_ends_with_its_owner_or_grace_or_cap() {
        let me = Process::find(std::process::id()).unwrap();
        let boot = boot_id();
        let now = now_secs();
        let lease = Lease {
            port: 4321,
            owner: me,
            boot: boot.clone(),
            uid: 0,
            taken: now,
            grace_until: now + 60,
            expires: Some(now + 600),
            command: "cargo test".into(),
            netns: netns_id(),
            by_netns: false,
        };
        assert_eq!(
            lease.end(now, &boot),
            LeaseEnd::WithOwner {
                not_before: Some(now + 60),
                at_most: Some(now + 600)
            }
        );
        assert_eq!(
            lease.end(now + 100, &boot),
            LeaseEnd::WithOwner {
                not_before: None,
                at_most: Some(now + 600)
            }
        );
        // A cap below the grace period: the grace period wins.
        let short = Lease {
            expires: Some(now + 10),
            ..lease.clone()
        };
        assert_eq!(
            short.end(now + 20, &boot),
            LeaseEnd::Grace {
                until: now + 60,
                why: EndReason::LeaseCap
            }
        );
        assert!(short.is_live(now + 20, &boot));
        assert_eq!(
            lease.end(now + 600, &boot),
            LeaseEnd::Ended {
                why: EndReason::LeaseCap
            }
        );
        // Another boot's: ended at once, whatever its grace.
        assert_eq!(
            lease.end(now + 30, "another boot"),
            LeaseEnd::Ended {
                why: EndReason::OtherBoot
            }
        );
        assert!(!lease.is_live(now + 30, "another boot"));
        // end() and is_live() say the same, now and later, owner or not.
        for at in [now, now + 30, now + 60, now + 100, now + 600, now + 700] {
            for (l, boot) in [
                (&lease, boot.as_str()),
                (&short, boot.as_str()),
                (&lease, "x"),
            ] {
                assert_eq!(l.end(at, boot).is_live(), l.is_live(at, boot), "at {at}");
                assert_eq!(l.end(at, boot).owner_alive(), boot != "x");
            }
        }
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
}
