//! What each peer is known to have: a bounded set of inventory hashes, oldest forgotten
//! first. Announcements skip hashes in it, which is what keeps the node from echoing a
//! transaction or block back to where it came from.
//!
//! Hashes are kept as 64-bit keys from a hasher with a random per-node key: 8 bytes per
//! entry instead of 32, and no peer can grind a collision it could use against us, since
//! it does not know the key. A collision would only skip one announcement to one peer.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;

use node_api::chain::Hash256;

/// Turns hashes into the keys kept per peer; one per node, shared by every peer.
#[derive(Debug, Default)]
pub(crate) struct InventoryKeys {
    state: RandomState,
}

impl InventoryKeys {
    pub(crate) fn key(&self, hash: &Hash256) -> u64 {
        self.state.hash_one(hash.0)
    }
}

/// A bounded set of keys; inserting past the capacity forgets the oldest.
#[derive(Debug)]
pub(crate) struct KnownInventory {
    keys: HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl KnownInventory {
    pub(crate) fn new(capacity: usize) -> Self {
        KnownInventory {
            keys: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        self.keys.contains(&key)
    }

    pub(crate) fn insert(&mut self, key: u64) {
        if !self.keys.insert(key) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_keys_are_forgotten_first() {
        let mut known = KnownInventory::new(3);
        for key in [1, 2, 3, 2, 4] {
            known.insert(key);
        }
        assert_eq!(known.len(), 3);
        assert!(!known.contains(1));
        assert!(known.contains(2) && known.contains(3) && known.contains(4));
    }

    #[test]
    fn keys_are_stable_within_a_node() {
        let keys = InventoryKeys::default();
        let a = Hash256([1; 32]);
        assert_eq!(keys.key(&a), keys.key(&a));
        assert_ne!(keys.key(&a), keys.key(&Hash256([2; 32])));
    }
}
