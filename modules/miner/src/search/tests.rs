//! Every kernel against the portable path, and the searcher's endings.

use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::*;

/// The target of a compact "bits" value, as 32 little-endian bytes.
fn compact_target(bits: u32) -> [u8; 32] {
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x00ff_ffff;
    let mut target = [0u8; 32];
    for (i, byte) in mantissa.to_le_bytes()[..3].iter().enumerate() {
        if let Some(slot) = (exponent + i)
            .checked_sub(3)
            .and_then(|j| target.get_mut(j))
        {
            *slot = *byte;
        }
    }
    target
}

/// A target whose top 32 bits are `top` and whose other bits are random.
fn target_with_top(rng: &mut StdRng, top: u32) -> [u8; 32] {
    let mut target: [u8; 32] = std::array::from_fn(|_| rng.gen());
    target[28..].copy_from_slice(&top.to_le_bytes());
    target
}

fn random_job(rng: &mut StdRng, target: &[u8; 32]) -> SearchJob {
    let header: [u8; 80] = std::array::from_fn(|_| rng.gen());
    SearchJob::new(&header, target)
}

/// A random header with a target whose top 32 bits are `top`.
fn job_with_top(rng: &mut StdRng, top: u32) -> SearchJob {
    let target = target_with_top(rng, top);
    random_job(rng, &target)
}

/// sha256d straight from `sha2`, independent of the crate's own hashing.
fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

/// Every nonce of `range` that `kernel` reports, by scanning on from each find.
fn all_hits(kernel: Kernel, job: &SearchJob, range: RangeInclusive<u32>) -> Vec<u32> {
    let never = AtomicBool::new(false);
    let (mut next, last) = range.into_inner();
    let mut hits = Vec::new();
    loop {
        let result = scan(kernel, job, next..=last, &never);
        let Some(nonce) = result.found else {
            assert_eq!(result.hashes, u64::from(last - next) + 1);
            return hits;
        };
        assert!((next..=last).contains(&nonce));
        assert_eq!(result.hashes, u64::from(nonce - next) + 1);
        hits.push(nonce);
        match nonce.checked_add(1) {
            Some(n) if n <= last => next = n,
            _ => return hits,
        }
    }
}

/// Checks that every available kernel reports exactly the portable kernel's hits.
fn assert_kernels_agree(job: &SearchJob, range: RangeInclusive<u32>) -> Vec<u32> {
    let expected = all_hits(Kernel::PORTABLE, job, range.clone());
    for &nonce in &expected {
        let hash = sha256d(&job.header_with_nonce(nonce));
        assert!(hash_meets_target(&hash, job.target()));
    }
    for kernel in Kernel::available() {
        assert_eq!(
            all_hits(kernel, job, range.clone()),
            expected,
            "kernel {kernel} over {range:?}"
        );
    }
    expected
}

#[test]
fn kernels_agree_on_easy_targets() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut total_hits = 0;
    for top in [0x00ff_ffff, 0x0fff_ffff, 0x3fff_ffff, 0xffff_fffe] {
        for _ in 0..3 {
            let job = job_with_top(&mut rng, top);
            // Unaligned start and length, so vector tails are exercised.
            let start: u32 = rng.gen_range(0..u32::MAX - 5000);
            let len: u32 = rng.gen_range(600..1200);
            total_hits += assert_kernels_agree(&job, start..=start + len).len();
        }
    }
    assert!(
        total_hits > 100,
        "targets too hard to test much: {total_hits} hits"
    );
}

#[test]
fn kernels_agree_on_regtest_target() {
    let mut rng = StdRng::seed_from_u64(0x207f_ffff);
    let target = compact_target(0x207f_ffff);
    assert_eq!(target[31], 0x7f);
    assert_eq!(target[28], 0);
    for _ in 0..3 {
        let job = random_job(&mut rng, &target);
        let hits = assert_kernels_agree(&job, 1000..=1300);
        // About half of all hashes are at or below 0x7fffff << 232.
        assert!((100..=200).contains(&hits.len()), "{} hits", hits.len());
    }
}

#[test]
fn kernels_agree_at_the_end_of_the_nonce_space() {
    let mut rng = StdRng::seed_from_u64(3);
    let job = job_with_top(&mut rng, 0x1fff_ffff);
    let hits = assert_kernels_agree(&job, u32::MAX - 300..=u32::MAX);
    assert!(!hits.is_empty());
}

#[test]
fn a_hash_equal_to_the_target_meets_it_and_one_above_does_not() {
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..8 {
        let job = random_job(&mut rng, &[0; 32]);
        let nonce: u32 = rng.gen_range(100..u32::MAX - 100);
        let hash = job.hash(nonce);
        let range = nonce - 40..=nonce + 40;

        let exact = SearchJob::new(job.header(), &hash);
        assert!(assert_kernels_agree(&exact, range.clone()).contains(&nonce));

        // hash - 1 as a little-endian integer; random hashes are never all zero.
        let mut below = hash;
        for byte in below.iter_mut() {
            let (value, borrow) = byte.overflowing_sub(1);
            *byte = value;
            if !borrow {
                break;
            }
        }
        let strict = SearchJob::new(job.header(), &below);
        assert!(!assert_kernels_agree(&strict, range).contains(&nonce));
    }
}

#[test]
fn search_finds_a_nonce_that_meets_the_target() {
    let mut rng = StdRng::seed_from_u64(5);
    let searcher = NonceSearcher::new(0).expect("thread pool");
    for top in [0x7fff_ff00, 0x003f_ffff] {
        let job = job_with_top(&mut rng, top);
        let outcome = searcher.search(&job, &AtomicBool::new(false));
        let SearchStatus::Found(nonce) = outcome.status else {
            panic!("no nonce found: {outcome:?}");
        };
        assert!(outcome.hashes > 0);
        let hash = sha256d(&job.header_with_nonce(nonce));
        assert!(hash_meets_target(&hash, job.target()));
    }
}

#[test]
fn one_thread_finds_the_first_nonce_of_the_range() {
    let mut rng = StdRng::seed_from_u64(6);
    let job = job_with_top(&mut rng, 0x00ff_ffff);
    let first = all_hits(Kernel::PORTABLE, &job, 0..=5000)[0];
    let searcher = NonceSearcher::new(1).expect("thread pool");
    let outcome = searcher.search(&job, &AtomicBool::new(false));
    assert_eq!(outcome.status, SearchStatus::Found(first));
    assert_eq!(outcome.hashes, u64::from(first) + 1);
}

#[test]
fn search_reports_exhausted_when_nothing_qualifies() {
    let mut rng = StdRng::seed_from_u64(7);
    // Only an all-zero hash meets a zero target.
    let job = random_job(&mut rng, &[0; 32]);
    let searcher = NonceSearcher::new(2).expect("thread pool");
    let outcome = searcher.search_range(&job, 10..=30_009, &AtomicBool::new(false));
    assert_eq!(outcome.status, SearchStatus::Exhausted);
    assert_eq!(outcome.hashes, 30_000);

    #[expect(clippy::reversed_empty_ranges, reason = "testing an empty range")]
    let empty = 5..=4;
    let outcome = searcher.search_range(&job, empty, &AtomicBool::new(false));
    assert_eq!(outcome.status, SearchStatus::Exhausted);
    assert_eq!(outcome.hashes, 0);
}

#[test]
fn stop_ends_a_running_search_promptly() {
    let mut rng = StdRng::seed_from_u64(8);
    let job = random_job(&mut rng, &[0; 32]);
    let searcher = NonceSearcher::new(0).expect("thread pool");
    let stop = AtomicBool::new(false);
    let stopped_at = std::thread::scope(|scope| {
        let search = scope.spawn(|| searcher.search(&job, &stop));
        // Let the threads get going; the search itself would take minutes.
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let stopped_at = Instant::now();
        let outcome = search.join().expect("search thread");
        assert_eq!(outcome.status, SearchStatus::Stopped);
        assert!(outcome.hashes > 0);
        stopped_at.elapsed()
    });
    // Milliseconds in a release build; generous for an unoptimised test build.
    assert!(
        stopped_at < Duration::from_millis(500),
        "took {stopped_at:?}"
    );
}

#[test]
fn a_raised_stop_flag_hashes_nothing() {
    let job = SearchJob::new(&[1; 80], &[0xff; 32]);
    let searcher = NonceSearcher::new(1).expect("thread pool");
    let outcome = searcher.search(&job, &AtomicBool::new(true));
    assert_eq!(outcome.status, SearchStatus::Stopped);
    assert_eq!(outcome.hashes, 0);
    let result = scan(Kernel::detect(), &job, 0..=100, &AtomicBool::new(true));
    assert_eq!(
        result,
        ScanResult {
            found: None,
            hashes: 0
        }
    );
}
