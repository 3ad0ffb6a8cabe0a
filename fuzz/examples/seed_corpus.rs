//! Writes the seeds of the targets whose inputs are built by code: real P2P frames of
//! every message type (`corpus/p2p_frame`) and real blocks and transactions
//! (`corpus/block_tx`), from node_chain's genesis blocks and test builders. The other
//! targets' seeds are plain files kept as they are.
//!
//!     cd fuzz && cargo run --example seed_corpus
//!
//! The output is deterministic (fixed keys, times and nonces), so running it again
//! rewrites the same files.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use node_chain::{serialize, Block, ChainSpec, Hash256};
use node_chain_state::testing::SpendingChain;
use node_chain_state::{ChainOptions, ChainState};
use node_p2p::{
    encode_frame, AddrEntry, Command, GetHeaders, InvType, Inventory, Message, NetAddress,
    VersionMessage, NODE_NETWORK, PROTOCOL_VERSION,
};

/// Regtest's magic: the one the p2p_frame target decodes with.
const MAGIC: [u8; 4] = [0xd9, 0xb4, 0xbe, 0xf1];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let blocks = blocks();
    write_block_tx(&root.join("block_tx"), &blocks);
    write_p2p_frame(&root.join("p2p_frame"), &blocks);
}

/// Genesis blocks, then regtest blocks from the test builder: the last ones spend
/// matured coinbases and earlier payments (signed P2PKH inputs).
fn blocks() -> Vec<(String, Block)> {
    let mut out: Vec<(String, Block)> = ChainSpec::all()
        .iter()
        .map(|spec| (format!("genesis-{}", spec.name), spec.genesis_block()))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let regtest = ChainSpec::by_name("regtest").expect("regtest exists");
    let state = ChainState::open(dir.path(), regtest, ChainOptions::default(), |_| {})
        .expect("open a chain state");
    let mut chain = SpendingChain::new(&state, 7);
    out.push(("regtest-1".into(), chain.next_block(0)));
    for _ in 2..=101 {
        chain.next_block(0);
    }
    out.push(("regtest-102-one-spend".into(), chain.next_block(1)));
    out.push(("regtest-103-three-spends".into(), chain.next_block(3)));
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    fs::write(dir.join(name), bytes).expect("write a seed");
}

/// The block_tx target reads one kind byte (even: block, odd: transaction), then bytes.
fn write_block_tx(dir: &Path, blocks: &[(String, Block)]) {
    for (name, block) in blocks {
        write(
            dir,
            &format!("block-{name}"),
            &[&[0][..], &serialize(block)].concat(),
        );
    }
    // The coinbase of a genesis block, and every transaction of the block with spends.
    let genesis = &blocks[0].1;
    write(
        dir,
        "tx-genesis-coinbase",
        &[&[1][..], &serialize(&genesis.txs[0])].concat(),
    );
    let (_, spending) = blocks.last().expect("blocks were built");
    for (i, tx) in spending.txs.iter().enumerate() {
        write(
            dir,
            &format!("tx-spend-{i}"),
            &[&[1][..], &serialize(tx)].concat(),
        );
    }
}

/// The p2p_frame target reads one control byte (bit 0: fix checksums; the rest: how to
/// cut the stream), then the stream. Seeds use 0x01 (whole frames, checksums as sent)
/// and one stream of every message, cut into small reads.
fn write_p2p_frame(dir: &Path, blocks: &[(String, Block)]) {
    let messages = messages(blocks);
    let mut stream = vec![0x0b];
    for message in &messages {
        let frame = encode_frame(MAGIC, message);
        write(
            dir,
            &format!("frame-{}", message.command()),
            &[&[1][..], &frame].concat(),
        );
        stream.extend_from_slice(&frame);
    }
    write(dir, "stream-every-message-chunked", &stream);
}

fn messages(blocks: &[(String, Block)]) -> Vec<Message> {
    let v4: SocketAddr = "10.1.2.3:18444".parse().expect("address");
    let v6: SocketAddr = "[2001:db8::1]:8333".parse().expect("address");
    let (_, spending) = blocks.last().expect("blocks were built");
    let payment = spending.txs[1].clone();
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
            start_height: 103,
            relay: true,
        }),
        Message::Verack,
        Message::Ping(7),
        Message::Pong(7),
        Message::GetHeaders(GetHeaders {
            version: PROTOCOL_VERSION as u32,
            locator: blocks.iter().rev().take(3).map(|(_, b)| b.hash()).collect(),
            stop: Hash256::ZERO,
        }),
        Message::Headers(blocks.iter().map(|(_, b)| b.header).collect()),
        Message::Inv(vec![
            Inventory::block(spending.hash()),
            Inventory::tx(payment.txid()),
            Inventory {
                kind: InvType::Other(0x4000_0001),
                hash: Hash256([8; 32]),
            },
        ]),
        Message::GetData(vec![Inventory::block(spending.hash())]),
        Message::NotFound(vec![Inventory::tx(Hash256([10; 32]))]),
        Message::Block(spending.clone().into()),
        Message::Tx(payment),
        Message::GetAddr,
        Message::Addr(vec![
            AddrEntry {
                time: 1_767_225_600,
                services: NODE_NETWORK,
                addr: v4,
            },
            AddrEntry {
                time: 1_767_225_601,
                services: 0,
                addr: v6,
            },
        ]),
        Message::SendHeaders,
        Message::Unknown {
            command: Command::new("feefilter").expect("a valid command"),
            payload: 1000u64.to_le_bytes().to_vec(),
        },
    ]
}
