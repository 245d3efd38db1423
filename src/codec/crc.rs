//! CRC-32 (IEEE, as zlib computes it) of packets, and of any range of a
//! buffer in time that does not grow with the range's length.
//!
//! A candidate that fails its CRC gives up only its signature byte (SPEC
//! 2.3), so the candidates that follow it may cover the same bytes again:
//! hashing each of them from scratch costs up to 4 MiB per candidate. The
//! CRC is affine, so `crc(A‖B) = carry(crc(A), |B|) ^ crc(B)`, where
//! `carry` multiplies by x^(8|B|) modulo the CRC polynomial (what zlib's
//! `crc32_combine` does). [`CrcCheckpoints`] keeps the CRC of a buffer's
//! bytes from one origin up to every 64th byte, each byte hashed once, and
//! derives the CRC of any range from two checkpoints, at most 126 bytes
//! hashed directly and a few multiplications.

use std::collections::VecDeque;
use std::ops::Range;

/// The CRC-32 polynomial, bit-reflected (the coefficient of x^0 is the top
/// bit), with x^32 implied.
const POLY: u32 = 0xedb8_8320;

/// x^0 (the polynomial 1) in the reflected representation.
const ONE: u32 = 1 << 31;

/// The IEEE CRC-32 of `bytes`.
///
/// `crc32fast::hash` detects the CPU's features on every call, which costs
/// as much as the checksum of a small packet; a hasher made once is cloned
/// instead.
pub fn crc32(bytes: &[u8]) -> u32 {
    static TEMPLATE: std::sync::LazyLock<crc32fast::Hasher> =
        std::sync::LazyLock::new(crc32fast::Hasher::new);
    let mut hasher = TEMPLATE.clone();
    hasher.update(bytes);
    hasher.finalize()
}

/// The CRC-32 of `A‖bytes` from `crc`, the CRC-32 of `A`.
pub fn crc32_continue(crc: u32, bytes: &[u8]) -> u32 {
    if bytes.is_empty() {
        return crc;
    }
    let mut hasher = crc32fast::Hasher::new_with_initial(crc);
    hasher.update(bytes);
    hasher.finalize()
}

/// `a(x) * b(x)` modulo the polynomial, both reflected, a bit at a time:
/// for the tables, made at compile time.
const fn multiply_bitwise(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut i = 0;
    while i < 32 {
        // The coefficient of x^i in a is bit 31 - i.
        let take = 0u32.wrapping_sub((a >> (31 - i)) & 1);
        product ^= b & take;
        // b * x: a shift, reduced when x^31's coefficient overflows.
        b = (b >> 1) ^ (POLY & 0u32.wrapping_sub(b & 1));
        i += 1;
    }
    product
}

/// `p(x) * x^4` modulo the polynomial for the four bits of `p` that
/// overflow (its low bits, x^28..x^31): `p * x^4 = (p >> 4) ^ REDUCE[p & 15]`.
const REDUCE: [u32; 16] = {
    let mut table = [0; 16];
    let mut v = 0;
    while v < 16 {
        let mut p = v as u32;
        let mut i = 0;
        while i < 4 {
            p = (p >> 1) ^ (POLY & 0u32.wrapping_sub(p & 1));
            i += 1;
        }
        table[v] = p;
        v += 1;
    }
    table
};

/// `a(x) * b(x)` modulo the polynomial, both reflected, four bits of `a` at
/// a time (Horner's rule from its highest powers): about a quarter of the
/// bitwise loop's work.
fn multiply(a: u32, b: u32) -> u32 {
    // multiples[m] = b * (the 4-bit polynomial m, bit 3 being x^0).
    let times_x = |p: u32| (p >> 1) ^ (POLY & 0u32.wrapping_sub(p & 1));
    let mut multiples = [0u32; 16];
    multiples[8] = b;
    multiples[4] = times_x(b);
    multiples[2] = times_x(multiples[4]);
    multiples[1] = times_x(multiples[2]);
    for m in 1..16usize {
        let low = m & m.wrapping_neg();
        multiples[m] = multiples[m ^ low] ^ multiples[low];
    }
    // Nibble k of a holds x^(4k)..x^(4k+3), in bits 31-4k down to 28-4k.
    let mut product = multiples[(a & 15) as usize];
    for k in (0..7).rev() {
        let nibble = (a >> (28 - 4 * k)) & 15;
        product = (product >> 4) ^ REDUCE[(product & 15) as usize] ^ multiples[nibble as usize];
    }
    product
}

/// `POWERS[d][i]` is x^(8 * i * 256^d): with one entry per byte of a
/// length, x^(8n) takes at most three multiplications for any `n` below
/// 2^24, which covers every packet (at most 2^22 - 1 bytes).
const POWERS: [[u32; 256]; 3] = {
    let mut tables = [[ONE; 256]; 3];
    // x^8: one byte's worth of x.
    let mut step = ONE >> 8;
    let mut d = 0;
    while d < 3 {
        let mut i = 1;
        while i < 256 {
            tables[d][i] = multiply_bitwise(tables[d][i - 1], step);
            i += 1;
        }
        // x^(8 * 256^(d+1)) = x^(8 * 255 * 256^d) * x^(8 * 256^d).
        step = multiply_bitwise(tables[d][255], step);
        d += 1;
    }
    tables
};

/// x^(8n) modulo the polynomial, for `n` below 2^24.
fn x_to_8n(n: usize) -> u32 {
    debug_assert!(n < 1 << 24);
    let mut power = POWERS[0][n & 0xff];
    for (d, byte) in [(1, (n >> 8) & 0xff), (2, (n >> 16) & 0xff)] {
        if byte != 0 {
            power = multiply(power, POWERS[d][byte]);
        }
    }
    power
}

/// What the CRC of `A` contributes to the CRC of `A‖B` when `B` is `len`
/// bytes long: `crc(A‖B) = carry(crc(A), len) ^ crc(B)`. `len` is below
/// 2^24.
pub fn carry(crc: u32, len: usize) -> u32 {
    if len == 0 || crc == 0 {
        return crc;
    }
    multiply(crc, x_to_8n(len))
}

/// Bytes between two checkpoints.
const STEP: usize = 64;

/// The CRC-32 of a buffer's bytes from an origin up to every 64th
/// byte after it, kept by stream offset so that it survives the buffer
/// moving its bytes; see the module documentation. Pure: the caller hands
/// in the bytes it holds.
#[derive(Clone, Debug)]
pub struct CrcCheckpoints {
    /// Stream offset of the first checkpoint.
    origin: u64,
    /// `values[i]`: the CRC-32 of the stream bytes from `origin` to
    /// `origin + i * STEP`. Empty until first used.
    values: VecDeque<u32>,
    /// The hasher at the last checkpoint, to extend from.
    running: Option<crc32fast::Hasher>,
    /// The last length carried over and its x^(8n): overlapping candidates
    /// mostly claim the same length.
    power: (usize, u32),
    /// Bytes hashed so far, to show the work stays linear.
    hashed: u64,
}

impl Default for CrcCheckpoints {
    fn default() -> Self {
        CrcCheckpoints::new()
    }
}

impl CrcCheckpoints {
    /// No checkpoints yet.
    pub fn new() -> CrcCheckpoints {
        CrcCheckpoints {
            origin: 0,
            values: VecDeque::new(),
            running: None,
            power: (0, ONE),
            hashed: 0,
        }
    }

    /// How many bytes it has hashed, over all the ranges asked for.
    pub fn bytes_hashed(&self) -> u64 {
        self.hashed
    }

    /// The CRC-32 of `window[range]`, where `window` holds the stream's
    /// bytes from offset `window_offset` on. Checkpoints are added as far
    /// as the range reaches and dropped before its start (ranges asked for
    /// must not move backwards, or the checkpoints start again): asked for
    /// ranges that overlap, each byte is hashed about once.
    pub fn crc(&mut self, window: &[u8], window_offset: u64, range: Range<usize>) -> u32 {
        let start = window_offset + range.start as u64;
        let end = window_offset + range.end as u64;
        if range.len() < 2 * STEP {
            self.hashed += range.len() as u64;
            return crc32(&window[range]);
        }
        if self.values.is_empty() || start < self.origin || self.covered() < start {
            // Nothing usable: start again where the range starts.
            self.origin = start;
            self.values.clear();
            self.values.push_back(0);
            self.running = Some(crc32fast::Hasher::new());
        }
        // Checkpoints wholly before the start are of no more use. The
        // values stay CRCs from the first origin: a range's CRC is taken
        // from the difference of two of them, which any common origin
        // gives.
        while self.values.len() > 1 && self.origin + STEP as u64 <= start {
            self.values.pop_front();
            self.origin += STEP as u64;
        }
        let mut covered = self.covered();
        let running = self.running.get_or_insert_with(crc32fast::Hasher::new);
        while covered + STEP as u64 <= end {
            let at = (covered - window_offset) as usize;
            running.update(&window[at..at + STEP]);
            self.values.push_back(running.clone().finalize());
            covered += STEP as u64;
            self.hashed += STEP as u64;
        }
        // The checkpoints inside the range: the first at or after its
        // start, the last at or before its end.
        let first = (start - self.origin).div_ceil(STEP as u64) as usize;
        let last = ((end - self.origin) / STEP as u64) as usize;
        let at = |i: usize| (self.origin + (i * STEP) as u64 - window_offset) as usize;
        let (first_at, last_at) = (at(first), at(last));
        // With O the origin: crc(first..last) = crc(O..last) ^
        // carry(crc(O..first), n), and crc(start..last) =
        // carry(crc(start..first), n) ^ crc(first..last).
        self.hashed += (first_at - range.start + range.end - last_at) as u64;
        let head = crc32(&window[range.start..first_at]);
        let n = last_at - first_at;
        if self.power.0 != n {
            self.power = (n, x_to_8n(n));
        }
        let middle = multiply(head ^ self.values[first], self.power.1) ^ self.values[last];
        crc32_continue(middle, &window[last_at..range.end])
    }

    /// Stream offset of the last checkpoint.
    fn covered(&self) -> u64 {
        self.origin + (self.values.len().saturating_sub(1) * STEP) as u64
    }
}

/// `n` pseudo-random bytes from `seed` (xorshift), for the tests of the
/// CRC code here and in the rerouting.
#[cfg(test)]
pub(crate) fn test_bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_bytes as bytes;

    #[test]
    fn the_check_value_and_combining() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let data = bytes(5000, 7);
        for split in [0, 1, 63, 64, 65, 255, 256, 4096, 4999, 5000] {
            let (a, b) = data.split_at(split);
            assert_eq!(
                carry(crc32(a), b.len()) ^ crc32(b),
                crc32(&data),
                "split at {split}"
            );
            assert_eq!(crc32_continue(crc32(a), b), crc32(&data));
        }
    }

    #[test]
    fn nibbles_multiply_as_bits_do() {
        let values = bytes(4000, 11);
        for pair in values.chunks_exact(8) {
            let a = u32::from_le_bytes(pair[..4].try_into().unwrap());
            let b = u32::from_le_bytes(pair[4..].try_into().unwrap());
            assert_eq!(multiply(a, b), multiply_bitwise(a, b), "{a:08x} * {b:08x}");
        }
        assert_eq!(multiply(ONE, 0x1234_5678), 0x1234_5678);
    }

    #[test]
    fn powers_agree_with_repeated_multiplication() {
        let mut power = ONE;
        for n in 0..1000 {
            assert_eq!(x_to_8n(n), power, "x^(8*{n})");
            power = multiply(power, ONE >> 8);
        }
        // x^(8 * 2^22) two ways.
        let big = (0..22).fold(ONE >> 8, |p, _| multiply(p, p));
        assert_eq!(x_to_8n(1 << 22), big);
    }

    #[test]
    fn checkpoints_give_the_crc_of_overlapping_ranges() {
        let data = bytes(20_000, 3);
        let mut checkpoints = CrcCheckpoints::new();
        // The window moves on as a reader's buffer would.
        for (offset, start, len) in [
            (0u64, 0usize, 10_000usize),
            (0, 16, 10_000),
            (0, 17, 9_000),
            (100, 50, 12_000),
            (100, 51, 200),
            (1000, 0, 130),
            (1000, 5000, 14_000),
        ] {
            let window = &data[offset as usize..];
            let got = checkpoints.crc(window, offset, start..start + len);
            assert_eq!(
                got,
                crc32(&window[start..start + len]),
                "{offset} {start} {len}"
            );
        }
    }
}
