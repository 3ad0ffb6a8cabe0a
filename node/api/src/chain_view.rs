//! The chain as other modules see it: a read-only view, a writer for the modules that
//! feed it blocks, and in-order listeners for state that must move with the tip.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use node_chain::{
    Block, BlockHeader, BlockIndexEntry, BlockOutcome, ChainError, ChainEvent, ChainSpec, Coin,
    FilterIndexInfo, Hash256, NextBlock, OutPoint, ProposalError, StoredFilter, Tip, TxIndexInfo,
    TxLocation,
};

/// The read-only chain: what plugins, RPC and the mempool read. Every call is a short
/// read of memory or one LMDB read transaction.
pub trait ChainView: Send + Sync {
    /// The consensus constants in effect. Modules read the spec here, never by name.
    fn spec(&self) -> Arc<ChainSpec>;
    /// The tip of the main chain.
    fn tip(&self) -> Tip;
    /// The most-work header known and its height (ahead of the tip while syncing).
    fn best_header(&self) -> (Hash256, u32);
    /// Headers known, every branch.
    fn header_count(&self) -> usize;
    /// A block's index entry: header, height, work, status.
    fn entry(&self, hash: &Hash256) -> Option<BlockIndexEntry>;
    /// Whether `hash` is on the main chain.
    fn is_main(&self, hash: &Hash256) -> bool;
    /// The main-chain block at `height`.
    fn hash_at(&self, height: u32) -> Option<Hash256>;
    /// The main-chain child of `hash`.
    fn next_hash(&self, hash: &Hash256) -> Option<Hash256>;
    /// Median time of the 11 blocks ending at `hash`.
    fn median_time_past(&self, hash: &Hash256) -> u32;
    /// Where the next block goes (parent, height, bits, minimum time).
    fn next_block(&self) -> NextBlock;
    /// A stored block (`None` when unknown or pruned).
    fn block(&self, hash: &Hash256) -> Result<Option<Block>, ChainError>;
    /// A stored block's serialized bytes.
    fn block_bytes(&self, hash: &Hash256) -> Result<Option<Vec<u8>>, ChainError>;
    /// An unspent output of the main chain.
    fn coin(&self, outpoint: &OutPoint) -> Result<Option<Coin>, ChainError>;
    /// Whether the address index is kept.
    fn has_address_index(&self) -> bool;
    /// Unspent outputs paying a P2PKH hash; `None` without the address index.
    fn address_coins(
        &self,
        hash160: &[u8; 20],
    ) -> Result<Option<Vec<(OutPoint, Coin)>>, ChainError>;
    /// How far the transaction index (`[chain] tx_index`) is built; `None` when it is off.
    fn tx_index_info(&self) -> Option<TxIndexInfo>;
    /// The main-chain block holding a confirmed transaction and its position there;
    /// `None` when it is not confirmed or the index is off.
    fn transaction_location(&self, txid: &Hash256) -> Result<Option<TxLocation>, ChainError>;
    /// How far the block filter index (`[chain] block_filter_index`) is built; `None`
    /// when it is off.
    fn filter_index_info(&self) -> Option<FilterIndexInfo> {
        None
    }
    /// A block's BIP158 filter and BIP157 header from the block filter index; `None` when
    /// the index is off or does not cover the block.
    fn block_filter(&self, _hash: &Hash256) -> Result<Option<StoredFilter>, ChainError> {
        Ok(None)
    }
    /// Block locator of the main chain (tip first, then exponentially sparser).
    fn locator(&self) -> Vec<Hash256>;
    /// Height of the last main-chain block in `locator`.
    fn find_fork(&self, locator: &[Hash256]) -> u32;
    /// Main-chain headers after the fork point of `locator`, up to `stop` or `max`.
    fn headers_after(&self, locator: &[Hash256], stop: &Hash256, max: usize) -> Vec<BlockHeader>;
    /// Blocks on the best-header chain whose data we lack, lowest first.
    fn missing_blocks(&self, max: usize) -> Vec<Hash256>;
    /// Whether old block bodies are pruned.
    fn is_pruned(&self) -> bool;
    /// Main-chain heights `1..=prune_height` have no body.
    fn prune_height(&self) -> u32;
    /// Bytes on disk.
    fn disk_size(&self) -> u64;
    /// Whether the last write failed because the disk (or quota) is full; cleared once
    /// a write succeeds. `/ready` and `node_chain_disk_full` report it.
    fn disk_full(&self) -> bool {
        false
    }
    /// Adds a listener called in order, inside the step that connects or disconnects a
    /// block, before the call that caused it returns (Core's validation interface).
    fn listen(&self, listener: Arc<dyn ChainListener>);
}

/// State that must agree with the tip (the mempool, a wallet's view, the miner's
/// template) follows it here rather than on the event bus: a caller that connected a
/// block sees every listener done with it when `accept_block` returns.
///
/// A listener runs while the chain holds its writer lock: it must be quick and must not
/// call [`ChainWriter`].
pub trait ChainListener: Send + Sync {
    /// One change, in order: connects and disconnects, then the tip change that ends a
    /// step.
    fn on_chain_event(&self, event: &ChainEvent);
}

/// A block's acceptance started by [`ChainWriter::accept_ahead`]: resolves to what
/// `accept_shared_block` would return, or to `None` when the acceptance was lost (a
/// panic on the chain's threads). Awaiting it holds no thread.
pub type PendingBlock =
    Pin<Box<dyn Future<Output = Option<Result<BlockOutcome, ChainError>>> + Send>>;

/// Feeding the chain: what sync, relay, the miner and `submitblock` use.
pub trait ChainWriter: Send + Sync + 'static {
    /// Validates and stores a block, then moves the tip to the most-work chain.
    fn accept_block(&self, block: &Block) -> Result<BlockOutcome, ChainError>;
    /// [`ChainWriter::accept_block`] for a block the caller shares (a decoded `block`
    /// message): the chain may keep the `Arc` while the block waits to be written
    /// instead of copying it.
    fn accept_shared_block(&self, block: Arc<Block>) -> Result<BlockOutcome, ChainError> {
        self.accept_block(&block)
    }
    /// Starts accepting `block` without waiting for it: the chain may begin its work at
    /// once (verifying its signatures), in the order of these calls, and treats the
    /// block as on its way. A caller handing over many blocks (a sync) calls this in the
    /// order they arrived and awaits the returned futures side by side. By default the
    /// block is accepted on a blocking thread of the runtime that polls the future.
    fn accept_ahead(self: Arc<Self>, block: Arc<Block>) -> PendingBlock {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.accept_shared_block(block))
                .await
                .ok()
        })
    }
    /// Validates and stores a peer's headers; returns how many were new. A run whose
    /// chain stays below the anti-DoS work (the tip's less 144 blocks' worth) is refused
    /// with [`ChainError::LowWork`] and not stored.
    fn accept_headers(&self, headers: &[BlockHeader]) -> Result<usize, ChainError>;
    /// Checks a block on the tip against every rule but proof of work, storing nothing
    /// (`getblocktemplate` proposals, BIP23).
    fn check_proposal(&self, block: &Block) -> Result<(), ProposalError>;
}
