//! Mining by external programs: `getblocktemplate` (BIP22, with BIP23 long polling and
//! proposals) and `submitblock`, as Bitcoin Core serves them for a chain without segwit.
//!
//! A template is the mempool's best transactions on the tip; the miner builds its own
//! coinbase (BIP34 height, its payout) from `coinbasevalue`. Long polling waits on a
//! watch of (tip, mempool changes): a new tip answers at once, mempool changes after
//! `longpoll_mempool_secs` (Core checks every minute), and nothing after
//! `longpoll_timeout_secs` (a fresh template, which BIP22 allows at any time).
//! Submitted blocks go to the chain like a peer's, so relay announces them as it does
//! the built-in miner's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use node_api::chain::encode::serialize;
use node_api::chain::validation::BlockError;
use node_api::chain::{
    target_from_compact, Block, BlockOutcome, ChainError, ChainEvent, ChainSpec, Hash256,
    ProposalError,
};
use node_api::json::decode_hex;
use node_api::rpc::{codes, Method, Param, RpcError, RpcParams};
use node_api::{
    BoxError, ChainListener, ChainView, ChainWriter, MempoolService, PeerService, StartContext,
};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::rpc_help;
use crate::template::COINBASE_RESERVE;

const GETBLOCKTEMPLATE_PARAMS: &[Param] = &[Param::optional("template_request")
    .object("Format of the template: {\"mode\": \"template\" or \"proposal\", \"data\": hex block of a proposal, \"rules\": [...], \"longpollid\": \"...\"}")
    .default("{}")];
const SUBMITBLOCK_PARAMS: &[Param] = &[
    Param::required("hexdata").hex("the hex-encoded block data to submit"),
    Param::optional("dummy")
        .string("dummy value, for compatibility with BIP22. This value is ignored.")
        .default("ignored"),
];
/// The block version served: Core's (BIP9's top bits, no deployment signalled). The chain
/// checks no version, so miners may roll it.
const TEMPLATE_VERSION: u32 = 0x2000_0000;
/// How long a template waits, at most, for the mempool to settle on a new tip before it
/// is built anyway (as the built-in miner waits).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);
/// Bitcoin Core's code for "still downloading blocks".
const IN_INITIAL_DOWNLOAD: i32 = -10;

/// What a long poll waits on: the tip the chain's listeners (the mempool's first) are
/// done with, and a count of mempool changes.
pub(crate) type Changes = watch::Sender<(Hash256, u64)>;

/// Moves the tip in [`Changes`] once the mempool has followed it: registered after the
/// mempool's listener.
pub(crate) struct TipChanges(pub(crate) Arc<Changes>);

impl ChainListener for TipChanges {
    fn on_chain_event(&self, event: &ChainEvent) {
        if let ChainEvent::TipChanged { hash, .. } = event {
            self.0.send_modify(|state| state.0 = *hash);
        }
    }
}

/// Counts a mempool change (an admission or a removal).
pub(crate) fn mempool_changed(changes: &Changes) {
    changes.send_modify(|state| state.1 += 1);
}

/// What the two methods need.
pub(crate) struct Gbt {
    pub(crate) chain: Arc<dyn ChainView>,
    pub(crate) writer: Arc<dyn ChainWriter>,
    pub(crate) mempool: Arc<dyn MempoolService>,
    pub(crate) peers: Option<Arc<dyn PeerService>>,
    pub(crate) spec: Arc<ChainSpec>,
    pub(crate) changes: Arc<Changes>,
    pub(crate) block_max_bytes: usize,
    pub(crate) block_max_txs: usize,
    pub(crate) longpoll_timeout: Duration,
    pub(crate) longpoll_mempool: Duration,
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Core's reason for a refused block (`BIP22ValidationResult`): the rule's name alone.
fn reason(error: &BlockError) -> String {
    let text = error.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("rejected")
        .to_string()
}

fn longpoll_id(state: (Hash256, u64)) -> String {
    format!("{}{}", state.0, state.1)
}

/// The tip and change count a long-poll id names; `None` when it is not ours.
fn parse_longpoll_id(id: &str) -> Option<(Hash256, u64)> {
    let (tip, count) = (id.get(..64)?, id.get(64..)?);
    Some((tip.parse().ok()?, count.parse().ok()?))
}

/// `getblocktemplate`, registered at start and listed in the factory's `methods`.
pub(crate) const GETBLOCKTEMPLATE: Method = Method {
    name: "getblocktemplate",
    params: GETBLOCKTEMPLATE_PARAMS,
    help: rpc_help::GETBLOCKTEMPLATE,
};

/// `submitblock`, registered at start and listed in the factory's `methods`.
pub(crate) const SUBMITBLOCK: Method = Method {
    name: "submitblock",
    params: SUBMITBLOCK_PARAMS,
    help: rpc_help::SUBMITBLOCK,
};

pub(crate) fn register(ctx: &StartContext, gbt: Arc<Gbt>) -> Result<(), BoxError> {
    {
        let gbt = gbt.clone();
        let cancel = ctx.cancel_token();
        ctx.register_method(&GETBLOCKTEMPLATE, move |p: RpcParams| {
            let (gbt, cancel) = (gbt.clone(), cancel.clone());
            async move {
                let request: Value = p.optional(0)?.unwrap_or_else(|| json!({}));
                if !request.is_object() {
                    return Err(RpcError::new(
                        codes::TYPE_ERROR,
                        "template_request must be an object",
                    ));
                }
                match request
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("template")
                {
                    "template" => {}
                    "proposal" => return gbt.proposal(&request).await,
                    _ => return Err(RpcError::invalid_parameter("Invalid mode")),
                }
                gbt.check_ready()?;
                if let Some(id) = request.get("longpollid") {
                    let id = id.as_str().ok_or_else(|| {
                        RpcError::new(codes::TYPE_ERROR, "longpollid must be a string")
                    })?;
                    tokio::select! {
                        _ = gbt.long_poll(id) => {}
                        _ = cancel.cancelled() => {
                            return Err(RpcError::new(codes::CLIENT_NOT_CONNECTED, "Shutting down"));
                        }
                    }
                }
                gbt.template().await
            }
        })?;
    }
    ctx.register_method(&SUBMITBLOCK, move |p: RpcParams| {
        let gbt = gbt.clone();
        async move {
            let text: String = p.required(0)?;
            let block = decode_block(&text)?;
            let writer = gbt.writer.clone();
            let outcome = tokio::task::spawn_blocking(move || writer.accept_block(&block))
                .await
                .map_err(|e| RpcError::misc(format!("submitblock: {e}")))?;
            Ok(match outcome {
                Ok(BlockOutcome::BecameTip) => Value::Null,
                Ok(BlockOutcome::SideBranch) => json!("inconclusive"),
                Ok(BlockOutcome::AlreadyHave) => json!("duplicate"),
                Err(ChainError::Invalid(BlockError::KnownInvalid)) => {
                    json!("duplicate-invalid")
                }
                Err(ChainError::Invalid(e)) => json!(reason(&e)),
                // Forks below a pruned node's data: nothing can be said.
                Err(ChainError::BeyondPruned { .. }) => json!("inconclusive"),
                Err(e) => return Err(RpcError::new(codes::INTERNAL_ERROR, e.to_string())),
            })
        }
    })?;
    Ok(())
}

/// A block from hex, with Core's error for bytes that are not one.
fn decode_block(text: &str) -> Result<Block, RpcError> {
    let block: Block = decode_hex(text, "Block")
        .map_err(|_| RpcError::new(codes::DESERIALIZATION_ERROR, "Block decode failed"))?;
    if block.txs.first().is_none_or(|tx| !tx.is_coinbase()) {
        return Err(RpcError::new(
            codes::DESERIALIZATION_ERROR,
            "Block does not start with a coinbase",
        ));
    }
    Ok(block)
}

impl Gbt {
    /// Core refuses templates off regtest while alone or still downloading: a block
    /// mined then is likely stale.
    fn check_ready(&self) -> Result<(), RpcError> {
        if self.spec.name == "regtest" {
            return Ok(());
        }
        if self
            .peers
            .as_ref()
            .is_some_and(|p| p.connection_count() == 0)
        {
            return Err(RpcError::new(
                codes::CLIENT_NOT_CONNECTED,
                format!("{} is not connected!", self.spec.name),
            ));
        }
        if self.chain.best_header().1 > self.chain.tip().height {
            return Err(RpcError::new(
                IN_INITIAL_DOWNLOAD,
                format!(
                    "{} is in initial sync and waiting for blocks...",
                    self.spec.name
                ),
            ));
        }
        Ok(())
    }

    /// BIP23 proposal: the block's validity on the tip, proof of work aside.
    async fn proposal(&self, request: &Value) -> Result<Value, RpcError> {
        let data = request.get("data").and_then(Value::as_str).ok_or_else(|| {
            RpcError::new(codes::TYPE_ERROR, "Missing data String key for proposal")
        })?;
        let block = decode_block(data)?;
        let hash = block.hash();
        if let Some(entry) = self.chain.entry(&hash) {
            return Ok(json!(if entry.is_failed() {
                "duplicate-invalid"
            } else if entry.has_data() {
                "duplicate"
            } else {
                "duplicate-inconclusive"
            }));
        }
        let writer = self.writer.clone();
        let checked = tokio::task::spawn_blocking(move || writer.check_proposal(&block))
            .await
            .map_err(|e| RpcError::misc(format!("proposal: {e}")))?;
        Ok(match checked {
            Ok(()) => Value::Null,
            Err(ProposalError::Invalid(e)) => json!(reason(&e)),
            Err(e @ ProposalError::NotOnTip) => json!(e.to_string()),
            Err(ProposalError::Chain(e)) => {
                return Err(RpcError::new(codes::INTERNAL_ERROR, e.to_string()))
            }
        })
    }

    /// Waits until the state `id` names is stale: the tip moved (at once), the mempool
    /// changed (after `longpoll_mempool`), or `longpoll_timeout` passed. An id that is
    /// not ours is stale already.
    async fn long_poll(&self, id: &str) {
        let Some((tip, count)) = parse_longpoll_id(id) else {
            return;
        };
        let mut watch = self.changes.subscribe();
        let start = Instant::now();
        let deadline = start + self.longpoll_timeout;
        let mempool_due = start + self.longpoll_mempool;
        loop {
            let (now_tip, now_count) = *watch.borrow_and_update();
            let now = Instant::now();
            if now_tip != tip || now >= deadline {
                return;
            }
            let wake = if now_count != count {
                if now >= mempool_due {
                    return;
                }
                mempool_due
            } else {
                deadline
            };
            // A closed watch means the miner is gone: nothing will change any more.
            if let Ok(Err(_)) = tokio::time::timeout_at(wake, watch.changed()).await {
                return;
            }
        }
    }

    /// A template on the tip, from a pool settled on that tip.
    async fn template(&self) -> Result<Value, RpcError> {
        let mut watch = self.changes.subscribe();
        let settle_deadline = Instant::now() + SETTLE_TIMEOUT;
        let (next, state, selected) = loop {
            let state = *watch.borrow_and_update();
            let next = self.chain.next_block();
            if next.prev == state.0 || Instant::now() >= settle_deadline {
                let selected = self.mempool.select(
                    self.block_max_bytes.saturating_sub(COINBASE_RESERVE),
                    // 0 is "no limit" in [miner] block_max_txs.
                    if self.block_max_txs == 0 {
                        usize::MAX
                    } else {
                        self.block_max_txs
                    },
                );
                if self.chain.next_block().prev == next.prev {
                    break (next, state, selected);
                }
                continue;
            }
            let _ = tokio::time::timeout_at(settle_deadline, watch.changed()).await;
        };
        let positions: HashMap<Hash256, usize> = selected
            .iter()
            .enumerate()
            .map(|(i, s)| (s.tx.txid(), i + 1))
            .collect();
        let mut fees: u64 = 0;
        let transactions: Vec<Value> = selected
            .iter()
            .map(|s| {
                fees += s.fee;
                let bytes = serialize(&*s.tx);
                let txid = s.tx.txid().to_string();
                let mut depends: Vec<usize> =
                    s.tx.inputs
                        .iter()
                        .filter_map(|i| positions.get(&i.prevout.txid).copied())
                        .collect();
                depends.sort_unstable();
                depends.dedup();
                json!({
                    "data": hex::encode(&bytes),
                    "txid": txid,
                    // No witness data on this chain: the hash is the txid.
                    "hash": txid,
                    "depends": depends,
                    "fee": s.fee,
                    // Legacy count: inputs only push, every output is P2PKH with one
                    // OP_CHECKSIG.
                    "sigops": s.tx.outputs.len(),
                    "weight": bytes.len() * 4,
                })
            })
            .collect();
        let target = target_from_compact(next.bits).target;
        let mintime = next.min_time + 1;
        Ok(json!({
            "capabilities": ["proposal"],
            "version": TEMPLATE_VERSION,
            "rules": [],
            "vbavailable": {},
            "vbrequired": 0,
            "previousblockhash": next.prev.to_string(),
            "transactions": transactions,
            "coinbaseaux": {},
            "coinbasevalue": self.spec.subsidy(next.height) + fees,
            "longpollid": longpoll_id(state),
            "target": format!("{target:064x}"),
            "mintime": mintime,
            "mutable": ["time", "transactions", "prevblock"],
            "noncerange": "00000000ffffffff",
            "sizelimit": self.spec.max_block_size,
            "curtime": now().max(mintime),
            "bits": format!("{:08x}", next.bits),
            "height": next.height,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longpoll_ids_round_trip_and_reject_strangers() {
        let tip: Hash256 = "00000000000000000000000000000000000000000000000000000000000000ab"
            .parse()
            .unwrap();
        let id = longpoll_id((tip, 42));
        assert_eq!(parse_longpoll_id(&id), Some((tip, 42)));
        assert_eq!(parse_longpoll_id("short"), None);
        assert_eq!(parse_longpoll_id(&format!("{tip}x")), None);
    }

    #[test]
    fn reasons_are_the_rule_names_alone() {
        assert_eq!(reason(&BlockError::HighHash), "high-hash");
        assert_eq!(
            reason(&BlockError::BadCoinbaseAmount {
                paid: 2,
                allowed: 1
            }),
            "bad-cb-amount"
        );
    }
}
