//! Signals taken by one thread, for commands that supervise children
//! (port-alloc's `-- COMMAND`, subunit-mux's commands).

/// A set of signals blocked in the threads that start after it is made, so
/// that one thread can take them with [`Blocked::wait`]. Children inherit a
/// thread's mask: start them with [`Blocked::unblock_in`].
#[derive(Clone, Copy)]
pub struct Blocked(libc::sigset_t);

// SAFETY: a sigset_t is plain data.
unsafe impl Send for Blocked {}

impl Blocked {
    /// Blocks `signals` in the calling thread.
    pub fn new(signals: &[i32]) -> Blocked {
        // SAFETY: a zeroed sigset_t is valid storage for sigemptyset, and
        // the calls only read and write this local set and the thread's
        // mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                libc::sigaddset(&mut set, signal);
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
}

impl Blocked {
    /// Makes `command`'s process start with no signal blocked (the mask is
    /// inherited through fork and exec).
    pub fn unblock_in(command: &mut std::process::Command) {
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
}

/// Ends the process by `signal`, as if it had not been caught, so that the
/// parent sees the signal.
pub fn die_by(signal: i32) -> ! {
    // SAFETY: restoring the default action and unblocking the signal in
    // this thread, then sending it to our own process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
    }
    // Not reached for signals whose default is to end the process.
    std::process::exit(128 + signal)
}
