//! The block filter index (Bitcoin Core's `-blockfilterindex=basic`): for each main-chain
//! block, its BIP158 basic filter, the filter's hash and its BIP157 filter header, so
//! `getblockfilter` and BIP157's `getcfilters`/`getcfheaders`/`getcfcheckpt` are answered
//! from storage.
//!
//! Record: block hash -> filter header (32) ‖ filter hash (32) ‖ encoded filter. The
//! spent scripts come from the block's undo data, written in the same transaction just
//! before, so the filter is computed as the block connects, inside the write that
//! connects it: a crash never leaves the index out of step with the main chain, and a
//! filter is never asked for in a window where the block is connected and its filter is
//! not (the window Bitcoin Core has, its index following on a background queue).
//!
//! Turned on for a data directory that has a chain already, it is built while the node
//! runs by [`ChainState::build_filter_index_batch`], batch after batch under the writer
//! lock, each recording how far it got in the same write (a restart resumes there). Unlike
//! the transaction index, a filter header needs its parent's, so blocks connected while
//! the build is behind are not indexed as they connect: the build reaches them, and the
//! batch that reaches the tip marks the index complete under the same lock, after which
//! every connect indexes. A reorganisation that disconnects a block the build has done
//! moves the build back to that height. Turned off, the index is dropped at open.
//!
//! Pruning keeps the two hashes of a pruned block and drops its filter bytes: headers
//! stay servable (`getcfheaders`, `getcfcheckpt`) and the chain of headers unbroken. The
//! index can be built only over blocks that still have their data: a pruned data
//! directory, or one with `keep_blocks` set (pruning could overtake the build), refuses to
//! build it; a new chain with pruning on keeps it from genesis.
//!
//! Cost: 64 bytes plus the filter (about 20 bits per distinct script, so a block of
//! coinbase only is 66 bytes in all) per main-chain block; one SipHash per script and a
//! sort per connect.

use std::sync::atomic::Ordering;

use heed::RwTxn;

use super::records::decode;
use super::records::BlockUndo;
use super::store::{Dbs, Store, WriteError};
use super::{ChainError, ChainState, FilterIndexInfo, StoredFilter};
use node_chain::block::Block;
use node_chain::block_filter::BlockFilter;
use node_chain::hash::Hash256;
use node_chain::validation::BlockError;

/// Meta key of how far the index is built: [`COMPLETE`], or the last height indexed (u32
/// little-endian) while it is being built; absent when nothing is.
pub(super) const FILTER_INDEX_KEY: &[u8] = b"block_filter_index";

/// Meta value once the index covers the whole main chain.
const COMPLETE: &[u8] = b"complete";

/// Blocks indexed per batch while building. A batch holds the writer lock: 100 blocks of
/// 1 MB are read, their undo decoded and filtered in well under a second.
const BUILD_BATCH: u32 = 100;

/// The in-memory mark of a complete index: every main-chain block is indexed as it
/// connects. Otherwise the value is the next height the build indexes.
pub(super) const SYNCED: u64 = u64::MAX;

/// The record of `stored`.
fn encode(stored: &StoredFilter) -> Vec<u8> {
    let filter = stored.filter.as_ref().map_or(&[][..], |f| &f.bytes);
    let mut value = Vec::with_capacity(64 + filter.len());
    value.extend_from_slice(stored.header.as_bytes());
    value.extend_from_slice(stored.filter_hash.as_bytes());
    value.extend_from_slice(filter);
    value
}

/// A record read back.
fn decode_stored(bytes: &[u8]) -> Option<StoredFilter> {
    let header: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
    let filter_hash: [u8; 32] = bytes.get(32..64)?.try_into().ok()?;
    let rest = &bytes[64..];
    Some(StoredFilter {
        header: Hash256(header),
        filter_hash: Hash256(filter_hash),
        // An encoded filter is at least its count byte, so empty means pruned.
        filter: (!rest.is_empty()).then(|| BlockFilter {
            bytes: rest.to_vec(),
        }),
    })
}

fn corrupt(what: String) -> WriteError<BlockError> {
    WriteError::Store(heed::Error::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        what,
    )))
}

/// Inside the write that connects `block` (`hash`, at `height`), after its undo data is
/// written: computes and stores its filter, chained to its parent's header.
pub(crate) fn add_block(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    block: &Block,
    hash: &Hash256,
    height: u32,
) -> Result<(), WriteError<BlockError>> {
    let undo: BlockUndo = match dbs.undo.get(txn, hash.as_bytes())? {
        Some(bytes) => decode(bytes).map_err(|e| corrupt(format!("undo of {hash}: {e}")))?,
        // Genesis is stored, never connected: it spends nothing and has no undo record.
        None if height == 0 => BlockUndo::default(),
        None => return Err(corrupt(format!("no undo data for block {hash}"))),
    };
    let previous = if height == 0 {
        Hash256::ZERO
    } else {
        let parent = &block.header.prev_block;
        dbs.block_filter
            .get(txn, parent.as_bytes())?
            .and_then(decode_stored)
            .ok_or_else(|| {
                corrupt(format!(
                    "block filter index: no filter header for {parent}, parent of {hash}"
                ))
            })?
            .header
    };
    let spent = undo.spent.iter().map(|coin| coin.script_pubkey.as_slice());
    let filter = BlockFilter::basic(hash, block, spent);
    let filter_hash = filter.hash();
    let stored = StoredFilter {
        header: node_chain::block_filter::filter_header(&filter_hash, &previous),
        filter_hash,
        filter: Some(filter),
    };
    dbs.block_filter
        .put(txn, hash.as_bytes(), &encode(&stored))?;
    Ok(())
}

/// Inside the write that disconnects block `hash`: forgets its filter.
pub(crate) fn remove_block<E>(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    hash: &Hash256,
) -> Result<(), WriteError<E>> {
    dbs.block_filter.delete(txn, hash.as_bytes())?;
    Ok(())
}

/// Inside the write that prunes block `hash`'s data: keeps its two hashes, drops the
/// filter bytes.
pub(crate) fn prune_block<E>(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    hash: &Hash256,
) -> Result<(), WriteError<E>> {
    let kept = dbs
        .block_filter
        .get(txn, hash.as_bytes())?
        .and_then(|bytes| bytes.get(..64))
        .map(<[u8]>::to_vec);
    if let Some(kept) = kept {
        dbs.block_filter.put(txn, hash.as_bytes(), &kept)?;
    }
    Ok(())
}

/// When the state opens: drops the index when it is not wanted; when it is, answers how
/// far it is built as the state keeps it in memory ([`SYNCED`], or the next height to
/// index), refusing a build that pruning would break.
pub(super) fn prepare(
    store: &Store,
    wanted: bool,
    keep_blocks: u32,
    prune_height: u32,
) -> Result<u64, ChainError> {
    let value =
        store.read(|txn, dbs| Ok(dbs.meta.get(txn, FILTER_INDEX_KEY)?.map(<[u8]>::to_vec)))?;
    if !wanted {
        if value.is_some() {
            store.write::<(), BlockError>(|txn, dbs| {
                dbs.block_filter.clear(txn)?;
                dbs.meta.delete(txn, FILTER_INDEX_KEY)?;
                Ok(())
            })?;
            tracing::info!("block filter index dropped ([chain] block_filter_index is off)");
        }
        return Ok(SYNCED);
    }
    let next = match value.as_deref() {
        Some(COMPLETE) => return Ok(SYNCED),
        None => 0,
        Some(bytes) => match <[u8; 4]>::try_from(bytes) {
            Ok(height) => u64::from(u32::from_le_bytes(height)) + 1,
            Err(_) => {
                return Err(ChainError::Corrupt(
                    "block filter index progress record".to_string(),
                ))
            }
        },
    };
    let tip_height = store.read(|txn, dbs| Ok(dbs.main.len(txn)?.saturating_sub(1)))?;
    // A new chain: genesis is indexed at once (see `ChainState::open`), then every block
    // as it connects, pruning or not.
    let only_genesis = next == 0 && tip_height == 0;
    if !only_genesis && (prune_height > 0 || keep_blocks > 0) {
        return Err(ChainError::FilterIndexNeedsBlocks(format!(
            "building it over the stored chain needs every block's data, and {}; build it \
             with keep_blocks = 0 first, or use a new data directory",
            if prune_height > 0 {
                format!("this data directory was pruned up to height {prune_height}")
            } else {
                "keep_blocks would prune blocks while it is built".to_string()
            }
        )));
    }
    Ok(next)
}

impl ChainState {
    /// How far the block filter index is built; `None` when it is off.
    pub fn filter_index_info(&self) -> Option<FilterIndexInfo> {
        if !self.options.block_filter_index {
            return None;
        }
        let next = self.filter_index_built.load(Ordering::Acquire);
        Some(if next == SYNCED {
            FilterIndexInfo {
                synced: true,
                best_block_height: self.tree().height(),
            }
        } else {
            FilterIndexInfo {
                synced: false,
                best_block_height: next.saturating_sub(1) as u32,
            }
        })
    }

    /// Whether connects index their blocks now (the index is on and complete).
    pub(super) fn filter_index_follows(&self) -> bool {
        self.options.block_filter_index && self.filter_index_built.load(Ordering::Acquire) == SYNCED
    }

    /// While the index is being built, the next height to build after disconnecting the
    /// main-chain block at `height`: the build goes back when it had done that block.
    /// `None` when nothing moves.
    pub(super) fn filter_build_after_disconnect(&self, height: u32) -> Option<u64> {
        if !self.options.block_filter_index {
            return None;
        }
        let next = self.filter_index_built.load(Ordering::Acquire);
        (next != SYNCED && next > u64::from(height)).then_some(u64::from(height))
    }

    /// Records, inside the disconnect's write, that the build goes back to `next`.
    pub(super) fn write_filter_build_progress<E>(
        txn: &mut RwTxn<'_>,
        dbs: &Dbs,
        next: u64,
    ) -> Result<(), WriteError<E>> {
        match next.checked_sub(1) {
            Some(last) => dbs
                .meta
                .put(txn, FILTER_INDEX_KEY, &(last as u32).to_le_bytes())?,
            None => {
                dbs.meta.delete(txn, FILTER_INDEX_KEY)?;
            }
        }
        Ok(())
    }

    /// After the disconnect's commit.
    pub(super) fn set_filter_build(&self, next: u64) {
        self.filter_index_built.store(next, Ordering::Release);
    }

    /// Indexes the next run of main-chain blocks the index lacks (at most
    /// `BUILD_BATCH`), under the writer lock, recording how far it got in the same
    /// write; the batch that reaches the tip marks the index complete. Returns how far
    /// the index is; once it is synced, a call does nothing.
    pub fn build_filter_index_batch(&self) -> Result<Option<FilterIndexInfo>, ChainError> {
        if !self.options.block_filter_index {
            return Ok(None);
        }
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let next = self.filter_index_built.load(Ordering::Acquire);
        if next == SYNCED {
            return Ok(self.filter_index_info());
        }
        let (hashes, complete) = {
            let tree = self.tree();
            let tip = tree.height();
            let from = next as u32;
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
                add_block(txn, dbs, &block, hash, *height)?;
            }
            match (complete, hashes.last()) {
                (true, _) => dbs.meta.put(txn, FILTER_INDEX_KEY, COMPLETE)?,
                (false, Some((height, _))) => {
                    dbs.meta.put(txn, FILTER_INDEX_KEY, &height.to_le_bytes())?
                }
                (false, None) => {}
            }
            Ok(())
        })?;
        let now = match (complete, hashes.last()) {
            (true, _) => SYNCED,
            (false, Some((height, _))) => u64::from(*height) + 1,
            (false, None) => next,
        };
        self.filter_index_built.store(now, Ordering::Release);
        Ok(self.filter_index_info())
    }

    /// What the block filter index holds for `hash`: `None` when the index is off or
    /// does not cover the block (not on the main chain, or not built that far yet).
    pub fn block_filter(&self, hash: &Hash256) -> Result<Option<StoredFilter>, ChainError> {
        if !self.options.block_filter_index {
            return Ok(None);
        }
        let value = self.store.read(|txn, dbs| {
            Ok(dbs
                .block_filter
                .get(txn, hash.as_bytes())?
                .map(<[u8]>::to_vec))
        })?;
        value
            .map(|bytes| {
                decode_stored(&bytes)
                    .ok_or_else(|| ChainError::Corrupt(format!("block filter of {hash}")))
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

    fn open(dir: &std::path::Path, on: bool, keep_blocks: u32) -> Arc<ChainState> {
        let options = ChainOptions {
            block_filter_index: on,
            keep_blocks,
            ..ChainOptions::default()
        };
        let spec = ChainSpec::by_name("regtest").unwrap();
        ChainState::open(dir, spec, options, |_| {}).unwrap()
    }

    fn build(state: &ChainState) {
        while !state.build_filter_index_batch().unwrap().unwrap().synced {}
    }

    /// The filter and header recomputed from the stored block and the scripts it spent
    /// (read from the outputs the inputs name, in the blocks that created them).
    fn expected(state: &ChainState, hash: &Hash256, previous: &Hash256) -> (BlockFilter, Hash256) {
        let block = state.block(hash).unwrap().unwrap();
        let mut spent = Vec::new();
        for tx in block.txs.iter().skip(1) {
            for input in &tx.inputs {
                let location = (0..=state.tip().height)
                    .filter_map(|h| state.block(&state.hash_at(h).unwrap()).unwrap())
                    .flat_map(|b| b.txs)
                    .find(|t| t.txid() == input.prevout.txid)
                    .unwrap();
                spent.push(
                    location.outputs[input.prevout.vout as usize]
                        .script_pubkey
                        .clone(),
                );
            }
        }
        let filter = BlockFilter::basic(hash, &block, spent.iter().map(Vec::as_slice));
        let header = filter.header(previous);
        (filter, header)
    }

    fn check_chain(state: &ChainState) {
        let mut previous = Hash256::ZERO;
        for height in 0..=state.tip().height {
            let hash = state.hash_at(height).unwrap();
            let stored = state.block_filter(&hash).unwrap().unwrap();
            let (filter, header) = expected(state, &hash, &previous);
            assert_eq!(stored.filter.as_ref(), Some(&filter), "height {height}");
            assert_eq!(stored.filter_hash, filter.hash());
            assert_eq!(stored.header, header, "height {height}");
            previous = header;
        }
    }

    #[test]
    fn connects_index_with_spent_scripts_and_a_reorg_replaces_the_filters() {
        let dir = tempfile::tempdir().unwrap();
        let state = open(dir.path(), true, 0);
        assert!(state.filter_index_info().unwrap().synced);
        let genesis = state.hash_at(0).unwrap();
        assert!(
            state.block_filter(&genesis).unwrap().is_some(),
            "genesis indexed at open"
        );
        let alice = Wallet::new(1);
        let bob = Wallet::new(2);
        let mut main = Builder::new(&state);
        let first = main.mature_coinbase(&state, &alice);
        let fork = main.clone();
        let pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 500);
        let a1 = main.next_block(&alice, vec![pay.clone()]);
        state.accept_block(&a1).unwrap();
        let a1_filter = state.block_filter(&a1.hash()).unwrap().unwrap();
        let alice_script = &first.txs[0].outputs[0].script_pubkey;
        let bob_script = &pay.outputs[0].script_pubkey;
        let filter = a1_filter.filter.clone().unwrap();
        assert!(
            filter.matches_any(&a1.hash(), &[alice_script]).unwrap(),
            "spent script"
        );
        assert!(
            filter.matches_any(&a1.hash(), &[bob_script]).unwrap(),
            "paid script"
        );
        check_chain(&state);

        let mut other = fork;
        other.set_extra(b"branch-b");
        let b1 = other.next_block(&bob, vec![]);
        let b2 = other.next_block(&bob, vec![]);
        state.accept_block(&b1).unwrap();
        state.accept_block(&b2).unwrap();
        assert_eq!(state.tip().hash, b2.hash());
        assert_eq!(state.block_filter(&a1.hash()).unwrap(), None);
        let b1_filter = state.block_filter(&b1.hash()).unwrap().unwrap();
        assert_ne!(b1_filter.header, a1_filter.header);
        check_chain(&state);
    }

    #[test]
    fn built_over_an_existing_chain_through_a_reorg_then_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = None;
        {
            let state = open(dir.path(), false, 0);
            let mut b = Builder::new(&state);
            for height in 1..=150 {
                state
                    .accept_block(&b.next_block(&Wallet::new(1), vec![]))
                    .unwrap();
                if height == 90 {
                    other = Some(b.clone());
                }
            }
        }
        let state = open(dir.path(), true, 0);
        assert_eq!(
            state.filter_index_info(),
            Some(FilterIndexInfo {
                synced: false,
                best_block_height: 0
            })
        );
        // One batch (heights 0..=99), then a reorg of the last 60 blocks: the build goes
        // back to height 91 and still ends on the new branch's filters.
        let info = state.build_filter_index_batch().unwrap().unwrap();
        assert_eq!(info.best_block_height, 99);
        let mut other = other.unwrap();
        other.set_extra(b"other");
        for _ in 0..61 {
            state
                .accept_block(&other.next_block(&Wallet::new(3), vec![]))
                .unwrap();
        }
        assert_eq!(state.tip().height, 151);
        assert_eq!(state.filter_index_info().unwrap().best_block_height, 90);
        build(&state);
        assert_eq!(state.filter_index_info().unwrap().best_block_height, 151);
        check_chain(&state);
        drop(state);
        let state = open(dir.path(), false, 0);
        let count = state
            .store
            .read(|txn, dbs| dbs.block_filter.len(txn))
            .unwrap();
        assert_eq!(count, 0);
    }

    #[test]
    fn pruning_keeps_the_headers_and_refuses_a_build() {
        let dir = tempfile::tempdir().unwrap();
        let state = open(dir.path(), true, crate::MIN_KEEP_BLOCKS);
        let mut b = Builder::new(&state);
        for _ in 0..(crate::MIN_KEEP_BLOCKS + 10) {
            state
                .accept_block(&b.next_block(&Wallet::new(1), vec![]))
                .unwrap();
        }
        assert!(state.prune_height() > 0);
        let pruned = state
            .block_filter(&state.hash_at(1).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(pruned.filter, None);
        let kept = state.block_filter(&state.tip().hash).unwrap().unwrap();
        assert!(kept.filter.is_some());
        drop(state);

        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path(), true, 0));
        {
            let state = open(dir.path(), false, 0);
            let mut b = Builder::new(&state);
            state
                .accept_block(&b.next_block(&Wallet::new(1), vec![]))
                .unwrap();
        }
        let options = ChainOptions {
            block_filter_index: true,
            keep_blocks: crate::MIN_KEEP_BLOCKS,
            ..ChainOptions::default()
        };
        let spec = ChainSpec::by_name("regtest").unwrap();
        let error = ChainState::open(dir.path(), spec, options, |_| {})
            .err()
            .expect("refused");
        assert!(
            matches!(error, ChainError::FilterIndexNeedsBlocks(_)),
            "{error}"
        );
    }
}
