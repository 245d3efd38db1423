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
use crate::signals::{Blocked, Children, PassOn};

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
                  holds while its owner process lives (by default the calling shell, the \
                  parent of port-alloc) and at most --lease seconds, but never less than \
                  --grace seconds after it was taken, so a caller in a short-lived subshell \
                  keeps its ports until its server has bound them. Leases are taken before \
                  ports are probed, so cooperating callers never probe each other's ports, \
                  and no daemon is needed.\n\n\
                  With -- COMMAND, the ports are held exactly while COMMAND runs and passed to \
                  it as PORT0, PORT1, ... and PORTS (all of them, separated by spaces); \
                  port-alloc forwards signals to it and exits with its status.",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// How many ports.
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub count: u16,

    /// Adjacent ports (N in a row).
    #[arg(long)]
    pub consecutive: bool,

    /// Check that the ports are free for UDP too.
    #[arg(long)]
    pub udp: bool,

    /// The process whose life the leases follow (default: the parent).
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
    /// List the leases: port, owner, whether it is alive, when the lease ends
    /// and why (with its owner, its grace period, its lease cap), command.
    List,
    /// Remove stale leases (dead owner or expired, past the grace period) of
    /// ports nobody has bound.
    Gc,
}

/// Man page sections after OPTIONS.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXAMPLES",
        "Three ports for the calling shell:\n\n    \
         read -r p0 p1 p2 <<<\"$(port-alloc -n 3 | tr '\\n' ' ')\"\n\n\
         Ports held exactly while a test runs:\n\n    \
         port-alloc -n 2 -- sh -c 'server --port $PORT0 & client --port $PORT1'\n\n\
         See who holds what:\n\n    port-alloc list",
    ),
    (
        "POOL",
        "Ports 1024-65535 without the kernel's ephemeral range \
         (/proc/sys/net/ipv4/ip_local_port_range). PORT_ALLOC_PORTS=lo-hi,port,... or a \
         file named by PORT_ALLOC_PORTS_FILE (the same list; commas, spaces or newlines \
         between items, # comments) replaces that. Whatever the pool, the kernel's \
         reserved ports (ip_local_reserved_ports), the ports browsers refuse to connect \
         to and --exclude are never handed out. Ports are picked at random.",
    ),
    (
        "PROBE",
        "A port is handed out only if its lease was taken and nothing is bound to it: \
         binding without SO_REUSEADDR, as a server would, on 0.0.0.0, ::, 127.0.0.1 and \
         ::1 (TCP, and UDP with --udp). An address family the machine lacks is skipped.",
    ),
    (
        "LEASES",
        "Leases live in /tmp/port-alloc (PORT_ALLOC_DIR overrides it), a directory \
         writable by everyone with the sticky bit, as /tmp is; a directory others may \
         write to without the sticky bit is refused. A lease records its owner's pid and \
         start time (so a reused pid or a zombie does not keep it alive), the boot, the \
         user, when it was taken, its grace and expiry, and the owner's command line. It \
         is written whole to a temporary file and linked into place, which fails if the \
         port's lease exists: at most one caller ever holds it. Nothing in the directory \
         is opened through a symbolic link; a file there that is not a lease keeps its \
         port out of use and is reported. A lease is removed only under the directory's \
         lock, after reading it again, and a stale one only if nobody has bound its port.",
    ),
    (
        "SHARED DIRECTORY",
        "Whoever creates the lease directory owns it and, sticky bit or not, could remove \
         other users' leases, as could anyone holding its .lock file: on machines shared \
         with untrusted users, have root create /tmp/port-alloc (mode 1777), e.g. with \
         systemd-tmpfiles, or give each user a PORT_ALLOC_DIR of their own.",
    ),
    (
        "ENVIRONMENT",
        "PORT_ALLOC_DIR: the lease directory. PORT_ALLOC_PORTS, PORT_ALLOC_PORTS_FILE: \
         the pool. With -- COMMAND, COMMAND gets PORT0, PORT1, ... and PORTS.",
    ),
    (
        "EXIT STATUS",
        "0 when the ports were reserved (or released, listed, collected); 1 when not \
         enough ports are free (nothing is then reserved) or release found no lease; 2 \
         on usage errors and when the lease directory is unusable. With -- COMMAND, \
         COMMAND's status (128+N if a signal N killed it).",
    ),
];

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
    let mut pool = if let Some(list) = std::env::var_os("PORT_ALLOC_PORTS") {
        let list = list.to_string_lossy().into_owned();
        PortSet::parse(&list).map_err(|e| Error::Usage(format!("PORT_ALLOC_PORTS: {e}")))?
    } else if let Some(path) = std::env::var_os("PORT_ALLOC_PORTS_FILE") {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        PortSet::parse(&text)
            .map_err(|e| Error::Usage(format!("PORT_ALLOC_PORTS_FILE {}: {e}", path.display())))?
    } else {
        ports::default_pool()
    };
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

fn allocate(dir: &LeaseDir, args: &Args) -> Result<ExitCode, Error> {
    let pool = pool(args)?;
    let with_command = !args.command.is_empty();
    let owner_pid = if with_command {
        std::process::id()
    } else {
        // SAFETY: getppid cannot fail.
        args.owner
            .unwrap_or_else(|| unsafe { libc::getppid() } as u32)
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
    let mut warn = |message: String| eprintln!("{NAME}: warning: {message}");
    let leases = match ports::allocate(dir, &request, &mut warn) {
        Ok(leases) => leases,
        Err(err @ PortError::NotEnough { .. }) => {
            eprintln!("{NAME}: {err}");
            return Ok(ExitCode::FAILURE);
        }
        Err(err) => return Err(port_error(err)),
    };
    let taken: Vec<u16> = leases.iter().map(|l| l.port).collect();
    if with_command {
        let code = run_holding(&args.command, &taken);
        // Never 0 with leases left behind: whoever relies on the ports
        // being free again must learn they are not.
        if let Err(err) = ports::give_back(dir, &leases) {
            eprintln!("{NAME}: {err}");
            return Ok(ExitCode::from(match code? {
                0 => cli::EXIT_ERROR,
                code => code,
            }));
        }
        return Ok(ExitCode::from(code?));
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
        if let Err(left) = ports::give_back(dir, &leases) {
            eprintln!("{NAME}: {left}");
        }
        return Err(Error::Write(err));
    }
    Ok(ExitCode::SUCCESS)
}

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

/// Runs the command with the ports in its environment, passing signals on;
/// its exit status.
fn run_holding(command: &[OsString], ports: &[u16]) -> Result<u8, Error> {
    // Taken by a thread of our own and passed on.
    let blocked = Blocked::new(&FORWARDED);
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    for (i, port) in ports.iter().enumerate() {
        cmd.env(format!("PORT{i}"), port.to_string());
    }
    let all: Vec<String> = ports.iter().map(u16::to_string).collect();
    cmd.env("PORTS", all.join(" "));
    let children = Children::default();
    let mut child = match children.spawn(&mut cmd) {
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
            return Ok(code);
        }
    };
    // A signal the terminal sent to the whole foreground group has reached
    // the command already; only those sent to us are passed on.
    blocked
        .pass_on(children.clone(), PassOn::ToChildren)
        .map_err(Error::Write)?;
    let status = children
        .wait(&mut child)
        .map_err(Error::reading("the command"))?;
    Ok(os::exit_code(status))
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
                        "command": l.command,
                    })
                }
                Err(why) => json!({"port": port, "error": why}),
            })
            .collect();
        out = format!("{}\n", serde_json::Value::Array(items));
    } else {
        let rows: Vec<(u16, Result<[String; 5], &String>)> = leases
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
            "PORT   PID      OWNER  LEASE  {:<ends_width$}  COMMAND\n",
            "ENDS"
        ));
        for (port, row) in rows {
            match row {
                Ok([pid, alive, state, ends, command]) => out.push_str(&format!(
                    "{port:<6} {pid:<8} {alive:<6} {state:<6} {ends:<ends_width$}  {command}\n"
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
