//! port-alloc (SPEC section 4): no two live holders ever share a port, even
//! with many callers at once; leases follow their owners; bound ports,
//! browser-bad ports and exclusions are never handed out; the pool
//! overrides, `-- COMMAND`, `release`, `list`, `gc`, `--wait`,
//! `--consecutive` and `--json`; a hostile lease directory.
//!
//! Every test uses a private lease directory (PORT_ALLOC_DIR under the
//! temporary directory, named with the pid and a counter) and its own pool
//! of ports (in 21000-22999, below the kernel's ephemeral range; listeners
//! bind free ports of 23000-29999), so the tests can run in parallel and
//! never touch the machine-wide /tmp/port-alloc.
//!

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use subunit_tools::ports::{Lease, Process};

const BIN: &str = env!("CARGO_BIN_EXE_port-alloc");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------
// Helpers

/// A private scratch directory with a lease directory in it; removed (and
/// its FIFOs opened, so nothing stays blocked on them) on drop.
struct Fixture {
    scratch: PathBuf,
    dir: PathBuf,
    pool: Option<String>,
}

impl Fixture {
    /// A fixture whose commands draw from `pool` (PORT_ALLOC_PORTS).
    fn new(tag: &str, pool: &str) -> Fixture {
        let mut fx = Fixture::without_pool(tag);
        fx.pool = Some(pool.to_owned());
        fx
    }

    /// A fixture whose commands get neither PORT_ALLOC_PORTS nor
    /// PORT_ALLOC_PORTS_FILE unless a test sets them.
    fn without_pool(tag: &str) -> Fixture {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let scratch =
            std::env::temp_dir().join(format!("port-alloc-test-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir(&scratch).expect("create the scratch directory");
        fs::set_permissions(&scratch, fs::Permissions::from_mode(0o700)).expect("chmod scratch");
        let dir = scratch.join("leases");
        fs::create_dir(&dir).expect("create the lease directory");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).expect("chmod leases");
        Fixture {
            scratch,
            dir,
            pool: None,
        }
    }

    /// A path in the scratch directory (outside the lease directory).
    fn path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    /// Sets the fixture's environment on `cmd`.
    fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("PORT_ALLOC_DIR", &self.dir)
            .env_remove("PORT_ALLOC_PORTS")
            .env_remove("PORT_ALLOC_PORTS_FILE")
            .stdin(Stdio::null());
        if let Some(pool) = &self.pool {
            cmd.env("PORT_ALLOC_PORTS", pool);
        }
        cmd
    }

    /// `port-alloc ARGS` in the fixture's environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        self.env(&mut cmd);
        cmd
    }

    /// `sh -c SCRIPT sh ARGS...` in the fixture's environment, with
    /// PORT_ALLOC set to our binary.
    fn sh(&self, script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).arg("sh").args(args);
        cmd.env("PORT_ALLOC", BIN);
        self.env(&mut cmd);
        cmd
    }

    /// Runs `port-alloc ARGS` to the end.
    fn run(&self, args: &[&str]) -> Output {
        run(self.cmd(args))
    }

    /// Runs `port-alloc ARGS`, which must succeed, and returns the ports it
    /// printed.
    fn take(&self, args: &[&str]) -> Vec<u16> {
        let out = self.run(args);
        ok_ports(&out, &format!("port-alloc {}", args.join(" ")))
    }

    /// The lease directory's files named like ports, with their contents
    /// (`None`: not readable as text, e.g. a dangling symlink).
    fn files(&self) -> BTreeMap<u16, Option<String>> {
        let mut files = BTreeMap::new();
        for entry in fs::read_dir(&self.dir).expect("list the lease directory") {
            let entry = entry.expect("directory entry");
            let name = entry.file_name();
            let Some(port) = name.to_str().and_then(|n| n.parse::<u16>().ok()) else {
                continue;
            };
            files.insert(port, fs::read_to_string(entry.path()).ok());
        }
        files
    }

    /// The ports that have a file in the lease directory.
    fn lease_ports(&self) -> BTreeSet<u16> {
        self.files().into_keys().collect()
    }

    /// The parsed leases in the lease directory (files that are not leases
    /// left out).
    fn leases(&self) -> BTreeMap<u16, Lease> {
        self.files()
            .into_iter()
            .filter_map(|(port, text)| Some((port, Lease::parse(&text?)?)))
            .collect()
    }

    /// The lease of `port`, which must exist and parse.
    fn lease(&self, port: u16) -> Lease {
        let path = self.dir.join(port.to_string());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no lease file {}: {e}", path.display()));
        Lease::parse(&text).unwrap_or_else(|| panic!("{} is not a lease:\n{text}", path.display()))
    }

    /// Writes `lease` into the lease directory by hand.
    fn put_lease(&self, lease: &Lease) {
        fs::write(self.dir.join(lease.port.to_string()), lease.to_text()).expect("write a lease");
    }

    /// Checks that no temporary file was left behind in the directory.
    fn assert_no_temp_files(&self) {
        let temps: Vec<String> = fs::read_dir(&self.dir)
            .expect("list the lease directory")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".tmp"))
            .collect();
        assert!(temps.is_empty(), "temporary files left behind: {temps:?}");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Wake anything blocked opening one of our FIFOs, then remove all.
        if let Ok(entries) = fs::read_dir(&self.scratch) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| {
                    use std::os::unix::fs::FileTypeExt;
                    t.is_fifo()
                }) {
                    let _ = OpenOptions::new().read(true).write(true).open(entry.path());
                }
            }
        }
        let _ = fs::remove_dir_all(&self.scratch);
    }
}

/// A FIFO that processes wait on with `: < FIFO` until it is opened.
struct Gate {
    path: PathBuf,
    open: Option<File>,
}

impl Gate {
    fn new(path: PathBuf) -> Gate {
        let c_path = CString::new(path.as_os_str().as_bytes()).expect("no NUL in the path");
        // SAFETY: a valid C string.
        let made = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(
            made,
            0,
            "mkfifo {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        Gate { path, open: None }
    }

    /// Lets everyone through, now and later (until dropped). Opening a
    /// FIFO for reading and writing never blocks on Linux.
    fn open(&mut self) {
        if self.open.is_none() {
            self.open = Some(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&self.path)
                    .expect("open the FIFO"),
            );
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
        // Late comers find no FIFO and give up instead of blocking.
        let _ = fs::remove_file(&self.path);
    }
}

/// Child processes, killed and reaped if a test ends early.
#[derive(Default)]
struct Procs(Vec<Option<Child>>);

impl Procs {
    fn push(&mut self, child: Child) {
        self.0.push(Some(child));
    }

    fn get(&self, i: usize) -> &Child {
        self.0[i].as_ref().expect("child still here")
    }

    fn get_mut(&mut self, i: usize) -> &mut Child {
        self.0[i].as_mut().expect("child still here")
    }

    fn take(&mut self, i: usize) -> Child {
        self.0[i].take().expect("child still here")
    }

    /// Waits for every child (within `limit` in all) and returns their
    /// outputs.
    fn finish_all(&mut self, limit: Duration) -> Vec<Output> {
        let deadline = Instant::now() + limit;
        (0..self.0.len())
            .map(|i| finish(self.take(i), deadline))
            .collect()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            kill_group(child);
        }
    }
}

/// One child process (in a process group of its own), killed with its
/// children and reaped if a test ends early.
struct Running(Option<Child>);

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        Running(Some(spawn(cmd)))
    }

    /// The child, to wait for it.
    fn take(&mut self) -> Child {
        self.0.take().expect("child still here")
    }
}

impl std::ops::Deref for Running {
    type Target = Child;

    fn deref(&self) -> &Child {
        self.0.as_ref().expect("child still here")
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("child still here")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            kill_group(child);
        }
    }
}

/// Kills `child` and everything in its process group, and reaps it.
fn kill_group(child: &mut Child) {
    // SAFETY: kill with the (negated) pid of a child we started as the
    // leader of its own process group.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` until `deadline` (killing it and failing the test if
/// it runs on), then reads what is left of its output.
fn finish(mut child: Child, deadline: Instant) -> Output {
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            panic!("process {} did not finish in time", child.id());
        }
        thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout).expect("read stdout");
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_end(&mut stderr).expect("read stderr");
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs `cmd` to the end (within a minute).
fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    finish(child, Instant::now() + Duration::from_secs(60))
}

/// Spawns `cmd` with stdout and stderr piped, in a process group of its
/// own (so that it can be killed with its children).
fn spawn(cmd: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

/// The lines a child prints, as they come.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let out = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The next line, `None` at the end of the output; fails the test if
    /// none comes within `limit`.
    fn next(&self, limit: Duration) -> Option<String> {
        match self.0.recv_timeout(limit) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no output within {limit:?}"),
        }
    }
}

/// A process that lives until ended (`sleep SECONDS`), to own leases.
struct Owner(Child);

impl Owner {
    fn spawn(seconds: &str) -> Owner {
        Owner(
            Command::new("sleep")
                .arg(seconds)
                .spawn()
                .expect("spawn sleep"),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn pid_arg(&self) -> String {
        self.pid().to_string()
    }

    /// Kills and reaps it: its pid then names no process.
    fn end(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for it to end by itself.
    fn wait(mut self) {
        let _ = self.0.wait();
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pid of a process that has ended and been reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    child.wait().expect("wait for true");
    child.id()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// This boot's id, read here independently of the library.
fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("read boot_id")
        .trim()
        .to_owned()
}

/// The start time of process `pid` (field 22 of /proc/PID/stat), read here
/// independently of the library.
fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let after = &stat[stat.rfind(')').expect("a ')' in stat") + 1..];
    after
        .split_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .expect("starttime field")
}

fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// A lease of `port` by process `pid` (with start time `start`), taken 100
/// seconds ago, past its grace, expiring in 500 seconds.
fn lease_of(port: u16, pid: u32, start: u64) -> Lease {
    let now = now();
    Lease {
        port,
        owner: Process { pid, start },
        boot: boot_id(),
        uid: uid(),
        taken: now - 100,
        grace_until: now - 50,
        expires: Some(now + 500),
        command: "a test's hand-written lease".into(),
    }
}

/// A lease of `port` whose owner is dead and whose grace is over.
fn stale_lease(port: u16) -> Lease {
    lease_of(port, dead_pid(), 1)
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The ports of a successful allocation's output, one a line, distinct.
fn ok_ports(out: &Output, what: &str) -> Vec<u16> {
    assert!(out.status.success(), "{what} failed:\n{}", show(out));
    let ports: Vec<u16> = stdout(out)
        .lines()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("{what}: '{l}' is not a port:\n{}", show(out)))
        })
        .collect();
    let distinct: BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ports.len(),
        "{what}: a port printed twice:\n{}",
        show(out)
    );
    ports
}

/// Checks a failure: exit status `code`, nothing on stdout, and a message
/// on stderr starting with `port-alloc: ` that contains every needle.
fn assert_fails(out: &Output, code: i32, needles: &[&str], what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: wrong exit status:\n{}",
        show(out)
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: printed something on failure:\n{}",
        show(out)
    );
    let err = stderr(out);
    assert!(
        err.starts_with("port-alloc: "),
        "{what}: the message does not start with 'port-alloc: ':\n{}",
        show(out)
    );
    for needle in needles {
        assert!(
            err.contains(needle),
            "{what}: the message does not mention '{needle}':\n{}",
            show(out)
        );
    }
}

/// Checks that an allocation failed for want of ports.
fn assert_not_enough(out: &Output, what: &str) {
    assert_fails(out, 1, &["not enough free ports", "nothing reserved"], what);
}

fn set(ports: impl IntoIterator<Item = u16>) -> BTreeSet<u16> {
    ports.into_iter().collect()
}

/// Binds something on a free port of 23000-29999 with `bind`. Not a port
/// the kernel picks: those are in the ephemeral range, where someone's
/// outgoing connection may take a port as soon as we let it go, and "free
/// again" checks would be flaky. The search starts at a different port in
/// each run, so that two runs of these tests at once do not collide.
fn bind_free<T>(what: &str, bind: impl Fn(u16) -> std::io::Result<T>) -> (T, u16) {
    let seed = std::process::id() as usize * 7919 + COUNTER.fetch_add(1, Ordering::SeqCst) * 541;
    for i in 0..7000 {
        let port = 23000 + ((seed + i) % 7000) as u16;
        if let Ok(bound) = bind(port) {
            return (bound, port);
        }
    }
    panic!("no port of 23000-29999 is free for {what}");
}

/// A TCP listener on `host` at a free port of ours.
fn listen(host: &'static str) -> (TcpListener, u16) {
    bind_free(host, |port| TcpListener::bind((host, port)))
}

/// Whether this machine has IPv6 loopback.
fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Polls `check` until it holds, for up to 10 seconds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// The number of lines in `path` (0 if it does not exist).
fn line_count(path: &Path) -> usize {
    fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

// ---------------------------------------------------------------------------
// 1. Races

const CALLERS: usize = 50;
const ROUNDS: usize = 20;

/// Spawns `CALLERS` copies of `script` (run by sh after `$1` `$2` ...
/// = READY GO ARGS...), each waiting at a start gate; opens the gate once
/// all are waiting, so they all run port-alloc at the same moment.
/// The gate comes back open: keep it until the callers are done, as one
/// that has said it is ready may not have reached the gate yet (dropping
/// it removes the FIFO, and a caller that comes later then fails).
fn start_together(fx: &Fixture, round: usize, script: &str, args: &[&str]) -> (Procs, Gate) {
    let ready = fx.path(&format!("ready-{round}"));
    let mut go = Gate::new(fx.path(&format!("go-{round}")));
    let ready_arg = ready.to_str().expect("UTF-8 path").to_owned();
    let go_arg = go.path.to_str().expect("UTF-8 path").to_owned();
    let script = format!(r#"echo >> "$1"; : < "$2"; shift 2; {script}"#);
    let mut procs = Procs::default();
    for _ in 0..CALLERS {
        let mut all = vec![ready_arg.as_str(), go_arg.as_str()];
        all.extend_from_slice(args);
        procs.push(spawn(&mut fx.sh(&script, &all)));
    }
    eventually("every caller at the start gate", || {
        line_count(&ready) >= CALLERS
    });
    go.open();
    (procs, go)
}

/// Default mode: in each round 50 callers take 3 ports each at once for an
/// owner that lives through the round; then the owner dies, leaving 150
/// stale leases (grace 0) that the next round's callers must reclaim while
/// racing each other. The same directory throughout, so reclaiming is raced
/// as well as taking. No port may go to two callers of a round, every
/// port's lease must name the round's owner, and no other lease of the
/// owner may be left (give-backs of partial picks complete).
#[test]
fn race_fifty_callers_never_share_a_port() {
    let fx = Fixture::new("race", "21000-21349");
    let mut reclaimed = 0;
    let mut stale: BTreeSet<u16> = BTreeSet::new();
    for round in 0..ROUNDS {
        let owner = Owner::spawn("120");
        let (mut procs, _go) = start_together(
            &fx,
            round,
            r#"exec "$PORT_ALLOC" -n 3 --owner "$1" --grace 0"#,
            &[&owner.pid_arg()],
        );
        let outputs = procs.finish_all(Duration::from_secs(60));
        let mut holder: BTreeMap<u16, usize> = BTreeMap::new();
        for (i, out) in outputs.iter().enumerate() {
            let ports = ok_ports(out, &format!("round {round}, caller {i}"));
            assert_eq!(ports.len(), 3, "round {round}, caller {i}:\n{}", show(out));
            for port in ports {
                assert!(
                    (21000..=21349).contains(&port),
                    "round {round}: port {port} is not in the pool"
                );
                if let Some(other) = holder.insert(port, i) {
                    panic!("round {round}: port {port} handed to callers {other} and {i} at once");
                }
            }
        }
        assert_eq!(holder.len(), 3 * CALLERS);
        let leases = fx.leases();
        for port in holder.keys() {
            let lease = leases.get(port).unwrap_or_else(|| {
                panic!("round {round}: port {port} was handed out without a lease on disk")
            });
            assert_eq!(
                lease.owner.pid,
                owner.pid(),
                "round {round}: the lease of port {port} was replaced: {lease:?}"
            );
        }
        let owned: BTreeSet<u16> = leases
            .iter()
            .filter(|(_, l)| l.owner.pid == owner.pid())
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(
            owned,
            holder.keys().copied().collect(),
            "round {round}: leases of the owner that nobody was given (a give-back failed)"
        );
        reclaimed += holder.keys().filter(|p| stale.contains(p)).count();
        stale = leases.keys().copied().collect();
        owner.end();
    }
    fx.assert_no_temp_files();
    assert!(
        reclaimed > 0,
        "no round took over a stale lease: the reclaiming path was not exercised"
    );
}

/// `-- COMMAND` mode, as a harness uses it: in each round 50 callers
/// `port-alloc -n 3 --grace 0 -- sh -c 'echo $PORTS; : < GATE'` start at once
/// and all hold their ports together (each command waits at a gate until
/// every one has printed its ports): no port is printed by two of them.
/// Then a few port-allocs are killed (their leases go stale and must be
/// reclaimed by later rounds) and the rest end normally, releasing theirs.
#[test]
fn race_fifty_commands_alive_together_never_share_a_port() {
    let fx = Fixture::new("race-cmd", "21400-21749");
    let mut holds = Vec::new();
    let mut stale: BTreeSet<u16> = BTreeSet::new();
    let mut all_killed: BTreeSet<u32> = BTreeSet::new();
    let mut reclaimed = 0;
    for round in 0..ROUNDS {
        let hold = Gate::new(fx.path(&format!("hold-{round}")));
        let inner = r#"echo "$PORTS"; : < "$0""#;
        let (mut procs, _go) = start_together(
            &fx,
            round,
            r#"exec "$PORT_ALLOC" -n 3 --grace 0 -- sh -c "$1" "$2""#,
            &[inner, hold.path.to_str().expect("UTF-8 path")],
        );
        let lines: Vec<Lines> = (0..CALLERS).map(|i| Lines::of(procs.get_mut(i))).collect();
        let mut printed: Vec<Option<String>> = lines
            .iter()
            .map(|l| l.next(Duration::from_secs(60)))
            .collect();
        if printed.iter().any(Option::is_none) {
            let mut hold = hold;
            hold.open();
            let outputs = procs.finish_all(Duration::from_secs(60));
            let failed: Vec<String> = (0..CALLERS)
                .filter(|&i| printed[i].is_none())
                .map(|i| format!("caller {i}: {}", show(&outputs[i])))
                .collect();
            panic!("round {round}: callers failed:\n{}", failed.join("\n"));
        }
        // Every command is now running (it printed) and holding: none may
        // share a port with another.
        let mut holder: BTreeMap<u16, usize> = BTreeMap::new();
        let leases = fx.leases();
        for (i, line) in printed.iter_mut().enumerate() {
            let line = line.take().unwrap_or_default();
            let ports: Vec<u16> = line
                .split_whitespace()
                .map(|p| p.parse().expect("PORTS holds ports"))
                .collect();
            assert_eq!(ports.len(), 3, "round {round}, caller {i}: PORTS='{line}'");
            for port in ports {
                if let Some(other) = holder.insert(port, i) {
                    panic!(
                        "round {round}: port {port} held by the commands of callers {other} and {i} at once"
                    );
                }
                let pid = procs.get(i).id();
                assert_eq!(
                    leases.get(&port).map(|l| l.owner.pid),
                    Some(pid),
                    "round {round}: port {port} is held by port-alloc {pid} without its lease"
                );
            }
        }
        reclaimed += holder.keys().filter(|p| stale.contains(p)).count();
        // Kill a few port-allocs, leaving stale leases for the next rounds
        // to reclaim while racing.
        let mut killed = BTreeSet::new();
        for i in (round % 10..CALLERS).step_by(10) {
            let child = procs.get_mut(i);
            killed.insert(child.id());
            child.kill().expect("kill port-alloc");
            child.wait().expect("reap port-alloc");
        }
        let mut hold = hold;
        hold.open();
        for i in 0..CALLERS {
            let child = procs.take(i);
            let pid = child.id();
            let out = finish(child, Instant::now() + Duration::from_secs(60));
            if !killed.contains(&pid) {
                assert!(
                    out.status.success(),
                    "round {round}, caller {i}: {}",
                    show(&out)
                );
            }
        }
        holds.push(hold);
        all_killed.extend(killed);
        // The rest released their ports on the way out.
        let left = fx.leases();
        for (port, lease) in &left {
            assert!(
                all_killed.contains(&lease.owner.pid),
                "round {round}: port {port} still leased by a port-alloc that ended normally: {lease:?}"
            );
        }
        stale = left.keys().copied().collect();
    }
    fx.assert_no_temp_files();
    assert!(
        reclaimed > 0,
        "no round took over a stale lease: the reclaiming path was not exercised"
    );
}

// ---------------------------------------------------------------------------
// 2. -- COMMAND

/// While a command holds 3 ports of a pool of 10, every allocation of 7
/// gets exactly the other 7, and 8 are never available; afterwards all 10
/// are free again.
#[test]
fn ports_held_by_a_command_are_never_handed_out_while_it_runs() {
    let fx = Fixture::new("held", "22000-22009");
    let pool = set(22000..=22009);
    let mut hold = Gate::new(fx.path("hold"));
    let mut holder = Running::spawn(&mut fx.cmd(&[
        "-n",
        "3",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS"; : < "$0""#,
        hold.path.to_str().expect("UTF-8 path"),
    ]));
    let lines = Lines::of(&mut holder);
    let held: BTreeSet<u16> = lines
        .next(Duration::from_secs(10))
        .expect("the holder prints its ports")
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(held.len(), 3);
    assert!(held.is_subset(&pool));
    for &port in &held {
        assert_eq!(
            fx.lease(port).owner.pid,
            holder.id(),
            "the lease of port {port} names the port-alloc that runs the command"
        );
    }
    let rest: BTreeSet<u16> = pool.difference(&held).copied().collect();
    for attempt in 0..15 {
        let out = run(fx.cmd(&["-n", "7", "--", "sh", "-c", r#"echo "$PORTS""#]));
        assert!(out.status.success(), "attempt {attempt}:\n{}", show(&out));
        let got = set(stdout(&out)
            .split_whitespace()
            .map(|p| p.parse::<u16>().expect("a port")));
        assert_eq!(got, rest, "attempt {attempt}: not exactly the free ports");
        let out = fx.run(&["-n", "8"]);
        assert_not_enough(&out, "8 ports while 3 of 10 are held");
    }
    let owner = Owner::spawn("60");
    for attempt in 0..15 {
        let got = set(fx.take(&["-n", "7", "--owner", &owner.pid_arg()]));
        assert_eq!(got, rest, "attempt {attempt} in default mode");
        let ours: Vec<String> = got.iter().map(u16::to_string).collect();
        let mut release = vec!["release"];
        release.extend(ours.iter().map(String::as_str));
        let out = fx.run(&release);
        assert!(out.status.success(), "{}", show(&out));
        assert_eq!(fx.lease_ports(), held, "only the command's leases are left");
    }
    hold.open();
    let out = finish(holder.take(), Instant::now() + Duration::from_secs(10));
    assert!(out.status.success(), "the holder: {}", show(&out));
    assert!(
        fx.lease_ports().is_empty(),
        "leases left after the command ended: {:?}",
        fx.files()
    );
    let all = run(fx.cmd(&["-n", "10", "--", "sh", "-c", r#"echo "$PORTS""#]));
    assert!(all.status.success(), "{}", show(&all));
    assert_eq!(
        set(stdout(&all)
            .split_whitespace()
            .map(|p| p.parse::<u16>().expect("a port"))),
        pool,
        "all ports free again after the holder ended"
    );
    fx.assert_no_temp_files();
}

/// The command gets PORT0..PORT2 and PORTS (and no PORT3), sees its leases
/// in the directory while it runs, and they are gone afterwards.
#[test]
fn a_command_gets_its_ports_in_the_environment() {
    let fx = Fixture::new("env", "22020-22029");
    let out = run(fx.cmd(&[
        "-n",
        "3",
        "--",
        "sh",
        "-c",
        r#"echo "$PORT0 $PORT1 $PORT2"; echo "$PORTS"; echo "${PORT3-unset}"; ls "$PORT_ALLOC_DIR""#,
    ]));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{}", show(&out));
    assert_eq!(lines[0], lines[1], "PORT0..PORT2 are PORTS, in order");
    assert_eq!(lines[2], "unset", "PORT3 is not set for 3 ports");
    let ports: Vec<u16> = lines[1]
        .split(' ')
        .map(|p| {
            p.parse()
                .expect("PORTS is ports separated by single spaces")
        })
        .collect();
    assert_eq!(set(ports.iter().copied()).len(), 3, "3 distinct ports");
    assert!(ports.iter().all(|p| (22020..=22029).contains(p)));
    let listed: BTreeSet<u16> = lines[3..].iter().filter_map(|l| l.parse().ok()).collect();
    assert_eq!(
        listed,
        set(ports),
        "while the command runs, the directory holds exactly its leases"
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
    // One port: PORT0 and PORTS.
    let out = run(fx.cmd(&["--", "sh", "-c", r#"echo "$PORT0|$PORTS|${PORT1-unset}""#]));
    let text = stdout(&out);
    let fields: Vec<&str> = text.trim_end().split('|').collect();
    assert_eq!(fields.len(), 3, "{}", show(&out));
    assert_eq!(fields[0], fields[1]);
    assert_eq!(fields[2], "unset");
}

/// port-alloc exits with the command's status, 128+N when a signal N killed
/// it, and 127 when there is no such command; the leases are released in
/// every case.
#[test]
fn a_commands_exit_status_is_passed_on() {
    let fx = Fixture::new("status", "22040-22049");
    for (script, code) in [
        ("true", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -KILL $$", 128 + 9),
    ] {
        let out = run(fx.cmd(&["-n", "2", "--", "sh", "-c", script]));
        assert_eq!(
            out.status.code(),
            Some(code),
            "sh -c '{script}':\n{}",
            show(&out)
        );
        assert!(
            fx.lease_ports().is_empty(),
            "leases left after sh -c '{script}': {:?}",
            fx.files()
        );
    }
    let missing = fx.path("no-such-command");
    let out = run(fx.cmd(&["--", missing.to_str().expect("UTF-8 path")]));
    assert_fails(
        &out,
        127,
        &["cannot run", "no-such-command"],
        "a missing command",
    );
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

fn send(pid: u32, signal: i32) {
    // SAFETY: kill with a pid of our own child.
    let sent = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill {pid}: {}", std::io::Error::last_os_error());
}

/// A signal sent to port-alloc reaches the command; port-alloc survives it
/// to release the ports and exits with the command's status.
#[test]
fn signals_to_port_alloc_reach_the_command() {
    let fx = Fixture::new("signal", "22060-22069");
    // The command handles the signal: its exit status comes back.
    let mut child = Running::spawn(&mut fx.cmd(&[
        "-n",
        "2",
        "--",
        "sh",
        "-c",
        r#"trap 'echo got-term; exit 7' TERM; echo "ready $PORTS"; while :; do sleep 0.05; done"#,
    ]));
    let lines = Lines::of(&mut child);
    let ready = lines
        .next(Duration::from_secs(10))
        .expect("the command starts");
    assert!(ready.starts_with("ready "), "{ready}");
    assert_eq!(fx.lease_ports().len(), 2, "2 leases while the command runs");
    send(child.id(), libc::SIGTERM);
    assert_eq!(
        lines.next(Duration::from_secs(10)).as_deref(),
        Some("got-term"),
        "the command's trap ran"
    );
    let out = finish(child.take(), Instant::now() + Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(7), "{}", show(&out));
    assert!(fx.lease_ports().is_empty(), "leases left: {:?}", fx.files());
}

/// The signal mask of a command run directly and of one run by port-alloc
/// (the SigBlk line of /proc/self/status).
fn signal_masks(fx: &Fixture) -> (String, String) {
    let mut direct = Command::new("grep");
    direct.args(["SigBlk", "/proc/self/status"]);
    let direct = run(direct);
    let held = run(fx.cmd(&["--", "grep", "SigBlk", "/proc/self/status"]));
    assert!(held.status.success(), "{}", show(&held));
    (stdout(&direct), stdout(&held))
}

/// The command starts with its caller's signal mask, so a signal passed on
/// to it works even if it never unblocks signals (sleep, most servers):
/// the command dies of it (128+N, quickly), and port-alloc outlives it and
/// releases the ports. A signal the command sends itself works too. (std's
/// Command keeps the parent's signal mask, rust-lang/rust#101077: blocking
/// the forwarded signals in port-alloc must not block them in the command.)
#[test]
fn signals_reach_a_command_that_does_not_unblock_them() {
    let fx = Fixture::new("signal-mask", "22070-22079");
    let (direct, held) = signal_masks(&fx);
    assert_eq!(
        held, direct,
        "the command's signal mask is not its caller's"
    );
    let out = run(fx.cmd(&["--", "sh", "-c", "kill -TERM $$"]));
    assert_eq!(out.status.code(), Some(128 + 15), "{}", show(&out));
    for (signal, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGUSR1, "USR1"),
    ] {
        let started = Instant::now();
        let mut child =
            Running::spawn(&mut fx.cmd(&["--", "sh", "-c", "echo ready; exec sleep 30"]));
        let lines = Lines::of(&mut child);
        assert_eq!(
            lines.next(Duration::from_secs(10)).as_deref(),
            Some("ready")
        );
        send(child.id(), signal);
        let out = finish(child.take(), Instant::now() + Duration::from_secs(10));
        assert_eq!(
            out.status.code(),
            Some(128 + signal),
            "SIG{name} to port-alloc: it must outlive the command and pass on its status:\n{}",
            show(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIG{name} did not reach the command"
        );
        assert!(
            fx.lease_ports().is_empty(),
            "leases left after SIG{name}: {:?}",
            fx.files()
        );
    }
}

// ---------------------------------------------------------------------------
// 3. Owners

/// A lease whose owner died is taken over once its grace is over (grace 0:
/// at once); while the owner lives it holds.
#[test]
fn a_dead_owners_lease_is_reclaimed() {
    let fx = Fixture::new("dead-owner", "22100-22102");
    let owner = Owner::spawn("0.2");
    let first = set(fx.take(&["-n", "3", "--owner", &owner.pid_arg(), "--grace", "0"]));
    assert_eq!(first, set(22100..=22102));
    let lease = fx.lease(22100);
    assert_eq!(lease.owner.pid, owner.pid(), "the lease names the owner");
    assert_eq!(
        lease.owner.start,
        start_time(owner.pid()),
        "the lease records the owner's start time"
    );
    assert_eq!(lease.boot, boot_id(), "the lease records the boot");
    assert_eq!(lease.uid, uid());
    let out = fx.run(&["-n", "1", "--grace", "0"]);
    assert_not_enough(&out, "while the owner lives");
    owner.wait();
    let next = Owner::spawn("60");
    let again = set(fx.take(&["-n", "3", "--owner", &next.pid_arg(), "--grace", "0"]));
    assert_eq!(again, first, "the dead owner's ports are taken over");
    for port in again {
        assert_eq!(
            fx.lease(port).owner.pid,
            next.pid(),
            "port {port}'s new lease"
        );
    }
    fx.assert_no_temp_files();
}

/// A dead owner's lease holds until its grace is over: neither an
/// allocation nor gc takes it.
#[test]
fn a_dead_owner_within_its_grace_still_holds() {
    let fx = Fixture::new("grace", "22110-22112");
    let owner = Owner::spawn("60");
    let pid = owner.pid();
    let first = set(fx.take(&["-n", "3", "--owner", &owner.pid_arg(), "--grace", "30"]));
    owner.end();
    let out = fx.run(&["-n", "1", "--grace", "0"]);
    assert_not_enough(&out, "a dead owner within its grace");
    let gc = fx.run(&["gc"]);
    assert!(gc.status.success(), "{}", show(&gc));
    assert_eq!(stdout(&gc), "", "gc removed nothing");
    assert_eq!(fx.lease_ports(), first);
    assert!(fx.leases().values().all(|l| l.owner.pid == pid));
}

/// Without --owner the lease follows the calling process (port-alloc's
/// parent); with the default grace a short-lived caller's ports hold after
/// it ends, with --grace 0 they are free as soon as it is gone.
#[test]
fn the_default_owner_is_the_calling_process() {
    let fx = Fixture::new("parent", "22130");
    let out = run(fx.sh(r#""$PORT_ALLOC" --grace 0 && echo "shell $$""#, &[]));
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("22130"));
    let shell: u32 = lines
        .next()
        .and_then(|l| l.strip_prefix("shell "))
        .and_then(|p| p.parse().ok())
        .expect("the shell's pid");
    let lease = fx.lease(22130);
    assert_eq!(
        lease.owner.pid, shell,
        "the lease's owner is the calling shell"
    );
    assert!(
        lease.command.starts_with("sh -c"),
        "the lease records the owner's command line: {lease:?}"
    );
    // The shell has ended (and been reaped): the port is free again.
    fx.take(&["--grace", "0", "--owner", &Owner::spawn("1").pid_arg()]);

    let fx = Fixture::new("parent-grace", "22131");
    let out = run(fx.sh(r#""$PORT_ALLOC" && true"#, &[]));
    assert_eq!(ok_ports(&out, "in a subshell"), [22131]);
    let out = fx.run(&["-n", "1"]);
    assert_not_enough(&out, "a short-lived caller's port within the default grace");
}

/// A lease names its owner by pid and start time: another process with the
/// same pid (here: a live process, but a different start time) does not
/// keep the lease alive, nor does the right process of another boot, nor
/// the right process past the lease's expiry.
#[test]
fn a_reused_pid_does_not_keep_a_lease_alive() {
    let fx = Fixture::new("reused-pid", "22120-22123");
    let owner = Owner::spawn("60");
    let pid = owner.pid();
    let start = start_time(pid);
    let live = lease_of(22120, pid, start);
    let reused = lease_of(22121, pid, start + 1);
    let other_boot = Lease {
        boot: "00000000-0000-0000-0000-000000000000".into(),
        ..lease_of(22122, pid, start)
    };
    let expired = Lease {
        expires: Some(now() - 1),
        ..lease_of(22123, pid, start)
    };
    for lease in [&live, &reused, &other_boot, &expired] {
        fx.put_lease(lease);
    }
    let me = Owner::spawn("60");
    let got = set(fx.take(&["-n", "3", "--owner", &me.pid_arg()]));
    assert_eq!(
        got,
        set([22121, 22122, 22123]),
        "the reused pid's, the other boot's and the expired lease are taken over; the live one is not"
    );
    assert_eq!(fx.lease(22120), live, "the live lease is untouched");
    let out = fx.run(&["-n", "1", "--owner", &me.pid_arg()]);
    assert_not_enough(&out, "only the live lease's port is left");
}

// ---------------------------------------------------------------------------
// 4. Ports bound by others

/// Ports that something has bound (TCP on 127.0.0.1, on 0.0.0.0, on [::1]
/// and dual-stack [::] where there is IPv6) are never handed out, and their
/// leases are given back at once.
#[test]
fn ports_bound_by_others_are_never_handed_out() {
    let fx_free = set(22200..=22202);
    let mut listeners = vec![listen("127.0.0.1"), listen("0.0.0.0")];
    if has_ipv6_loopback() {
        listeners.push(listen("::1"));
        listeners.push(listen("::"));
    } else {
        eprintln!("no IPv6 loopback here: skipping the [::1] listener");
    }
    let bound: BTreeSet<u16> = listeners.iter().map(|(_, port)| *port).collect();
    let pool: Vec<String> = bound
        .iter()
        .chain(fx_free.iter())
        .map(u16::to_string)
        .collect();
    let fx = Fixture::new("bound", &pool.join(","));
    for attempt in 0..20 {
        let got = set(fx.take(&["-n", "3", "--", "sh", "-c", r#"printf '%s\n' $PORTS"#]));
        assert_eq!(
            got, fx_free,
            "attempt {attempt}: a bound port was handed out ({bound:?} are bound)"
        );
        let out = fx.run(&["-n", "4", "--", "true"]);
        assert_not_enough(&out, "only 3 ports are not bound");
        assert!(
            fx.lease_ports().is_empty(),
            "leases left after probing bound ports: {:?}",
            fx.files()
        );
    }
    // One at a time, in default mode too.
    let owner = Owner::spawn("60");
    for _ in 0..3 {
        fx.take(&["--owner", &owner.pid_arg()]);
    }
    assert_eq!(
        fx.lease_ports(),
        fx_free,
        "only the unbound ports were leased"
    );
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "the rest are bound",
    );
    // Once the listeners close, their ports can be had.
    drop(listeners);
    let got = set(fx.take(&["-n", &bound.len().to_string(), "--owner", &owner.pid_arg()]));
    assert_eq!(got, bound, "the ports are free once the listeners close");
    fx.assert_no_temp_files();
}

/// With --udp a port bound for UDP is not handed out; without, UDP does
/// not matter.
#[test]
fn udp_checks_udp_too() {
    let (_socket, port) = bind_free("UDP", |port| UdpSocket::bind(("127.0.0.1", port)));
    let fx = Fixture::new("udp", &port.to_string());
    let owner = Owner::spawn("60");
    assert_not_enough(
        &fx.run(&["--udp", "--owner", &owner.pid_arg()]),
        "a UDP-bound port with --udp",
    );
    assert!(fx.lease_ports().is_empty(), "the lease was given back");
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [port]);
}

/// gc (and an allocation) leave a stale lease alone while its port is
/// bound; once it is not, gc removes it.
#[test]
fn a_stale_lease_of_a_bound_port_is_kept() {
    let (listener, bound) = listen("127.0.0.1");
    let fx = Fixture::new("gc-bound", &format!("{bound},22220"));
    let kept = stale_lease(bound);
    fx.put_lease(&kept);
    fx.put_lease(&stale_lease(22220));
    let gc = fx.run(&["gc"]);
    assert!(gc.status.success(), "{}", show(&gc));
    assert_eq!(
        stdout(&gc),
        "22220\n",
        "gc removes only the unbound port's lease"
    );
    assert_eq!(fx.lease_ports(), set([bound]));
    assert_eq!(
        fx.lease(bound),
        kept,
        "the bound port's stale lease is untouched"
    );
    let owner = Owner::spawn("60");
    assert_eq!(fx.take(&["-n", "1", "--owner", &owner.pid_arg()]), [22220]);
    assert_not_enough(
        &fx.run(&["-n", "1", "--owner", &owner.pid_arg()]),
        "the stale lease of a bound port",
    );
    assert_eq!(fx.lease(bound), kept, "an allocation did not take it over");
    drop(listener);
    let gc = fx.run(&["gc", "--json"]);
    assert!(gc.status.success(), "{}", show(&gc));
    let removed: serde_json::Value = serde_json::from_slice(&gc.stdout).expect("gc --json");
    assert_eq!(removed, serde_json::json!({ "removed": [bound] }));
    assert_eq!(fx.lease_ports(), set([22220]));
}

// ---------------------------------------------------------------------------
// 5. Pool, exclusions, options

/// PORT_ALLOC_PORTS: ranges, single ports, commas and spaces.
#[test]
fn the_pool_can_be_replaced_by_a_list() {
    let fx = Fixture::new("pool", "22300-22302,22310 22312");
    let owner = Owner::spawn("60");
    let got = set(fx.take(&["-n", "5", "--owner", &owner.pid_arg()]));
    assert_eq!(got, set([22300, 22301, 22302, 22310, 22312]));
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "the whole pool is taken",
    );
}

/// PORT_ALLOC_PORTS_FILE: the same list, with newlines and comments.
#[test]
fn the_pool_can_come_from_a_file() {
    let fx = Fixture::without_pool("pool-file");
    let file = fx.path("pool");
    fs::write(
        &file,
        "# our ports\n22320-22321  # two\n\n22325,22327\n# 22330 is commented out\n",
    )
    .expect("write the pool file");
    let owner = Owner::spawn("60");
    let take = |n: &str| {
        let mut cmd = fx.cmd(&["-n", n, "--owner", &owner.pid_arg()]);
        cmd.env("PORT_ALLOC_PORTS_FILE", &file);
        run(cmd)
    };
    let got = set(ok_ports(&take("4"), "from the file"));
    assert_eq!(got, set([22320, 22321, 22325, 22327]));
    assert_not_enough(&take("1"), "the file's pool is taken");
}

/// --exclude takes ports out of the pool on every path: a list pool, a
/// file pool, several options, --consecutive, --wait and -- COMMAND.
#[test]
fn excluded_ports_are_never_handed_out() {
    let fx = Fixture::new("exclude", "22340-22349");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for _ in 0..5 {
        let got = set(fx.take(&["-n", "3", "--owner", &o, "--exclude", "22341-22346,22348"]));
        assert_eq!(got, set([22340, 22347, 22349]));
        assert_not_enough(
            &fx.run(&["--owner", &o, "--exclude", "22341-22346,22348"]),
            "all but the excluded are taken",
        );
        let out = fx.run(&["release", "22340", "22347", "22349"]);
        assert!(out.status.success(), "{}", show(&out));
        // Several options add up.
        let got = set(fx.take(&[
            "-n",
            "2",
            "--owner",
            &o,
            "--exclude",
            "22340-22345",
            "--exclude",
            "22347",
            "--exclude",
            "22349",
        ]));
        assert_eq!(got, set([22346, 22348]));
        let out = fx.run(&["release", "22346", "22348"]);
        assert!(out.status.success(), "{}", show(&out));
        // With a command.
        let out = run(fx.cmd(&[
            "-n",
            "1",
            "--exclude",
            "22340-22348",
            "--",
            "sh",
            "-c",
            r#"echo "$PORTS""#,
        ]));
        assert_eq!(stdout(&out), "22349\n", "{}", show(&out));
        // Adjacent ports.
        let got = fx.take(&[
            "-n",
            "3",
            "--consecutive",
            "--owner",
            &o,
            "--exclude",
            "22340-22345",
        ]);
        assert!(
            got == [22346, 22347, 22348] || got == [22347, 22348, 22349],
            "{got:?}"
        );
        let _ = fx.run(&["release", "22346", "22347", "22348", "22349"]);
        assert_not_enough(
            &fx.run(&[
                "-n",
                "2",
                "--consecutive",
                "--owner",
                &o,
                "--exclude",
                "22341,22343,22345,22347,22349",
            ]),
            "no two adjacent ports left",
        );
    }
    // With --wait, an excluded port is not what the wait ends with.
    fx.take(&["-n", "9", "--owner", &o, "--exclude", "22349"]);
    assert_not_enough(
        &fx.run(&["--owner", &o, "--exclude", "22349", "--wait", "0.3"]),
        "waiting while only an excluded port is free",
    );
    assert!(
        !fx.lease_ports().contains(&22349),
        "the excluded port was leased"
    );
    // A file pool.
    let fx = Fixture::without_pool("exclude-file");
    let file = fx.path("pool");
    fs::write(&file, "22350-22353\n").expect("write the pool file");
    let mut cmd = fx.cmd(&["-n", "2", "--owner", &o, "--exclude", "22350,22352"]);
    cmd.env("PORT_ALLOC_PORTS_FILE", &file);
    assert_eq!(set(ok_ports(&run(cmd), "a file pool")), set([22351, 22353]));
    assert_eq!(fx.lease_ports(), set([22351, 22353]));
    assert_fails(
        &fx.run(&["--exclude", "22350-abc"]),
        2,
        &["--exclude"],
        "a bad --exclude",
    );
}

/// The ports browsers refuse (6000, 6665-6669, ...) are never handed out,
/// even from a pool that names them.
#[test]
fn browser_bad_ports_are_never_handed_out() {
    let fx = Fixture::new("browser", "6000,6665-6669,22440,10080");
    let owner = Owner::spawn("60");
    for _ in 0..5 {
        let got = fx.take(&["--", "sh", "-c", r#"echo "$PORTS""#]);
        assert_eq!(got, [22440]);
    }
    assert_eq!(fx.take(&["--owner", &owner.pid_arg()]), [22440]);
    assert_not_enough(
        &fx.run(&["--owner", &owner.pid_arg()]),
        "only browser-bad ports are left",
    );
    let fx = Fixture::new("browser-run", "6664-6670");
    for _ in 0..5 {
        assert_not_enough(
            &fx.run(&["-n", "2", "--consecutive", "--", "true"]),
            "6665-6669 break every run of 2 in 6664-6670",
        );
    }
}

/// Asking for more than are free fails with a clear message and reserves
/// nothing, even when some were free (and taken, then given back).
#[test]
fn a_short_pool_reserves_nothing() {
    let fx = Fixture::new("short", "22450-22454");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let out = fx.run(&["-n", "6", "--owner", &o]);
    assert_fails(
        &out,
        1,
        &[
            "not enough free ports",
            "wanted 6",
            "found 5",
            "pool of 5",
            "nothing reserved",
        ],
        "6 of 5",
    );
    assert!(fx.lease_ports().is_empty(), "reserved: {:?}", fx.files());
    let held = set(fx.take(&["-n", "2", "--owner", &o]));
    for _ in 0..10 {
        assert_not_enough(&fx.run(&["-n", "4", "--owner", &o]), "4 of 3 free");
        assert_eq!(fx.lease_ports(), held, "only the first two stay leased");
        let out = run(fx.cmd(&["-n", "4", "--", "true"]));
        assert_not_enough(&out, "4 of 3 free, with a command");
        assert_eq!(fx.lease_ports(), held);
    }
    fx.assert_no_temp_files();
}

/// The same, when the owner's command line holds a newline (a multi-line
/// `sh -c` script): the leases taken before running short must still be
/// given back.
#[test]
fn a_short_pool_reserves_nothing_for_a_multiline_command() {
    let fx = Fixture::new("short-newline", "22690-22692");
    let out = run(fx.cmd(&["-n", "4", "--", "sh", "-c", "true\ntrue"]));
    assert_not_enough(&out, "4 of 3");
    assert!(
        fx.lease_ports().is_empty(),
        "'nothing reserved', but these are leased: {:?}",
        fx.files()
    );
    // The script's status is port-alloc's; its command line has a newline.
    let out = run(fx.sh("\"$PORT_ALLOC\" -n 4\nexit $?", &[]));
    assert_not_enough(&out, "4 of 3, owner a multi-line script");
    assert!(
        fx.lease_ports().is_empty(),
        "'nothing reserved', but these are leased: {:?}",
        fx.files()
    );
}

/// --consecutive gives N adjacent ports, and fails when no run of N is
/// free.
#[test]
fn consecutive_ports_are_adjacent() {
    let fx = Fixture::new("consecutive", "22400-22402,22404-22408,22410-22411");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for _ in 0..5 {
        let got = fx.take(&["-n", "5", "--consecutive", "--owner", &o]);
        assert_eq!(
            got,
            [22404, 22405, 22406, 22407, 22408],
            "the only run of 5"
        );
        let _ = fx.run(&["release", "22404", "22405", "22406", "22407", "22408"]);
        let got = fx.take(&["-n", "3", "--consecutive", "--owner", &o]);
        assert!(
            got.windows(2).all(|w| w[1] == w[0] + 1),
            "not adjacent: {got:?}"
        );
        let args: Vec<String> = got.iter().map(u16::to_string).collect();
        let mut release = vec!["release"];
        release.extend(args.iter().map(String::as_str));
        assert!(fx.run(&release).status.success());
    }
    let out = fx.run(&["-n", "6", "--consecutive", "--owner", &o]);
    assert_fails(&out, 1, &["adjacent", "nothing reserved"], "no run of 6");
    // A lease in the middle of the only run of 5 leaves none.
    fx.put_lease(&lease_of(22406, owner.pid(), start_time(owner.pid())));
    let out = fx.run(&["-n", "5", "--consecutive", "--owner", &o]);
    assert_fails(&out, 1, &["adjacent"], "the run of 5 is broken by a lease");
    assert_eq!(fx.lease_ports(), set([22406]), "nothing else reserved");
    let out = run(fx.cmd(&[
        "-n",
        "3",
        "--consecutive",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS""#,
    ]));
    assert!(out.status.success(), "{}", show(&out));
    let ports: Vec<u16> = stdout(&out)
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert!(
        ports == [22400, 22401, 22402],
        "the only run of 3 left is 22400-22402, got {ports:?}"
    );
}

/// A run that ends at port 65535 can be had.
#[test]
fn consecutive_ports_up_to_65535() {
    let fx = Fixture::new("consecutive-top", "65533-65535");
    let got = run(fx.cmd(&[
        "-n",
        "3",
        "--consecutive",
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS""#,
    ]));
    assert_eq!(stdout(&got), "65533 65534 65535\n", "{}", show(&got));
}

/// `release` removes the lease at once (the port can be had again); a port
/// with no lease is an error (status 1); several ports at once.
#[test]
fn release_ends_a_lease() {
    let fx = Fixture::new("release", "22460-22461");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let got = fx.take(&["-n", "2", "--owner", &o]);
    assert_eq!(set(got), set([22460, 22461]));
    assert_not_enough(&fx.run(&["--owner", &o]), "both leased");
    let out = fx.run(&["release", "22460"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(fx.lease_ports(), set([22461]), "the lease file is gone");
    assert_eq!(fx.take(&["--owner", &o]), [22460], "taken again");
    let out = fx.run(&["release", "22460", "22461"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(fx.lease_ports().is_empty());
    let out = fx.run(&["release", "22460"]);
    assert_fails(&out, 1, &["no lease", "22460"], "release without a lease");
    // One with a lease and one without: the first is released, status 1.
    fx.take(&["--owner", &o, "--exclude", "22461"]);
    let out = fx.run(&["release", "22460", "22461"]);
    assert_fails(
        &out,
        1,
        &["no lease", "22461"],
        "release of one leased and one not",
    );
    assert!(fx.lease_ports().is_empty(), "22460 was released");
    fx.assert_no_temp_files();
}

/// `list` shows each lease's port, owner pid, liveness and when it really
/// ends, and why (with its owner, at the end of its grace, its lease cap);
/// `list --json` is an array of the same.
#[test]
fn list_shows_the_leases() {
    let fx = Fixture::new("list", "22470-22479");
    let owner = Owner::spawn("60");
    let mut got = fx.take(&[
        "-n",
        "2",
        "--owner",
        &owner.pid_arg(),
        "--lease",
        "100",
        "--exclude",
        "22477-22479",
    ]);
    got.sort_unstable();
    let dead = stale_lease(22479);
    fx.put_lease(&dead);
    fs::write(fx.dir.join("22478"), "garbage\n").expect("write garbage");
    // Its owner gone, in its grace period: it ends when the grace does,
    // not at its expiry.
    let in_grace = Lease {
        grace_until: now() + 45,
        ..lease_of(22477, dead_pid(), 1)
    };
    fx.put_lease(&in_grace);
    let taken = now();
    let out = fx.run(&["list"]);
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let seconds_after = |line: &str, words: &str| -> u64 {
        line.split(words)
            .nth(1)
            .and_then(|r| r.split('s').next())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no '{words}Ns': {line}"))
    };
    for port in &got {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(port.to_string().as_str()))
            .unwrap_or_else(|| panic!("port {port} not listed:\n{text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.contains(&owner.pid_arg().as_str()),
            "no owner pid: {line}"
        );
        assert!(
            words.contains(&"alive") && words.contains(&"live"),
            "{line}"
        );
        assert!(line.contains("when its owner exits"), "{line}");
        let cap = seconds_after(line, "at most in ");
        assert!((90..=100).contains(&cap), "lease cap in {cap}s: {line}");
        assert!(line.contains("s (lease cap)"), "{line}");
        let grace = seconds_after(line, "not before ");
        assert!((50..=60).contains(&grace), "grace {grace}s: {line}");
    }
    let line = text
        .lines()
        .find(|l| l.starts_with("22477"))
        .unwrap_or_else(|| panic!("the lease in its grace not listed:\n{text}"));
    assert!(line.contains("gone") && line.contains(" live "), "{line}");
    let ends = seconds_after(line, " in ");
    assert!((35..=45).contains(&ends), "ends in {ends}s: {line}");
    assert!(line.contains("s (grace; owner gone)"), "{line}");
    assert!(!line.contains("500s"), "not at its expiry: {line}");
    let line = text
        .lines()
        .find(|l| l.starts_with("22479"))
        .unwrap_or_else(|| panic!("the stale lease not listed:\n{text}"));
    assert!(line.contains("gone") && line.contains("stale"), "{line}");
    assert!(line.contains("ended (owner gone)"), "{line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("22478") && l.contains("not a lease")),
        "the garbage file is listed as not a lease:\n{text}"
    );
    let out = fx.run(&["list", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("list --json: {e}:\n{}", show(&out)));
    let items = items.as_array().expect("list --json prints an array");
    assert_eq!(items.len(), 5, "{items:?}");
    let item = items
        .iter()
        .find(|i| i["port"] == 22477)
        .expect("the lease in its grace");
    assert_eq!(item["ends"]["when"], "grace ends", "{item}");
    assert_eq!(item["ends"]["at"], in_grace.grace_until, "{item}");
    assert_eq!(item["ends"]["because"], "owner gone", "{item}");
    for port in &got {
        let item = items
            .iter()
            .find(|i| i["port"] == *port)
            .unwrap_or_else(|| panic!("port {port} not in {items:?}"));
        assert_eq!(item["pid"], owner.pid(), "{item}");
        assert_eq!(item["live"], true, "{item}");
        assert_eq!(item["owner_alive"], true, "{item}");
        let expires = item["expires"].as_u64().expect("expires is a number");
        assert!(
            (taken + 90..=taken + 100).contains(&expires),
            "expires {expires}, taken about {taken}: {item}"
        );
        assert_eq!(item["ends"]["when"], "owner exits", "{item}");
        assert_eq!(item["ends"]["at_most"], expires, "{item}");
    }
    let item = items
        .iter()
        .find(|i| i["port"] == 22479)
        .expect("the stale lease");
    assert_eq!(item["live"], false, "{item}");
    assert_eq!(item["pid"], dead.owner.pid, "{item}");
    let item = items
        .iter()
        .find(|i| i["port"] == 22478)
        .expect("the garbage file");
    assert!(item["error"].is_string(), "{item}");
}

/// gc removes the stale leases (dead owner past its grace; expired) and
/// keeps the live ones (owner alive; within grace) and files that are not
/// leases.
#[test]
fn gc_removes_stale_leases_only() {
    let fx = Fixture::new("gc", "22480-22489");
    let owner = Owner::spawn("60");
    let live = fx.take(&["--owner", &owner.pid_arg(), "--exclude", "22481-22489"]);
    assert_eq!(live, [22480]);
    let short = Owner::spawn("60");
    fx.take(&[
        "--owner",
        &short.pid_arg(),
        "--grace",
        "0",
        "--exclude",
        "22480,22482-22489",
    ]);
    fx.take(&[
        "--owner",
        &short.pid_arg(),
        "--grace",
        "30",
        "--exclude",
        "22480-22481,22483-22489",
    ]);
    short.end();
    // Expired although the owner lives.
    fx.take(&[
        "--owner",
        &owner.pid_arg(),
        "--grace",
        "0",
        "--lease",
        "0",
        "--exclude",
        "22480-22482,22484-22489",
    ]);
    fs::write(fx.dir.join("22484"), "garbage\n").expect("write garbage");
    assert_eq!(fx.lease_ports(), set(22480..=22484));
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        stdout(&out),
        "22481\n22483\n",
        "gc removes the dead owner's and the expired lease"
    );
    assert_eq!(fx.lease_ports(), set([22480, 22482, 22484]));
    assert_eq!(
        fs::read_to_string(fx.dir.join("22484")).expect("garbage kept"),
        "garbage\n"
    );
    let out = fx.run(&["gc", "--json"]);
    assert_eq!(stdout(&out), "{\"removed\":[]}\n", "{}", show(&out));
}

/// --wait: a caller waits for a held port to be released and then gets it;
/// without --wait it fails at once; a short --wait runs out.
#[test]
fn wait_for_a_port_to_be_released() {
    let fx = Fixture::new("wait", "22500");
    let mut hold = Gate::new(fx.path("hold"));
    let mut holder = Running::spawn(&mut fx.cmd(&[
        "--",
        "sh",
        "-c",
        r#"echo "$PORTS"; : < "$0""#,
        hold.path.to_str().expect("UTF-8 path"),
    ]));
    let lines = Lines::of(&mut holder);
    assert_eq!(
        lines.next(Duration::from_secs(10)).as_deref(),
        Some("22500")
    );
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    let started = Instant::now();
    assert_not_enough(&fx.run(&["--owner", &o]), "held, without --wait");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "without --wait it fails at once, not after {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert_not_enough(
        &fx.run(&["--owner", &o, "--wait", "0.3"]),
        "held through --wait 0.3",
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "--wait 0.3 gave up after {:?}",
        started.elapsed()
    );
    let mut waiter = Running::spawn(&mut fx.cmd(&["--owner", &o, "--wait", "20"]));
    thread::sleep(Duration::from_millis(500));
    assert!(
        waiter.try_wait().expect("try_wait").is_none(),
        "--wait 20 gave up while the port was held"
    );
    hold.open();
    let out = finish(waiter.take(), Instant::now() + Duration::from_secs(20));
    assert_eq!(ok_ports(&out, "--wait 20"), [22500]);
    assert_eq!(fx.lease(22500).owner.pid, owner.pid());
    let out = finish(holder.take(), Instant::now() + Duration::from_secs(10));
    assert!(out.status.success(), "{}", show(&out));
}

/// --json prints the ports as a JSON array, and they are leased.
#[test]
fn json_output_of_an_allocation() {
    let fx = Fixture::new("json", "22510-22519");
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "3", "--json", "--owner", &owner.pid_arg()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(stdout(&out).ends_with('\n'));
    let ports: Vec<u16> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not a JSON array of ports: {e}\n{}", show(&out)));
    assert_eq!(ports.len(), 3);
    assert!(ports.iter().all(|p| (22510..=22519).contains(p)));
    assert_eq!(set(ports.iter().copied()).len(), 3);
    assert_eq!(fx.lease_ports(), set(ports));
}

/// Bad input is a usage error (status 2) with a message naming it, and
/// reserves nothing.
#[test]
fn invalid_input_is_a_usage_error() {
    let fx = Fixture::without_pool("invalid");
    for pool in ["abc", "0", "65536", "22530-22520", "22520-abc", "1-2-3"] {
        let mut cmd = fx.cmd(&["-n", "1", "--", "true"]);
        cmd.env("PORT_ALLOC_PORTS", pool);
        assert_fails(
            &run(cmd),
            2,
            &["PORT_ALLOC_PORTS"],
            &format!("PORT_ALLOC_PORTS={pool}"),
        );
    }
    let file = fx.path("bad-pool");
    fs::write(&file, "22520\n# fine\nnonsense\n").expect("write the pool file");
    let mut cmd = fx.cmd(&["--", "true"]);
    cmd.env("PORT_ALLOC_PORTS_FILE", &file);
    assert_fails(
        &run(cmd),
        2,
        &["PORT_ALLOC_PORTS_FILE", "nonsense"],
        "a bad pool file",
    );
    let mut cmd = fx.cmd(&["--", "true"]);
    cmd.env("PORT_ALLOC_PORTS_FILE", fx.path("missing"));
    assert_fails(&run(cmd), 2, &["missing"], "a missing pool file");
    let gone = dead_pid();
    let mut cmd = fx.cmd(&["--owner", &gone.to_string()]);
    cmd.env("PORT_ALLOC_PORTS", "22520");
    assert_fails(
        &run(cmd),
        2,
        &["--owner", "no such process"],
        "--owner of a dead process",
    );
    for wait in ["--wait=-1", "--wait=NaN", "--wait=inf"] {
        let mut cmd = fx.cmd(&[wait, "--", "true"]);
        cmd.env("PORT_ALLOC_PORTS", "22520");
        assert_fails(&run(cmd), 2, &["--wait"], wait);
    }
    // clap's own errors (status 2; clap words them).
    for args in [
        &["-n", "0"][..],
        &["--count", "x"],
        &["--bogus"],
        &["release"],
    ] {
        let out = fx.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{}", show(&out));
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    assert!(fx.lease_ports().is_empty(), "reserved: {:?}", fx.files());
}

// ---------------------------------------------------------------------------
// 6. A hostile lease directory

/// PORT_ALLOC_DIR itself a symbolic link (to a directory, or to nowhere) is
/// refused and nothing is written through it; so is a regular file.
#[test]
fn a_symlinked_lease_directory_is_refused() {
    let fx = Fixture::without_pool("dir-symlink");
    let target = fx.path("elsewhere");
    fs::create_dir(&target).expect("create the target");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let link = fx.path("link");
    symlink(&target, &link).expect("symlink");
    let dangling = fx.path("dangling");
    let nowhere = fx.path("nowhere");
    symlink(&nowhere, &dangling).expect("symlink");
    let file = fx.path("a-file");
    fs::write(&file, "precious\n").expect("write");
    for (dir, what) in [
        (&link, "a symlink"),
        (&dangling, "a dangling symlink"),
        (&file, "a file"),
    ] {
        for args in [&["-n", "1"][..], &["list"], &["gc"], &["release", "22540"]] {
            let mut cmd = fx.cmd(args);
            cmd.env("PORT_ALLOC_DIR", dir)
                .env("PORT_ALLOC_PORTS", "22540");
            let out = run(cmd);
            assert_fails(
                &out,
                2,
                &["lease directory", dir.to_str().expect("UTF-8")],
                &format!("PORT_ALLOC_DIR {what}, {args:?}"),
            );
        }
    }
    assert_eq!(
        fs::read_dir(&target).expect("list").count(),
        0,
        "something was written through the symlink"
    );
    assert!(
        !nowhere.exists(),
        "the dangling symlink's target was created"
    );
    assert_eq!(fs::read_to_string(&file).expect("read"), "precious\n");
}

/// A new lease directory is made /tmp-like (1777); an existing one
/// writable by everyone without the sticky bit is refused.
#[test]
fn the_lease_directory_must_be_sticky_if_world_writable() {
    let fx = Fixture::without_pool("dir-mode");
    let fresh = fx.path("fresh");
    let mut cmd = fx.cmd(&["list"]);
    cmd.env("PORT_ALLOC_DIR", &fresh);
    let out = run(cmd);
    assert!(out.status.success(), "{}", show(&out));
    let mode = fs::symlink_metadata(&fresh)
        .expect("created")
        .permissions()
        .mode();
    assert!(
        fs::symlink_metadata(&fresh).expect("created").is_dir(),
        "a directory"
    );
    assert_eq!(
        mode & 0o7777,
        0o1777,
        "created sticky and writable by all: {mode:o}"
    );
    let open = fx.path("open");
    fs::create_dir(&open).expect("mkdir");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).expect("chmod");
    for args in [&["-n", "1"][..], &["list"], &["gc"]] {
        let mut cmd = fx.cmd(args);
        cmd.env("PORT_ALLOC_DIR", &open)
            .env("PORT_ALLOC_PORTS", "22545");
        assert_fails(
            &run(cmd),
            2,
            &["writable by others", "sticky"],
            &format!("a world-writable directory, {args:?}"),
        );
    }
    assert_eq!(
        fs::read_dir(&open).expect("list").count(),
        0,
        "something was written into the refused directory"
    );
    // A private directory is fine.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut cmd = fx.cmd(&["--", "true"]);
    cmd.env("PORT_ALLOC_DIR", &open)
        .env("PORT_ALLOC_PORTS", "22545");
    assert!(run(cmd).status.success());
}

/// Symbolic links named like ports (to a file of someone else's, to a path
/// that does not exist): their ports are never handed out, the targets are
/// never written or created, a warning names them, and release and gc leave
/// them alone.
#[test]
fn symlinks_named_like_ports_are_left_alone() {
    let fx = Fixture::new("port-symlinks", "22600-22602");
    let victim = fx.path("victim");
    fs::write(&victim, "precious\n").expect("write the victim");
    let nowhere = fx.path("nowhere");
    symlink(&victim, fx.dir.join("22600")).expect("symlink");
    symlink(&nowhere, fx.dir.join("22601")).expect("symlink");
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "2", "--owner", &owner.pid_arg()]);
    assert_not_enough(&out, "2 ports where 2 of 3 are symlinks");
    let err = stderr(&out);
    for port in ["22600", "22601"] {
        assert!(
            err.lines().any(|l| l.starts_with("port-alloc: warning: ")
                && l.contains(port)
                && l.contains("symbolic link")),
            "no warning naming {port}:\n{err}"
        );
    }
    for _ in 0..10 {
        let got = fx.take(&["--", "sh", "-c", r#"echo "$PORTS""#]);
        assert_eq!(got, [22602]);
    }
    let out = fx.run(&["release", "22600"]);
    assert_fails(&out, 2, &["22600", "symbolic link"], "release of a symlink");
    let out = fx.run(&["release", "22601"]);
    assert_fails(&out, 2, &["22601"], "release of a dangling symlink");
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = fx.run(&["list"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        stdout(&out).contains("22600") && stdout(&out).contains("22601"),
        "list shows them:\n{}",
        show(&out)
    );
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(
        !nowhere.exists() && fs::symlink_metadata(&nowhere).is_err(),
        "the dangling target was created"
    );
    for port in ["22600", "22601"] {
        assert!(
            fs::symlink_metadata(fx.dir.join(port))
                .expect("still there")
                .file_type()
                .is_symlink(),
            "{port} was replaced"
        );
    }
}

/// A `.lock` that is a symbolic link is an error, with a message, and is
/// never written or created through.
#[test]
fn a_symlinked_lock_is_an_error() {
    let fx = Fixture::new("lock-symlink", "22640-22641");
    let victim = fx.path("victim");
    fs::write(&victim, "precious\n").expect("write the victim");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).expect("chmod");
    let nowhere = fx.path("nowhere");
    let owner = Owner::spawn("60");
    let o = owner.pid_arg();
    for target in [&victim, &nowhere] {
        let _ = fs::remove_file(fx.dir.join(".lock"));
        let port = fx.take(&["--owner", &o, "--exclude", "22641"]);
        assert_eq!(port, [22640]);
        symlink(target, fx.dir.join(".lock")).expect("symlink");
        // Releasing takes the lock.
        let out = fx.run(&["release", "22640"]);
        assert_fails(&out, 2, &[".lock"], "release with a symlinked .lock");
        assert_eq!(
            fx.lease_ports(),
            set([22640]),
            "the lease was not removed unlocked"
        );
        // So does reclaiming a stale lease, in gc and in an allocation.
        fx.put_lease(&stale_lease(22641));
        let out = fx.run(&["gc"]);
        assert_fails(&out, 2, &[".lock"], "gc with a symlinked .lock");
        let out = fx.run(&["--owner", &o, "--exclude", "22640"]);
        assert_fails(&out, 2, &[".lock"], "an allocation that must reclaim");
        let _ = fs::remove_file(fx.dir.join("22640"));
        let _ = fs::remove_file(fx.dir.join("22641"));
    }
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(
        fs::symlink_metadata(&nowhere).is_err(),
        "the lock's dangling target was created"
    );
}

/// A file named like a port that is not a lease (garbage, or a lease of
/// another port) keeps its port out of use, is warned about and left
/// alone; release refuses it and gc keeps it.
#[test]
fn a_file_that_is_not_a_lease_is_left_alone() {
    let fx = Fixture::new("garbage", "22620-22622");
    let garbage = fx.dir.join("22620");
    fs::write(&garbage, "garbage, not a lease\n").expect("write garbage");
    let misplaced = lease_of(22699, dead_pid(), 1).to_text();
    fs::write(fx.dir.join("22621"), &misplaced).expect("write a misplaced lease");
    let owner = Owner::spawn("60");
    let out = fx.run(&["-n", "2", "--owner", &owner.pid_arg()]);
    assert_not_enough(&out, "2 of 1 usable");
    let err = stderr(&out);
    for (port, why) in [("22620", "not a lease"), ("22621", "another port")] {
        assert!(
            err.lines().any(|l| l.starts_with("port-alloc: warning: ")
                && l.contains(port)
                && l.contains(why)),
            "no warning naming {port} ({why}):\n{err}"
        );
    }
    for _ in 0..10 {
        assert_eq!(fx.take(&["--", "sh", "-c", r#"echo "$PORTS""#]), [22622]);
    }
    let out = fx.run(&["release", "22620"]);
    assert_fails(&out, 2, &["22620", "not a lease"], "release of garbage");
    let out = fx.run(&["gc"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        fs::read_to_string(&garbage).expect("garbage kept"),
        "garbage, not a lease\n"
    );
    assert_eq!(
        fs::read_to_string(fx.dir.join("22621")).expect("kept"),
        misplaced
    );
}
