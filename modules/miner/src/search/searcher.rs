//! The nonce search across a pool of threads.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::error::SearchError;
use super::job::SearchJob;
use super::kernel::Kernel;
use super::scan_until;

/// Nonces a thread takes at a time: a few milliseconds of work, so the threads finish the
/// space close together, and 16,384 chunks in the full 2^32 space, so fetching the next
/// one costs nothing.
const CHUNK: u64 = 1 << 18;

/// No nonce found yet (above any u32).
const NOT_FOUND: u64 = u64::MAX;

/// How a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchStatus {
    /// This nonce meets the target. With several threads it is the lowest of those found
    /// before the others stopped, not necessarily the lowest in the range.
    Found(u32),
    /// Every nonce in the range was hashed and none meets the target: roll the
    /// extranonce (a new merkle root) and search again.
    Exhausted,
    /// The stop flag was raised before the range was spent.
    Stopped,
}

/// The result of [`NonceSearcher::search`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOutcome {
    /// How the search ended.
    pub status: SearchStatus,
    /// Nonces hashed, across all threads.
    pub hashes: u64,
}

/// Searches nonce ranges on its own rayon pool with one kernel.
///
/// Create one per miner and keep it: the pool's threads live as long as the searcher.
/// A search blocks the calling thread until it ends; call it from a blocking context,
/// not from an async task nor from inside the pool.
#[derive(Debug)]
pub struct NonceSearcher {
    pool: rayon::ThreadPool,
    kernel: Kernel,
    threads: usize,
}

impl NonceSearcher {
    /// A searcher with `threads` workers (0 = one per core) and the widest kernel the CPU
    /// runs.
    pub fn new(threads: usize) -> Result<Self, SearchError> {
        Self::with_kernel(threads, Kernel::detect())
    }

    /// A searcher with `threads` workers (0 = one per core) and the given kernel.
    pub fn with_kernel(threads: usize, kernel: Kernel) -> Result<Self, SearchError> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("miner-{i}"))
            .build()
            .map_err(|source| SearchError::ThreadPool { threads, source })?;
        Ok(Self {
            pool,
            kernel,
            threads,
        })
    }

    /// The kernel every thread runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Searches the whole nonce space of `job` until a nonce is found, the space is spent,
    /// or `stop` is raised (then every thread returns within about a millisecond).
    pub fn search(&self, job: &SearchJob, stop: &AtomicBool) -> SearchOutcome {
        self.search_range(job, 0..=u32::MAX, stop)
    }

    /// Like [`search`](Self::search), over `nonces` only.
    pub fn search_range(
        &self,
        job: &SearchJob,
        nonces: RangeInclusive<u32>,
        stop: &AtomicBool,
    ) -> SearchOutcome {
        if nonces.is_empty() {
            return SearchOutcome {
                status: SearchStatus::Exhausted,
                hashes: 0,
            };
        }
        let (first, last) = nonces.into_inner();
        let start = u64::from(first);
        let len = u64::from(last) - start + 1;
        let chunks = len.div_ceil(CHUNK);
        let next_chunk = AtomicU64::new(0);
        let found = AtomicU64::new(NOT_FOUND);
        // Raised by the first thread that finds a nonce, so the others stop too.
        let done = AtomicBool::new(false);
        let should_stop = || stop.load(Ordering::Relaxed) || done.load(Ordering::Relaxed);

        let per_thread = self.pool.broadcast(|_| {
            let mut hashes = 0;
            while !should_stop() {
                let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks {
                    break;
                }
                let lo = start + chunk * CHUNK;
                let hi = (lo + CHUNK).min(start + len) - 1;
                // Both ends lie in first..=last, so they fit in a u32.
                let range = lo as u32..=hi as u32;
                let result = scan_until(self.kernel, job, range, should_stop);
                hashes += result.hashes;
                if let Some(nonce) = result.found {
                    found.fetch_min(u64::from(nonce), Ordering::Relaxed);
                    done.store(true, Ordering::Relaxed);
                    break;
                }
            }
            hashes
        });

        let hashes = per_thread.iter().sum();
        let status = match found.load(Ordering::Relaxed) {
            NOT_FOUND if hashes == len => SearchStatus::Exhausted,
            NOT_FOUND => SearchStatus::Stopped,
            // Only u32 nonces are ever stored.
            nonce => SearchStatus::Found(nonce as u32),
        };
        SearchOutcome { status, hashes }
    }
}
