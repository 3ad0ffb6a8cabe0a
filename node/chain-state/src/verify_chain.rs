//! `verifychain`: re-checks the last blocks of the main chain against what is stored, at
//! Bitcoin Core's levels, each including the ones below it:
//!
//! 0. each block's data can be read and hashes to its index entry;
//! 1. each block passes the context-free rules and carries its height (BIP34);
//! 2. each block's undo data can be read and holds one coin per input spent;
//! 3. disconnecting the blocks from the tip down restores a consistent UTXO set: every
//!    output of a block is unspent as it created it when the block is disconnected;
//! 4. connecting them again passes every rule, signatures included.
//!
//! Levels 3 and 4 replay the changes in a write transaction that is aborted, so the
//! stored state is never changed; blocks are not accepted meanwhile (the writer lock is
//! held), as Core holds `cs_main`.

use heed::RwTxn;

use super::connect::{connect_block, disconnect_block, Scripts};
use super::records::{decode, outpoint_key, BlockUndo};
use super::store::{Dbs, WriteError};
use super::{ChainError, ChainState};
use node_chain::block::Block;
use node_chain::coin::{created_coins, Coin};
use node_chain::hash::Hash256;
use node_chain::transaction::OutPoint;
use node_chain::validation::{check_block, check_coinbase_height, BlockError};

/// Bitcoin Core's highest check level.
const MAX_CHECK_LEVEL: u32 = 4;

/// Why a check failed: what `verifychain` logs.
type Failure = String;

impl ChainState {
    /// Checks the last `nblocks` main-chain blocks (0: all of them) at `level` (0 to 4;
    /// higher is clamped to 4). Returns whether every check passed; a failure is logged
    /// with the block and the reason. Blocks whose data was pruned end the walk, as in
    /// Core.
    pub fn verify_chain(&self, level: u32, nblocks: u32) -> Result<bool, ChainError> {
        let level = level.min(MAX_CHECK_LEVEL);
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (tip_height, hashes) = {
            let tree = self.tree();
            let tip = tree.height();
            let depth = if nblocks == 0 || nblocks > tip {
                tip
            } else {
                nblocks
            };
            // Tip first: the order level 3 disconnects them in.
            let hashes: Vec<(u32, Hash256)> = (tip + 1 - depth..=tip)
                .rev()
                .map(|h| (h, tree.main_hash(h).expect("height within the main chain")))
                .collect();
            (tip, hashes)
        };
        tracing::info!(
            blocks = hashes.len(),
            level,
            tip_height,
            "verifying the last blocks"
        );
        let outcome = self
            .store
            .scratch::<Result<usize, Failure>, BlockError>(|txn, dbs| {
                Ok(self.verify_in(txn, dbs, level, &hashes))
            });
        match outcome {
            Ok(Ok(transactions)) => {
                tracing::info!(
                    blocks = hashes.len(),
                    transactions,
                    level,
                    "verification: no inconsistencies found"
                );
                Ok(true)
            }
            Ok(Err(failure)) => {
                tracing::error!(level, "verification failed: {failure}");
                Ok(false)
            }
            Err(WriteError::Store(e)) => Err(super::store::storage_error(e)),
            Err(WriteError::Refused(e)) => Err(e.into()),
        }
    }

    /// The checks, inside the aborted transaction. Returns the transactions checked.
    fn verify_in(
        &self,
        txn: &mut RwTxn<'_>,
        dbs: &Dbs,
        level: u32,
        hashes: &[(u32, Hash256)],
    ) -> Result<usize, Failure> {
        let storage = |e: heed::Error| format!("storage: {e}");
        let mut blocks = Vec::with_capacity(if level >= 4 { hashes.len() } else { 0 });
        let mut transactions = 0;
        for &(height, hash) in hashes {
            let at = |what: String| format!("block {hash} at height {height}: {what}");
            let Some(bytes) = dbs.blocks.get(txn, hash.as_bytes()).map_err(storage)? else {
                // Pruned from here down: nothing more to check, as Core stops there.
                tracing::info!(height, "verification stops at a block without data");
                break;
            };
            let block: Block = decode(bytes).map_err(|e| at(format!("cannot be read: {e}")))?;
            if block.hash() != hash {
                return Err(at(format!("the stored data hashes to {}", block.hash())));
            }
            if level >= 1 {
                check_block(&block, self.spec.max_block_size)
                    .and_then(|_| check_coinbase_height(&block, height))
                    .map_err(|e| at(format!("breaks a rule: {e}")))?;
            }
            if level >= 2 {
                let undo: BlockUndo = dbs
                    .undo
                    .get(txn, hash.as_bytes())
                    .map_err(storage)?
                    .ok_or_else(|| at("no undo data".to_string()))
                    .and_then(|b| decode(b).map_err(|e| at(format!("undo data: {e}"))))?;
                let inputs: usize = block.txs[1..].iter().map(|tx| tx.inputs.len()).sum();
                if undo.spent.len() != inputs {
                    return Err(at(format!(
                        "undo data holds {} coins for {inputs} inputs",
                        undo.spent.len()
                    )));
                }
            }
            if level >= 3 {
                check_outputs_unspent(txn, dbs, &block, height).map_err(&at)?;
                disconnect_block(txn, dbs, false, &block, &hash, height)
                    .map_err(|e| at(format!("cannot be disconnected: {e}")))?;
            }
            transactions += block.txs.len();
            if level >= 4 {
                blocks.push((height, hash, block));
            }
        }
        // Back up from the lowest block disconnected, checking every rule again.
        for (height, hash, block) in blocks.into_iter().rev() {
            connect_block(
                txn,
                dbs,
                &self.spec,
                false,
                &block,
                &block.txids(),
                &hash,
                height,
                Scripts::Verify,
            )
            .map_err(|e| {
                format!("block {hash} at height {height}: cannot be connected again: {e}")
            })?;
        }
        Ok(transactions)
    }
}

/// Before `block` (the tip of the replay) is disconnected, each of its outputs must be in
/// the UTXO set exactly as it created it: every later block was disconnected already.
fn check_outputs_unspent(
    txn: &RwTxn<'_>,
    dbs: &Dbs,
    block: &Block,
    height: u32,
) -> Result<(), Failure> {
    for tx in &block.txs {
        for (outpoint, expected) in created_coins(tx, tx.txid(), height) {
            let OutPoint { txid, vout } = outpoint;
            let stored = dbs
                .utxo
                .get(txn, &outpoint_key(&outpoint))
                .map_err(|e| format!("storage: {e}"))?
                .map(decode::<Coin>)
                .transpose()
                .map_err(|e| format!("coin {txid}:{vout} cannot be read: {e}"))?;
            if stored.as_ref() != Some(&expected) {
                return Err(format!(
                    "coin {txid}:{vout} is {} in the UTXO set",
                    if stored.is_some() {
                        "different"
                    } else {
                        "missing"
                    }
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{Builder, Wallet};
    use crate::{ChainOptions, ChainSpec};
    use node_chain::encode::serialize;

    fn chain_with_a_payment(dir: &std::path::Path) -> (Arc<ChainState>, Block) {
        let spec = ChainSpec::by_name("regtest").unwrap();
        let state = ChainState::open(dir, spec, ChainOptions::default(), |_| {}).unwrap();
        let alice = Wallet::new(1);
        let mut b = Builder::new(&state);
        let first = b.mature_coinbase(&state, &alice);
        let pay = alice.pay(&first.txs[0], 0, &Wallet::new(2), 100_000_000, 500);
        let paid = b.next_block(&alice, vec![pay]);
        state.accept_block(&paid).unwrap();
        state.accept_block(&b.next_block(&alice, vec![])).unwrap();
        (state, paid)
    }

    #[test]
    fn a_good_chain_passes_every_level_and_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (state, _) = chain_with_a_payment(dir.path());
        let before = state.utxo_snapshot().unwrap();
        for level in 0..=5 {
            assert!(state.verify_chain(level, 6).unwrap(), "level {level}");
        }
        assert!(state.verify_chain(4, 0).unwrap(), "the whole chain");
        assert_eq!(state.utxo_snapshot().unwrap(), before);
        assert_eq!(state.tip().height, 103);
    }

    #[test]
    fn broken_undo_data_or_a_missing_coin_fails_at_its_level() {
        let dir = tempfile::tempdir().unwrap();
        let (state, paid) = chain_with_a_payment(dir.path());
        // The payment block's undo data loses its coin: levels 0 and 1 cannot see it.
        state
            .store
            .write::<(), BlockError>(|txn, dbs| {
                dbs.undo.put(
                    txn,
                    paid.hash().as_bytes(),
                    &serialize(&BlockUndo::default()),
                )?;
                Ok(())
            })
            .unwrap();
        assert!(state.verify_chain(1, 6).unwrap());
        assert!(!state.verify_chain(2, 6).unwrap());
        // Out of the window, it is not looked at.
        assert!(state.verify_chain(4, 1).unwrap());

        // A coin of the tip's coinbase vanishes from the UTXO set: level 3 finds it.
        let dir = tempfile::tempdir().unwrap();
        let (state, _) = chain_with_a_payment(dir.path());
        let tip = state.block(&state.tip().hash).unwrap().unwrap();
        let outpoint = OutPoint {
            txid: tip.txs[0].txid(),
            vout: 0,
        };
        state
            .store
            .write::<(), BlockError>(|txn, dbs| {
                dbs.utxo.delete(txn, &outpoint_key(&outpoint))?;
                Ok(())
            })
            .unwrap();
        assert!(state.verify_chain(2, 1).unwrap());
        assert!(!state.verify_chain(3, 1).unwrap());
    }
}
