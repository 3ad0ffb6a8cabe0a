//! The protocol's definitions, kept apart so they are tested against its text: a
//! scripthash's hex form, a history row, the status hash, and merkle branches.
//!
//! - A scripthash is sha256 of the output script, shown in hex byte-reversed.
//! - A history lists confirmed transactions in chain order, then mempool ones; a mempool
//!   transaction's height is 0, or -1 when one of its inputs spends an unconfirmed
//!   output (electrs orders them: those with confirmed inputs first, then by txid).
//! - The status of a scripthash is sha256 of the concatenation of `txid:height:` over
//!   its history, in hex (not reversed); no history has status `null`.
//! - A merkle branch lists, from the leaf up, the sibling of each node on the path
//!   (the last node of an odd level paired with itself), each a reversed-hex hash.

use node_api::chain::{sha256d, Hash256};
use sha2::{Digest, Sha256};

use crate::store::ScriptHash;

/// A scripthash from the protocol's hex (reversed byte order).
pub(crate) fn parse_script_hash(text: &str) -> Option<ScriptHash> {
    let mut bytes: ScriptHash = hex::decode(text).ok()?.try_into().ok()?;
    bytes.reverse();
    Some(bytes)
}

/// A scripthash as the protocol writes it.
pub(crate) fn script_hash_hex(hash: &ScriptHash) -> String {
    let mut bytes = *hash;
    bytes.reverse();
    hex::encode(bytes)
}

/// One row of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryEntry {
    /// The transaction.
    pub(crate) txid: Hash256,
    /// Block height; 0 in the mempool with confirmed inputs, -1 with an unconfirmed one.
    pub(crate) height: i64,
    /// Satoshis, for mempool rows.
    pub(crate) fee: Option<u64>,
}

impl HistoryEntry {
    /// The row as `get_history` and `get_mempool` answer it.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut row = serde_json::json!({
            "tx_hash": self.txid.to_string(),
            "height": self.height,
        });
        if let Some(fee) = self.fee {
            row["fee"] = fee.into();
        }
        row
    }
}

/// The status of a history: sha256 of `txid:height:` repeated, in hex; `None` when
/// empty.
pub(crate) fn status_hash(history: &[HistoryEntry]) -> Option<[u8; 32]> {
    if history.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    for entry in history {
        hasher.update(format!("{}:{}:", entry.txid, entry.height).as_bytes());
    }
    Some(hasher.finalize().into())
}

/// The branch from leaf `index` to the root of the merkle tree over `leaves`, and the
/// root. `index` must be below `leaves.len()`.
pub(crate) fn merkle_branch(leaves: &[Hash256], mut index: usize) -> (Vec<Hash256>, Hash256) {
    let mut level: Vec<Hash256> = leaves.to_vec();
    let mut branch = Vec::new();
    while level.len() > 1 {
        if !level.len().is_multiple_of(2) {
            level.push(level[level.len() - 1]);
        }
        branch.push(level[index ^ 1]);
        index /= 2;
        level = level
            .chunks_exact(2)
            .map(|pair| {
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(pair[0].as_bytes());
                both[32..].copy_from_slice(pair[1].as_bytes());
                sha256d(&both)
            })
            .collect();
    }
    (branch, level.first().copied().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::chain::merkle_root;

    fn txid(n: u8) -> Hash256 {
        sha256d(&[n])
    }

    /// Folds a branch back to a root as a client does.
    fn fold(leaf: Hash256, branch: &[Hash256], mut index: usize) -> Hash256 {
        let mut node = leaf;
        for sibling in branch {
            let (left, right) = if index.is_multiple_of(2) {
                (node, *sibling)
            } else {
                (*sibling, node)
            };
            let mut both = [0u8; 64];
            both[..32].copy_from_slice(left.as_bytes());
            both[32..].copy_from_slice(right.as_bytes());
            node = sha256d(&both);
            index /= 2;
        }
        node
    }

    #[test]
    fn branches_fold_to_bitcoins_merkle_root_for_every_position() {
        for count in 1..=17u8 {
            let leaves: Vec<Hash256> = (0..count).map(txid).collect();
            let (root, _) = merkle_root(&leaves);
            for index in 0..leaves.len() {
                let (branch, computed) = merkle_branch(&leaves, index);
                assert_eq!(computed, root, "{count} leaves");
                assert_eq!(
                    fold(leaves[index], &branch, index),
                    root,
                    "{count} leaves, {index}"
                );
                let depth = usize::BITS - (leaves.len() - 1).leading_zeros();
                assert_eq!(branch.len(), depth as usize);
            }
        }
    }

    #[test]
    fn status_is_sha256_of_txid_colon_height_colon_in_order() {
        assert_eq!(status_hash(&[]), None);
        let a = txid(1);
        let b = txid(2);
        let history = vec![
            HistoryEntry {
                txid: a,
                height: 200,
                fee: None,
            },
            HistoryEntry {
                txid: b,
                height: -1,
                fee: Some(300),
            },
        ];
        // The protocol's text, spelled out: the reversed-hex txids as explorers show them.
        let text = format!("{a}:200:{b}:-1:");
        assert!(text.starts_with(&a.to_string()));
        let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_eq!(status_hash(&history), Some(expected));
        // The order is part of the status.
        let swapped = vec![history[1].clone(), history[0].clone()];
        assert_ne!(status_hash(&swapped), Some(expected));
        // A fee does not enter the status.
        let mut no_fee = history.clone();
        no_fee[1].fee = None;
        assert_eq!(status_hash(&no_fee), Some(expected));
    }

    #[test]
    fn a_known_status_from_the_protocol_definition() {
        // One confirmed transaction: sha256("<txid>:1:"), computed independently here
        // from the bytes of the string.
        let id: Hash256 = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
            .parse()
            .unwrap();
        let history = vec![HistoryEntry {
            txid: id,
            height: 1,
            fee: None,
        }];
        assert_eq!(
            hex::encode(status_hash(&history).unwrap()),
            hex::encode(Sha256::digest(
                b"4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b:1:"
            ))
        );
    }

    #[test]
    fn scripthash_hex_is_reversed_sha256_of_the_script() {
        // The protocol's own example: the P2PKH script of 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.
        let script = hex::decode("76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac").unwrap();
        let hash = crate::store::script_hash(&script);
        assert_eq!(
            script_hash_hex(&hash),
            "8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161"
        );
        assert_eq!(parse_script_hash(&script_hash_hex(&hash)), Some(hash));
        assert_eq!(parse_script_hash("zz"), None);
        assert_eq!(parse_script_hash("00"), None);
    }
}
