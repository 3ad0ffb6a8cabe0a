//! The JSON-RPC request parser of the RPC module: an HTTP body as a client may send it,
//! answered as the server does once it has read the body (parse, single or batch, each
//! call's id, version, method and params, named parameters mapped to positions, the
//! method run, the reply shaped for its version).
//!
//! Input: the body. The methods are small stand-ins for the node's, with the same kinds
//! of parameters: any JSON, a height, a flag, a label, an amount. Checked: no panic (a
//! panicking method would be caught by the server, but libFuzzer stops at any panic, so
//! these methods do not panic); the status is one the server sends; the body is one JSON
//! value and a newline; a batch gets an array of at most one reply per call; an amount
//! read from the request prints back to the same amount.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use node_kernel::rpc::{amount, parse_amount, Param};
use node_kernel::{RpcError, RpcParams, RpcRegistry};
use serde_json::{json, Value};

const ECHO: &[Param] = &[Param::required("a"), Param::optional("b")];
const HEIGHT: &[Param] = &[
    Param::required("height"),
    Param::optional("verbose"),
    Param::optional("label"),
];
const AMOUNT: &[Param] = &[Param::required("amount")];
const NONE: &[Param] = &[];

fn registry() -> &'static RpcRegistry {
    static REGISTRY: OnceLock<RpcRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let r = RpcRegistry::default();
        r.register("fuzz", "echo", ECHO, "", |p: RpcParams| async move {
            Ok(json!([p.get(0).cloned(), p.get(1).cloned()]))
        })
        .expect("a new name");
        r.register("fuzz", "height", HEIGHT, "", |p: RpcParams| async move {
            let height: u64 = p.required(0)?;
            let verbose: Option<bool> = p.optional(1)?;
            let label: Option<String> = p.optional(2)?;
            Ok(json!({"height": height, "verbose": verbose, "label": label}))
        })
        .expect("a new name");
        r.register("fuzz", "amount", AMOUNT, "", |p: RpcParams| async move {
            let value = p.get(0).cloned().unwrap_or_default();
            let sats = parse_amount(&value)?;
            let printed = amount(sats);
            assert_eq!(
                parse_amount(&printed).ok(),
                Some(sats),
                "{value} -> {printed}"
            );
            Ok(printed)
        })
        .expect("a new name");
        r.register("fuzz", "fail", NONE, "", |_| async {
            Err(RpcError::new(-8, "always fails"))
        })
        .expect("a new name");
        r
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = runtime().block_on(node_rpc::fuzzing::answer(data, registry()));
    assert!(
        matches!(status, 200 | 204 | 400 | 404 | 500),
        "status {status}"
    );
    let Some(body) = body else {
        assert_eq!(status, 204);
        return;
    };
    assert_eq!(body.last(), Some(&b'\n'));
    let reply: Value = serde_json::from_slice(&body).expect("the reply is JSON");
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Array(calls)) => {
            let replies = reply.as_array().expect("a batch gets an array");
            assert!(replies.len() <= calls.len().max(1));
        }
        Ok(Value::Object(_)) => {
            assert!(reply.get("id").is_some(), "a reply without id: {reply}");
        }
        _ => assert_ne!(status, 200),
    }
});
