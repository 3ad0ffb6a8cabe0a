//! Accepting headers and blocks: the checks that need the parent, storing what passes
//! and remembering what fails.

use std::sync::{Arc, MutexGuard};

use super::activate::ToConnect;
use super::pipeline::{run_is_full, verifiers, Cores, Outcome, Preverified, Ready};
use super::records::{encode, FAILED, HAVE_DATA};
use super::tree::BlockTree;
use super::{
    anti_dos_threshold, now, BlockIndexEntry, BlockOutcome, ChainError, ChainState, MAX_FUTURE_SECS,
};
use node_chain::block::{Block, BlockHeader};
use node_chain::hash::Hash256;
use node_chain::pow::{block_work, check_proof_of_work, U256};
use node_chain::validation::{check_block, check_coinbase_height, BlockError};

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

    /// The work a peer's header chain must reach to be stored: the tip's less
    /// [`ANTI_DOS_MARGIN_BLOCKS`] blocks' worth at the tip's difficulty (Bitcoin Core's
    /// `GetAntiDoSWorkThreshold`, without a minimum chain work).
    pub fn anti_dos_work(&self) -> U256 {
        let tree = self.tree();
        let tip = tree.tip_entry();
        anti_dos_threshold(tip.chain_work, tip.header.bits)
    }

    /// [`ChainState::accept_headers`] for headers from a peer: a run whose chain stays
    /// below [`ChainState::anti_dos_work`] once its last header is counted is refused
    /// with [`ChainError::LowWork`] and nothing of it is stored (the work comes from the
    /// headers' `bits`, which are checked before anything is stored). Headers already
    /// known are skipped, so a run that only repeats them is accepted as 0 new.
    pub fn accept_peer_headers(&self, headers: &[BlockHeader]) -> Result<usize, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let threshold = self.anti_dos_work();
        {
            let tree = self.tree();
            let first_new = headers.iter().position(|h| tree.get(&h.hash()).is_none());
            if let Some(first) = first_new {
                let Some(parent) = tree.get(&headers[first].prev_block) else {
                    return Err(BlockError::PrevNotFound.into());
                };
                let work = headers[first..].iter().fold(parent.chain_work, |sum, h| {
                    sum.saturating_add(block_work(h.bits))
                });
                if work < threshold {
                    let last = headers.last().map(BlockHeader::hash).unwrap_or_default();
                    return Err(ChainError::LowWork { last });
                }
            }
        }
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
    /// verified before the writer lock, side by side, and verified blocks that extend the
    /// tip are connected several to a write (see `pipeline.rs`).
    pub fn accept_block(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        self.accept(block, || Arc::new(block.clone()))
    }

    /// [`ChainState::accept_block`] for a block the caller shares: while it waits to be
    /// written the pipeline holds this `Arc` rather than a copy (a block is hundreds of
    /// allocations, copied and freed on the cores that verify the next blocks).
    pub fn accept_shared_block(&self, block: Arc<Block>) -> Result<BlockOutcome, ChainError> {
        self.accept(&block, || block.clone())
    }

    /// `share` gives the block to queue when it waits for the writer.
    fn accept(&self, block: &Block, share: impl FnOnce() -> Arc<Block>) -> Outcome {
        let hash = block.hash();
        let _arrival = self.pipeline.enter(hash, block.header.prev_block);
        self.accept_entered(block, hash, share)
    }

    /// [`ChainState::accept`] once the pipeline counts `block` (of hash `hash`) as being
    /// accepted.
    pub(super) fn accept_entered(
        &self,
        block: &Block,
        hash: Hash256,
        share: impl FnOnce() -> Arc<Block>,
    ) -> Outcome {
        if let Some(outcome) = self.accept_alone(block, hash) {
            return outcome;
        }
        // On the verifying threads, first come first served with the blocks handed over
        // ahead, and off the global pool, where the writer verifies what it connects from
        // storage.
        let pre = verifiers().install(|| self.preverify(block, Cores::All));
        self.accept_queued(share(), pre)
    }

    /// Connects `block` (of hash `hash`) at once when it is the only block in flight and
    /// the writer is free; `None` otherwise. Verifying ahead pays only when there is
    /// something to overlap with: for one block (relayed at the tip), connecting verifies
    /// the signatures on the other cores while this thread walks the UTXO set, which is
    /// faster.
    pub(super) fn accept_alone(&self, block: &Block, hash: Hash256) -> Option<Outcome> {
        if !self.pipeline.is_alone(&hash) {
            return None;
        }
        let _writer = self.writer.try_lock().ok()?;
        let pre = Preverified {
            hash,
            txids: None,
            signatures: false,
        };
        Some(self.accept_held(block, pre))
    }

    /// Accepts blocks [`ChainState::preverify`] has seen (on another thread, ahead of
    /// this one), in order: each run of them that extends the tip in one write. Returns
    /// each block's outcome, in order.
    pub(crate) fn accept_preverified(&self, blocks: &[Ready]) -> Vec<Outcome> {
        let _writer = self.lock_writer();
        self.accept_run(blocks)
    }

    pub(super) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts `blocks` in order with the writer lock held: each run of them that extends
    /// the tip is connected in one write, any other block by the one-block path.
    pub(super) fn accept_run(&self, blocks: &[Ready]) -> Vec<Outcome> {
        let started = std::time::Instant::now();
        let mut outcomes = Vec::with_capacity(blocks.len());
        while outcomes.len() < blocks.len() {
            let rest = &blocks[outcomes.len()..];
            match self.connect_ready(rest) {
                Some(connected) if !connected.is_empty() => outcomes.extend(connected),
                Some(_) => outcomes.push(self.accept_held(&rest[0].block, rest[0].pre.clone())),
                None => {
                    // A block of the run was refused: the one-block path finds and
                    // reports it, and takes the rest too, so a bad block costs one
                    // failed run, not one per block before it.
                    for ready in rest {
                        outcomes.push(self.accept_held(&ready.block, ready.pre.clone()));
                    }
                }
            }
        }
        tracing::debug!(
            blocks = blocks.len(),
            micros = started.elapsed().as_micros() as u64,
            "wrote a run"
        );
        outcomes
    }

    /// Connects the longest prefix of `blocks` that extends the tip, up to a full run, in
    /// one write, with the writer lock held. Only blocks whose header is known and that
    /// pass the checks of the one-block path join it. Returns their outcomes (none when
    /// the first block does not fit), or `None` when the write failed.
    fn connect_ready(&self, blocks: &[Ready]) -> Option<Vec<Outcome>> {
        let mut run: Vec<ToConnect> = Vec::new();
        let mut bytes = 0;
        let start_tip = self.tree().tip();
        let mut parent = start_tip;
        for ready in blocks {
            if run_is_full(run.len(), bytes) {
                break;
            }
            let (block, hash) = (&ready.block, ready.pre.hash);
            let Some(mut entry) = self.tree().get(&hash).cloned() else {
                break;
            };
            // A child of the tip cannot fork below the prune height, so that check of
            // the one-block path is not needed here.
            if block.header.prev_block != parent || entry.has_data() || entry.is_failed() {
                break;
            }
            let Ok(txids) = self.check_to_connect(block, &ready.pre, entry.height) else {
                break;
            };
            entry.status |= HAVE_DATA;
            entry.tx_count = block.txs.len() as u32;
            bytes += ready.size;
            parent = hash;
            run.push(ToConnect {
                block: block.clone(),
                hash,
                txids,
                new_entry: Some(entry),
                signatures: ready.pre.signatures,
            });
        }
        if run.is_empty() {
            return Some(Vec::new());
        }
        self.connect_run(&run).ok()?;
        let first = run[0].hash;
        {
            // Descendants stored before these blocks may now be connectable.
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let descendants = tree.descendants_with_data(&first);
            tree.candidates.extend(descendants);
        }
        // Announces the tip the run (or a branch stored beyond it) ends at.
        let activated = self.activate_best_chain(start_tip);
        let tree = self.tree();
        let mut outcomes: Vec<Outcome> = run
            .iter()
            .map(|b| {
                if tree.is_main(&b.hash) {
                    Ok(BlockOutcome::BecameTip)
                } else {
                    Ok(BlockOutcome::SideBranch)
                }
            })
            .collect();
        if let Err(e) = activated {
            // What the one-block path does: the block that set off the failing step
            // reports it.
            outcomes[run.len() - 1] = Err(e);
        }
        Some(outcomes)
    }

    /// Stores `blocks` whose parent has no data yet (blocks fetched from several peers
    /// arrive ahead of their parents) in one write, with the writer lock held; any other
    /// block goes by the one-block path. Stored together they cost one commit, and they
    /// connect from storage, a run at a time, once their parent connects. Returns each
    /// block's outcome, in order.
    pub(super) fn store_early(&self, blocks: &[Ready]) -> Vec<Outcome> {
        let mut early: Vec<(usize, BlockIndexEntry)> = blocks
            .iter()
            .enumerate()
            .filter_map(|(i, ready)| self.early_entry(ready).map(|entry| (i, entry)))
            .collect();
        let written = !early.is_empty()
            && self
                .store
                .write::<(), BlockError>(|txn, dbs| {
                    for (i, entry) in &early {
                        let hash = blocks[*i].pre.hash;
                        dbs.blocks
                            .put(txn, hash.as_bytes(), &encode(&*blocks[*i].block))?;
                        dbs.index.put(txn, hash.as_bytes(), &encode(entry))?;
                    }
                    Ok(())
                })
                .is_ok();
        if written {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let tip_work = tree.tip_entry().chain_work;
            for (i, entry) in &early {
                let hash = blocks[*i].pre.hash;
                // As the one-block path does; it connects once its ancestors have data.
                if entry.chain_work > tip_work {
                    tree.candidates.insert(hash);
                }
                *tree.get_mut(&hash).expect("indexed") = entry.clone();
            }
        } else {
            // The one-block path tries again, one at a time, and reports the failure.
            early.clear();
        }
        blocks
            .iter()
            .enumerate()
            .map(|(i, ready)| {
                if early.iter().any(|(j, _)| *j == i) {
                    Ok(BlockOutcome::SideBranch)
                } else {
                    self.accept_held(&ready.block, ready.pre.clone())
                }
            })
            .collect()
    }

    /// The index entry to store `ready` with if it comes early: its header is known, it is
    /// not stored, its parent is known without data (so it cannot connect now and has no
    /// stored descendant to connect with it), and it passes the checks of the one-block
    /// path.
    fn early_entry(&self, ready: &Ready) -> Option<BlockIndexEntry> {
        let (block, hash) = (&ready.block, ready.pre.hash);
        let mut entry = {
            let tree = self.tree();
            let parent = tree.get(&block.header.prev_block)?;
            let entry = tree.get(&hash)?;
            let early = !parent.has_data() && !parent.is_failed();
            if !early || entry.has_data() || entry.is_failed() {
                return None;
            }
            entry.clone()
        };
        self.check_fork_above_prune(&hash).ok()?;
        self.check_to_connect(block, &ready.pre, entry.height)
            .ok()?;
        entry.status |= HAVE_DATA;
        entry.tx_count = block.txs.len() as u32;
        Some(entry)
    }

    /// The one-block path, with the writer lock held by the caller.
    pub(super) fn accept_held(
        &self,
        block: &Block,
        pre: Preverified,
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
        let result = self.accept_indexed_block(block, pre);
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
        pre: Preverified,
    ) -> Result<BlockOutcome, ChainError> {
        let hash = pre.hash;
        let height = self
            .tree()
            .get(&hash)
            .map(|e| e.height)
            .expect("header just accepted");
        self.check_fork_above_prune(&hash)?;
        let txids = match self.check_to_connect(block, &pre, height) {
            Ok(txids) => txids,
            Err(e) => {
                if e.marks_block_invalid() {
                    self.mark_failed(hash)?;
                }
                return Err(e.into());
            }
        };
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
            let run = [ToConnect {
                block: Arc::new(block.clone()),
                hash,
                txids,
                new_entry: Some(entry),
                signatures: pre.signatures,
            }];
            match self.connect_run(&run) {
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

    /// The rules a block at `height` must pass before it is stored: `check_block` (unless
    /// the pipeline ran it, `pre`) and the BIP34 height. Returns its transaction ids.
    fn check_to_connect(
        &self,
        block: &Block,
        pre: &Preverified,
        height: u32,
    ) -> Result<Arc<[Hash256]>, BlockError> {
        let txids = match &pre.txids {
            Some(txids) => txids.clone(),
            None => check_block(block, self.spec.max_block_size)?.into(),
        };
        check_coinbase_height(block, height)?;
        Ok(txids)
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
