//! Checking a block without storing it: `getblocktemplate` in proposal mode (BIP23), as
//! Bitcoin Core's `TestBlockValidity`. A miner asks whether a block it assembled would be
//! valid on the tip before spending work on it, so proof of work is not checked.

use super::connect;
use super::store::WriteError;
use super::{now, ChainState, ProposalError, MAX_FUTURE_SECS};
use node_chain::block::Block;
use node_chain::validation::{check_block, check_coinbase_height, BlockError};

impl ChainState {
    /// Runs every rule a block on the tip must pass, proof of work aside, connecting it
    /// inside a write transaction that is then aborted: nothing is stored, not even its
    /// header. Holds the writer lock meanwhile, so the tip cannot move under the check.
    pub fn check_proposal(&self, block: &Block) -> Result<(), ProposalError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (height, bits_ok, mtp) = {
            let tree = self.tree();
            let tip = tree.tip();
            if block.header.prev_block != tip {
                return Err(ProposalError::NotOnTip);
            }
            let height = tree.tip_entry().height + 1;
            let bits_ok = block.header.bits == self.next_bits(&tree, &tip);
            (height, bits_ok, tree.median_time_past(&tip))
        };
        let rule = ProposalError::Invalid;
        if !bits_ok {
            return Err(rule(BlockError::BadDiffBits));
        }
        if block.header.time <= mtp {
            return Err(rule(BlockError::TimeTooOld));
        }
        if u64::from(block.header.time) > now() + MAX_FUTURE_SECS {
            return Err(rule(BlockError::TimeTooNew));
        }
        let txids = check_block(block, self.spec.max_block_size).map_err(rule)?;
        check_coinbase_height(block, height).map_err(rule)?;
        let hash = block.hash();
        // `Refused(None)` aborts a connect that passed; `Refused(Some(e))` one that failed.
        let outcome = self.store.write::<(), Option<BlockError>>(|txn, dbs| {
            match connect::connect_block(
                txn,
                dbs,
                &self.spec,
                self.options.address_index,
                block,
                &txids,
                &hash,
                height,
                connect::Scripts::Verify,
            ) {
                Ok(_) => Err(WriteError::Refused(None)),
                Err(WriteError::Refused(e)) => Err(WriteError::Refused(Some(e))),
                Err(WriteError::Store(e)) => Err(WriteError::Store(e)),
            }
        });
        match outcome {
            Err(WriteError::Refused(None)) | Ok(()) => Ok(()),
            Err(WriteError::Refused(Some(e))) => Err(rule(e)),
            Err(WriteError::Store(e)) => Err(ProposalError::Chain(super::store::storage_error(e))),
        }
    }
}
