//! The chain services over a temporary chain state, without a kernel.

use std::sync::Arc;

use node_api::chain::{Block, BlockOutcome, ChainError, ChainOptions, ChainSpec};
use node_api::{ChainStream, ChainView, ChainWriter, LocalChain};
use node_chain_module::{LocalStream, RING_BLOCK_IDS};

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
