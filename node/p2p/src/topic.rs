//! Topics other modules subscribe to: one per command, with `inv`, `getdata` and
//! `notfound` split by item kind so that a transaction relay never sees block
//! announcements and block sync never sees transaction ones.

use std::sync::Arc;

use crate::message::{InvType, Inventory, Message};

/// A kind of inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// `headers`.
    Headers,
    /// `block`.
    Block,
    /// `tx`.
    Tx,
    /// `getheaders` (answered by the peers module; subscribers get a copy).
    GetHeaders,
    /// `inv` items of blocks.
    InvBlock,
    /// `inv` items of transactions.
    InvTx,
    /// `getdata` items of blocks (served by the peers module; subscribers get a copy).
    GetDataBlock,
    /// `getdata` items of transactions (served by a subscriber, such as the relay module;
    /// without one, the peers module answers `notfound`).
    GetDataTx,
    /// `notfound` items of blocks.
    NotFoundBlock,
    /// `notfound` items of transactions.
    NotFoundTx,
    /// `addr` (already added to the address book).
    Addr,
    /// `getaddr` (answered by the peers module).
    GetAddr,
    /// `sendheaders` (recorded in [`crate::PeerInfo::sendheaders`]).
    SendHeaders,
    /// `ping` (answered by the peers module).
    Ping,
    /// `pong` (timed by the peers module).
    Pong,
    /// `sendcmpct` (BIP152).
    SendCmpct,
    /// `cmpctblock` (BIP152).
    CmpctBlock,
    /// `getdata` items of blocks wanted as `cmpctblock` (served by a subscriber, such as
    /// the relay module running `compact`; without one, the peers module serves the
    /// full block, as Bitcoin Core does for blocks too deep to send compact).
    GetDataCmpctBlock,
    /// `getblocktxn` (BIP152).
    GetBlockTxn,
    /// `blocktxn` (BIP152).
    BlockTxn,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 20] = [
        Topic::Headers,
        Topic::Block,
        Topic::Tx,
        Topic::GetHeaders,
        Topic::InvBlock,
        Topic::InvTx,
        Topic::GetDataBlock,
        Topic::GetDataTx,
        Topic::NotFoundBlock,
        Topic::NotFoundTx,
        Topic::Addr,
        Topic::GetAddr,
        Topic::SendHeaders,
        Topic::Ping,
        Topic::Pong,
        Topic::SendCmpct,
        Topic::CmpctBlock,
        Topic::GetDataCmpctBlock,
        Topic::GetBlockTxn,
        Topic::BlockTxn,
    ];
}

/// The topics a message is delivered on, each with the message its subscribers get, for
/// the topics `wanted` accepts. An inventory message is split by kind; items of other
/// kinds reach no one. `version`, `verack` and unknown commands have no topic.
pub fn route(message: Message, wanted: impl Fn(Topic) -> bool) -> Vec<(Topic, Arc<Message>)> {
    let single = |topic: Topic, message: Message| {
        if wanted(topic) {
            vec![(topic, Arc::new(message))]
        } else {
            Vec::new()
        }
    };
    match message {
        Message::Headers(_) => single(Topic::Headers, message),
        Message::Block(_) => single(Topic::Block, message),
        Message::Tx(_) => single(Topic::Tx, message),
        Message::GetHeaders(_) => single(Topic::GetHeaders, message),
        Message::Addr(_) => single(Topic::Addr, message),
        Message::GetAddr => single(Topic::GetAddr, message),
        Message::SendHeaders => single(Topic::SendHeaders, message),
        Message::Ping(_) => single(Topic::Ping, message),
        Message::Pong(_) => single(Topic::Pong, message),
        Message::SendCmpct(_) => single(Topic::SendCmpct, message),
        Message::CmpctBlock(_) => single(Topic::CmpctBlock, message),
        Message::GetBlockTxn(_) => single(Topic::GetBlockTxn, message),
        Message::BlockTxn(_) => single(Topic::BlockTxn, message),
        Message::Inv(items) => split(
            items,
            Message::Inv,
            &[
                (InvType::Block, Topic::InvBlock),
                (InvType::Tx, Topic::InvTx),
            ],
            wanted,
        ),
        Message::GetData(items) => split(
            items,
            Message::GetData,
            &[
                (InvType::Block, Topic::GetDataBlock),
                (InvType::Tx, Topic::GetDataTx),
                (InvType::CmpctBlock, Topic::GetDataCmpctBlock),
            ],
            wanted,
        ),
        Message::NotFound(items) => split(
            items,
            Message::NotFound,
            &[
                (InvType::Block, Topic::NotFoundBlock),
                (InvType::Tx, Topic::NotFoundTx),
            ],
            wanted,
        ),
        Message::Version(_) | Message::Verack | Message::Unknown { .. } => Vec::new(),
    }
}

fn split(
    items: Vec<Inventory>,
    build: fn(Vec<Inventory>) -> Message,
    kinds: &[(InvType, Topic)],
    wanted: impl Fn(Topic) -> bool,
) -> Vec<(Topic, Arc<Message>)> {
    let mut out = Vec::new();
    for &(kind, topic) in kinds {
        if !wanted(topic) {
            continue;
        }
        let of_kind: Vec<Inventory> = items.iter().filter(|i| i.kind == kind).copied().collect();
        if !of_kind.is_empty() {
            out.push((topic, Arc::new(build(of_kind))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_chain::Hash256;

    #[test]
    fn inventory_is_split_by_kind() {
        let items = vec![
            Inventory::tx(Hash256([1; 32])),
            Inventory::block(Hash256([2; 32])),
            Inventory::tx(Hash256([3; 32])),
            Inventory {
                kind: InvType::Other(3),
                hash: Hash256([4; 32]),
            },
        ];
        let routed = route(Message::Inv(items.clone()), |_| true);
        assert_eq!(routed.len(), 2);
        assert_eq!(routed[0].0, Topic::InvBlock);
        assert_eq!(*routed[0].1, Message::Inv(vec![items[1]]));
        assert_eq!(routed[1].0, Topic::InvTx);
        assert_eq!(*routed[1].1, Message::Inv(vec![items[0], items[2]]));
        // Only what someone listens to is built.
        let routed = route(Message::GetData(items.clone()), |t| t == Topic::GetDataTx);
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].0, Topic::GetDataTx);
        let routed = route(Message::NotFound(vec![items[1]]), |_| true);
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].0, Topic::NotFoundBlock);
    }

    #[test]
    fn handshake_and_unknown_messages_have_no_topic() {
        assert!(route(Message::Verack, |_| true).is_empty());
        assert_eq!(route(Message::Ping(1), |_| true)[0].0, Topic::Ping);
        assert!(route(Message::Ping(1), |_| false).is_empty());
    }
}
