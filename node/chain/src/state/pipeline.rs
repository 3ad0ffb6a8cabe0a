//! The block pipeline: a block's signatures are verified before it takes the writer lock,
//! so while one block's state is written (a commit waits for the disk) the next blocks'
//! scripts are being verified on the other cores.
//!
//! Verifying ahead needs no chain state. A P2PKH input can only be valid against the
//! script `p2pkh_script(hash160(pubkey))`, so its signature hash is known from the block
//! alone, whatever order blocks arrive in. Valid signatures go into the signature cache
//! ([`SigCache`](crate::validation::SigCache)); when the block connects, each input is
//! checked against the coin it really spends and finds its signature there. A block
//! whose parent is still being accepted by another thread waits for it after verifying,
//! so blocks fetched from several peers at once are verified side by side and connect in
//! order.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};

use rayon::prelude::*;

use super::ChainState;
use crate::block::Block;
use crate::hash::Hash256;
use crate::validation::check_block;
use crate::verify::preverify_p2pkh_input;

/// What was done to a block before it took the writer lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Preverified {
    /// The block's hash.
    pub(crate) hash: Hash256,
    /// It passed `check_block` (so the locked path need not run it again).
    pub(crate) checked: bool,
}

/// Blocks being accepted right now, by hash (a count: two peers may deliver one block).
#[derive(Default)]
pub(super) struct Arrivals {
    blocks: Mutex<HashMap<Hash256, usize>>,
    left: Condvar,
}

/// Leaves [`Arrivals`] when dropped, however the acceptance ended.
pub(super) struct Arrival<'a> {
    arrivals: &'a Arrivals,
    hash: Hash256,
}

impl Arrivals {
    pub(super) fn enter(&self, hash: Hash256) -> Arrival<'_> {
        *self
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(hash)
            .or_default() += 1;
        Arrival {
            arrivals: self,
            hash,
        }
    }

    /// Whether `hash` is being accepted by some thread.
    pub(super) fn is_arriving(&self, hash: &Hash256) -> bool {
        self.blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(hash)
    }

    /// Waits while `parent` is being accepted. A parent entered before its child, and
    /// waits only for its own ancestors, so the waits cannot form a cycle.
    pub(super) fn wait_for(&self, parent: &Hash256) {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        while blocks.contains_key(parent) {
            blocks = self.left.wait(blocks).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        let mut blocks = self
            .arrivals
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = blocks.get_mut(&self.hash) {
            *count -= 1;
            if *count == 0 {
                blocks.remove(&self.hash);
            }
        }
        drop(blocks);
        self.arrivals.left.notify_all();
    }
}

impl ChainState {
    /// Whether `hash` is covered by the assumed-valid block, so its signatures are not
    /// checked.
    pub(super) fn is_assumed_valid(&self, hash: &Hash256) -> bool {
        self.options
            .assume_valid
            .is_some_and(|anchor| self.tree().is_assumed_valid(hash, &anchor))
    }

    /// The work on `block` that needs no lock: the context-free rules, then every
    /// signature on all cores into the signature cache. Skipped for a block already
    /// stored or known invalid, one that breaks a context-free rule (the locked path
    /// reports it) and an assumed-valid one.
    pub(crate) fn preverify(&self, block: &Block) -> Preverified {
        let hash = block.hash();
        let skip = Preverified {
            hash,
            checked: false,
        };
        if self
            .tree()
            .get(&hash)
            .is_some_and(|e| e.has_data() || e.is_failed())
        {
            return skip;
        }
        if check_block(block, self.spec.max_block_size).is_err() {
            return skip;
        }
        if !self.is_assumed_valid(&hash) {
            block.txs[1..]
                .par_iter()
                .flat_map_iter(|tx| (0..tx.inputs.len()).map(move |index| (tx, index)))
                .for_each(|(tx, index)| {
                    // A failure is reported, with its reason, when the block connects.
                    preverify_p2pkh_input(tx, index);
                });
        }
        Preverified {
            hash,
            checked: true,
        }
    }
}
