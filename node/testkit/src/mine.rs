//! A valid block on any chain view: what a test mines without the miner module.

use node_api::chain::script::bip34_height_prefix;
use node_api::chain::{
    check_proof_of_work, merkle_root, Block, BlockHeader, BlockOutcome, ChainError, Hash256,
    Transaction,
};
use node_api::{ChainView, ChainWriter};

/// Nonces tried before giving up: regtest needs two on average.
const MAX_NONCE_TRIES: u32 = 10_000_000;

/// Why a block could not be mined.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    /// The chain refused it.
    #[error("the chain refused the block: {0}")]
    Refused(#[from] ChainError),
    /// It was stored but did not become the tip.
    #[error("the block was stored but is not the tip: {0:?}")]
    NotTip(BlockOutcome),
    /// No nonce met the target (a chain spec above regtest's difficulty).
    #[error("no nonce meets the target; the kit mines at minimum difficulty only")]
    TooHard,
}

/// Builds a block on `chain`'s tip with `txs` (the caller checks they are valid), its
/// coinbase paying the subsidy (fees are not added) to `script`, solves it and hands it
/// to `writer`. Returns the block once it is the tip.
pub fn mine_block(
    chain: &dyn ChainView,
    writer: &dyn ChainWriter,
    txs: Vec<Transaction>,
    script: &[u8],
) -> Result<Block, MineError> {
    let next = chain.next_block();
    let spec = chain.spec();
    let mut script_sig = bip34_height_prefix(next.height);
    // Distinct coinbases for distinct callers on one parent.
    script_sig.extend_from_slice(b"testkit");
    let coinbase = Transaction::coinbase(script_sig, script.to_vec(), spec.subsidy(next.height));
    let mut all = vec![coinbase];
    all.extend(txs);
    let txids: Vec<Hash256> = all.iter().map(Transaction::txid).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let mut header = BlockHeader {
        version: 1,
        prev_block: next.prev,
        merkle_root: merkle_root(&txids).0,
        time: now.max(next.min_time + 1),
        bits: next.bits,
        nonce: 0,
    };
    let limit = spec.pow_limit();
    while check_proof_of_work(&header.hash(), header.bits, &limit).is_err() {
        if header.nonce == MAX_NONCE_TRIES {
            return Err(MineError::TooHard);
        }
        header.nonce += 1;
    }
    let block = Block { header, txs: all };
    match writer.accept_block(&block)? {
        BlockOutcome::BecameTip => Ok(block),
        other => Err(MineError::NotTip(other)),
    }
}
