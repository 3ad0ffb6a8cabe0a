//! `invalidateblock` and `reconsiderblock`: an operator marks a block invalid by hand (or
//! clears the mark), and the tip moves to the best chain that remains.
//!
//! The mark is the same failed flag a block that breaks a rule gets, written to the block
//! index, so it survives a restart. Disconnecting goes through the usual one-block writes,
//! so the mempool and the other listeners see each block leave in order.

use super::records::encode;
use super::{BlockIndexEntry, ChainError, ChainState};
use node_chain::hash::Hash256;
use node_chain::validation::BlockError;

/// What marking (or unmarking) a block did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// Done; the tip is on the best chain that remains.
    Done,
    /// No such block header is known.
    UnknownBlock,
    /// The genesis block cannot be marked invalid.
    Genesis,
}

impl ChainState {
    /// Marks `hash` and every descendant invalid, disconnects them from the main chain
    /// when they are on it, and moves the tip to the most-work chain left (Bitcoin Core's
    /// `InvalidateBlock`).
    pub fn invalidate_block(&self, hash: &Hash256) -> Result<Marked, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = self.entry(hash) else {
            return Ok(Marked::UnknownBlock);
        };
        if entry.height == 0 {
            return Ok(Marked::Genesis);
        }
        let start_tip = self.tree().tip();
        while self.tree().is_main(hash) {
            self.disconnect_tip()?;
        }
        self.mark_failed(*hash)?;
        self.tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .refill_candidates();
        self.activate_best_chain(start_tip)?;
        tracing::info!(block = %hash, height = entry.height, "block marked invalid by request");
        Ok(Marked::Done)
    }

    /// Clears the invalid mark of `hash`, its descendants and ancestors, and moves the tip
    /// to the most-work chain (Bitcoin Core's `ReconsiderBlock`). A block that breaks a
    /// rule fails again when it is connected, and is marked again.
    pub fn reconsider_block(&self, hash: &Hash256) -> Result<Marked, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if self.entry(hash).is_none() {
            return Ok(Marked::UnknownBlock);
        }
        let start_tip = self.tree().tip();
        let cleared: Vec<(Hash256, BlockIndexEntry)> = {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let cleared = tree.clear_failed(*hash);
            tree.refill_candidates();
            cleared
                .into_iter()
                .filter_map(|h| tree.get(&h).map(|e| (h, e.clone())))
                .collect()
        };
        self.store.write::<(), BlockError>(|txn, dbs| {
            for (h, e) in &cleared {
                dbs.index.put(txn, h.as_bytes(), &encode(e))?;
            }
            Ok(())
        })?;
        self.activate_best_chain(start_tip)?;
        tracing::info!(block = %hash, cleared = cleared.len(), "block reconsidered");
        Ok(Marked::Done)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{Builder, Wallet};
    use crate::{ChainOptions, ChainSpec};

    fn open(dir: &std::path::Path) -> Arc<ChainState> {
        let spec = ChainSpec::by_name("regtest").unwrap();
        ChainState::open(dir, spec, ChainOptions::default(), |_| {}).unwrap()
    }

    #[test]
    fn an_invalidated_block_leaves_the_chain_for_good_until_reconsidered() {
        let dir = tempfile::tempdir().unwrap();
        let alice = Wallet::new(1);
        let (fork_tip, a1, a2, b1) = {
            let state = open(dir.path());
            let mut main = Builder::new(&state);
            for _ in 0..3 {
                state
                    .accept_block(&main.next_block(&alice, vec![]))
                    .unwrap();
            }
            let mut other = main.clone();
            other.set_extra(b"side");
            let a1 = main.next_block(&alice, vec![]);
            let a2 = main.next_block(&alice, vec![]);
            let b1 = other.next_block(&alice, vec![]);
            for block in [&a1, &a2, &b1] {
                state.accept_block(block).unwrap();
            }
            assert_eq!(state.tip().hash, a2.hash());

            assert_eq!(state.invalidate_block(&a1.hash()).unwrap(), Marked::Done);
            // The side branch, lighter a moment ago, is now the best valid chain.
            assert_eq!(state.tip().hash, b1.hash());
            assert!(state.entry(&a1.hash()).unwrap().is_failed());
            assert!(state.entry(&a2.hash()).unwrap().is_failed());
            assert_eq!(state.best_header().0, b1.hash());
            // A block of the invalid branch is refused when it comes again.
            assert!(state.accept_block(&a2).is_err());
            (state.tip().hash, a1, a2, b1)
        };
        let state = open(dir.path());
        assert_eq!(state.tip().hash, fork_tip, "the mark survives a restart");
        assert_eq!(state.reconsider_block(&a1.hash()).unwrap(), Marked::Done);
        assert_eq!(state.tip().hash, a2.hash());
        assert!(!state.entry(&a2.hash()).unwrap().is_failed());
        assert!(state.is_main(&a1.hash()) && !state.is_main(&b1.hash()));

        let unknown = Hash256([9; 32]);
        assert_eq!(
            state.invalidate_block(&unknown).unwrap(),
            Marked::UnknownBlock
        );
        assert_eq!(
            state.reconsider_block(&unknown).unwrap(),
            Marked::UnknownBlock
        );
        let genesis = state.hash_at(0).unwrap();
        assert_eq!(state.invalidate_block(&genesis).unwrap(), Marked::Genesis);
    }
}
