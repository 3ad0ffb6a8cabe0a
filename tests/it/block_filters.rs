//! BIP157/158 against real nodes on regtest: `getblockfilter` and `getindexinfo` with
//! `[chain] block_filter_index`, checked against filters the `bitcoin` crate computes from
//! the blocks' bytes and the scripts they spend; a reorganisation replacing filters and
//! headers; the index built in the background over a stored chain; and a raw-socket BIP157
//! client (`getcfcheckpt`, `getcfheaders`, `getcfilters`) that checks every filter and
//! header it gets, finds the blocks that pay its wallet, and is disconnected for
//! requests past Bitcoin Core's limits.

use std::collections::HashMap;
use std::time::Duration;

use bitcoin::bip158::{BlockFilter as TheirFilter, FilterHeader};
use bitcoin::hashes::Hash;
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, ChainState};
use node_p2p::{FilterReply, FilterRequest, Message, NODE_COMPACT_FILTERS};
use serde_json::json;

use crate::common::{regtest, TestNode};
use crate::peers::RawPeer;

const WAIT: Duration = Duration::from_secs(60);

/// Filters and headers computed apart from the node: each block decoded by the `bitcoin`
/// crate, its spent scripts looked up in the outputs of the blocks before it.
struct Independent {
    outputs: HashMap<bitcoin::OutPoint, bitcoin::ScriptBuf>,
    previous: FilterHeader,
    /// (block hash, filter bytes, filter header) per height.
    blocks: Vec<(String, Vec<u8>, FilterHeader)>,
}

impl Independent {
    fn new() -> Independent {
        Independent {
            outputs: HashMap::new(),
            previous: FilterHeader::all_zeros(),
            blocks: Vec::new(),
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        let block: bitcoin::Block = bitcoin::consensus::deserialize(bytes).expect("a block");
        let filter = TheirFilter::new_script_filter(&block, |outpoint| {
            self.outputs
                .get(outpoint)
                .cloned()
                .ok_or(bitcoin::bip158::Error::UtxoMissing(*outpoint))
        })
        .expect("every spent output was seen");
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            for (vout, output) in tx.output.iter().enumerate() {
                self.outputs.insert(
                    bitcoin::OutPoint::new(txid, vout as u32),
                    output.script_pubkey.clone(),
                );
            }
        }
        let header = filter.filter_header(&self.previous);
        self.previous = header;
        self.blocks
            .push((block.block_hash().to_string(), filter.content, header));
    }

    /// Every block of `node`'s main chain, read with `getblock HASH 0`.
    fn of_node(node: &TestNode) -> Independent {
        let mut independent = Independent::new();
        for height in 0..=node.height() {
            let hash = node.text("getblockhash", &[&height.to_string()]);
            let hex = node.text("getblock", &[&hash, "0"]);
            independent.add(&hex::decode(hex).expect("block hex"));
        }
        independent
    }
}

fn handshake_filters_peer(node: &TestNode) -> RawPeer {
    let port: u16 = node
        .p2p_addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let mut peer = RawPeer::connect(port);
    let version = peer.handshake();
    assert_ne!(
        version.services & NODE_COMPACT_FILTERS,
        0,
        "NODE_COMPACT_FILTERS advertised"
    );
    peer
}

/// The next BIP157 answer, skipping everything else the node sends.
fn reply(peer: &mut RawPeer) -> FilterReply {
    let (message, _) = peer.recv_until("a BIP157 answer", |m| {
        matches!(m, Message::Unknown { command, .. }
            if matches!(command.as_str(), "cfilter" | "cfheaders" | "cfcheckpt"))
    });
    let Message::Unknown { command, payload } = message else {
        unreachable!()
    };
    FilterReply::decode(command.as_str(), &payload)
        .expect("a BIP157 answer")
        .expect("well formed")
}

fn hash(text: &str) -> node_chain::Hash256 {
    text.parse().expect("a block hash")
}

fn header_text(header: &node_chain::Hash256) -> String {
    header.to_string()
}

#[test]
fn filters_over_rpc_and_p2p_match_an_independent_computation_and_find_a_wallets_blocks() {
    let node = TestNode::start(&["chain.block_filter_index=true".to_string()]);
    let miner = node.text("getnewaddress", &[]);
    let payee_key = node_chain::PrivateKey::from_bytes(&[9; 32], true).expect("a key");
    let payee = payee_key.address(regtest().address_version).to_string();
    node.generate(101, &miner);
    node.text("sendtoaddress", &[&payee, "2.5"]);
    let paid_block = node.generate(1, &miner).remove(0);
    node.generate(2, &miner);
    node.text("sendtoaddress", &[&payee, "1"]);
    let paid_again = node.generate(1, &miner).remove(0);
    let tip_height = node.height();
    assert_eq!(tip_height, 105);

    let independent = Independent::of_node(&node);
    for (height, (block, filter, header)) in independent.blocks.iter().enumerate() {
        let answer = node.rpc("getblockfilter", &[block]);
        assert_eq!(answer["filter"], hex::encode(filter), "height {height}");
        assert_eq!(answer["header"], header.to_string(), "height {height}");
    }
    let tip = node.tip();
    assert_eq!(
        node.rpc("getblockfilter", &[&tip, "basic"]),
        node.rpc("getblockfilter", &[&tip])
    );
    assert_eq!(
        node.rpc("getindexinfo", &["basic block filter index"]),
        json!({"basic block filter index": {"synced": true, "best_block_height": 105}})
    );
    node.fails_with(
        "getblockfilter",
        &[&tip, "extended"],
        -5,
        "Unknown filtertype",
    );
    node.fails_with(
        "getblockfilter",
        &["00000000000000000000000000000000000000000000000000000000000000aa"],
        -5,
        "Block not found",
    );
    let info = node.rpc("getnetworkinfo", &[]);
    assert_eq!(info["version"], 270000);
    assert!(info["subversion"].as_str().unwrap().starts_with("/node:"));
    assert!(info["localservicesnames"]
        .as_array()
        .unwrap()
        .contains(&json!("COMPACT_FILTERS")));

    // A light client: headers, then filters, both checked against what it computed.
    let mut peer = handshake_filters_peer(&node);
    let tip_hash = hash(&tip);
    peer.send(
        &FilterRequest::GetCFCheckpt {
            filter_type: 0,
            stop_hash: tip_hash,
        }
        .message(),
    );
    assert_eq!(
        reply(&mut peer),
        FilterReply::CFCheckpt {
            filter_type: 0,
            stop_hash: tip_hash,
            filter_headers: vec![],
        },
        "no checkpoint below height 1000"
    );
    peer.send(
        &FilterRequest::GetCFHeaders {
            filter_type: 0,
            start_height: 1,
            stop_hash: tip_hash,
        }
        .message(),
    );
    let FilterReply::CFHeaders {
        previous_filter_header,
        filter_hashes,
        stop_hash,
        ..
    } = reply(&mut peer)
    else {
        panic!("cfheaders expected")
    };
    assert_eq!(stop_hash, tip_hash);
    assert_eq!(
        header_text(&previous_filter_header),
        independent.blocks[0].2.to_string()
    );
    assert_eq!(filter_hashes.len(), tip_height as usize);
    let mut chained = previous_filter_header;
    for (i, filter_hash) in filter_hashes.iter().enumerate() {
        chained = node_chain::block_filter::filter_header(filter_hash, &chained);
        assert_eq!(
            header_text(&chained),
            independent.blocks[i + 1].2.to_string(),
            "height {}",
            i + 1
        );
    }

    peer.send(
        &FilterRequest::GetCFilters {
            filter_type: 0,
            start_height: 0,
            stop_hash: tip_hash,
        }
        .message(),
    );
    let payee_script = node_chain::script::p2pkh_script(&payee_key.public_key().hash160());
    let mut matching = Vec::new();
    for (height, (block, filter, _)) in independent.blocks.iter().enumerate() {
        let FilterReply::CFilter {
            block_hash,
            filter: got,
            ..
        } = reply(&mut peer)
        else {
            panic!("cfilter expected")
        };
        assert_eq!(block_hash.to_string(), *block, "height {height}");
        assert_eq!(&got, filter, "height {height}");
        let ours = node_chain::block_filter::BlockFilter { bytes: got };
        if ours
            .matches_any(&block_hash, &[&payee_script])
            .expect("a valid filter")
        {
            matching.push(block.clone());
        }
    }
    assert_eq!(matching, vec![paid_block, paid_again]);

    // Requests Core disconnects for: a start above the stop, an unknown stop block, a
    // filter type other than basic.
    for request in [
        FilterRequest::GetCFilters {
            filter_type: 0,
            start_height: 106,
            stop_hash: tip_hash,
        },
        FilterRequest::GetCFHeaders {
            filter_type: 0,
            start_height: 0,
            stop_hash: hash("00000000000000000000000000000000000000000000000000000000000000aa"),
        },
        FilterRequest::GetCFCheckpt {
            filter_type: 1,
            stop_hash: tip_hash,
        },
    ] {
        let mut peer = handshake_filters_peer(&node);
        peer.send(&request.message());
        assert!(peer.closed_by_node(), "{request:?} disconnects");
    }
    // Disconnected, not banned: a new connection is served.
    let mut peer = handshake_filters_peer(&node);
    peer.send(
        &FilterRequest::GetCFilters {
            filter_type: 0,
            start_height: 105,
            stop_hash: tip_hash,
        }
        .message(),
    );
    assert!(matches!(reply(&mut peer), FilterReply::CFilter { .. }));
}

#[test]
fn a_reorganisation_replaces_filters_and_headers() {
    let node = TestNode::start(&["chain.block_filter_index=true".to_string()]);
    let address = node.text("getnewaddress", &[]);
    node.generate(5, &address);
    let old = node.generate(3, &address);
    let old_headers: Vec<String> = old
        .iter()
        .map(|h| node.rpc("getblockfilter", &[h])["header"].to_string())
        .collect();
    // Another branch from height 5, one block longer, paying elsewhere.
    node.text("invalidateblock", &[&old[0]]);
    let other = node.text("getnewaddress", &[]);
    let new = node.generate(4, &other);
    assert_eq!(node.height(), 9);
    node.fails_with(
        "getblockfilter",
        &[&old[1]],
        -5,
        "Filter not found. Block was not connected to active chain.",
    );
    for (new, old_header) in new.iter().zip(&old_headers) {
        let header = node.rpc("getblockfilter", &[new])["header"].to_string();
        assert_ne!(&header, old_header);
    }
    let independent = Independent::of_node(&node);
    for (block, filter, header) in &independent.blocks {
        let answer = node.rpc("getblockfilter", &[block]);
        assert_eq!(answer["filter"], hex::encode(filter));
        assert_eq!(answer["header"], header.to_string());
    }
}

#[test]
fn built_in_the_background_over_a_stored_chain_then_served_to_core_s_limits() {
    // 2,001 blocks stored before the index is turned on: two checkpoints, and room to
    // ask past both limits.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut independent = Independent::new();
    {
        let state = ChainState::open(
            &dir.path().join("chain"),
            regtest(),
            ChainOptions::default(),
            |_| {},
        )
        .expect("a chain state");
        let genesis = state
            .block_bytes(&state.hash_at(0).expect("genesis"))
            .expect("read")
            .expect("genesis stored");
        independent.add(&genesis);
        let mut builder = Builder::new(&state);
        for _ in 0..2001 {
            let block = builder.next_block(&Wallet::new(5), vec![]);
            state.accept_block(&block).expect("a valid block");
            independent.add(&node_chain::encode::serialize(&block));
        }
    }
    let mut node = TestNode::start_in(dir.path(), &["chain.block_filter_index=true".to_string()]);
    node.process
        .wait_log("building the block filter index in the background", WAIT);
    node.process.wait_log("block filter index built", WAIT);
    assert_eq!(
        node.rpc("getindexinfo", &[])["basic block filter index"],
        json!({"synced": true, "best_block_height": 2001})
    );
    for height in [0usize, 1, 1000, 2001] {
        let (block, filter, header) = &independent.blocks[height];
        let answer = node.rpc("getblockfilter", &[block]);
        assert_eq!(answer["filter"], hex::encode(filter), "height {height}");
        assert_eq!(answer["header"], header.to_string(), "height {height}");
    }

    let tip_hash = hash(&independent.blocks[2001].0);
    let mut peer = handshake_filters_peer(&node);
    peer.send(
        &FilterRequest::GetCFCheckpt {
            filter_type: 0,
            stop_hash: tip_hash,
        }
        .message(),
    );
    let FilterReply::CFCheckpt { filter_headers, .. } = reply(&mut peer) else {
        panic!("cfcheckpt expected")
    };
    let expected: Vec<String> = [1000, 2000]
        .iter()
        .map(|h| independent.blocks[*h].2.to_string())
        .collect();
    let got: Vec<String> = filter_headers.iter().map(header_text).collect();
    assert_eq!(got, expected);

    // At the limits: 1,000 filters and 2,000 hashes are served ...
    peer.send(
        &FilterRequest::GetCFHeaders {
            filter_type: 0,
            start_height: 2,
            stop_hash: tip_hash,
        }
        .message(),
    );
    let FilterReply::CFHeaders { filter_hashes, .. } = reply(&mut peer) else {
        panic!("cfheaders expected")
    };
    assert_eq!(filter_hashes.len(), 2000);
    peer.send(
        &FilterRequest::GetCFilters {
            filter_type: 0,
            start_height: 1002,
            stop_hash: tip_hash,
        }
        .message(),
    );
    for height in 1002..=2001 {
        let FilterReply::CFilter { filter, .. } = reply(&mut peer) else {
            panic!("cfilter expected")
        };
        assert_eq!(filter, independent.blocks[height].1, "height {height}");
    }
    // ... one more is a disconnect.
    for request in [
        FilterRequest::GetCFHeaders {
            filter_type: 0,
            start_height: 1,
            stop_hash: tip_hash,
        },
        FilterRequest::GetCFilters {
            filter_type: 0,
            start_height: 1001,
            stop_hash: tip_hash,
        },
    ] {
        let mut peer = handshake_filters_peer(&node);
        peer.send(&request.message());
        assert!(peer.closed_by_node(), "{request:?} disconnects");
    }
}

#[test]
fn without_the_index_getblockfilter_says_so_and_no_filters_are_advertised() {
    let node = TestNode::start(&[]);
    let tip = node.tip();
    node.fails_with(
        "getblockfilter",
        &[&tip],
        -1,
        "Index is not enabled for filtertype basic",
    );
    assert!(node
        .rpc("getindexinfo", &[])
        .get("basic block filter index")
        .is_none());
    let info = node.rpc("getnetworkinfo", &[]);
    assert!(!info["localservicesnames"]
        .as_array()
        .unwrap()
        .contains(&json!("COMPACT_FILTERS")));
    // A request for a service not offered is a disconnect, as in Core.
    let port: u16 = node.p2p_addr().rsplit(':').next().unwrap().parse().unwrap();
    let mut peer = RawPeer::connect(port);
    assert_eq!(peer.handshake().services & NODE_COMPACT_FILTERS, 0);
    peer.send(
        &FilterRequest::GetCFCheckpt {
            filter_type: 0,
            stop_hash: hash(&tip),
        }
        .message(),
    );
    assert!(peer.closed_by_node(), "getcfcheckpt without the service");
    // Served only when asked for: [peers] block_filters = false keeps the index for RPC.
    let quiet = TestNode::start(&[
        "chain.block_filter_index=true".to_string(),
        "peers.block_filters=false".to_string(),
    ]);
    assert!(quiet.rpc("getblockfilter", &[&quiet.tip()])["filter"].is_string());
    let info = quiet.rpc("getnetworkinfo", &[]);
    assert!(!info["localservicesnames"]
        .as_array()
        .unwrap()
        .contains(&json!("COMPACT_FILTERS")));
}
