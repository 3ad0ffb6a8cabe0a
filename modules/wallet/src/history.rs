//! The wallet's transactions: every transaction that pays one of its addresses or spends
//! one of its outputs, with the block that confirmed it (Core's `mapWallet`).
//!
//! Kept in `<wallet file>.txs.json` beside the key file (no secrets: transactions and
//! block positions), replaced atomically when it changes. The file records the block the
//! history agrees with (`best`): at start the wallet catches up from there (back to the
//! main chain if that block left it, then forward block by block), so a crash between a
//! block and the next write costs a short rescan, never a missed payment. Then it
//! follows the chain through a listener called inside the step that connects or
//! disconnects a block, like the mempool.
//!
//! Connecting and disconnecting are idempotent (a block met twice, by the catch-up and
//! by the listener, records the same position), so the two never need to be exclusive
//! beyond the history's lock.

use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use node_api::chain::{deserialize, serialize, Block, Hash256, OutPoint, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::WalletError;

/// Blocks followed between two writes of the file, whatever they confirmed: what a block
/// of the main chain changes is found again by the rescan from `best` at the next start,
/// so a write per block (a rewrite of the whole file and a file sync inside the chain's
/// writer, for a miner every block) buys nothing. After a crash the wallet rescans at
/// most this many blocks more.
const SAVE_BEST_EVERY: u32 = 144;

/// Where a transaction was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockPosition {
    pub(crate) hash: Hash256,
    pub(crate) height: u32,
    /// Index of the transaction in the block.
    pub(crate) index: u32,
    /// The block header's time.
    pub(crate) time: u32,
}

/// A transaction of the wallet.
#[derive(Debug, Clone)]
pub(crate) struct WalletTx {
    pub(crate) tx: Arc<Transaction>,
    pub(crate) block: Option<BlockPosition>,
    /// Unix seconds when the wallet first saw it.
    pub(crate) received: u64,
    /// `abandontransaction` was called: its inputs may be spent again.
    pub(crate) abandoned: bool,
    /// Outputs the wallet made as change when it built the transaction.
    pub(crate) change: Vec<u32>,
    /// Order of arrival in the wallet (Core's nOrderPos): listings go by it.
    pub(crate) order: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredTx {
    hex: String,
    block: Option<BlockPosition>,
    received: u64,
    #[serde(default)]
    abandoned: bool,
    #[serde(default)]
    change: Vec<u32>,
    order: u64,
}

#[derive(Serialize, Deserialize)]
struct HistoryFile {
    best: Hash256,
    txs: Vec<StoredTx>,
}

/// The wallet's transactions and the block they agree with.
pub(crate) struct History {
    path: PathBuf,
    pub(crate) txs: HashMap<Hash256, WalletTx>,
    /// The last block whose transactions were recorded; `Hash256::ZERO` before any.
    pub(crate) best: Hash256,
    next_order: u64,
    /// Changed since the last write in a way no rescan from `best` finds again (a
    /// payment the wallet made or saw in the pool, an abandon, an imported key's past).
    dirty: bool,
    /// Blocks followed since the last write.
    unsaved_blocks: u32,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> WalletError {
    WalletError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl History {
    /// The history file beside the key file `key_file`.
    pub(crate) fn path_for(key_file: &Path) -> PathBuf {
        key_file.with_extension("txs.json")
    }

    /// Reads the history at `path`; `None` when there is no file yet.
    pub(crate) fn open(path: PathBuf) -> Result<Option<History>, WalletError> {
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
        let file: HistoryFile = serde_json::from_str(&text)
            .map_err(|e| file_error(&path, format!("not a history file (line {})", e.line())))?;
        let mut txs = HashMap::new();
        let mut next_order = 0;
        for (i, stored) in file.txs.into_iter().enumerate() {
            let tx: Transaction = hex::decode(&stored.hex)
                .ok()
                .and_then(|b| deserialize(&b).ok())
                .ok_or_else(|| file_error(&path, format!("transaction #{i} does not decode")))?;
            next_order = next_order.max(stored.order + 1);
            txs.insert(
                tx.txid(),
                WalletTx {
                    tx: Arc::new(tx),
                    block: stored.block,
                    received: stored.received,
                    abandoned: stored.abandoned,
                    change: stored.change,
                    order: stored.order,
                },
            );
        }
        Ok(Some(History {
            path,
            txs,
            best: file.best,
            next_order,
            dirty: false,
            unsaved_blocks: 0,
        }))
    }

    /// An empty history at `path` that agrees with block `best`.
    pub(crate) fn new(path: PathBuf, best: Hash256) -> History {
        History {
            path,
            txs: HashMap::new(),
            best,
            next_order: 0,
            dirty: true,
            unsaved_blocks: 0,
        }
    }

    /// Records `tx` (or updates where it is), returning whether anything changed.
    pub(crate) fn record(
        &mut self,
        tx: Arc<Transaction>,
        block: Option<BlockPosition>,
        received: u64,
        change: Vec<u32>,
    ) -> bool {
        let txid = tx.txid();
        if let Some(known) = self.txs.get_mut(&txid) {
            let moved = block.is_some() && known.block != block;
            if moved {
                known.block = block;
                // Confirmed: whatever abandoned it, it is not abandoned now.
                known.abandoned = false;
                self.dirty = true;
            }
            if known.change.is_empty() && !change.is_empty() {
                known.change = change;
                self.dirty = true;
            }
            return moved;
        }
        self.txs.insert(
            txid,
            WalletTx {
                tx,
                block,
                received,
                abandoned: false,
                change,
                order: self.next_order,
            },
        );
        self.next_order += 1;
        self.dirty = true;
        true
    }

    /// Records what a block of the main chain confirms for the wallet. Unlike
    /// [`History::record`] this does not call for a write: the rescan from `best` at the
    /// next start records it again (see [`SAVE_BEST_EVERY`]).
    pub(crate) fn record_followed(
        &mut self,
        tx: Arc<Transaction>,
        at: BlockPosition,
        received: u64,
    ) {
        let dirty = self.dirty;
        self.record(tx, Some(at), received, Vec::new());
        self.dirty = dirty;
    }

    /// The block `hash` left the main chain: what it confirmed is unconfirmed again. No
    /// write is called for: a start whose `best` left the main chain walks back first.
    pub(crate) fn disconnect(&mut self, hash: &Hash256) {
        for wtx in self.txs.values_mut() {
            if wtx.block.is_some_and(|b| b.hash == *hash) {
                wtx.block = None;
            }
        }
    }

    /// Marks an unconfirmed transaction abandoned.
    pub(crate) fn abandon(&mut self, txid: &Hash256) {
        if let Some(wtx) = self.txs.get_mut(txid) {
            wtx.abandoned = true;
            self.dirty = true;
        }
    }

    /// The history now agrees with block `hash`.
    pub(crate) fn set_best(&mut self, hash: Hash256) {
        if self.best != hash {
            self.best = hash;
            self.unsaved_blocks += 1;
        }
    }

    /// The value and script of output `outpoint` of a wallet transaction.
    pub(crate) fn output(&self, outpoint: &OutPoint) -> Option<(u64, &[u8])> {
        let out = self
            .txs
            .get(&outpoint.txid)?
            .tx
            .outputs
            .get(outpoint.vout as usize)?;
        Some((out.value, &out.script_pubkey))
    }

    /// Transactions, oldest arrival first.
    pub(crate) fn in_order(&self) -> Vec<&WalletTx> {
        let mut all: Vec<&WalletTx> = self.txs.values().collect();
        all.sort_by_key(|w| w.order);
        all
    }

    /// Writes the history if it changed in a way a rescan cannot recover, or
    /// [`SAVE_BEST_EVERY`] blocks passed since the last write.
    pub(crate) fn save(&mut self) -> Result<(), WalletError> {
        if !self.dirty && self.unsaved_blocks < SAVE_BEST_EVERY {
            return Ok(());
        }
        self.write()
    }

    /// Writes the history now (at shutdown: the next start rescans nothing).
    pub(crate) fn write(&mut self) -> Result<(), WalletError> {
        let file = HistoryFile {
            best: self.best,
            txs: self
                .in_order()
                .into_iter()
                .map(|w| StoredTx {
                    hex: hex::encode(serialize(&*w.tx)),
                    block: w.block,
                    received: w.received,
                    abandoned: w.abandoned,
                    change: w.change.clone(),
                    order: w.order,
                })
                .collect(),
        };
        let text = serde_json::to_string(&file).map_err(|e| file_error(&self.path, e))?;
        let tmp = self.path.with_extension("tmp");
        // 0600 like the key file: the history tells which addresses are ours.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, text.as_bytes())?;
                f.sync_all()
            })
            .map_err(|e| file_error(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| file_error(&self.path, e))?;
        self.dirty = false;
        self.unsaved_blocks = 0;
        Ok(())
    }
}

/// Each transaction of `block` with its position.
pub(crate) fn positions(
    block: &Block,
    hash: Hash256,
    height: u32,
) -> impl Iterator<Item = (&Transaction, BlockPosition)> {
    block.txs.iter().enumerate().map(move |(index, tx)| {
        (
            tx,
            BlockPosition {
                hash,
                height,
                index: index as u32,
                time: block.header.time,
            },
        )
    })
}

/// Seconds since the Unix epoch, as history records times (0 before it).
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::chain::{TxIn, TxOut};

    fn tx(n: u8) -> Arc<Transaction> {
        Arc::new(Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: Hash256([n; 32]),
                    vout: 0,
                },
                script_sig: vec![],
                sequence: 0xffff_ffff,
            }],
            outputs: vec![TxOut {
                value: 1000 * u64::from(n),
                script_pubkey: vec![0x51],
            }],
            lock_time: 0,
        })
    }

    #[test]
    fn positions_survive_a_reopen_and_a_disconnect_unconfirms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.txs.json");
        let mut history = History::new(path.clone(), Hash256::ZERO);
        let at = BlockPosition {
            hash: Hash256([9; 32]),
            height: 5,
            index: 1,
            time: 77,
        };
        assert!(history.record(tx(1), None, 10, vec![1]));
        assert!(history.record(tx(1), Some(at), 11, vec![]));
        assert!(!history.record(tx(1), Some(at), 12, vec![]));
        history.record(tx(2), None, 13, vec![]);
        history.set_best(at.hash);
        history.write().unwrap();

        let mut reopened = History::open(path).unwrap().unwrap();
        assert_eq!(reopened.best, at.hash);
        let order: Vec<u64> = reopened.in_order().iter().map(|w| w.order).collect();
        assert_eq!(order, [0, 1]);
        let first = &reopened.txs[&tx(1).txid()];
        assert_eq!(
            (first.block, first.received, first.change.clone()),
            (Some(at), 10, vec![1])
        );
        reopened.disconnect(&at.hash);
        assert_eq!(reopened.txs[&tx(1).txid()].block, None);
    }

    #[test]
    fn followed_blocks_are_written_every_144_blocks_and_own_payments_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.txs.json");
        let mut history = History::new(path.clone(), Hash256::ZERO);
        history.save().unwrap();
        let best_on_disk = || History::open(path.clone()).unwrap().unwrap().best;
        let block = |n: u32| BlockPosition {
            hash: Hash256([n as u8 + 1; 32]),
            height: n,
            index: 0,
            time: n,
        };
        // A miner's coinbase in every block: found again by the rescan, no write.
        for n in 0..SAVE_BEST_EVERY - 1 {
            history.record_followed(tx(n as u8), block(n), 1);
            history.set_best(block(n).hash);
            history.save().unwrap();
        }
        assert_eq!(best_on_disk(), Hash256::ZERO);
        // A payment seen in the pool: no rescan finds it, written at once.
        history.record(tx(200), None, 2, vec![]);
        history.save().unwrap();
        assert_eq!(best_on_disk(), block(SAVE_BEST_EVERY - 2).hash);
        // Then 144 followed blocks later, whatever they confirmed.
        for n in 0..SAVE_BEST_EVERY {
            history.set_best(Hash256([n as u8; 32]));
            history.save().unwrap();
        }
        assert_eq!(best_on_disk(), history.best);
    }
}
