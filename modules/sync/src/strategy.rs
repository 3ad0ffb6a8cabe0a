//! The strategy trait: what to request from whom. The driver feeds it what happened;
//! a plugin adds a strategy with `inventory::submit!` of a `node_kernel::StrategyFactory`
//! whose behaviour is [`STRATEGY_BEHAVIOUR`] and whose `build` returns a
//! `Box<dyn SyncStrategy>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use node_chain::{BlockHeader, ChainState, Hash256};
use node_peers::{GetHeaders, Message, PeerId, PeerInfo, Peers};

use crate::config::SyncConfig;

/// The behaviour name sync strategies register under.
pub const STRATEGY_BEHAVIOUR: &str = "sync strategy";

/// The protocol version Bitcoin Core puts in `getheaders`.
const GETHEADERS_VERSION: u32 = 70016;

/// What a strategy may use.
pub struct SyncContext<'a> {
    /// The chain state.
    pub chain: &'a Arc<ChainState>,
    /// The peers.
    pub peers: &'a Arc<Peers>,
    /// The `[sync]` settings.
    pub config: &'a SyncConfig,
    /// Each ready peer's best known height (from its `version`, raised by what it sends).
    pub heights: &'a HashMap<PeerId, u32>,
}

impl SyncContext<'_> {
    /// Asks `peer` for headers after our best header (then our main chain, for a peer on
    /// another branch).
    pub fn request_headers(&self, peer: PeerId) {
        let mut locator = vec![self.chain.best_header().0];
        locator.extend(self.chain.locator());
        locator.dedup();
        let message = Message::GetHeaders(GetHeaders {
            version: GETHEADERS_VERSION,
            locator,
            stop: Hash256::ZERO,
        });
        if let Err(e) = self.peers.send(peer, message) {
            tracing::debug!(%peer, "getheaders not sent: {e}");
        }
    }

    /// Asks `peer` for block bodies.
    pub fn request_blocks(&self, peer: PeerId, hashes: &[Hash256]) -> bool {
        if hashes.is_empty() {
            return true;
        }
        let items = hashes
            .iter()
            .map(|h| node_peers::Inventory::block(*h))
            .collect();
        self.peers.send(peer, Message::GetData(items)).is_ok()
    }

    /// The height of a known block, if indexed.
    pub fn height_of(&self, hash: &Hash256) -> Option<u32> {
        self.chain.entry(hash).map(|e| e.height)
    }
}

/// What to fetch from whom.
pub trait SyncStrategy: Send {
    /// How often `tick` runs.
    fn tick_interval(&self, config: &SyncConfig) -> Duration;
    /// A peer completed the handshake.
    fn peer_connected(&mut self, ctx: &SyncContext<'_>, peer: &PeerInfo);
    /// A peer left; what was requested from it must be asked elsewhere.
    fn peer_disconnected(&mut self, ctx: &SyncContext<'_>, peer: PeerId);
    /// A peer sent headers (already accepted by the chain); `new` of them were new.
    fn headers(&mut self, ctx: &SyncContext<'_>, peer: PeerId, headers: &[BlockHeader], new: usize);
    /// A block arrived from `peer` and was handed to the chain.
    fn block(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256);
    /// `peer` does not have these blocks.
    fn not_found(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hashes: &[Hash256]);
    /// Periodic work: polls, stall checks, progress.
    fn tick(&mut self, ctx: &SyncContext<'_>);
}
