//! `port-alloc`: free TCP ports for test harnesses, never the same port to
//! two live callers (SPEC section 4).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::cli::{self, Error};
use crate::os;
use crate::ports::{self, LeaseDir, LeaseEnd, PortError, PortSet, Process, Request};
use crate::signals::{self, Blocked, Children, PassOn, Received, Stop, die_by};

mod listen;
mod man;

pub use man::MAN_SECTIONS;

/// The command's name.
pub const NAME: &str = "port-alloc";

/// Arguments of `port-alloc`.
#[derive(Debug, Parser)]
#[command(
    name = NAME,
    version,
    about = "Reserve free TCP ports for tests, never the same port to two live callers",
    override_usage = "port-alloc [OPTIONS] [-n N]\n       port-alloc [OPTIONS] [-n N] -- COMMAND [ARGS]...\n       port-alloc release PORT...\n       port-alloc list\n       port-alloc gc",
    long_about = "Print N free TCP ports, one per line, and reserve them: all or none. A \
                  reservation (a lease, one file per port in a machine-wide directory) \
                  holds while its owner process lives (by default the calling shell: the \
                  parent of port-alloc or, when that is a subshell, as the $(...) of \
                  `read -r p <<<\"$(port-alloc | tr ...)\"` is, the shell it was forked from) \
                  and at most --lease seconds, but never less than \
                  --grace seconds after it was taken, so a caller in a short-lived subshell \
                  keeps its ports until its server has bound them. Leases are taken before \
                  ports are probed, so cooperating callers never probe each other's ports, \
                  and no daemon is needed.\n\n\
                  With -- COMMAND, the ports are held exactly while COMMAND runs and passed to \
                  it as PORT0, PORT1, ... and PORTS (all of them, separated by spaces); \
                  port-alloc passes signals on to it (see SIGNALS), gives the leases back \
                  when it ends and exits with its status. With --listen as well, port-alloc \
                  binds the ports itself and passes COMMAND the sockets, as systemd's socket \
                  activation does (see LISTEN), so that nothing can take a port before the \
                  server has it.",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// How many ports.
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub count: u16,

    /// Adjacent ports (N in a row).
    #[arg(long)]
    pub consecutive: bool,

    /// Check that the ports are free for UDP too (with --listen: bind UDP
    /// sockets, not TCP).
    #[arg(long)]
    pub udp: bool,

    /// Bind the ports (and listen, for TCP) and pass the sockets to
    /// COMMAND as file descriptors 3, 4, ... the way systemd does (see
    /// LISTEN). Only with -- COMMAND.
    #[arg(long)]
    pub listen: bool,

    /// The address to bind with --listen (default 127.0.0.1; repeatable,
    /// e.g. for ::1 too: a socket per port and address).
    #[arg(long, value_name = "ADDRESS", requires = "listen")]
    pub listen_address: Vec<std::net::IpAddr>,

    /// The process whose life the leases follow (default: the calling
    /// shell: the parent, or the shell a subshell such as `$(...)` was
    /// forked from).
    #[arg(long, value_name = "PID")]
    pub owner: Option<u32>,

    /// The longest a lease holds, in seconds (at most 2592000, 30 days).
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = whole_seconds(ports::MAX_LEASE))]
    pub lease: u64,

    /// The least a lease holds after it was taken, in seconds (at most
    /// 86400, a day).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = whole_seconds(ports::MAX_GRACE))]
    pub grace: u64,

    /// Wait up to SECONDS for enough ports when the pool is exhausted (at
    /// most 86400, a day; fractions allowed).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = wait_seconds)]
    pub wait: Duration,

    /// Never hand out these ports (`lo-hi,port,...`; repeatable).
    #[arg(long, value_name = "PORTS")]
    pub exclude: Vec<String>,

    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,

    /// Run COMMAND with the ports held, after `--`.
    #[arg(last = true, value_name = "COMMAND", value_hint = clap::ValueHint::CommandWithArguments)]
    pub command: Vec<OsString>,

    #[command(subcommand)]
    #[allow(missing_docs)]
    pub action: Option<Action>,
}

/// The longest `--wait`: a day.
pub const MAX_WAIT: u64 = 86_400;

/// A parser of a whole number of seconds from 0 to `max`, whose error
/// names the maximum (clap names the option).
fn whole_seconds(max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    move |text| match text.parse::<u64>() {
        Ok(seconds) if seconds <= max => Ok(seconds),
        Ok(_) => Err(format!("at most {max} seconds")),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
            Err(format!("at most {max} seconds"))
        }
        Err(_) => Err(format!("a whole number of seconds from 0 to {max}")),
    }
}

/// `--wait`: seconds from 0 to [`MAX_WAIT`], fractions allowed; NaN,
/// infinities and negative numbers refused (so the Duration and the
/// deadline made of it always exist).
fn wait_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.0..=MAX_WAIT as f64).contains(&seconds) => {
            Ok(Duration::from_secs_f64(seconds))
        }
        Ok(seconds) if seconds > 0.0 => Err(format!("at most {MAX_WAIT} seconds")),
        _ => Err(format!("a number of seconds from 0 to {MAX_WAIT}")),
    }
}

/// What else port-alloc does.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// End the leases of these ports now.
    Release {
        /// The ports.
        #[arg(value_name = "PORT", required = true)]
        ports: Vec<u16>,
    },
    /// List the leases: port, owner, whether it is alive, the network
    /// namespace, when the lease ends and why (with its owner, its grace
    /// period, its lease cap), command.
    List,
    /// Remove stale leases (dead owner or expired, past the grace period) of
    /// ports nobody has bound.
    Gc,
}

/// Runs `port-alloc`.
pub fn run(args: &Args) -> Result<ExitCode, Error> {
    let dir_path = std::env::var_os("PORT_ALLOC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(ports::DEFAULT_DIR));
    let dir = LeaseDir::open(&dir_path).map_err(port_error)?;
    match &args.action {
        Some(Action::Release { ports }) => release(&dir, ports),
        Some(Action::List) => list(&dir, args.json),
        Some(Action::Gc) => gc(&dir, args.json),
        None => allocate(&dir, args),
    }
}

fn port_error(err: PortError) -> Error {
    Error::Usage(err.to_string())
}

/// The pool after every exclusion.
fn pool(args: &Args) -> Result<PortSet, Error> {
    let mut pool = ports::pool_from_env().map_err(port_error)?;
    let mut exclude = PortSet::default();
    for list in &args.exclude {
        let set = PortSet::parse(list).map_err(|e| Error::Usage(format!("--exclude: {e}")))?;
        for port in set.ports() {
            exclude.insert(port);
        }
    }
    if pool.is_empty() {
        return Err(Error::Usage("the pool of ports is empty".into()));
    }
    pool.remove_all(&ports::never(&exclude));
    Ok(pool)
}

/// How often `--listen` takes new ports when one it leased and probed
/// free was bound by someone else before port-alloc could bind it.
const BIND_TRIES: usize = 5;

fn allocate(dir: &LeaseDir, args: &Args) -> Result<ExitCode, Error> {
    let with_command = !args.command.is_empty();
    if args.listen && !with_command {
        return Err(Error::Usage(
            "--listen passes the sockets to a command: give it after --, as in \
             port-alloc --listen -- COMMAND"
                .into(),
        ));
    }
    let pool = pool(args)?;
    let owner_pid = if with_command {
        std::process::id()
    } else {
        // SAFETY: getppid cannot fail.
        args.owner
            .unwrap_or_else(|| Process::calling_shell(unsafe { libc::getppid() } as u32))
    };
    let owner = Process::find(owner_pid)
        .ok_or_else(|| Error::Usage(format!("--owner {owner_pid}: no such process")))?;
    let command = if with_command {
        args.command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        owner.command_line()
    };
    let request = Request {
        count: usize::from(args.count),
        consecutive: args.consecutive,
        udp: args.udp,
        pool,
        owner,
        command,
        // With a command the leases hold exactly while port-alloc runs it.
        lease: (!with_command).then(|| Duration::from_secs(args.lease)),
        grace: Duration::from_secs(args.grace),
        wait: args.wait,
    };
    // Signals wait from here on: one that came while leases are being
    // taken would leave them behind.
    let blocked = Blocked::new(if with_command { &FORWARDED } else { &ENDING });
    let mut warn = |message: String| eprintln!("{NAME}: warning: {message}");
    let ending = || blocked.pending().filter(|s| ENDING.contains(s));
    let addresses = if args.listen_address.is_empty() {
        vec![std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST)]
    } else {
        args.listen_address.clone()
    };
    let mut tries = 0;
    let (leases, sockets) = loop {
        let allocated = ports::allocate(dir, &request, &mut warn, &|| ending().is_some());
        if let Some(signal) = ending() {
            // Nobody got the ports: give them back, and end as asked.
            match &allocated {
                Ok(leases) => give_back_or_say(dir, leases),
                Err(left @ PortError::LeftBehind { .. }) => eprintln!("{NAME}: {left}"),
                Err(_) => {}
            }
            die_by(signal);
        }
        let leases = match allocated {
            Ok(leases) => leases,
            Err(err @ PortError::NotEnough { .. }) => {
                eprintln!("{NAME}: {err}");
                return Ok(ExitCode::FAILURE);
            }
            Err(err) => return Err(port_error(err)),
        };
        if !args.listen {
            break (leases, None);
        }
        let taken: Vec<u16> = leases.iter().map(|l| l.port).collect();
        match ports::bind_sockets(&taken, &addresses, args.udp) {
            Ok(sockets) => break (leases, Some(sockets)),
            Err(err) => {
                give_back_or_say(dir, &leases);
                tries += 1;
                // Taken between the probe and the bind, by a process that
                // does not lease its ports: new ports.
                if !(err.is_in_use() && tries < BIND_TRIES) {
                    return Err(port_error(err));
                }
            }
        }
    };
    let taken: Vec<u16> = leases.iter().map(|l| l.port).collect();
    if with_command {
        let held = run_holding(blocked, &args.command, &taken, sockets);
        // Never 0 with leases left behind: whoever relies on the ports
        // being free again must learn they are not.
        let given_back = ports::give_back(dir, &leases);
        if let Err(err) = &given_back {
            eprintln!("{NAME}: {err}");
        }
        let code = end_as(held?);
        return Ok(ExitCode::from(match (code, given_back) {
            (0, Err(_)) => cli::EXIT_ERROR,
            (code, _) => code,
        }));
    }
    let mut out = String::new();
    if args.json {
        out = format!("{}\n", json!(taken));
    } else {
        for port in &taken {
            out.push_str(&format!("{port}\n"));
        }
    }
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // Nobody got the ports: give them back.
        give_back_or_say(dir, &leases);
        return Err(Error::Write(err));
    }
    // The ports are out: a signal that came meanwhile acts now.
    blocked.unblock();
    Ok(ExitCode::SUCCESS)
}

/// Gives back leases nobody got, saying on standard error which could not
/// be given back.
fn give_back_or_say(dir: &LeaseDir, leases: &[ports::Lease]) {
    if let Err(left) = ports::give_back(dir, leases) {
        eprintln!("{NAME}: {left}");
    }
}

/// Signals that end the run: passed on to the command, which is stopped if
/// it outlives them (see the man page's SIGNALS).
const ENDING: [i32; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

/// Signals passed on to the command.
const FORWARDED: [i32; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// How long the command may outlive a signal meant to end it before it
/// gets SIGTERM, and SIGKILL as long after that; also how long what it
/// leaves in its process group gets after SIGTERM.
const STOP_AFTER: Duration = Duration::from_secs(5);

/// How the command ran.
struct Held {
    /// Its exit status as a shell gives it (127 or 126: it could not start).
    code: u8,
    /// The signal that killed it, if one did.
    killed_by: Option<i32>,
    /// The signals port-alloc got while it ran (none if it did not start).
    received: Option<Received>,
}

/// Runs the command with the ports in its environment, passing signals
/// (`blocked` since before the leases were taken) on, and ending what it
/// leaves in its process group when a signal ends the run.
fn run_holding(
    blocked: Blocked,
    command: &[OsString],
    ports: &[u16],
    sockets: Option<Vec<socket2::Socket>>,
) -> Result<Held, Error> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    let mut env: Vec<(String, String)> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| (format!("PORT{i}"), port.to_string()))
        .collect();
    let all: Vec<String> = ports.iter().map(u16::to_string).collect();
    env.push(("PORTS".into(), all.join(" ")));
    // In its terminal's foreground the command stays in our process group:
    // it may read the terminal (another group would be stopped by SIGTTIN)
    // and gets Ctrl-C from it directly. Elsewhere it leads a group of its
    // own, that signals go to, with whatever it started.
    let how = if signals::in_terminal_foreground() {
        PassOn::ToChildren
    } else {
        cmd.process_group(0);
        PassOn::ToGroups
    };
    let children = Children::default();
    let spawned = match sockets {
        None => children.spawn(cmd.envs(env)),
        Some(sockets) => listen::spawn(&children, &mut cmd, command, &env, sockets, ports.len()),
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            eprintln!(
                "{NAME}: cannot run {}: {}",
                command[0].to_string_lossy(),
                os::io_message(&err)
            );
            let code = if err.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ok(Held {
                code,
                killed_by: None,
                received: None,
            });
        }
    };
    let stop = Stop {
        command: NAME,
        ending: &ENDING,
        after: STOP_AFTER,
    };
    let received = blocked
        .pass_on_stopping(children.clone(), how, Some(stop))
        .map_err(Error::Write)?;
    children.wait_unreaped(&child);
    // Ended by a signal: so is what it started, before its leases go.
    let ending = received.signals().iter().any(|s| ENDING.contains(s));
    if how == PassOn::ToGroups && ending && !children.end_group(&child, STOP_AFTER) {
        eprintln!("{NAME}: warning: processes of the command's group outlived SIGKILL");
    }
    let status = children
        .reap(&mut child)
        .map_err(Error::reading("the command"))?;
    Ok(Held {
        code: os::exit_code(status),
        killed_by: status.signal(),
        received: Some(received),
    })
}

/// The status to exit with once the leases are given back, or the signal
/// to end by, as subunit-wrap does: a signal that came when the command had
/// ended was for port-alloc alone; one that came and killed the command
/// (or made port-alloc stop it) ends port-alloc too, so that whoever sent
/// it sees it took effect (a shell script's loop stops on Ctrl-C).
fn end_as(held: Held) -> u8 {
    let Some(received) = held.received else {
        return held.code;
    };
    if let Some(signal) = received.unanswered() {
        die_by(signal)
    }
    if let Some(killed_by) = held.killed_by {
        if received.contains(killed_by) {
            die_by(killed_by)
        }
        if let Some(&ending) = received.signals().iter().find(|s| ENDING.contains(s)) {
            die_by(ending)
        }
    }
    held.code
}

fn release(dir: &LeaseDir, ports: &[u16]) -> Result<ExitCode, Error> {
    let missing = ports::release(dir, ports).map_err(port_error)?;
    if missing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let list: Vec<String> = missing.iter().map(u16::to_string).collect();
    eprintln!("{NAME}: no lease to release for port {}", list.join(", "));
    Ok(ExitCode::FAILURE)
}

fn list(dir: &LeaseDir, as_json: bool) -> Result<ExitCode, Error> {
    let leases = dir.leases().map_err(port_error)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let boot = ports::boot_id();
    let netns = ports::netns_id();
    let mut out = String::new();
    if as_json {
        let items: Vec<serde_json::Value> = leases
            .iter()
            .map(|(port, lease)| match lease {
                Ok(l) => {
                    let end = l.end(now, &boot);
                    json!({
                        "port": port,
                        "pid": l.owner.pid,
                        "owner_alive": end.owner_alive(),
                        "live": end.is_live(),
                        "uid": l.uid,
                        "taken": l.taken,
                        "grace_until": l.grace_until,
                        "expires": l.expires,
                        "ends": ends_json(end),
                        "netns": l.netns,
                        "this_netns": l.netns.is_some() && l.netns == netns,
                        "command": l.command,
                    })
                }
                Err(why) => json!({"port": port, "error": why}),
            })
            .collect();
        out = format!("{}\n", serde_json::Value::Array(items));
    } else {
        let rows: Vec<(u16, Result<[String; 6], &String>)> = leases
            .iter()
            .map(|(port, lease)| {
                let row = lease.as_ref().map(|l| {
                    // One look at the owner for the whole row.
                    let end = l.end(now, &boot);
                    let alive = if end.owner_alive() { "alive" } else { "gone" };
                    let state = if end.is_live() { "live" } else { "stale" };
                    [
                        l.owner.pid.to_string(),
                        alive.to_owned(),
                        state.to_owned(),
                        ends_text(end, now),
                        l.command.clone(),
                        // A lease of before namespaces were recorded holds
                        // its port in every one.
                        l.netns.map_or_else(|| "any".to_owned(), |n| n.to_string()),
                    ]
                });
                (*port, row)
            })
            .collect();
        let ends_width = rows
            .iter()
            .filter_map(|(_, row)| row.as_ref().ok())
            .map(|row| row[3].len())
            .max()
            .unwrap_or(0)
            .max("ENDS".len());
        out.push_str(&format!(
            "PORT   PID      OWNER  LEASE  NETNS       {:<ends_width$}  COMMAND\n",
            "ENDS"
        ));
        for (port, row) in rows {
            match row {
                Ok([pid, alive, state, ends, command, netns]) => out.push_str(&format!(
                    "{port:<6} {pid:<8} {alive:<6} {state:<6} {netns:<11} {ends:<ends_width$}  {command}\n"
                )),
                Err(why) => out.push_str(&format!("{port:<6} (not a lease: {why})\n")),
            }
        }
    }
    print_all(&out)
}

/// When a lease ends, for `list`: "in 45s (grace; owner gone)" rather
/// than an expiry that will never be reached.
fn ends_text(end: LeaseEnd, now: u64) -> String {
    let within = |at: u64| format!("{}s", at.saturating_sub(now));
    match end {
        LeaseEnd::WithOwner {
            not_before,
            at_most,
        } => {
            let mut text = "when its owner exits".to_owned();
            if let Some(grace) = not_before {
                text.push_str(&format!(" (not before {}: grace)", within(grace)));
            }
            if let Some(cap) = at_most {
                text.push_str(&format!(", at most in {} (lease cap)", within(cap)));
            }
            text
        }
        LeaseEnd::Grace { until, why: w } => {
            format!("in {} (grace; {})", within(until), w.as_str())
        }
        LeaseEnd::Ended { why: w } => format!("ended ({})", w.as_str()),
    }
}

fn ends_json(end: LeaseEnd) -> serde_json::Value {
    match end {
        LeaseEnd::WithOwner {
            not_before,
            at_most,
        } => json!({"when": "owner exits", "not_before": not_before, "at_most": at_most}),
        LeaseEnd::Grace { until, why: w } => {
            json!({"when": "grace ends", "at": until, "because": w.as_str()})
        }
        LeaseEnd::Ended { why: w } => json!({"when": "ended", "because": w.as_str()}),
    }
}

fn gc(dir: &LeaseDir, as_json: bool) -> Result<ExitCode, Error> {
    let removed = ports::collect_garbage(dir).map_err(port_error)?;
    let out = if as_json {
        format!("{}\n", json!({"removed": removed}))
    } else {
        removed.iter().map(|p| format!("{p}\n")).collect()
    };
    print_all(&out)
}

fn print_all(text: &str) -> Result<ExitCode, Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
