//! Broadcast behaviours: how a validated transaction or block reaches the peers. The
//! relay module runs the one the profile chooses (`[relay] broadcast`); a plugin adds one
//! with a [`crate::StrategyFactory`] of behaviour [`BROADCAST`].

use std::sync::Arc;
use std::time::Duration;

use node_chain::{Block, Hash256, Transaction};
use node_kernel::Behaviour;

use crate::PeerService;

/// The behaviour broadcast behaviours register under.
pub const BROADCAST: Behaviour<Box<dyn Broadcast>> = Behaviour::new("broadcast behaviour");

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
}
