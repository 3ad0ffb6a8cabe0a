//! State that moves with the chain, checked against the chain itself: 200 rounds of a
//! wallet payment then `generatetoaddress 3` on one node. Every block must be accepted
//! (the miner's template once came from a mempool that had not yet dropped what the
//! previous block confirmed), and at every step the wallet's balance and coins must be
//! what the blocks say, recomputed here from `getblock` at verbosity 2.
//!
//! The calls go over one keep-alive HTTP connection rather than a `node rpc` process
//! each: some 2,400 calls, and the round trips are what the test measures.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{regtest, TestNode};

const ROUNDS: usize = 200;
const BLOCKS_PER_ROUND: u64 = 3;

/// A JSON-RPC client on one keep-alive connection.
struct Client {
    reader: BufReader<TcpStream>,
    authorization: String,
}

impl Client {
    fn connect(node: &TestNode) -> Client {
        let log = node.process.log();
        let addr: SocketAddr = log
            .split_once("RPC server listening on ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no RPC address in the log:\n{log}"));
        let stream = TcpStream::connect(addr).expect("connect to RPC");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        let (user, password) =
            node_rpc::read_cookie(&node.datadir().join(node_rpc::COOKIE_FILE)).expect("cookie");
        Client {
            reader: BufReader::new(stream),
            authorization: node_rpc::basic_authorization(&user, &password),
        }
    }

    /// The result, or the JSON-RPC error object.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.authorization,
            body.len()
        );
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .expect("send a request");
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("read a header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().expect("a length"));
                }
            }
        }
        let mut body = vec![0u8; length.expect("a Content-Length")];
        self.reader.read_exact(&mut body).expect("read the body");
        let reply: Value = serde_json::from_slice(&body).expect("a JSON reply");
        match reply.get("error") {
            Some(error) if !error.is_null() => Err(error.clone()),
            _ => Ok(reply["result"].clone()),
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"))
    }
}

/// Satoshis of an amount as the node writes it (exact decimals).
fn sats(value: &Value) -> u64 {
    let text = value.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = format!("{frac:0<8}");
    assert!(frac.len() == 8, "not an amount: {text}");
    whole.parse::<u64>().expect("whole coins") * 100_000_000 + frac.parse::<u64>().expect("sats")
}

/// An output paying one of the wallet's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Coin {
    value: u64,
    height: u64,
    coinbase: bool,
}

type Outpoint = (String, u64);

/// The wallet's coins as the chain (and, for unconfirmed ones, the pool) says.
struct Recomputed {
    mine: HashSet<String>,
    coins: BTreeMap<Outpoint, Coin>,
    height: u64,
}

impl Recomputed {
    /// Spends the inputs and adds the outputs to our addresses of a decoded transaction,
    /// at `height` (`u64::MAX`: unconfirmed).
    fn apply_tx(&mut self, tx: &Value, height: u64) {
        let coinbase = tx["vin"][0].get("coinbase").is_some();
        if !coinbase {
            for input in tx["vin"].as_array().expect("vin") {
                let outpoint = (
                    input["txid"].as_str().expect("txid").to_string(),
                    input["vout"].as_u64().expect("vout"),
                );
                self.coins.remove(&outpoint);
            }
        }
        let txid = tx["txid"].as_str().expect("txid");
        for output in tx["vout"].as_array().expect("vout") {
            let Some(address) = output["scriptPubKey"]["address"].as_str() else {
                continue;
            };
            if self.mine.contains(address) {
                self.coins.insert(
                    (txid.to_string(), output["n"].as_u64().expect("n")),
                    Coin {
                        value: sats(&output["value"]),
                        height,
                        coinbase,
                    },
                );
            }
        }
    }

    /// Applies the blocks `hashes`, which must extend the tip one by one.
    fn apply_blocks(&mut self, rpc: &mut Client, hashes: &[Value]) {
        for hash in hashes {
            let block = rpc.call("getblock", json!([hash, 2]));
            let height = block["height"].as_u64().expect("height");
            assert_eq!(height, self.height + 1, "blocks in order: {hash}");
            for tx in block["tx"].as_array().expect("tx") {
                self.apply_tx(tx, height);
            }
            self.height = height;
        }
    }

    /// The coins the wallet may spend at the tip: unconfirmed ones, confirmed ones, and
    /// coinbase outputs past maturity.
    fn spendable(&self) -> BTreeMap<Outpoint, u64> {
        let maturity = u64::from(regtest().coinbase_maturity);
        self.coins
            .iter()
            .filter(|(_, c)| !c.coinbase || self.height + 1 - c.height > maturity)
            .map(|(o, c)| (o.clone(), c.value))
            .collect()
    }
}

/// Checks `getbalance` and `listunspent 0` against the recomputation.
fn check_wallet(rpc: &mut Client, expected: &Recomputed, step: &str) {
    let expected = expected.spendable();
    let listed: BTreeMap<Outpoint, u64> = rpc
        .call("listunspent", json!([0]))
        .as_array()
        .expect("listunspent answers an array")
        .iter()
        .map(|c| {
            (
                (
                    c["txid"].as_str().expect("txid").to_string(),
                    c["vout"].as_u64().expect("vout"),
                ),
                sats(&c["amount"]),
            )
        })
        .collect();
    if listed != expected {
        let missing: Vec<_> = expected
            .keys()
            .filter(|o| !listed.contains_key(*o))
            .collect();
        let extra: Vec<_> = listed
            .keys()
            .filter(|o| !expected.contains_key(*o))
            .collect();
        panic!("{step}: listunspent differs from the chain: missing {missing:?}, extra {extra:?}");
    }
    let total: u64 = expected.values().sum();
    let balance = sats(&rpc.call("getbalance", json!([])));
    assert_eq!(
        balance, total,
        "{step}: getbalance against the chain's coins"
    );
}

#[test]
fn two_hundred_payments_each_followed_by_three_blocks() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let mut rpc = Client::connect(&node);
    let payer = rpc
        .call("getnewaddress", json!([]))
        .as_str()
        .expect("address")
        .to_string();
    let payee = rpc
        .call("getnewaddress", json!([]))
        .as_str()
        .expect("address")
        .to_string();
    let mut expected = Recomputed {
        mine: [payer.clone(), payee.clone()].into_iter().collect(),
        coins: BTreeMap::new(),
        height: rpc
            .call("getblockcount", json!([]))
            .as_u64()
            .expect("height"),
    };
    // Mature coins to pay with.
    let maturity = u64::from(regtest().coinbase_maturity);
    let hashes = rpc.call("generatetoaddress", json!([maturity + 1, payer]));
    expected.apply_blocks(&mut rpc, hashes.as_array().expect("hashes"));
    check_wallet(&mut rpc, &expected, "after the first blocks");

    for round in 0..ROUNDS {
        // A different amount each round, so that no two payments look alike.
        let amount = 100_000_000 + round as u64 * 1_000;
        let txid = rpc.call(
            "sendtoaddress",
            json!([
                payee,
                format!("{}.{:08}", amount / 100_000_000, amount % 100_000_000)
                    .parse::<Value>()
                    .expect("an amount")
            ]),
        );
        let tx = rpc.call("getrawtransaction", json!([txid, true]));
        let mut with_payment = Recomputed {
            mine: expected.mine.clone(),
            coins: expected.coins.clone(),
            height: expected.height,
        };
        with_payment.apply_tx(&tx, u64::MAX);
        // Unconfirmed coins count at once; treat them as not coinbase (they are not).
        check_wallet(
            &mut rpc,
            &with_payment,
            &format!("round {round}, after the payment"),
        );

        let before = expected.height;
        let hashes = rpc
            .try_call("generatetoaddress", json!([BLOCKS_PER_ROUND, payer]))
            .unwrap_or_else(|e| panic!("round {round}: a block was refused: {e}"));
        let hashes = hashes.as_array().expect("hashes").clone();
        assert_eq!(hashes.len() as u64, BLOCKS_PER_ROUND, "round {round}");
        expected.apply_blocks(&mut rpc, &hashes);
        assert_eq!(expected.height, before + BLOCKS_PER_ROUND, "round {round}");
        assert_eq!(
            rpc.call("getblockcount", json!([])).as_u64(),
            Some(expected.height),
            "round {round}"
        );
        let confirmed = rpc.call("getblock", json!([hashes[0], 1]));
        assert!(
            confirmed["tx"].as_array().expect("txids").contains(&txid),
            "round {round}: the payment is in the first block"
        );
        assert_eq!(
            rpc.call("getrawmempool", json!([])),
            json!([]),
            "round {round}: the pool still holds what the blocks confirmed"
        );
        check_wallet(
            &mut rpc,
            &expected,
            &format!("round {round}, after the blocks"),
        );
    }
}
