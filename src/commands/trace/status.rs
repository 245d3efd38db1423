//! The status line subunit-trace keeps at the bottom of a terminal while a
//! run goes: tests done (out of those announced), failures, time elapsed,
//! and the tests in progress, longest first, with how long each has run.
//!
//! It is drawn with `\r` and erase-line and erased before anything else is
//! written, so the terminal's scrollback holds only the trace. Running
//! times are taken on this machine's clock from when the first packet of a
//! test came, not from the stream's timestamps: those may come from another
//! clock, and a hung test sends none.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap as HashMap;

use crate::codec::packet::{Packet, Status};
use crate::results::record::Recorder;

/// How often the line is redrawn while the input is quiet.
pub(super) const TICK: Duration = Duration::from_millis(500);

/// How often it is redrawn at most while results come.
const REDRAW: Duration = Duration::from_millis(100);

/// Erases the line the cursor is on and goes to its start.
const ERASE: &[u8] = b"\r\x1b[K";

/// The status line and what it shows.
#[derive(Debug)]
pub(super) struct StatusLine {
    /// When each test in progress started, by test id and route code (see
    /// `Recorder::key`).
    running: HashMap<String, Instant>,
    key: String,
    started: Instant,
    /// Whether the line is on the screen.
    shown: bool,
    drawn_at: Option<Instant>,
    text: String,
}

/// The counts the line shows, from the trace.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counts {
    /// Tests that ended.
    pub(super) done: u64,
    /// Tests announced by `exists` packets.
    pub(super) announced: u64,
    /// Tests that failed (or unexpectedly succeeded).
    pub(super) failed: u64,
}

impl StatusLine {
    pub(super) fn new() -> StatusLine {
        StatusLine {
            running: HashMap::default(),
            key: String::new(),
            started: Instant::now(),
            shown: false,
            drawn_at: None,
            text: String::new(),
        }
    }

    /// Notes a packet of a test (not `exists`): a test starts with its
    /// first packet and stops running at its final one.
    pub(super) fn packet(&mut self, packet: &Packet<'_>, test_id: &str) {
        Recorder::key(&mut self.key, test_id, packet.route_code());
        if packet.status().is_final() {
            self.running.remove(self.key.as_str());
        } else if packet.status() != Status::Exists && !self.running.contains_key(&self.key) {
            self.running.insert(self.key.clone(), Instant::now());
        }
    }

    /// Takes the line off the screen, if it is on it.
    #[inline]
    pub(super) fn erase(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.shown {
            self.shown = false;
            out.write_all(ERASE)?;
        }
        Ok(())
    }

    /// Whether the line is due to be drawn again while results come.
    pub(super) fn due(&self) -> bool {
        self.drawn_at.is_none_or(|at| at.elapsed() >= REDRAW)
    }

    /// Draws the line (in place of the one shown), cut to the terminal's
    /// width.
    pub(super) fn draw(
        &mut self,
        out: &mut impl Write,
        counts: Counts,
        tty: RawFd,
    ) -> io::Result<()> {
        let now = Instant::now();
        self.drawn_at = Some(now);
        self.render(counts, now);
        // One column short of the width, so the terminal never wraps the
        // line (which `\r` could not then take back).
        let width = terminal_width(tty).saturating_sub(1).max(10);
        let text = cut(&self.text, width);
        out.write_all(ERASE)?;
        out.write_all(text.as_bytes())?;
        self.shown = true;
        Ok(())
    }

    fn render(&mut self, counts: Counts, now: Instant) {
        use std::fmt::Write as _;
        let text = &mut self.text;
        text.clear();
        let _ = match counts.announced {
            0 => write!(text, "[{} done", counts.done),
            n => write!(text, "[{}/{n} done", counts.done),
        };
        let _ = write!(
            text,
            ", {} failed, {}]",
            counts.failed,
            clock(now - self.started)
        );
        if self.running.is_empty() {
            return;
        }
        let mut running: Vec<(&str, Duration)> = self
            .running
            .iter()
            .map(|(key, &at)| (key.split('\0').next().unwrap_or(key), now - at))
            .collect();
        running.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let _ = write!(text, " {} running:", running.len());
        // The line is cut to the terminal's width anyway.
        for (id, time) in running.iter().take(20) {
            let _ = write!(text, " {} ({})", printable(id), running_time(*time));
        }
    }
}

/// A test id without control characters, which would move the cursor.
fn printable(id: &str) -> std::borrow::Cow<'_, str> {
    if id.chars().any(char::is_control) {
        id.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        id.into()
    }
}

/// At most `width` characters of `text`.
fn cut(text: &str, width: usize) -> &str {
    match text.char_indices().nth(width) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Elapsed time as `M:SS` or `H:MM:SS`.
pub(super) fn clock(time: Duration) -> String {
    let s = time.as_secs();
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

/// How long a test has run: `2.5s`, `3m07s`, `1h02m`.
fn running_time(time: Duration) -> String {
    let s = time.as_secs();
    match s {
        0..60 => format!("{:.1}s", time.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// The terminal's width in columns (80 when it cannot be told).
fn terminal_width(fd: RawFd) -> usize {
    // SAFETY: TIOCGWINSZ writes one winsize into the zeroed struct given.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// Waits until `fd` has input (or an end), at most `timeout`: whether it
/// has. An error of poll (but EINTR) counts as input, so that the read
/// that follows reports it.
pub(super) fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, and the count says one.
    let ready = unsafe { libc::poll(&mut pfd, 1, millis) };
    if ready < 0 {
        return io::Error::last_os_error().kind() != io::ErrorKind::Interrupted;
    }
    ready > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_at_a_glance() {
        assert_eq!(clock(Duration::from_secs(83)), "1:23");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(running_time(Duration::from_millis(2500)), "2.5s");
        assert_eq!(running_time(Duration::from_secs(187)), "3m07s");
        assert_eq!(running_time(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn the_line_is_cut_by_characters_and_cleaned() {
        assert_eq!(cut("tést_abc", 3), "tés");
        assert_eq!(cut("ab", 3), "ab");
        assert_eq!(printable("a\x1b[2Jb"), "a?[2Jb");
    }
}
