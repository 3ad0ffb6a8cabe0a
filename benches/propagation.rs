//! Propagation: how long a transaction and a block take to reach every node of a network
//! of eight real `node` processes, per broadcast behaviour and topology.
//!
//! For each broadcast behaviour (`flood`, `announce`, `batched` at the default
//! `relay.batched.interval_ms`, `compact`) and each topology, eight nodes start on
//! `configs/regtest.toml`, on 127.0.0.1 with their own data directories, and fix the
//! topology with `peers.connect` (a node with a `connect` list dials nobody else):
//! - `line`: node i connects to node i-1 only (node 0 to a closed port), seven hops end
//!   to end;
//! - `mesh`: node i connects to every node before it, one link between every pair.
//!
//! Node 0 mines 101 blocks to a key of this process (`testing::Wallet`), and a fan-out
//! transaction confirmed in the next block gives it independent coins. Then:
//! - transaction trials: a payment signed here is sent with `sendrawtransaction` to
//!   node 0; the figure is the time from just before the call until the last node's
//!   `getrawmempool` lists it;
//! - block trials: `generatetoaddress 1` on node 0; the time from just before the call
//!   until the last node's `getblockcount` reaches the new height (node 0 is the only
//!   miner, so that height is that block; every tip is compared at the end).
//!
//! `batched` nodes start a random fraction of the interval apart, so their batch timers
//! tick at independent phases (started back to back, they would tick in start order and
//! an announcement would ride that cascade down the line). Past the first hop a line's
//! delay is then the sum of the drawn phase offsets, fixed for the run: `batched` line
//! figures vary between runs (about seven half-intervals on average), their p50-p99
//! spread is the wait for node 0's timer.
//!
//! A thread per node polls its RPC server (keep-alive HTTP, a millisecond between polls)
//! while a trial is open, so an arrival is seen within about a millisecond plus one RPC
//! round trip. Trials of `flood` and `announce` run one at a time, a few random
//! milliseconds apart. `batched` waits up to an interval at every hop by design, so its
//! trials overlap to fit the run in minutes: a new one starts every 0.5 to 1.5 tenths of
//! the interval (at random, so trials fall at every phase of the nodes' timers), each
//! measured on its own; an announcement batch carries whatever is queued, so one
//! object's delay does not depend on the others'.
//!
//! Prints one JSON object per line, `{"name", "value", "unit"}`:
//! - `tx_ms_p50_<behaviour>_<topology>`, `tx_ms_p99_...`, `block_ms_p50_...`,
//!   `block_ms_p99_...`: nearest-rank percentiles over the trials;
//! - `trials_<behaviour>_<topology>`: trials of each kind;
//! - `block_bytes_per_hop_<behaviour>_<topology>`: bytes of the messages that carry,
//!   announce or complete a block (`block`, `cmpctblock`, `getblocktxn`, `blocktxn`,
//!   `headers`, `inv`, `getdata`) sent by every node during the block trials, per block
//!   per node reached (seven); `warm_block_bytes_per_hop_...`: the same for the one block
//!   confirming the 100 trial payments, which every mempool holds (its time is not
//!   measured);
//! - `batch_interval_ms`, `poll_interval_ms`, `nodes`;
//! - the metrics variant (`with_metrics`): `announce` on the line with the metrics plugin
//!   off and on, each node's `/metrics` scraped every 100 ms while trials run, two
//!   networks of each in alternation: `with_metrics_<kind>_ms_p<50|99>_announce_line_off`,
//!   `..._on` and `..._ratio` (on / off). `cargo bench --bench propagation --
//!   with_metrics` runs only it (about a minute and a half).
//!
//! Run with `cargo bench --bench propagation` from the repository root; it takes two to
//! four minutes on two cores. `cargo bench --bench propagation -- compact announce` runs
//! only the behaviours named (and not the metrics variant). Node logs go to a temporary directory, kept and named on
//! failure.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use node_chain::{deserialize, serialize, Address, Block, ChainSpec, Transaction, TxOut};
use node_chain_state::testing::Wallet;
use rand::Rng;
use serde_json::{json, Value};

#[path = "support/json.rs"]
mod json;
#[path = "support/metrics_scrape.rs"]
mod metrics_scrape;
#[path = "support/process.rs"]
mod process;
#[path = "support/regtest_node.rs"]
mod regtest_node;
#[path = "support/temp_dir.rs"]
mod temp_dir;

use json::{print, round};
use metrics_scrape::scrape_metrics;
use regtest_node::RegtestNode;
use temp_dir::KeepOnPanic;

/// Nodes in every network.
const NODES: usize = 8;
/// Trials of each kind (transaction, block) per behaviour and topology.
const TRIALS: usize = 100;
/// Pause between two polls of one node.
const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// Longest pause between two sequential trials (the pause is random below it).
const MAX_GAP: Duration = Duration::from_millis(20);
/// A trial not seen by every node within this time fails the run.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for a node to start, and for a network to connect or catch up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Fee of each trial payment, satoshis (far above the minimum relay fee).
const FEE: u64 = 10_000;
/// Fee of the fan-out transaction, satoshis.
const FAN_OUT_FEE: u64 = 100_000;

const BEHAVIOURS: [&str; 4] = ["flood", "announce", "batched", "compact"];

/// The messages that carry, announce or complete a block: their bytes sent, summed over
/// every node, are a block's cost on the wire.
const BLOCK_COMMANDS: [&str; 7] = [
    "block",
    "cmpctblock",
    "getblocktxn",
    "blocktxn",
    "headers",
    "inv",
    "getdata",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topology {
    Line,
    Mesh,
}

impl Topology {
    fn name(self) -> &'static str {
        match self {
            Topology::Line => "line",
            Topology::Mesh => "mesh",
        }
    }

    /// The indices node `i` connects to.
    fn links(self, i: usize) -> Vec<usize> {
        match self {
            Topology::Line => i.checked_sub(1).into_iter().collect(),
            Topology::Mesh => (0..i).collect(),
        }
    }

    /// The connection count of node `i` once the network is up.
    fn degree(self, i: usize) -> u64 {
        match self {
            Topology::Line if i == 0 || i == NODES - 1 => 1,
            Topology::Line => 2,
            Topology::Mesh => NODES as u64 - 1,
        }
    }
}

// ---------------------------------------------------------------------------------------
// A blocking JSON-RPC client on one keep-alive connection: spawning `node rpc` or opening
// a connection per poll would cost more than what is measured.

/// One node's RPC endpoint.
struct Rpc {
    addr: SocketAddr,
    authorization: String,
    stream: Option<BufReader<TcpStream>>,
}

/// How an HTTP exchange failed.
struct ExchangeError {
    /// Nothing of a reply arrived: on a reused connection the server may have closed it
    /// as idle, and the request can be sent again on a new one.
    nothing_received: bool,
    error: std::io::Error,
}

impl Rpc {
    /// A client for the node at `addr` whose cookie is at `cookie`.
    fn new(addr: SocketAddr, cookie: &Path) -> std::io::Result<Rpc> {
        let (user, password) = node_rpc::read_cookie(cookie)?;
        Ok(Rpc {
            addr,
            authorization: node_rpc::basic_authorization(&user, &password),
            stream: None,
        })
    }

    /// Calls `method`; its result, or what went wrong.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let body =
            json!({"jsonrpc": "1.0", "id": 0, "method": method, "params": params}).to_string();
        let reused = self.stream.is_some();
        let reply = match self.exchange(&body) {
            Ok(reply) => Ok(reply),
            Err(e) if reused && e.nothing_received => {
                self.stream = None;
                self.exchange(&body)
            }
            Err(e) => Err(e),
        };
        let (status, reply) = reply.map_err(|e| {
            self.stream = None;
            format!("{method} at {}: {}", self.addr, e.error)
        })?;
        let mut reply: Value = serde_json::from_slice(&reply).map_err(|_| {
            format!(
                "{method} at {}: {status}: {}",
                self.addr,
                String::from_utf8_lossy(&reply)
            )
        })?;
        match reply.get("error") {
            None | Some(Value::Null) => Ok(reply["result"].take()),
            Some(error) => Err(format!("{method} at {}: {error}", self.addr)),
        }
    }

    /// Sends one request and reads the status line and body of the reply.
    fn exchange(&mut self, body: &str) -> Result<(String, Vec<u8>), ExchangeError> {
        let early = |error| ExchangeError {
            nothing_received: true,
            error,
        };
        let late = |error| ExchangeError {
            nothing_received: false,
            error,
        };
        if self.stream.is_none() {
            let stream =
                TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).map_err(late)?;
            stream.set_nodelay(true).map_err(late)?;
            stream
                .set_read_timeout(Some(Duration::from_secs(120)))
                .map_err(late)?;
            self.stream = Some(BufReader::new(stream));
        }
        let reader = self.stream.as_mut().expect("connected above");
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            self.authorization,
            body.len()
        );
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(early)?;
        let mut status = String::new();
        if reader.read_line(&mut status).map_err(early)? == 0 {
            return Err(early(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).map_err(late)? == 0 {
                return Err(late(std::io::ErrorKind::UnexpectedEof.into()));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| late(std::io::Error::other("no Content-Length")))?;
        let mut reply = vec![0; length];
        reader.read_exact(&mut reply).map_err(late)?;
        Ok((status.trim_end().to_string(), reply))
    }
}

// ---------------------------------------------------------------------------------------
// Node processes.

/// A client of `node`, once it answers RPC calls.
fn client(node: &mut RegtestNode) -> Rpc {
    let cookie = node.cookie();
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        node.assert_running();
        if let Ok(mut rpc) = Rpc::new(node.rpc, &cookie) {
            if rpc.call("getblockcount", json!([])).is_ok() {
                return rpc;
            }
        }
        assert!(
            Instant::now() < deadline,
            "node did not answer RPC within {SETUP_TIMEOUT:?}; log {}",
            node.process.log().display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls `condition` until it holds, or panics naming `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Trials and the pollers that see them arrive.

/// What a trial waits for at every node.
#[derive(Clone)]
enum Target {
    /// A txid in the mempool.
    Tx(String),
    /// A main-chain height reached.
    Height(u64),
}

struct Trial {
    target: Target,
    start: Instant,
    seen: [Option<Instant>; NODES],
}

#[derive(Default)]
struct Board {
    open: Vec<Trial>,
    /// Time from each finished trial's start to its arrival at the last node.
    finished: Vec<Duration>,
    failure: Option<String>,
    stop: bool,
}

/// The trials in progress, shared by the driver and the pollers.
#[derive(Default)]
struct Shared {
    board: Mutex<Board>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().expect("a poller panicked")
    }
}

/// Polls node `index` while some open trial has not been seen there.
fn poll(shared: &Shared, index: usize, mut rpc: Rpc) {
    loop {
        let targets: Vec<Target> = {
            let mut board = shared.lock();
            loop {
                if board.stop || board.failure.is_some() {
                    return;
                }
                let waiting: Vec<Target> = board
                    .open
                    .iter()
                    .filter(|t| t.seen[index].is_none())
                    .map(|t| t.target.clone())
                    .collect();
                if !waiting.is_empty() {
                    break waiting;
                }
                board = shared.changed.wait(board).expect("a poller panicked");
            }
        };
        let heights = targets.iter().any(|t| matches!(t, Target::Height(_)));
        let answer = if heights {
            rpc.call("getblockcount", json!([]))
        } else {
            rpc.call("getrawmempool", json!([]))
        };
        let now = Instant::now();
        let mut guard = shared.lock();
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                guard.failure = Some(format!("node {index}: {e}"));
                shared.changed.notify_all();
                return;
            }
        };
        let height = answer.as_u64();
        let pool: HashSet<&str> = answer
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let board = &mut *guard;
        for trial in &mut board.open {
            let arrived = match &trial.target {
                Target::Tx(txid) => pool.contains(txid.as_str()),
                Target::Height(h) => height.is_some_and(|got| got >= *h),
            };
            if arrived && trial.seen[index].is_none() {
                trial.seen[index] = Some(now);
            }
        }
        let before = board.open.len();
        let finished = &mut board.finished;
        board.open.retain(|t| {
            let last = t.seen.iter().copied().collect::<Option<Vec<Instant>>>();
            match last.and_then(|s| s.into_iter().max()) {
                Some(last) => {
                    finished.push(last - t.start);
                    false
                }
                None => true,
            }
        });
        if board.open.len() != before {
            shared.changed.notify_all();
        }
        drop(guard);
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Runs `count` trials and returns their times in milliseconds: trial k waits for
/// `target(k)` at every node and starts just before `send(k)`. With `spacing`, a trial
/// starts every random `spacing` without waiting for the previous one; without, one at a
/// time.
fn run_trials(
    shared: &Shared,
    count: usize,
    spacing: Option<(Duration, Duration)>,
    target: impl Fn(usize) -> Target,
    mut send: impl FnMut(usize),
) -> Vec<f64> {
    let mut rng = rand::thread_rng();
    for k in 0..count {
        match spacing {
            Some((low, high)) => std::thread::sleep(rng.gen_range(low..high)),
            None => {
                drop(until_finished(shared));
                std::thread::sleep(rng.gen_range(Duration::ZERO..MAX_GAP));
            }
        }
        let mut board = shared.lock();
        board.open.push(Trial {
            target: target(k),
            start: Instant::now(),
            seen: [None; NODES],
        });
        shared.changed.notify_all();
        drop(board);
        send(k);
    }
    let mut board = until_finished(shared);
    std::mem::take(&mut board.finished)
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect()
}

/// Waits until every open trial has been seen everywhere; panics after [`TRIAL_TIMEOUT`]
/// naming the nodes still missing something, or when a poller failed.
fn until_finished(shared: &Shared) -> MutexGuard<'_, Board> {
    let (board, _) = shared
        .changed
        .wait_timeout_while(shared.lock(), TRIAL_TIMEOUT, |b| {
            !b.open.is_empty() && b.failure.is_none()
        })
        .expect("a poller panicked");
    if let Some(failure) = &board.failure {
        panic!("polling failed: {failure}");
    }
    if !board.open.is_empty() {
        let missing: Vec<Vec<usize>> = board
            .open
            .iter()
            .map(|t| (0..NODES).filter(|i| t.seen[*i].is_none()).collect())
            .collect();
        panic!("trials not seen within {TRIAL_TIMEOUT:?} by nodes {missing:?}");
    }
    board
}

/// Nearest-rank percentile.
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------
// Transactions signed here, spending coins mined to this process's key.

/// A block of node `rpc` by height, decoded.
fn block_at(rpc: &mut Rpc, height: u64) -> Block {
    let hash = rpc
        .call("getblockhash", json!([height]))
        .expect("getblockhash");
    let hex = rpc.call("getblock", json!([hash, 0])).expect("getblock");
    let bytes = hex::decode(hex.as_str().expect("hex")).expect("hex block");
    deserialize(&bytes).expect("a block")
}

// ---------------------------------------------------------------------------------------
// One network.

#[derive(Default)]
struct Figures {
    tx_ms: Vec<f64>,
    block_ms: Vec<f64>,
    /// Bytes of [`BLOCK_COMMANDS`] sent per measured block per node it reached.
    block_bytes_per_hop: f64,
    /// The same for the one block that confirms the 100 trial payments, which every
    /// mempool holds.
    warm_block_bytes_per_hop: f64,
}

/// Bytes of [`BLOCK_COMMANDS`] every node has sent so far (`getpeerinfo`).
fn block_bytes_sent(clients: &mut [Rpc]) -> u64 {
    let mut total = 0;
    for rpc in clients.iter_mut() {
        for peer in call(rpc, "getpeerinfo", json!([]))
            .as_array()
            .into_iter()
            .flatten()
        {
            for command in BLOCK_COMMANDS {
                total += peer["bytessent_per_msg"][command].as_u64().unwrap_or(0);
            }
        }
    }
    total
}

fn call(rpc: &mut Rpc, method: &str, params: Value) -> Value {
    rpc.call(method, params)
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Whether the nodes run the metrics plugin, scraped while trials run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metrics {
    Off,
    On,
}

/// `configs/regtest.toml`'s modules plus the metrics plugin.
const WITH_METRICS: [&str; 9] = [
    "chain", "mempool", "wallet", "miner", "peers", "sync", "relay", "rpc", "metrics",
];

/// How often each node's `/metrics` is scraped while trials run: ten times Prometheus's
/// usual fastest interval, so a cost would show.
const SCRAPE_INTERVAL: Duration = Duration::from_millis(100);

/// Scrapes every node's `/metrics` each [`SCRAPE_INTERVAL`] until the trials stop;
/// returns the number of scrapes (each checked to be a real exposition).
fn scrape(shared: &Shared, addrs: &[SocketAddr]) -> usize {
    let mut scrapes = 0;
    while !shared.lock().stop {
        for addr in addrs {
            scrape_metrics(*addr);
            scrapes += 1;
        }
        std::thread::sleep(SCRAPE_INTERVAL);
    }
    scrapes
}

fn measure(
    behaviour: &str,
    topology: Topology,
    batch_interval: Duration,
    metrics: Metrics,
) -> Figures {
    // Kept if anything below panics, so the logs can be read.
    let guard = KeepOnPanic::new("propagation-");
    let root = guard.path().to_path_buf();
    let mut metrics_addrs: Vec<SocketAddr> = Vec::with_capacity(NODES);
    let mut nodes: Vec<RegtestNode> = Vec::with_capacity(NODES);
    let mut clients: Vec<Rpc> = Vec::with_capacity(NODES);
    let mut rng = rand::thread_rng();
    for i in 0..NODES {
        if behaviour == "batched" {
            // A node's batch timer starts with it: nodes started back to back would tick
            // in start order, and an announcement would ride that cascade down the line.
            // A random pause gives each node its own phase, as in a real network.
            std::thread::sleep(rng.gen_range(Duration::ZERO..batch_interval));
        }
        // A closed port for node 0: with a `connect` list it dials nobody else.
        let targets: Vec<String> = match topology.links(i) {
            links if links.is_empty() => vec!["127.0.0.1:9".to_string()],
            links => links.iter().map(|j| nodes[*j].p2p.to_string()).collect(),
        };
        let mut sets = vec![
            format!("relay.broadcast={behaviour}"),
            format!("peers.connect={targets:?}"),
        ];
        if metrics == Metrics::On {
            sets.push(format!("node.modules={WITH_METRICS:?}"));
            sets.push("metrics.listen=127.0.0.1:0".to_string());
        }
        let mut node = RegtestNode::spawn(root.join(format!("n{i}")), &sets);
        if metrics == Metrics::On {
            metrics_addrs.push(node.http_addr("metrics"));
        }
        clients.push(client(&mut node));
        nodes.push(node);
    }
    for (i, rpc) in clients.iter_mut().enumerate() {
        let want = topology.degree(i);
        wait_until(
            &format!("node {i} to have {want} peers"),
            SETUP_TIMEOUT,
            || call(rpc, "getconnectioncount", json!([])).as_u64() == Some(want),
        );
    }

    // Coins: block 1 pays this process's key, 100 more mature it, and a fan-out confirmed
    // in block 102 splits it into one coin per trial.
    let spec = ChainSpec::by_name("regtest").expect("regtest");
    let wallet = Wallet::new(7);
    let address = Address {
        version: spec.address_version,
        hash: wallet.hash160(),
    }
    .to_string();
    call(&mut clients[0], "generatetoaddress", json!([101, address]));
    let coinbase = block_at(&mut clients[0], 1).txs[0].clone();
    let each = (coinbase.outputs[0].value - FAN_OUT_FEE) / TRIALS as u64;
    // A payment of the whole coin (no change left), then split into one output a trial.
    let mut fan_out = wallet.pay(
        &coinbase,
        0,
        &wallet,
        each,
        coinbase.outputs[0].value - each,
    );
    fan_out.outputs = vec![
        TxOut {
            value: each,
            script_pubkey: wallet.script(),
        };
        TRIALS
    ];
    wallet.resign(&mut fan_out, &coinbase.outputs[0].script_pubkey);
    call(
        &mut clients[0],
        "sendrawtransaction",
        json!([hex::encode(serialize(&fan_out))]),
    );
    call(&mut clients[0], "generatetoaddress", json!([1, address]));
    let payments: Vec<Transaction> = (0..TRIALS)
        .map(|k| wallet.pay(&fan_out, k as u32, &wallet, each - FEE, FEE))
        .collect();
    for (i, rpc) in clients.iter_mut().enumerate() {
        wait_until(&format!("node {i} at height 102"), SETUP_TIMEOUT, || {
            call(rpc, "getblockcount", json!([])).as_u64() == Some(102)
        });
    }

    let shared = Arc::new(Shared::default());
    let pollers: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let rpc = Rpc::new(node.rpc, &node.cookie()).expect("cookie");
            let shared = shared.clone();
            std::thread::spawn(move || poll(&shared, i, rpc))
        })
        .collect();
    let spacing = (behaviour == "batched").then(|| (batch_interval / 20, batch_interval * 3 / 20));
    let scraper = (metrics == Metrics::On).then(|| {
        let shared = shared.clone();
        let addrs = metrics_addrs[..NODES].to_vec();
        std::thread::spawn(move || scrape(&shared, &addrs))
    });

    let raw: Vec<String> = payments
        .iter()
        .map(|tx| hex::encode(serialize(tx)))
        .collect();
    let origin = &mut clients[0];
    let tx_ms = run_trials(
        &shared,
        TRIALS,
        spacing,
        |k| Target::Tx(payments[k].txid().to_string()),
        |k| {
            call(origin, "sendrawtransaction", json!([raw[k]]));
        },
    );
    // A block confirms the payments (its bytes measured, not its time), so the measured
    // blocks are all alike.
    let hops = (NODES - 1) as f64;
    let before = block_bytes_sent(&mut clients);
    call(&mut clients[0], "generatetoaddress", json!([1, address]));
    for (i, rpc) in clients.iter_mut().enumerate() {
        wait_until(&format!("node {i} at height 103"), SETUP_TIMEOUT, || {
            call(rpc, "getblockcount", json!([])).as_u64() == Some(103)
        });
    }
    let warm_block_bytes_per_hop = (block_bytes_sent(&mut clients) - before) as f64 / hops;
    let before = block_bytes_sent(&mut clients);
    let origin = &mut clients[0];
    let block_ms = run_trials(
        &shared,
        TRIALS,
        spacing,
        |k| Target::Height(104 + k as u64),
        |_| {
            let hashes = call(origin, "generatetoaddress", json!([1, address]));
            assert_eq!(hashes.as_array().map(Vec::len), Some(1), "one block mined");
        },
    );

    shared.lock().stop = true;
    shared.changed.notify_all();
    for poller in pollers {
        poller.join().expect("poller");
    }
    if let Some(scraper) = scraper {
        let scrapes = scraper.join().expect("scraper");
        assert!(
            scrapes >= NODES,
            "every node was scraped ({scrapes} scrapes)"
        );
    }
    let block_bytes_per_hop =
        (block_bytes_sent(&mut clients) - before) as f64 / (hops * TRIALS as f64);
    let tip = call(&mut clients[0], "getbestblockhash", json!([]));
    for (i, rpc) in clients.iter_mut().enumerate() {
        assert_eq!(
            call(rpc, "getbestblockhash", json!([])),
            tip,
            "node {i} on another tip"
        );
    }
    drop(nodes);
    drop(guard);
    Figures {
        tx_ms,
        block_ms,
        block_bytes_per_hop,
        warm_block_bytes_per_hop,
    }
}

fn main() {
    let batch_interval_ms = node_relay::BatchedConfig::default().interval_ms;
    let batch_interval = Duration::from_millis(batch_interval_ms);
    print("nodes", json!(NODES), "count");
    print("batch_interval_ms", json!(batch_interval_ms), "ms");
    print(
        "poll_interval_ms",
        json!(POLL_INTERVAL.as_secs_f64() * 1e3),
        "ms",
    );
    // `cargo bench --bench propagation -- with_metrics` runs only the metrics variant.
    let only_metrics = std::env::args().any(|a| a == "with_metrics");
    // `cargo bench --bench propagation -- compact announce` runs only those behaviours.
    let named: Vec<String> = std::env::args()
        .filter(|a| BEHAVIOURS.contains(&a.as_str()))
        .collect();
    let chosen = |b: &str| named.is_empty() || named.iter().any(|n| n == b);
    for behaviour in BEHAVIOURS.iter().filter(|b| !only_metrics && chosen(b)) {
        for topology in [Topology::Line, Topology::Mesh] {
            let figures = measure(behaviour, topology, batch_interval, Metrics::Off);
            let suffix = format!("{behaviour}_{}", topology.name());
            for (kind, samples) in [("tx", &figures.tx_ms), ("block", &figures.block_ms)] {
                for p in [50, 99] {
                    print(
                        &format!("{kind}_ms_p{p}_{suffix}"),
                        json!(round(percentile(samples, f64::from(p)), 2)),
                        "ms",
                    );
                }
            }
            print(
                &format!("block_bytes_per_hop_{suffix}"),
                json!(round(figures.block_bytes_per_hop, 0)),
                "bytes",
            );
            print(
                &format!("warm_block_bytes_per_hop_{suffix}"),
                json!(round(figures.warm_block_bytes_per_hop, 0)),
                "bytes",
            );
            print(
                &format!("trials_{suffix}"),
                json!(figures.tx_ms.len().min(figures.block_ms.len())),
                "count",
            );
        }
    }
    if named.is_empty() {
        with_metrics(batch_interval);
    }
}

/// The metrics variant: `announce` on the line, with the metrics plugin off and on (each
/// node scraped every [`SCRAPE_INTERVAL`]) in one run, twice each in alternation so a
/// drift of the machine's load falls on both; prints each side's percentiles over all
/// its trials and the on/off ratios.
fn with_metrics(batch_interval: Duration) {
    let mut off = Figures::default();
    let mut on = Figures::default();
    for _ in 0..2 {
        for (metrics, figures) in [(Metrics::Off, &mut off), (Metrics::On, &mut on)] {
            let run = measure("announce", Topology::Line, batch_interval, metrics);
            figures.tx_ms.extend(run.tx_ms);
            figures.block_ms.extend(run.block_ms);
        }
    }
    for (kind, off_samples, on_samples) in [
        ("tx", &off.tx_ms, &on.tx_ms),
        ("block", &off.block_ms, &on.block_ms),
    ] {
        for p in [50, 99] {
            let off_ms = percentile(off_samples, f64::from(p));
            let on_ms = percentile(on_samples, f64::from(p));
            let name = format!("with_metrics_{kind}_ms_p{p}_announce_line");
            print(&format!("{name}_off"), json!(round(off_ms, 2)), "ms");
            print(&format!("{name}_on"), json!(round(on_ms, 2)), "ms");
            print(
                &format!("{name}_ratio"),
                json!(round(on_ms / off_ms, 3)),
                "ratio",
            );
        }
    }
    print(
        "with_metrics_scrape_interval_ms",
        json!(SCRAPE_INTERVAL.as_millis() as u64),
        "ms",
    );
}
