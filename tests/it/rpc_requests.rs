//! What ordinary and hostile clients send, over raw HTTP to a real `node` process: wrong
//! argument counts answered as Core does (-1 with the usage), amounts in exponent form
//! under the 8-decimal rule, a body the size of the chain's largest block in hex
//! admitted (and one over the limit refused), a body limit set below that block refused
//! at start, and batches bounded in calls and reply bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{node_output, regtest, write_profile, TestNode};

const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// One POST on a fresh connection: the HTTP status and the body.
fn post(addr: SocketAddr, authorization: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(CALL_DEADLINE))
        .expect("timeout");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A refused body may be cut short by the server's close: the status still comes.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn cookie_auth(node: &TestNode) -> String {
    let (user, password) =
        node_rpc::read_cookie(&node.datadir().join(node_rpc::COOKIE_FILE)).expect("cookie");
    node_rpc::basic_authorization(&user, &password)
}

fn rpc_addr(node: &TestNode) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], node.rpc_port))
}

/// A legacy call's reply, parsed.
fn call(node: &TestNode, method: &str, params: &str) -> (u16, Value) {
    let body = format!(r#"{{"method":"{method}","params":{params},"id":1}}"#);
    let (status, body) = post(rpc_addr(node), &cookie_auth(node), &body);
    let reply = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, reply)
}

#[test]
fn wrong_counts_exponent_amounts_and_block_sized_bodies_as_core() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let address = node.text("getnewaddress", &[]);
    node.generate(101, &address);

    // Wrong argument counts: -1 (RPC_MISC_ERROR) with the usage, HTTP 500 as Core.
    for (method, params, usage) in [
        ("getblockhash", "[]", "getblockhash height\n"),
        ("getblockcount", "[1]", "getblockcount\n"),
        ("getblock", r#"["00", 1, 2]"#, "getblock \"blockhash\""),
    ] {
        let (status, reply) = call(&node, method, params);
        assert_eq!(status, 500, "{method} {params}: {reply}");
        assert_eq!(reply["error"]["code"], -1, "{method} {params}: {reply}");
        let message = reply["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with(usage) && message.contains("Examples:"),
            "{method} {params}: {message}"
        );
    }

    // Amounts as Python's json.dumps(0.00001) writes them; more than 8 decimals still
    // refused, whatever the form.
    let (status, reply) = call(&node, "sendtoaddress", &format!(r#"["{address}", 1e-05]"#));
    assert_eq!(status, 200, "{reply}");
    let txid = reply["result"].as_str().expect("a txid");
    let tx = node.rpc("gettransaction", &[txid]);
    assert_eq!(
        tx["details"][0]["amount"]
            .to_string()
            .trim_start_matches('-'),
        "0.00001000",
        "{tx}"
    );
    for amount in ["1e-09", "1.5E-8", "0.000000001"] {
        let (_, reply) = call(
            &node,
            "sendtoaddress",
            &format!(r#"["{address}", {amount}]"#),
        );
        assert_eq!(reply["error"]["code"], -3, "{amount}: {reply}");
    }

    // A body carrying the chain's largest block in hex reaches submitblock (which
    // decodes it; this one is not a block), where it used to be refused with 413.
    let max_block = regtest().max_block_size;
    let hex = "00".repeat(max_block);
    let (status, reply) = call(&node, "submitblock", &format!(r#"["{hex}"]"#));
    assert_eq!(status, 500, "{reply}");
    assert_eq!(reply["error"]["code"], -22, "{reply}");
    // The default's room is 1 MiB beyond the hex: a body past that is refused unread.
    let over = "0".repeat(2 * max_block + 1024 + node_rpc::BODY_ROOM + 1);
    let (status, _) = post(rpc_addr(&node), &cookie_auth(&node), &over);
    assert_eq!(status, 413);

    // Batches: at most rpc.max_batch_calls (1,000 by default), refused whole beyond.
    let calls: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "getblockcount", "id": i}))
        .collect();
    let (status, body) = post(
        rpc_addr(&node),
        &cookie_auth(&node),
        &Value::Array(calls.clone()).to_string(),
    );
    assert_eq!(status, 400, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    let (status, body) = post(
        rpc_addr(&node),
        &cookie_auth(&node),
        &Value::Array(calls[..1000].to_vec()).to_string(),
    );
    assert_eq!(status, 200);
    let replies: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(replies.as_array().expect("array").len(), 1000);
    assert!(replies
        .as_array()
        .expect("array")
        .iter()
        .all(|r| r["result"] == 101));
}

#[test]
fn a_batch_past_its_reply_bytes_stops_running_calls() {
    let node = TestNode::start_wallet(&[], "", &["rpc.max_batch_response_bytes=20000".into()]);
    let tip = node.tip();
    // A verbose block header is ~600 bytes: 100 of them pass 20,000 bytes.
    let calls: Vec<Value> = (0..100)
        .map(|i| json!({"method": "getblockheader", "params": [tip], "id": i}))
        .collect();
    let (status, body) = post(
        rpc_addr(&node),
        &cookie_auth(&node),
        &Value::Array(calls).to_string(),
    );
    assert_eq!(status, 200);
    let replies: Value = serde_json::from_str(&body).expect("json");
    let replies = replies.as_array().expect("array");
    assert_eq!(replies.len(), 100, "a reply per call");
    let refused = replies.iter().filter(|r| r["error"]["code"] == -7).count();
    let answered = replies.iter().filter(|r| r["error"].is_null()).count();
    assert_eq!(answered + refused, 100);
    assert!(
        answered >= 20 && refused >= 50,
        "{answered} answered, {refused} refused"
    );
    assert!(
        body.len() < 20_000 + 4_000 + refused * 200,
        "{} bytes",
        body.len()
    );
}

#[test]
fn a_body_limit_below_the_largest_block_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        "node.toml",
        "[node]\nmodules = [\"rpc\"]\nchain = \"regtest\"\n\n[rpc]\nmax_body_bytes = 1048576\n",
    );
    let datadir = dir.path().join("data");
    let out = node_output(
        &[
            "--profile",
            profile.to_str().expect("utf-8"),
            "--datadir",
            datadir.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_body_bytes") && err.contains("submitblock") && err.contains("2001024"),
        "{err}"
    );
}
