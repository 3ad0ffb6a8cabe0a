//! Nonce search speed: the miner's kernels against a plain `sha2` midstate loop.
//!
//! Prints one JSON object per line, `{"name", "value", "unit"}`:
//! - `sha2_midstate_hps`: sha256d per second of a straightforward loop over
//!   `sha2::compress256` from the header's midstate, one thread (the baseline);
//! - `miner_hps_1t`, `miner_hps_all`: the miner's own search on one thread and on every
//!   core, with the kernel it picks;
//! - `mining_speedup` = miner_hps_1t / sha2_midstate_hps;
//! - `thread_scaling` = miner_hps_all / (cores x miner_hps_1t);
//! - `kernel` (the kernel picked), `cores`, and `miner_hps_1t_<kernel>` for every kernel
//!   this CPU runs.
//!
//! Each rate is the median of a few timed runs against an impossible target, so no run
//! ends early on a find. Run with `cargo bench --bench mining`; it takes about twenty
//! seconds.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use node_miner::search::{Kernel, NonceSearcher, SearchJob, SearchStatus};
use serde_json::json;

#[path = "support/json.rs"]
mod json;
#[path = "support/median.rs"]
mod median;

use json::{print, round};
use median::median;

/// Timed runs per figure; the median is reported.
const RUNS: usize = 3;
/// Length of one timed run.
const RUN: Duration = Duration::from_millis(1500);
/// Length of one run when comparing every kernel.
const KERNEL_RUN: Duration = Duration::from_millis(1000);

/// A fixed header (a mainnet-like layout; the contents do not matter for speed).
fn header() -> [u8; 80] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(97).wrapping_add(13))
}

/// The baseline: what a straightforward miner does, one nonce at a time.
fn sha2_midstate_run(header: &[u8; 80], length: Duration) -> f64 {
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut midstate = IV;
    let first: [u8; 64] = header[..64].try_into().expect("64 bytes");
    sha2::compress256(&mut midstate, &[first.into()]);
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(&header[64..]);
    block[16] = 0x80;
    block[56..].copy_from_slice(&640u64.to_be_bytes());
    let mut second = [0u8; 64];
    second[32] = 0x80;
    second[56..].copy_from_slice(&256u64.to_be_bytes());

    let start = Instant::now();
    let mut nonce = 0u32;
    let mut sink = 0u32;
    loop {
        for _ in 0..65_536 {
            block[12..16].copy_from_slice(&nonce.to_le_bytes());
            let mut state = midstate;
            sha2::compress256(&mut state, &[block.into()]);
            for (chunk, word) in second[..32].chunks_exact_mut(4).zip(state) {
                chunk.copy_from_slice(&word.to_be_bytes());
            }
            let mut hash = IV;
            sha2::compress256(&mut hash, &[second.into()]);
            sink ^= hash[7];
            nonce = nonce.wrapping_add(1);
        }
        if start.elapsed() >= length {
            break;
        }
    }
    black_box(sink);
    f64::from(nonce) / start.elapsed().as_secs_f64()
}

/// Hashes per second of `searcher` over `length`, stopped by a timer.
fn miner_run(searcher: &NonceSearcher, job: &SearchJob, length: Duration) -> f64 {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(length);
            stop.store(true, Ordering::Relaxed);
        });
        let start = Instant::now();
        let outcome = searcher.search(job, &stop);
        let elapsed = start.elapsed().as_secs_f64();
        assert_eq!(outcome.status, SearchStatus::Stopped, "{outcome:?}");
        outcome.hashes as f64 / elapsed
    })
}

fn main() {
    let header = header();
    // Only an all-zero hash meets a zero target: no run ends early.
    let job = SearchJob::new(&header, &[0; 32]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let baseline = median((0..RUNS).map(|_| sha2_midstate_run(&header, RUN)).collect());
    print("sha2_midstate_hps", json!(baseline.round()), "H/s");

    let one = NonceSearcher::new(1).expect("one mining thread");
    let all = NonceSearcher::new(0).expect("mining threads");
    let hps_1t = median((0..RUNS).map(|_| miner_run(&one, &job, RUN)).collect());
    print("miner_hps_1t", json!(hps_1t.round()), "H/s");
    let hps_all = median((0..RUNS).map(|_| miner_run(&all, &job, RUN)).collect());
    print("miner_hps_all", json!(hps_all.round()), "H/s");

    let speedup = hps_1t / baseline;
    let scaling = hps_all / (cores as f64 * hps_1t);
    print("mining_speedup", json!(round(speedup, 3)), "x");
    print("thread_scaling", json!(round(scaling, 3)), "x");
    print("kernel", json!(one.kernel().name()), "name");
    print("cores", json!(cores), "count");

    for kernel in Kernel::available() {
        let searcher = NonceSearcher::with_kernel(1, kernel).expect("one mining thread");
        let hps = miner_run(&searcher, &job, KERNEL_RUN);
        print(
            &format!("miner_hps_1t_{}", kernel.name()),
            json!(hps.round()),
            "H/s",
        );
    }
}
