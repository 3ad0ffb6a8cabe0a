//! Whole-state figures for the RPC surface: the tips of every branch (`getchaintips`)
//! and a summary and hash of the UTXO set (`gettxoutsetinfo`).

use sha2::{Digest, Sha256};

use super::records::decode;
use super::{ChainError, ChainState, TIP_KEY};
use node_chain::coin::Coin;
use node_chain::hash::Hash256;

/// A block no other known block builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTip {
    /// Its hash.
    pub hash: Hash256,
    /// Its height.
    pub height: u32,
    /// Blocks between it and the main chain (0 for the active tip).
    pub branch_len: u32,
    /// Core's status: `active`, `valid-fork` (every block of the branch stored and none
    /// known invalid; this node does not remember whether a side branch was connected
    /// once, so `valid-headers` is not told apart), `headers-only`, `invalid`.
    pub status: &'static str,
}

/// A summary of the UTXO set at one tip, read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtxoStats {
    /// The tip the set belongs to.
    pub tip: Hash256,
    /// Unspent outputs.
    pub txouts: u64,
    /// Transactions with at least one unspent output.
    pub transactions: u64,
    /// Their value, satoshis.
    pub total_amount: u64,
    /// Core's "bogosize": a size estimate that does not depend on the storage format.
    pub bogosize: u64,
    /// SHA-256 of every record (outpoint key, then coin) in key order: two nodes on the
    /// same tip have the same set and so the same hash.
    pub hash: Hash256,
}

impl ChainState {
    /// Every branch's tip, the active one first, then by height, highest first.
    pub fn chain_tips(&self) -> Vec<ChainTip> {
        let tree = self.tree();
        let active = tree.tip();
        let mut tips: Vec<ChainTip> = tree
            .iter()
            .filter(|(hash, _)| tree.children(hash).is_empty() || **hash == active)
            .map(|(hash, entry)| {
                let mut branch_len = 0;
                let mut status = "valid-fork";
                let mut cursor = *hash;
                while !tree.is_main(&cursor) {
                    let Some(e) = tree.get(&cursor) else { break };
                    if e.is_failed() {
                        status = "invalid";
                    } else if !e.has_data() && status != "invalid" {
                        status = "headers-only";
                    }
                    branch_len += 1;
                    cursor = e.header.prev_block;
                }
                if *hash == active {
                    status = "active";
                }
                ChainTip {
                    hash: *hash,
                    height: entry.height,
                    branch_len,
                    status,
                }
            })
            .collect();
        tips.sort_by_key(|t| (t.status != "active", std::cmp::Reverse(t.height), t.hash.0));
        tips
    }

    /// The UTXO set's summary and hash (walks the whole set).
    pub fn utxo_stats(&self) -> Result<UtxoStats, ChainError> {
        let stats = self.store.read(|txn, dbs| {
            let tip = dbs
                .meta
                .get(txn, TIP_KEY)?
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Hash256)
                .unwrap_or(Hash256::ZERO);
            let mut hasher = Sha256::new();
            let (mut txouts, mut transactions, mut total, mut bogosize) = (0u64, 0u64, 0u64, 0u64);
            let mut last_txid: Option<[u8; 32]> = None;
            for item in dbs.utxo.iter(txn)? {
                let (key, value) = item?;
                hasher.update(key);
                hasher.update(value);
                let coin: Coin = decode(value).map_err(|e| {
                    heed::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("coin: {e}"),
                    ))
                })?;
                txouts += 1;
                total += coin.value;
                // Core: 32 (txid) + 4 (vout) + 4 (height, coinbase) + 8 (value) + 2 + script.
                bogosize += 50 + coin.script_pubkey.len() as u64;
                let txid: Option<[u8; 32]> = key.get(..32).and_then(|k| k.try_into().ok());
                if txid != last_txid {
                    transactions += 1;
                    last_txid = txid;
                }
            }
            Ok(UtxoStats {
                tip,
                txouts,
                transactions,
                total_amount: total,
                bogosize,
                hash: Hash256(hasher.finalize().into()),
            })
        })?;
        Ok(stats)
    }
}
