//! The JSON Lines form of a stream (SPEC section 2, `vectors/*.jsonl`).
//!
//! Byte for byte what Python's `json.dumps(obj, sort_keys=True)` prints:
//! keys sorted, `", "` and `": "` separators, non-ASCII as `\uXXXX`.

use std::io::{self, Write};

use crate::codec::packet::Packet;

/// Writes packets and chatter as JSON Lines, merging adjacent chatter into
/// one object until a packet comes or [`JsonLines::end_chatter`] is called.
#[derive(Debug, Default)]
pub struct JsonLines {
    chatter_open: bool,
    line: Vec<u8>,
}

impl JsonLines {
    /// A writer with no chatter open.
    pub fn new() -> JsonLines {
        JsonLines::default()
    }

    /// Writes one packet as one line.
    pub fn packet(&mut self, packet: &Packet<'_>, out: &mut impl Write) -> io::Result<()> {
        self.end_chatter(out)?;
        let line = &mut self.line;
        line.clear();
        push_packet(packet, line);
        line.push(b'\n');
        out.write_all(line)
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

/// Appends the JSON object for `packet` (no newline).
pub fn push_packet(packet: &Packet<'_>, line: &mut Vec<u8>) {
    line.extend_from_slice(b"{\"eof\": ");
    push_bool(packet.eof(), line);
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
    line.extend_from_slice(b", \"runnable\": ");
    push_bool(packet.runnable(), line);
    line.extend_from_slice(b", \"status\": ");
    match packet.status().name() {
        Some(name) => push_str(name, line),
        None => line.extend_from_slice(b"null"),
    }
    if let Some(tags) = packet.tags() {
        let mut tags: Vec<&str> = tags.collect();
        tags.sort_unstable();
        tags.dedup();
        line.extend_from_slice(b", \"tags\": [");
        for (i, tag) in tags.iter().enumerate() {
            if i > 0 {
                line.extend_from_slice(b", ");
            }
            push_str(tag, line);
        }
        line.push(b']');
    }
    if let Some(id) = packet.test_id() {
        line.extend_from_slice(b", \"test_id\": ");
        push_str(id, line);
    }
    if let Some(ts) = packet.timestamp() {
        // Writing to a Vec cannot fail.
        let _ = write!(line, ", \"timestamp\": [{}, {}]", ts.seconds, ts.nanos);
    }
    line.push(b'}');
}

fn push_bool(value: bool, line: &mut Vec<u8>) {
    line.extend_from_slice(if value { b"true" } else { b"false" });
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lowercase hex.
pub fn push_hex(bytes: &[u8], line: &mut Vec<u8>) {
    line.reserve(bytes.len() * 2);
    for &b in bytes {
        line.push(HEX[usize::from(b >> 4)]);
        line.push(HEX[usize::from(b & 15)]);
    }
}

/// Appends `s` as a JSON string the way Python's `json.dumps` does with
/// `ensure_ascii`: printable ASCII as is, the rest as escapes.
pub fn push_str(s: &str, line: &mut Vec<u8>) {
    line.push(b'"');
    for c in s.chars() {
        match c {
            '"' => line.extend_from_slice(b"\\\""),
            '\\' => line.extend_from_slice(b"\\\\"),
            '\n' => line.extend_from_slice(b"\\n"),
            '\r' => line.extend_from_slice(b"\\r"),
            '\t' => line.extend_from_slice(b"\\t"),
            '\u{8}' => line.extend_from_slice(b"\\b"),
            '\u{c}' => line.extend_from_slice(b"\\f"),
            ' '..='~' => line.push(c as u8),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    line.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        line.push(HEX[usize::from((*unit >> shift) & 15)]);
                    }
                }
            }
        }
    }
    line.push(b'"');
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
