//! The `chain` service over a local [`ChainState`]: what the chain module provides, and
//! what tests of other modules build over a temporary state. Every listener is called in
//! order inside the step that changes the tip, before the event goes to the bus.

use std::sync::{Arc, RwLock};

use node_api::{ChainListener, ChainView, ChainWriter, PendingBlock};
use node_chain::{
    Block, BlockHeader, BlockIndexEntry, BlockOutcome, ChainError, ChainEvent, ChainSpec, Coin,
    Hash256, NextBlock, OutPoint, ProposalError, Tip, TxIndexInfo, TxLocation,
};

use crate::{ChainOptions, ChainState};

/// The chain service over a local [`ChainState`]: what the chain module provides, and
/// what tests of other modules build over a temporary state.
pub struct LocalChain {
    state: Arc<ChainState>,
    listeners: Arc<RwLock<Vec<Arc<dyn ChainListener>>>>,
}

impl LocalChain {
    /// Opens (or creates) the chain state in `path`. Every change goes to the
    /// listeners in order, then to `publish` (the event bus).
    pub fn open(
        path: &std::path::Path,
        spec: Arc<ChainSpec>,
        options: ChainOptions,
        publish: impl Fn(ChainEvent) + Send + Sync + 'static,
    ) -> Result<Arc<LocalChain>, ChainError> {
        let listeners: Arc<RwLock<Vec<Arc<dyn ChainListener>>>> = Arc::default();
        let sink_listeners = listeners.clone();
        let state = ChainState::open(path, spec, options, move |event| {
            let listeners = sink_listeners.read().unwrap_or_else(|e| e.into_inner());
            for listener in listeners.iter() {
                listener.on_chain_event(&event);
            }
            drop(listeners);
            publish(event);
        })?;
        Ok(Arc::new(LocalChain { state, listeners }))
    }

    /// The state itself, for the chain module's own RPC methods.
    pub fn state(&self) -> &Arc<ChainState> {
        &self.state
    }
}

impl ChainView for LocalChain {
    fn spec(&self) -> Arc<ChainSpec> {
        self.state.spec().clone()
    }
    fn tip(&self) -> Tip {
        self.state.tip()
    }
    fn best_header(&self) -> (Hash256, u32) {
        self.state.best_header()
    }
    fn header_count(&self) -> usize {
        self.state.header_count()
    }
    fn entry(&self, hash: &Hash256) -> Option<BlockIndexEntry> {
        self.state.entry(hash)
    }
    fn is_main(&self, hash: &Hash256) -> bool {
        self.state.is_main(hash)
    }
    fn hash_at(&self, height: u32) -> Option<Hash256> {
        self.state.hash_at(height)
    }
    fn next_hash(&self, hash: &Hash256) -> Option<Hash256> {
        self.state.next_hash(hash)
    }
    fn median_time_past(&self, hash: &Hash256) -> u32 {
        self.state.median_time_past(hash)
    }
    fn next_block(&self) -> NextBlock {
        self.state.next_block()
    }
    fn block(&self, hash: &Hash256) -> Result<Option<Block>, ChainError> {
        self.state.block(hash)
    }
    fn block_bytes(&self, hash: &Hash256) -> Result<Option<Vec<u8>>, ChainError> {
        self.state.block_bytes(hash)
    }
    fn coin(&self, outpoint: &OutPoint) -> Result<Option<Coin>, ChainError> {
        self.state.coin(outpoint)
    }
    fn has_address_index(&self) -> bool {
        self.state.has_address_index()
    }
    fn address_coins(
        &self,
        hash160: &[u8; 20],
    ) -> Result<Option<Vec<(OutPoint, Coin)>>, ChainError> {
        self.state.address_coins(hash160)
    }
    fn tx_index_info(&self) -> Option<TxIndexInfo> {
        self.state.tx_index_info()
    }
    fn filter_index_info(&self) -> Option<node_chain::FilterIndexInfo> {
        self.state.filter_index_info()
    }
    fn block_filter(&self, hash: &Hash256) -> Result<Option<node_chain::StoredFilter>, ChainError> {
        self.state.block_filter(hash)
    }
    fn transaction_location(&self, txid: &Hash256) -> Result<Option<TxLocation>, ChainError> {
        self.state.transaction_location(txid)
    }
    fn locator(&self) -> Vec<Hash256> {
        self.state.locator()
    }
    fn find_fork(&self, locator: &[Hash256]) -> u32 {
        self.state.find_fork(locator)
    }
    fn headers_after(&self, locator: &[Hash256], stop: &Hash256, max: usize) -> Vec<BlockHeader> {
        self.state.headers_after(locator, stop, max)
    }
    fn missing_blocks(&self, max: usize) -> Vec<Hash256> {
        self.state.missing_blocks(max)
    }
    fn is_pruned(&self) -> bool {
        self.state.is_pruned()
    }
    fn prune_height(&self) -> u32 {
        self.state.prune_height()
    }
    fn disk_size(&self) -> u64 {
        self.state.disk_size()
    }
    fn disk_full(&self) -> bool {
        self.state.disk_full()
    }
    fn listen(&self, listener: Arc<dyn ChainListener>) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }
}

impl ChainWriter for LocalChain {
    fn accept_block(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        self.state.accept_block(block)
    }
    fn accept_shared_block(&self, block: Arc<Block>) -> Result<BlockOutcome, ChainError> {
        self.state.accept_shared_block(block)
    }
    fn accept_ahead(self: Arc<Self>, block: Arc<Block>) -> PendingBlock {
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.state.accept_ahead(block, move |result| {
            // The caller may have stopped waiting.
            let _ = done.send(result);
        });
        Box::pin(async move { outcome.await.ok() })
    }
    fn accept_headers(&self, headers: &[BlockHeader]) -> Result<usize, ChainError> {
        self.state.accept_peer_headers(headers)
    }
    fn check_proposal(&self, block: &Block) -> Result<(), ProposalError> {
        self.state.check_proposal(block)
    }
}
