//! Lines of chatter: where they end, and their text to match.

pub(super) use crate::formats::text::clean_line;

/// Calls `f` with the position of each newline in `bytes`, in order. Lines
/// are short: a search per line would spend more on starting than on
/// searching, so each 64 bytes are looked at once, into a mask of their
/// newlines (which the compiler makes a few vector instructions).
pub(super) fn for_each_newline(bytes: &[u8], mut f: impl FnMut(usize)) {
    let mut blocks = bytes.chunks_exact(64);
    let mut base = 0;
    for block in blocks.by_ref() {
        let mut mask = newline_mask(block.try_into().expect("64 bytes"));
        while mask != 0 {
            f(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 64;
    }
    for (i, &b) in blocks.remainder().iter().enumerate() {
        if b == b'\n' {
            f(base + i);
        }
    }
}

/// Bit `i` set for a newline at `block[i]`: a word of 8 bytes at a time.
fn newline_mask(block: &[u8; 64]) -> u64 {
    const LOWS: u64 = u64::from_le_bytes([0x7f; 8]);
    const NEWLINES: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut mask = 0;
    for (i, word) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ NEWLINES;
        // 0x80 in each byte that was a newline (zero in `x`), exactly: no
        // carry crosses bytes.
        let zeros = !(((x & LOWS) + LOWS) | x) & !LOWS;
        // Bit 7 of byte k moves to bit 56 + k; no two products meet there.
        let bits = (zeros >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= bits << (8 * i);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_newline_is_found_in_order() {
        let mut bytes = Vec::new();
        for i in 0..700u32 {
            bytes.extend(std::iter::repeat_n(b'x', (i * 7 % 150) as usize));
            bytes.push(if i % 5 == 0 { b'\n' ^ 0x80 } else { b'\n' });
        }
        for len in [0, 1, 63, 64, 65, 127, 128, 1000, bytes.len()] {
            let bytes = &bytes[..len];
            let mut found = Vec::new();
            for_each_newline(bytes, |i| found.push(i));
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', bytes).collect();
            assert_eq!(found, expected, "{len}");
        }
    }
}
