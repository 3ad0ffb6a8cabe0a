//! The `peers` module: every TCP connection of the node and the P2P wire format.
//!
//! - **Wire**: Bitcoin's framing (chain magic, 12-byte command, length, sha256d checksum)
//!   as a `tokio_util` codec ([`MessageCodec`]) and Bitcoin's messages ([`Message`]):
//!   version/verack, ping/pong, getheaders/headers, inv/getdata/notfound, block, tx,
//!   getaddr/addr, sendheaders; any other command decodes as [`Message::Unknown`] and is
//!   ignored, never punished, so Bitcoin tooling that sends more still works.
//! - **Needs**: the `chain` service ([`node_chain::ChainState`]): the tip height for
//!   `version`, headers for `getheaders`, stored blocks for `getdata`.
//! - **Provides**: the `peers` service, an `Arc<`[`Peers`]`>`: subscriptions to inbound
//!   messages by [`Topic`], `send`/`broadcast`/`announce` (inventory-aware, so nothing
//!   is echoed back to a peer that has it), peer listing, misbehaviour, bans, connecting;
//!   [`PeerEvent`]s on the event bus; the RPC methods getpeerinfo, getnetworkinfo,
//!   getconnectioncount, addnode, disconnectnode, setban, listbanned, clearbanned, ping.
//!   The discovery module feeds addresses in through [`Peers::add_candidate`].
//! - **Profile** `[peers]` ([`PeersConfig`]): `listen`, `connect`, `addnode`, limits and
//!   timeouts.
//! - **Invariants**: a frame's magic and declared length are checked before its payload
//!   is buffered (a wrong magic or a length over `max_message_bytes` ends the connection;
//!   a bad checksum drops one message; too many undecodable ones, over-long lists or
//!   messages before `version` are misbehaviour: disconnect and a ban, except for
//!   loopback addresses, which are only disconnected). Banned addresses are refused at
//!   accept and at connect; inbound connections over `max_inbound` are refused; a
//!   connection to ourselves is dropped (version nonce). With `connect` set, no other
//!   outbound connection is made. A pruned chain is advertised as NODE_NETWORK_LIMITED
//!   (BIP159) instead of NODE_NETWORK; its pruned bodies are answered with `notfound`.
//!   Every task ends when the module is cancelled.
//! - **Costs**: two tasks per connection; per peer, a send buffer of at most
//!   `send_buffer_bytes` (a peer that lets it fill is not reading and is dropped) and a
//!   set of `known_inventory` 8-byte keys; per subscriber, at most
//!   [`SUBSCRIPTION_CAPACITY`] messages (a full subscriber slows the sending peer down,
//!   never loses a message); an address book of at most 4,096 entries; `max_bans` bans.
//!   Served blocks are framed from their stored bytes without being decoded.

mod addrbook;
mod bans;
mod codec;
mod config;
mod connection;
mod error;
mod events;
mod inventory;
mod manager;
mod message;
mod module;
mod peer;
mod peers;
mod rpc;
mod serve;
#[cfg(test)]
mod tests;
mod topic;

pub use bans::{BanEntry, InvalidSubnet, Subnet};
pub use codec::{encode_frame, MessageCodec, Received, HEADER_LEN};
pub use config::PeersConfig;
pub use error::{CodecError, PayloadError, PeersError};
pub use events::PeerEvent;
pub use message::{
    AddrEntry, Command, GetHeaders, InvType, Inventory, Message, NetAddress, VersionMessage,
    MAX_ADDR, MAX_HEADERS, MAX_INV, MAX_LOCATOR, MAX_USER_AGENT, MIN_PEER_VERSION, MSG_BLOCK,
    MSG_TX, NODE_NETWORK, NODE_NETWORK_LIMITED, NODE_NETWORK_LIMITED_MIN_BLOCKS, PROTOCOL_VERSION,
    SENDHEADERS_VERSION,
};
pub use peer::{ConnectionType, PeerId, PeerInfo};
pub use peers::{Peers, SUBSCRIPTION_CAPACITY};
pub use topic::Topic;
