//! The explorer's read-only JSON API under `/explorer/api/`: what the page shows, built
//! on the chain, mempool and peer services. Amounts are satoshis.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use node_api::chain::pow::difficulty;
use node_api::chain::{Address, Block, Hash256, OutPoint, Transaction, TxOut};
use node_api::{
    ChainStep, ChainStream, ChainSubscription, ChainView, HistoryRow, MempoolService, PeerService,
    ScriptHistory, StreamError, StreamStart,
};
use serde_json::{json, Value};

use crate::index::Index;

/// Rows a list answers at most (latest blocks, history, mempool, a block's transactions):
/// a page stays small however large the chain or pool is.
pub const MAX_ROWS: usize = 500;
/// Blocks the hash rate estimate spans, as `getnetworkhashps`'s default.
const HASHRATE_WINDOW: u32 = 120;

/// The services the API reads and the explorer's own index.
pub(crate) struct Explorer {
    pub(crate) chain: Arc<dyn ChainView>,
    pub(crate) mempool: Option<Arc<dyn MempoolService>>,
    pub(crate) peers: Option<Arc<dyn PeerService>>,
    /// The electrum plugin's index on disk, when it runs: then the in-memory [`Index`]
    /// is not built.
    pub(crate) history: Option<Arc<dyn ScriptHistory>>,
    pub(crate) index: RwLock<Index>,
}

/// An API answer: JSON, or a status and message.
pub(crate) type Answer = Result<Value, (u16, String)>;

fn not_found(what: &str) -> (u16, String) {
    (404, format!("{what} not found"))
}

fn query<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

impl Explorer {
    /// Answers `path` (after `/explorer/api/`) with `query`.
    pub(crate) fn answer(&self, path: &str, query_text: &str) -> Answer {
        let (head, rest) = path.split_once('/').unwrap_or((path, ""));
        match head {
            "summary" => Ok(self.summary()),
            "blocks" => {
                let count = query(query_text, "count")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(10usize)
                    .min(MAX_ROWS);
                let before = query(query_text, "before").and_then(|h| h.parse().ok());
                Ok(self.blocks(count, before))
            }
            "block" => self.block(rest),
            "tx" => self.tx(rest),
            "address" => self.address(rest),
            "mempool" => Ok(self.mempool()),
            "search" => Ok(self.search(&percent_decode(query(query_text, "q").unwrap_or("")))),
            _ => Err(not_found("API path")),
        }
    }

    fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The block height of a confirmed transaction: from the scripthash index when it
    /// runs, else from this plugin's own.
    fn tx_height(&self, txid: &Hash256) -> Option<u32> {
        match &self.history {
            Some(history) => history.tx_height(txid).ok().flatten(),
            None => self.index().tx_height(txid),
        }
    }

    /// Confirmed transactions touching a P2PKH hash, in chain order.
    fn address_history(&self, hash160: &[u8; 20]) -> Result<Vec<HistoryRow>, (u16, String)> {
        match &self.history {
            Some(history) => history
                .history(&node_api::chain::script::p2pkh_script(hash160))
                .map_err(|e| (500, e.to_string())),
            None => Ok(self.index().history(hash160).to_vec()),
        }
    }

    /// Starts the index again from genesis: a subscription from height 0, whose first
    /// steps (read from the store) commit the chain up to the tip.
    pub(crate) fn reindex(
        &self,
        stream: &dyn ChainStream,
    ) -> Result<Box<dyn ChainSubscription>, StreamError> {
        let steps = stream.subscribe(StreamStart::Height(0))?;
        let genesis = steps.snapshot();
        let block = steps.block(&genesis.hash).ok().flatten();
        let mut index = Index::default();
        index.connect(genesis, block.as_deref());
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok(steps)
    }

    /// Indexes the blocks a step committed; `false` when blocks left the chain, which
    /// the index does not undo (the caller starts it again with [`Explorer::reindex`]).
    pub(crate) fn apply(&self, steps: &dyn ChainSubscription, step: &ChainStep) -> bool {
        if !step.reverted().is_empty() {
            return false;
        }
        for id in step.committed() {
            let block = steps.block(&id.hash).ok().flatten();
            self.index
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .connect(*id, block.as_deref());
        }
        true
    }

    fn summary(&self) -> Value {
        let tip = self.chain.tip();
        let mempool = self.mempool.as_ref().map(|m| {
            let info = m.info();
            let entries = m.entries();
            let fees: u64 = entries.iter().map(|e| e.fee).sum();
            let rates: Vec<f64> = entries
                .iter()
                .map(|e| e.fee as f64 / e.size.max(1) as f64)
                .collect();
            json!({
                "size": info.size,
                "bytes": info.bytes,
                "fees": fees,
                "min_fee_rate": rates.iter().copied().fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r)))),
                "max_fee_rate": rates.iter().copied().fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r)))),
            })
        });
        json!({
            "chain": self.chain.spec().name,
            "height": tip.height,
            "hash": tip.hash.to_string(),
            "time": tip.header.time,
            "difficulty": difficulty(tip.header.bits),
            "hashrate": self.hashrate(),
            "mempool": mempool,
            "peers": self.peers.as_ref().map(|p| p.peers().len()),
            "address_index": self.chain.has_address_index(),
        })
    }

    /// Hashes per second over the last blocks: work done over the time it took.
    fn hashrate(&self) -> f64 {
        let tip = self.chain.tip();
        let start = tip.height.saturating_sub(HASHRATE_WINDOW);
        let Some(first) = self.chain.hash_at(start).and_then(|h| self.chain.entry(&h)) else {
            return 0.0;
        };
        let seconds = tip.header.time.saturating_sub(first.header.time);
        if seconds == 0 {
            return 0.0;
        }
        let work = tip.chain_work.saturating_sub(first.chain_work);
        let work = work.to_string().parse::<f64>().unwrap_or(0.0);
        work / f64::from(seconds)
    }

    fn blocks(&self, count: usize, before: Option<u32>) -> Value {
        let top = before.map_or(self.chain.tip().height, |b| {
            b.saturating_sub(1).min(self.chain.tip().height)
        });
        let rows: Vec<Value> = (0..=top)
            .rev()
            .take(count)
            .filter_map(|height| {
                let hash = self.chain.hash_at(height)?;
                let entry = self.chain.entry(&hash)?;
                Some(json!({
                    "height": height,
                    "hash": hash.to_string(),
                    "time": entry.header.time,
                    "txs": entry.tx_count,
                }))
            })
            .collect();
        Value::Array(rows)
    }

    fn find_block(&self, id: &str) -> Option<Hash256> {
        if id.len() < 64 {
            return self.chain.hash_at(id.parse().ok()?);
        }
        let hash: Hash256 = id.parse().ok()?;
        self.chain.entry(&hash).map(|_| hash)
    }

    fn block(&self, id: &str) -> Answer {
        let hash = self.find_block(id).ok_or_else(|| not_found("block"))?;
        let entry = self.chain.entry(&hash).ok_or_else(|| not_found("block"))?;
        let block = self
            .chain
            .block(&hash)
            .ok()
            .flatten()
            .ok_or_else(|| not_found("block data"))?;
        let tip = self.chain.tip().height;
        let main = self.chain.is_main(&hash);
        let mut cache = BlockCache::default();
        let txs: Vec<Value> = block
            .txs
            .iter()
            .take(MAX_ROWS)
            .map(|tx| {
                json!({
                    "txid": tx.txid().to_string(),
                    "size": tx.size(),
                    "inputs": tx.inputs.len(),
                    "outputs": tx.outputs.len(),
                    "value_out": tx.outputs.iter().map(|o| o.value).sum::<u64>(),
                    "fee": self.fee(tx, &mut cache),
                    "coinbase": tx.is_coinbase(),
                })
            })
            .collect();
        let subsidy = self.chain.spec().subsidy(entry.height);
        let coinbase_out: u64 = block
            .txs
            .first()
            .map_or(0, |tx| tx.outputs.iter().map(|o| o.value).sum());
        let h = &entry.header;
        Ok(json!({
            "hash": hash.to_string(),
            "height": entry.height,
            "main_chain": main,
            "confirmations": if main { i64::from(tip) - i64::from(entry.height) + 1 } else { -1 },
            "version": h.version,
            "previous": (!h.prev_block.is_zero()).then(|| h.prev_block.to_string()),
            "next": self.chain.next_hash(&hash).map(|n| n.to_string()),
            "merkle_root": h.merkle_root.to_string(),
            "time": h.time,
            "bits": format!("{:08x}", h.bits),
            "difficulty": difficulty(h.bits),
            "nonce": h.nonce,
            "size": node_api::chain::serialize(&block).len(),
            "tx_count": block.txs.len(),
            "subsidy": subsidy,
            "fees": coinbase_out.saturating_sub(subsidy),
            "txs": txs,
        }))
    }

    /// A confirmed or pooled transaction, and the block holding it.
    fn find_tx(
        &self,
        txid: &Hash256,
        cache: &mut BlockCache,
    ) -> Option<(Arc<Transaction>, Option<u32>)> {
        if let Some(tx) = self.mempool.as_ref().and_then(|m| m.get(txid)) {
            return Some((tx, None));
        }
        let height = self.tx_height(txid)?;
        let block = cache.get(&*self.chain, height)?;
        let tx = block.txs.iter().find(|t| t.txid() == *txid)?.clone();
        Some((Arc::new(tx), Some(height)))
    }

    fn prevout(&self, outpoint: &OutPoint, cache: &mut BlockCache) -> Option<TxOut> {
        let (tx, _) = self.find_tx(&outpoint.txid, cache)?;
        tx.outputs.get(outpoint.vout as usize).cloned()
    }

    /// Inputs less outputs; `None` for a coinbase or an input not found.
    fn fee(&self, tx: &Transaction, cache: &mut BlockCache) -> Option<u64> {
        if tx.is_coinbase() {
            return None;
        }
        let mut inputs = 0u64;
        for input in &tx.inputs {
            inputs += self.prevout(&input.prevout, cache)?.value;
        }
        inputs.checked_sub(tx.outputs.iter().map(|o| o.value).sum())
    }

    fn address_of(&self, script: &[u8]) -> Option<String> {
        Address::from_script(self.chain.spec().address_version, script).map(|a| a.to_string())
    }

    fn tx(&self, id: &str) -> Answer {
        let txid: Hash256 = id.parse().map_err(|_| (400, "not a txid".to_string()))?;
        let mut cache = BlockCache::default();
        let (tx, height) = self
            .find_tx(&txid, &mut cache)
            .ok_or_else(|| not_found("transaction"))?;
        let tip = self.chain.tip().height;
        let inputs: Vec<Value> = tx
            .inputs
            .iter()
            .map(|input| {
                if tx.is_coinbase() {
                    return json!({ "coinbase": hex::encode(&input.script_sig) });
                }
                let previous = self.prevout(&input.prevout, &mut cache);
                json!({
                    "txid": input.prevout.txid.to_string(),
                    "vout": input.prevout.vout,
                    "value": previous.as_ref().map(|p| p.value),
                    "address": previous.as_ref().and_then(|p| self.address_of(&p.script_pubkey)),
                })
            })
            .collect();
        let outputs: Vec<Value> = tx
            .outputs
            .iter()
            .enumerate()
            .map(|(n, output)| {
                let outpoint = OutPoint {
                    txid,
                    vout: n as u32,
                };
                let in_pool = self.mempool.as_ref().is_some_and(|m| m.is_spent(&outpoint));
                let spent = if in_pool {
                    json!("unconfirmed")
                } else if height.is_some() {
                    json!(self.chain.coin(&outpoint).ok().flatten().is_none())
                } else {
                    json!(false)
                };
                json!({
                    "n": n,
                    "value": output.value,
                    "address": self.address_of(&output.script_pubkey),
                    "spent": spent,
                })
            })
            .collect();
        let block = height.and_then(|h| self.chain.hash_at(h));
        Ok(json!({
            "txid": txid.to_string(),
            "size": tx.size(),
            "coinbase": tx.is_coinbase(),
            "fee": self.fee(&tx, &mut cache),
            "block": block.map(|b| b.to_string()),
            "height": height,
            "confirmations": height.map_or(0, |h| tip - h + 1),
            "inputs": inputs,
            "outputs": outputs,
        }))
    }

    fn address(&self, text: &str) -> Answer {
        let spec = self.chain.spec();
        let address = Address::parse(text, spec.address_version)
            .map_err(|e| (400, format!("not an address: {e}")))?;
        let coins = self.chain.address_coins(&address.hash).ok().flatten();
        let balance = coins
            .as_ref()
            .map(|c| c.iter().map(|(_, coin)| coin.value).sum::<u64>());
        let unspent: Vec<Value> = coins
            .iter()
            .flatten()
            .take(MAX_ROWS)
            .map(|(outpoint, coin)| {
                json!({
                    "txid": outpoint.txid.to_string(),
                    "vout": outpoint.vout,
                    "value": coin.value,
                    "height": coin.height,
                })
            })
            .collect();
        let pending: Vec<Value> = self
            .mempool
            .as_ref()
            .map(|m| m.unspent_outputs_to(&address.script_pubkey()))
            .unwrap_or_default()
            .into_iter()
            .take(MAX_ROWS)
            .map(|(outpoint, output)| {
                json!({ "txid": outpoint.txid.to_string(), "vout": outpoint.vout, "value": output.value })
            })
            .collect();
        let history = self.address_history(&address.hash)?;
        let rows: Vec<Value> = history
            .iter()
            .rev()
            .take(MAX_ROWS)
            .map(|(height, txid)| json!({ "txid": txid.to_string(), "height": height }))
            .collect();
        Ok(json!({
            "address": address.to_string(),
            "balance": balance,
            "unspent": unspent,
            "unconfirmed": pending,
            "history": rows,
            "history_count": history.len(),
        }))
    }

    fn mempool(&self) -> Value {
        let Some(mempool) = &self.mempool else {
            return json!({ "size": 0, "txs": [] });
        };
        let entries = mempool.entries();
        let txs: Vec<Value> = entries
            .iter()
            .rev()
            .take(MAX_ROWS)
            .map(|e| {
                json!({
                    "txid": e.txid.to_string(),
                    "size": e.size,
                    "fee": e.fee,
                    "fee_rate": e.fee as f64 / e.size.max(1) as f64,
                    "time": e.time,
                })
            })
            .collect();
        json!({ "size": entries.len(), "txs": txs })
    }

    /// What one search box entry names: a height, a block hash, a txid or an address.
    fn search(&self, q: &str) -> Value {
        let q = q.trim();
        if !q.is_empty() && q.len() < 11 && q.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(hash) = q.parse().ok().and_then(|h| self.chain.hash_at(h)) {
                return json!({ "kind": "block", "id": hash.to_string() });
            }
        }
        if let Ok(hash) = q.parse::<Hash256>() {
            if self.chain.entry(&hash).is_some() {
                return json!({ "kind": "block", "id": hash.to_string() });
            }
            if self.find_tx(&hash, &mut BlockCache::default()).is_some() {
                return json!({ "kind": "tx", "id": hash.to_string() });
            }
        }
        if Address::parse(q, self.chain.spec().address_version).is_ok() {
            return json!({ "kind": "address", "id": q });
        }
        json!({ "kind": "none" })
    }
}

/// Blocks read during one request, so a block's many inputs read each block once.
#[derive(Default)]
struct BlockCache {
    blocks: HashMap<u32, Arc<Block>>,
}

impl BlockCache {
    fn get(&mut self, chain: &dyn ChainView, height: u32) -> Option<Arc<Block>> {
        if let Some(block) = self.blocks.get(&height) {
            return Some(block.clone());
        }
        let block = Arc::new(chain.block(&chain.hash_at(height)?).ok()??);
        // Bounded: one request touches few blocks, but a huge one must not hold them all.
        if self.blocks.len() < 64 {
            self.blocks.insert(height, block.clone());
        }
        Some(block)
    }
}

/// `%XX` escapes and `+` of a query value.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
