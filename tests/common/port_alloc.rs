//! port-alloc's test fixtures: a private lease directory and pool per
//! test, start gates, children killed with their process group, owners,
//! hand-written leases, and checks of what port-alloc printed.
//!
//! Every test uses a private lease directory (PORT_ALLOC_DIR under the
//! temporary directory, named with the pid and a counter) and its own pool
//! of ports (in 21000-22999, below the kernel's ephemeral range; listeners
//! bind free ports of 23000-29999), so the tests can run in parallel and
//! never touch the machine-wide /tmp/port-alloc.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use subunit_tools::ports::{Lease, Process};

pub const BIN: &str = env!("CARGO_BIN_EXE_port-alloc");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------
// Helpers

/// A private scratch directory with a lease directory in it; removed (and
/// its FIFOs opened, so nothing stays blocked on them) on drop.
pub struct Fixture {
    pub scratch: PathBuf,
    pub dir: PathBuf,
    pub pool: Option<String>,
}

impl Fixture {
    /// A fixture whose commands draw from `pool` (PORT_ALLOC_PORTS).
    pub fn new(tag: &str, pool: &str) -> Fixture {
        let mut fx = Fixture::without_pool(tag);
        fx.pool = Some(pool.to_owned());
        fx
    }

    /// A fixture whose commands get neither PORT_ALLOC_PORTS nor
    /// PORT_ALLOC_PORTS_FILE unless a test sets them.
    pub fn without_pool(tag: &str) -> Fixture {
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
    pub fn path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    /// Sets the fixture's environment on `cmd`.
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
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
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        self.env(&mut cmd);
        cmd
    }

    /// `sh -c SCRIPT sh ARGS...` in the fixture's environment, with
    /// PORT_ALLOC set to our binary.
    pub fn sh(&self, script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).arg("sh").args(args);
        cmd.env("PORT_ALLOC", BIN);
        self.env(&mut cmd);
        cmd
    }

    /// Runs `port-alloc ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        run(self.cmd(args))
    }

    /// Runs `port-alloc ARGS`, which must succeed, and returns the ports it
    /// printed.
    pub fn take(&self, args: &[&str]) -> Vec<u16> {
        let out = self.run(args);
        ok_ports(&out, &format!("port-alloc {}", args.join(" ")))
    }

    /// The lease directory's files named like ports, with their contents
    /// (`None`: not readable as text, e.g. a dangling symlink).
    pub fn files(&self) -> BTreeMap<u16, Option<String>> {
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
    pub fn lease_ports(&self) -> BTreeSet<u16> {
        self.files().into_keys().collect()
    }

    /// The parsed leases in the lease directory (files that are not leases
    /// left out).
    pub fn leases(&self) -> BTreeMap<u16, Lease> {
        self.files()
            .into_iter()
            .filter_map(|(port, text)| Some((port, Lease::parse(&text?)?)))
            .collect()
    }

    /// The lease of `port`, which must exist and parse.
    pub fn lease(&self, port: u16) -> Lease {
        let path = self.dir.join(port.to_string());
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no lease file {}: {e}", path.display()));
        Lease::parse(&text).unwrap_or_else(|| panic!("{} is not a lease:\n{text}", path.display()))
    }

    /// Writes `lease` into the lease directory by hand.
    pub fn put_lease(&self, lease: &Lease) {
        fs::write(self.dir.join(lease.port.to_string()), lease.to_text()).expect("write a lease");
    }

    /// Checks that no temporary file was left behind in the directory.
    pub fn assert_no_temp_files(&self) {
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
pub struct Gate {
    pub path: PathBuf,
    pub open: Option<File>,
}

impl Gate {
    pub fn new(path: PathBuf) -> Gate {
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
    pub fn open(&mut self) {
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
pub struct Procs(pub Vec<Option<Child>>);

impl Procs {
    pub fn push(&mut self, child: Child) {
        self.0.push(Some(child));
    }

    pub fn get(&self, i: usize) -> &Child {
        self.0[i].as_ref().expect("child still here")
    }

    pub fn get_mut(&mut self, i: usize) -> &mut Child {
        self.0[i].as_mut().expect("child still here")
    }

    pub fn take(&mut self, i: usize) -> Child {
        self.0[i].take().expect("child still here")
    }

    /// Waits for every child (within `limit` in all) and returns their
    /// outputs.
    pub fn finish_all(&mut self, limit: Duration) -> Vec<Output> {
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
pub struct Running(pub Option<Child>);

impl Running {
    pub fn spawn(cmd: &mut Command) -> Running {
        Running(Some(spawn(cmd)))
    }

    /// The child, to wait for it.
    pub fn take(&mut self) -> Child {
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
pub fn kill_group(child: &mut Child) {
    // SAFETY: kill with the (negated) pid of a child we started as the
    // leader of its own process group.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` until `deadline` (killing it and failing the test if
/// it runs on), then reads what is left of its output.
pub fn finish(mut child: Child, deadline: Instant) -> Output {
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
pub fn run(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    finish(child, Instant::now() + Duration::from_secs(60))
}

/// Spawns `cmd` with stdout and stderr piped, in a process group of its
/// own (so that it can be killed with its children).
pub fn spawn(cmd: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

/// The lines a child prints, as they come.
pub struct Lines(pub mpsc::Receiver<String>);

impl Lines {
    pub fn of(child: &mut Child) -> Lines {
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
    pub fn next(&self, limit: Duration) -> Option<String> {
        match self.0.recv_timeout(limit) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no output within {limit:?}"),
        }
    }
}

/// A process that lives until ended (`sleep SECONDS`), to own leases.
pub struct Owner(pub Child);

impl Owner {
    pub fn spawn(seconds: &str) -> Owner {
        Owner(
            Command::new("sleep")
                .arg(seconds)
                .spawn()
                .expect("spawn sleep"),
        )
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn pid_arg(&self) -> String {
        self.pid().to_string()
    }

    /// Kills and reaps it: its pid then names no process.
    pub fn end(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for it to end by itself.
    pub fn wait(mut self) {
        let _ = self.0.wait();
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `flock PATH sleep 60` (flock(1)), once it holds the lock of PATH (a
/// lease directory, or a file): a process holding a lock, as a hostile
/// or stuck one would.
pub fn hold_lock(path: &Path) -> Running {
    let mut holder = Running::spawn(Command::new("flock").arg(path).args([
        "sh",
        "-c",
        "echo locked; exec sleep 60",
    ]));
    let lines = Lines::of(&mut holder);
    assert_eq!(
        lines.next(Duration::from_secs(10)).as_deref(),
        Some("locked"),
        "flock {}",
        path.display()
    );
    holder
}

/// The pid of a process that has ended and been reaped.
pub fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    child.wait().expect("wait for true");
    child.id()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// This boot's id, read here independently of the library.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("read boot_id")
        .trim()
        .to_owned()
}

/// The start time of process `pid` (field 22 of /proc/PID/stat), read here
/// independently of the library.
pub fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let after = &stat[stat.rfind(')').expect("a ')' in stat") + 1..];
    after
        .split_whitespace()
        .nth(19)
        .and_then(|f| f.parse().ok())
        .expect("starttime field")
}

pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// A lease of `port` by process `pid` (with start time `start`), taken 100
/// seconds ago, past its grace, expiring in 500 seconds.
pub fn lease_of(port: u16, pid: u32, start: u64) -> Lease {
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
        netns: None,
        by_netns: false,
    }
}

/// A lease of `port` whose owner is dead and whose grace is over.
pub fn stale_lease(port: u16) -> Lease {
    lease_of(port, dead_pid(), 1)
}

pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The ports of a successful allocation's output, one a line, distinct.
pub fn ok_ports(out: &Output, what: &str) -> Vec<u16> {
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
pub fn assert_fails(out: &Output, code: i32, needles: &[&str], what: &str) {
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
pub fn assert_not_enough(out: &Output, what: &str) {
    assert_fails(out, 1, &["not enough free ports", "nothing reserved"], what);
}

pub fn set(ports: impl IntoIterator<Item = u16>) -> BTreeSet<u16> {
    ports.into_iter().collect()
}

/// Binds something on a free port of 23000-29999 with `bind`. Not a port
/// the kernel picks: those are in the ephemeral range, where someone's
/// outgoing connection may take a port as soon as we let it go, and "free
/// again" checks would be flaky. The search starts at a different port in
/// each run, so that two runs of these tests at once do not collide.
pub fn bind_free<T>(what: &str, bind: impl Fn(u16) -> std::io::Result<T>) -> (T, u16) {
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
pub fn listen(host: &'static str) -> (TcpListener, u16) {
    bind_free(host, |port| TcpListener::bind((host, port)))
}

/// Whether this machine has IPv6 loopback.
pub fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Polls `check` until it holds, for up to 10 seconds.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// The number of lines in `path` (0 if it does not exist).
pub fn line_count(path: &Path) -> usize {
    fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}
