//! The JSON Lines form of a stream (SPEC section 2, `vectors/*.jsonl`).
//!
//! Byte for byte what Python's `json.dumps(obj, sort_keys=True)` prints:
//! keys sorted, `", "` and `": "` separators, non-ASCII as `\uXXXX`.

use std::io::{self, Write};

use crate::codec::packet::Packet;

/// Writes packets and chatter as JSON Lines, merging adjacent chatter into
/// one object until a packet comes or [`JsonLines::end_chatter`] is called.
///
/// Each line is formatted by hand into one reused buffer, so writing a
/// packet allocates nothing once the buffers have grown to fit.
#[derive(Debug, Default)]
pub struct JsonLines {
    chatter_open: bool,
    line: Vec<u8>,
    /// The tags of the packet being written, as byte ranges of its raw
    /// bytes, for sorting without collecting the strings.
    tags: Vec<(u32, u32)>,
}

impl JsonLines {
    /// A writer with no chatter open.
    pub fn new() -> JsonLines {
        JsonLines::default()
    }

    /// Writes one packet as one line.
    pub fn packet(&mut self, packet: &Packet<'_>, out: &mut impl Write) -> io::Result<()> {
        self.end_chatter(out)?;
        self.line.clear();
        push_packet(packet, &mut self.tags, &mut self.line);
        self.line.push(b'\n');
        out.write_all(&self.line)
    }

    /// Adds chatter bytes to the open chatter object, opening one if needed.
    pub fn chatter(&mut self, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        self.line.clear();
        if !self.chatter_open {
            self.line.extend_from_slice(b"{\"chatter_hex\": \"");
            self.chatter_open = true;
        }
        push_hex(bytes, &mut self.line);
        out.write_all(&self.line)
    }

    /// Closes the open chatter object, if any: at a pause in the input or
    /// at its end.
    pub fn end_chatter(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.chatter_open {
            self.chatter_open = false;
            out.write_all(b"\"}\n")?;
        }
        Ok(())
    }
}

/// `{"eof": ...` for eof false and true.
const EOF: [&[u8]; 2] = [b"{\"eof\": false", b"{\"eof\": true"];

/// `, "runnable": ..., "status": ...` for each runnable bit and status.
const RUNNABLE_STATUS: [[&[u8]; 8]; 2] = {
    macro_rules! row {
        ($runnable:literal) => {
            [
                concat!(", \"runnable\": ", $runnable, ", \"status\": null").as_bytes(),
                concat!(", \"runnable\": ", $runnable, ", \"status\": \"exists\"").as_bytes(),
                concat!(
                    ", \"runnable\": ",
                    $runnable,
                    ", \"status\": \"inprogress\""
                )
                .as_bytes(),
                concat!(", \"runnable\": ", $runnable, ", \"status\": \"success\"").as_bytes(),
                concat!(", \"runnable\": ", $runnable, ", \"status\": \"uxsuccess\"").as_bytes(),
                concat!(", \"runnable\": ", $runnable, ", \"status\": \"skip\"").as_bytes(),
                concat!(", \"runnable\": ", $runnable, ", \"status\": \"fail\"").as_bytes(),
                concat!(", \"runnable\": ", $runnable, ", \"status\": \"xfail\"").as_bytes(),
            ]
        };
    }
    [row!("false"), row!("true")]
};

/// Appends the JSON object for `packet` (no newline); `tags` is scratch
/// space, kept between calls so sorting the tags allocates nothing.
fn push_packet(packet: &Packet<'_>, tags: &mut Vec<(u32, u32)>, line: &mut Vec<u8>) {
    line.extend_from_slice(EOF[usize::from(packet.eof())]);
    if let Some(file) = packet.file() {
        line.extend_from_slice(b", \"file_hex\": \"");
        push_hex(file.content, line);
        line.extend_from_slice(b"\", \"file_name\": ");
        push_str(file.name, line);
    }
    if let Some(mime) = packet.mime() {
        line.extend_from_slice(b", \"mime\": ");
        push_str(mime, line);
    }
    if let Some(route) = packet.route_code() {
        line.extend_from_slice(b", \"route_code\": ");
        push_str(route, line);
    }
    line.extend_from_slice(
        RUNNABLE_STATUS[usize::from(packet.runnable())][packet.status() as usize],
    );
    if let Some(mut iter) = packet.tags() {
        line.extend_from_slice(b", \"tags\": [");
        if iter.len() <= 1 {
            // The common case (a worker tag): nothing to sort.
            if let Some(tag) = iter.next() {
                push_str(tag, line);
            }
        } else {
            push_sorted_tags(packet.raw(), iter, tags, line);
        }
        line.push(b']');
    }
    if let Some(id) = packet.test_id() {
        line.extend_from_slice(b", \"test_id\": ");
        push_str(id, line);
    }
    if let Some(ts) = packet.timestamp() {
        line.extend_from_slice(b", \"timestamp\": [");
        push_u32(ts.seconds, line);
        line.extend_from_slice(b", ");
        push_u32(ts.nanos, line);
        line.push(b']');
    }
    line.push(b'}');
}

/// Appends `tags` (borrowed from `raw`) sorted and without duplicates, as
/// Python's `sorted(set)` gives them, separated by `", "`.
fn push_sorted_tags<'a>(
    raw: &'a [u8],
    iter: impl Iterator<Item = &'a str>,
    spans: &mut Vec<(u32, u32)>,
    line: &mut Vec<u8>,
) {
    // Each tag is a subslice of `raw`, so its address minus raw's is where
    // it starts (packets are below 4 MiB: the offsets fit in u32).
    let base = raw.as_ptr() as usize;
    spans.clear();
    spans.extend(iter.map(|tag| {
        let start = tag.as_ptr() as usize - base;
        (start as u32, (start + tag.len()) as u32)
    }));
    let text = |&(start, end): &(u32, u32)| &raw[start as usize..end as usize];
    // Byte order is code point order, which is how Python sorts strings.
    spans.sort_unstable_by(|a, b| text(a).cmp(text(b)));
    spans.dedup_by(|a, b| text(a) == text(b));
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            line.extend_from_slice(b", ");
        }
        let tag = text(span);
        // The tag's bytes are a `&str` the decoder checked (see above).
        push_str(std::str::from_utf8(tag).unwrap_or_default(), line);
    }
}

/// Appends `n` in decimal.
fn push_u32(n: u32, line: &mut Vec<u8>) {
    // Copies of fixed size only: one of a variable length calls memcpy.
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let (high, low) = (n / 100_000_000, eight_digits(n % 100_000_000));
    if high == 0 {
        // Drop the leading zeros (the lowest bytes), keeping one digit.
        let zeros = ((low ^ ZEROS).trailing_zeros() / 8).min(7);
        line.extend_from_slice(&(low >> (zeros * 8)).to_le_bytes());
        line.truncate(line.len() - zeros as usize);
    } else if high < 10 {
        let mut digits = [b'0' + high as u8; 9];
        digits[1..].copy_from_slice(&low.to_le_bytes());
        line.extend_from_slice(&digits);
    } else {
        let mut digits = [b'0' + (high / 10) as u8; 10];
        digits[1] = b'0' + (high % 10) as u8;
        digits[2..].copy_from_slice(&low.to_le_bytes());
        line.extend_from_slice(&digits);
    }
}

/// The eight decimal digits of `n` (below 10^8, leading zeros included) as
/// ASCII, the first digit in the lowest byte: the divisions are done in
/// parallel in the lanes of one u64, by multiplying with reciprocals that
/// are exact for the ranges involved.
fn eight_digits(n: u32) -> u64 {
    // Two 32-bit lanes: the high four digits, then the low four.
    let x = u64::from(n / 10_000) | (u64::from(n % 10_000) << 32);
    // x / 100 for x < 10_000 is (x * 10_486) >> 20; the product stays below
    // 2^27, inside its lane. Four 16-bit lanes of two digits each.
    let hundreds = ((x * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let x = hundreds | ((x - hundreds * 100) << 16);
    // x / 10 for x < 100 is (x * 103) >> 10; eight lanes of one digit.
    let tens = ((x * 103) >> 10) & 0x000f_000f_000f_000f;
    let x = tens | ((x - tens * 10) << 8);
    x + 0x3030_3030_3030_3030
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lowercase hex.
pub fn push_hex(bytes: &[u8], line: &mut Vec<u8>) {
    let start = line.len();
    line.resize(start + bytes.len() * 2, 0);
    let out = &mut line[start..];
    // Eight bytes at a time, as sixteen digits in two u64s.
    let mut chunks = bytes.chunks_exact(8);
    let mut outs = out.chunks_exact_mut(16);
    for (chunk, out) in (&mut chunks).zip(&mut outs) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        out[..8].copy_from_slice(&hex_word(word as u32).to_le_bytes());
        out[8..].copy_from_slice(&hex_word((word >> 32) as u32).to_le_bytes());
    }
    for (&b, out) in chunks
        .remainder()
        .iter()
        .zip(outs.into_remainder().chunks_exact_mut(2))
    {
        out[0] = HEX[usize::from(b >> 4)];
        out[1] = HEX[usize::from(b & 15)];
    }
}

/// The hex digits of the four bytes of `word` (first byte lowest), as eight
/// ASCII bytes in the same order (first digit lowest).
fn hex_word(word: u32) -> u64 {
    const LOW_NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Each byte into its own 16-bit lane.
    let mut x = u64::from(word);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    // The high nibble first (lower address), then the low one: one nibble
    // per byte.
    let nibbles = ((x >> 4) | (x << 8)) & LOW_NIBBLES;
    // '0' + n, and 'a' - '0' - 10 more where n > 9 (then n + 6 has bit 4
    // set). No byte carries into the next: every sum stays below 0x80.
    let letters = ((nibbles + 6 * ONES) >> 4) & ONES;
    nibbles + b'0' as u64 * ONES + letters * (b'a' - b'0' - 10) as u64
}

/// The high bit of each byte of `word` that needs escaping in a JSON
/// string Python's way (below `' '`, above `'~'`, `'"'` or `'\\'`), and
/// maybe of bytes after one that does: nonzero exactly when one does.
fn escapes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // A byte below 0x20 borrows into its high bit; 0x7f carries into it;
    // 0x80 and above have it already. A byte equal to `"` or `\` is zero
    // after the XOR and borrows. (A borrow or carry reaches the next byte
    // only from a byte that needs escaping.)
    let control = word.wrapping_sub(0x20 * ONES);
    let high = word.wrapping_add(ONES) | word;
    let quote = (word ^ (b'"' as u64 * ONES)).wrapping_sub(ONES);
    let backslash = (word ^ (b'\\' as u64 * ONES)).wrapping_sub(ONES);
    (control | high | quote | backslash) & (0x80 * ONES)
}

/// Whether `b` is written as is in a JSON string Python's way.
fn is_plain(b: u8) -> bool {
    matches!(b, b' '..=b'~') && b != b'"' && b != b'\\'
}

/// The length of the leading run of `bytes` written as is: checked
/// sixteen and eight bytes at a time, the last few one by one.
fn plain_run(bytes: &[u8]) -> usize {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let mut n = 0;
    while n + 16 <= bytes.len() && escapes(word(n)) | escapes(word(n + 8)) == 0 {
        n += 16;
    }
    if n + 8 <= bytes.len() && escapes(word(n)) == 0 {
        n += 8;
    }
    while n < bytes.len() && is_plain(bytes[n]) {
        n += 1;
    }
    n
}

/// Appends `s` as a JSON string the way Python's `json.dumps` does with
/// `ensure_ascii`: printable ASCII as is, the rest as escapes.
pub fn push_str(s: &str, line: &mut Vec<u8>) {
    line.push(b'"');
    let bytes = s.as_bytes();
    let mut at = 0;
    loop {
        let run = plain_run(&bytes[at..]);
        line.extend_from_slice(&bytes[at..at + run]);
        at += run;
        let Some(&b) = bytes.get(at) else { break };
        // `at` is on a character boundary: the runs and escapes so far
        // were whole characters.
        match b {
            b'"' => line.extend_from_slice(b"\\\""),
            b'\\' => line.extend_from_slice(b"\\\\"),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.extend_from_slice(b"\\t"),
            0x08 => line.extend_from_slice(b"\\b"),
            0x0c => line.extend_from_slice(b"\\f"),
            0..=0x7f => push_unit(u16::from(b), line),
            _ => {
                let c = s[at..].chars().next().expect("a character at a boundary");
                for &unit in c.encode_utf16(&mut [0; 2]).iter() {
                    push_unit(unit, line);
                }
                at += c.len_utf8() - 1;
            }
        }
        at += 1;
    }
    line.push(b'"');
}

/// Appends `\uXXXX` for one UTF-16 unit.
fn push_unit(unit: u16, line: &mut Vec<u8>) {
    let hex = |shift: u16| HEX[usize::from((unit >> shift) & 15)];
    line.extend_from_slice(&[b'\\', b'u', hex(12), hex(8), hex(4), hex(0)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> String {
        let mut out = Vec::new();
        push_str(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_python_ensure_ascii() {
        assert_eq!(json("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            json("\n\r\t\u{8}\u{c}\u{1}\u{7f}"),
            r#""\n\r\t\b\f\u0001\u007f""#
        );
        assert_eq!(json("é日"), r#""\u00e9\u65e5""#);
        assert_eq!(json("😀"), r#""\ud83d\ude00""#);
    }

    #[test]
    fn chatter_is_merged_until_ended() {
        let mut lines = JsonLines::new();
        let mut out = Vec::new();
        lines.chatter(b"ab", &mut out).unwrap();
        lines.chatter(b"\xb3", &mut out).unwrap();
        lines.end_chatter(&mut out).unwrap();
        lines.end_chatter(&mut out).unwrap();
        assert_eq!(out, b"{\"chatter_hex\": \"6162b3\"}\n");
    }
}
