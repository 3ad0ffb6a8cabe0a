//! Broadcast behaviours: how a validated transaction or block reaches the peers. The
//! relay module runs the one the profile chooses (`[relay] broadcast`); a plugin adds one
//! with a [`crate::StrategyFactory`] of behaviour [`BROADCAST`].
//!
//! A behaviour that speaks a protocol of its own with peers (compact blocks, BIP152)
//! names the inbound [`Topic`]s it handles in [`Broadcast::topics`]; the relay module
//! subscribes to them on its behalf and hands each message to [`Broadcast::message`] with
//! a [`BroadcastContext`]: the peers, the mempool and the chain (read and write). Blocks
//! a behaviour rebuilds go to the chain through [`crate::ChainWriter`], fully validated,
//! like any other block. Behaviours that only announce (`flood`, `announce`, `batched`)
//! name no topic and never see a peer's message.

use std::sync::Arc;
use std::time::Duration;

use node_chain::{Block, Hash256, Transaction};
use node_kernel::Behaviour;
use node_p2p::{Message, PeerId, PeerInfo, Topic};

use crate::{ChainView, ChainWriter, MempoolService, PeerService};

/// The behaviour broadcast behaviours register under.
pub const BROADCAST: Behaviour<Box<dyn Broadcast>> = Behaviour::new("broadcast behaviour");

/// Which peers are asked for new blocks as `cmpctblock` (`getdata` of `MSG_CMPCT_BLOCK`,
/// BIP152's low-bandwidth mode): offered by a broadcast behaviour that rebuilds compact
/// blocks (the relay module provides it, `compact-blocks`) and used
/// by the module that fetches announced blocks (sync), so that only one of them asks.
pub trait CompactBlocks: Send + Sync {
    /// Whether `peer` understands compact blocks and its announced blocks should be
    /// asked compact (the behaviour answering the `cmpctblock` rebuilds them, or asks the
    /// full block).
    fn asks_compact(&self, peer: PeerId) -> bool;
}

/// What a behaviour that handles peers' messages may use.
#[derive(Clone, Copy)]
pub struct BroadcastContext<'a> {
    /// The peers.
    pub peers: &'a dyn PeerService,
    /// The mempool (what a rebuilt block's transactions are looked up in).
    pub mempool: &'a dyn MempoolService,
    /// The chain, read-only.
    pub chain: &'a dyn ChainView,
    /// The chain's writer: a rebuilt block is handed over here and fully validated.
    pub writer: &'a Arc<dyn ChainWriter>,
}

/// How new transactions and blocks are pushed to peers. Every send should go through
/// [`PeerService::announce`], which skips peers that already know the object.
pub trait Broadcast: Send {
    /// A transaction entered the mempool.
    fn transaction(&mut self, peers: &dyn PeerService, txid: Hash256, tx: &Arc<Transaction>);
    /// A block became the tip.
    fn block(&mut self, peers: &dyn PeerService, hash: Hash256, block: &Arc<Block>);
    /// Blocks became the tip together, oldest first, each the child of the one before:
    /// the blocks connected since the last tip change, the new tip last (several after a
    /// reorganisation or a run written at once). By default only the tip goes to
    /// [`Broadcast::block`], and peers fetch its ancestors by headers; a behaviour that
    /// announces several headers at once (as Bitcoin Core does, up to 8) overrides this.
    fn blocks(&mut self, peers: &dyn PeerService, connected: &[(Hash256, Arc<Block>)]) {
        if let Some((hash, block)) = connected.last() {
            self.block(peers, *hash, block);
        }
    }
    /// How often `tick` runs, if at all.
    fn interval(&self) -> Option<Duration> {
        None
    }
    /// Periodic work.
    fn tick(&mut self, _peers: &dyn PeerService) {}
    /// Inbound topics this behaviour handles (none by default). Called once, at start.
    fn topics(&self) -> Vec<Topic> {
        Vec::new()
    }
    /// A peer's message of one of [`Broadcast::topics`]. Must not wait: long work (a
    /// block's validation) goes to a task.
    fn message(&mut self, _ctx: &BroadcastContext<'_>, _peer: PeerId, _message: &Arc<Message>) {}
    /// A peer finished its handshake (only for behaviours with topics).
    fn peer_connected(&mut self, _ctx: &BroadcastContext<'_>, _peer: &PeerInfo) {}
    /// A peer disconnected (only for behaviours with topics).
    fn peer_disconnected(&mut self, _peer: PeerId) {}
    /// The behaviour's answer to which peers' blocks are asked compact, if it rebuilds
    /// compact blocks. Called once, at start.
    fn compact_blocks(&self) -> Option<Arc<dyn CompactBlocks>> {
        None
    }
    /// A peer's transaction that did not enter the mempool (an orphan, or refused by
    /// policy): kept by behaviours that rebuild blocks from what they have seen.
    fn not_accepted(&mut self, _tx: &Arc<Transaction>) {}
}
