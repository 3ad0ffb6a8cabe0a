//! The `peers` module: every TCP connection of the node, speaking the wire format of
//! [`node_p2p`] (Bitcoin's framing and messages; an unknown command is ignored, never
//! punished, so Bitcoin tooling that sends more still works).
//!
//! - **Needs**: the `chain` service (`dyn ChainView`): the tip height for `version`,
//!   headers for `getheaders`, stored block bytes for `getdata`, whether it is pruned.
//! - **Provides**: the `peers` service, `dyn PeerService` ([`Peers`]): subscriptions to
//!   inbound messages by [`Topic`](node_p2p::Topic), `send`/`broadcast`/`announce`
//!   (inventory-aware, so nothing is echoed back to a peer that has it), peer listing,
//!   misbehaviour, disconnecting, and `add_candidate`, through which the discovery module
//!   feeds addresses in; [`PeerEvent`](node_p2p::PeerEvent)s on the event bus; the RPC
//!   methods getpeerinfo, getnetworkinfo, getconnectioncount, addnode, disconnectnode,
//!   setban, listbanned, clearbanned, ping.
//! - **Tasks**, supervised under the module's name: `accept` (the listener, bound in
//!   `start`), `outbound manager`, a `connection reader` and a `connection writer` per
//!   connection, and short-lived `dial ...` tasks.
//! - **Profile** `[peers]` ([`PeersConfig`]): `listen`, `connect`, `addnode`, limits and
//!   timeouts.
//! - **Invariants**: a frame's magic and declared length are checked before its payload
//!   is buffered (a wrong magic, a length over `max_message_bytes`, or a `block` or `tx`
//!   over the chain's `max_block_size` ends the connection; a bad checksum drops one
//!   message; too many undecodable ones, over-long lists or messages before `version`
//!   are misbehaviour: disconnect and a ban, except for loopback addresses, which are
//!   only disconnected). A peer whose messages other modules still hold (in their
//!   channels or at work) past `receive_buffer_bytes` is not read until they let go.
//!   `getdata` is served only while at most `getdata_pause_bytes` are queued to the peer
//!   (the rest waits, as block hashes, and the peer is not read meanwhile; the read
//!   buffer gives back the room of a frame over 64 KiB once it is decoded), so a peer
//!   that asks for 50,000 blocks and reads none holds about 2.6 MiB. Banned addresses are refused
//!   at accept and at connect; when every inbound slot is taken, a newcomer evicts the
//!   inbound peer Bitcoin Core's `AttemptToEvictConnection` would (`eviction.rs`), or is
//!   refused when all are protected; a connection to ourselves is dropped (version
//!   nonce). With `connect` set, no other outbound connection is made. A pruned chain is
//!   advertised as NODE_NETWORK_LIMITED (BIP159) instead of NODE_NETWORK; its pruned
//!   bodies are answered with `notfound`. The bound address is written to
//!   `DATADIR/peers.addr` while the node runs (port 0 picks a free one). Every task ends
//!   when the module is cancelled, and none returns an error for what a peer does (a
//!   disconnect, a bad frame, a failed dial is handled and logged where it happens):
//!   only a bug stops the node. With the chain's block filter index on (and `[peers]
//!   block_filters`), BIP157 requests are served and NODE_COMPACT_FILTERS advertised
//!   (`filters.rs`, Core's limits: 1,000 filters, 2,000 hashes; a request past them is
//!   disconnected).
//! - **Metrics**: `node_peers_connected{direction}`, `node_p2p_messages_total` and
//!   `node_p2p_bytes_total` `{direction,command}` (commands outside the protocol's list as
//!   `other`), `node_peers_banned_total`.
//! - **Costs**: two tasks per connection. Memory per connection, at most (wire bytes;
//!   decoded messages take about as much, blocks up to twice): `receive_buffer_bytes`
//!   of its messages held by subscribers (5 MB), one message that crossed that line and
//!   one being read (2 × `max_message_bytes`, 4 MB), a send queue of at most
//!   `send_buffer_bytes` (4 MB; a peer that lets it fill is not reading and is dropped),
//!   and `known_inventory` 8-byte keys (about 0.3 MB): about 13 MB, so about 950 MB at
//!   64 inbound and 8 outbound connections if every buffer of every peer were full at
//!   once (the sync module adds up to 1.6 MB of headers per peer; see the book's
//!   `docs/src/operator/limits.md`). Per subscriber, at most [`SUBSCRIPTION_CAPACITY`]
//!   messages (a full subscriber slows the sending peer down, never loses a message); an
//!   address book of
//!   at most 4,096 entries; `max_bans` bans. Served blocks are framed from their stored
//!   bytes without being decoded.

mod addrbook;
mod bans;
mod config;
mod connection;
mod error;
mod eviction;
mod filters;
mod inventory;
mod manager;
mod metrics;
mod module;
mod peer;
mod peers;
mod rpc;
mod rpc_help;
mod serve;
mod targets;
#[cfg(test)]
mod tests;
mod util;

pub use bans::{BanEntry, InvalidSubnet, Subnet};
pub use config::PeersConfig;
pub use error::PeersError;
pub use module::ADDRESS_FILE;
pub use peers::{Peers, SUBSCRIPTION_CAPACITY};
