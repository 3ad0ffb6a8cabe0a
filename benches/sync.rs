//! Initial sync: how fast a fresh node downloads and connects a generated chain from one
//! peer and from three, per sync strategy, beside importing the same blocks from local
//! storage in the same run.
//!
//! The chain is built in this process with `node_chain_state::testing`: 2,000 regtest blocks,
//! the first paying its coinbase in 100 outputs, which mature at height 101; from there
//! every block holds 100 single-input P2PKH payments spending the previous block's (so
//! each block carries 100 signatures and the UTXO set stays small). It is written into a
//! chain state in a temporary data directory (`DATADIR/chain`, the address index on, as
//! in `configs/regtest.toml`), then:
//! - import: the same blocks are read back from that state and accepted into a fresh one
//!   with `node_chain_state::import_headers` then `node_chain_state::import_blocks`, in this process
//!   (what `node import --from-datadir` does);
//! - sync: three source nodes run on copies of that data directory (a directory is locked
//!   by one node), and for each strategy (`headers-first`, `poll`, their other settings at
//!   their defaults) a fresh node on `configs/regtest.toml` connects to the first source,
//!   then to all three; the time runs from its spawn until its `getblockcount` reads
//!   2,000 (polled every 10 ms near the end, up to every 200 ms far from it: polls take
//!   CPU from the node measured).
//!
//! Two ceilings are measured in the same run, first each the fastest of [`CEILING_RUNS`]
//! tries (the machine may be shared: a burst of someone else's load would make one try
//! look low), then again between the [`REPEATS`] tries of each import and sync, each try
//! compared with the faster of the ceilings just before and just after it (this machine's
//! speed drifts by tens of percent over the minutes of a run, so only a ceiling measured
//! beside a sync says how close it came); the try of median ratio is reported (an
//! assumed-valid sync takes under a second, where one hiccup of the machine moves a
//! single try's ratio by a tenth):
//! - the signature ceiling: every signature of the chain verified with
//!   `verify_p2pkh_input` on all cores (rayon), nothing else: no sync can be faster;
//! - the write ceiling: the chain's blocks, already in memory, written into a fresh chain
//!   state with `assume_valid` at the tip by `import_blocks` (every rule but signatures,
//!   in runs of up to `MAX_RUN_BLOCKS` blocks per synced commit, no network, no reading):
//!   what a sync that skips signatures cannot beat.
//!
//! Prints one JSON object per line, `{"name", "value", "unit"}`:
//! - `chain_blocks`, `chain_txs` (coinbases included), `chain_sigs`, `chain_bytes`;
//! - `sig_ceiling_sigs_per_s`, `sig_ceiling_secs`; `write_ceiling_blocks_per_s`,
//!   `write_ceiling_secs`;
//! - `import_ceiling_secs` (the ceiling beside it), `import_secs`, `import_blocks_per_s`,
//!   `import_tx_per_s`, `import_vs_ceiling` (signature ceiling secs over import secs),
//!   all of the median try, `import_vs_ceiling_tries` (every try's ratio, in order), and
//!   the same with `_assumevalid` (against the write ceiling);
//! - for each `<strategy>_<n>peer(s)` (`headers_first_1peer`, `poll_3peers`, ...), and
//!   again with `_assumevalid` appended (the syncing node has `chain.assume_valid` set to
//!   the tip): `sync_ceiling_secs_...` (the ceiling beside it), `sync_secs_...`,
//!   `sync_blocks_per_s_...`, `sync_tx_per_s_...`, `sync_vs_ceiling_...` (the
//!   ceiling's secs over the sync's: 1 is the ceiling), all of the median try, and
//!   `sync_vs_ceiling_tries_...` (every try's ratio, in order),
//!   `sync_vs_import_...` = sync blocks/s over import blocks/s, and
//!   `sync_block_bytes_vs_chain_...`: bytes of `block` messages received (from
//!   `getpeerinfo`, headers included) over `chain_bytes`, above 1 when blocks were
//!   downloaded twice;
//! - `poll_interval_secs`: the `poll` heartbeat used (`[sync.poll] interval_secs`);
//! - `node_start_secs`: from spawning a fresh node with no peer until it answers
//!   `getblockcount`, the start-up every sync time above includes;
//! - the metrics variant: the 1-peer `headers-first` sync again, once as above and once
//!   with the metrics plugin on the syncing node (`node.modules` plus `metrics`) and its
//!   `/metrics` scraped every second by a plain HTTP GET loop, back to back:
//!   `with_metrics_sync_secs_off`, `with_metrics_sync_secs_on`, `with_metrics_vs_without`
//!   (off secs over on secs: 1 costs nothing) and `with_metrics_scrapes`.
//!
//! - the block filter index (`[chain] block_filter_index`): `import_secs_filter_index_off`
//!   and `_on` and `import_with_filter_index_vs_without` (off secs over on secs: 1 costs
//!   nothing), medians of alternating assume-valid imports (signatures unchecked, so the
//!   index's share of connecting shows); `filter_index_build_blocks_per_s` (the
//!   index built over the stored chain, as when it is turned on later) and
//!   `filter_index_bytes_per_block` (records; this chain's scripts are all one wallet's,
//!   the smallest filters there are); `filter_bytes_N_scripts`,
//!   `filter_bits_per_script_N_scripts` and `filter_scripts_per_s_N_scripts` for a filter
//!   of N distinct P2PKH scripts; and the 1-peer `headers-first` sync without and with
//!   the index on the syncing node, alternating: `with_filter_index_sync_secs_off`,
//!   `_on`, `with_filter_index_vs_without` (`-- only=filter_index` runs this sync
//!   alone).
//!
//! Run with `cargo bench --bench sync` from the repository root; it takes about six
//! minutes on two cores (`-- local`: the ceilings and imports only, two minutes;
//! `-- only=NAME`: one sync, such as `headers_first_1peer_assumevalid`). With
//! `BENCH_NODE_LOG` set, the nodes log at that `RUST_LOG` and the logs are kept.
//! Node logs go to a temporary directory, kept and named on failure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_chain::validation::SigCache;
use node_chain::{verify_p2pkh_input, Block, ChainSpec, Hash256, Transaction};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{chain_blocks, import_blocks, import_headers, ChainOptions, ChainState};
use node_rpc::{ClientSettings, Credentials};
use rayon::prelude::*;
use serde_json::json;

// The allocator the `node` binary runs on: the ceilings and imports measured in this
// process are then the same code as the nodes' on the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/json.rs"]
mod json;
#[path = "support/metrics_scrape.rs"]
mod metrics_scrape;
#[path = "support/process.rs"]
mod process;
#[path = "support/regtest_node.rs"]
mod regtest_node;
#[path = "support/spend.rs"]
mod spend;
#[path = "support/temp_dir.rs"]
mod temp_dir;

use json::{print, round};
use metrics_scrape::scrape_metrics;
use regtest_node::RegtestNode;
use spend::spend_each_output;
use temp_dir::KeepOnPanic;

/// Blocks in the chain.
const BLOCKS: u32 = 2_000;
/// Payments in every block once the first coins are mature.
const TXS_PER_BLOCK: usize = 100;
/// Fee of each payment, satoshis.
const FEE: u64 = 1_000;
/// Source nodes for the many-peer runs.
const SOURCES: usize = 3;
/// A sync slower than this fails the run.
const SYNC_TIMEOUT: Duration = Duration::from_secs(300);
/// Time allowed for a node to start answering RPC calls.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The shortest pause between two `getblockcount` polls of the syncing node (near the end
/// of a sync; far from it, up to 20 times this).
const POLL: Duration = Duration::from_millis(10);
/// Tries of each ceiling; the fastest counts.
const CEILING_RUNS: usize = 3;
/// Tries of each import and sync, each beside its ceiling; the median ratio counts.
const REPEATS: usize = 3;
/// Tries of each assume-valid import without and with the block filter index (two
/// seconds each): enough that one hiccup of a shared machine does not move the median.
const FILTER_REPEATS: usize = 7;

/// `configs/regtest.toml`'s modules plus the metrics plugin, for the metrics variant.
const WITH_METRICS: [&str; 9] = [
    "chain", "mempool", "wallet", "miner", "peers", "sync", "relay", "rpc", "metrics",
];
/// How often the metrics variant scrapes `/metrics`: Prometheus scrapes every 15 s by
/// default, so once a second makes any cost show.
const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

/// The options `configs/regtest.toml` gives the chain module.
const OPTIONS: ChainOptions = ChainOptions {
    address_index: true,
    tx_index: false,
    block_filter_index: false,
    keep_blocks: 0,
    assume_valid: None,
};

// ---------------------------------------------------------------------------------------
// The chain.

/// What the generated chain holds.
struct ChainSize {
    txs: u64,
    /// Serialized size of every block after genesis.
    bytes: u64,
}

/// Builds the chain into `state`.
fn build_chain(state: &ChainState, spec: &ChainSpec) -> ChainSize {
    let wallet = Wallet::new(3);
    let mut builder = Builder::new(state);
    let mut size = ChainSize { txs: 0, bytes: 0 };
    let accept = |block: &Block, size: &mut ChainSize| {
        state.accept_block(block).expect("a valid generated block");
        size.txs += block.txs.len() as u64;
        size.bytes += block.size() as u64;
    };
    let fan_out = builder.next_block_split(&wallet, TXS_PER_BLOCK, vec![]);
    accept(&fan_out, &mut size);
    while builder.height() < spec.coinbase_maturity {
        let block = builder.next_block(&wallet, vec![]);
        accept(&block, &mut size);
    }
    // Each block's payments are spent by the next one's, output by output.
    let mut coins: Vec<Transaction> = vec![fan_out.txs[0].clone()];
    while builder.height() < BLOCKS {
        let payments: Vec<Transaction> = coins
            .iter()
            .flat_map(|tx| spend_each_output(tx, &wallet, &wallet, FEE))
            .collect();
        let block = builder.next_block(&wallet, payments);
        accept(&block, &mut size);
        coins = block.txs[1..].to_vec();
    }
    size
}

/// Copies a data directory, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a data directory copy");
    for entry in std::fs::read_dir(from).expect("read the data directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Node processes.

/// A running `node` and the settings to call it.
struct Node {
    node: RegtestNode,
    rpc: ClientSettings,
}

impl Node {
    /// Starts `node` on `configs/regtest.toml` with data directory `datadir`, logging to
    /// `datadir.log`.
    fn spawn(datadir: PathBuf, sets: &[String]) -> Node {
        let node = RegtestNode::spawn(datadir, sets);
        let rpc = ClientSettings {
            addr: node.rpc,
            credentials: Credentials::Cookie(node.cookie()),
        };
        Node { node, rpc }
    }

    /// The node's height, or why it cannot be read; panics if the node exited.
    fn height(&mut self, runtime: &tokio::runtime::Runtime) -> Result<u64, String> {
        self.node.assert_running();
        let answer = runtime
            .block_on(node_rpc::call(&self.rpc, "getblockcount", vec![]))
            .map_err(|e| e.to_string())?;
        answer
            .as_u64()
            .ok_or_else(|| format!("getblockcount answered {answer}"))
    }

    /// Waits until the node answers and returns its height.
    fn wait_ready(&mut self, runtime: &tokio::runtime::Runtime) -> u64 {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.height(runtime) {
                Ok(height) => return height,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "node not answering after {START_TIMEOUT:?} ({e}); log {}",
                    self.node.process.log().display()
                ),
            }
            std::thread::sleep(POLL);
        }
    }
}

/// What one sync took.
struct Sync {
    secs: f64,
    /// Bytes of `block` messages the fresh node received (more than the chain: some
    /// blocks came twice).
    block_bytes: u64,
    /// Scrapes of `/metrics` while it ran (the metrics variant; 0 otherwise).
    scrapes: usize,
    /// CPU seconds the syncing node used, and the sources while it ran: beside two cores
    /// times `secs`, they say whether the cores idled or did work the ceiling does not.
    cpu_secs: f64,
    source_cpu_secs: f64,
}

/// GETs `addr`'s `/metrics` every [`SCRAPE_INTERVAL`] until `stop`; returns how many
/// scrapes were made, each checked to be a real exposition.
fn scrape(addr: SocketAddr, stop: &AtomicBool) -> usize {
    let mut scrapes = 0;
    while !stop.load(Ordering::Relaxed) {
        scrape_metrics(addr);
        scrapes += 1;
        std::thread::sleep(SCRAPE_INTERVAL);
    }
    scrapes
}

/// Syncs a fresh node with `strategy` from `sources` up to [`BLOCKS`], with
/// `chain.assume_valid` set to `assume_valid` if given, and with the metrics plugin on
/// and scraped if `metrics`.
fn sync(
    root: &Path,
    runtime: &tokio::runtime::Runtime,
    strategy: &str,
    sources: &[Node],
    assume_valid: Option<Hash256>,
    metrics: bool,
    filter_index: bool,
) -> Sync {
    // Numbered, so the log of every try is kept (`BENCH_NODE_LOG`).
    static SYNCS: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "fresh-{strategy}-{}{}{}{}-{}",
        sources.len(),
        if assume_valid.is_some() { "-av" } else { "" },
        if metrics { "-metrics" } else { "" },
        if filter_index { "-filters" } else { "" },
        SYNCS.fetch_add(1, Ordering::Relaxed)
    );
    let datadir = root.join(&name);
    let targets: Vec<String> = sources.iter().map(|s| s.node.p2p.to_string()).collect();
    let mut sets = vec![
        format!("sync.strategy={strategy}"),
        format!("peers.connect={targets:?}"),
    ];
    if let Some(hash) = assume_valid {
        sets.push(format!("chain.assume_valid={hash}"));
    }
    if filter_index {
        sets.push("chain.block_filter_index=true".to_string());
    }
    if metrics {
        sets.push(format!("node.modules={WITH_METRICS:?}"));
        sets.push("metrics.listen=127.0.0.1:0".to_string());
    }
    let sources_cpu = || -> f64 { sources.iter().map(|s| s.node.process.cpu_secs()).sum() };
    let sources_before = sources_cpu();
    let start = Instant::now();
    let mut node = Node::spawn(datadir.clone(), &sets);
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = metrics.then(|| {
        let addr = node.node.http_addr("metrics");
        let stop = stop.clone();
        std::thread::spawn(move || scrape(addr, &stop))
    });
    let deadline = start + SYNC_TIMEOUT;
    loop {
        let height = node.height(runtime).ok();
        if height == Some(u64::from(BLOCKS)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name} not synced within {SYNC_TIMEOUT:?}; log {}",
            node.node.process.log().display()
        );
        // Each poll takes CPU from the node measured (a twentieth of a core every 10 ms):
        // rarely while far from the end, every POLL near it, from the rate so far.
        let wait = match height {
            Some(height) if height > 0 => {
                let left = start
                    .elapsed()
                    .mul_f64((u64::from(BLOCKS) - height) as f64 / height as f64);
                (left / 2).clamp(POLL, 20 * POLL)
            }
            _ => POLL,
        };
        std::thread::sleep(wait);
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = node.node.process.cpu_secs();
    let source_cpu_secs = sources_cpu() - sources_before;
    stop.store(true, Ordering::Relaxed);
    let scrapes = scraper.map_or(0, |s| s.join().expect("the scraper"));
    let peers = runtime
        .block_on(node_rpc::call(&node.rpc, "getpeerinfo", vec![]))
        .expect("getpeerinfo");
    let block_bytes = peers
        .as_array()
        .expect("a list of peers")
        .iter()
        .filter_map(|p| p["bytesrecv_per_msg"]["block"].as_u64())
        .sum();
    drop(node);
    // Free the disk for the next run; the log stays until the end.
    std::fs::remove_dir_all(&datadir).expect("remove the synced data directory");
    Sync {
        secs,
        block_bytes,
        scrapes,
        cpu_secs,
        source_cpu_secs,
    }
}

/// Seconds from spawning a fresh node with no peer (a closed port as its only target)
/// until it answers `getblockcount`.
fn node_start(root: &Path, runtime: &tokio::runtime::Runtime) -> f64 {
    let datadir = root.join("fresh-start");
    let start = Instant::now();
    let mut node = Node::spawn(
        datadir.clone(),
        &["peers.connect=[\"127.0.0.1:9\"]".to_string()],
    );
    node.wait_ready(runtime);
    let secs = start.elapsed().as_secs_f64();
    drop(node);
    std::fs::remove_dir_all(&datadir).expect("remove the started data directory");
    secs
}

/// Every block of `source` after genesis, in memory.
fn load_blocks(source: &ChainState) -> Vec<Block> {
    chain_blocks(source)
        .collect::<Result<_, _>>()
        .expect("read the source chain")
}

/// Seconds to verify every signature of `blocks` on all cores, nothing else.
fn signature_ceiling(blocks: &[Block]) -> f64 {
    let script = Wallet::new(3).script();
    let inputs: Vec<(&Transaction, usize)> = blocks
        .iter()
        .flat_map(|b| b.txs[1..].iter())
        .flat_map(|tx| (0..tx.inputs.len()).map(move |i| (tx, i)))
        .collect();
    let start = Instant::now();
    inputs.par_iter().for_each(|(tx, i)| {
        verify_p2pkh_input(tx, *i, &script).expect("a valid generated spend");
    });
    start.elapsed().as_secs_f64()
}

/// Seconds to write `blocks` into a fresh state whose `assume_valid` is the last of them
/// (headers known first, as a node syncing headers-first has them), in runs as
/// `import_blocks` writes them.
fn write_ceiling(dir: &Path, spec: Arc<ChainSpec>, source: &ChainState, blocks: &[Block]) -> f64 {
    let options = ChainOptions {
        assume_valid: Some(source.tip().hash),
        ..OPTIONS
    };
    let state = ChainState::open(dir, spec, options, |_| {}).expect("open a chain state");
    import_headers(&state, source).expect("headers");
    let blocks = blocks.to_vec();
    let start = Instant::now();
    import_blocks(&state, blocks.into_iter().map(Ok), Some(BLOCKS), |_| {}).expect("valid blocks");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(state.tip().height, BLOCKS);
    drop(state);
    std::fs::remove_dir_all(dir).expect("remove the ceiling's state");
    secs
}

/// [`REPEATS`] tries of `measure` (which returns its seconds and what else it saw), each
/// between two measures of `ceiling`: the try of median ratio (the faster ceiling beside
/// it over its seconds) as `(ceiling secs, secs, what it saw)`, and every try's ratio in
/// order.
fn median_beside_ceiling<T>(
    mut ceiling: impl FnMut() -> f64,
    mut measure: impl FnMut() -> (f64, T),
) -> ((f64, f64, T), Vec<f64>) {
    let mut before = ceiling();
    let mut tries: Vec<(f64, f64, T)> = (0..REPEATS)
        .map(|_| {
            let (secs, seen) = measure();
            let after = ceiling();
            let beside = before.min(after);
            before = after;
            (beside, secs, seen)
        })
        .collect();
    let ratios: Vec<f64> = tries.iter().map(|(c, s, _)| round(c / s, 3)).collect();
    tries.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let median = tries.swap_remove(REPEATS / 2);
    (median, ratios)
}

/// The fastest of [`CEILING_RUNS`] calls of `measure`.
fn fastest(mut measure: impl FnMut() -> f64) -> f64 {
    (0..CEILING_RUNS)
        .map(|_| measure())
        .fold(f64::INFINITY, f64::min)
}

/// The block filter index built over the stored chain, as a node does when the index is
/// turned on later: blocks/s of the build, and the index's bytes per block (records
/// only; every script of this chain is one wallet's, so its filters are the smallest a
/// block has: see [`filter_sizes`] for filters of many scripts).
fn filter_index_build(root: &Path, source_dir: &Path, spec: Arc<ChainSpec>) {
    let dir = root.join("filter-build");
    copy_dir(source_dir, &dir);
    let options = ChainOptions {
        block_filter_index: true,
        ..OPTIONS
    };
    let state = ChainState::open(&dir.join("chain"), spec, options, |_| {})
        .expect("open a copy of the chain state");
    let start = Instant::now();
    while !state
        .build_filter_index_batch()
        .expect("build the filter index")
        .expect("the index is on")
        .synced
    {}
    let secs = start.elapsed().as_secs_f64();
    print(
        "filter_index_build_blocks_per_s",
        json!(round(f64::from(BLOCKS + 1) / secs, 1)),
        "blocks/s",
    );
    let bytes: usize = (0..=BLOCKS)
        .map(|height| {
            let hash = state.hash_at(height).expect("a main-chain block");
            let stored = state.block_filter(&hash).expect("read").expect("indexed");
            64 + stored.filter.map_or(0, |f| f.bytes.len())
        })
        .sum();
    print(
        "filter_index_bytes_per_block",
        json!(round(bytes as f64 / f64::from(BLOCKS + 1), 1)),
        "bytes",
    );
    drop(state);
    std::fs::remove_dir_all(&dir).expect("remove the filter build's copy");
}

/// A basic filter's size and build rate for blocks of many distinct scripts (P2PKH, 25
/// bytes each): what a block of `n` payments to different addresses costs the index.
fn filter_sizes() {
    for n in [200usize, 5_000] {
        let scripts: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let mut hash = [0u8; 20];
                hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
                node_chain::script::p2pkh_script(&hash)
            })
            .collect();
        let start = Instant::now();
        let filter = node_chain::block_filter::BlockFilter::from_elements(
            &Hash256([7; 32]),
            scripts.iter().map(Vec::as_slice),
        );
        let secs = start.elapsed().as_secs_f64();
        print(
            &format!("filter_bytes_{n}_scripts"),
            json!(filter.bytes.len()),
            "bytes",
        );
        print(
            &format!("filter_bits_per_script_{n}_scripts"),
            json!(round(filter.bytes.len() as f64 * 8.0 / n as f64, 2)),
            "bits",
        );
        print(
            &format!("filter_scripts_per_s_{n}_scripts"),
            json!((n as f64 / secs).round()),
            "scripts/s",
        );
    }
}

/// Seconds `import_blocks` takes from `source` into a fresh state with `assume_valid`
/// (and the block filter index when `filter_index`).
fn import(
    dir: &Path,
    spec: Arc<ChainSpec>,
    source: &ChainState,
    assume_valid: Option<Hash256>,
    filter_index: bool,
) -> f64 {
    let options = ChainOptions {
        assume_valid,
        block_filter_index: filter_index,
        ..OPTIONS
    };
    let state = ChainState::open(dir, spec, options, |_| {}).expect("open the import chain state");
    // A fresh node's signature cache is empty; an earlier try in this process filled it
    // with every signature of the chain (blocks verified ahead of connecting store theirs).
    SigCache::global().clear();
    let start = Instant::now();
    import_headers(&state, source).expect("import the headers");
    let end = import_blocks(&state, chain_blocks(source), Some(BLOCKS), |_| {})
        .expect("import the chain");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(end.height, BLOCKS);
    drop(state);
    std::fs::remove_dir_all(dir).expect("remove the imported state");
    secs
}

fn main() {
    let spec = ChainSpec::by_name("regtest").expect("regtest");
    let dir = KeepOnPanic::new("sync-bench-");
    let root = dir.path().to_path_buf();
    let source_dir = root.join("source");

    let source = ChainState::open(&source_dir.join("chain"), spec.clone(), OPTIONS, |_| {})
        .expect("open the source chain state");
    let ChainSize { txs, bytes } = build_chain(&source, &spec);
    assert_eq!(source.tip().height, BLOCKS);
    let tip = source.tip().hash;
    print("chain_blocks", json!(BLOCKS), "blocks");
    print("chain_txs", json!(txs), "transactions");
    print("chain_bytes", json!(bytes), "bytes");

    let blocks = load_blocks(&source);
    let sigs: u64 = blocks
        .iter()
        .flat_map(|b| b.txs[1..].iter())
        .map(|tx| tx.inputs.len() as u64)
        .sum();
    let sig_secs = fastest(|| signature_ceiling(&blocks));
    print("chain_sigs", json!(sigs), "signatures");
    print(
        "sig_ceiling_sigs_per_s",
        json!((sigs as f64 / sig_secs).round()),
        "sig/s",
    );
    print("sig_ceiling_secs", json!(round(sig_secs, 2)), "s");
    let write_secs =
        fastest(|| write_ceiling(&root.join("ceiling"), spec.clone(), &source, &blocks));
    print(
        "write_ceiling_blocks_per_s",
        json!(round(f64::from(BLOCKS) / write_secs, 1)),
        "blocks/s",
    );
    print("write_ceiling_secs", json!(round(write_secs, 2)), "s");

    // Each import and sync is compared with its ceiling measured just before and just after
    // it (the faster of the two counts): the machine's speed drifts by tens of percent
    // over the minutes of a run, so a ceiling measured minutes earlier made ratios noise.
    let ceiling = |assume_valid: Option<Hash256>, source: &ChainState| match assume_valid {
        None => signature_ceiling(&blocks),
        Some(_) => write_ceiling(&root.join("ceiling"), spec.clone(), source, &blocks),
    };
    let mut import_rates = Vec::new();
    for (assume_valid, suffix) in [(None, ""), (Some(tip), "_assumevalid")] {
        let ((ceiling, secs, ()), tries) = median_beside_ceiling(
            || ceiling(assume_valid, &source),
            || {
                (
                    import(
                        &root.join("import"),
                        spec.clone(),
                        &source,
                        assume_valid,
                        false,
                    ),
                    (),
                )
            },
        );
        print(
            &format!("import_ceiling_secs{suffix}"),
            json!(round(ceiling, 2)),
            "s",
        );
        let rate = f64::from(BLOCKS) / secs;
        import_rates.push(rate);
        print(&format!("import_secs{suffix}"), json!(round(secs, 2)), "s");
        print(
            &format!("import_blocks_per_s{suffix}"),
            json!(round(rate, 1)),
            "blocks/s",
        );
        print(
            &format!("import_tx_per_s{suffix}"),
            json!((txs as f64 / secs).round()),
            "tx/s",
        );
        print(
            &format!("import_vs_ceiling{suffix}"),
            json!(round(ceiling / secs, 3)),
            "ratio",
        );
        print(
            &format!("import_vs_ceiling_tries{suffix}"),
            json!(tries),
            "ratio",
        );
    }
    // The block filter index's cost to an import with assume-valid (signatures, which
    // would hide it, unchecked): without and with it, alternating, the median of each.
    let mut off = Vec::new();
    let mut on = Vec::new();
    let import_dir = root.join("import");
    for _ in 0..FILTER_REPEATS {
        off.push(import(&import_dir, spec.clone(), &source, Some(tip), false));
        on.push(import(&import_dir, spec.clone(), &source, Some(tip), true));
    }
    off.sort_by(f64::total_cmp);
    on.sort_by(f64::total_cmp);
    let (off, on) = (off[FILTER_REPEATS / 2], on[FILTER_REPEATS / 2]);
    print("import_secs_filter_index_off", json!(round(off, 2)), "s");
    print("import_secs_filter_index_on", json!(round(on, 2)), "s");
    print(
        "import_with_filter_index_vs_without",
        json!(round(off / on, 3)),
        "ratio",
    );
    // The sources' data directories are copies of this one, made while it is closed.
    drop(source);
    filter_index_build(&root, &source_dir, spec.clone());
    filter_sizes();
    if std::env::args().any(|a| a == "local") {
        // `cargo bench --bench sync -- local`: the ceilings and imports only, to profile
        // the chain state without nodes.
        return;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut sources: Vec<Node> = (0..SOURCES)
        .map(|i| {
            let datadir = root.join(format!("source{i}"));
            copy_dir(&source_dir, &datadir);
            // A closed port as the only `connect` target: sources dial nobody.
            Node::spawn(datadir, &["peers.connect=[\"127.0.0.1:9\"]".to_string()])
        })
        .collect();
    for source in &mut sources {
        assert_eq!(source.wait_ready(&runtime), u64::from(BLOCKS));
    }
    let source = ChainState::open(&source_dir.join("chain"), spec.clone(), OPTIONS, |_| {})
        .expect("open the source chain state again");

    print(
        "node_start_secs",
        json!(round(node_start(&root, &runtime), 2)),
        "s",
    );
    print(
        "poll_interval_secs",
        json!(node_sync::PollConfig::default().interval_secs),
        "s",
    );
    let runs = [
        (None, import_rates[0], ""),
        (Some(tip), import_rates[1], "_assumevalid"),
    ];
    // `cargo bench --bench sync -- only=headers_first_1peer`: only the sync of that name
    // (`_assumevalid` is part of the name), to profile it.
    let only = std::env::args().find_map(|a| a.strip_prefix("only=").map(str::to_string));
    for (assume_valid, import_rate, av) in runs {
        for strategy in ["headers-first", "poll"] {
            for count in [1, SOURCES] {
                let plural = if count == 1 { "" } else { "s" };
                let suffix = format!("{}_{count}peer{plural}{av}", strategy.replace('-', "_"));
                if only.as_ref().is_some_and(|only| *only != suffix) {
                    continue;
                }
                let ((ceiling, secs, seen), tries) = median_beside_ceiling(
                    || ceiling(assume_valid, &source),
                    || {
                        let run = sync(
                            &root,
                            &runtime,
                            strategy,
                            &sources[..count],
                            assume_valid,
                            false,
                            false,
                        );
                        (
                            run.secs,
                            (run.block_bytes, run.cpu_secs, run.source_cpu_secs),
                        )
                    },
                );
                let (block_bytes, cpu_secs, source_cpu_secs) = seen;
                print(
                    &format!("sync_ceiling_secs_{suffix}"),
                    json!(round(ceiling, 2)),
                    "s",
                );
                let rate = f64::from(BLOCKS) / secs;
                print(&format!("sync_secs_{suffix}"), json!(round(secs, 2)), "s");
                print(
                    &format!("sync_cpu_secs_{suffix}"),
                    json!(round(cpu_secs, 2)),
                    "s",
                );
                print(
                    &format!("sync_source_cpu_secs_{suffix}"),
                    json!(round(source_cpu_secs, 2)),
                    "s",
                );
                print(
                    &format!("sync_blocks_per_s_{suffix}"),
                    json!(round(rate, 1)),
                    "blocks/s",
                );
                print(
                    &format!("sync_tx_per_s_{suffix}"),
                    json!((txs as f64 / secs).round()),
                    "tx/s",
                );
                print(
                    &format!("sync_vs_ceiling_{suffix}"),
                    json!(round(ceiling / secs, 3)),
                    "ratio",
                );
                print(
                    &format!("sync_vs_ceiling_tries_{suffix}"),
                    json!(tries),
                    "ratio",
                );
                print(
                    &format!("sync_vs_import_{suffix}"),
                    json!(round(rate / import_rate, 3)),
                    "ratio",
                );
                print(
                    &format!("sync_block_bytes_vs_chain_{suffix}"),
                    json!(round(block_bytes as f64 / bytes as f64, 3)),
                    "ratio",
                );
            }
        }
    }
    if only.as_ref().is_some_and(|only| only != "filter_index") {
        return;
    }
    // The 1-peer headers-first sync with the metrics plugin, the filter index, or neither.
    let one_peer = |metrics: bool, filter_index: bool| {
        let first = &sources[..1];
        sync(
            &root,
            &runtime,
            "headers-first",
            first,
            None,
            metrics,
            filter_index,
        )
    };
    if only.is_none() {
        // The metrics variant, back to back so both see the same machine.
        let off = one_peer(false, false);
        let on = one_peer(true, false);
        print("with_metrics_sync_secs_off", json!(round(off.secs, 2)), "s");
        print("with_metrics_sync_secs_on", json!(round(on.secs, 2)), "s");
        print(
            "with_metrics_vs_without",
            json!(round(off.secs / on.secs, 3)),
            "ratio",
        );
        print("with_metrics_scrapes", json!(on.scrapes), "scrapes");
    }
    // The block filter index variant (`-- only=filter_index` runs it alone): the 1-peer
    // headers-first sync without and with `chain.block_filter_index`, alternating, the
    // median of each.
    let mut off = Vec::new();
    let mut on = Vec::new();
    for _ in 0..REPEATS {
        off.push(one_peer(false, false).secs);
        on.push(one_peer(false, true).secs);
    }
    off.sort_by(f64::total_cmp);
    on.sort_by(f64::total_cmp);
    let (off, on) = (off[REPEATS / 2], on[REPEATS / 2]);
    print("with_filter_index_sync_secs_off", json!(round(off, 2)), "s");
    print("with_filter_index_sync_secs_on", json!(round(on, 2)), "s");
    print(
        "with_filter_index_vs_without",
        json!(round(off / on, 3)),
        "ratio",
    );
    drop(sources);
    drop(runtime);
    drop(dir);
}
