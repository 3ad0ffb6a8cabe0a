//! The P2P messages and their payloads, byte for byte as Bitcoin encodes them (legacy,
//! non-segwit serialization, consensus encoding from `node_chain::encode`).
//!
//! Decoding is bounded twice: the frame is at most `max_message_bytes`, and each list is
//! checked against the protocol's limit before any item is read (a longer one is
//! misbehaviour, [`PayloadError::TooMany`]) and against the bytes that remain.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use node_chain::encode::{write_compact_size, write_var_bytes, DecodeErrorKind};
use node_chain::{Block, BlockHeader, Decode, DecodeError, Encode, Hash256, Reader, Transaction};

use crate::compact::{
    next_index, read_short_id, read_tx, BlockTxn, BlockTxnRequest, HeaderAndShortIds, PrefilledTx,
    SendCmpct, MAX_COMPACT_TXS, MSG_CMPCT_BLOCK,
};
use crate::error::PayloadError;

/// The protocol version we speak (Bitcoin Core 22's, which knows every message we use).
pub const PROTOCOL_VERSION: i32 = 70016;
/// The oldest peer version accepted: BIP37's, the first whose `version` carries `relay`.
pub const MIN_PEER_VERSION: i32 = 70001;
/// The first version that understands `sendheaders` (BIP130).
pub const SENDHEADERS_VERSION: i32 = 70012;
/// Service bit: the node serves the full block chain.
pub const NODE_NETWORK: u64 = 1;
/// Service bit (BIP159): the node serves only its last [`NODE_NETWORK_LIMITED_MIN_BLOCKS`]
/// blocks (and every header); a pruned node sets it instead of [`NODE_NETWORK`].
pub const NODE_NETWORK_LIMITED: u64 = 1 << 10;
/// How many recent blocks a [`NODE_NETWORK_LIMITED`] peer is sure to serve (BIP159).
pub const NODE_NETWORK_LIMITED_MIN_BLOCKS: u32 = 288;
/// Most headers in one `headers` message.
pub const MAX_HEADERS: usize = 2000;
/// Most items in one `inv`, `getdata` or `notfound` message.
pub const MAX_INV: usize = 50_000;
/// Most addresses in one `addr` message.
pub const MAX_ADDR: usize = 1000;
/// Most hashes in a `getheaders` locator (Bitcoin Core's `MAX_LOCATOR_SZ`).
pub const MAX_LOCATOR: usize = 101;
/// Longest user agent accepted (Bitcoin Core's `MAX_SUBVERSION_LENGTH`).
pub const MAX_USER_AGENT: usize = 256;
/// Inventory type of a transaction.
pub const MSG_TX: u32 = 1;
/// Inventory type of a block.
pub const MSG_BLOCK: u32 = 2;

/// A command name as it travels: printable ASCII, at most 12 bytes, NUL-padded.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command([u8; 12]);

impl Command {
    /// The command called `name`; `None` unless it is printable ASCII of at most 12 bytes.
    pub fn new(name: &str) -> Option<Command> {
        let bytes = name.as_bytes();
        if bytes.len() > 12 || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return None;
        }
        let mut raw = [0u8; 12];
        raw[..bytes.len()].copy_from_slice(bytes);
        Some(Command(raw))
    }

    /// The command in a frame header, checked as Bitcoin Core does: printable ASCII, then
    /// only NUL bytes.
    pub fn from_raw(raw: [u8; 12]) -> Option<Command> {
        let len = raw.iter().position(|b| *b == 0).unwrap_or(12);
        let padded = raw[len..].iter().all(|b| *b == 0);
        let printable = raw[..len].iter().all(|b| (0x20..=0x7e).contains(b));
        (padded && printable).then_some(Command(raw))
    }

    /// One of the protocol's own names: short printable ASCII by construction, so there
    /// is nothing to check (a name over 12 bytes would fail to index).
    const fn known(name: &str) -> Command {
        let bytes = name.as_bytes();
        let mut raw = [0u8; 12];
        let mut i = 0;
        while i < bytes.len() {
            raw[i] = bytes[i];
            i += 1;
        }
        Command(raw)
    }

    /// The 12 bytes of the frame header.
    pub fn raw(&self) -> [u8; 12] {
        self.0
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|b| *b == 0).unwrap_or(12);
        // Only printable ASCII gets in (see the constructors), so this never falls back.
        std::str::from_utf8(&self.0[..len]).unwrap_or("")
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({:?})", self.as_str())
    }
}

/// The `block` command, for frames around stored block bytes.
pub const BLOCK_COMMAND: Command = Command::known("block");

/// The `tx` command.
pub const TX_COMMAND: Command = Command::known("tx");

/// The `cmpctblock` command.
pub const CMPCTBLOCK_COMMAND: Command = Command::known("cmpctblock");

/// The `blocktxn` command.
pub const BLOCKTXN_COMMAND: Command = Command::known("blocktxn");

/// What an inventory item names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvType {
    /// A transaction (`MSG_TX` = 1).
    Tx,
    /// A block (`MSG_BLOCK` = 2).
    Block,
    /// A block wanted as `cmpctblock` (`MSG_CMPCT_BLOCK` = 4, BIP152; in `getdata` only).
    CmpctBlock,
    /// Any other type (filtered blocks, witness variants): carried, never served.
    Other(u32),
}

impl InvType {
    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            InvType::Tx => MSG_TX,
            InvType::Block => MSG_BLOCK,
            InvType::CmpctBlock => MSG_CMPCT_BLOCK,
            InvType::Other(code) => code,
        }
    }

    /// The type of a wire value.
    pub fn from_code(code: u32) -> InvType {
        match code {
            MSG_TX => InvType::Tx,
            MSG_BLOCK => InvType::Block,
            MSG_CMPCT_BLOCK => InvType::CmpctBlock,
            other => InvType::Other(other),
        }
    }
}

/// One inventory item: a type and a hash (txid or block hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inventory {
    /// What the hash names.
    pub kind: InvType,
    /// The txid or block hash.
    pub hash: Hash256,
}

impl Inventory {
    /// A transaction item.
    pub fn tx(hash: Hash256) -> Inventory {
        Inventory {
            kind: InvType::Tx,
            hash,
        }
    }

    /// A block item.
    pub fn block(hash: Hash256) -> Inventory {
        Inventory {
            kind: InvType::Block,
            hash,
        }
    }
}

/// A node address as `version` carries it: services, IPv6 (IPv4-mapped) and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetAddress {
    /// Service bits.
    pub services: u64,
    /// IP and port; IPv4-mapped addresses are decoded as IPv4.
    pub addr: SocketAddr,
}

/// A node address as `addr` carries it: when it was last heard of, services, address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrEntry {
    /// Unix time the address was last known to be active.
    pub time: u32,
    /// Service bits.
    pub services: u64,
    /// IP and port; IPv4-mapped addresses are decoded as IPv4.
    pub addr: SocketAddr,
}

/// The `version` message: who the sender is and how far its chain reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMessage {
    /// Protocol version.
    pub version: i32,
    /// Service bits of the sender.
    pub services: u64,
    /// The sender's Unix time.
    pub timestamp: i64,
    /// The receiver's address as the sender sees it.
    pub receiver: NetAddress,
    /// The sender's own address (often unspecified).
    pub sender: NetAddress,
    /// Random per connection; a node that receives its own nonce connected to itself.
    pub nonce: u64,
    /// Software name, such as `/node:0.1.0/`.
    pub user_agent: String,
    /// Height of the sender's best chain.
    pub start_height: i32,
    /// Whether the sender wants transactions announced (BIP37); true when absent.
    pub relay: bool,
}

/// The `getheaders` message: a block locator and where to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetHeaders {
    /// The sender's protocol version (Bitcoin Core puts it here; it is ignored).
    pub version: u32,
    /// Block hashes from the sender's tip back to genesis, denser near the tip.
    pub locator: Vec<Hash256>,
    /// The last header wanted; zero for as many as one message holds.
    pub stop: Hash256,
}

/// A P2P message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Opens the handshake.
    Version(VersionMessage),
    /// Acknowledges the other side's `version`.
    Verack,
    /// Liveness check; answered with a `pong` of the same nonce.
    Ping(u64),
    /// The answer to `ping`.
    Pong(u64),
    /// Asks for headers after a locator.
    GetHeaders(GetHeaders),
    /// Up to 2,000 headers, each followed on the wire by a zero transaction count.
    Headers(Vec<BlockHeader>),
    /// Announces transactions or blocks.
    Inv(Vec<Inventory>),
    /// Asks for transactions or blocks.
    GetData(Vec<Inventory>),
    /// Answers `getdata` items the sender does not have.
    NotFound(Vec<Inventory>),
    /// A full block, shared: the sync hands the decoded block to the chain and the relay
    /// sends one to many peers without copying it.
    Block(Arc<Block>),
    /// A transaction.
    Tx(Transaction),
    /// Asks for known node addresses.
    GetAddr,
    /// Node addresses.
    Addr(Vec<AddrEntry>),
    /// Asks to have new blocks announced by `headers` rather than `inv` (BIP130).
    SendHeaders,
    /// Offers compact block relay, high or low bandwidth (BIP152).
    SendCmpct(SendCmpct),
    /// A block as its header, short transaction ids and prefilled transactions (BIP152).
    CmpctBlock(HeaderAndShortIds),
    /// Asks for transactions of a block by position (BIP152).
    GetBlockTxn(BlockTxnRequest),
    /// The transactions a `getblocktxn` asked for (BIP152).
    BlockTxn(BlockTxn),
    /// Any other command: ignored on receipt, as Bitcoin Core does.
    Unknown {
        /// The command.
        command: Command,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

impl Message {
    /// The command name on the wire.
    pub fn command(&self) -> &str {
        match self {
            Message::Version(_) => "version",
            Message::Verack => "verack",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::GetHeaders(_) => "getheaders",
            Message::Headers(_) => "headers",
            Message::Inv(_) => "inv",
            Message::GetData(_) => "getdata",
            Message::NotFound(_) => "notfound",
            Message::Block(_) => "block",
            Message::Tx(_) => "tx",
            Message::GetAddr => "getaddr",
            Message::Addr(_) => "addr",
            Message::SendHeaders => "sendheaders",
            Message::SendCmpct(_) => "sendcmpct",
            Message::CmpctBlock(_) => "cmpctblock",
            Message::GetBlockTxn(_) => "getblocktxn",
            Message::BlockTxn(_) => "blocktxn",
            Message::Unknown { command, .. } => command.as_str(),
        }
    }

    /// Appends the payload's encoding to `out`.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Message::Version(v) => encode_version(v, out),
            Message::Verack | Message::GetAddr | Message::SendHeaders => {}
            Message::Ping(nonce) | Message::Pong(nonce) => nonce.encode(out),
            Message::GetHeaders(g) => {
                g.version.encode(out);
                g.locator.encode(out);
                g.stop.encode(out);
            }
            Message::Headers(headers) => {
                write_compact_size(out, headers.len() as u64);
                for header in headers {
                    header.encode(out);
                    // The transaction count, always zero in a headers message.
                    out.push(0);
                }
            }
            Message::Inv(items) | Message::GetData(items) | Message::NotFound(items) => {
                write_compact_size(out, items.len() as u64);
                for item in items {
                    item.kind.code().encode(out);
                    item.hash.encode(out);
                }
            }
            Message::Block(block) => block.encode(out),
            Message::Tx(tx) => tx.encode(out),
            Message::Addr(entries) => {
                write_compact_size(out, entries.len() as u64);
                for entry in entries {
                    entry.time.encode(out);
                    encode_net_address(entry.services, entry.addr, out);
                }
            }
            Message::SendCmpct(s) => {
                out.push(u8::from(s.announce));
                s.version.encode(out);
            }
            Message::CmpctBlock(c) => c.encode(out),
            Message::GetBlockTxn(g) => g.encode(out),
            Message::BlockTxn(b) => b.encode(out),
            Message::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
    }

    /// The command as it goes into a frame header.
    pub fn wire_command(&self) -> Command {
        match self {
            Message::Unknown { command, .. } => *command,
            known => Command::known(known.command()),
        }
    }

    /// The payload's encoding.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_payload(&mut out);
        out
    }

    /// Decodes the payload of `command`. Unknown commands decode to [`Message::Unknown`];
    /// a known command must use its whole payload, except `version`, which later protocol
    /// versions extend.
    pub fn decode(command: Command, payload: &[u8]) -> Result<Message, PayloadError> {
        let mut r = Reader::new(payload);
        let name = match known_command(command.as_str()) {
            Some(name) => name,
            None => {
                return Ok(Message::Unknown {
                    command,
                    payload: payload.to_vec(),
                })
            }
        };
        let message = decode_known(name, &mut r).map_err(|fail| fail.into_error(name))?;
        if name != "version" {
            r.finish(name).map_err(|source| PayloadError::Malformed {
                command: name,
                source,
            })?;
        }
        Ok(message)
    }

    /// The hashes this message shows its receiver to have once received: announced or
    /// carried transactions and blocks. The peers module records them per peer so that
    /// nothing is announced back to where it came from.
    pub fn inventory_hashes(&self) -> Vec<Hash256> {
        match self {
            Message::Inv(items) => items.iter().map(|i| i.hash).collect(),
            Message::Headers(headers) => headers.iter().map(BlockHeader::hash).collect(),
            Message::Block(block) => vec![block.hash()],
            Message::Tx(tx) => vec![tx.txid()],
            Message::CmpctBlock(c) => vec![c.header.hash()],
            _ => Vec::new(),
        }
    }
}

/// Every command this crate decodes; anything else is [`Message::Unknown`].
pub const KNOWN_COMMANDS: [&str; 18] = [
    "version",
    "verack",
    "ping",
    "pong",
    "getheaders",
    "headers",
    "inv",
    "getdata",
    "notfound",
    "block",
    "tx",
    "getaddr",
    "addr",
    "sendheaders",
    "sendcmpct",
    "cmpctblock",
    "getblocktxn",
    "blocktxn",
];

fn known_command(name: &str) -> Option<&'static str> {
    KNOWN_COMMANDS.iter().copied().find(|known| *known == name)
}

/// A decoding failure before the command name is attached.
enum Fail {
    Decode(DecodeError),
    TooMany {
        what: &'static str,
        count: u64,
        limit: usize,
    },
}

impl From<DecodeError> for Fail {
    fn from(e: DecodeError) -> Self {
        Fail::Decode(e)
    }
}

impl Fail {
    fn into_error(self, command: &'static str) -> PayloadError {
        match self {
            Fail::Decode(source) => PayloadError::Malformed { command, source },
            Fail::TooMany { what, count, limit } => PayloadError::TooMany {
                command,
                what,
                count,
                limit,
            },
        }
    }
}

/// A count of items of at least `min_size` bytes: over `limit` is misbehaviour, more than
/// the remaining bytes could hold is malformed. Nothing is allocated before both checks.
fn bounded_count(
    r: &mut Reader<'_>,
    what: &'static str,
    min_size: usize,
    limit: usize,
) -> Result<usize, Fail> {
    let count = r.read_compact_size(what)?;
    if count > limit as u64 {
        return Err(Fail::TooMany { what, count, limit });
    }
    let remaining = r.remaining();
    // count <= limit <= 50,000, so the product cannot overflow.
    if count as usize * min_size > remaining {
        return Err(r
            .error(
                what,
                DecodeErrorKind::CountExceedsInput {
                    count,
                    min_size,
                    remaining,
                },
            )
            .into());
    }
    Ok(count as usize)
}

fn decode_known(name: &'static str, r: &mut Reader<'_>) -> Result<Message, Fail> {
    Ok(match name {
        "version" => Message::Version(decode_version(r)?),
        "verack" => Message::Verack,
        "ping" => Message::Ping(r.read_u64("ping nonce")?),
        "pong" => Message::Pong(r.read_u64("pong nonce")?),
        "getheaders" => {
            let version = r.read_u32("getheaders version")?;
            let count = bounded_count(r, "locator hashes", 32, MAX_LOCATOR)?;
            let mut locator = Vec::with_capacity(count);
            for _ in 0..count {
                locator.push(Hash256::decode(r)?);
            }
            let stop = Hash256::decode(r)?;
            Message::GetHeaders(GetHeaders {
                version,
                locator,
                stop,
            })
        }
        "headers" => {
            let count = bounded_count(r, "headers", 81, MAX_HEADERS)?;
            let mut headers = Vec::with_capacity(count);
            for _ in 0..count {
                headers.push(BlockHeader::decode(r)?);
                // The transaction count; Bitcoin Core ignores its value, and so do we.
                r.read_compact_size("headers transaction count")?;
            }
            Message::Headers(headers)
        }
        "inv" | "getdata" | "notfound" => {
            let count = bounded_count(r, "inventory items", 36, MAX_INV)?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let kind = InvType::from_code(r.read_u32("inventory type")?);
                let hash = Hash256::decode(r)?;
                items.push(Inventory { kind, hash });
            }
            match name {
                "inv" => Message::Inv(items),
                "getdata" => Message::GetData(items),
                _ => Message::NotFound(items),
            }
        }
        "block" => Message::Block(Arc::new(Block::decode(r)?)),
        "tx" => Message::Tx(Transaction::decode(r)?),
        "getaddr" => Message::GetAddr,
        "addr" => {
            let count = bounded_count(r, "addresses", 30, MAX_ADDR)?;
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let time = r.read_u32("addr time")?;
                let address = decode_net_address(r)?;
                entries.push(AddrEntry {
                    time,
                    services: address.services,
                    addr: address.addr,
                });
            }
            Message::Addr(entries)
        }
        "sendcmpct" => Message::SendCmpct(SendCmpct {
            // Bitcoin Core reads a bool as one byte, any non-zero value true.
            announce: r.read_u8("sendcmpct announce")? != 0,
            version: r.read_u64("sendcmpct version")?,
        }),
        "cmpctblock" => Message::CmpctBlock(decode_cmpctblock(r)?),
        "getblocktxn" => {
            let block_hash = Hash256::decode(r)?;
            let count = bounded_count(r, "block transaction indexes", 1, MAX_COMPACT_TXS)?;
            let mut indexes = Vec::with_capacity(count);
            let mut previous = None;
            for _ in 0..count {
                let gap = r.read_compact_size("block transaction index")?;
                let index = next_index(r, previous, gap, "block transaction index")?;
                indexes.push(index);
                previous = Some(index);
            }
            Message::GetBlockTxn(BlockTxnRequest {
                block_hash,
                indexes,
            })
        }
        "blocktxn" => {
            let block_hash = Hash256::decode(r)?;
            // The smallest transaction: version, two empty lists, lock time.
            let count = bounded_count(r, "block transactions", 10, MAX_COMPACT_TXS)?;
            let mut txs = Vec::with_capacity(count);
            for _ in 0..count {
                txs.push(read_tx(r)?);
            }
            Message::BlockTxn(BlockTxn { block_hash, txs })
        }
        _ => Message::SendHeaders,
    })
}

fn decode_cmpctblock(r: &mut Reader<'_>) -> Result<HeaderAndShortIds, Fail> {
    let header = BlockHeader::decode(r)?;
    let nonce = r.read_u64("cmpctblock nonce")?;
    let count = bounded_count(r, "short ids", 6, MAX_COMPACT_TXS)?;
    let mut short_ids = Vec::with_capacity(count);
    for _ in 0..count {
        short_ids.push(read_short_id(r)?);
    }
    let count = bounded_count(r, "prefilled transactions", 11, MAX_COMPACT_TXS)?;
    let mut prefilled = Vec::with_capacity(count);
    let mut previous = None;
    for _ in 0..count {
        let gap = r.read_compact_size("prefilled index")?;
        let index = next_index(r, previous, gap, "prefilled index")?;
        prefilled.push(PrefilledTx {
            index,
            tx: read_tx(r)?,
        });
        previous = Some(index);
    }
    let total = short_ids.len() + prefilled.len();
    if total > MAX_COMPACT_TXS {
        return Err(Fail::TooMany {
            what: "transactions",
            count: total as u64,
            limit: MAX_COMPACT_TXS,
        });
    }
    Ok(HeaderAndShortIds {
        header,
        nonce,
        short_ids,
        prefilled,
    })
}

fn encode_net_address(services: u64, addr: SocketAddr, out: &mut Vec<u8>) {
    services.encode(out);
    let ip = match addr.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    out.extend_from_slice(&ip.octets());
    // The one big-endian field of the protocol.
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn decode_net_address(r: &mut Reader<'_>) -> Result<NetAddress, DecodeError> {
    let services = r.read_u64("address services")?;
    let ip = Ipv6Addr::from(r.read_array::<16>("address ip")?);
    let port = u16::from_be_bytes(r.read_array("address port")?);
    Ok(NetAddress {
        services,
        addr: SocketAddr::new(ip.to_canonical(), port),
    })
}

fn encode_version(v: &VersionMessage, out: &mut Vec<u8>) {
    v.version.encode(out);
    v.services.encode(out);
    (v.timestamp as u64).encode(out);
    encode_net_address(v.receiver.services, v.receiver.addr, out);
    encode_net_address(v.sender.services, v.sender.addr, out);
    v.nonce.encode(out);
    write_var_bytes(out, v.user_agent.as_bytes());
    v.start_height.encode(out);
    out.push(u8::from(v.relay));
}

fn decode_version(r: &mut Reader<'_>) -> Result<VersionMessage, Fail> {
    let version = r.read_i32("version")?;
    let services = r.read_u64("version services")?;
    let timestamp = r.read_u64("version timestamp")? as i64;
    let receiver = decode_net_address(r)?;
    let sender = decode_net_address(r)?;
    let nonce = r.read_u64("version nonce")?;
    let len = r.read_compact_size("user agent")?;
    if len > MAX_USER_AGENT as u64 {
        return Err(Fail::TooMany {
            what: "user agent bytes",
            count: len,
            limit: MAX_USER_AGENT,
        });
    }
    let user_agent = String::from_utf8_lossy(r.read_bytes(len as usize, "user agent")?).into();
    let start_height = r.read_i32("start height")?;
    // BIP37: absent means relay everything.
    let relay = r.is_empty() || r.read_u8("relay")? != 0;
    Ok(VersionMessage {
        version,
        services,
        timestamp,
        receiver,
        sender,
        nonce,
        user_agent,
        start_height,
        relay,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use node_chain::{OutPoint, TxIn, TxOut};

    fn cmd(name: &str) -> Command {
        Command::new(name).unwrap()
    }

    fn round_trip(message: Message) {
        let payload = message.payload();
        let decoded = Message::decode(cmd(message.command()), &payload).unwrap();
        assert_eq!(decoded, message, "{}", message.command());
    }

    fn header(nonce: u32) -> BlockHeader {
        BlockHeader {
            version: 1,
            prev_block: Hash256([1; 32]),
            merkle_root: Hash256([2; 32]),
            time: 1_767_225_600,
            bits: 0x207fffff,
            nonce,
        }
    }

    fn tx() -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: Hash256([3; 32]),
                    vout: 0,
                },
                script_sig: vec![1, 2, 3],
                sequence: u32::MAX,
            }],
            outputs: vec![TxOut {
                value: 5000,
                script_pubkey: vec![0x76, 0xa9],
            }],
            lock_time: 0,
        }
    }

    pub(crate) fn every_message() -> Vec<Message> {
        let v4: SocketAddr = "10.1.2.3:18444".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:8333".parse().unwrap();
        vec![
            Message::Version(VersionMessage {
                version: PROTOCOL_VERSION,
                services: NODE_NETWORK,
                timestamp: 1_767_225_600,
                receiver: NetAddress {
                    services: 0,
                    addr: v4,
                },
                sender: NetAddress {
                    services: NODE_NETWORK,
                    addr: v6,
                },
                nonce: 0x0123_4567_89ab_cdef,
                user_agent: "/node:0.1.0/".into(),
                start_height: 42,
                relay: false,
            }),
            Message::Verack,
            Message::Ping(7),
            Message::Pong(u64::MAX),
            Message::GetHeaders(GetHeaders {
                version: PROTOCOL_VERSION as u32,
                locator: vec![Hash256([4; 32]), Hash256([5; 32])],
                stop: Hash256::ZERO,
            }),
            Message::Headers(vec![header(1), header(2)]),
            Message::Inv(vec![
                Inventory::tx(Hash256([6; 32])),
                Inventory::block(Hash256([7; 32])),
                Inventory {
                    kind: InvType::Other(0x4000_0001),
                    hash: Hash256([8; 32]),
                },
            ]),
            Message::GetData(vec![Inventory::block(Hash256([9; 32]))]),
            Message::NotFound(vec![Inventory::tx(Hash256([10; 32]))]),
            Message::Block(Arc::new(Block {
                header: header(3),
                txs: vec![tx()],
            })),
            Message::Tx(tx()),
            Message::GetAddr,
            Message::Addr(vec![
                AddrEntry {
                    time: 1,
                    services: NODE_NETWORK,
                    addr: v4,
                },
                AddrEntry {
                    time: 2,
                    services: 0,
                    addr: v6,
                },
            ]),
            Message::SendHeaders,
            Message::SendCmpct(SendCmpct {
                announce: true,
                version: 1,
            }),
            Message::CmpctBlock(
                HeaderAndShortIds::from_block(
                    &Block {
                        header: header(4),
                        txs: vec![tx(), tx()],
                    },
                    9,
                )
                .unwrap(),
            ),
            Message::GetBlockTxn(BlockTxnRequest {
                block_hash: Hash256([11; 32]),
                indexes: vec![1, 2, 7],
            }),
            Message::BlockTxn(BlockTxn {
                block_hash: Hash256([11; 32]),
                txs: vec![tx()],
            }),
            Message::GetData(vec![Inventory {
                kind: InvType::CmpctBlock,
                hash: Hash256([12; 32]),
            }]),
            Message::Unknown {
                command: cmd("myextension"),
                payload: vec![1, 2, 3],
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in every_message() {
            round_trip(message);
        }
    }

    #[test]
    fn oversized_lists_are_misbehaviour_before_reading_items() {
        // Counts one over each limit, with no items behind them.
        let cases: [(&str, usize, &[u8]); 4] = [
            ("headers", MAX_HEADERS, &[]),
            ("inv", MAX_INV, &[]),
            ("addr", MAX_ADDR, &[]),
            ("getheaders", MAX_LOCATOR, &[0x71, 0x11, 0x01, 0x00]),
        ];
        for (name, limit, prefix) in cases {
            let mut payload = prefix.to_vec();
            write_compact_size(&mut payload, limit as u64 + 1);
            let err = Message::decode(cmd(name), &payload).unwrap_err();
            assert!(err.is_misbehaviour(), "{name}: {err}");
            assert!(
                matches!(err, PayloadError::TooMany { count, .. } if count == limit as u64 + 1)
            );
        }
    }

    #[test]
    fn a_count_the_payload_cannot_hold_is_malformed_not_misbehaviour() {
        let mut payload = Vec::new();
        write_compact_size(&mut payload, 2000);
        let err = Message::decode(cmd("headers"), &payload).unwrap_err();
        assert!(!err.is_misbehaviour());
        assert!(matches!(
            err,
            PayloadError::Malformed {
                command: "headers",
                ..
            }
        ));
    }

    #[test]
    fn trailing_bytes_are_malformed_except_in_version() {
        let mut payload = Message::Ping(1).payload();
        payload.push(0);
        assert!(matches!(
            Message::decode(cmd("ping"), &payload),
            Err(PayloadError::Malformed {
                command: "ping",
                ..
            })
        ));
        let version = &every_message()[0];
        let mut payload = version.payload();
        payload.extend_from_slice(&[1, 2, 3]);
        assert_eq!(&Message::decode(cmd("version"), &payload).unwrap(), version);
    }

    #[test]
    fn version_without_relay_byte_means_relay() {
        let Message::Version(mut v) = every_message()[0].clone() else {
            unreachable!()
        };
        let mut payload = Message::Version(v.clone()).payload();
        payload.pop();
        v.relay = true;
        assert_eq!(
            Message::decode(cmd("version"), &payload).unwrap(),
            Message::Version(v)
        );
    }

    #[test]
    fn long_user_agent_is_misbehaviour() {
        let Message::Version(mut v) = every_message()[0].clone() else {
            unreachable!()
        };
        v.user_agent = "x".repeat(MAX_USER_AGENT + 1);
        let payload = Message::Version(v).payload();
        let err = Message::decode(cmd("version"), &payload).unwrap_err();
        assert!(err.is_misbehaviour(), "{err}");
    }

    #[test]
    fn commands_are_checked_as_bitcoin_core_does() {
        assert!(Command::new("sendcmpct").is_some());
        assert!(Command::new("thirteen-char").is_none());
        assert!(Command::new("tab\there").is_none());
        let mut raw = *b"ping\0\0\0\0\0\0\0\0";
        assert_eq!(Command::from_raw(raw).unwrap().as_str(), "ping");
        raw[6] = b'x';
        assert!(
            Command::from_raw(raw).is_none(),
            "bytes after the NUL padding"
        );
        assert!(Command::from_raw(*b"\x01ing\0\0\0\0\0\0\0\0").is_none());
    }

    #[test]
    fn inventory_hashes_name_what_the_message_carries() {
        let block = Block {
            header: header(3),
            txs: vec![tx()],
        };
        assert_eq!(
            Message::Block(Arc::new(block.clone())).inventory_hashes(),
            [block.hash()]
        );
        assert_eq!(Message::Tx(tx()).inventory_hashes(), [tx().txid()]);
        assert_eq!(
            Message::Headers(vec![header(1)]).inventory_hashes(),
            [header(1).hash()]
        );
        assert!(Message::GetData(vec![Inventory::tx(Hash256([1; 32]))])
            .inventory_hashes()
            .is_empty());
    }
}
