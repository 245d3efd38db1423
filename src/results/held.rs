//! Output held back until it is known to be wanted: a converter that must
//! write all of a document's output or none of it (a malformed report is
//! discovered at its end) holds what it made so far here. The first
//! `limit` bytes are kept in memory; beyond that they go to a temporary
//! file without a name, so memory stays flat however long the document.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes made but not yet written out.
#[derive(Debug)]
pub struct HeldOutput {
    /// The most recent bytes, appended to by the caller.
    memory: Vec<u8>,
    /// How many bytes memory may hold before they go to the file.
    limit: usize,
    /// Where the temporary file is made, when first needed.
    dir: PathBuf,
    /// The older bytes, from its start to its current position.
    file: Option<File>,
    /// Whether the file holds any of them.
    spilled: bool,
}

impl HeldOutput {
    /// Output held in memory up to `limit` bytes, beyond that in a
    /// temporary file in `dir`.
    pub fn new(dir: &Path, limit: usize) -> HeldOutput {
        HeldOutput {
            memory: Vec::new(),
            limit,
            dir: dir.to_owned(),
            file: None,
            spilled: false,
        }
    }

    /// The buffer to append to; call [`settle`](Self::settle) after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.memory
    }

    /// Moves the bytes in memory to the file once they are over the limit.
    pub fn settle(&mut self) -> io::Result<()> {
        if self.memory.len() <= self.limit {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            none => none.insert(crate::os::unlinked_temp_file(&self.dir)?),
        };
        file.write_all(&self.memory)?;
        self.spilled = true;
        self.memory.clear();
        Ok(())
    }

    /// Writes everything held to `out`, oldest first, and holds nothing
    /// after. The temporary file is kept for the next document.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if let Some(file) = self.file.as_mut().filter(|_| self.spilled) {
            // The file ends where its bytes do: discard truncates it.
            file.seek(SeekFrom::Start(0))?;
            io::copy(file, out)?;
        }
        out.write_all(&self.memory)?;
        self.discard()
    }

    /// Drops everything held.
    pub fn discard(&mut self) -> io::Result<()> {
        self.memory.clear();
        if let Some(file) = self.file.as_mut().filter(|_| self.spilled) {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
        }
        self.spilled = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_held_comes_out_whole_in_order_and_only_once() {
        let dir = std::env::temp_dir();
        let mut held = HeldOutput::new(&dir, 4);
        let mut out = Vec::new();
        for chunk in [&b"abc"[..], b"defgh", b"ij", b"klmnopq", b"r"] {
            held.buffer().extend_from_slice(chunk);
            held.settle().unwrap();
        }
        assert!(held.spilled, "over the limit: in the file");
        assert!(held.buffer().len() <= 4 + 7);
        held.write_to(&mut out).unwrap();
        assert_eq!(out, b"abcdefghijklmnopqr");
        // The next document starts empty; one discarded leaves nothing.
        held.buffer().extend_from_slice(b"0123456789");
        held.settle().unwrap();
        held.discard().unwrap();
        held.buffer().extend_from_slice(b"xy");
        held.settle().unwrap();
        out.clear();
        held.write_to(&mut out).unwrap();
        assert_eq!(out, b"xy");
        held.write_to(&mut out).unwrap();
        assert_eq!(out, b"xy", "nothing twice");
    }
}
