//! `getblockstats`: per-block statistics computed as Bitcoin Core computes them
//! (`rpc/blockchain.cpp`), from the block and the coins it spent (its undo data).
//!
//! Amounts are satoshis and fee rates satoshis per virtual byte, as in Core. Blocks here
//! carry no witness, so a transaction's weight is four times its size and the `sw*`
//! fields are 0.

use node_api::chain::encode::compact_size_len;
use node_api::chain::script::is_op_return;
use node_api::chain::{Block, Coin, Hash256, TxOut};
use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_chain_state::ChainState;
use serde_json::{json, Map, Value};

use crate::rpc_params::storage;

pub(crate) const PARAMS: &[Param] = &[
    Param::required("hash_or_height")
        .any("The block hash or height of the target block")
        .example("1000"),
    Param::optional("stats")
        .array("Values to plot (see result below)")
        .default("all values"),
];

/// Every statistic, in Core's (alphabetical) order; `stats` may name any subset.
const STATS: [&str; 31] = [
    "avgfee",
    "avgfeerate",
    "avgtxsize",
    "blockhash",
    "feerate_percentiles",
    "height",
    "ins",
    "maxfee",
    "maxfeerate",
    "maxtxsize",
    "medianfee",
    "mediantime",
    "mediantxsize",
    "minfee",
    "minfeerate",
    "mintxsize",
    "outs",
    "subsidy",
    "swtotal_size",
    "swtotal_weight",
    "swtxs",
    "time",
    "total_out",
    "total_size",
    "total_weight",
    "totalfee",
    "txs",
    "utxo_increase",
    "utxo_size_inc",
    "utxo_increase_actual",
    "utxo_size_inc_actual",
];

/// Core's `PER_UTXO_OVERHEAD`: an outpoint, a height-and-coinbase word and a flag.
const PER_UTXO_OVERHEAD: i64 = 36 + 4 + 1;

/// Core's weight units per byte of a transaction without witness.
const WITNESS_SCALE_FACTOR: i64 = 4;

pub(crate) fn getblockstats(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = target_block(s, &p)?;
    let selected = selected_stats(&p)?;
    let entry = s
        .entry(&hash)
        .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block not found"))?;
    let block = s
        .block(&hash)
        .map_err(storage)?
        .ok_or_else(|| RpcError::misc("Block not available (pruned data)"))?;
    // A block that spends nothing needs no undo data (genesis has none).
    let spent = if block.txs.len() > 1 {
        s.spent_coins(&hash)
            .map_err(storage)?
            .ok_or_else(|| RpcError::misc("Undo data expected but can't be read"))?
    } else {
        Vec::new()
    };
    let mut all = block_stats(&block, &spent, entry.height)?;
    all.insert("blockhash".into(), json!(hash.to_string()));
    all.insert("height".into(), json!(entry.height));
    all.insert("mediantime".into(), json!(s.median_time_past(&hash)));
    all.insert("time".into(), json!(entry.header.time));
    all.insert("subsidy".into(), json!(s.spec().subsidy(entry.height)));
    Ok(Value::Object(match selected {
        None => all,
        Some(names) => all.into_iter().filter(|(k, _)| names.contains(k)).collect(),
    }))
}

/// The block `hash_or_height` names: a height of the main chain or any known hash.
fn target_block(s: &ChainState, p: &RpcParams) -> Result<Hash256, RpcError> {
    match p.get(0) {
        Some(Value::Number(_)) => {
            let height: i64 = p.required(0)?;
            let tip = s.tip().height;
            if height < 0 {
                return Err(RpcError::invalid_parameter(format!(
                    "Target block height {height} is negative"
                )));
            }
            if height > i64::from(tip) {
                return Err(RpcError::invalid_parameter(format!(
                    "Target block height {height} after current tip {tip}"
                )));
            }
            Ok(s.hash_at(height as u32).expect("a height up to the tip"))
        }
        _ => {
            let hash = crate::rpc_params::parse_hash(p, 0, "hash_or_height")?;
            if s.entry(&hash).is_none() {
                return Err(RpcError::new(
                    codes::INVALID_ADDRESS_OR_KEY,
                    "Block not found",
                ));
            }
            Ok(hash)
        }
    }
}

/// The names `stats` asks for, each checked; `None` for all of them.
fn selected_stats(p: &RpcParams) -> Result<Option<Vec<String>>, RpcError> {
    let Some(names) = p.optional::<Vec<String>>(1)? else {
        return Ok(None);
    };
    if names.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = names.iter().find(|n| !STATS.contains(&n.as_str())) {
        return Err(RpcError::invalid_parameter(format!(
            "Invalid selected statistic '{bad}'"
        )));
    }
    Ok(Some(names))
}

/// The statistics that come from the block's transactions and the coins they spent
/// (`spent`: in the order of the inputs, coinbase aside).
fn block_stats(block: &Block, spent: &[Coin], height: u32) -> Result<Map<String, Value>, RpcError> {
    let mut spent = spent.iter();
    let (mut inputs, mut outputs, mut utxos) = (0i64, 0i64, 0i64);
    let (mut total_out, mut total_size, mut total_weight, mut total_fee) = (0i64, 0i64, 0i64, 0i64);
    let (mut utxo_size_inc, mut utxo_size_inc_actual) = (0i64, 0i64);
    let mut fees = Vec::new();
    let mut sizes = Vec::new();
    let mut fee_rates = Vec::new();
    for (i, tx) in block.txs.iter().enumerate() {
        outputs += tx.outputs.len() as i64;
        let mut tx_out = 0i64;
        for out in &tx.outputs {
            tx_out += out.value as i64;
            let size = utxo_size(out);
            utxo_size_inc += size;
            // Genesis outputs never enter the UTXO set, nor do unspendable ones.
            if height == 0 || is_op_return(&out.script_pubkey) {
                continue;
            }
            utxos += 1;
            utxo_size_inc_actual += size;
        }
        if i == 0 {
            continue;
        }
        inputs += tx.inputs.len() as i64;
        total_out += tx_out;
        let size = tx.size() as i64;
        let weight = size * WITNESS_SCALE_FACTOR;
        sizes.push(size);
        total_size += size;
        total_weight += weight;
        let mut tx_in = 0i64;
        for _ in &tx.inputs {
            let coin = spent
                .next()
                .ok_or_else(|| RpcError::misc("Undo data expected but can't be read"))?;
            tx_in += coin.value as i64;
            let size = utxo_size(&TxOut {
                value: coin.value,
                script_pubkey: coin.script_pubkey.clone(),
            });
            utxo_size_inc -= size;
            utxo_size_inc_actual -= size;
        }
        let fee = tx_in - tx_out;
        fees.push(fee);
        total_fee += fee;
        fee_rates.push((fee * WITNESS_SCALE_FACTOR / weight, weight));
    }
    let spends = block.txs.len() as i64 - 1;
    let per_tx = |total: i64| if spends > 0 { total / spends } else { 0 };
    let max_rate = fee_rates.iter().map(|&(rate, _)| rate).max().unwrap_or(0);
    let min_rate = fee_rates.iter().map(|&(rate, _)| rate).min().unwrap_or(0);
    let mut stats = Map::new();
    stats.insert("avgfee".into(), json!(per_tx(total_fee)));
    stats.insert(
        "avgfeerate".into(),
        json!(if total_weight > 0 {
            total_fee * WITNESS_SCALE_FACTOR / total_weight
        } else {
            0
        }),
    );
    stats.insert("avgtxsize".into(), json!(per_tx(total_size)));
    stats.insert(
        "feerate_percentiles".into(),
        json!(percentiles_by_weight(&mut fee_rates, total_weight)),
    );
    stats.insert("ins".into(), json!(inputs));
    stats.insert("maxfee".into(), json!(fees.iter().max().unwrap_or(&0)));
    stats.insert("maxfeerate".into(), json!(max_rate));
    stats.insert("maxtxsize".into(), json!(sizes.iter().max().unwrap_or(&0)));
    stats.insert("medianfee".into(), json!(truncated_median(&mut fees)));
    stats.insert("mediantxsize".into(), json!(truncated_median(&mut sizes)));
    stats.insert("minfee".into(), json!(fees.iter().min().unwrap_or(&0)));
    stats.insert("minfeerate".into(), json!(min_rate));
    stats.insert("mintxsize".into(), json!(sizes.iter().min().unwrap_or(&0)));
    stats.insert("outs".into(), json!(outputs));
    stats.insert("swtotal_size".into(), json!(0));
    stats.insert("swtotal_weight".into(), json!(0));
    stats.insert("swtxs".into(), json!(0));
    stats.insert("total_out".into(), json!(total_out));
    stats.insert("total_size".into(), json!(total_size));
    stats.insert("total_weight".into(), json!(total_weight));
    stats.insert("totalfee".into(), json!(total_fee));
    stats.insert("txs".into(), json!(block.txs.len()));
    stats.insert("utxo_increase".into(), json!(outputs - inputs));
    stats.insert("utxo_size_inc".into(), json!(utxo_size_inc));
    stats.insert("utxo_increase_actual".into(), json!(utxos - inputs));
    stats.insert("utxo_size_inc_actual".into(), json!(utxo_size_inc_actual));
    Ok(stats)
}

/// Bytes an output takes in the UTXO set by Core's count: its serialization and
/// [`PER_UTXO_OVERHEAD`].
fn utxo_size(out: &TxOut) -> i64 {
    let script = out.script_pubkey.len();
    (8 + compact_size_len(script as u64) + script) as i64 + PER_UTXO_OVERHEAD
}

/// Core's `CalculateTruncatedMedian`: the middle value, or the mean of the two middle
/// ones rounded down; 0 for none.
fn truncated_median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => 0,
        _ if n.is_multiple_of(2) => (values[n / 2 - 1] + values[n / 2]) / 2,
        _ => values[n / 2],
    }
}

/// Core's `CalculatePercentilesByWeight`: the fee rates at the 10th, 25th, 50th, 75th
/// and 90th percentile of weight, lowest rate first; zeros for a block of no spends.
fn percentiles_by_weight(rates: &mut [(i64, i64)], total_weight: i64) -> [i64; 5] {
    let mut result = [0; 5];
    let Some(&(last, _)) = rates.iter().max() else {
        return result;
    };
    rates.sort_unstable();
    let total = total_weight as f64;
    let marks = [
        total / 10.0,
        total / 4.0,
        total / 2.0,
        total * 3.0 / 4.0,
        total * 9.0 / 10.0,
    ];
    let mut next = 0;
    let mut cumulative = 0;
    for &(rate, weight) in rates.iter() {
        cumulative += weight;
        while next < marks.len() && cumulative as f64 >= marks[next] {
            result[next] = rate;
            next += 1;
        }
    }
    result[next..].fill(last);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_truncates_as_cores() {
        assert_eq!(truncated_median(&mut []), 0);
        assert_eq!(truncated_median(&mut [5]), 5);
        assert_eq!(truncated_median(&mut [9, 1, 4]), 4);
        assert_eq!(truncated_median(&mut [1, 2, 4, 9]), 3);
        assert_eq!(truncated_median(&mut [3, 4]), 3);
    }

    #[test]
    fn percentiles_follow_weight_not_count() {
        assert_eq!(percentiles_by_weight(&mut [], 0), [0; 5]);
        // One heavy cheap transaction holds most of the weight.
        let mut rates = [(50, 100), (1, 800), (20, 100)];
        assert_eq!(percentiles_by_weight(&mut rates, 1000), [1, 1, 1, 1, 20]);
        let mut even = [(4, 250), (1, 250), (3, 250), (2, 250)];
        assert_eq!(percentiles_by_weight(&mut even, 1000), [1, 1, 2, 3, 4]);
    }

    #[test]
    fn utxo_size_counts_serialization_and_overhead() {
        let p2pkh = TxOut {
            value: 1,
            script_pubkey: vec![0; 25],
        };
        // 8 value + 1 length + 25 script + 41 overhead.
        assert_eq!(utxo_size(&p2pkh), 75);
    }
}
