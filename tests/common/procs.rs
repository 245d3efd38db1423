//! Processes in tests: temporary folders for pid files and FIFOs, children
//! killed when a test fails, waiting for conditions instead of sleeping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// How long anything that should happen at once may take, on a loaded
/// machine.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A folder of its own under the system's temporary folder, removed (with
/// its files and FIFOs) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("subunit-tools-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) when dropped, so a failing test
/// leaves nothing behind, e.g. blocked opening a FIFO.
pub struct Running(pub Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for `child` at most [`TIMEOUT`]; kills it and fails after that.
pub fn wait_within(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not end within {TIMEOUT:?} {what}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` is gone (or a zombie) within the timeout.
pub fn gone_within(pid: u32) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

/// Reads what a command wrote into `path` (its pid, a count), waiting for
/// a whole line to appear.
pub fn line_in(path: &Path) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(line) = std::fs::read_to_string(path)
            .ok()
            .filter(|s| s.ends_with('\n'))
        {
            return line.trim_end().to_owned();
        }
        assert!(Instant::now() < deadline, "nothing in {}", path.display());
        thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a pid a command wrote into `path`, waiting for it to appear.
pub fn pid_in(path: &Path) -> u32 {
    let line = line_in(path);
    line.parse()
        .unwrap_or_else(|_| panic!("not a pid in {}: {line:?}", path.display()))
}

/// Sends `signal` to process `pid`, which must exist.
pub fn send(pid: u32, signal: i32) {
    // SAFETY: kill with the pid of a process the test started.
    let sent = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill {pid}: {}", std::io::Error::last_os_error());
}

/// A number no other test of this run uses, to be an argument (`sleep
/// 30.N`) that finds a test's processes in /proc.
pub fn unique_marker() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    format!("30.{}{n:04}", std::process::id())
}

/// The running processes with an argument that contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id())
        .filter(|pid| {
            // A zombie's command line is empty: it runs no more.
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| {
                line.split(|&b| b == 0)
                    .any(|arg| String::from_utf8_lossy(arg).contains(marker))
            })
        })
        .collect()
}

/// Waits, at most the timeout, until no process has `marker` in an
/// argument; kills (SIGKILL) and names those still there after it.
pub fn none_left_with(marker: &str) -> Vec<u32> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = processes_with(marker);
        if left.is_empty() {
            return left;
        }
        if Instant::now() > deadline {
            for &pid in &left {
                // SAFETY: kill of a process this test started.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            return left;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `cmd` with every signal at its default action (a test run in the
/// background of a script would otherwise start it with SIGINT ignored).
pub fn with_default_signals(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only signal(2), on no shared data.
    unsafe {
        cmd.pre_exec(|| {
            for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}

/// `sh -c SCRIPT | COMMAND | subunit2json`, live: a script that prints
/// something, then waits (`read _`) until [`LivePipe::release`], so a test
/// sees what COMMAND writes while its input is still open.
pub struct LivePipe {
    script: Running,
    command: Running,
    json: Running,
    lines: std::sync::mpsc::Receiver<String>,
}

impl LivePipe {
    pub fn start(script: &str, mut command: Command) -> LivePipe {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut script = Running(
            Command::new("sh")
                .args(["-c", script])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("script"),
        );
        let mut command = Running(
            command
                .stdin(Stdio::from(script.stdout.take().expect("stdout")))
                .stdout(Stdio::piped())
                .spawn()
                .expect("the command"),
        );
        let mut json = Running(
            super::ours("subunit2json")
                .stdin(Stdio::from(command.stdout.take().expect("stdout")))
                .stdout(Stdio::piped())
                .spawn()
                .expect("subunit2json"),
        );
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = json.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if tx.send(line.expect("line")).is_err() {
                    break;
                }
            }
        });
        LivePipe {
            script,
            command,
            json,
            lines,
        }
    }

    /// The next line of subunit2json, which must come while the script
    /// waits; `what` says what did not come.
    pub fn next_line(&self, what: &str) -> String {
        self.lines.recv_timeout(TIMEOUT).expect(what)
    }

    /// Lets the script go on and end; the script and the command must
    /// succeed. The lines that came after.
    pub fn release(mut self) -> Vec<String> {
        use std::io::Write;
        self.script
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"\n")
            .expect("release the script");
        assert!(self.script.wait().expect("wait").success());
        assert!(self.command.wait().expect("wait").success());
        self.json.wait().expect("wait");
        self.lines.iter().collect()
    }
}
