//! Bitcoin's merkle root over transaction ids.

use crate::hash::Hash256;
use sha2::{Digest, Sha256};

/// The merkle root of `txids` and whether the list is mutated, exactly as Bitcoin Core's
/// `ComputeMerkleRoot`.
///
/// An odd level duplicates its last hash, so `[a, b, c]` and `[a, b, c, c]` share a root
/// (CVE-2012-2459). `mutated` is true when any level has two equal hashes in one pair; a
/// block whose list is mutated must be rejected without marking its header invalid, since
/// an honest block with the same header may exist. An empty list gives the zero hash.
pub fn merkle_root(txids: &[Hash256]) -> (Hash256, bool) {
    let mut level: Vec<Hash256> = txids.to_vec();
    let mut mutated = false;
    while level.len() > 1 {
        mutated |= level.chunks_exact(2).any(|pair| pair[0] == pair[1]);
        if level.len() % 2 == 1 {
            level.push(level[level.len() - 1]);
        }
        level = level
            .chunks_exact(2)
            .map(|pair| hash_pair(&pair[0], &pair[1]))
            .collect();
    }
    (level.first().copied().unwrap_or(Hash256::ZERO), mutated)
}

fn hash_pair(left: &Hash256, right: &Hash256) -> Hash256 {
    let first = Sha256::new()
        .chain_update(left.0)
        .chain_update(right.0)
        .finalize();
    Hash256(Sha256::digest(first).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256d;

    fn h(n: u8) -> Hash256 {
        sha256d(&[n])
    }

    #[test]
    fn small_trees() {
        assert_eq!(merkle_root(&[]), (Hash256::ZERO, false));
        assert_eq!(merkle_root(&[h(1)]), (h(1), false));
        let mut concat = h(1).0.to_vec();
        concat.extend_from_slice(&h(2).0);
        assert_eq!(merkle_root(&[h(1), h(2)]), (sha256d(&concat), false));
    }

    #[test]
    fn duplicated_last_pair_is_detected() {
        let (root3, mutated3) = merkle_root(&[h(1), h(2), h(3)]);
        let (root4, mutated4) = merkle_root(&[h(1), h(2), h(3), h(3)]);
        assert_eq!(root3, root4);
        assert!(!mutated3);
        assert!(mutated4);
        // A duplicate on a higher level: the last two pairs of leaves are equal.
        let leaves = [h(1), h(2), h(3), h(4), h(5), h(6), h(5), h(6)];
        assert!(merkle_root(&leaves).1);
        // Equal hashes in different pairs are not a mutation.
        assert!(!merkle_root(&[h(1), h(2), h(2), h(3)]).1);
    }
}
