//! A compact table of the tests in progress, by test id and route code.
//!
//! A run can have a great many tests in progress at once (a suite that
//! enumerates every test, workers that crash), and every packet looks its
//! test up, so the table is kept small and its probes short: the hash
//! table holds only 8-byte entries (part of the hash and a slot number),
//! compared on the hash before any key is looked at, and the values live
//! in a separate array of slots, reused as tests end (the latest freed
//! first: it is warm in the cache). Where a value's key lives is its
//! owner's business (the statistics keep keys in a [`KeyArena`]; the
//! grouper finds them in the packets it holds), so lookups take a closure
//! that says whether a value is the one sought.

use hashbrown::HashTable;

/// The tests in progress and a value for each.
#[derive(Debug)]
pub(crate) struct OpenTable<V> {
    /// (low half of the key's hash, slot number).
    index: HashTable<(u32, u32)>,
    slots: Vec<V>,
    /// Free slot numbers, the latest freed last.
    free: Vec<u32>,
}

impl<V> Default for OpenTable<V> {
    fn default() -> OpenTable<V> {
        OpenTable {
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V: Default> OpenTable<V> {
    /// How many tests are in progress.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of the test whose key hashes to `hash` and for whose value
    /// `is` says yes.
    #[inline]
    pub(crate) fn find(&self, hash: u64, is: impl Fn(&V) -> bool) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash, |&(h, slot)| {
                h == hash as u32 && is(&slots[slot as usize])
            })
            .map(|&(_, slot)| slot)
    }

    /// Takes a test out, with its value.
    #[inline]
    pub(crate) fn remove(&mut self, hash: u64, is: impl Fn(&V) -> bool) -> Option<V> {
        let slots = &self.slots;
        let entry = self
            .index
            .find_entry(hash, |&(h, slot)| {
                h == hash as u32 && is(&slots[slot as usize])
            })
            .ok()?;
        let ((_, slot), _) = entry.remove();
        self.free.push(slot);
        Some(std::mem::take(&mut self.slots[slot as usize]))
    }

    /// Takes out the test in a slot [`OpenTable::find`] gave.
    pub(crate) fn remove_slot(&mut self, hash: u64, slot: u32) -> V {
        let found = self
            .index
            .find_entry(hash, |&(h, s)| h == hash as u32 && s == slot);
        let Ok(entry) = found else {
            unreachable!("the slot of a test in progress is under its hash");
        };
        entry.remove();
        self.free.push(slot);
        std::mem::take(&mut self.slots[slot as usize])
    }

    /// Adds a test that is not in progress, with its value; `rehash` gives
    /// the hash of any value's key (for when the index grows).
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64, value: V, rehash: impl Fn(&V) -> u64) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = value;
                slot
            }
            None => {
                self.slots.push(value);
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash, (hash as u32, slot), |&(_, s)| {
                rehash(&slots[s as usize])
            });
        slot
    }

    /// The value in a slot of a test in progress.
    pub(crate) fn get(&self, slot: u32) -> &V {
        &self.slots[slot as usize]
    }

    /// The value in a slot of a test in progress.
    pub(crate) fn get_mut(&mut self, slot: u32) -> &mut V {
        &mut self.slots[slot as usize]
    }

    /// The slots of the tests in progress, in no order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.index.iter().map(|&(_, slot)| slot)
    }

    /// The values of the tests in progress, in no order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        let slots = &mut self.slots;
        let mut live = vec![false; slots.len()];
        for &(_, slot) in self.index.iter() {
            live[slot as usize] = true;
        }
        slots
            .iter_mut()
            .zip(live)
            .filter_map(|(value, live)| live.then_some(value))
    }

    /// Bytes of memory the table itself has allocated.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.index.capacity() * (size_of::<(u32, u32)>() + 1)
            + self.slots.capacity() * size_of::<V>()
            + self.free.capacity() * 4
    }
}

/// Where a key lives in a [`KeyArena`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyAt {
    at: usize,
    id_len: u32,
    /// [`NO_ROUTE`] for a key without a route code.
    route_len: u32,
}

/// `route_len` of a key without a route code.
const NO_ROUTE: u32 = u32::MAX;

/// Arenas smaller than this are not compacted: it would gain nothing.
const MIN_COMPACTED: usize = 64 * 1024;

impl KeyAt {
    fn len(self) -> usize {
        self.id_len as usize
            + if self.route_len == NO_ROUTE {
                0
            } else {
                self.route_len as usize
            }
    }
}

/// The keys (test id, route code) of tests in progress, one after another
/// in one allocation rather than one each. Keys of tests that ended are
/// garbage until [`KeyArena::compact`], which the owner calls when
/// [`KeyArena::wants_compacting`] (more than half is garbage), so the
/// arena stays within about twice the keys in progress.
#[derive(Debug, Default)]
pub(crate) struct KeyArena {
    bytes: Vec<u8>,
    garbage: usize,
    /// The allocation compacting copies into, kept from the compaction
    /// before: a fresh one each time would be page-faulted in and grown
    /// again by copying, which cost more than the compaction itself.
    spare: Vec<u8>,
}

impl KeyArena {
    /// Stores a key.
    pub(crate) fn add(&mut self, test_id: &str, route_code: Option<&str>) -> KeyAt {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(test_id.as_bytes());
        let route_len = match route_code {
            Some(route) => {
                self.bytes.extend_from_slice(route.as_bytes());
                route.len() as u32
            }
            None => NO_ROUTE,
        };
        KeyAt {
            at,
            id_len: test_id.len() as u32,
            route_len,
        }
    }

    /// Marks a key as no longer needed.
    pub(crate) fn drop_key(&mut self, key: KeyAt) {
        self.garbage += key.len();
    }

    /// A stored key.
    pub(crate) fn get(&self, key: KeyAt) -> (&str, Option<&str>) {
        // The arena holds only bytes copied from `&str`s, cut where they ended.
        let text = |bytes| std::str::from_utf8(bytes).expect("keys are copied from strings");
        let (id, route) = self.get_bytes(key);
        (text(id), route.map(text))
    }

    /// A stored key as bytes: what sorting compares, without checking the
    /// UTF-8 again at every comparison (byte order is `str` order).
    pub(crate) fn get_bytes(&self, key: KeyAt) -> (&[u8], Option<&[u8]>) {
        let id_end = key.at + key.id_len as usize;
        let id = &self.bytes[key.at..id_end];
        let route = (key.route_len != NO_ROUTE)
            .then(|| &self.bytes[id_end..id_end + key.route_len as usize]);
        (id, route)
    }

    /// Whether a stored key is (test id, route code).
    #[inline]
    pub(crate) fn is(&self, key: KeyAt, test_id: &str, route_code: Option<&str>) -> bool {
        if key.id_len as usize != test_id.len()
            || key.route_len != route_code.map_or(NO_ROUTE, |r| r.len() as u32)
        {
            return false;
        }
        let (id, route) = self.bytes[key.at..key.at + key.len()].split_at(test_id.len());
        id == test_id.as_bytes() && route == route_code.map_or(&b""[..], str::as_bytes)
    }

    /// Whether more than half the arena is garbage (and it is big enough
    /// for that to matter).
    pub(crate) fn wants_compacting(&self) -> bool {
        self.garbage >= MIN_COMPACTED && self.garbage * 2 > self.bytes.len()
    }

    /// Moves the keys still needed to the start of a new arena, updating
    /// each.
    pub(crate) fn compact<'a>(&mut self, keys: impl Iterator<Item = &'a mut KeyAt>) {
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.clear();
        // Room for as many keys again before the arena grows: the next
        // compaction comes when as many have ended.
        bytes.reserve(2 * (self.bytes.len() - self.garbage));
        for key in keys {
            let len = key.len();
            let at = bytes.len();
            bytes.extend_from_slice(&self.bytes[key.at..key.at + len]);
            key.at = at;
        }
        self.spare = std::mem::replace(&mut self.bytes, bytes);
        self.garbage = 0;
    }

    /// Bytes of memory the arena has allocated.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.bytes.capacity() + self.spare.capacity()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::results::group::{hash_key, hash_key_bytes};
    use proptest::prelude::*;

    /// A value keyed in an arena, as the statistics keep them.
    #[derive(Debug, Default)]
    struct Value {
        key: KeyAt,
        n: u64,
    }

    struct Table {
        table: OpenTable<Value>,
        keys: KeyArena,
    }

    impl Table {
        fn get(&mut self, id: &str, route: Option<&str>) -> Option<&mut u64> {
            let keys = &self.keys;
            let slot = self
                .table
                .find(hash_key(id, route), |v| keys.is(v.key, id, route))?;
            Some(&mut self.table.get_mut(slot).n)
        }

        fn insert(&mut self, id: &str, route: Option<&str>, n: u64) {
            if self.keys.wants_compacting() {
                self.keys
                    .compact(self.table.values_mut().map(|v| &mut v.key));
            }
            let key = self.keys.add(id, route);
            let keys = &self.keys;
            self.table
                .insert(hash_key(id, route), Value { key, n }, |v| {
                    let (id, route) = keys.get_bytes(v.key);
                    hash_key_bytes(id, route)
                });
        }

        fn remove(&mut self, id: &str, route: Option<&str>) -> Option<u64> {
            let keys = &self.keys;
            let value = self
                .table
                .remove(hash_key(id, route), |v| keys.is(v.key, id, route))?;
            self.keys.drop_key(value.key);
            Some(value.n)
        }
    }

    proptest! {
        /// The table behaves as a map of (test id, route code), whatever
        /// the order of inserts and removals, across compactions.
        #[test]
        fn it_is_a_map(ops in proptest::collection::vec((0u8..3, 0u16..300, 0u8..3), 0..3000)) {
            let mut table = Table { table: OpenTable::default(), keys: KeyArena::default() };
            let mut model: HashMap<(String, Option<String>), u64> = HashMap::new();
            for (n, (op, id, route)) in ops.into_iter().enumerate() {
                // Long ids, so the arena gets past MIN_COMPACTED and compacts.
                let id = format!("{id}{}", "x".repeat(usize::from(id % 7) * 40));
                let route = match route {
                    0 => None,
                    1 => Some(String::new()),
                    _ => Some("0".to_owned()),
                };
                let key = (id.clone(), route.clone());
                match op {
                    0 => {
                        let got = table.get(&id, route.as_deref()).map(|v| *v);
                        prop_assert_eq!(got, model.get(&key).copied());
                        if got.is_none() {
                            table.insert(&id, route.as_deref(), n as u64);
                            model.insert(key, n as u64);
                        }
                    }
                    1 => {
                        let got = table.remove(&id, route.as_deref());
                        prop_assert_eq!(got, model.remove(&key));
                    }
                    _ => {
                        if let Some(v) = table.get(&id, route.as_deref()) {
                            *v += 1;
                            *model.get_mut(&key).unwrap() += 1;
                        }
                    }
                }
                prop_assert_eq!(table.table.len(), model.len());
            }
            let mut all: Vec<_> = table
                .table
                .slots()
                .map(|slot| {
                    let v = table.table.get(slot);
                    let (id, route) = table.keys.get(v.key);
                    ((id.to_owned(), route.map(str::to_owned)), v.n)
                })
                .collect();
            let mut expected: Vec<_> = model.into_iter().collect();
            all.sort();
            expected.sort();
            prop_assert_eq!(all, expected);
        }
    }

    #[test]
    fn memory_per_open_test_is_small() {
        let mut table = Table {
            table: OpenTable::default(),
            keys: KeyArena::default(),
        };
        let n = 100_000;
        let mut key_bytes = 0;
        for i in 0..n {
            let id = format!("tests.compute.test_compute.ComputeTest.test_resize_{i}");
            key_bytes += id.len();
            table.insert(&id, None, 0);
        }
        // Besides the keys: a slot and the index, well under 100 bytes a
        // test, the vectors' spare capacity included.
        let memory = table.table.memory() + table.keys.memory();
        let overhead = (memory - key_bytes) / n;
        assert!(overhead < 100, "{overhead} bytes a test besides its key");
    }
}
