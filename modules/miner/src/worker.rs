//! The mining thread: builds templates, runs the nonce search, rolls the extranonce,
//! submits found blocks to the chain like any peer's block, and answers generate
//! requests. A new tip, fresher transactions, `setgenerate false` or shutdown raise the
//! stop flag, which ends the search within about a millisecond.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use node_chain::{target_from_compact, ChainState, Hash256};
use node_mempool::Mempool;
use tokio::sync::oneshot;

use crate::search::{NonceSearcher, SearchJob, SearchStatus};
use crate::template::Template;

/// How long an idle miner waiting for `min_txs` sleeps between looks at the pool, in case
/// a wake-up was missed.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// A `generatetoaddress` call waiting for its blocks.
pub(crate) struct GenerateRequest {
    pub(crate) count: u32,
    pub(crate) payout: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Result<Vec<Hash256>, String>>,
}

#[derive(Default)]
struct State {
    generating: bool,
    /// Where continuous mining pays, when `setgenerate` named an address.
    payout: Option<Vec<u8>>,
    shutdown: bool,
    requests: VecDeque<GenerateRequest>,
}

/// Shared between the mining thread, the event watchers and the RPC methods.
#[derive(Default)]
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
}

impl Control {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Switches continuous mining on or off; `payout` replaces the configured address.
    pub(crate) fn set_generate(&self, on: bool, payout: Option<Vec<u8>>) {
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

/// What the mining thread needs.
pub(crate) struct Worker {
    pub(crate) control: Arc<Control>,
    pub(crate) chain: Arc<ChainState>,
    pub(crate) mempool: Arc<Mempool>,
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
        let mut template = Template::build(
            &self.chain,
            &self.mempool,
            payout.to_vec(),
            self.block_max_bytes,
            if self.block_max_txs == 0 {
                usize::MAX
            } else {
                self.block_max_txs
            },
            now(),
        );
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
                    self.chain.accept_block(&block).map_err(|e| e.to_string())?;
                    self.control.blocks_found.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
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

    fn record(&self, hashes: u64, elapsed: Duration) {
        self.control.hashes.fetch_add(hashes, Ordering::Relaxed);
        // Short searches (regtest finds a block in a few hashes) say nothing of the rate.
        if elapsed >= Duration::from_millis(200) {
            let rate = hashes as f64 / elapsed.as_secs_f64();
            self.control
                .rate_bits
                .store(rate.to_bits(), Ordering::Relaxed);
        }
    }
}
