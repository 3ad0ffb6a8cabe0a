//! rust-bitcoin's `bitcoincore-rpc` (the client BDK's examples use), unchanged, against a
//! real node: it asks `getnetworkinfo` for the version and, below 190000, expects Bitcoin
//! Core 0.18's `getblockchaininfo` (a `softforks` array and `bip9_softforks`) and fails
//! on ours. With the version following Core's numbering (27.x, `[peers]
//! core_rpc_version`) it reads our answers as a modern Core's, and so are
//! `getindexinfo` and `getblockfilter`.

use bitcoincore_rpc::{Auth, Client, RpcApi};

use crate::common::TestNode;

fn client(node: &TestNode) -> Client {
    Client::new(
        &format!("http://127.0.0.1:{}", node.rpc_port),
        Auth::CookieFile(node.datadir().join(".cookie")),
    )
    .expect("a client")
}

#[test]
fn bitcoincore_rpc_reads_our_chain_info_index_info_and_block_filters() {
    let node = TestNode::start(&["chain.block_filter_index=true".to_string()]);
    let address = node.text("getnewaddress", &[]);
    node.generate(3, &address);
    let rpc = client(&node);
    assert_eq!(rpc.version().expect("getnetworkinfo"), 270_000);
    let info = rpc
        .get_blockchain_info()
        .expect("getblockchaininfo as Core 27's");
    assert_eq!(info.chain, bitcoin::Network::Regtest);
    assert_eq!(info.blocks, 3);
    assert_eq!(info.best_block_hash.to_string(), node.tip());
    let indexes = rpc.get_index_info().expect("getindexinfo");
    let filters = indexes
        .basic_block_filter_index
        .expect("the filter index under Core's name");
    assert!(filters.synced);
    assert_eq!(filters.best_block_height, 3);
    let tip: bitcoin::BlockHash = node.tip().parse().expect("a hash");
    let filter = rpc.get_block_filter(&tip).expect("getblockfilter");
    let ours = node.rpc("getblockfilter", &[&node.tip()]);
    assert_eq!(
        hex::encode(&filter.filter),
        ours["filter"].as_str().unwrap()
    );
    assert_eq!(filter.header.to_string(), ours["header"].as_str().unwrap());

    // The version a profile asks for is what the client branches on.
    let old = TestNode::start(&["peers.core_rpc_version=180100".to_string()]);
    let rpc = client(&old);
    assert_eq!(rpc.version().expect("getnetworkinfo"), 180_100);
    assert!(
        rpc.get_blockchain_info().is_err(),
        "read as Core 0.18's layout, which ours is not"
    );
}
