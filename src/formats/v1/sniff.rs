//! Whether a stream that held no v2 packet looks like v1 text, so that a
//! v2 command can say to convert it with `subunit-1to2` rather than
//! quietly count no tests.
//!
//! Cheap by design: only the first bytes of each chatter line are looked
//! at (the rest of a line is skipped with `memchr`), and nothing at all
//! once a packet has been seen or the answer is known.

/// How much chatter is looked at: a v1 stream shows a test and its outcome
/// well within it, and a long text stream (a build log, subunit-wrap's
/// whole input) costs nothing after it.
const LOOKED_AT: u64 = 1 << 20;

/// The longest v1 keyword looked for, with its colon: `successful:`.
const HEAD: usize = 11;

/// Lines that start a v1 test.
const STARTS: &[&[u8]] = &[b"test:", b"testing:"];

/// Lines that give a v1 test's outcome.
const OUTCOMES: &[&[u8]] = &[
    b"success:",
    b"successful:",
    b"failure:",
    b"error:",
    b"skip:",
    b"xfail:",
    b"uxsuccess:",
];

/// Watches a stream's chatter for v1 lines: it looks like v1 when no
/// packet came and some line starts a test (`test:`, `testing:`) and some
/// line gives an outcome (`success:`, `failure:`, `error:`, `skip:`, ...),
/// keywords at the very start of a line as python-subunit reads them.
/// Both are needed, so a build log with `error:` lines is not taken for v1.
#[derive(Debug, Clone)]
pub struct V1Sniffer {
    packet: bool,
    start: bool,
    outcome: bool,
    /// The first bytes of the current line, while it is that short.
    head: [u8; HEAD],
    head_len: usize,
    /// Whether the current line's head is still being gathered (false
    /// once it was checked and the rest of the line is skipped).
    gathering: bool,
    /// Chatter looked at so far.
    seen: u64,
}

impl Default for V1Sniffer {
    fn default() -> Self {
        V1Sniffer::new()
    }
}

impl V1Sniffer {
    /// At the start of a stream.
    pub fn new() -> V1Sniffer {
        V1Sniffer {
            packet: false,
            start: false,
            outcome: false,
            head: [0; HEAD],
            head_len: 0,
            gathering: true,
            seen: 0,
        }
    }

    /// A valid packet came: the stream is v2, stop looking.
    pub fn packet(&mut self) {
        self.packet = true;
    }

    /// Whether chatter is still worth looking at.
    fn wanted(&self) -> bool {
        !(self.packet || self.start && self.outcome || self.seen >= LOOKED_AT)
    }

    /// Takes in chatter, in stream order (pieces may cut lines anywhere);
    /// only its first MiB (`LOOKED_AT`) is looked at.
    pub fn chatter(&mut self, mut bytes: &[u8]) {
        if !self.wanted() {
            return;
        }
        let left = usize::try_from(LOOKED_AT - self.seen).unwrap_or(usize::MAX);
        bytes = &bytes[..bytes.len().min(left)];
        self.seen += bytes.len() as u64;
        while self.wanted_here() && !bytes.is_empty() {
            if self.gathering {
                let room = HEAD - self.head_len;
                let take = bytes.len().min(room);
                let newline = memchr::memchr(b'\n', &bytes[..take]);
                let end = newline.unwrap_or(take);
                self.head[self.head_len..self.head_len + end].copy_from_slice(&bytes[..end]);
                self.head_len += end;
                if let Some(at) = newline {
                    self.check();
                    self.new_line();
                    bytes = &bytes[at + 1..];
                    continue;
                }
                bytes = &bytes[take..];
                if self.head_len < HEAD {
                    return; // the line goes on in the next piece
                }
                self.check();
                self.gathering = false;
            }
            match memchr::memchr(b'\n', bytes) {
                Some(at) => {
                    self.new_line();
                    bytes = &bytes[at + 1..];
                }
                None => return,
            }
        }
    }

    /// [`V1Sniffer::wanted`] within one piece, whose bytes are counted.
    fn wanted_here(&self) -> bool {
        !(self.packet || self.start && self.outcome)
    }

    fn new_line(&mut self) {
        self.head_len = 0;
        self.gathering = true;
    }

    /// Notes what the gathered head of a line says. Called once per line,
    /// when the head is full or the line ended.
    fn check(&mut self) {
        let head = &self.head[..self.head_len];
        let starts = |words: &[&[u8]]| words.iter().any(|w| head.starts_with(w));
        self.start |= starts(STARTS);
        self.outcome |= starts(OUTCOMES);
    }

    /// The stream is over (or as far as it went): whether it held no
    /// packet and its chatter looked like v1. A last line without a
    /// newline counts too.
    pub fn looks_like_v1(&self) -> bool {
        let mut end = self.clone();
        if end.gathering {
            end.check();
        }
        !end.packet && end.start && end.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(pieces: &[&[u8]]) -> bool {
        let mut sniffer = V1Sniffer::new();
        for piece in pieces {
            sniffer.chatter(piece);
        }
        sniffer.looks_like_v1()
    }

    #[test]
    fn v1_text_is_recognised_however_it_is_cut() {
        let v1: &[u8] = b"time: 2009-10-11 12:13:14.000000Z\ntest: a\nsuccess: a\n\
                          test: b\nfailure: b [\nboom\n]\n";
        assert!(sniff(&[v1]));
        for cut in 0..v1.len() {
            assert!(sniff(&[&v1[..cut], &v1[cut..]]), "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = v1.chunks(1).collect();
        assert!(sniff(&bytes));
        assert!(sniff(&[b"testing: x\nsuccessful: x"]), "no final newline");
        assert!(sniff(&[
            b"a long line of other output ",
            b"and more\n",
            b"test: a\nskip: a\n"
        ]));
    }

    #[test]
    fn other_text_and_v2_streams_are_not_v1() {
        assert!(!sniff(&[b""]));
        assert!(!sniff(&[b"test: a\n"]), "a start alone");
        assert!(
            !sniff(&[b"error: linking failed\nerror: again\n"]),
            "a build log"
        );
        assert!(
            !sniff(&[b"  test: a\n  success: a\n"]),
            "not at a line start"
        );
        assert!(!sniff(&[b"the test: a\nno success: a\n"]));
        let mut sniffer = V1Sniffer::new();
        sniffer.chatter(b"test: a\n");
        sniffer.packet();
        sniffer.chatter(b"success: a\n");
        assert!(!sniffer.looks_like_v1(), "a packet came");
    }

    #[test]
    fn only_the_first_mib_is_looked_at() {
        let filler = vec![b'x'; LOOKED_AT as usize - 8];
        assert!(!sniff(&[&filler, b"\ntest: a\nsuccess: a\n"]));
        assert!(!sniff(&[b"test: a\n", &filler, b"\nsuccess: a\n"]));
        assert!(sniff(&[b"test: a\nsuccess: a\n", &filler, &filler]));
    }
}
