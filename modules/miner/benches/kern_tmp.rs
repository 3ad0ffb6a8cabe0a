use node_miner::search::{scan, Kernel, KernelKind, SearchJob};
use std::sync::atomic::AtomicBool;
fn main() {
    let kind: KernelKind = std::env::var("K")
        .unwrap_or("avx512".into())
        .parse()
        .unwrap();
    let n: u32 = std::env::var("N")
        .map(|s| s.parse().unwrap())
        .unwrap_or(100_000_000);
    let header: [u8; 80] = std::array::from_fn(|i| (i as u8).wrapping_mul(97).wrapping_add(13));
    let job = SearchJob::new(&header, &[0; 32]);
    let k = Kernel::new(kind).unwrap();
    let t = std::time::Instant::now();
    let r = scan(k, &job, 0..=n - 1, &AtomicBool::new(false));
    println!(
        "{} {:?} {:.1} M/s wall",
        kind,
        r,
        n as f64 / t.elapsed().as_secs_f64() / 1e6
    );
}
