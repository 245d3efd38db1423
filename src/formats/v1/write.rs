//! Writing tests as v1 text, byte for byte as python-subunit does.

use std::ops::Range;

use super::content_type::ContentType;
use super::time::TimeFormatter;
use crate::codec::packet::{Status, Tags};
use crate::results::group::Test;

/// Bytes of a packet gathered by python-subunit's chunked encoder before it
/// writes a chunk.
const CHUNK_GATHER: usize = 65_536;

/// python-subunit's HTTP-chunked encoder: it gathers writes until they
/// reach 64 KiB, so the chunks on the wire depend on the writes made.
/// `chunks` are the writes, each read out by `bytes`.
fn write_chunked<'b, T>(chunks: &[T], bytes: impl Fn(&T) -> &'b [u8], out: &mut Vec<u8>) {
    let mut gathered = 0;
    let mut size = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let len = bytes(chunk).len();
        if size + len >= CHUNK_GATHER {
            write_hex(size + len, out);
            out.extend_from_slice(b"\r\n");
            chunks[gathered..=i]
                .iter()
                .for_each(|c| out.extend_from_slice(bytes(c)));
            gathered = i + 1;
            size = 0;
        } else {
            size += len;
        }
    }
    if size > 0 {
        write_hex(size, out);
        out.extend_from_slice(b"\r\n");
        chunks[gathered..]
            .iter()
            .for_each(|c| out.extend_from_slice(bytes(c)));
    }
    out.extend_from_slice(b"0\r\n");
}

/// `value` in upper-case hexadecimal, as python's `%X` writes it.
fn write_hex(value: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 2 * size_of::<usize>()];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b"0123456789ABCDEF"[rest & 15];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Writes tests as v1 text, one test at a time, with nothing of its own
/// kept between tests; [`V1Formatter`] is the same, faster, for a stream of
/// tests.
#[derive(Debug, Default)]
pub struct V1Writer;

impl V1Writer {
    /// Appends the v1 text of a test handed on by the grouper.
    pub fn test(&self, test: &Test, out: &mut Vec<u8>) {
        V1Formatter::default().test(test, out);
    }
}

/// A non-empty chunk of an attachment, as ranges of the test's packet bytes.
#[derive(Debug, Clone)]
struct Chunk {
    name: Range<usize>,
    mime: Option<Range<usize>>,
    content: Range<usize>,
}

/// Writes tests as v1 text, as [`V1Writer`] does, reusing its buffers from
/// test to test and remembering what it formatted last (the date and clock
/// of `time:` lines, the v1 form of MIME types).
#[derive(Debug, Default)]
pub struct V1Formatter {
    times: TimeFormatter,
    /// The tags of the test being written, as ranges of its packet bytes.
    tags: Vec<Range<usize>>,
    /// The non-empty chunks of its attachments.
    chunks: Vec<Chunk>,
    mimes: MimeForms,
}

/// MIME types (`None`: none given) and their v1 forms, most recent last.
type MimeForms = Vec<(Option<Box<[u8]>>, Box<[u8]>)>;

/// The MIME types whose v1 forms are kept.
const MIMES_KEPT: usize = 16;

/// Where `part`, a slice of `whole`, lies in it.
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

impl V1Formatter {
    /// Appends the v1 text of a test handed on by the grouper.
    pub fn test(&mut self, test: &Test, out: &mut Vec<u8>) {
        let bytes = test.packets.bytes();
        // One pass over the packets for what `Test`'s accessors each find
        // in one: the first and latest timestamps, the latest status, the
        // latest tags and the attachments' chunks.
        let (mut first, mut last) = (None, None);
        let mut status = Status::Unset;
        let mut tags: Option<Tags<'_>> = None;
        self.chunks.clear();
        for (i, packet) in test.packets.iter().enumerate() {
            if i == 0 {
                first = packet.timestamp();
            }
            last = packet.timestamp();
            if packet.status() != Status::Unset {
                status = packet.status();
            }
            if let Some(t) = packet.tags() {
                tags = Some(t);
            }
            if let Some(file) = packet.file().filter(|f| !f.content.is_empty()) {
                self.chunks.push(Chunk {
                    name: range_in(bytes, file.name.as_bytes()),
                    mime: packet.mime().map(|m| range_in(bytes, m.as_bytes())),
                    content: range_in(bytes, file.content),
                });
            }
        }
        self.tags.clear();
        if let Some(tags) = tags {
            self.tags
                .extend(tags.map(|t| range_in(bytes, t.as_bytes())));
            self.tags
                .sort_unstable_by(|a, b| bytes[a.clone()].cmp(&bytes[b.clone()]));
            self.tags
                .dedup_by(|a, b| bytes[a.clone()] == bytes[b.clone()]);
        }

        if let Some(ts) = first {
            out.extend_from_slice(b"time: ");
            self.times.write(ts, out);
            out.push(b'\n');
        }
        if !self.tags.is_empty() {
            out.extend_from_slice(b"tags:");
            for tag in &self.tags {
                out.push(b' ');
                out.extend_from_slice(&bytes[tag.clone()]);
            }
            out.push(b'\n');
        }
        out.extend_from_slice(b"test: ");
        out.extend_from_slice(test.test_id.as_bytes());
        out.push(b'\n');
        if let Some(ts) = last.filter(|_| test.finished) {
            out.extend_from_slice(b"time: ");
            self.times.write(ts, out);
            out.push(b'\n');
        }
        let word: &[u8] = match status {
            Status::Success => b"successful: ",
            Status::Skip => b"skip: ",
            Status::XFail => b"xfail: ",
            Status::UxSuccess => b"uxsuccess: ",
            _ => b"failure: ",
        };
        out.extend_from_slice(word);
        out.extend_from_slice(test.test_id.as_bytes());
        out.extend_from_slice(b" [ multipart\n");
        // By name; a name's chunks in stream order, its MIME type its
        // first's.
        self.chunks.sort_unstable_by(|a, b| {
            (bytes[a.name.clone()].cmp(&bytes[b.name.clone()]))
                .then(a.content.start.cmp(&b.content.start))
        });
        let mut rest = &self.chunks[..];
        while let Some(chunk) = rest.first() {
            let name = &bytes[chunk.name.clone()];
            let count = rest
                .iter()
                .take_while(|c| bytes[c.name.clone()] == *name)
                .count();
            let mime = chunk.mime.clone().map(|m| &bytes[m]);
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(v1_form(&mut self.mimes, mime));
            out.push(b'\n');
            out.extend_from_slice(name);
            out.push(b'\n');
            write_chunked(&rest[..count], |c| &bytes[c.content.clone()], out);
            rest = &rest[count..];
        }
        out.extend_from_slice(b"]\n");
        if !self.tags.is_empty() {
            out.extend_from_slice(b"tags:");
            for tag in &self.tags {
                out.extend_from_slice(b" -");
                out.extend_from_slice(&bytes[tag.clone()]);
            }
            out.push(b'\n');
        }
    }
}

/// The v1 form of `mime` ([`ContentType::v1_form`]), from `kept` or made
/// and kept there.
fn v1_form<'k>(kept: &'k mut MimeForms, mime: Option<&[u8]>) -> &'k [u8] {
    let found = kept.iter().rposition(|(m, _)| m.as_deref() == mime);
    let at = match found {
        Some(at) => at,
        None => {
            if kept.len() == MIMES_KEPT {
                kept.remove(0);
            }
            // The bytes are a packet's MIME type, which the decoder checked
            // to be UTF-8.
            let text = mime.map(|m| String::from_utf8_lossy(m));
            let form = ContentType::parse(text.as_deref()).v1_form();
            kept.push((mime.map(Box::from), form.into_bytes().into_boxed_slice()));
            kept.len() - 1
        }
    };
    &kept[at].1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        write_chunked(chunks, |c| *c, &mut out);
        out
    }

    #[test]
    fn chunks_are_gathered_to_64_kib_like_python() {
        assert_eq!(chunked(&[b"ab", b"cd"]), b"4\r\nabcd0\r\n");
        let big = vec![b'x'; 65_534];
        let out = chunked(&[b"ab", &big, b"c"]);
        assert!(out.starts_with(b"10000\r\nab"));
        assert!(out.ends_with(b"x1\r\nc0\r\n"));
        let out = chunked(&[&big, b"ab", b"c", &big, &big]);
        let header = |n: usize| format!("{n:X}\r\n").into_bytes();
        let expected = [
            &header(65_536)[..],
            &big,
            b"ab",
            // The writes gathered go out with the one that reaches 64 KiB.
            &header(1 + 2 * 65_534),
            b"c",
            &big,
            &big,
            b"0\r\n",
        ]
        .concat();
        assert_eq!(out, expected);
        assert_eq!(chunked(&[]), b"0\r\n");
    }

    #[test]
    fn hex_is_python_upper_case() {
        for n in [0, 1, 9, 10, 15, 16, 255, 65_536, 0xABCDEF, usize::MAX] {
            let mut out = Vec::new();
            write_hex(n, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{n:X}"));
        }
    }

    #[test]
    fn mime_forms_are_kept_and_the_oldest_dropped() {
        let mut kept = Vec::new();
        for round in 0..3 {
            for i in 0..MIMES_KEPT + 5 {
                let mime = format!("Text/P{i}; Charset=\"utf8\"");
                let expected = ContentType::parse(Some(&mime)).v1_form();
                assert_eq!(
                    v1_form(&mut kept, Some(mime.as_bytes())),
                    expected.as_bytes()
                );
                assert_eq!(
                    v1_form(&mut kept, None),
                    b"application/octet-stream",
                    "round {round}"
                );
                assert!(kept.len() <= MIMES_KEPT);
            }
        }
    }
}
