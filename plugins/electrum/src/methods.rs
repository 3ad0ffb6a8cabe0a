//! The protocol's methods (version 1.4, as electrs and Fulcrum serve it), answered from
//! the index, the chain and the mempool. Errors are electrs's: the JSON-RPC codes for
//! malformed requests (-32700, -32600, -32601, -32602), 1 for a request the server
//! refuses, 2 for what the node refused (a broadcast, an unknown transaction).

use std::collections::HashMap;
use std::sync::Arc;

use node_api::chain::{deserialize, serialize, Hash256, Transaction};
use node_api::{json, RpcRegistry};
use serde_json::{json, Value};

use crate::index::Shared;
use crate::status::{merkle_branch, parse_script_hash, status_hash};
use crate::store::{ScriptHash, StoreError};

/// The protocol version served.
pub(crate) const PROTOCOL_VERSION: &str = "1.4";
/// Headers `blockchain.block.headers` answers at most (the protocol's chunk).
const MAX_HEADERS: u32 = 2016;
/// The server's name in `server.version` and `server.features`.
pub(crate) const SERVER_NAME: &str = concat!("node-electrum/", env!("CARGO_PKG_VERSION"));

/// An error answer: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallError {
    pub(crate) code: i64,
    pub(crate) message: String,
}

impl CallError {
    pub(crate) fn parse() -> Self {
        CallError {
            code: -32700,
            message: "parse error".into(),
        }
    }
    pub(crate) fn invalid_request() -> Self {
        CallError {
            code: -32600,
            message: "invalid request".into(),
        }
    }
    fn method_not_found() -> Self {
        CallError {
            code: -32601,
            message: "method not found".into(),
        }
    }
    fn invalid_params() -> Self {
        CallError {
            code: -32602,
            message: "invalid params".into(),
        }
    }
    /// A request the server refuses (electrs's "bad request").
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        CallError {
            code: 1,
            message: message.into(),
        }
    }
    /// What the node refused (electrs passes bitcoind's error on with code 2).
    fn node(message: impl Into<String>) -> Self {
        CallError {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CallError {
    fn from(e: StoreError) -> Self {
        CallError::bad(e.to_string())
    }
}

type Answer = Result<Value, CallError>;

/// One connection's protocol state.
#[derive(Default)]
pub(crate) struct Session {
    /// Subscribed scripts and the status last sent for each.
    pub(crate) scripts: HashMap<ScriptHash, Option<[u8; 32]>>,
    /// The tip last sent, once `blockchain.headers.subscribe` was called.
    pub(crate) tip: Option<Hash256>,
}

/// What a connection's methods read, and its limits.
pub(crate) struct Server {
    pub(crate) shared: Arc<Shared>,
    pub(crate) rpc: Arc<RpcRegistry>,
    pub(crate) banner: String,
    pub(crate) max_subscriptions: usize,
    /// The plain listener's address, for `server.features`.
    pub(crate) tcp_addr: Option<std::net::SocketAddr>,
    /// The TLS listener's address, for `server.features`.
    pub(crate) ssl_addr: Option<std::net::SocketAddr>,
}

fn param<T: serde::de::DeserializeOwned>(params: &[Value], i: usize) -> Result<T, CallError> {
    let value = params.get(i).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|_| CallError::invalid_params())
}

fn optional<T: serde::de::DeserializeOwned>(
    params: &[Value],
    i: usize,
) -> Result<Option<T>, CallError> {
    match params.get(i) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|_| CallError::invalid_params()),
    }
}

fn script_param(params: &[Value]) -> Result<ScriptHash, CallError> {
    let text: String = param(params, 0)?;
    parse_script_hash(&text).ok_or_else(|| CallError::bad(format!("invalid scripthash {text:?}")))
}

fn txid_param(params: &[Value]) -> Result<Hash256, CallError> {
    let text: String = param(params, 0)?;
    text.parse()
        .map_err(|_| CallError::bad(format!("invalid txid {text:?}")))
}

fn status_json(status: Option<[u8; 32]>) -> Value {
    status.map_or(Value::Null, |s| Value::String(hex::encode(s)))
}

fn btc_per_kb(sats: u64) -> Value {
    json!(sats as f64 / 1e8)
}

impl Server {
    /// Answers one call.
    pub(crate) fn call(&self, session: &mut Session, method: &str, params: &[Value]) -> Answer {
        match method {
            "server.version" => self.version(params),
            "server.banner" => Ok(json!(self.banner)),
            "server.ping" => Ok(Value::Null),
            "server.donation_address" => Ok(Value::Null),
            "server.peers.subscribe" => Ok(json!([])),
            "server.features" => self.features(),
            "blockchain.headers.subscribe" => {
                let tip = self.shared.chain.tip();
                session.tip = Some(tip.hash);
                Ok(header_notification(tip.height, &tip.header))
            }
            "blockchain.block.header" => self.block_header(params),
            "blockchain.block.headers" => self.block_headers(params),
            "blockchain.estimatefee" => self.estimate_fee(params),
            "blockchain.relayfee" => Ok(btc_per_kb(
                self.shared
                    .mempool
                    .as_ref()
                    .map_or(0, |m| m.info().min_relay_fee_per_kb),
            )),
            "blockchain.scripthash.get_balance" => {
                let (confirmed, unconfirmed) = self.shared.balance(&script_param(params)?)?;
                Ok(json!({ "confirmed": confirmed, "unconfirmed": unconfirmed }))
            }
            "blockchain.scripthash.get_history" => {
                let rows = self.shared.history(&script_param(params)?)?;
                Ok(Value::Array(rows.iter().map(|r| r.to_json()).collect()))
            }
            "blockchain.scripthash.get_mempool" => {
                let rows = self.shared.mempool_history(&script_param(params)?)?;
                Ok(Value::Array(rows.iter().map(|r| r.to_json()).collect()))
            }
            "blockchain.scripthash.listunspent" => {
                let rows = self.shared.unspent(&script_param(params)?)?;
                Ok(Value::Array(
                    rows.iter()
                        .map(|(outpoint, value, height)| {
                            json!({
                                "tx_hash": outpoint.txid.to_string(),
                                "tx_pos": outpoint.vout,
                                "height": height,
                                "value": value,
                            })
                        })
                        .collect(),
                ))
            }
            "blockchain.scripthash.subscribe" => {
                let script = script_param(params)?;
                if let Some(status) = session.scripts.get(&script) {
                    return Ok(status_json(*status));
                }
                if session.scripts.len() >= self.max_subscriptions {
                    return Err(CallError::bad(format!(
                        "subscription limit of {} scripthashes per connection reached",
                        self.max_subscriptions
                    )));
                }
                let status = status_hash(&self.shared.history(&script)?);
                session.scripts.insert(script, status);
                Ok(status_json(status))
            }
            "blockchain.scripthash.unsubscribe" => {
                let script = script_param(params)?;
                Ok(json!(session.scripts.remove(&script).is_some()))
            }
            "blockchain.transaction.broadcast" => self.broadcast(params),
            "blockchain.transaction.get" => self.transaction(params),
            "blockchain.transaction.get_merkle" => self.merkle(params),
            "blockchain.transaction.id_from_pos" => self.id_from_pos(params),
            "mempool.get_fee_histogram" => Ok(self.fee_histogram()),
            _ => Err(CallError::method_not_found()),
        }
    }

    /// The status of `script` now, for notifications.
    pub(crate) fn status(&self, script: &ScriptHash) -> Result<Option<[u8; 32]>, CallError> {
        Ok(status_hash(&self.shared.history(script)?))
    }

    fn version(&self, params: &[Value]) -> Answer {
        let client: Option<String> = optional(params, 0)?;
        let (min, max) = match params.get(1) {
            None | Some(Value::Null) => {
                (PROTOCOL_VERSION.to_string(), PROTOCOL_VERSION.to_string())
            }
            Some(Value::String(exact)) => (exact.clone(), exact.clone()),
            Some(Value::Array(range)) if range.len() == 2 => {
                (param::<String>(range, 0)?, param::<String>(range, 1)?)
            }
            Some(_) => return Err(CallError::invalid_params()),
        };
        let ours = parse_version(PROTOCOL_VERSION);
        let (lo, hi) = (parse_version(&min), parse_version(&max));
        if lo.is_none() || hi.is_none() || !(lo <= ours && ours <= hi) {
            return Err(CallError::bad(format!(
                "unsupported request {:?} by {}",
                params.get(1).cloned().unwrap_or(Value::Null),
                client.unwrap_or_default()
            )));
        }
        Ok(json!([SERVER_NAME, PROTOCOL_VERSION]))
    }

    fn features(&self) -> Answer {
        let genesis = self.shared.chain.hash_at(0).unwrap_or_default();
        // The protocol's `hosts`: per host, its `tcp_port` and `ssl_port` (null when not
        // served there).
        let mut hosts = serde_json::Map::new();
        for (addr, port_key) in [(self.tcp_addr, "tcp_port"), (self.ssl_addr, "ssl_port")] {
            let Some(addr) = addr else { continue };
            let host = hosts
                .entry(addr.ip().to_string())
                .or_insert_with(|| json!({"tcp_port": null, "ssl_port": null}));
            host[port_key] = json!(addr.port());
        }
        Ok(json!({
            "genesis_hash": genesis.to_string(),
            "hosts": hosts,
            "protocol_max": PROTOCOL_VERSION,
            "protocol_min": PROTOCOL_VERSION,
            "pruning": null,
            "server_version": SERVER_NAME,
            "hash_function": "sha256",
        }))
    }

    fn header_hex(&self, height: u32) -> Result<String, CallError> {
        let header = self
            .shared
            .chain
            .hash_at(height)
            .and_then(|hash| self.shared.chain.entry(&hash))
            .ok_or_else(|| CallError::bad(format!("no header at {height}")))?
            .header;
        Ok(hex::encode(header.to_bytes()))
    }

    /// The branch of block `height` to the root of the block hashes `0..=cp_height`.
    fn checkpoint_proof(&self, height: u32, cp_height: u32) -> Answer {
        let tip = self.shared.chain.tip().height;
        if height > cp_height {
            return Err(CallError::bad(format!(
                "header height {height} must be <= cp_height {cp_height}"
            )));
        }
        if cp_height > tip {
            return Err(CallError::bad(format!(
                "cp_height {cp_height} must be <= tip height {tip}"
            )));
        }
        let mut hashes = Vec::with_capacity(cp_height as usize + 1);
        for h in 0..=cp_height {
            hashes.push(
                self.shared
                    .chain
                    .hash_at(h)
                    .ok_or_else(|| CallError::bad(format!("no header at {h}")))?,
            );
        }
        let (branch, root) = merkle_branch(&hashes, height as usize);
        Ok(json!({
            "branch": branch.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "root": root.to_string(),
        }))
    }

    fn block_header(&self, params: &[Value]) -> Answer {
        let height: u32 = param(params, 0)?;
        let cp_height: u32 = optional(params, 1)?.unwrap_or(0);
        let header = self.header_hex(height)?;
        if cp_height == 0 {
            return Ok(json!(header));
        }
        let mut proof = self.checkpoint_proof(height, cp_height)?;
        proof["header"] = json!(header);
        Ok(proof)
    }

    fn block_headers(&self, params: &[Value]) -> Answer {
        let start: u32 = param(params, 0)?;
        let count: u32 = param(params, 1)?;
        let cp_height: u32 = optional(params, 2)?.unwrap_or(0);
        let tip = self.shared.chain.tip().height;
        let end = (u64::from(start) + u64::from(count.min(MAX_HEADERS))).min(u64::from(tip) + 1);
        let mut hex_headers = String::new();
        let mut returned = 0u32;
        for height in u64::from(start)..end {
            hex_headers.push_str(&self.header_hex(height as u32)?);
            returned += 1;
        }
        let mut answer = json!({ "count": returned, "hex": hex_headers, "max": MAX_HEADERS });
        if cp_height != 0 && returned > 0 {
            let proof = self.checkpoint_proof(start + returned - 1, cp_height)?;
            answer["branch"] = proof["branch"].clone();
            answer["root"] = proof["root"].clone();
        }
        Ok(answer)
    }

    fn estimate_fee(&self, params: &[Value]) -> Answer {
        let blocks: u32 = param(params, 0)?;
        // The mempool module's estimator, through its RPC method (as electrs asks
        // bitcoind); without it, or without data, the protocol's -1.
        let runtime = tokio::runtime::Handle::current();
        let answer = runtime.block_on(self.rpc.call("estimatesmartfee", json!([blocks.max(1)])));
        Ok(match answer.ok().and_then(|v| v.get("feerate").cloned()) {
            Some(rate) => rate,
            None => json!(-1),
        })
    }

    fn broadcast(&self, params: &[Value]) -> Answer {
        let text: String = param(params, 0)?;
        let bytes = hex::decode(text.trim())
            .map_err(|e| CallError::bad(format!("invalid transaction hex: {e}")))?;
        let tx: Transaction =
            deserialize(&bytes).map_err(|e| CallError::bad(format!("invalid transaction: {e}")))?;
        let mempool = self
            .shared
            .mempool
            .as_ref()
            .ok_or_else(|| CallError::node("no mempool runs on this node"))?;
        let accepted = mempool
            .accept(tx)
            .map_err(|e| CallError::node(e.to_string()))?;
        // The index's view of the pool follows at once, so a subscriber hears of it.
        self.shared.wake.notify_one();
        Ok(json!(accepted.txid.to_string()))
    }

    /// A transaction and, when confirmed, the height of its block.
    fn find_transaction(&self, txid: &Hash256) -> Result<(Transaction, Option<u32>), CallError> {
        if let Some((height, pos)) = self.shared.store.tx_position(txid)? {
            let block = self
                .shared
                .chain
                .hash_at(height)
                .and_then(|hash| self.shared.chain.block(&hash).ok().flatten());
            if let Some(tx) = block.and_then(|b| b.txs.into_iter().nth(pos as usize)) {
                if tx.txid() == *txid {
                    return Ok((tx, Some(height)));
                }
            }
        }
        if let Some(tx) = self.shared.mempool.as_ref().and_then(|m| m.get(txid)) {
            return Ok(((*tx).clone(), None));
        }
        Err(CallError::node(
            "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
        ))
    }

    fn transaction(&self, params: &[Value]) -> Answer {
        let txid = txid_param(params)?;
        let verbose: bool = optional(params, 1)?.unwrap_or(false);
        let (tx, height) = self.find_transaction(&txid)?;
        let raw = hex::encode(serialize(&tx));
        if !verbose {
            return Ok(json!(raw));
        }
        let chain = &self.shared.chain;
        let mut answer = json::tx_json(&tx, &chain.spec());
        answer["hex"] = json!(raw);
        if let Some(entry) = height
            .and_then(|h| chain.hash_at(h))
            .and_then(|h| chain.entry(&h))
        {
            let tip = chain.tip().height;
            answer["blockhash"] = json!(entry.header.hash().to_string());
            answer["confirmations"] = json!(tip.saturating_sub(entry.height) + 1);
            answer["time"] = json!(entry.header.time);
            answer["blocktime"] = json!(entry.header.time);
        }
        Ok(answer)
    }

    fn block_txids(&self, height: u32) -> Result<Vec<Hash256>, CallError> {
        let chain = &self.shared.chain;
        let block = chain
            .hash_at(height)
            .and_then(|hash| chain.block(&hash).ok().flatten())
            .ok_or_else(|| CallError::bad(format!("missing block at {height}")))?;
        Ok(block.txids())
    }

    fn merkle(&self, params: &[Value]) -> Answer {
        let txid = txid_param(params)?;
        let height: u32 = param(params, 1)?;
        let txids = self.block_txids(height)?;
        let pos = txids
            .iter()
            .position(|t| *t == txid)
            .ok_or_else(|| CallError::bad(format!("missing txid {txid} in block at {height}")))?;
        let (branch, _) = merkle_branch(&txids, pos);
        Ok(json!({
            "block_height": height,
            "pos": pos,
            "merkle": branch.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        }))
    }

    fn id_from_pos(&self, params: &[Value]) -> Answer {
        let height: u32 = param(params, 0)?;
        let pos: usize = param(params, 1)?;
        let merkle: bool = optional(params, 2)?.unwrap_or(false);
        let txids = self.block_txids(height)?;
        let txid = txids.get(pos).ok_or_else(|| {
            CallError::bad(format!("invalid tx_pos {pos} in block at height {height}"))
        })?;
        if !merkle {
            return Ok(json!(txid.to_string()));
        }
        let (branch, _) = merkle_branch(&txids, pos);
        Ok(json!({
            "tx_hash": txid.to_string(),
            "merkle": branch.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        }))
    }

    /// `[[fee_rate, vsize], ...]`, rates falling, in bands of powers of two of sat/vB
    /// (electrs's bins); legacy transactions' vsize is their size.
    fn fee_histogram(&self) -> Value {
        let pool = self.shared.pool.read().unwrap_or_else(|e| e.into_inner());
        let mut bins = [0u64; 65];
        for (fee, size) in pool.fees() {
            let rate = fee / size.max(1) as u64;
            bins[rate.leading_zeros() as usize] += size as u64;
        }
        let rows: Vec<Value> = bins
            .iter()
            .enumerate()
            .filter(|(_, vsize)| **vsize > 0)
            .map(|(i, vsize)| {
                // The band's lower bound: 2^(63-i), and 0 for the last band.
                let rate = if i >= 64 { 0 } else { 1u64 << (63 - i) };
                json!([rate, vsize])
            })
            .collect();
        Value::Array(rows)
    }
}

/// `{hex, height}` of a header: what `blockchain.headers.subscribe` answers and sends.
pub(crate) fn header_notification(height: u32, header: &node_api::chain::BlockHeader) -> Value {
    json!({ "hex": hex::encode(header.to_bytes()), "height": height })
}

fn parse_version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|p| p.parse().ok()).collect()
}
