//! Bitcoin's P2P wire format, as every module that talks to peers sees it.
//!
//! What it holds: the framing codec ([`MessageCodec`]: chain magic, 12-byte command,
//! length, sha256d checksum), the messages ([`Message`]: version/verack, ping/pong,
//! getheaders/headers, inv/getdata/notfound, block, tx, getaddr/addr, sendheaders, and BIP152's sendcmpct/cmpctblock/getblocktxn/blocktxn with
//! their short ids, BIP157's filter messages ([`FilterRequest`], [`FilterReply`], carried
//! as unknown commands); any
//! other command decodes as [`Message::Unknown`]), the [`Topic`]s inbound messages are
//! routed by, and what a connected peer is ([`PeerInfo`], [`PeerEvent`]). Formats only:
//! the connections themselves belong to the peers module.
//!
//! Invariants: a frame's magic and declared length are checked before its payload is
//! buffered; every list is checked against its protocol limit before an item is read.

mod codec;
mod compact;
#[cfg(test)]
mod compact_vectors;
mod error;
mod events;
mod filters;
mod message;
mod peer;
mod topic;

pub use codec::{encode_frame, raw_frame, MessageCodec, Received, HEADER_LEN};
pub use compact::{
    BlockTxn, BlockTxnRequest, HeaderAndShortIds, PrefilledTx, SendCmpct, ShortIdKey,
    COMPACT_VERSION, MAX_COMPACT_TXS, MSG_CMPCT_BLOCK,
};
pub use error::{CodecError, PayloadError};
pub use events::PeerEvent;
pub use filters::{
    FilterReply, FilterRequest, CFCHECKPT_INTERVAL, MAX_GETCFHEADERS_SIZE, MAX_GETCFILTERS_SIZE,
    NODE_COMPACT_FILTERS,
};
pub use message::{
    AddrEntry, Command, GetHeaders, InvType, Inventory, Message, NetAddress, VersionMessage,
    BLOCKTXN_COMMAND, BLOCK_COMMAND, CMPCTBLOCK_COMMAND, KNOWN_COMMANDS, MAX_ADDR, MAX_HEADERS,
    MAX_INV, MAX_LOCATOR, MAX_USER_AGENT, MIN_PEER_VERSION, MSG_BLOCK, MSG_TX, NODE_NETWORK,
    NODE_NETWORK_LIMITED, NODE_NETWORK_LIMITED_MIN_BLOCKS, PROTOCOL_VERSION, SENDHEADERS_VERSION,
    TX_COMMAND,
};
pub use peer::{ConnectionType, PeerId, PeerInfo};
pub use topic::{route, Topic};
