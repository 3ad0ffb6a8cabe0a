//! Sync strategies: what to request from whom while the chain catches up. The sync
//! module's driver owns the work every strategy shares (it accepts every `headers` and
//! `block` message, judges peers that send invalid data, holds low-work headers) and
//! feeds the strategy the profile chooses (`[sync] strategy`) what happened; the strategy
//! only asks, through the narrow [`SyncContext`]: the chain read-only, the peers'
//! [`PeerMessaging`] part (send, subscribe, the peer list; it cannot ban or drop a peer),
//! and what the driver knows of each peer's height.
//!
//! A plugin adds a strategy with `inventory::submit!` of a [`crate::StrategyFactory`]
//! whose behaviour is [`STRATEGY`] (`behaviour: STRATEGY.name`) and whose `build` ends
//! with `Ok(STRATEGY.erase(Box::new(MyStrategy { .. })))`; its settings come from
//! `[sync.<name>]`, and an unknown name is refused with the registered ones listed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use node_chain::{BlockHeader, Hash256};
use node_kernel::Behaviour;
use node_p2p::InvType;
use node_p2p::{
    GetHeaders, Inventory, Message, PeerId, PeerInfo, NODE_NETWORK, NODE_NETWORK_LIMITED,
    NODE_NETWORK_LIMITED_MIN_BLOCKS, PROTOCOL_VERSION,
};

use crate::{ChainView, CompactBlocks, PeerMessaging};

/// The behaviour sync strategies register under (`[sync] strategy`).
pub const STRATEGY: Behaviour<Box<dyn SyncStrategy>> = Behaviour::new("sync strategy");

/// What a strategy may use.
pub struct SyncContext<'a> {
    /// The chain, read-only: the driver alone hands it headers and blocks.
    pub chain: &'a Arc<dyn ChainView>,
    /// The peers: sending, subscribing and the peer list (judging and dropping peers is
    /// the driver's).
    pub peers: &'a dyn PeerMessaging,
    /// Each ready peer's best known height (from its `version`, raised by what it sends).
    pub heights: &'a HashMap<PeerId, u32>,
    /// Ready peers that serve only their last 288 blocks (NODE_NETWORK_LIMITED without
    /// NODE_NETWORK: pruned nodes).
    pub limited: &'a HashSet<PeerId>,
    /// Which peers' new blocks are asked compact (a broadcast behaviour that rebuilds
    /// compact blocks offers it; `None` without one).
    pub compact: Option<&'a Arc<dyn CompactBlocks>>,
}

/// Whether a peer whose chain reaches `known` has the body at `height`. A limited peer
/// keeps exactly its last 288 bodies (pruning keeps heights above `known - 288`).
fn serves(known: u32, limited: bool, height: u32) -> bool {
    known >= height && (!limited || height.saturating_add(NODE_NETWORK_LIMITED_MIN_BLOCKS) > known)
}

/// Whether a peer advertising `services` serves only recent blocks (BIP159), as Bitcoin
/// Core's `IsLimitedPeer` decides.
pub fn is_limited(services: u64) -> bool {
    services & NODE_NETWORK == 0 && services & NODE_NETWORK_LIMITED != 0
}

impl SyncContext<'_> {
    /// Asks `peer` for headers after our best header (then our main chain, for a peer on
    /// another branch).
    pub fn request_headers(&self, peer: PeerId) {
        let mut locator = vec![self.chain.best_header().0];
        locator.extend(self.chain.locator());
        locator.dedup();
        let message = Message::GetHeaders(GetHeaders {
            // Bitcoin Core puts its protocol version here; receivers ignore it.
            version: PROTOCOL_VERSION as u32,
            locator,
            stop: Hash256::ZERO,
        });
        if let Err(e) = self.peers.send(peer, message) {
            tracing::debug!(%peer, "getheaders not sent: {e}");
        }
    }

    /// Asks `peer` for the headers after `last` (one of its own, not yet stored here: a
    /// long chain being checked for work before it is stored).
    pub fn request_headers_after(&self, peer: PeerId, last: Hash256) {
        let message = Message::GetHeaders(GetHeaders {
            version: PROTOCOL_VERSION as u32,
            locator: vec![last],
            stop: Hash256::ZERO,
        });
        if let Err(e) = self.peers.send(peer, message) {
            tracing::debug!(%peer, "getheaders not sent: {e}");
        }
    }

    /// Asks `peer` for block bodies; `false` when the request could not be queued (the
    /// peer is gone). The block on our tip is asked as `cmpctblock` from a peer the
    /// compact behaviour names (BIP152 low-bandwidth mode, as Core asks): its answer goes
    /// to that behaviour, which rebuilds the block or asks it in full.
    pub fn request_blocks(&self, peer: PeerId, hashes: &[Hash256]) -> bool {
        if hashes.is_empty() {
            return true;
        }
        let tip = self.chain.tip().hash;
        let compact = self.compact.is_some_and(|c| c.asks_compact(peer));
        let items = hashes
            .iter()
            .map(|h| {
                let on_tip = compact
                    && self
                        .chain
                        .entry(h)
                        .is_some_and(|e| e.header.prev_block == tip);
                Inventory {
                    kind: if on_tip {
                        InvType::CmpctBlock
                    } else {
                        InvType::Block
                    },
                    hash: *h,
                }
            })
            .collect();
        self.peers.send(peer, Message::GetData(items)).is_ok()
    }

    /// Whether `peer` can be asked for the body of the block at `height`: it is known to
    /// have a chain that high, and, if it serves only recent blocks, the block is among
    /// its last [`NODE_NETWORK_LIMITED_MIN_BLOCKS`] (Bitcoin Core skips deeper blocks for
    /// limited peers the same way; the pruned peer would answer `notfound`).
    pub fn can_serve(&self, peer: PeerId, height: u32) -> bool {
        self.heights
            .get(&peer)
            .is_some_and(|known| serves(*known, self.limited.contains(&peer), height))
    }

    /// The height of a known block, if indexed.
    pub fn height_of(&self, hash: &Hash256) -> Option<u32> {
        self.chain.entry(hash).map(|e| e.height)
    }
}

/// What to fetch from whom. Its own settings, if any, come from `[sync.<name>]` when it
/// is built.
pub trait SyncStrategy: Send {
    /// How often `tick` runs.
    fn tick_interval(&self) -> Duration;
    /// A peer completed the handshake.
    fn peer_connected(&mut self, ctx: &SyncContext<'_>, peer: &PeerInfo);
    /// A peer left; what was requested from it must be asked elsewhere.
    fn peer_disconnected(&mut self, ctx: &SyncContext<'_>, peer: PeerId);
    /// A peer sent headers (already accepted by the chain); `new` of them were new.
    fn headers(&mut self, ctx: &SyncContext<'_>, peer: PeerId, headers: &[BlockHeader], new: usize);
    /// A block arrived from `peer` and the chain starts accepting it; [`block`] follows
    /// once it is done. A strategy that bounds the blocks in transit from a peer frees
    /// the slot here (Bitcoin Core counts only blocks not yet received), so the peer keeps
    /// sending while the chain verifies.
    ///
    /// [`block`]: SyncStrategy::block
    fn received(&mut self, _ctx: &SyncContext<'_>, _peer: PeerId, _hash: Hash256) {}
    /// A block arrived from `peer` and the chain is done with it.
    fn block(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256);
    /// `peer` does not have these blocks.
    fn not_found(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hashes: &[Hash256]);
    /// Periodic work: polls, stall checks.
    fn tick(&mut self, ctx: &SyncContext<'_>);
    /// Blocks requested and not yet received, for the progress lines.
    fn in_flight(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_peers_are_asked_only_for_their_last_288_blocks() {
        assert!(is_limited(NODE_NETWORK_LIMITED));
        assert!(!is_limited(NODE_NETWORK | NODE_NETWORK_LIMITED));
        assert!(!is_limited(NODE_NETWORK));
        assert!(!is_limited(0));
        // A full peer at 1000 serves everything up to 1000.
        assert!(serves(1000, false, 1));
        assert!(serves(1000, false, 1000));
        assert!(!serves(1000, false, 1001));
        // A pruned peer at 1000 keeps 713..=1000.
        assert!(!serves(1000, true, 712));
        assert!(serves(1000, true, 713));
        assert!(serves(1000, true, 1000));
        assert!(!serves(1000, true, 1001));
        // Below 288 blocks a pruned peer still has everything.
        assert!(serves(100, true, 1));
    }
}
