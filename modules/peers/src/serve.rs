//! What the peers module answers by itself, from the chain service and its address book:
//! `version`, `getheaders`, `getdata` for blocks, `getaddr`, and `addr` learning.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use node_api::{PeerAdmin, PeerMessaging};
use node_p2p::{
    raw_frame, AddrEntry, ConnectionType, GetHeaders, InvType, Inventory, Message, NetAddress,
    Topic, VersionMessage, BLOCK_COMMAND, MAX_ADDR, MAX_HEADERS, NODE_NETWORK,
    NODE_NETWORK_LIMITED, PROTOCOL_VERSION,
};

use crate::peer::{Peer, Remote};
use crate::peers::Peers;
use crate::util::{lock, unix_now};

/// Addresses more than this far in the future are clamped to now, so a peer cannot make
/// its addresses look fresher than any other.
const MAX_ADDR_FUTURE_SECS: u64 = 600;

impl Peers {
    /// The services we offer: [`NODE_NETWORK`], or [`NODE_NETWORK_LIMITED`] when the
    /// chain is pruned (it serves every header but only recent bodies), as Bitcoin Core
    /// does, so peers fetch old blocks elsewhere; with NODE_COMPACT_FILTERS when we serve
    /// BIP157 filters (`filters.rs`).
    pub fn local_services(&self) -> u64 {
        let network = if self.chain.is_pruned() {
            NODE_NETWORK_LIMITED
        } else {
            NODE_NETWORK
        };
        network | self.filter_services()
    }

    /// Our `version` for `peer`.
    pub(crate) fn version_for(&self, peer: &Peer) -> Message {
        let tip = self.chain.tip().height;
        let sender = self
            .listen_address()
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
        Message::Version(VersionMessage {
            version: PROTOCOL_VERSION,
            services: self.local_services(),
            timestamp: unix_now() as i64,
            receiver: NetAddress {
                services: 0,
                addr: peer.addr,
            },
            sender: NetAddress {
                services: self.local_services(),
                addr: sender,
            },
            nonce: peer.nonce,
            user_agent: self.settings.user_agent.clone(),
            start_height: i32::try_from(tip).unwrap_or(i32::MAX),
            relay: true,
        })
    }

    /// The listen address if it names one host (not `0.0.0.0`).
    fn listen_address(&self) -> Option<SocketAddr> {
        let local = self.local_addr();
        (!local.ip().is_unspecified()).then_some(local)
    }

    /// Where `peer` can reach us, if we know: the listen address, or, when listening on
    /// every interface, the address the peer says it reached us at with our port. A
    /// loopback address is only told to loopback peers.
    pub(crate) fn self_advertisement(&self, peer: &Peer, remote: &Remote) -> Option<AddrEntry> {
        let port = self.local_addr().port();
        let addr = match self.listen_address() {
            Some(addr) => addr,
            None => SocketAddr::new(remote.seen_as.ip(), port),
        };
        let ip = addr.ip();
        let usable = !ip.is_unspecified() && !ip.is_multicast() && port != 0;
        if !usable || (ip.is_loopback() && !peer.addr.ip().is_loopback()) {
            return None;
        }
        Some(AddrEntry {
            time: unix_now() as u32,
            services: self.local_services(),
            addr,
        })
    }

    /// Answers `getaddr` once per connection, to inbound peers only (as Bitcoin Core,
    /// so an outbound peer cannot map our address book).
    pub(crate) async fn serve_getaddr(&self, peer: &Peer) {
        if peer.kind != ConnectionType::Inbound
            || peer
                .answered_getaddr
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let entries = lock(&self.state).book.sample(MAX_ADDR);
        if !entries.is_empty() {
            self.queue_wait(peer, &Message::Addr(entries)).await;
        }
    }

    /// Adds the addresses of an `addr` message to the book (not relayed further: peers
    /// learn them from our `getaddr` answers).
    pub(crate) fn learn_addresses(&self, peer: &Peer, entries: &[AddrEntry]) {
        let now = unix_now();
        let local = self.local_addr();
        let mut added = 0;
        {
            let mut state = lock(&self.state);
            for entry in entries {
                if entry.addr == local {
                    continue;
                }
                let time = if u64::from(entry.time) > now + MAX_ADDR_FUTURE_SECS {
                    now as u32
                } else {
                    entry.time
                };
                if state.book.add(entry.addr, entry.services, time) {
                    added += 1;
                }
            }
        }
        if added > 0 {
            tracing::debug!(peer = %peer.id, added, "learned addresses");
            self.wake.notify_one();
        }
    }

    /// Answers `getheaders` with up to 2,000 main-chain headers after the locator's fork
    /// point (an empty `headers` when there are none, as Bitcoin Core).
    pub(crate) async fn serve_getheaders(&self, peer: &Peer, request: &GetHeaders) {
        let headers = self
            .chain
            .headers_after(&request.locator, &request.stop, MAX_HEADERS);
        self.queue_wait(peer, &Message::Headers(headers)).await;
    }

    /// Serves the blocks of a `getdata` from the chain as stored (no re-encoding), and
    /// answers `notfound` for those we lack. Transaction items are for the subscribers of
    /// [`Topic::GetDataTx`] (the relay module); with none, they are not found either.
    /// Returns the request for the subscribers, or `None` if the connection ended.
    ///
    /// While the blocks are served the request waits as their hashes (32 bytes an item,
    /// not the decoded 40): a peer that asks for 50,000 blocks and reads none holds this
    /// and at most `getdata_pause_bytes` of answers, as Bitcoin Core holds one request
    /// and its send buffer. The block items are rebuilt afterwards only for subscribers
    /// of [`Topic::GetDataBlock`] (a compact request answered with the full block among
    /// them).
    pub(crate) async fn serve_getdata(
        &self,
        peer: &Peer,
        items: Vec<Inventory>,
    ) -> Option<Message> {
        let compact_answered = self.has_subscribers(Topic::GetDataCmpctBlock);
        let tx_answered = self.has_subscribers(Topic::GetDataTx);
        let served_here = |kind: InvType| {
            kind == InvType::Block || (kind == InvType::CmpctBlock && !compact_answered)
        };
        // Sized once: grown by doubling it would hold up to twice the request.
        let mut blocks = Vec::with_capacity(items.iter().filter(|i| served_here(i.kind)).count());
        let mut others = Vec::new();
        // Transactions nobody answers, each with the number of blocks before it, so the
        // `notfound` lists every item in the order asked.
        let mut unanswered = Vec::new();
        for item in items {
            match item.kind {
                _ if served_here(item.kind) => blocks.push(item.hash),
                InvType::Tx if !tx_answered => unanswered.push((blocks.len(), item)),
                InvType::Block | InvType::CmpctBlock | InvType::Tx | InvType::Other(_) => {
                    others.push(item)
                }
            }
        }
        let mut unanswered = unanswered.into_iter().peekable();
        let mut missing = Vec::new();
        for (index, hash) in blocks.iter().enumerate() {
            while let Some((_, item)) = unanswered.next_if(|(before, _)| *before <= index) {
                missing.push(item);
            }
            match self.block_when_room(peer, hash).await? {
                Ok(Some(bytes)) => {
                    self.note_known(peer, hash);
                    let frame = raw_frame(self.settings.magic, BLOCK_COMMAND, &bytes);
                    if !peer.send_wait(frame, "block").await {
                        return None;
                    }
                }
                Ok(None) => missing.push(Inventory::block(*hash)),
                Err(error) => {
                    tracing::warn!(block = %hash, %error, "cannot read a block to serve");
                    missing.push(Inventory::block(*hash));
                }
            }
        }
        missing.extend(unanswered.map(|(_, item)| item));
        if !missing.is_empty() {
            self.queue_wait(peer, &Message::NotFound(missing)).await;
        }
        if self.has_subscribers(Topic::GetDataBlock) {
            others.extend(blocks.into_iter().map(Inventory::block));
        }
        Some(Message::GetData(others))
    }

    /// A stored block's bytes, read once at most `getdata_pause_bytes` are queued for
    /// `peer` (Bitcoin Core's pause: the rest of a request waits until the peer has read
    /// what is queued, and the peer is not read meanwhile, so a peer that asks and never
    /// reads holds at most the pause plus one block). `None` if the connection ended.
    async fn block_when_room(
        &self,
        peer: &Peer,
        hash: &node_api::chain::Hash256,
    ) -> Option<Result<Option<Vec<u8>>, node_api::chain::ChainError>> {
        if !peer
            .wait_queued_below(self.settings.getdata_pause_bytes)
            .await
        {
            return None;
        }
        Some(self.chain.block_bytes(hash))
    }
}
