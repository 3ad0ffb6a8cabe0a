//! Moving the tip: fork choice by most work, connecting a run of blocks in one LMDB write
//! transaction (a crash leaves the tip at the run's start or its end, both valid), and
//! disconnecting one block per transaction.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::connect::Scripts;
use super::pipeline::run_is_full;
use super::records::encode;
use super::{connect, filter_index, prune, tx_index, BlockIndexEntry, ChainError, ChainState};
use node_chain::block::Block;
use node_chain::events::ChainEvent;
use node_chain::hash::Hash256;
use node_chain::validation::BlockError;

/// A block of a run to connect.
pub(super) struct ToConnect {
    pub(super) block: Arc<Block>,
    pub(super) hash: Hash256,
    /// Its transaction ids, in order.
    pub(super) txids: Arc<[Hash256]>,
    /// When set, the block is not stored yet: the write that connects it stores it with
    /// this index entry.
    pub(super) new_entry: Option<BlockIndexEntry>,
    /// The block pipeline verified every signature
    /// ([`Preverified::signatures`](super::pipeline::Preverified)).
    pub(super) signatures: bool,
}

impl ChainState {
    /// Moves the tip to the most-work connectable chain: disconnect to the fork point,
    /// connect the branch; a block that fails is marked invalid and the search repeats.
    /// Returns the last block that failed to connect, with its reason. Announces the tip
    /// if it differs from `start_tip`.
    pub(super) fn activate_best_chain(
        &self,
        start_tip: Hash256,
    ) -> Result<Option<(Hash256, BlockError)>, ChainError> {
        let mut failed = None;
        loop {
            let Some(target) = self.tree().best_candidate() else {
                break;
            };
            let (fork, fork_height, branch) = {
                let tree = self.tree();
                let fork = tree
                    .fork_point(&target)
                    .expect("candidates descend from genesis");
                let branch = tree.branch_from_main(&target).expect("checked connectable");
                (fork, tree.get(&fork).expect("indexed").height, branch)
            };
            let prune_height = self.prune_height();
            if fork_height < prune_height {
                // Blocks are checked against this before they are stored, so only a state
                // pruned by hand gets here; disconnecting would hit missing undo data.
                tracing::warn!(
                    block = %target, fork_height, prune_height,
                    "a more-work branch forks below the prune height; it cannot be connected"
                );
                let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
                for hash in branch {
                    tree.candidates.remove(&hash);
                }
                continue;
            }
            while self.tree().tip() != fork {
                self.disconnect_tip()?;
            }
            let mut left = &branch[..];
            'branch: while !left.is_empty() {
                let run = self.load_run(left)?;
                left = &left[run.len()..];
                match self.connect_run(&run) {
                    Ok(()) => continue,
                    // Found again one block at a time below, to mark the culprit.
                    Err(ChainError::Invalid(_)) => {}
                    Err(e) => return Err(e),
                }
                for block in &run {
                    match self.connect_run(std::slice::from_ref(block)) {
                        Ok(()) => {}
                        Err(ChainError::Invalid(reason)) => {
                            tracing::warn!(block = %block.hash, %reason, "block failed to connect; marked invalid");
                            self.mark_failed(block.hash)?;
                            failed = Some((block.hash, reason));
                            break 'branch;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
        tree.prune_candidates();
        let tip = tree.tip();
        if tip != start_tip {
            let height = tree.height();
            drop(tree);
            (self.sink)(ChainEvent::TipChanged { hash: tip, height });
        }
        Ok(failed)
    }

    /// The stored blocks of the start of `branch`, up to a full run.
    fn load_run(&self, branch: &[Hash256]) -> Result<Vec<ToConnect>, ChainError> {
        let mut run = Vec::new();
        let mut bytes = 0;
        for hash in branch {
            if run_is_full(run.len(), bytes) {
                break;
            }
            let block = self
                .block(hash)?
                .ok_or_else(|| ChainError::Corrupt(format!("block {hash} has no data")))?;
            bytes += block.size();
            run.push(ToConnect {
                txids: block.txids().into(),
                block: Arc::new(block),
                hash: *hash,
                new_entry: None,
                signatures: false,
            });
        }
        Ok(run)
    }

    /// Connects `run` on the tip in one write: the first block a child of the tip, each
    /// the parent of the next. All or nothing: a refused block aborts the whole write
    /// (the caller may then try the blocks one at a time to find it). Old block data is
    /// pruned in the same write. After the commit the tree follows, and each block is
    /// announced in order; the caller announces the tip once the run (or the branch) is
    /// connected, as Bitcoin Core announces one tip per step of its `ActivateBestChain`
    /// (the listeners' work per tip, and the relay's announcement, are paid once a run).
    pub(super) fn connect_run(&self, run: &[ToConnect]) -> Result<(), ChainError> {
        let (heights, scripts): (Vec<u32>, Vec<Scripts>) = {
            let tree = self.tree();
            run.iter()
                .map(|b| {
                    let height = tree.get(&b.hash).expect("indexed").height;
                    let scripts = if self.is_assumed_valid(&b.hash) {
                        Scripts::Skip
                    } else if b.signatures {
                        Scripts::Preverified
                    } else {
                        Scripts::Verify
                    };
                    (height, scripts)
                })
                .unzip()
        };
        let Some(&last_height) = heights.last() else {
            return Ok(());
        };
        let prune_height = self.prune_height();
        let filters = self.filter_index_follows();
        let pruned = self.store.write(|txn, dbs| {
            for (i, b) in run.iter().enumerate() {
                if let Some(entry) = &b.new_entry {
                    dbs.blocks.put(txn, b.hash.as_bytes(), &encode(&*b.block))?;
                    dbs.index.put(txn, b.hash.as_bytes(), &encode(entry))?;
                }
                connect::connect_block(
                    txn,
                    dbs,
                    &self.spec,
                    self.options.address_index,
                    &b.block,
                    &b.txids,
                    &b.hash,
                    heights[i],
                    scripts[i],
                )?;
                if self.options.tx_index {
                    tx_index::add_block(txn, dbs, &b.block, &b.hash)?;
                }
                if filters {
                    filter_index::add_block(txn, dbs, &b.block, &b.hash, heights[i])?;
                }
            }
            let pruned = prune::prune_step(
                txn,
                dbs,
                &self.tree(),
                prune_height,
                last_height,
                self.options.keep_blocks,
            )?;
            if let Some(pruned) = pruned.as_ref().filter(|_| self.options.block_filter_index) {
                for (hash, _) in &pruned.entries {
                    filter_index::prune_block(txn, dbs, hash)?;
                }
            }
            Ok(pruned)
        })?;
        if let Some(pruned) = pruned {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            for (pruned_hash, entry) in pruned.entries {
                tree.candidates.remove(&pruned_hash);
                if let Some(slot) = tree.get_mut(&pruned_hash) {
                    *slot = entry;
                }
            }
            self.prune_height.store(pruned.height, Ordering::Release);
            tracing::debug!(prune_height = pruned.height, "pruned old block data");
        }
        let best = self.best_header().1;
        for (b, &height) in run.iter().zip(&heights) {
            {
                let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = &b.new_entry {
                    *tree.get_mut(&b.hash).expect("indexed") = entry.clone();
                }
                tree.push_main(b.hash);
                tree.candidates.remove(&b.hash);
            }
            self.progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .connected(height, b.block.txs.len(), best);
            (self.sink)(ChainEvent::BlockConnected {
                hash: b.hash,
                height,
                block: b.block.clone(),
                txids: b.txids.clone(),
            });
        }
        Ok(())
    }

    pub(super) fn disconnect_tip(&self) -> Result<(), ChainError> {
        let (hash, height) = {
            let tree = self.tree();
            (tree.tip(), tree.height())
        };
        let block = self
            .block(&hash)?
            .ok_or_else(|| ChainError::Corrupt(format!("tip {hash} has no data to disconnect")))?;
        let filter_build = self.filter_build_after_disconnect(height);
        self.store.write(|txn, dbs| {
            connect::disconnect_block(txn, dbs, self.options.address_index, &block, &hash, height)?;
            if self.options.tx_index {
                tx_index::remove_block(txn, dbs, &block, &hash)?;
            }
            if self.options.block_filter_index {
                filter_index::remove_block(txn, dbs, &hash)?;
            }
            if let Some(next) = filter_build {
                Self::write_filter_build_progress(txn, dbs, next)?;
            }
            Ok(())
        })?;
        if let Some(next) = filter_build {
            self.set_filter_build(next);
        }
        {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            tree.pop_main();
            tree.candidates.insert(hash);
        }
        (self.sink)(ChainEvent::BlockDisconnected {
            hash,
            height,
            block: Arc::new(block),
        });
        Ok(())
    }
}
