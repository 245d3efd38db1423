//! Reading a child's output that can be ended early: once a [`Cancel`] is
//! triggered, its readers take in what is there to read at that moment
//! and then report the end of their input, even if a process still holds
//! the pipe open (what a command started with `&` and left running), so
//! that a command that has ended never keeps the reading waiting for ever.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the commands that run children go on reading a child's output
/// once the child has ended, while something it started holds it open.
pub const LINGER: Duration = Duration::from_secs(2);

/// The most bytes a reader still takes in after the trigger: what a pipe
/// holds (at most 1 MiB on Linux), not what a process goes on writing.
const DRAIN: usize = 1 << 20;

/// Ends the reading of some inputs early; see the module documentation.
#[derive(Clone)]
pub struct Cancel(Arc<Shared>);

struct Shared {
    /// Read end of a pipe that every reader polls: it reports a hang-up,
    /// to all of them at once, when the write end is closed.
    wake: OwnedFd,
    /// The write end, until the trigger closes it.
    trigger: Mutex<Option<OwnedFd>>,
    /// Readers not dropped yet.
    open: Mutex<usize>,
    closed: Condvar,
    /// Whether a reader ended its input because of the trigger.
    cut: AtomicBool,
}

impl Cancel {
    /// A cancel not triggered yet (it holds a pipe: two file descriptors).
    pub fn new() -> io::Result<Cancel> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`, which we own
        // from here on; O_CLOEXEC keeps them out of the children.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both are open and ours alone.
        let (wake, trigger) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Cancel(Arc::new(Shared {
            wake,
            trigger: Mutex::new(Some(trigger)),
            open: Mutex::new(0),
            closed: Condvar::new(),
            cut: AtomicBool::new(false),
        })))
    }

    /// `input` (a pipe), read until its end or until the trigger; counted
    /// by [`Cancel::wait_closed`] from now until it is dropped.
    pub fn reader<R: Read + AsFd>(&self, input: R) -> Cancellable<R> {
        *self.open() += 1;
        Cancellable {
            input,
            cancel: self.clone(),
            drained: 0,
        }
    }

    /// Ends every reader's input once what is there has been read.
    pub fn trigger(&self) {
        let mut trigger = self.0.trigger.lock().unwrap_or_else(|e| e.into_inner());
        drop(trigger.take());
    }

    /// Waits at most `timeout` for every reader to be dropped (its input
    /// read to the end); whether they were.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let open = self.open();
        let (open, _) = self
            .0
            .closed
            .wait_timeout_while(open, timeout, |open| *open > 0)
            .unwrap_or_else(|e| e.into_inner());
        *open == 0
    }

    /// Whether a reader's input was ended by the trigger while it was still
    /// open, rather than by its writers.
    pub fn cut_off(&self) -> bool {
        self.0.cut.load(Ordering::SeqCst)
    }

    fn open(&self) -> MutexGuard<'_, usize> {
        self.0.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An input that [`Cancel::trigger`] can end; see [`Cancel::reader`].
pub struct Cancellable<R> {
    input: R,
    cancel: Cancel,
    /// Bytes read since the trigger.
    drained: usize,
}

impl<R: Read + AsFd> Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut fds = [
            libc::pollfd {
                fd: self.input.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.cancel.0.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            // SAFETY: two valid pollfds, and the count says two.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } >= 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        let triggered = fds[1].revents != 0;
        if triggered && fds[0].revents == 0 {
            // Nothing is coming now: the end.
            self.cancel.0.cut.store(true, Ordering::SeqCst);
            return Ok(0);
        }
        if triggered {
            if self.drained >= DRAIN {
                self.cancel.0.cut.store(true, Ordering::SeqCst);
                return Ok(0);
            }
            let n = self.input.read(buf)?;
            self.drained += n;
            return Ok(n);
        }
        self.input.read(buf)
    }
}

impl<R: AsFd> AsFd for Cancellable<R> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.input.as_fd()
    }
}

impl<R> Drop for Cancellable<R> {
    fn drop(&mut self) {
        *self.cancel.open() -= 1;
        self.cancel.0.closed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_trigger_ends_an_input_still_open_after_what_it_holds() {
        let cancel = Cancel::new().unwrap();
        let (mut writer, input) = UnixStream::pair().unwrap();
        let mut reader = cancel.reader(input);
        writer.write_all(b"before").unwrap();
        let mut buf = [0; 64];
        assert_eq!(reader.read(&mut buf).unwrap(), 6);
        writer.write_all(b"held").unwrap();
        cancel.trigger();
        // What was there is read, then the end, the writer still open.
        assert_eq!(reader.read(&mut buf).unwrap(), 4);
        assert_eq!(reader.read(&mut buf).unwrap(), 0);
        assert!(cancel.cut_off());
        assert!(!cancel.wait_closed(Duration::ZERO));
        drop(reader);
        assert!(cancel.wait_closed(Duration::ZERO));
    }

    #[test]
    fn an_input_that_ends_by_itself_is_not_cut() {
        let cancel = Cancel::new().unwrap();
        let (mut writer, input) = UnixStream::pair().unwrap();
        let mut reader = cancel.reader(input);
        writer.write_all(b"all").unwrap();
        drop(writer);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"all");
        assert!(!cancel.cut_off());
    }
}
