//! The subunit v2 variable-length integer.
//!
//! The top two bits of the first byte give the byte count minus one; the
//! remaining bits hold the value, most significant byte first.

/// The largest value a varint can hold (4 bytes, 30 bits).
pub const MAX: u32 = 0x3FFF_FFFF;

/// How many bytes the varint starting with `first` occupies (1 to 4).
#[inline]
pub fn width(first: u8) -> usize {
    usize::from(first >> 6) + 1
}

/// The number of bytes the shortest encoding of `value` takes.
///
/// `value` must be at most [`MAX`].
#[inline]
pub fn encoded_len(value: u32) -> usize {
    debug_assert!(value <= MAX);
    match value {
        0..=0x3F => 1,
        0x40..=0x3FFF => 2,
        0x4000..=0x3F_FFFF => 3,
        _ => 4,
    }
}

/// Appends the shortest encoding of `value` to `out`.
///
/// `value` must be at most [`MAX`]; callers check their lengths first.
#[inline]
pub fn put(value: u32, out: &mut Vec<u8>) {
    debug_assert!(value <= MAX);
    match encoded_len(value) {
        1 => out.push(value as u8),
        2 => out.extend_from_slice(&(value as u16 | 0x4000).to_be_bytes()),
        3 => out.extend_from_slice(&(value | 0x80_0000).to_be_bytes()[1..]),
        _ => out.extend_from_slice(&(value | 0xC000_0000).to_be_bytes()),
    }
}

/// Reads the varint at the start of `buf`: its value and width, or `None`
/// when `buf` is shorter than the varint (or empty).
#[inline]
pub fn get(buf: &[u8]) -> Option<(u32, usize)> {
    let first = *buf.first()?;
    let width = width(first);
    let bytes = buf.get(..width)?;
    let mut value = u32::from(first & 0x3F);
    for &b in &bytes[1..] {
        value = (value << 8) | u32::from(b);
    }
    Some((value, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_use_the_shortest_form_and_read_back() {
        for (value, len) in [
            (0, 1),
            (63, 1),
            (64, 2),
            (16383, 2),
            (16384, 3),
            (4_194_303, 3),
            (4_194_304, 4),
            (MAX, 4),
        ] {
            let mut out = Vec::new();
            put(value, &mut out);
            assert_eq!(out.len(), len, "width of {value}");
            assert_eq!(get(&out), Some((value, len)));
        }
    }

    #[test]
    fn longer_forms_are_accepted_and_short_input_is_incomplete() {
        assert_eq!(get(&[0x80, 0x00, 0x0f]), Some((15, 3)));
        assert_eq!(get(&[0x40]), None);
        assert_eq!(get(&[]), None);
    }
}
