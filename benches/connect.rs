//! Block connect throughput beside this machine's raw signature verification rate.
//!
//! Builds a regtest chain whose first blocks pay their coinbase to many P2PKH outputs,
//! lets them mature, then times `ChainState::accept_block` on blocks of 1,000 single-input
//! P2PKH spends (on LMDB in a temporary directory, every commit synced as in a node).
//! On the same inputs it times `verify_p2pkh_input` alone, on one thread and on every
//! core with rayon: what connecting would cost if signatures were all there was to it.
//!
//! Prints one JSON object per line, `{"name", "value", "unit"}`:
//! - `connect_tx_per_s`, `connect_sigs_per_s`: transactions and signatures per second of
//!   `accept_block`, from the median block time;
//! - `connect_block_ms`: that median time;
//! - `raw_verify_sigs_per_s_1t`, `raw_verify_sigs_per_s_all`: `verify_p2pkh_input` per
//!   second on one thread and on every core (median of a few passes);
//! - `connect_vs_raw_all_ratio` = connect_sigs_per_s / raw_verify_sigs_per_s_all;
//! - `cores`;
//! - `mempool_block_spends`, `mempool_block_bytes`: a ~1 MB block of single-input spends
//!   whose every transaction was verified by the mempool's check
//!   (`validation::verify_input_scripts`) before it arrives;
//! - `mempool_block_connect_ms_no_cache`: its connect time when the signature cache is
//!   emptied in between (a node without the cache), `mempool_block_connect_ms_cache`:
//!   the same for a twin block with the cache kept, and `sig_cache_speedup`, their ratio.
//!
//! Run with `cargo bench --bench connect`; it takes well under a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use node_chain::validation::{verify_input_scripts, SigCache};
use node_chain::{verify_p2pkh_input, Block, BlockOutcome, ChainSpec, Coin, Transaction};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, ChainState};
use rayon::prelude::*;
use serde_json::json;

#[path = "support/json.rs"]
mod json;
#[path = "support/median.rs"]
mod median;
#[path = "support/spend.rs"]
mod spend;

use json::{print, round};
use median::median;
use spend::spend_each_output;

/// Spends per timed block.
const SPENDS_PER_BLOCK: usize = 1_000;
/// Timed blocks; the median block time is reported.
const TIMED_BLOCKS: usize = 9;
/// Passes over all inputs for each raw verification figure.
const RAW_PASSES: usize = 3;
/// Spends of each ~1 MB mempool-warm block (about 192 bytes each).
const MEMPOOL_BLOCK_SPENDS: usize = 5_000;
/// Fee of each spend, satoshis.
const FEE: u64 = 1_000;

/// A state whose tip is followed by `TIMED_BLOCKS` blocks of `SPENDS_PER_BLOCK` spends,
/// then two of `MEMPOOL_BLOCK_SPENDS`.
fn prepare(dir: &std::path::Path) -> (Arc<ChainState>, Vec<Block>, [Block; 2]) {
    let spec = ChainSpec::by_name("regtest").expect("regtest");
    let state = ChainState::open(dir, spec.clone(), ChainOptions::default(), |_| {})
        .expect("open chain state");
    let (miner, payee) = (Wallet::new(1), Wallet::new(2));
    let mut builder = Builder::new(&state);
    let mut fan_out = Vec::new();
    for _ in 0..TIMED_BLOCKS {
        let block = builder.next_block_split(&miner, SPENDS_PER_BLOCK, vec![]);
        state.accept_block(&block).expect("fan-out block");
        fan_out.push(block.txs[0].clone());
    }
    let mut big_fan_out = Vec::new();
    for _ in 0..2 {
        let block = builder.next_block_split(&miner, MEMPOOL_BLOCK_SPENDS, vec![]);
        state.accept_block(&block).expect("fan-out block");
        big_fan_out.push(block.txs[0].clone());
    }
    for _ in 0..spec.coinbase_maturity {
        let block = builder.next_block(&miner, vec![]);
        state.accept_block(&block).expect("maturing block");
    }
    let blocks = fan_out
        .iter()
        .map(|coinbase| {
            builder.next_block(&miner, spend_each_output(coinbase, &miner, &payee, FEE))
        })
        .collect();
    let big: Vec<Block> = big_fan_out
        .iter()
        .map(|coinbase| {
            builder.next_block(&miner, spend_each_output(coinbase, &miner, &payee, FEE))
        })
        .collect();
    let [cold, warm]: [Block; 2] = big.try_into().unwrap_or_else(|_| panic!("two blocks"));
    (state, blocks, [cold, warm])
}

/// What the mempool does to each transaction of `block` on arrival (the check that
/// fills the signature cache).
fn mempool_verify(block: &Block, script: &[u8]) {
    block.txs[1..].par_iter().for_each(|tx| {
        let coin = Coin {
            value: 0,
            height: 0,
            coinbase: true,
            script_pubkey: script.to_vec(),
        };
        verify_input_scripts(tx, &[coin]).expect("valid spend");
    });
}

/// Milliseconds `accept_block` takes on `block`.
fn connect_ms(state: &ChainState, block: &Block) -> f64 {
    let start = Instant::now();
    let outcome = state.accept_block(block).expect("valid block");
    assert_eq!(outcome, BlockOutcome::BecameTip);
    start.elapsed().as_secs_f64() * 1e3
}

/// Inputs per second of `verify_p2pkh_input` over every spend, on the current pool.
fn raw_rate(inputs: &[(&Transaction, &[u8])], parallel: bool) -> f64 {
    let verify = |(tx, script): &(&Transaction, &[u8])| {
        verify_p2pkh_input(tx, 0, script).expect("valid spend");
    };
    let start = Instant::now();
    if parallel {
        inputs.par_iter().for_each(verify);
    } else {
        inputs.iter().for_each(verify);
    }
    inputs.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().expect("temporary directory");
    let (state, blocks, [cold, warm]) = prepare(dir.path());

    let mut times = Vec::with_capacity(blocks.len());
    for block in &blocks {
        let start = Instant::now();
        let outcome = state.accept_block(block).expect("valid block");
        times.push(start.elapsed());
        assert_eq!(outcome, BlockOutcome::BecameTip);
    }
    let block_secs = median(times.iter().map(Duration::as_secs_f64).collect());
    let spends = SPENDS_PER_BLOCK as f64;
    let connect_rate = spends / block_secs;
    print("connect_block_ms", json!(round(block_secs * 1e3, 2)), "ms");
    print("connect_tx_per_s", json!(connect_rate.round()), "tx/s");
    print("connect_sigs_per_s", json!(connect_rate.round()), "sig/s");

    let script = Wallet::new(1).script();
    let inputs: Vec<(&Transaction, &[u8])> = blocks
        .iter()
        .flat_map(|b| b.txs[1..].iter())
        .map(|tx| (tx, script.as_slice()))
        .collect();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool");
    let raw_1t = median(
        (0..RAW_PASSES)
            .map(|_| one.install(|| raw_rate(&inputs, false)))
            .collect(),
    );
    let raw_all = median((0..RAW_PASSES).map(|_| raw_rate(&inputs, true)).collect());
    print("raw_verify_sigs_per_s_1t", json!(raw_1t.round()), "sig/s");
    print("raw_verify_sigs_per_s_all", json!(raw_all.round()), "sig/s");
    print(
        "connect_vs_raw_all_ratio",
        json!(round(connect_rate / raw_all, 3)),
        "x",
    );
    print("cores", json!(cores), "count");

    let miner_script = Wallet::new(1).script();
    print(
        "mempool_block_spends",
        json!(cold.txs.len() - 1),
        "transactions",
    );
    print("mempool_block_bytes", json!(cold.size()), "bytes");
    mempool_verify(&cold, &miner_script);
    SigCache::global().clear();
    let no_cache = connect_ms(&state, &cold);
    mempool_verify(&warm, &miner_script);
    let cache = connect_ms(&state, &warm);
    print(
        "mempool_block_connect_ms_no_cache",
        json!(round(no_cache, 2)),
        "ms",
    );
    print(
        "mempool_block_connect_ms_cache",
        json!(round(cache, 2)),
        "ms",
    );
    print("sig_cache_speedup", json!(round(no_cache / cache, 2)), "x");
}
