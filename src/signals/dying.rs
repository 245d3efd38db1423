//! Ending by a signal without cutting output short: whole-packet writes to
//! standard output ([`WholeWrites`]) and [`die_by`], which waits for the
//! write in progress before the process ends.

use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::Blocked;

/// Held while whole packets are written to standard output through
/// [`WholeWrites`], so that [`die_by`] does not end the process half way.
static WRITING: Mutex<()> = Mutex::new(());

/// Set when a signal came that the command is to end by once its children's
/// groups have ended ([`PassOn::ToGroupsThenDie`](super::PassOn::ToGroupsThenDie)): see [`await_death`].
pub(super) static DYING: AtomicBool = AtomicBool::new(false);

/// For the thread that would end the command when its work is done: if a
/// signal came that the command is to end by ([`PassOn::ToGroupsThenDie`](super::PassOn::ToGroupsThenDie)),
/// waits for the signal thread to end it, so that it ends by the signal
/// (as its parent must see) and not with the children's status, once they
/// ended of it or of the SIGTERM that followed.
pub fn await_death() {
    if DYING.load(Ordering::SeqCst) {
        loop {
            thread::park();
        }
    }
}

/// Set by [`die_by`]: no write through [`WholeWrites`] starts any more.
/// Without it the writing thread, which takes [`WRITING`] again as soon as
/// a batch is written, would keep it from [`die_by`] for as long as input
/// comes.
static ENDING: AtomicBool = AtomicBool::new(false);

/// Output whose writes, each a whole number of packets, [`die_by`] lets
/// end before it ends the process from another thread (subunit-mux's
/// signal thread), so that the output stays whole packets.
///
/// `W` must hold back no part of what it was given once a call returns
/// (`flush` aside, which is also a whole write): bytes left in a buffer
/// when the process ends are lost, and a packet with them. Standard
/// output's own line buffer does exactly that, keeping what follows the
/// last newline of a write (a packet's route code and CRC) for the next
/// one: write to [`WholeWrites::stdout`], which has none.
pub struct WholeWrites<W>(pub W);

/// Standard output's file descriptor, written without standard output's
/// line buffer.
pub struct RawStdout(std::mem::ManuallyDrop<std::fs::File>);

impl Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WholeWrites<io::BufWriter<RawStdout>> {
    /// Standard output through a buffer of `capacity` that holds whole
    /// writes only (a write larger than what is left is written once the
    /// buffer is), and not through standard output's line buffer. Nothing
    /// may have been printed to `std::io::stdout()` and left in its buffer.
    pub fn stdout(capacity: usize) -> Self {
        // SAFETY: file descriptor 1 is open for the life of the process
        // (the standard library makes sure of it at start); the File is
        // never dropped, so it is never closed here.
        let file = unsafe { std::fs::File::from_raw_fd(libc::STDOUT_FILENO) };
        WholeWrites(io::BufWriter::with_capacity(
            capacity,
            RawStdout(std::mem::ManuallyDrop::new(file)),
        ))
    }
}

impl<W: Write> WholeWrites<W> {
    /// Takes [`WRITING`] for one whole write, or waits for the end once
    /// [`die_by`] has begun: a write started then could be cut.
    fn whole(&mut self, write: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
        let writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
        if ENDING.load(Ordering::SeqCst) {
            drop(writing);
            loop {
                thread::park();
            }
        }
        write(&mut self.0)
    }
}

impl<W: Write> Write for WholeWrites<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // All of it, or a packet could be cut between two calls.
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.whole(|w| w.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.whole(|w| w.flush())
    }
}

/// Ends the process by `signal`, as if it had not been caught, so that the
/// parent sees the signal: once a write through [`WholeWrites`] has ended,
/// and no other can start. (The other commands call it with no such write
/// going on.)
pub fn die_by(signal: i32) -> ! {
    die_by_when_written(signal, None)
}

/// [`die_by`], for the thread that takes the signals in `insisted`: the
/// write may take as long as the reader of the output does (a packet is
/// written whole or not at all), but one more of those signals while it
/// waits ends the process at once, cutting it.
pub(super) fn die_by_when_written(signal: i32, insisted: Option<&Blocked>) -> ! {
    ENDING.store(true, Ordering::SeqCst);
    let _no_more_writes = loop {
        match WRITING.try_lock() {
            Ok(guard) => break Some(guard),
            Err(std::sync::TryLockError::Poisoned(e)) => break Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                let wait = Duration::from_millis(5);
                match insisted {
                    Some(blocked) => {
                        if blocked.wait_until(Some(Instant::now() + wait)).is_some() {
                            break None;
                        }
                    }
                    None => thread::sleep(wait),
                }
            }
        }
    };
    die_at_once(signal)
}

/// Ends the process by `signal` now, whatever is being written.
pub(super) fn die_at_once(signal: i32) -> ! {
    ENDING.store(true, Ordering::SeqCst);
    // SAFETY: restoring the default action and unblocking the signal in
    // this thread, then sending it to this thread: other threads may still
    // wait for it with sigwaitinfo and must not take it instead.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    // Not reached for signals whose default is to end the process.
    std::process::exit(128 + signal)
}
