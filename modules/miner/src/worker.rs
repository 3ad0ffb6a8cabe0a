//! The mining thread: builds templates, runs the nonce search, rolls the extranonce,
//! submits found blocks to the chain like any peer's block, and answers generate
//! requests. A new tip, fresher transactions, `setgenerate false` or shutdown raise the
//! stop flag, which ends the search within about a millisecond.
//!
//! The tip reaches the miner through a chain listener ([`TipWatch`]), registered after
//! the mempool's: when it hears a tip, the pool is done with that tip too. A template is
//! built only from a pool settled on the tip it builds on, so it never offers what the
//! tip already confirmed, even while another module's block is being connected.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use node_api::chain::{target_from_compact, ChainEvent, Hash256};
use node_api::metrics::{counter, describe_counter, Counter};
use node_api::{ChainListener, ChainView, ChainWriter, MempoolService, MinerService, MinerStatus};
use tokio::sync::oneshot;

use crate::search::{NonceSearcher, SearchJob, SearchStatus};
use crate::template::Template;

/// How long an idle miner waiting for `min_txs` sleeps between looks at the pool, in case
/// a wake-up was missed.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a template waits, at most, for the pool to settle on the tip before it is
/// built anyway: a step of the chain takes milliseconds, a reorganisation of a thousand
/// blocks about two seconds.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);

/// A `generatetoaddress` call waiting for its blocks.
pub(crate) struct GenerateRequest {
    pub(crate) count: u32,
    pub(crate) payout: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Result<Vec<Hash256>, String>>,
}

struct State {
    /// The last tip the chain's listeners have finished with (the mempool's among them).
    settled: Hash256,
    generating: bool,
    /// Where continuous mining pays, when `setgenerate` named an address.
    payout: Option<Vec<u8>>,
    shutdown: bool,
    requests: VecDeque<GenerateRequest>,
}

/// Shared between the mining thread, the tip listener, the event watcher and the RPC
/// methods; the `miner` service.
pub(crate) struct Control {
    state: Mutex<State>,
    wake: Condvar,
    /// Raised to end the running search.
    pub(crate) stop_search: AtomicBool,
    /// Hashes computed since start.
    pub(crate) hashes: AtomicU64,
    /// Hashes per second of the last search that ran long enough to measure, as f64 bits.
    rate_bits: AtomicU64,
    /// Blocks this node mined.
    pub(crate) blocks_found: AtomicU64,
    /// The SHA-256 kernel the searcher uses.
    kernel: &'static str,
    /// Search threads.
    threads: usize,
    /// `node_miner_hashes_total` and `node_miner_blocks_found_total`, counted beside the
    /// atomics above once per search (never per hash).
    hashes_metric: Counter,
    found_metric: Counter,
}

impl Control {
    /// A miner searching with `kernel` on `threads` threads, on a chain whose tip is
    /// `tip`.
    pub(crate) fn new(kernel: &'static str, threads: usize, tip: Hash256) -> Control {
        Control {
            state: Mutex::new(State {
                settled: tip,
                generating: false,
                payout: None,
                shutdown: false,
                requests: VecDeque::new(),
            }),
            wake: Condvar::new(),
            stop_search: AtomicBool::new(false),
            hashes: AtomicU64::new(0),
            rate_bits: AtomicU64::new(0),
            blocks_found: AtomicU64::new(0),
            kernel,
            threads,
            hashes_metric: {
                describe_counter!(
                    "node_miner_hashes_total",
                    "block header hashes computed by the miner"
                );
                counter!("node_miner_hashes_total")
            },
            found_metric: {
                describe_counter!("node_miner_blocks_found_total", "blocks this node mined");
                counter!("node_miner_blocks_found_total")
            },
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chain's listeners are done with `tip`: the running search is stale.
    pub(crate) fn settle(&self, tip: Hash256) {
        self.state().settled = tip;
        self.refresh();
    }

    fn settled(&self) -> Hash256 {
        self.state().settled
    }

    /// Waits until a tip other than `tip` settles, or `timeout`.
    fn wait_settled(&self, tip: Hash256, timeout: Duration) {
        let state = self.state();
        if state.settled == tip && !state.shutdown {
            let _ = self.wake.wait_timeout(state, timeout);
        }
    }

    pub(crate) fn is_generating(&self) -> bool {
        self.state().generating
    }

    /// Queues a generate request for the mining thread.
    pub(crate) fn request(&self, request: GenerateRequest) {
        self.state().requests.push_back(request);
        self.wake.notify_all();
    }

    /// Ends the running search so the next one starts on a fresh template.
    pub(crate) fn refresh(&self) {
        self.stop_search.store(true, Ordering::Relaxed);
        self.wake.notify_all();
    }

    /// Ends the mining thread.
    pub(crate) fn shutdown(&self) {
        self.state().shutdown = true;
        self.stop_search.store(true, Ordering::Relaxed);
        self.wake.notify_all();
    }

    /// The local hash rate, hashes per second.
    pub(crate) fn hash_rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Ordering::Relaxed))
    }
}

enum Work {
    Request(GenerateRequest),
    Mine(Vec<u8>),
    Stop,
}

impl MinerService for Control {
    fn status(&self) -> MinerStatus {
        MinerStatus {
            generating: self.is_generating(),
            threads: self.threads,
            kernel: self.kernel,
            hashes_per_second: self.hash_rate(),
            hashes: self.hashes.load(Ordering::Relaxed),
            blocks_found: self.blocks_found.load(Ordering::Relaxed),
        }
    }

    /// Switches continuous mining on or off; `payout` replaces the configured address.
    fn set_generate(&self, on: bool, payout: Option<Vec<u8>>) {
        let mut state = self.state();
        state.generating = on;
        if payout.is_some() {
            state.payout = payout;
        }
        // Under the state lock: `next_work` clears the flag under the same lock, so a
        // stop can never be cleared after it was raised for the work being handed out.
        if !on {
            self.stop_search.store(true, Ordering::Relaxed);
        }
        drop(state);
        self.wake.notify_all();
    }
}

/// The miner's chain listener. It only records the tip and raises the stop flag, so the
/// chain's writer never waits on the miner. It holds the miner weakly: the chain outlives
/// the module.
pub(crate) struct TipWatch(pub(crate) Weak<Control>);

impl ChainListener for TipWatch {
    fn on_chain_event(&self, event: &ChainEvent) {
        if let ChainEvent::TipChanged { hash, .. } = event {
            if let Some(control) = self.0.upgrade() {
                control.settle(*hash);
            }
        }
    }
}

/// What the mining thread needs.
pub(crate) struct Worker {
    pub(crate) control: Arc<Control>,
    pub(crate) chain: Arc<dyn ChainView>,
    pub(crate) writer: Arc<dyn ChainWriter>,
    pub(crate) mempool: Arc<dyn MempoolService>,
    pub(crate) searcher: NonceSearcher,
    pub(crate) payout: Vec<u8>,
    pub(crate) block_max_bytes: usize,
    pub(crate) block_max_txs: usize,
    pub(crate) min_txs: usize,
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

impl Worker {
    /// Runs until shutdown.
    pub(crate) fn run(self) {
        loop {
            match self.next_work() {
                Work::Stop => return,
                Work::Request(request) => self.serve(request),
                Work::Mine(payout) => {
                    if self.mempool.info().size < self.min_txs {
                        let state = self.control.state();
                        let _ = self.control.wake.wait_timeout(state, IDLE_POLL);
                        continue;
                    }
                    if payout.is_empty() {
                        tracing::error!("mining needs a payout address: setgenerate true N ADDRESS, or [miner] payout_address");
                        self.control.set_generate(false, None);
                        continue;
                    }
                    if let Err(e) = self.mine_one(&payout) {
                        tracing::error!("mined block refused: {e}");
                    }
                }
            }
        }
    }

    fn next_work(&self) -> Work {
        let mut state = self.control.state();
        // A stop raised for earlier work is spent; one raised after this point (a new
        // tip, setgenerate false) ends the coming search.
        self.control.stop_search.store(false, Ordering::Relaxed);
        loop {
            if state.shutdown {
                return Work::Stop;
            }
            if let Some(request) = state.requests.pop_front() {
                return Work::Request(request);
            }
            if state.generating {
                let payout = state.payout.clone().unwrap_or_else(|| self.payout.clone());
                return Work::Mine(payout);
            }
            state = self
                .control
                .wake
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    fn serve(&self, request: GenerateRequest) {
        let mut hashes = Vec::with_capacity(request.count as usize);
        while hashes.len() < request.count as usize {
            let state = self.control.state();
            if state.shutdown {
                let _ = request.reply.send(Err("node is stopping".to_string()));
                return;
            }
            // A stop raised for an earlier search (a new tip) must not end this one.
            self.control.stop_search.store(false, Ordering::Relaxed);
            drop(state);
            match self.mine_one(&request.payout) {
                Ok(Some(hash)) => hashes.push(hash),
                Ok(None) => continue,
                Err(e) => {
                    let _ = request.reply.send(Err(e));
                    return;
                }
            }
        }
        let _ = request.reply.send(Ok(hashes));
    }

    /// Mines one block on a fresh template. `None` when the search was stopped (new tip,
    /// new transactions, shutdown) before finding one.
    fn mine_one(&self, payout: &[u8]) -> Result<Option<Hash256>, String> {
        let mut template = self.template(payout);
        let target = target_from_compact(template.next.bits)
            .target
            .to_little_endian();
        loop {
            let mut block = template.block();
            let job = SearchJob::new(&block.header.to_bytes(), &target);
            let started = Instant::now();
            let outcome = self.searcher.search(&job, &self.control.stop_search);
            self.record(outcome.hashes, started.elapsed());
            match outcome.status {
                SearchStatus::Found(nonce) => {
                    block.header.nonce = nonce;
                    let hash = block.hash();
                    self.writer
                        .accept_block(&block)
                        .map_err(|e| e.to_string())?;
                    self.control.blocks_found.fetch_add(1, Ordering::Relaxed);
                    self.control.found_metric.increment(1);
                    // One line per block only at debug: a miner on a fast chain finds
                    // many; the minute summary (module.rs) says how many at info.
                    tracing::debug!(
                        height = template.next.height,
                        %hash,
                        txs = block.txs.len(),
                        "mined a block"
                    );
                    return Ok(Some(hash));
                }
                SearchStatus::Exhausted => {
                    // A new merkle root gives a fresh nonce space.
                    template.extranonce += 1;
                    template.time = template.time.max(now());
                }
                SearchStatus::Stopped => return Ok(None),
            }
        }
    }

    /// A template on the tip from a pool settled on that tip. The chain moves its tip
    /// before its listeners run, so a tip read while a block is being connected may be
    /// ahead of the pool: then the template waits for the step to end.
    fn template(&self, payout: &[u8]) -> Template {
        let max_txs = if self.block_max_txs == 0 {
            usize::MAX
        } else {
            self.block_max_txs
        };
        let build = || {
            Template::build(
                &*self.chain,
                &*self.mempool,
                payout.to_vec(),
                self.block_max_bytes,
                max_txs,
                now(),
            )
        };
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let settled = self.control.settled();
            let template = build();
            let consistent = template.next.prev == settled
                && self.chain.tip().hash == settled
                && self.control.settled() == settled;
            let now = Instant::now();
            if consistent || now >= deadline {
                if !consistent {
                    tracing::warn!(
                        "the pool did not settle on the tip in time; mining its current selection"
                    );
                }
                return template;
            }
            self.control.wait_settled(settled, deadline - now);
        }
    }

    fn record(&self, hashes: u64, elapsed: Duration) {
        self.control.hashes.fetch_add(hashes, Ordering::Relaxed);
        self.control.hashes_metric.increment(hashes);
        // Short searches (regtest finds a block in a few hashes) say nothing of the rate.
        if elapsed >= Duration::from_millis(200) {
            let rate = hashes as f64 / elapsed.as_secs_f64();
            self.control
                .rate_bits
                .store(rate.to_bits(), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use node_api::chain::{Address, ChainSpec};
    use node_chain_state::{ChainOptions, LocalChain};
    // The miner's tests are about blocks and tips: the kit's pool, empty.
    use node_testkit::MemoryPool;

    use super::*;

    #[test]
    fn generate_mines_on_each_new_tip_and_the_listener_settles_it() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ChainSpec::by_name("regtest").unwrap();
        let chain =
            LocalChain::open(dir.path(), spec.clone(), ChainOptions::default(), |_| {}).unwrap();
        let searcher = NonceSearcher::new(1).unwrap();
        let control = Arc::new(Control::new(
            searcher.kernel().name(),
            searcher.threads(),
            chain.tip().hash,
        ));
        chain.listen(Arc::new(TipWatch(Arc::downgrade(&control))));
        let worker = Worker {
            control: control.clone(),
            chain: chain.clone(),
            writer: chain.clone(),
            mempool: MemoryPool::new(),
            searcher,
            payout: Vec::new(),
            block_max_bytes: 1_000_000,
            block_max_txs: 0,
            min_txs: 0,
        };
        let thread = std::thread::spawn(move || worker.run());

        let (reply, answer) = oneshot::channel();
        control.request(GenerateRequest {
            count: 3,
            payout: Address {
                version: spec.address_version,
                hash: [7; 20],
            }
            .script_pubkey(),
            reply,
        });
        let hashes = answer.blocking_recv().unwrap().unwrap();
        assert_eq!(hashes.len(), 3);
        let tip = chain.tip();
        assert_eq!((tip.height, tip.hash), (3, hashes[2]));
        assert_eq!(chain.hash_at(2), Some(hashes[1]));
        assert_eq!(control.settled(), tip.hash);
        let status = control.status();
        assert_eq!((status.blocks_found, status.generating), (3, false));

        control.shutdown();
        thread.join().unwrap();
    }
}
