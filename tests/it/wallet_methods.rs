//! The wallet's Core methods against real nodes on regtest: transactions and
//! their listings, payments to many, fee rate, abandoning, fee estimation, encryption,
//! backups and key import. Results with Core's fields, errors with Core's codes.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use node_chain::PrivateKey;
use serde_json::Value;

use crate::common::{regtest, wait_for, TestNode};

const WAIT: Duration = Duration::from_secs(30);

/// Signed satoshis of an amount printed with 8 decimals.
fn sats(value: &Value) -> i64 {
    assert!(value.is_number(), "not an amount: {value}");
    let text = value.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest.to_string()),
        None => (1, text.clone()),
    };
    let (whole, frac) = digits.split_once('.').expect("8 decimals");
    assert_eq!(frac.len(), 8, "{text}");
    sign * (whole.parse::<i64>().expect("whole") * 100_000_000 + frac.parse::<i64>().expect("frac"))
}

/// An address no wallet here holds a key for.
fn outside_address() -> String {
    PrivateKey::generate()
        .address(regtest().address_version)
        .to_string()
}

/// A node with 1 mature coinbase (50 coins) at a fresh wallet address, returned.
fn funded_node(sets: &[String]) -> (TestNode, String) {
    let node = TestNode::start(sets);
    let address = node.text("getnewaddress", &["mining"]);
    node.generate(101, &address);
    (node, address)
}

fn entries_of<'a>(list: &'a Value, txid: &str) -> Vec<&'a Value> {
    list.as_array()
        .expect("an array")
        .iter()
        .filter(|e| e["txid"] == txid)
        .collect()
}

#[test]
fn wallet_methods_a_payment_sent_and_received_in_gettransaction_and_listtransactions() {
    let (node, _) = funded_node(&[]);
    let outside = outside_address();
    let friend = node.text("getnewaddress", &["friend"]);

    // Sent to someone else: amount -10 (fee apart), the fee as the pool took it.
    let sent = node.text("sendtoaddress", &[&outside, "10"]);
    let pool_fee = sats(&node.rpc("getmempoolentry", &[&sent])["fees"]["base"]);
    let tx = node.rpc("gettransaction", &[&sent]);
    assert_eq!(sats(&tx["amount"]), -1_000_000_000, "{tx}");
    assert_eq!(sats(&tx["fee"]), -pool_fee, "{tx}");
    assert!(pool_fee > 0);
    assert_eq!(tx["confirmations"], 0);
    assert_eq!(tx["trusted"], true);
    assert!(tx.get("blockhash").is_none(), "{tx}");
    assert_eq!(tx["txid"], sent.as_str());
    assert!(tx["hex"].as_str().is_some_and(|h| !h.is_empty()));
    let details = tx["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "change is not a detail: {tx}");
    assert_eq!(details[0]["category"], "send");
    assert_eq!(details[0]["address"], outside.as_str());
    assert_eq!(sats(&details[0]["amount"]), -1_000_000_000);
    assert_eq!(sats(&details[0]["fee"]), -pool_fee);
    assert_eq!(details[0]["vout"], 0);
    assert_eq!(details[0]["abandoned"], false);

    // Confirmed: the block's position.
    let block = node.generate(1, &outside_address()).remove(0);
    let tx = node.rpc("gettransaction", &[&sent]);
    assert_eq!(tx["confirmations"], 1);
    assert_eq!(tx["blockhash"], block.as_str());
    assert_eq!(tx["blockheight"], 102);
    assert_eq!(tx["blockindex"], 1);
    assert!(tx["blocktime"].as_u64().is_some_and(|t| t > 0));
    assert!(tx.get("trusted").is_none(), "{tx}");
    assert!(tx["time"].as_u64() <= tx["timereceived"].as_u64());

    // Received at a wallet address (sent to ourselves): send and receive, amount 0.
    let to_self = node.text("sendtoaddress", &[&friend, "5"]);
    let tx = node.rpc("gettransaction", &[&to_self]);
    assert_eq!(sats(&tx["amount"]), 0, "{tx}");
    let categories: Vec<(&str, i64)> = tx["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["category"].as_str().unwrap(), sats(&d["amount"])))
        .collect();
    assert_eq!(
        categories,
        [("send", -500_000_000), ("receive", 500_000_000)]
    );
    assert_eq!(
        sats(&node.rpc("getreceivedbyaddress", &[&friend, "0"])),
        500_000_000
    );
    assert_eq!(sats(&node.rpc("getreceivedbyaddress", &[&friend])), 0);
    node.generate(1, &outside_address());
    assert_eq!(
        sats(&node.rpc("getreceivedbyaddress", &[&friend])),
        500_000_000
    );

    // listtransactions: oldest first, the last `count`; the coinbases are generate or
    // immature; label filters.
    let list = node.rpc("listtransactions", &[]);
    let list_array = list.as_array().unwrap();
    assert_eq!(list_array.len(), 10, "{list}");
    let last = &list_array[9];
    assert_eq!(last["txid"], to_self.as_str(), "{list}");
    assert_eq!(last["category"], "receive");
    assert_eq!(last["label"], "friend");
    assert_eq!(last["confirmations"], 1);
    let all = node.rpc("listtransactions", &["*", "1000"]);
    let send = entries_of(&all, &sent);
    assert_eq!(send.len(), 1);
    assert_eq!(sats(&send[0]["amount"]), -1_000_000_000);
    assert_eq!(sats(&send[0]["fee"]), -pool_fee);
    assert_eq!(send[0]["confirmations"], 2);
    let categories: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["category"].as_str().unwrap())
        .collect();
    assert!(categories.contains(&"generate"), "{all}");
    assert!(categories.contains(&"immature"), "{all}");
    let skipped = node.rpc("listtransactions", &["*", "1", "1"]);
    assert_eq!(skipped.as_array().unwrap()[0], list_array[8]);
    let friends = node.rpc("listtransactions", &["friend"]);
    assert_eq!(friends.as_array().unwrap().len(), 1, "{friends}");

    // Errors, with Core's codes.
    node.fails_with(
        "gettransaction",
        &[&"ab".repeat(32)],
        -5,
        "Invalid or non-wallet transaction id",
    );
    node.fails_with("gettransaction", &["xyz"], -8, "txid");
    node.fails_with("listtransactions", &["*", "-1"], -8, "Negative count");
    node.fails_with(
        "getreceivedbyaddress",
        &["nonsense"],
        -5,
        "Invalid Bitcoin address",
    );
    node.fails_with(
        "getreceivedbyaddress",
        &[&outside],
        -4,
        "Address not found in wallet",
    );
}

#[test]
fn wallet_methods_listsinceblock_across_blocks() {
    let (node, _) = funded_node(&[]);
    let before = node.tip();
    let first = node.text("sendtoaddress", &[&outside_address(), "1"]);
    node.generate(1, &outside_address());
    let middle = node.tip();
    let second = node.text("sendtoaddress", &[&outside_address(), "2"]);

    let since = node.rpc("listsinceblock", &[&before]);
    assert_eq!(
        entries_of(&since["transactions"], &first).len(),
        1,
        "{since}"
    );
    assert_eq!(
        entries_of(&since["transactions"], &second).len(),
        1,
        "{since}"
    );
    assert_eq!(since["lastblock"], middle.as_str());
    assert_eq!(since["removed"], serde_json::json!([]));

    // From the middle block: only what came after it (the unconfirmed payment).
    let since = node.rpc("listsinceblock", &[&middle]);
    assert!(
        entries_of(&since["transactions"], &first).is_empty(),
        "{since}"
    );
    assert_eq!(
        entries_of(&since["transactions"], &second)[0]["confirmations"],
        0
    );

    // Confirmed one block later; target_confirmations picks the block to come back with.
    node.generate(1, &outside_address());
    let since = node.rpc("listsinceblock", &[&middle, "2"]);
    assert_eq!(since["lastblock"], middle.as_str());
    assert_eq!(
        entries_of(&since["transactions"], &second)[0]["confirmations"],
        1
    );
    // Without a block: every transaction, coinbases included.
    let all = node.rpc("listsinceblock", &[]);
    assert!(
        all["transactions"].as_array().unwrap().len() >= 103,
        "{all}"
    );

    node.fails_with("listsinceblock", &[&"00".repeat(32)], -5, "Block not found");
    node.fails_with("listsinceblock", &[&middle, "0"], -8, "Invalid parameter");
}

#[test]
fn wallet_methods_sendmany_settxfee_and_getrawtransaction_of_a_wallet_transaction() {
    let (node, _) = funded_node(&[]);
    let (a, b) = (outside_address(), outside_address());
    let amounts = format!("{{\"{a}\": 1.5, \"{b}\": 2.25}}");
    let txid = node.text("sendmany", &["", &amounts]);
    let raw = node.rpc("getrawtransaction", &[&txid, "true"]);
    let paid: Vec<(String, i64)> = raw["vout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["scriptPubKey"]["address"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                sats(&o["value"]),
            )
        })
        .collect();
    assert!(paid.contains(&(a.clone(), 150_000_000)), "{raw}");
    assert!(paid.contains(&(b.clone(), 225_000_000)), "{raw}");
    let details = node.rpc("gettransaction", &[&txid])["details"].clone();
    assert_eq!(details.as_array().unwrap().len(), 2, "{details}");

    // Confirmed: the wallet gives getrawtransaction the block, as Core without -txindex.
    let block = node.generate(1, &outside_address()).remove(0);
    let raw = node.rpc("getrawtransaction", &[&txid, "true"]);
    assert_eq!(raw["blockhash"], block.as_str(), "{raw}");
    assert_eq!(raw["confirmations"], 1);
    let coinbase = node.rpc("getblock", &[&block])["tx"][0].clone();
    node.fails_with(
        "getrawtransaction",
        &[coinbase.as_str().unwrap(), "true"],
        -5,
        "No such mempool transaction",
    );

    // The fee comes out of the marked recipient.
    let c = outside_address();
    let txid = node.text(
        "sendmany",
        &[
            "",
            &format!("{{\"{c}\": 1}}"),
            "1",
            "",
            &format!("[\"{c}\"]"),
        ],
    );
    let tx = node.rpc("gettransaction", &[&txid]);
    let fee = -sats(&tx["fee"]);
    assert_eq!(
        sats(&tx["details"][0]["amount"]),
        -(100_000_000 - fee),
        "{tx}"
    );

    // settxfee: 50 sat/byte, then back to the configured rate.
    assert_eq!(node.rpc("settxfee", &["0.0005"]), true);
    assert_eq!(sats(&node.rpc("getwalletinfo", &[])["paytxfee"]), 50_000);
    let txid = node.text("sendtoaddress", &[&outside_address(), "1"]);
    let entry = node.rpc("getmempoolentry", &[&txid]);
    let rate = sats(&entry["fees"]["base"]) * 1000 / entry["vsize"].as_i64().unwrap();
    assert!((49_000..=51_000).contains(&rate), "{entry}");
    assert_eq!(node.rpc("settxfee", &["0"]), true);
    assert_eq!(sats(&node.rpc("getwalletinfo", &[])["paytxfee"]), 2_000);

    // Errors.
    node.fails_with("settxfee", &["0.00000100"], -8, "min relay tx fee");
    node.fails_with(
        "sendmany",
        &["", &format!("{{\"{a}\": 100000}}")],
        -6,
        "Insufficient funds",
    );
    node.fails_with(
        "sendmany",
        &["", "{\"nonsense\": 1}"],
        -5,
        "Invalid Bitcoin address",
    );
    node.fails_with("sendmany", &["x", &amounts], -8, "Dummy value");
    node.fails_with("sendmany", &["", "{}"], -8, "at least one recipient");
}

#[test]
fn wallet_methods_abandontransaction_of_a_payment_the_pool_forgot() {
    let (mut node, _) = funded_node(&[]);
    let txid = node.text("sendtoaddress", &[&outside_address(), "1"]);
    node.fails_with(
        "abandontransaction",
        &[&txid],
        -5,
        "Transaction not eligible for abandonment",
    );
    node.fails_with(
        "abandontransaction",
        &[&"ab".repeat(32)],
        -5,
        "Invalid or non-wallet transaction id",
    );
    node.fails_with("abandontransaction", &["xyz"], -8, "txid");

    // Restarted without the pool: the payment is the wallet's, unconfirmed, not pooled.
    node.text("stop", &[]);
    assert!(node.process.wait_exit(WAIT).success());
    let datadir = node.datadir().to_path_buf();
    let restarted = TestNode::start_in(&datadir, &["mempool.persist=false".to_string()]);
    assert_eq!(restarted.rpc("getrawmempool", &[]), serde_json::json!([]));
    assert_eq!(restarted.rpc("abandontransaction", &[&txid]), Value::Null);
    let tx = restarted.rpc("gettransaction", &[&txid]);
    assert_eq!(tx["details"][0]["abandoned"], true, "{tx}");
    assert_eq!(tx["trusted"], false);
    // Its coin is spendable again: all 50 coins less nothing.
    assert_eq!(sats(&restarted.rpc("getbalance", &[])), 5_000_000_000);
}

#[test]
fn wallet_methods_estimatesmartfee_from_confirmed_fee_rates() {
    let (node, _) = funded_node(&[]);
    let none = node.rpc("estimatesmartfee", &["6"]);
    assert_eq!(
        none,
        serde_json::json!({"errors": ["Insufficient data or no feerate found"], "blocks": 6})
    );
    // Three payments at 2000 sat/kB (the wallet's rate) and three at 10000, one block.
    for _ in 0..3 {
        node.text("sendtoaddress", &[&outside_address(), "1"]);
    }
    node.rpc("settxfee", &["0.0001"]);
    for _ in 0..3 {
        node.text("sendtoaddress", &[&outside_address(), "1"]);
    }
    node.generate(1, &outside_address());
    let estimate = node.rpc("estimatesmartfee", &["2"]);
    assert_eq!(estimate["blocks"], 2, "{estimate}");
    // Every sample confirmed in the next block: the lowest rate paid is the answer.
    let rate = sats(&estimate["feerate"]);
    assert!((1_900..=2_100).contains(&rate), "{estimate}");
    let conservative = node.rpc("estimatesmartfee", &["1", "conservative"]);
    assert_eq!(conservative["blocks"], 2, "{conservative}");
    assert!(sats(&conservative["feerate"]) >= rate);

    node.fails_with("estimatesmartfee", &["0"], -8, "conf_target");
    node.fails_with("estimatesmartfee", &["2", "fast"], -8, "estimate_mode");
}

#[test]
fn wallet_methods_encrypted_wallet_locks_unlocks_and_survives_a_restart() {
    let (mut node, mining) = funded_node(&[]);
    let wif = node.text("dumpprivkey", &[&mining]);
    let key = PrivateKey::from_wif(&wif, regtest().wif_version).expect("a WIF key");
    node.fails_with(
        "walletpassphrase",
        &["pass", "60"],
        -15,
        "unencrypted wallet",
    );
    node.fails_with("walletlock", &[], -15, "unencrypted wallet");
    node.fails_with("encryptwallet", &[""], -8, "passphrase can not be empty");

    let answer = node.text("encryptwallet", &["first pass"]);
    assert!(answer.contains("wallet encrypted"), "{answer}");
    assert_eq!(node.rpc("getwalletinfo", &[])["unlocked_until"], 0);
    node.fails_with("encryptwallet", &["again"], -15, "encrypted wallet");

    // On disk: no WIF, no raw secret (as bytes or hex); the file is private.
    let path = node.datadir().join("wallet.json");
    let bytes = std::fs::read(&path).expect("the wallet file");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(&wif));
    let secret = key.secret_bytes();
    assert!(!text.contains(
        &secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    assert!(!bytes.windows(32).any(|w| w == secret));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Locked: addresses and balances still known; no signing, no key export.
    assert_eq!(sats(&node.rpc("getbalance", &[])), 5_000_000_000);
    let outside = outside_address();
    let locked = "Please enter the wallet passphrase with walletpassphrase first";
    node.fails_with("sendtoaddress", &[&outside, "1"], -13, locked);
    node.fails_with("dumpprivkey", &[&mining], -13, locked);
    node.fails_with("walletpassphrase", &["wrong pass", "60"], -14, "incorrect");
    // No passphrase in any message or log line.
    assert!(!node.process.log().contains("first pass"));
    assert!(!node.process.log().contains("wrong pass"));

    node.rpc("walletpassphrase", &["first pass", "600"]);
    let until = node.rpc("getwalletinfo", &[])["unlocked_until"]
        .as_u64()
        .unwrap();
    assert!(until > 0);
    let paid = node.text("sendtoaddress", &[&outside, "1"]);
    assert_eq!(node.rpc("gettransaction", &[&paid])["confirmations"], 0);
    assert_eq!(node.text("dumpprivkey", &[&mining]), wif);
    node.rpc("walletlock", &[]);
    node.fails_with("sendtoaddress", &[&outside, "1"], -13, locked);

    // An unlock for 1 second ends by itself.
    node.rpc("walletpassphrase", &["first pass", "1"]);
    wait_for("the wallet to lock again", WAIT, || {
        (node.rpc("getwalletinfo", &[])["unlocked_until"] == 0).then_some(())
    });
    node.fails_with("sendtoaddress", &[&outside, "1"], -13, locked);

    node.fails_with(
        "walletpassphrasechange",
        &["wrong", "second pass"],
        -14,
        "incorrect",
    );
    node.rpc("walletpassphrasechange", &["first pass", "second pass"]);
    node.fails_with("walletpassphrase", &["first pass", "60"], -14, "incorrect");

    // Restarted: still encrypted, locked, and the new passphrase opens it.
    node.text("stop", &[]);
    assert!(node.process.wait_exit(WAIT).success());
    let datadir = node.datadir().to_path_buf();
    let restarted = TestNode::start_in(&datadir, &[]);
    assert_eq!(restarted.rpc("getwalletinfo", &[])["unlocked_until"], 0);
    restarted.fails_with("dumpprivkey", &[&mining], -13, locked);
    restarted.rpc("walletpassphrase", &["second pass", "60"]);
    assert_eq!(restarted.text("dumpprivkey", &[&mining]), wif);
    assert!(!restarted.process.log().contains("second pass"));
}

#[test]
fn wallet_methods_backup_dump_and_import_into_a_second_node() {
    let (node, _) = funded_node(&[]);
    let saved = node.text("getnewaddress", &["saved"]);
    let paid = node.text("sendtoaddress", &[&saved, "3"]);
    node.generate(1, &outside_address());

    // The backup is the wallet file, private.
    let dir = tempfile::tempdir().expect("tempdir");
    let backup = dir.path().join("backup.json");
    assert_eq!(
        node.rpc("backupwallet", &[backup.to_str().unwrap()]),
        Value::Null
    );
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        std::fs::read(node.datadir().join("wallet.json")).unwrap()
    );
    node.fails_with(
        "backupwallet",
        &[dir.path().join("no/such/dir").to_str().unwrap()],
        -4,
        "Wallet backup failed",
    );

    let wif = node.text("dumpprivkey", &[&saved]);
    node.fails_with("dumpprivkey", &["nonsense"], -5, "Invalid Bitcoin address");
    node.fails_with("dumpprivkey", &[&outside_address()], -4, "is not known");

    // A second node that syncs the chain over P2P, then imports the key.
    let other = TestNode::start(&[format!("peers.connect=[\"{}\"]", node.p2p_addr())]);
    let tip = node.tip();
    wait_for("the second node to sync", WAIT, || {
        (other.tip() == tip).then_some(())
    });
    assert_eq!(sats(&other.rpc("getbalance", &[])), 0);
    other.fails_with(
        "importprivkey",
        &["nonsense"],
        -5,
        "Invalid private key encoding",
    );
    assert_eq!(other.rpc("importprivkey", &[&wif, "imported"]), Value::Null);
    assert_eq!(sats(&other.rpc("getbalance", &[])), 300_000_000);
    let tx = other.rpc("gettransaction", &[&paid]);
    assert_eq!(tx["confirmations"], 1, "{tx}");
    assert_eq!(tx["details"][0]["category"], "receive");
    assert_eq!(tx["details"][0]["label"], "imported");
    assert_eq!(sats(&tx["details"][0]["amount"]), 300_000_000);
    // The imported key signs: its coin can be sent on.
    other.text("sendtoaddress", &[&outside_address(), "1"]);
}
