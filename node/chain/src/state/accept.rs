//! Accepting headers and blocks: the checks that need the parent, storing what passes
//! and remembering what fails.

use std::sync::MutexGuard;

use super::pipeline::Preverified;
use super::records::{encode, FAILED, HAVE_DATA};
use super::tree::BlockTree;
use super::{now, BlockIndexEntry, BlockOutcome, ChainError, ChainState, MAX_FUTURE_SECS};
use crate::block::{Block, BlockHeader};
use crate::hash::Hash256;
use crate::pow::{block_work, check_proof_of_work};
use crate::validation::{check_block, check_coinbase_height, BlockError};

impl ChainState {
    /// Checks a header against its parent and stores it in the index. Returns whether it
    /// was new.
    pub fn accept_header(&self, header: &BlockHeader) -> Result<bool, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.accept_headers_locked(std::slice::from_ref(header));
        result.map(|n| n == 1)
    }

    /// Checks and stores a run of headers (each the parent of the next, as a `headers`
    /// message carries them) in one write. Returns how many were new; stops at the first
    /// invalid one, storing those before it.
    pub fn accept_headers(&self, headers: &[BlockHeader]) -> Result<usize, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.accept_headers_locked(headers)
    }

    pub(super) fn accept_headers_locked(
        &self,
        headers: &[BlockHeader],
    ) -> Result<usize, ChainError> {
        // The run is persisted in one write at the end. A crash before that write only
        // forgets headers, which peers send again.
        let (accepted, failure) = self.index_headers(headers);
        self.persist_entries(&accepted)?;
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(accepted.len()),
        }
    }

    /// Checks a run of headers and adds the new ones to the in-memory tree (not to LMDB:
    /// the caller persists them). Each joins the tree as soon as it passes, so the next
    /// one of the run finds its parent there. Stops at the first invalid one.
    pub(super) fn index_headers(
        &self,
        headers: &[BlockHeader],
    ) -> (Vec<(Hash256, BlockIndexEntry)>, Option<BlockError>) {
        let mut accepted: Vec<(Hash256, BlockIndexEntry)> = Vec::new();
        let mut failure = None;
        for header in headers {
            let hash = header.hash();
            let entry = {
                let tree = self.tree();
                if let Some(existing) = tree.get(&hash) {
                    if existing.is_failed() {
                        failure = Some(BlockError::KnownInvalid);
                        break;
                    }
                    continue;
                }
                let Some(prev) = tree.get(&header.prev_block) else {
                    failure = Some(BlockError::PrevNotFound);
                    break;
                };
                if let Err(e) = self.check_header(&tree, header, prev) {
                    failure = Some(e);
                    break;
                }
                BlockIndexEntry {
                    header: *header,
                    height: prev.height + 1,
                    chain_work: prev.chain_work + block_work(header.bits),
                    status: 0,
                    tx_count: 0,
                }
            };
            self.tree
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(hash, entry.clone());
            accepted.push((hash, entry));
        }
        (accepted, failure)
    }

    /// Writes index entries in one write (none: no write).
    pub(super) fn persist_entries(
        &self,
        entries: &[(Hash256, BlockIndexEntry)],
    ) -> Result<(), ChainError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.store.write::<(), BlockError>(|txn, dbs| {
            for (hash, entry) in entries {
                dbs.index.put(txn, hash.as_bytes(), &encode(entry))?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Header rules that need the parent: proof of work, bits, time.
    pub(super) fn check_header(
        &self,
        tree: &BlockTree,
        header: &BlockHeader,
        prev: &BlockIndexEntry,
    ) -> Result<(), BlockError> {
        if prev.is_failed() {
            return Err(BlockError::PrevInvalid);
        }
        check_proof_of_work(&header.hash(), header.bits, &self.spec.pow_limit())
            .map_err(|_| BlockError::HighHash)?;
        if header.bits != self.next_bits(tree, &header.prev_block) {
            return Err(BlockError::BadDiffBits);
        }
        if header.time <= tree.median_time_past(&header.prev_block) {
            return Err(BlockError::TimeTooOld);
        }
        if u64::from(header.time) > now() + MAX_FUTURE_SECS {
            return Err(BlockError::TimeTooNew);
        }
        Ok(())
    }

    /// Validates and stores a block, then moves the tip to the most-work chain. Invalid
    /// blocks are rejected with their reason (and remembered as invalid when the reason
    /// is about the block itself).
    ///
    /// Callers may run it from several threads at once: each block's signatures are
    /// verified before the writer lock, side by side, and a block waits for a parent
    /// another thread is accepting (see `pipeline.rs`).
    pub fn accept_block(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        let hash = block.hash();
        let _arrival = self.arrivals.enter(hash);
        // Verifying ahead pays only when there is something to overlap with. With the
        // writer free and the parent not in flight, connecting verifies signatures on the
        // other cores while this thread walks the UTXO set, which is faster for one block.
        if !self.arrivals.is_arriving(&block.header.prev_block) {
            if let Ok(writer) = self.writer.try_lock() {
                let pre = Preverified {
                    hash,
                    checked: false,
                };
                return self.accept_with_writer(block, pre, writer);
            }
        }
        let pre = self.preverify(block);
        self.accept_locked(block, pre)
    }

    /// `accept_block` for a block [`ChainState::preverify`] has seen (on another thread,
    /// ahead of this one).
    pub(crate) fn accept_preverified(
        &self,
        block: &Block,
        pre: Preverified,
    ) -> Result<BlockOutcome, ChainError> {
        let _arrival = self.arrivals.enter(pre.hash);
        self.accept_locked(block, pre)
    }

    fn accept_locked(&self, block: &Block, pre: Preverified) -> Result<BlockOutcome, ChainError> {
        self.arrivals.wait_for(&block.header.prev_block);
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.accept_with_writer(block, pre, writer)
    }

    fn accept_with_writer(
        &self,
        block: &Block,
        pre: Preverified,
        _writer: MutexGuard<'_, ()>,
    ) -> Result<BlockOutcome, ChainError> {
        let hash = pre.hash;
        if let Some(entry) = self.tree().get(&hash) {
            if entry.is_failed() {
                return Err(BlockError::KnownInvalid.into());
            }
            // A pruned main-chain block was had; a pruned side-branch one fails the
            // fork check below.
            if entry.has_data() || (entry.is_pruned() && self.tree().is_main(&hash)) {
                return Ok(BlockOutcome::AlreadyHave);
            }
        }
        // A new header is persisted by the write that stores the block, saving a commit;
        // when the block is refused, by a write of its own (children may build on it).
        let (new_header, failure) = self.index_headers(std::slice::from_ref(&block.header));
        if let Some(e) = failure {
            return Err(e.into());
        }
        let result = self.accept_indexed_block(block, hash, pre.checked);
        if result.is_err() && !new_header.is_empty() {
            let entry = self.tree().get(&hash).cloned().expect("header indexed");
            self.persist_entries(&[(hash, entry)])?;
        }
        result
    }

    /// `accept_block` once the block's header is in the tree.
    pub(super) fn accept_indexed_block(
        &self,
        block: &Block,
        hash: Hash256,
        prechecked: bool,
    ) -> Result<BlockOutcome, ChainError> {
        let height = self
            .tree()
            .get(&hash)
            .map(|e| e.height)
            .expect("header just accepted");
        self.check_fork_above_prune(&hash)?;
        let checked = if prechecked {
            Ok(())
        } else {
            check_block(block, self.spec.max_block_size)
        };
        let checked = checked.and_then(|()| check_coinbase_height(block, height));
        if let Err(e) = checked {
            if e.marks_block_invalid() {
                self.mark_failed(hash)?;
            }
            return Err(e.into());
        }
        let mut entry = self
            .tree()
            .get(&hash)
            .cloned()
            .expect("header just accepted");
        entry.status |= HAVE_DATA;
        entry.tx_count = block.txs.len() as u32;
        let start_tip = self.tree().tip();
        let mut failed = None;
        if block.header.prev_block == start_tip {
            // The common case, a block on the tip: stored and connected in one write
            // (an invalid one is not stored at all).
            match self.connect(block, hash, Some(&entry)) {
                Ok(()) => {}
                Err(ChainError::Invalid(reason)) => {
                    tracing::warn!(block = %hash, %reason, "block failed to connect; marked invalid");
                    self.mark_failed(hash)?;
                    failed = Some((hash, reason));
                }
                Err(e) => return Err(e),
            }
        } else {
            self.store.write::<(), BlockError>(|txn, dbs| {
                dbs.blocks.put(txn, hash.as_bytes(), &encode(block))?;
                dbs.index.put(txn, hash.as_bytes(), &encode(&entry))?;
                Ok(())
            })?;
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let tip_work = tree.tip_entry().chain_work;
            let work = entry.chain_work;
            *tree.get_mut(&hash).expect("indexed") = entry;
            if work > tip_work {
                tree.candidates.insert(hash);
            }
        }
        {
            // Descendants stored before this block may now be connectable.
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let descendants = tree.descendants_with_data(&hash);
            tree.candidates.extend(descendants);
        }
        let failed = failed.or(self.activate_best_chain(start_tip)?);
        let tree = self.tree();
        if tree.is_main(&hash) {
            Ok(BlockOutcome::BecameTip)
        } else if tree.get(&hash).is_some_and(|e| e.is_failed()) {
            match failed {
                Some((failed_hash, reason)) if failed_hash == hash => Err(reason.into()),
                _ => Err(BlockError::PrevInvalid.into()),
            }
        } else {
            Ok(BlockOutcome::SideBranch)
        }
    }

    /// Refuses a block whose branch forks below the prune height: its data could never
    /// be connected, so it is neither stored nor made a candidate.
    pub(super) fn check_fork_above_prune(&self, hash: &Hash256) -> Result<(), ChainError> {
        let prune_height = self.prune_height();
        if prune_height == 0 {
            return Ok(());
        }
        let tree = self.tree();
        let fork_height = tree
            .fork_point(hash)
            .and_then(|f| tree.get(&f))
            .map(|e| e.height)
            .expect("indexed blocks descend from genesis");
        if fork_height < prune_height && !tree.is_main(hash) {
            return Err(ChainError::BeyondPruned {
                hash: *hash,
                fork_height,
                prune_height,
            });
        }
        Ok(())
    }

    pub(super) fn mark_failed(&self, hash: Hash256) -> Result<(), ChainError> {
        let marked = self
            .tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .mark_failed(hash);
        let entries: Vec<(Hash256, BlockIndexEntry)> = {
            let tree = self.tree();
            marked
                .iter()
                .filter_map(|h| tree.get(h).map(|e| (*h, e.clone())))
                .collect()
        };
        self.store.write::<(), BlockError>(|txn, dbs| {
            for (h, e) in &entries {
                dbs.index.put(txn, h.as_bytes(), &encode(e))?;
            }
            Ok(())
        })?;
        debug_assert!(entries.iter().all(|(_, e)| e.status & FAILED != 0));
        Ok(())
    }
}
