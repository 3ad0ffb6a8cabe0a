//! The chain services over a temporary chain state, without a kernel.

use std::sync::Arc;

use node_api::chain::{Block, BlockOutcome, ChainError, ChainSpec};
use node_api::{ChainStream, ChainView, ChainWriter};
use node_chain_module::{LocalStream, RING_BLOCK_IDS};
use node_chain_state::{ChainOptions, LocalChain};

use crate::mine::{mine_block, MineError};

/// A regtest chain in a temporary directory, with its stream; dropped, the directory
/// goes with it.
pub struct TempChain {
    /// The chain (view and writer).
    pub chain: Arc<LocalChain>,
    /// Its stream.
    pub stream: Arc<LocalStream>,
    _dir: tempfile::TempDir,
}

impl TempChain {
    /// A fresh regtest chain at its genesis block.
    pub fn regtest() -> Result<TempChain, ChainError> {
        TempChain::with_ring(RING_BLOCK_IDS)
    }

    /// A fresh regtest chain whose stream keeps `ring_block_ids` in memory (a small
    /// ring makes subscribers catch up from the store).
    pub fn with_ring(ring_block_ids: usize) -> Result<TempChain, ChainError> {
        let dir = tempfile::tempdir().map_err(|e| ChainError::Corrupt(e.to_string()))?;
        let spec = ChainSpec::by_name("regtest").map_err(|e| ChainError::Corrupt(e.to_string()))?;
        let chain = LocalChain::open(dir.path(), spec, ChainOptions::default(), |_| {})?;
        let stream = LocalStream::new(chain.clone(), ring_block_ids);
        chain.listen(stream.clone());
        Ok(TempChain {
            chain,
            stream,
            _dir: dir,
        })
    }

    /// The chain as a view.
    pub fn view(&self) -> Arc<dyn ChainView> {
        self.chain.clone()
    }

    /// The chain as a writer.
    pub fn writer(&self) -> Arc<dyn ChainWriter> {
        self.chain.clone()
    }

    /// The stream as a service.
    pub fn chain_stream(&self) -> Arc<dyn ChainStream> {
        self.stream.clone()
    }

    /// Mines `count` blocks of a coinbase only, paying [`crate::miner_key`].
    pub fn mine(&self, count: usize) -> Result<Vec<Block>, MineError> {
        let script = crate::miner_key().script();
        (0..count)
            .map(|_| mine_block(&*self.chain, &*self.chain, Vec::new(), &script))
            .collect()
    }

    /// Accepts a block built elsewhere.
    pub fn accept(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        self.chain.accept_block(block)
    }
}

#[cfg(test)]
mod tests {
    use node_api::{ChainStream, StreamStart};

    use super::*;
    use crate::StreamFollower;

    #[tokio::test]
    async fn a_follower_behind_a_tiny_ring_sees_every_block_mined_once() {
        let chain = TempChain::with_ring(4).unwrap();
        let mut from_genesis = StreamFollower::new(
            chain.view(),
            chain.stream.subscribe(StreamStart::Height(0)).unwrap(),
        );
        let mut from_tip = StreamFollower::new(
            chain.view(),
            chain.stream.subscribe(StreamStart::Tip).unwrap(),
        );
        let blocks = chain.mine(20).unwrap();
        assert_eq!(chain.view().tip().height, 20);
        let tip = blocks[19].header.hash();
        from_genesis.follow_to(tip).await;
        from_genesis.assert_exactly_once();
        from_tip.follow_to(tip).await;
        from_tip.assert_exactly_once();
        // Behind a ring of 4 ids, 20 blocks come from the store in one step.
        assert_eq!(from_tip.steps().len(), 1);
        let block = from_tip.subscription().block(&tip).unwrap().unwrap();
        assert_eq!(block.header.hash(), tip);
    }
}
