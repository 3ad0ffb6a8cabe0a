//! A full pool raises its minimum fee, as Core's: a real `node` with a small
//! `mempool.max_bytes` is filled from outside with transactions signed here, and after
//! it evicts, `getmempoolinfo.mempoolminfee` is the evicted fee rate plus the
//! incremental relay fee; once a block has emptied the pool, a transaction paying less
//! is refused with "mempool min fee not met", the wallet pays at least the minimum, and
//! `estimatesmartfee` answers no less, though cheaper transactions confirmed before.

use node_chain::{Block, Transaction};
use node_chain_state::testing::Wallet;
use serde_json::Value;

use crate::common::{regtest, TestNode};

const COIN: u64 = 100_000_000;

/// Satoshis of an amount printed with 8 decimals.
fn sats(value: &Value) -> u64 {
    let text = value.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    whole.parse::<u64>().expect("whole") * COIN
        + format!("{frac:0<8}").parse::<u64>().expect("frac")
}

fn coinbase(node: &TestNode, hash: &str) -> Transaction {
    let hex = node.text("getblock", &[hash, "0"]);
    let block: Block =
        node_chain::encode::deserialize(&hex::decode(hex).expect("hex")).expect("a block");
    block.txs[0].clone()
}

fn send(node: &TestNode, tx: &Transaction) -> Result<String, String> {
    let hex = hex::encode(node_chain::encode::serialize(tx));
    node.try_text("sendrawtransaction", &[&hex])
}

#[test]
fn a_trimmed_pool_raises_its_minimum_fee_and_everyone_pays_it() {
    // Room for 5 transactions of one input and two outputs (226 bytes each).
    let node = TestNode::start_wallet(&[], "[mempool]\nmax_bytes = 1200\n", &[]);
    let outside = Wallet::new(9);
    let outside_address = outside.key().address(regtest().address_version).to_string();
    let coins: Vec<Transaction> = node
        .generate(11, &outside_address)
        .iter()
        .map(|hash| coinbase(&node, hash))
        .collect();
    let mine = node.text("getnewaddress", &[]);
    node.generate(100, &mine);
    let pay = |coin: &Transaction, fee: u64| outside.pay(coin, 0, &outside, 49 * COIN, fee);
    let info = || node.rpc("getmempoolinfo", &[]);
    assert_eq!(info()["mempoolminfee"].to_string(), "0.00001000");

    // Cheap transactions confirm first: what the fee estimator learns.
    for coin in &coins[..3] {
        send(&node, &pay(coin, 340)).expect("1.5 sat/B while the pool has room");
    }
    node.generate(1, &mine);

    // Fill the pool; the sixth transaction evicts the cheapest.
    let cheapest = pay(&coins[3], 1_000);
    let cheapest_txid = send(&node, &cheapest).expect("room");
    let entry = node.rpc("getmempoolentry", &[&cheapest_txid]);
    let evicted_rate =
        sats(&entry["fees"]["base"]) * 1000 / entry["vsize"].as_u64().expect("vsize");
    for (i, coin) in coins[4..9].iter().enumerate() {
        send(&node, &pay(coin, 2_000 + 1_000 * i as u64)).expect("admitted");
    }
    let raw = node.rpc("getrawmempool", &[]);
    assert!(
        !raw.as_array()
            .expect("txids")
            .iter()
            .any(|t| t == &cheapest_txid),
        "the cheapest was evicted: {raw}"
    );
    let min_fee = sats(&info()["mempoolminfee"]);
    assert_eq!(min_fee, evicted_rate + 1_000, "{}", info());
    assert_eq!(sats(&info()["minrelaytxfee"]), 1_000);

    // A block empties the pool; the minimum stays (it decays over hours, not at once).
    node.generate(1, &mine);
    assert_eq!(info()["size"], 0);
    assert_eq!(sats(&info()["mempoolminfee"]), min_fee);
    // 1.5 sat/B: above the relay minimum, under the pool's.
    let cheap = pay(&coins[9], 340);
    let refused = send(&node, &cheap).expect_err("under the pool's minimum");
    assert!(refused.contains("mempool min fee not met"), "{refused}");
    assert!(refused.contains("-26"), "{refused}");
    // Paying the minimum is enough.
    let size = cheap.size() as u64;
    let enough = pay(&coins[9], (size * min_fee).div_ceil(1000));
    send(&node, &enough).expect("at the pool's minimum");

    // The wallet pays at least the minimum, above its own 2 sat/B.
    let txid = node.text("sendtoaddress", &[&outside_address, "1"]);
    let entry = node.rpc("getmempoolentry", &[&txid]);
    let rate = sats(&entry["fees"]["base"]) * 1000 / entry["vsize"].as_u64().expect("vsize");
    assert!(
        rate >= min_fee,
        "the wallet paid {rate} sat/kB under {min_fee}"
    );

    // The estimate learned 1.5 sat/B, but the pool takes no less than its minimum.
    let estimate = node.rpc("estimatesmartfee", &["2"]);
    assert!(
        sats(&estimate["feerate"]) >= min_fee,
        "{estimate} under {min_fee}"
    );
}
