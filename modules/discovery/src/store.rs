//! Values other nodes `store` on us. The Python package keeps any number of any size for a
//! week; here both the value size and the number of values are bounded, the oldest value
//! making room for a new one.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::node_id::NodeId;
use crate::wire::StoredValue;

struct Entry {
    seq: u64,
    stored: Instant,
    value: StoredValue,
}

pub(crate) struct ValueStore {
    max_values: usize,
    max_value_bytes: usize,
    ttl: Duration,
    entries: HashMap<NodeId, Entry>,
    /// Store order: a re-stored key moves to the back, so the front is always the oldest.
    order: BTreeMap<u64, NodeId>,
    next_seq: u64,
}

impl ValueStore {
    pub(crate) fn new(max_values: usize, max_value_bytes: usize, ttl: Duration) -> Self {
        ValueStore {
            max_values,
            max_value_bytes,
            ttl,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Keeps `value` under `key`; `false` if it is over the size limit (or nothing may be
    /// stored at all).
    pub(crate) fn put(&mut self, key: NodeId, value: StoredValue, now: Instant) -> bool {
        if value.size() > self.max_value_bytes || self.max_values == 0 {
            return false;
        }
        self.expire(now);
        if let Some(old) = self.entries.remove(&key) {
            self.order.remove(&old.seq);
        }
        while self.entries.len() >= self.max_values {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, key);
        self.entries.insert(
            key,
            Entry {
                seq,
                stored: now,
                value,
            },
        );
        true
    }

    pub(crate) fn get(&mut self, key: &NodeId, now: Instant) -> Option<StoredValue> {
        self.expire(now);
        self.entries.get(key).map(|e| e.value.clone())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn expire(&mut self, now: Instant) {
        while let Some(first) = self.order.first_entry() {
            let key = *first.get();
            let fresh = self
                .entries
                .get(&key)
                .is_some_and(|e| now.duration_since(e.stored) < self.ttl);
            if fresh {
                break;
            }
            first.remove();
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use rmpv::Value;

    use super::*;

    fn key(n: u8) -> NodeId {
        NodeId([n; 20])
    }

    fn text(s: &str) -> StoredValue {
        StoredValue::new(Value::from(s)).expect("scalar")
    }

    #[test]
    fn oversized_values_are_refused() {
        let mut store = ValueStore::new(10, 4, Duration::from_secs(60));
        let now = Instant::now();
        assert!(store.put(key(1), text("abcd"), now));
        assert!(!store.put(key(2), text("abcde"), now));
        let bytes = StoredValue::new(Value::Binary(vec![0; 5])).expect("scalar");
        assert!(!store.put(key(2), bytes, now));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn count_is_bounded_by_evicting_the_oldest() {
        let mut store = ValueStore::new(3, 100, Duration::from_secs(60));
        let now = Instant::now();
        for n in 1..=3 {
            assert!(store.put(key(n), text("v"), now));
        }
        // Re-storing key 1 makes key 2 the oldest.
        assert!(store.put(key(1), text("new"), now));
        assert!(store.put(key(4), text("v"), now));
        assert_eq!(store.len(), 3);
        assert_eq!(store.get(&key(2), now), None);
        assert_eq!(store.get(&key(1), now), Some(text("new")));
        assert!(store.get(&key(3), now).is_some());
        assert!(store.get(&key(4), now).is_some());
    }

    #[test]
    fn values_expire_after_ttl() {
        let mut store = ValueStore::new(3, 100, Duration::from_secs(60));
        let now = Instant::now();
        store.put(key(1), text("a"), now);
        store.put(key(2), text("b"), now + Duration::from_secs(30));
        let later = now + Duration::from_secs(61);
        assert_eq!(store.get(&key(1), later), None);
        assert_eq!(store.get(&key(2), later), Some(text("b")));
        assert_eq!(store.len(), 1);
    }
}
