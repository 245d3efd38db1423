//! Unique case names: GitLab keeps one `<testcase>` of each class name and
//! name, so a pair written before gets " (run N)" after the name.
//!
//! Every case's pair is looked up once, among all written so far (675,000
//! in a large run), and that lookup is a cache miss in a table of
//! megabytes: done plainly it was a sixth of the command's time. So the
//! pairs are kept by hash in a table of bare 64-bit words (one cache line
//! per lookup, not hashbrown's two, in huge pages where the kernel has
//! them), and the caller asks for the line a couple of cases ahead
//! ([`UniqueNames::prefetch`]): by the time it looks, the line is there.
//! Measured on the 124 MB run: the lookups went from 13% of the samples
//! to 7% with the table, and to 3% with the prefetch.

use std::fmt::Write;
use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashMap};

/// The pairs written so far, by hash, and how many times those written
/// more than once were.
#[derive(Debug, Default)]
pub struct UniqueNames {
    seen: HashSet64,
    runs: FxHashMap<u64, u32>,
}

impl UniqueNames {
    /// The hash a pair is kept by.
    pub fn hash(classname: &str, name: &str) -> u64 {
        FxBuildHasher.hash_one((classname, name))
    }

    /// Asks for the memory where the pair hashed to `hash` is looked up.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        self.seen.prefetch(hash);
    }

    /// Notes the pair hashed to `hash` as written: `None` if no case had
    /// it, else the name to give this case instead, " (run N)" after it,
    /// N its count or the next one free (a test may be called
    /// "x (run 2)" itself, or two ids, as `x` and `.x`, may split alike).
    pub fn take(&mut self, hash: u64, classname: &str, name: &str) -> Option<String> {
        if self.seen.insert(hash) {
            return None;
        }
        let mut renamed = String::new();
        loop {
            let runs = self.runs.entry(hash).or_insert(1);
            *runs += 1;
            renamed.clear();
            write!(renamed, "{name} (run {runs})").expect("a String takes any text");
            if self.seen.insert(Self::hash(classname, &renamed)) {
                return Some(renamed);
            }
        }
    }
}

/// A set of 64-bit hashes: open addressing with linear probing in one
/// array of words, 0 for an empty slot (a hash of 0 is kept as 1).
#[derive(Debug, Default)]
struct HashSet64 {
    slots: Vec<u64>,
    len: usize,
    /// 64 less the log2 of the number of slots.
    shift: u32,
}

impl HashSet64 {
    fn home(&self, hash: u64) -> usize {
        // Fibonacci hashing: the top bits of the product mix all of them.
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        if !self.slots.is_empty() {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let slot = &self.slots[self.home(hash)];
            // SAFETY: a prefetch only hints; the address is in the table.
            unsafe { _mm_prefetch::<_MM_HINT_T0>((slot as *const u64).cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    /// Adds `hash`; false if it was there.
    fn insert(&mut self, hash: u64) -> bool {
        let hash = hash.max(1);
        // At most three quarters full: a probe stays within a line or two.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            match self.slots[at] {
                0 => {
                    self.slots[at] = hash;
                    self.len += 1;
                    return true;
                }
                kept if kept == hash => return false,
                _ => at = (at + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        crate::os::advise_huge_pages(&mut self.slots);
        self.shift = 64 - size.trailing_zeros();
        self.len = 0;
        for hash in old.into_iter().filter(|&h| h != 0) {
            self.insert(hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_keeps_every_hash_once_as_it_grows() {
        let mut set = HashSet64::default();
        // Hashes that share their top bits, and 0 and 1 (kept as one).
        let hashes: Vec<u64> = (0..5000u64).map(|i| i << 40 | i).collect();
        for &h in &hashes {
            assert!(set.insert(h), "{h} is new");
        }
        for &h in &hashes {
            assert!(!set.insert(h), "{h} was added");
        }
        assert_eq!(set.len, hashes.len());
        assert!(!set.insert(1), "0 and 1 are one");
        assert!(set.slots.len() >= 5000 * 4 / 3);
    }

    #[test]
    fn a_pair_seen_before_is_given_the_next_free_run() {
        let mut names = UniqueNames::default();
        let mut take = |classname: &str, name: &str| {
            let hash = UniqueNames::hash(classname, name);
            names.prefetch(hash);
            names.take(hash, classname, name)
        };
        assert_eq!(take("a.B", "test_x"), None);
        assert_eq!(take("a.C", "test_x"), None, "another class");
        assert_eq!(take("a.B", "test_x (run 3)"), None);
        assert_eq!(take("a.B", "test_x").as_deref(), Some("test_x (run 2)"));
        assert_eq!(
            take("a.B", "test_x").as_deref(),
            Some("test_x (run 4)"),
            "run 3 is taken"
        );
        assert_eq!(take("a.C", "test_x").as_deref(), Some("test_x (run 2)"));
    }
}
