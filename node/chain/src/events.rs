//! What the chain state announces, in the order it happened. One enum on one channel, so
//! a subscriber (the mempool, the wallet) sees a reorganisation's disconnects before its
//! connects.

use std::sync::Arc;

use crate::block::Block;
use crate::hash::Hash256;

/// A change of the main chain.
#[derive(Debug, Clone)]
pub enum ChainEvent {
    /// A block joined the main chain.
    BlockConnected {
        /// Its hash.
        hash: Hash256,
        /// Its height.
        height: u32,
        /// The block.
        block: Arc<Block>,
        /// Its transaction ids, in order: hashed once by the chain, so listeners need
        /// not hash the transactions again.
        txids: Arc<[Hash256]>,
    },
    /// A block left the main chain (a reorganisation); its transactions may return to
    /// the mempool.
    BlockDisconnected {
        /// Its hash.
        hash: Hash256,
        /// Its height.
        height: u32,
        /// The block.
        block: Arc<Block>,
    },
    /// The tip moved, after every connect and disconnect of one change.
    TipChanged {
        /// The new tip.
        hash: Hash256,
        /// Its height.
        height: u32,
    },
}
