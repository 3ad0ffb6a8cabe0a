//! Pruning: a node that keeps only the last `keep_blocks` main-chain bodies.
//!
//! The UTXO set and the whole block index stay; the bodies and undo data of main-chain
//! blocks at heights `1..=prune_height` are deleted (genesis is kept: the spec rebuilds it
//! anyway and it costs a few hundred bytes), and so is every side branch forking below
//! `prune_height`, since connecting it would need the deleted undo data. The prune height
//! is a meta record, advanced inside the write transaction that connects a block, so a
//! crash never leaves bodies deleted without the record saying so (or the reverse).
//!
//! Invariant: every main-chain block above `prune_height` has its body and undo data, so a
//! reorganisation whose fork point is at or above `prune_height` can always be carried out.

use heed::RwTxn;

use super::records::{encode, BlockIndexEntry, HAVE_DATA, PRUNED};
use super::store::{Dbs, WriteError};
use super::tree::BlockTree;
use node_chain::hash::Hash256;

/// Meta key of the prune height (u32 little-endian; absent = nothing pruned).
pub(crate) const PRUNE_HEIGHT_KEY: &[u8] = b"prune_height";

/// Most main-chain heights pruned by one connect. A node that turns pruning on with a long
/// chain behind it catches up over many connects instead of one huge transaction.
pub(crate) const PRUNE_BATCH: u32 = 64;

/// The prune height stored in `bytes` (0 when absent or malformed: nothing pruned).
pub(crate) fn decode_prune_height(bytes: Option<&[u8]>) -> u32 {
    bytes
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

/// What one prune step did, for the in-memory tree to follow after the commit.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    /// The new prune height.
    pub(crate) height: u32,
    /// The index entries that lost their data, as written.
    pub(crate) entries: Vec<(Hash256, BlockIndexEntry)>,
}

/// Inside the transaction that connects a run of blocks ending at `tip_height`: deletes
/// the data of main-chain heights above `prune_height` up to `tip_height - keep` (at most
/// [`PRUNE_BATCH`] of them, as many as a full run needs) and of the side branches forking
/// below them. Returns `None` when there is nothing to prune.
pub(crate) fn prune_step<E>(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    tree: &BlockTree,
    prune_height: u32,
    tip_height: u32,
    keep: u32,
) -> Result<Option<Pruned>, WriteError<E>> {
    // The tree's main chain ends just below the run being connected (which joins it after
    // the commit); the bound by its height keeps every height pruned here on it.
    let target = tip_height.saturating_sub(keep).min(tree.height());
    let last = target.min(prune_height.saturating_add(PRUNE_BATCH));
    if keep == 0 || last <= prune_height {
        return Ok(None);
    }
    let mut pruned = Pruned {
        height: last,
        entries: Vec::new(),
    };
    for height in prune_height + 1..=last {
        let hash = tree.main_hash(height).expect("height below the tip");
        let parent = tree.main_hash(height - 1).expect("height below the tip");
        let mut doomed = vec![hash];
        // A side branch forking at `parent` needs `hash`'s undo data to be connected:
        // once that is gone, the whole branch is dead weight.
        for child in tree.children(&parent) {
            if *child != hash {
                doomed.push(*child);
                doomed.extend(tree.descendants(child));
            }
        }
        for doomed_hash in doomed {
            let Some(entry) = tree.get(&doomed_hash) else {
                continue;
            };
            if !entry.has_data() {
                continue;
            }
            dbs.blocks.delete(txn, doomed_hash.as_bytes())?;
            dbs.undo.delete(txn, doomed_hash.as_bytes())?;
            let mut entry = entry.clone();
            entry.status = (entry.status & !HAVE_DATA) | PRUNED;
            dbs.index
                .put(txn, doomed_hash.as_bytes(), &encode(&entry))?;
            pruned.entries.push((doomed_hash, entry));
        }
    }
    dbs.meta
        .put(txn, PRUNE_HEIGHT_KEY, &pruned.height.to_le_bytes())?;
    Ok(Some(pruned))
}
