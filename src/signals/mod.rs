//! Signals taken by one thread and passed on to the children they concern,
//! for the commands that supervise children (port-alloc's `-- COMMAND`,
//! subunit-wrap's `-- COMMAND`, subunit-mux's commands).
//!
//! The pieces: [`Blocked`] blocks the signals before any thread or child
//! starts; [`Children`] starts the children and knows which of them may
//! still be signalled; [`Blocked::pass_on`] starts the thread that takes
//! the signals and passes them on; its [`Received`] tells the command
//! afterwards which signals came, so it can end as the child did. With
//! [`Blocked::pass_on_stopping`] the thread also stops the children that
//! outlive a signal ([`Stop`]), and [`Children::end_group`] what a child
//! leaves running in its process group. Output written through
//! [`WholeWrites`] stays whole packets when a signal ends the process from
//! that thread ([`die_by`]).

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

mod dying;
use dying::{DYING, die_at_once, die_by_when_written};
pub use dying::{RawStdout, WholeWrites, await_death, die_by};

/// A set of signals blocked in the threads that start after it is made, so
/// that one thread can take them with [`Blocked::wait`]. Children inherit a
/// thread's mask: start them with [`Blocked::unblock_in`] (which
/// [`Children::spawn`] does).
#[derive(Clone, Copy)]
pub struct Blocked(libc::sigset_t);

// SAFETY: a sigset_t is plain data.
unsafe impl Send for Blocked {}

impl Blocked {
    /// Blocks `signals` in the calling thread, except those ignored when
    /// the process started (`nohup`, or SIGINT and SIGQUIT in the
    /// background jobs of a script): those stay ignored, in the children
    /// too, which inherit the disposition.
    pub fn new(signals: &[i32]) -> Blocked {
        // SAFETY: a zeroed sigset_t and sigaction are valid storage for
        // sigemptyset and sigaction, and the calls only read and write
        // these locals and the thread's mask (sigaction with no new action
        // only reads the disposition).
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                let mut old: libc::sigaction = std::mem::zeroed();
                let ignored = libc::sigaction(signal, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction == libc::SIG_IGN;
                if !ignored {
                    libc::sigaddset(&mut set, signal);
                }
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Blocked(set)
        }
    }

    /// Waits for one of the signals; returns it, and whether a process sent
    /// it to us (as opposed to the terminal, which signals its whole
    /// foreground process group, or the kernel).
    pub fn wait(&self) -> (i32, bool) {
        loop {
            // SAFETY: `info` is written by the call; the set is ours.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let signal = unsafe { libc::sigwaitinfo(&self.0, &mut info) };
            if signal > 0 {
                return (signal, info.si_code <= 0);
            }
        }
    }

    /// [`Blocked::wait`] until `deadline` (`None`: for ever); `None` once
    /// it has passed with no signal.
    pub fn wait_until(&self, deadline: Option<Instant>) -> Option<(i32, bool)> {
        let Some(deadline) = deadline else {
            return Some(self.wait());
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = libc::timespec {
                tv_sec: left.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: left.subsec_nanos().into(),
            };
            // SAFETY: `info` is written by the call; the set and the
            // timeout are ours.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let signal = unsafe { libc::sigtimedwait(&self.0, &mut info, &timeout) };
            if signal > 0 {
                return Some((signal, info.si_code <= 0));
            }
            if io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
                return None;
            }
        }
    }

    /// One of the signals that came and waits, blocked, to be taken (the
    /// lowest), if any.
    pub fn pending(&self) -> Option<i32> {
        // SAFETY: a zeroed sigset_t is valid storage for sigpending, which
        // writes it; sigismember only reads the sets.
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            if libc::sigpending(&mut pending) != 0 {
                return None;
            }
            (1..64).find(|&signal| {
                libc::sigismember(&pending, signal) == 1 && libc::sigismember(&self.0, signal) == 1
            })
        }
    }

    /// Unblocks the signals again in the calling thread: one that came
    /// meanwhile acts now, as if it had never been blocked.
    pub fn unblock(self) {
        // SAFETY: changes the calling thread's mask only.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.0, std::ptr::null_mut()) };
    }

    /// Makes `command`'s process start with no signal blocked (the mask is
    /// inherited through fork and exec).
    pub fn unblock_in(command: &mut Command) {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec only async-signal-safe calls on
        // local data: sigemptyset and sigprocmask.
        unsafe {
            command.pre_exec(|| {
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                Ok(())
            });
        }
    }

    /// Starts the thread that takes the signals, for good, and passes each
    /// on to `children` as `how` says. Start it once the children that
    /// must get every signal are on the list: a signal that comes before
    /// waits, blocked, for this thread.
    pub fn pass_on(self, children: Children, how: PassOn) -> io::Result<Received> {
        self.pass_on_stopping(children, how, None)
    }

    /// [`Blocked::pass_on`], and with `stop`, stops the children that
    /// outlive one of its signals (see [`Stop`]).
    pub fn pass_on_stopping(
        self,
        children: Children,
        how: PassOn,
        stop: Option<Stop>,
    ) -> io::Result<Received> {
        let mut taken = 0;
        for signal in 1..64 {
            // SAFETY: sigismember only reads the set.
            if unsafe { libc::sigismember(&self.0, signal) } == 1 {
                taken |= 1 << signal;
            }
        }
        let received = Received {
            came: Arc::default(),
            unanswered: Arc::default(),
            taken,
        };
        let seen = received.clone();
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                // The steps of stopping still to take, and when the next is due.
                let mut stopping: Option<(Instant, &'static [i32])> = None;
                loop {
                    let due = stopping.and_then(|(at, steps)| (!steps.is_empty()).then_some(at));
                    let Some((signal, sent_to_us)) = self.wait_until(due) else {
                        if let (Some(stop), Some((_, steps))) = (&stop, &mut stopping) {
                            let (&step, rest) = steps.split_first().expect("a step is due");
                            children.stop_step(step, how.target(), stop);
                            stopping = Some((Instant::now() + stop.after, rest));
                        }
                        continue;
                    };
                    seen.add(signal);
                    if let Some(stop) = &stop {
                        if stopping.is_none() && stop.ending.contains(&signal) {
                            stopping = Some((Instant::now() + stop.after, &STOP_STEPS));
                        }
                    }
                    match how {
                        // A signal the terminal sent to the whole
                        // foreground group has reached the children
                        // already: sending it again would make them see
                        // it twice.
                        PassOn::ToChildren | PassOn::ToChildrenAndBelow => {
                            // With every child ended, nobody is left to
                            // act on it (what a child started may still
                            // hold its output open): the command must.
                            if !children.signal_running(signal, sent_to_us, Target::Process) {
                                seen.unanswered.store(signal, Ordering::SeqCst);
                            }
                            if how == PassOn::ToChildrenAndBelow && sent_to_us {
                                children.signal_below(signal);
                            }
                        }
                        // The children's groups are not the terminal's:
                        // whoever sent it, only this passes it on.
                        PassOn::ToGroups => {
                            if !children.signal_running(signal, true, Target::Group) {
                                seen.unanswered.store(signal, Ordering::SeqCst);
                            }
                        }
                        PassOn::ToGroupsThenDie { command } => {
                            DYING.store(true, Ordering::SeqCst);
                            children.close_and_signal(signal, Target::Group);
                            if children.end_groups(command, &self) {
                                die_by_when_written(signal, Some(&self));
                            }
                            // Insisted on while the groups were ending.
                            die_at_once(signal);
                        }
                    }
                }
            })?;
        Ok(received)
    }
}

/// What stops the children that outlive a signal meant to end them (one
/// that they ignore or handle without ending): `after` the first of the
/// `ending` signals, if a child still runs, it gets SIGTERM, and `after`
/// that, SIGKILL (each to its process group with [`PassOn::ToGroups`]).
#[derive(Clone, Copy, Debug)]
pub struct Stop {
    /// The command's name, for the note on standard error at each step.
    pub command: &'static str,
    /// The signals meant to end the children.
    pub ending: &'static [i32],
    /// How long to wait before each step.
    pub after: Duration,
}

/// What [`Stop`] sends, in turn.
const STOP_STEPS: [i32; 2] = [libc::SIGTERM, libc::SIGKILL];

/// Sends the [`STOP_STEPS`] through `send` until `ended`: SIGTERM, then
/// SIGKILL if it has not ended `after` later, waiting as long again.
/// Returns whether it ended.
fn escalate(mut send: impl FnMut(i32), ended: impl Fn() -> bool, after: Duration) -> bool {
    for (step, signal) in STOP_STEPS.into_iter().enumerate() {
        if step > 0 && ended() {
            return true;
        }
        send(signal);
        let deadline = Instant::now() + after;
        while !ended() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
    }
    ended()
}

/// How long a child has to end after SIGTERM, when
/// [`Children::stop_for_good`] stops it, before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the thread started by [`Blocked::pass_on`] does with a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassOn {
    /// The children share our process group (so that they can use the
    /// terminal): pass each signal a process sent us on to each child's
    /// process, and go on; the command ends when its child does.
    ToChildren,
    /// The children run in process groups of their own: pass every signal
    /// on to their groups, whoever sent it, and go on.
    ToGroups,
    /// The children run in process groups of their own: pass every signal
    /// on to their groups, start no more children, and end by the signal
    /// once nothing runs in their groups (what still runs there 5 seconds
    /// later gets SIGTERM, then SIGKILL).
    ToGroupsThenDie {
        /// The command's name, for the note on standard error when a
        /// group has to be stopped.
        command: &'static str,
    },
    /// As [`PassOn::ToChildren`], and to every other process below us
    /// (what the children started, and the orphans adopted with
    /// [`crate::os::adopt_orphans`]), as the terminal's signals reach a
    /// whole process group: a shell waiting for its command, which leaves
    /// SIGINT to it, would otherwise go on.
    ToChildrenAndBelow,
}

impl PassOn {
    /// Where signals for a child go.
    fn target(self) -> Target {
        match self {
            PassOn::ToChildren | PassOn::ToChildrenAndBelow => Target::Process,
            PassOn::ToGroups | PassOn::ToGroupsThenDie { .. } => Target::Group,
        }
    }
}

/// Which processes a signal for a child goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The child's process only.
    Process,
    /// The child's process group (a child started in a group of its own,
    /// with what it started).
    Group,
}

/// The children that signals are passed on to. A child is on the list from
/// its start until [`Children::wait`] reaps it, and is taken off under the
/// lock that sending takes, so a signal never reaches a process that was
/// given the pid of a child already reaped.
#[derive(Clone, Default)]
pub struct Children(Arc<Mutex<Registry>>);

#[derive(Default)]
struct Registry {
    pids: Vec<u32>,
    /// No more children: we are ending by a signal.
    closed: bool,
    /// [`Children::stop_for_good`] was called: children ending by its
    /// signals were stopped by us, which is no failure of theirs.
    stopping: bool,
}

impl Children {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `command` with no signal blocked ([`Blocked::unblock_in`])
    /// and puts it on the list. Fails with `Interrupted` once a signal
    /// ends the process ([`PassOn::ToGroupsThenDie`]), so that no child
    /// starts unsignalled.
    pub fn spawn(&self, command: &mut Command) -> io::Result<Child> {
        Blocked::unblock_in(command);
        self.spawn_unblocked(command)
    }

    /// [`Children::spawn`], with `exec` run in the child as the last step
    /// before the program starts (after the signal mask is emptied), so
    /// that it may start the program itself, with an environment or file
    /// descriptors it sets up in the child; if it returns an error,
    /// spawning fails with it.
    ///
    /// # Safety
    ///
    /// As for [`std::os::unix::process::CommandExt::pre_exec`]: `exec`
    /// runs between fork and exec, in a copy of a process that may have
    /// other threads, so it may make only async-signal-safe calls (no
    /// allocation, no lock).
    pub unsafe fn spawn_exec<F>(&self, command: &mut Command, exec: F) -> io::Result<Child>
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        use std::os::unix::process::CommandExt;
        Blocked::unblock_in(command);
        // SAFETY: the caller's promise.
        unsafe { command.pre_exec(exec) };
        self.spawn_unblocked(command)
    }

    /// Starts `command`, whose mask is already taken care of, and puts it
    /// on the list.
    fn spawn_unblocked(&self, command: &mut Command) -> io::Result<Child> {
        // Started under the lock: a signal is passed on either before the
        // child exists or after it is on the list.
        let mut registry = self.lock();
        if registry.closed {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "ending on a signal",
            ));
        }
        let child = command.spawn()?;
        registry.pids.push(child.id());
        Ok(child)
    }

    /// Waits for `child` (started by [`Children::spawn`]) to end, takes it
    /// off the list, then reaps it.
    pub fn wait(&self, child: &mut Child) -> io::Result<ExitStatus> {
        self.wait_unreaped(child);
        self.reap(child)
    }

    /// Waits for `child` to end without reaping it: until it is reaped
    /// ([`Children::reap`]) its pid, and the id of the process group it
    /// leads, name nobody else.
    pub fn wait_unreaped(&self, child: &Child) {
        let pid = child.id();
        loop {
            // SAFETY: `info` is written by the call; the pid is our child's.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let waited =
                unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if waited == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
    }

    /// Takes `child` off the list, then reaps it.
    pub fn reap(&self, child: &mut Child) -> io::Result<ExitStatus> {
        let pid = child.id();
        self.lock().pids.retain(|&p| p != pid);
        child.wait()
    }

    /// Ends what `child`, which has ended but is not reaped yet
    /// ([`Children::wait_unreaped`]), leaves running in the process group
    /// it leads: SIGTERM, and SIGKILL `after` that if anything still runs
    /// there. Returns whether the group has ended (it may not if a process
    /// in it cannot be killed, e.g. stuck in the kernel, within `after`
    /// more).
    pub fn end_group(&self, child: &Child, after: Duration) -> bool {
        let pgid = child.id();
        let send = |signal| {
            if self.lock().pids.contains(&pgid) {
                // SAFETY: the group of a child not reaped yet: its id names
                // no other group.
                unsafe { libc::kill(-(pgid as libc::pid_t), signal) };
            }
        };
        !group_runs(pgid) || escalate(send, || !group_runs(pgid), after)
    }

    /// After a signal passed on to the children's process groups, before
    /// the command ends by it: waits up to [`STOP_GRACE`] for what runs
    /// there to end, then sends SIGTERM, and as long again later SIGKILL.
    /// A child may hold the signal back or ignore it, and nothing may be
    /// left running: dash, between two commands, keeps a SIGINT until its
    /// next command ends, and that command (a `sleep`) never gets it. The
    /// output of the children is forwarded meanwhile. Returns false as soon
    /// as one more of the signals `blocked` takes comes: ending is insisted
    /// on.
    fn end_groups(&self, command: &str, blocked: &Blocked) -> bool {
        for step in [None, Some(libc::SIGTERM), Some(libc::SIGKILL)] {
            if let Some(signal) = step {
                if !self.groups_run() {
                    return true;
                }
                eprintln!(
                    "{command}: a command still runs {} seconds after a signal to end it: \
                     sending {}",
                    STOP_GRACE.as_secs(),
                    crate::os::signal_name(signal)
                );
                self.signal(signal, Target::Group);
            }
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && self.groups_run() {
                let poll = Some(Instant::now() + Duration::from_millis(10));
                if blocked.wait_until(poll).is_some() {
                    return false;
                }
            }
        }
        true
    }

    /// Whether anything runs in the process group of a child on the list.
    fn groups_run(&self) -> bool {
        let pids = self.lock().pids.clone();
        pids.into_iter().any(group_runs)
    }

    /// Sends `signal` to every child on the list (or to its process group).
    pub fn signal(&self, signal: i32, target: Target) {
        send(&self.lock(), signal, target);
    }

    /// Whether every child on the list has ended (is not running, even if
    /// not reaped yet).
    pub fn all_ended(&self) -> bool {
        self.lock().pids.iter().all(|&pid| has_ended(pid))
    }

    /// Whether [`Children::stop_for_good`] has been called.
    pub fn stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Stops the children for good when nobody reads their output any
    /// more: `send(SIGTERM)`, then `send(SIGKILL)` if a child has not ended
    /// [`STOP_GRACE`] later (one that ignores SIGTERM would otherwise keep
    /// us waiting, or run on after us). `send` signals what is to stop.
    pub fn stop_for_good(&self, send: impl FnMut(i32)) {
        self.lock().stopping = true;
        escalate(send, || self.all_ended(), STOP_GRACE);
    }

    /// Whether a child on the list has not ended yet. If `send_it`, sends
    /// `signal` to `target`: each running child's process, or each child's
    /// process group (a child that has ended but is not reaped yet may have
    /// left something running there).
    fn signal_running(&self, signal: i32, send_it: bool, target: Target) -> bool {
        let registry = self.lock();
        let running = registry.pids.iter().any(|&pid| !has_ended(pid));
        if send_it && (running || target == Target::Group) {
            send(&registry, signal, target);
        }
        running
    }

    /// A step of [`Stop`]: sends `signal` to `target` of every child still
    /// running, saying so on standard error.
    fn stop_step(&self, signal: i32, target: Target, stop: &Stop) {
        let registry = self.lock();
        if registry.pids.iter().all(|&pid| has_ended(pid)) {
            return;
        }
        eprintln!(
            "{}: the command still runs {} seconds after a signal to end it: sending {}",
            stop.command,
            stop.after.as_secs(),
            crate::os::signal_name(signal)
        );
        send(&registry, signal, target);
    }

    /// Sends `signal` to every process below us but the children on the
    /// list (signalled on their own), under the lock, so that none of them
    /// is reaped meanwhile and its pid given to a process below us.
    fn signal_below(&self, signal: i32) {
        let registry = self.lock();
        crate::os::signal_descendants(signal, &registry.pids);
    }

    /// [`Children::signal`], and no child starts after it.
    fn close_and_signal(&self, signal: i32, target: Target) {
        let mut registry = self.lock();
        registry.closed = true;
        send(&registry, signal, target);
    }
}

/// Whether child `pid`, not yet reaped, has ended (is a zombie).
fn has_ended(pid: u32) -> bool {
    // SAFETY: `info` is written by the call; WNOWAIT leaves the child to
    // be reaped by Children::wait.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let waited = unsafe {
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is set by waitid (0 when the child has not ended).
    waited == 0 && unsafe { info.si_pid() } != 0
}

/// Whether anything runs (not a zombie) in process group `pgid`, as /proc
/// says.
fn group_runs(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the command name in parentheses: state, ppid, pgrp.
        let Some(after) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
            return false;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
        pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
    })
}

fn send(registry: &Registry, signal: i32, target: Target) {
    for &pid in &registry.pids {
        let pid = pid as libc::pid_t;
        let to = match target {
            Target::Process => pid,
            Target::Group => -pid,
        };
        // SAFETY: a child we started and have not reaped (see Children),
        // or the group it leads, so the id names no other process.
        unsafe { libc::kill(to, signal) };
    }
}

/// Whether this process is in the foreground of its controlling terminal
/// (so that Ctrl-C reaches its whole process group, and a process of
/// another group that reads the terminal would be stopped by SIGTTIN).
pub fn in_terminal_foreground() -> bool {
    // SAFETY: open of a constant path, closed below; tcgetpgrp and getpgrp
    // only read.
    unsafe {
        let fd = libc::open(
            c"/dev/tty".as_ptr(),
            libc::O_RDONLY | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        );
        if fd < 0 {
            return false;
        }
        let foreground = libc::tcgetpgrp(fd);
        libc::close(fd);
        foreground > 0 && foreground == libc::getpgrp()
    }
}

/// The signals taken so far by the thread [`Blocked::pass_on`] started.
#[derive(Clone)]
pub struct Received {
    /// Bit N: signal N came.
    came: Arc<AtomicU64>,
    /// The latest signal that came when every child had ended already
    /// (0: none), see [`Received::unanswered`].
    unanswered: Arc<AtomicI32>,
    /// Bit N: signal N is one the thread takes.
    taken: u64,
}

impl Received {
    fn add(&self, signal: i32) {
        if (1..64).contains(&signal) {
            self.came.fetch_or(1 << signal, Ordering::SeqCst);
        }
    }

    /// A signal that came when every child had ended, with
    /// [`PassOn::ToChildren`]: nobody but the command can act on it, as it
    /// would wait on for output that what a child started holds open.
    pub fn unanswered(&self) -> Option<i32> {
        Some(self.unanswered.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// Whether `signal` came, taken already or still waiting to be. (A
    /// signal the terminal sent to the whole group reaches us before the
    /// child it killed can be waited for, but the thread may not have
    /// taken it yet.)
    pub fn contains(&self, signal: i32) -> bool {
        self.signals().contains(&signal)
    }

    /// The signals that came, in increasing order (see
    /// [`Received::contains`]).
    pub fn signals(&self) -> Vec<i32> {
        let mut bits = self.came.load(Ordering::SeqCst);
        // SAFETY: a zeroed sigset_t is valid storage for sigpending, which
        // writes it; sigismember only reads it.
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            if libc::sigpending(&mut pending) == 0 {
                for signal in 1..64 {
                    if libc::sigismember(&pending, signal) == 1 {
                        bits |= (1 << signal) & self.taken;
                    }
                }
            }
        }
        (1..64).filter(|s| bits & (1 << s) != 0).collect()
    }
}
