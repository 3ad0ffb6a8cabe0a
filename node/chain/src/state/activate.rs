//! Moving the tip: fork choice by most work, and connecting or disconnecting one block
//! per LMDB write transaction.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::records::encode;
use super::{connect, prune, tx_index, BlockIndexEntry, ChainError, ChainState};
use crate::block::Block;
use crate::events::ChainEvent;
use crate::hash::Hash256;
use crate::validation::BlockError;

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
            for hash in branch {
                let block = self
                    .block(&hash)?
                    .ok_or_else(|| ChainError::Corrupt(format!("block {hash} has no data")))?;
                match self.connect(&block, hash, None) {
                    Ok(()) => {}
                    Err(ChainError::Invalid(reason)) => {
                        tracing::warn!(block = %hash, %reason, "block failed to connect; marked invalid");
                        self.mark_failed(hash)?;
                        failed = Some((hash, reason));
                        break;
                    }
                    Err(e) => return Err(e),
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

    /// Connects `block` on the tip in one write. With `new_entry`, the block is not
    /// stored yet: that same write stores it with this index entry.
    pub(super) fn connect(
        &self,
        block: &Block,
        hash: Hash256,
        new_entry: Option<&BlockIndexEntry>,
    ) -> Result<(), ChainError> {
        let height = self.tree().get(&hash).expect("indexed").height;
        let check_scripts = !self.is_assumed_valid(&hash);
        let prune_height = self.prune_height();
        let pruned = self.store.write(|txn, dbs| {
            if let Some(entry) = new_entry {
                dbs.blocks.put(txn, hash.as_bytes(), &encode(block))?;
                dbs.index.put(txn, hash.as_bytes(), &encode(entry))?;
            }
            connect::connect_block(
                txn,
                dbs,
                self.spec,
                self.options.address_index,
                block,
                &hash,
                height,
                check_scripts,
            )?;
            if self.options.tx_index {
                tx_index::add_block(txn, dbs, block, &hash)?;
            }
            prune::prune_step(
                txn,
                dbs,
                &self.tree(),
                prune_height,
                height,
                self.options.keep_blocks,
            )
        })?;
        {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = new_entry {
                *tree.get_mut(&hash).expect("indexed") = entry.clone();
            }
            tree.push_main(hash);
            tree.candidates.remove(&hash);
            if let Some(pruned) = pruned {
                for (pruned_hash, entry) in pruned.entries {
                    tree.candidates.remove(&pruned_hash);
                    if let Some(slot) = tree.get_mut(&pruned_hash) {
                        *slot = entry;
                    }
                }
                self.prune_height.store(pruned.height, Ordering::Release);
                tracing::debug!(prune_height = pruned.height, "pruned old block data");
            }
        }
        let best = self.best_header().1;
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .connected(height, block.txs.len(), best);
        (self.sink)(ChainEvent::BlockConnected {
            hash,
            height,
            block: Arc::new(block.clone()),
        });
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
        self.store.write(|txn, dbs| {
            connect::disconnect_block(txn, dbs, self.options.address_index, &block, &hash, height)?;
            if self.options.tx_index {
                tx_index::remove_block(txn, dbs, &block, &hash)?;
            }
            Ok(())
        })?;
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
