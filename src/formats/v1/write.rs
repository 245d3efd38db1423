//! Writing tests as v1 text, byte for byte as python-subunit does.

use std::fmt::Write as _;

use super::content_type::ContentType;
use super::time::python_time;
use crate::codec::packet::Status;
use crate::results::group::{Attachment, Test};

/// python-subunit's HTTP-chunked encoder: it gathers writes until they
/// reach 64 KiB, so the chunks on the wire depend on the writes made.
fn write_chunked(chunks: &[&[u8]], out: &mut Vec<u8>) {
    let mut buffered: Vec<&[u8]> = Vec::new();
    let mut size = 0;
    for &chunk in chunks {
        if size + chunk.len() >= 65_536 {
            let _ = write!(HexOut(out), "{:X}\r\n", size + chunk.len());
            buffered.drain(..).for_each(|b| out.extend_from_slice(b));
            out.extend_from_slice(chunk);
            size = 0;
        } else {
            buffered.push(chunk);
            size += chunk.len();
        }
    }
    if size > 0 {
        let _ = write!(HexOut(out), "{size:X}\r\n");
        buffered.drain(..).for_each(|b| out.extend_from_slice(b));
    }
    out.extend_from_slice(b"0\r\n");
}

/// `fmt::Write` into a byte vector.
struct HexOut<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for HexOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes tests as v1 text.
#[derive(Debug, Default)]
pub struct V1Writer;

impl V1Writer {
    /// Appends the v1 text of a test handed on by the grouper.
    pub fn test(&self, test: &Test, out: &mut Vec<u8>) {
        let (first, last) = test.timestamps();
        let tags = test.tags();
        if let Some(ts) = first {
            let _ = writeln!(HexOut(out), "time: {}", python_time(ts));
        }
        if !tags.is_empty() {
            out.extend_from_slice(b"tags: ");
            out.extend_from_slice(tags.join(" ").as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"test: ");
        out.extend_from_slice(test.test_id.as_bytes());
        out.push(b'\n');
        if let Some(ts) = last.filter(|_| test.finished) {
            let _ = writeln!(HexOut(out), "time: {}", python_time(ts));
        }
        let word = match test.status() {
            Status::Success => "successful",
            Status::Skip => "skip",
            Status::XFail => "xfail",
            Status::UxSuccess => "uxsuccess",
            _ => "failure",
        };
        out.extend_from_slice(word.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(test.test_id.as_bytes());
        out.extend_from_slice(b" [ multipart\n");
        let mut attachments = test.attachments();
        attachments.sort_by(|a, b| a.name.cmp(b.name));
        for Attachment { name, mime, chunks } in attachments {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(ContentType::parse(mime).v1_form().as_bytes());
            out.push(b'\n');
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
            write_chunked(&chunks, out);
        }
        out.extend_from_slice(b"]\n");
        if !tags.is_empty() {
            out.extend_from_slice(b"tags:");
            for tag in &tags {
                out.extend_from_slice(b" -");
                out.extend_from_slice(tag.as_bytes());
            }
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_gathered_to_64_kib_like_python() {
        let mut out = Vec::new();
        write_chunked(&[b"ab", b"cd"], &mut out);
        assert_eq!(out, b"4\r\nabcd0\r\n");
        let big = vec![b'x'; 65_534];
        let mut out = Vec::new();
        write_chunked(&[b"ab", &big, b"c"], &mut out);
        assert!(out.starts_with(b"10000\r\nab"));
        assert!(out.ends_with(b"x1\r\nc0\r\n"));
    }
}
