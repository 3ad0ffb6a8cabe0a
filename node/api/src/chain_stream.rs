//! The chain stream: the main chain's changes as ordered, lossless steps, for plugins
//! that follow the chain at their own pace (notifiers, indexers, announcers), in the
//! manner of reth's ExEx notifications.
//!
//! A subscriber starts from a snapshot (the tip it starts from, or a height below it)
//! and then receives [`ChainStep`]s in order: each applies to the chain the previous
//! one left, so a subscriber that applies them sees exactly the main chain, every block
//! committed once (and reverted once if it leaves the chain). Nothing is skipped when
//! the subscriber is slow, and a slow subscriber never slows the chain's writer: the
//! writer records each step in a small in-memory ring and wakes subscribers; one that
//! fell behind the ring catches up by reading the chain store (the block index and the
//! main chain by height) from where it stands to a recent tip, in bounded chunks.
//!
//! What catching up changes: a subscriber that fell out of the ring gets the net change
//! from its position to the chain (a [`ChainStep::Reorged`] or a
//! [`ChainStep::Committed`] of up to a chunk of blocks) rather than each flip of the tip
//! in between; it still sees every block of the chain it ends on exactly once, in order,
//! and is reverted every block it was given that left the chain.
//!
//! Steps name blocks by hash and height ([`BlockId`]); the block itself is read on
//! demand with [`ChainSubscription::block`]: the last few connected blocks are held in
//! memory, older ones cost one read of the store and a decode.

use std::sync::Arc;

use node_chain::{Block, ChainError, Hash256};
use node_kernel::async_trait;

/// A block as a step names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockId {
    /// Its hash.
    pub hash: Hash256,
    /// Its height.
    pub height: u32,
}

/// One change of the main chain, applied on top of the chain the previous step left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStep {
    /// Blocks joined the main chain on top of the subscriber's tip, lowest first; the
    /// last is the new tip. Never empty.
    Committed {
        /// The blocks, lowest first.
        blocks: Vec<BlockId>,
    },
    /// Blocks left the main chain, the subscriber's tip first (highest first); the new
    /// tip is `tip`, the parent of the last. Never empty.
    Reverted {
        /// The blocks, highest first.
        blocks: Vec<BlockId>,
        /// The tip after the step.
        tip: BlockId,
    },
    /// A reorganisation: `old` left the main chain (highest first), then `new` joined it
    /// on their common parent (lowest first); the last of `new` is the tip. Neither is
    /// empty.
    Reorged {
        /// The blocks that left, highest first.
        old: Vec<BlockId>,
        /// The blocks that joined, lowest first.
        new: Vec<BlockId>,
    },
}

impl ChainStep {
    /// The tip after this step.
    pub fn tip(&self) -> BlockId {
        match self {
            ChainStep::Committed { blocks } => *blocks.last().expect("a step is never empty"),
            ChainStep::Reverted { tip, .. } => *tip,
            ChainStep::Reorged { new, .. } => *new.last().expect("a step is never empty"),
        }
    }

    /// The blocks that left the main chain, highest first.
    pub fn reverted(&self) -> &[BlockId] {
        match self {
            ChainStep::Committed { .. } => &[],
            ChainStep::Reverted { blocks, .. } => blocks,
            ChainStep::Reorged { old, .. } => old,
        }
    }

    /// The blocks that joined the main chain, lowest first.
    pub fn committed(&self) -> &[BlockId] {
        match self {
            ChainStep::Committed { blocks } => blocks,
            ChainStep::Reverted { .. } => &[],
            ChainStep::Reorged { new, .. } => new,
        }
    }
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// From the tip: the first step is the next change.
    Tip,
    /// From the main-chain block at this height: the first steps commit the blocks
    /// above it up to the tip (read from the store), then the changes follow.
    Height(u32),
}

/// Why a subscription failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The start height is above the tip.
    #[error("cannot follow the chain from height {height}: the tip is at {tip}")]
    AboveTip {
        /// The height asked.
        height: u32,
        /// The tip's height.
        tip: u32,
    },
    /// Reading the store failed while catching up.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// One subscriber's place in the stream. Dropping it unsubscribes; the writer keeps
/// nothing for it.
#[async_trait]
pub trait ChainSubscription: Send + Sync {
    /// The tip the subscription started from, taken atomically with subscribing: the
    /// first step applies to it.
    fn snapshot(&self) -> BlockId;
    /// The tip after the last step returned (the snapshot before any).
    fn position(&self) -> BlockId;
    /// The next step, waiting for one. Cancel safe: dropped before it completes, it
    /// returns nothing and loses nothing (fit for `tokio::select!`).
    async fn next(&mut self) -> Result<ChainStep, StreamError>;
    /// The next step if one is ready, without waiting.
    fn try_next(&mut self) -> Result<Option<ChainStep>, StreamError>;
    /// A block named by a step: the last few connected are held in memory, others are
    /// read from the store (`None` once pruned).
    fn block(&self, hash: &Hash256) -> Result<Option<Arc<Block>>, ChainError>;
}

/// The chain stream service (`chain-stream`): what the chain module provides.
pub trait ChainStream: Send + Sync {
    /// Subscribes from `start`. The snapshot and the registration are one step under
    /// the stream's lock, so no change slips between reading the tip and following it.
    fn subscribe(&self, start: StreamStart) -> Result<Box<dyn ChainSubscription>, StreamError>;
}
