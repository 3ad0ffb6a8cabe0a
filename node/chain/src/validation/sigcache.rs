//! A bounded cache of signatures already verified (Bitcoin Core's `CSignatureCache`).
//!
//! A transaction's signatures are verified when it enters the mempool; when a block
//! holding it connects, the same checks would run again, and on a network of many nodes
//! that second pass is most of a block's propagation time. An entry records only that a
//! signature is valid for a message and a key: the key of an entry is
//! `sha256(salt || sighash || pubkey || signature)`, and the sighash commits to the whole
//! transaction, the input index and the spent script, so another transaction or another
//! script cannot hit it. The salt is random per process so that nobody can aim collisions
//! at a node's table.
//!
//! Blocks consume their hits (an entry is removed when a block uses it, as Core does):
//! a signature confirmed in a block is not needed again. Signatures verified ahead of
//! connecting (the block pipeline) are stored the same way and consumed at connect.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

/// Entries of the process-wide cache. Each costs about 80 bytes with the set's and the
/// queue's overhead, so this is about 20 MB, near Core's default of 32 MiB; it holds the
/// signatures of a full mempool of small transactions several times over.
pub const SIG_CACHE_ENTRIES: usize = 1 << 18;

/// Shards, so rayon's verifiers rarely wait for one another's lock.
const SHARDS: usize = 16;

/// A cache key: already a salted hash, so its first bytes are a fine hash-table hash.
type Key = [u8; 32];

#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Arrays hash their length first; the key bytes are the one long write.
        if bytes.len() >= 8 {
            self.0 = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        }
    }

    fn write_usize(&mut self, _: usize) {}
}

type KeySet = HashSet<Key, BuildHasherDefault<KeyHasher>>;

#[derive(Default)]
struct Shard {
    set: KeySet,
    /// Insertion order, for eviction; may hold keys already consumed.
    order: VecDeque<Key>,
}

/// A bounded, salted set of verified signatures, safe to share between threads.
pub struct SigCache {
    salt: [u8; 32],
    per_shard: usize,
    shards: Vec<Mutex<Shard>>,
}

impl SigCache {
    /// An empty cache of at most `entries` signatures (the oldest go first) with a random
    /// salt.
    pub fn new(entries: usize) -> SigCache {
        SigCache {
            salt: secp256k1::rand::random(),
            per_shard: entries.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// The cache every verification of this process shares: the mempool stores into it,
    /// blocks consume from it.
    pub fn global() -> &'static SigCache {
        static GLOBAL: OnceLock<SigCache> = OnceLock::new();
        GLOBAL.get_or_init(|| SigCache::new(SIG_CACHE_ENTRIES))
    }

    /// The entry key of a signature `sig` by `pubkey` (both as the script carries them)
    /// over `sighash`.
    pub(crate) fn key(&self, sighash: &[u8; 32], pubkey: &[u8], sig: &[u8]) -> Key {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(sighash);
        // Lengths keep the pubkey/signature boundary unambiguous.
        hasher.update([pubkey.len() as u8]);
        hasher.update(pubkey);
        hasher.update([sig.len() as u8]);
        hasher.update(sig);
        hasher.finalize().into()
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[usize::from(key[31]) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records a verified signature, evicting the oldest of its shard when full.
    pub(crate) fn insert(&self, key: Key) {
        let mut shard = self.shard(&key);
        if !shard.set.insert(key) {
            return;
        }
        shard.order.push_back(key);
        while shard.set.len() > self.per_shard {
            match shard.order.pop_front() {
                Some(old) => {
                    shard.set.remove(&old);
                }
                None => break,
            }
        }
        // Consumed keys linger in `order`; compact before it outgrows the set.
        if shard.order.len() > 2 * self.per_shard {
            let Shard { set, order } = &mut *shard;
            order.retain(|k| set.contains(k));
        }
    }

    /// Whether the signature is known valid.
    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.shard(key).set.contains(key)
    }

    /// Whether the signature is known valid, forgetting it if so.
    pub(crate) fn take(&self, key: &Key) -> bool {
        self.shard(key).set.remove(key)
    }

    /// Signatures held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).set.len())
            .sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (benchmarks compare connecting with and without it).
    pub fn clear(&self) {
        for shard in &self.shards {
            *shard.lock().unwrap_or_else(|e| e.into_inner()) = Shard::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_messages_keys_and_signatures_and_differ_per_salt() {
        let cache = SigCache::new(100);
        let base = cache.key(&[1; 32], &[2; 33], &[3; 71]);
        assert_ne!(base, cache.key(&[9; 32], &[2; 33], &[3; 71]));
        assert_ne!(base, cache.key(&[1; 32], &[9; 33], &[3; 71]));
        assert_ne!(base, cache.key(&[1; 32], &[2; 33], &[9; 71]));
        // Moving a byte across the pubkey/signature boundary is another key.
        assert_ne!(
            cache.key(&[1; 32], &[2; 34], &[3; 70]),
            cache.key(&[1; 32], &[2; 33], &[3; 71])
        );
        assert_ne!(base, SigCache::new(100).key(&[1; 32], &[2; 33], &[3; 71]));
    }

    #[test]
    fn bounded_oldest_first_and_consumed_on_take() {
        let cache = SigCache::new(SHARDS * 4);
        let keys: Vec<Key> = (0..200u32)
            .map(|i| cache.key(&[0; 32], &i.to_le_bytes(), &[]))
            .collect();
        for key in &keys {
            cache.insert(*key);
        }
        assert!(cache.len() <= SHARDS * 4);
        assert!(cache.contains(&keys[199]));
        assert!(!cache.contains(&keys[0]));
        assert!(cache.take(&keys[199]));
        assert!(!cache.take(&keys[199]));
        for shard in &cache.shards {
            assert!(shard.lock().unwrap().order.len() <= 2 * 4 + 1);
        }
        cache.clear();
        assert!(cache.is_empty());
    }
}
