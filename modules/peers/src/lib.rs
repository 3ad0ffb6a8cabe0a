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
//!   is buffered (a wrong magic or a length over `max_message_bytes` ends the connection;
//!   a bad checksum drops one message; too many undecodable ones, over-long lists or
//!   messages before `version` are misbehaviour: disconnect and a ban, except for
//!   loopback addresses, which are only disconnected). Banned addresses are refused at
//!   accept and at connect; inbound connections over `max_inbound` are refused; a
//!   connection to ourselves is dropped (version nonce). With `connect` set, no other
//!   outbound connection is made. A pruned chain is advertised as NODE_NETWORK_LIMITED
//!   (BIP159) instead of NODE_NETWORK; its pruned bodies are answered with `notfound`.
//!   Every task ends when the module is cancelled, and none returns an error for what a
//!   peer does (a disconnect, a bad frame, a failed dial is handled and logged where it
//!   happens): only a bug stops the node.
//! - **Costs**: two tasks per connection; per peer, a send buffer of at most
//!   `send_buffer_bytes` (a peer that lets it fill is not reading and is dropped) and a
//!   set of `known_inventory` 8-byte keys; per subscriber, at most
//!   [`SUBSCRIPTION_CAPACITY`] messages (a full subscriber slows the sending peer down,
//!   never loses a message); an address book of at most 4,096 entries; `max_bans` bans.
//!   Served blocks are framed from their stored bytes without being decoded.

mod addrbook;
mod bans;
mod config;
mod connection;
mod error;
mod inventory;
mod manager;
mod module;
mod peer;
mod peers;
mod rpc;
mod serve;
mod targets;
#[cfg(test)]
mod tests;
mod util;

pub use bans::{BanEntry, InvalidSubnet, Subnet};
pub use config::PeersConfig;
pub use error::PeersError;
pub use peers::{Peers, SUBSCRIPTION_CAPACITY};
