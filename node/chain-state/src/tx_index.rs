//! The transaction index (Bitcoin Core's `-txindex`): txid -> the main-chain block that
//! holds it and its position there, so any confirmed transaction can be found without
//! knowing its block.
//!
//! It is written inside the same LMDB write transaction that connects or disconnects a
//! block, so a crash never leaves it out of step with the main chain. Turned on for a
//! data directory that has a chain already, it is built while the node runs, by
//! [`ChainState::build_tx_index_batch`] called until it reports the index synced: each
//! batch indexes a run of main-chain blocks under the writer lock and records how far it
//! got in the same write (a restart resumes there). Blocks connected meanwhile are
//! indexed as they connect, and a reorganisation removes what it disconnects, so the
//! batches and the connects never disagree. Turned off, the index is dropped at open.
//!
//! Genesis's coinbase is left out, as in Core: its output cannot be spent, and Core
//! answers that it "is not considered an ordinary transaction".
//!
//! Cost: 68 bytes of key and value per confirmed transaction, plus LMDB's overhead.

use std::sync::atomic::Ordering;

use heed::RwTxn;

use super::records::decode;
use super::store::{Store, WriteError};
use super::{ChainError, ChainState, TxIndexInfo, TxLocation, TX_INDEX_KEY};
use node_chain::block::Block;
use node_chain::hash::Hash256;
use node_chain::validation::BlockError;

/// Blocks indexed per batch while building. A batch holds the writer lock, so blocks
/// arriving meanwhile wait for it: 100 blocks of 1 MB are read and indexed in well under
/// a second, and commits still do not dominate.
const BUILD_BATCH: u32 = 100;

/// The in-memory mark of a complete index (or none at all): every main-chain block is
/// indexed as it connects.
pub(super) const SYNCED: u64 = u64::MAX;

/// Meta value of [`TX_INDEX_KEY`] once the index covers the whole main chain; while it is
/// being built the value is the last height indexed (u32 little-endian).
const COMPLETE: &[u8] = b"complete";

/// Inside the write that connects `block` (`hash`): indexes each of its transactions.
pub(crate) fn add_block<E>(
    txn: &mut RwTxn<'_>,
    dbs: &super::store::Dbs,
    block: &Block,
    hash: &Hash256,
) -> Result<(), WriteError<E>> {
    for (position, tx) in block.txs.iter().enumerate() {
        let location = TxLocation {
            block: *hash,
            position: position as u32,
        };
        dbs.tx_index
            .put(txn, tx.txid().as_bytes(), &location.encode())?;
    }
    Ok(())
}

/// Inside the write that disconnects `block` (`hash`): forgets its transactions. An entry
/// that names another block is left alone (a transaction cannot be in two main-chain
/// blocks, so this only guards against removing what is not ours).
pub(crate) fn remove_block<E>(
    txn: &mut RwTxn<'_>,
    dbs: &super::store::Dbs,
    block: &Block,
    hash: &Hash256,
) -> Result<(), WriteError<E>> {
    for tx in &block.txs {
        let txid = tx.txid();
        let ours = dbs
            .tx_index
            .get(txn, txid.as_bytes())?
            .and_then(TxLocation::decode)
            .is_some_and(|l| l.block == *hash);
        if ours {
            dbs.tx_index.delete(txn, txid.as_bytes())?;
        }
    }
    Ok(())
}

/// How far a data directory's index is built.
enum Built {
    /// No index (or it was dropped).
    Absent,
    /// Built up to this main-chain height; heights above it are not indexed yet.
    Partly(u32),
    /// Covers the main chain, kept up to date by every connect and disconnect.
    Complete,
}

fn built(store: &Store) -> Result<Built, ChainError> {
    let value = store.read(|txn, dbs| Ok(dbs.meta.get(txn, TX_INDEX_KEY)?.map(<[u8]>::to_vec)))?;
    Ok(match value.as_deref() {
        None => Built::Absent,
        Some(COMPLETE) => Built::Complete,
        Some(bytes) => match <[u8; 4]>::try_from(bytes) {
            Ok(height) => Built::Partly(u32::from_le_bytes(height)),
            Err(_) => return Err(ChainError::Corrupt("tx index progress record".to_string())),
        },
    })
}

/// When the state opens: drops the index when it is not wanted; when it is, answers how
/// far it is built, as the state keeps it in memory: [`SYNCED`], or the last height
/// indexed (0 when nothing is).
pub(super) fn prepare(store: &Store, wanted: bool, prune_height: u32) -> Result<u64, ChainError> {
    let built = built(store)?;
    if !wanted {
        if !matches!(built, Built::Absent) {
            store.write::<(), BlockError>(|txn, dbs| {
                dbs.tx_index.clear(txn)?;
                dbs.meta.delete(txn, TX_INDEX_KEY)?;
                Ok(())
            })?;
            tracing::info!("tx index dropped ([chain] tx_index is off)");
        }
        return Ok(SYNCED);
    }
    let done = match built {
        Built::Complete => return Ok(SYNCED),
        // Genesis's coinbase is not an ordinary transaction (its output cannot be
        // spent), so Core's index leaves it out, and so does this one.
        Built::Absent => 0,
        Built::Partly(height) => height,
    };
    let tip_height = store.read(|txn, dbs| Ok(dbs.main.len(txn)?.saturating_sub(1)))?;
    if done == 0 && tip_height == 0 {
        // A new chain: nothing to build, every block is indexed as it connects.
        store.write::<(), BlockError>(|txn, dbs| {
            dbs.meta.put(txn, TX_INDEX_KEY, COMPLETE)?;
            Ok(())
        })?;
        return Ok(SYNCED);
    }
    if prune_height > 0 {
        return Err(ChainError::TxIndexNeedsBlocks(format!(
            "this data directory was pruned up to height {prune_height}; use a new data \
             directory to build it"
        )));
    }
    Ok(u64::from(done))
}

fn corrupt(what: String) -> WriteError<BlockError> {
    WriteError::Store(heed::Error::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        what,
    )))
}

impl ChainState {
    /// How far the transaction index is built; `None` when it is off.
    pub fn tx_index_info(&self) -> Option<TxIndexInfo> {
        if !self.options.tx_index {
            return None;
        }
        let built = self.tx_index_built.load(Ordering::Acquire);
        Some(if built == SYNCED {
            TxIndexInfo {
                synced: true,
                best_block_height: self.tree().height(),
            }
        } else {
            TxIndexInfo {
                synced: false,
                best_block_height: built as u32,
            }
        })
    }

    /// Indexes the next run of main-chain blocks the index lacks (at most
    /// `BUILD_BATCH`), under the writer lock, recording how far it got in the same
    /// write. Returns how far the index is; once it is synced, a call does nothing.
    pub fn build_tx_index_batch(&self) -> Result<Option<TxIndexInfo>, ChainError> {
        if !self.options.tx_index {
            return Ok(None);
        }
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let built = self.tx_index_built.load(Ordering::Acquire);
        if built == SYNCED {
            return Ok(self.tx_index_info());
        }
        let (hashes, complete) = {
            let tree = self.tree();
            let tip = tree.height();
            // A reorganisation may have left the tip below what was indexed: the blocks it
            // disconnected took their entries with them.
            let from = (built as u32).saturating_add(1);
            let last = from.saturating_add(BUILD_BATCH - 1).min(tip);
            let hashes: Vec<(u32, Hash256)> = (from..=last)
                .map(|h| (h, tree.main_hash(h).expect("height within the main chain")))
                .collect();
            (hashes, last >= tip)
        };
        self.store.write::<(), BlockError>(|txn, dbs| {
            for (height, hash) in &hashes {
                let bytes = dbs.blocks.get(txn, hash.as_bytes())?.ok_or_else(|| {
                    corrupt(format!(
                        "main-chain block {hash} at height {height} has no data"
                    ))
                })?;
                let block: Block = decode(bytes)
                    .map_err(|e| corrupt(format!("block {hash} at height {height}: {e}")))?;
                add_block(txn, dbs, &block, hash)?;
            }
            match (complete, hashes.last()) {
                (true, _) => dbs.meta.put(txn, TX_INDEX_KEY, COMPLETE)?,
                (false, Some((height, _))) => {
                    dbs.meta.put(txn, TX_INDEX_KEY, &height.to_le_bytes())?
                }
                (false, None) => {}
            }
            Ok(())
        })?;
        let now = match (complete, hashes.last()) {
            (true, _) => SYNCED,
            (false, Some((height, _))) => u64::from(*height),
            (false, None) => built,
        };
        self.tx_index_built.store(now, Ordering::Release);
        Ok(self.tx_index_info())
    }

    /// The main-chain block holding `txid` and its position there, from the transaction
    /// index; `None` when the transaction is not confirmed or the index is off.
    pub fn transaction_location(&self, txid: &Hash256) -> Result<Option<TxLocation>, ChainError> {
        if !self.options.tx_index {
            return Ok(None);
        }
        let value = self
            .store
            .read(|txn, dbs| Ok(dbs.tx_index.get(txn, txid.as_bytes())?.map(<[u8]>::to_vec)))?;
        value
            .map(|bytes| {
                TxLocation::decode(&bytes)
                    .ok_or_else(|| ChainError::Corrupt(format!("tx index entry of {txid}")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{Builder, Wallet};
    use crate::{ChainOptions, ChainSpec};

    fn open(dir: &std::path::Path, tx_index: bool) -> Arc<ChainState> {
        let options = ChainOptions {
            tx_index,
            ..ChainOptions::default()
        };
        let spec = ChainSpec::by_name("regtest").unwrap();
        ChainState::open(dir, spec, options, |_| {}).unwrap()
    }

    /// Builds the index to the end, as the chain module's task does.
    fn build(state: &ChainState) {
        while !state.build_tx_index_batch().unwrap().unwrap().synced {}
    }

    fn location(state: &ChainState, txid: &Hash256) -> Option<(Hash256, u32)> {
        state
            .transaction_location(txid)
            .unwrap()
            .map(|l| (l.block, l.position))
    }

    #[test]
    fn connecting_indexes_and_a_reorg_moves_the_entries_to_the_winning_branch() {
        let dir = tempfile::tempdir().unwrap();
        let state = open(dir.path(), true);
        assert!(
            state.tx_index_info().unwrap().synced,
            "a new chain has nothing to build"
        );
        let alice = Wallet::new(1);
        let bob = Wallet::new(2);
        let mut main = Builder::new(&state);
        let first = main.mature_coinbase(&state, &alice);
        let fork = main.clone();
        let pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 500);
        let a1 = main.next_block(&alice, vec![pay.clone()]);
        state.accept_block(&a1).unwrap();
        assert_eq!(
            location(&state, &first.txs[0].txid()),
            Some((first.hash(), 0))
        );
        assert_eq!(location(&state, &pay.txid()), Some((a1.hash(), 1)));
        assert_eq!(location(&state, &a1.txs[0].txid()), Some((a1.hash(), 0)));

        // A heavier branch without the payment: a1's transactions leave the index.
        let mut other = fork;
        other.set_extra(b"branch-b");
        let b1 = other.next_block(&bob, vec![]);
        let b2 = other.next_block(&bob, vec![]);
        state.accept_block(&b1).unwrap();
        state.accept_block(&b2).unwrap();
        assert_eq!(state.tip().hash, b2.hash());
        assert_eq!(location(&state, &pay.txid()), None);
        assert_eq!(location(&state, &a1.txs[0].txid()), None);
        assert_eq!(location(&state, &b1.txs[0].txid()), Some((b1.hash(), 0)));

        // The payment confirmed on the new branch points there.
        let b3 = other.next_block(&bob, vec![pay.clone()]);
        state.accept_block(&b3).unwrap();
        assert_eq!(location(&state, &pay.txid()), Some((b3.hash(), 1)));
    }

    #[test]
    fn turned_on_later_it_is_built_over_the_chain_and_turned_off_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut blocks = Vec::new();
        {
            let state = open(dir.path(), false);
            let mut b = Builder::new(&state);
            for _ in 0..5 {
                let block = b.next_block(&Wallet::new(1), vec![]);
                state.accept_block(&block).unwrap();
                blocks.push(block);
            }
            assert!(state.tx_index_info().is_none());
            assert_eq!(location(&state, &blocks[0].txs[0].txid()), None);
        }
        {
            let state = open(dir.path(), true);
            let info = state.tx_index_info().unwrap();
            assert!(!info.synced && info.best_block_height == 0, "{info:?}");
            // A block connected before the build gets to it is indexed as it connects.
            let mut b = Builder::new(&state);
            let late = b.next_block(&Wallet::new(1), vec![]);
            state.accept_block(&late).unwrap();
            assert_eq!(
                location(&state, &late.txs[0].txid()),
                Some((late.hash(), 0))
            );
            assert_eq!(location(&state, &blocks[0].txs[0].txid()), None);
            build(&state);
            let info = state.tx_index_info().unwrap();
            assert!(info.synced && info.best_block_height == 6, "{info:?}");
            blocks.push(late);
            for block in &blocks {
                assert_eq!(
                    location(&state, &block.txs[0].txid()),
                    Some((block.hash(), 0))
                );
            }
            let count = state.store.read(|txn, dbs| dbs.tx_index.len(txn)).unwrap();
            // The six blocks, one transaction each; genesis's coinbase is left out.
            assert_eq!(count, 6);
            let genesis = state.block(&state.hash_at(0).unwrap()).unwrap().unwrap();
            assert_eq!(location(&state, &genesis.txs[0].txid()), None);
        }
        {
            let state = open(dir.path(), false);
            let count = state.store.read(|txn, dbs| dbs.tx_index.len(txn)).unwrap();
            assert_eq!(count, 0);
            assert!(matches!(built(&state.store).unwrap(), Built::Absent));
        }
    }

    #[test]
    fn it_is_refused_with_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let options = ChainOptions {
            tx_index: true,
            keep_blocks: crate::MIN_KEEP_BLOCKS,
            ..ChainOptions::default()
        };
        let spec = ChainSpec::by_name("regtest").unwrap();
        let error = ChainState::open(dir.path(), spec, options, |_| {})
            .err()
            .expect("refused");
        assert!(
            matches!(error, ChainError::TxIndexNeedsBlocks(_)),
            "{error}"
        );
    }

    #[test]
    fn a_build_cut_short_resumes_from_its_last_batch() {
        let dir = tempfile::tempdir().unwrap();
        let state = open(dir.path(), false);
        let mut b = Builder::new(&state);
        let blocks: Vec<Block> = (0..4)
            .map(|_| {
                let block = b.next_block(&Wallet::new(1), vec![]);
                state.accept_block(&block).unwrap();
                block
            })
            .collect();
        // As a crash after the batch ending at height 2 leaves it.
        state
            .store
            .write::<(), BlockError>(|txn, dbs| {
                dbs.meta.put(txn, TX_INDEX_KEY, &2u32.to_le_bytes())?;
                Ok(())
            })
            .unwrap();
        drop(state);
        let state = open(dir.path(), true);
        assert_eq!(
            state.tx_index_info(),
            Some(TxIndexInfo {
                synced: false,
                best_block_height: 2
            })
        );
        build(&state);
        assert!(matches!(built(&state.store).unwrap(), Built::Complete));
        // Heights 3 and 4 were indexed by the resumed build; 1 and 2 were not redone.
        assert_eq!(location(&state, &blocks[0].txs[0].txid()), None);
        assert_eq!(
            location(&state, &blocks[3].txs[0].txid()),
            Some((blocks[3].hash(), 0))
        );
    }
}
