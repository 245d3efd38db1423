//! Where the grouper puts the packets of tests in progress beyond what it
//! holds in memory: one temporary file without a name (its space is given
//! back however the process ends), to which each test's packets are
//! appended in segments chained back to front, so that memory keeps only
//! where each test's last segment is.

use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes before each segment's packets: where the test's previous segment
/// starts (`NONE` for its first), and how many bytes follow.
const HEADER: usize = 16;

/// No previous segment.
const NONE: u64 = u64::MAX;

/// A test's packets in the file: where its last segment starts (plus one,
/// so that an `Option<Chain>` takes no more room than the offset: tests
/// are moved about often).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain(NonZeroU64);

impl Chain {
    fn last(self) -> u64 {
        self.0.get() - 1
    }
}

/// The temporary file, made when first needed.
#[derive(Debug)]
pub struct SpillFile {
    dir: PathBuf,
    file: Option<File>,
    /// Where the next segment goes.
    len: u64,
}

impl SpillFile {
    /// A file to be made in `dir` when first written to.
    pub fn new(dir: &Path) -> SpillFile {
        SpillFile {
            dir: dir.to_owned(),
            file: None,
            len: 0,
        }
    }

    /// The directory the file is (or will be) in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `packets` (whole packets) to `chain` (a test's, or `None`
    /// for a test not in the file yet). On an error (a full disk) nothing
    /// changes: the chain is as it was.
    pub fn append(&mut self, chain: Option<Chain>, packets: &[u8]) -> io::Result<Chain> {
        let file = match &mut self.file {
            Some(file) => file,
            none => none.insert(crate::os::unlinked_temp_file(&self.dir)?),
        };
        let at = self.len;
        let prev = chain.map_or(NONE, Chain::last);
        let mut segment = Vec::with_capacity(HEADER + packets.len());
        segment.extend_from_slice(&prev.to_be_bytes());
        segment.extend_from_slice(&(packets.len() as u64).to_be_bytes());
        segment.extend_from_slice(packets);
        // Written at its place, so a failed write leaves only bytes past
        // the end that the next segment overwrites.
        file.write_all_at(&segment, at)?;
        self.len += segment.len() as u64;
        Ok(Chain(NonZeroU64::new(at + 1).expect("an offset plus one")))
    }

    /// Reads a chain's packets back, first segment first, appending them to
    /// `out`.
    pub fn read(&self, chain: Chain, out: &mut Vec<u8>) -> io::Result<()> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| io::Error::other("no temporary file of held tests"))?;
        let mut segments = Vec::new();
        let mut at = chain.last();
        while at != NONE {
            let mut header = [0; HEADER];
            file.read_exact_at(&mut header, at)?;
            let (prev, len) = header.split_at(8);
            let len = u64::from_be_bytes(len.try_into().expect("8 bytes"));
            segments.push((at + HEADER as u64, len));
            at = u64::from_be_bytes(prev.try_into().expect("8 bytes"));
        }
        for &(offset, len) in segments.iter().rev() {
            let start = out.len();
            out.resize(start + len as usize, 0);
            file.read_exact_at(&mut out[start..], offset)?;
        }
        Ok(())
    }

    /// No chain is needed any more: the file's space is given back.
    pub fn empty(&mut self) -> io::Result<()> {
        if let Some(file) = &self.file {
            if self.len > 0 {
                file.set_len(0)?;
            }
        }
        self.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_come_back_in_order() {
        let mut spill = SpillFile::new(&std::env::temp_dir());
        let a = spill.append(None, b"a1").unwrap();
        let b = spill.append(None, b"b1").unwrap();
        let a = spill.append(Some(a), b"a22").unwrap();
        let b = spill.append(Some(b), b"").unwrap();
        let a = spill.append(Some(a), b"a333").unwrap();
        let mut out = b"x".to_vec();
        spill.read(a, &mut out).unwrap();
        assert_eq!(out, b"xa1a22a333");
        out.clear();
        spill.read(b, &mut out).unwrap();
        assert_eq!(out, b"b1");
        spill.empty().unwrap();
        let c = spill.append(None, b"c").unwrap();
        assert_eq!(c.last(), 0, "the file starts again");
    }

    #[test]
    fn a_missing_directory_fails_when_first_written() {
        let mut spill = SpillFile::new(Path::new("/nonexistent/subunit-tools"));
        assert!(spill.append(None, b"x").is_err());
    }
}
