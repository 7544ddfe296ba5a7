//! The flow table: 4-tuples found by hash, open addressing with linear probing.

use super::TupleState;
use std::hash::{Hash, Hasher};
use wire::prefetch::prefetch;
use wire::FourTuple;

/// A UDP 4-tuple as the flow table keys it: integers, not socket addresses (see
/// [`FourTuple`]).
pub(super) type FlowKey = FourTuple;

/// The table's hash of a key.
pub(super) fn flow_hash(key: &FlowKey) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    Hash::hash(key, &mut h);
    // Fx is fast but weak in its low bits, which pick the slot: mix them (the
    // finaliser of MurmurHash3).
    let mut x = h.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// One 4-tuple: one cache line, so that finding a packet's flow costs one memory access.
#[derive(Debug)]
#[repr(align(64))]
pub(super) struct Tuple {
    pub(super) key: FlowKey,
    pub(super) state: TupleState,
}

/// The flow table: 4-tuples found by hash, open addressing with linear probing.
///
/// Why our own table rather than hashbrown's: a batch must be able to prefetch the slot a
/// packet's hash lands on, then the tuple it names, then the tuple's stream, before it reads
/// any of them; a general map hides where its slots are. Each slot is 8 bytes, the tuple's
/// index and 32 bits of its hash as a fingerprint, so 100,000 flows take 2 MiB of slots and
/// a probe rarely leaves one cache line. Tuples are never removed in an offline run; a live
/// probe removes idle ones at its ticks by rebuilding the table.
#[derive(Debug, Default)]
pub(super) struct FlowTable {
    /// 0 = empty, else (fingerprint << 32) | (tuple index + 1). Length a power of two, at
    /// most half full.
    pub(super) slots: Vec<u64>,
    pub(super) tuples: Vec<Tuple>,
}

impl FlowTable {
    pub(super) fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    pub(super) fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    pub(super) fn prefetch_slot(&self, hash: u64) {
        if let Some(slot) = self.slots.get(self.home(hash)) {
            prefetch(slot);
        }
    }

    /// The tuple whose fingerprint matches: a hint, wrong only on a fingerprint collision
    /// (about one lookup in 2^32), used for prefetching only.
    pub(super) fn hint(&self, hash: u64) -> Option<u32> {
        self.probe(hash, |_| true)
    }

    pub(super) fn find(&self, key: &FlowKey, hash: u64) -> Option<u32> {
        self.probe(hash, |i| self.tuples[i as usize].key == *key)
    }

    /// [`FlowTable::find`], trying a [`FlowTable::hint`] taken earlier first: it saves the
    /// probe when it still names the key's tuple, as it does unless a tuple was added or the
    /// table grew since. Always inlined: a call cost instructions on every packet (docs/performance.md).
    #[inline(always)]
    pub(super) fn find_hinted(&self, key: &FlowKey, hash: u64, hint: Option<u32>) -> Option<u32> {
        hint.filter(|&t| self.tuples.get(t as usize).is_some_and(|t| t.key == *key))
            .or_else(|| self.find(key, hash))
    }

    pub(super) fn probe(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let fingerprint = hash >> 32;
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            let index = (slot as u32).wrapping_sub(1);
            if slot >> 32 == fingerprint && is(index) {
                return Some(index);
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Adds a tuple the table does not hold yet.
    pub(super) fn insert(&mut self, key: FlowKey, hash: u64, state: TupleState) {
        if (self.tuples.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let index = self.tuples.len() as u32;
        self.tuples.push(Tuple { key, state });
        self.place(hash, index);
    }

    pub(super) fn place(&mut self, hash: u64, index: u32) {
        let mut at = self.home(hash);
        while self.slots[at] != 0 {
            at = (at + 1) & self.mask();
        }
        self.slots[at] = (hash >> 32) << 32 | u64::from(index + 1);
    }

    pub(super) fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(1024);
        self.slots = vec![0; len];
        self.place_all();
    }

    /// Places the tuples again after some were removed (their indexes changed).
    pub(super) fn rehash(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = 0);
        self.place_all();
    }

    pub(super) fn place_all(&mut self) {
        for index in 0..self.tuples.len() {
            let hash = flow_hash(&self.tuples[index].key);
            self.place(hash, index as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::{IpAddr, SocketAddr};

    proptest::proptest! {
        /// The flow table finds exactly what was inserted, through growth and collisions.
        #[test]
        fn flow_table_finds_what_was_inserted(
            keys in proptest::collection::vec((0u32..500, 0u16..4, proptest::bool::ANY), 1..3000)
        ) {
            let mut table = FlowTable::default();
            let mut reference = HashMap::new();
            for (host, port, v6) in keys {
                let src: SocketAddr = if v6 {
                    SocketAddr::new(IpAddr::V6(u128::from(host).into()), port)
                } else {
                    SocketAddr::new(IpAddr::V4(host.into()), port)
                };
                let key = FlowKey::new(src, "10.0.0.1:5004".parse().unwrap());
                let hash = flow_hash(&key);
                let found = table.find(&key, hash);
                proptest::prop_assert_eq!(found, reference.get(&key).copied());
                if found.is_none() {
                    reference.insert(key, table.tuples.len() as u32);
                    table.insert(key, hash, TupleState::Rtcp(0));
                }
                proptest::prop_assert_eq!(table.hint(hash), reference.get(&key).copied());
                proptest::prop_assert_eq!(key.src(), src);
            }
            for (key, index) in &reference {
                proptest::prop_assert_eq!(table.find(key, flow_hash(key)), Some(*index));
            }
            proptest::prop_assert!(table.slots.len() >= 2 * table.tuples.len());
        }
    }
}
