//! The progress line of a catch-up (initial sync, import, or a node back from a long
//! stop): every few seconds the height, blocks/s, transactions/s and the time left, and
//! one line when the tip reaches the best header.

use std::time::{Duration, Instant};

/// Time between two progress lines.
const INTERVAL: Duration = Duration::from_secs(5);
/// A catch-up starts when the tip is this far behind the best header; the usual lag of
/// a block or two while one propagates is not one.
const FAR_BEHIND: u32 = 16;

/// Where a catch-up stands.
pub(super) struct Progress {
    run: Option<Run>,
}

struct Run {
    start: Instant,
    blocks: u64,
    txs: u64,
    last_line: Instant,
    blocks_at_line: u64,
    txs_at_line: u64,
}

impl Progress {
    pub(super) const fn new() -> Self {
        Progress { run: None }
    }

    /// A block of `txs` transactions connected at `height`; the best header is at
    /// `best`.
    pub(super) fn connected(&mut self, height: u32, txs: usize, best: u32) {
        let behind = best.saturating_sub(height);
        let run = match &mut self.run {
            Some(run) => run,
            None if behind >= FAR_BEHIND => {
                let now = Instant::now();
                self.run.insert(Run {
                    start: now,
                    blocks: 0,
                    txs: 0,
                    last_line: now,
                    blocks_at_line: 0,
                    txs_at_line: 0,
                })
            }
            None => return,
        };
        run.blocks += 1;
        run.txs += txs as u64;
        if behind == 0 {
            let secs = run.start.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                height,
                blocks = run.blocks,
                txs = run.txs,
                secs = format!("{secs:.1}"),
                blocks_per_s = format!("{:.1}", run.blocks as f64 / secs),
                tx_per_s = format!("{:.0}", run.txs as f64 / secs),
                "caught up with the best header"
            );
            self.run = None;
            return;
        }
        let since = run.last_line.elapsed();
        if since < INTERVAL {
            return;
        }
        let secs = since.as_secs_f64();
        let blocks_per_s = (run.blocks - run.blocks_at_line) as f64 / secs;
        let tx_per_s = (run.txs - run.txs_at_line) as f64 / secs;
        tracing::info!(
            height,
            best,
            progress = format!("{:.1}%", 100.0 * f64::from(height) / f64::from(best.max(1))),
            blocks_per_s = format!("{blocks_per_s:.1}"),
            tx_per_s = format!("{tx_per_s:.0}"),
            left = time_left(f64::from(behind) / blocks_per_s.max(1e-9)),
            "catching up"
        );
        run.last_line = Instant::now();
        run.blocks_at_line = run.blocks;
        run.txs_at_line = run.txs;
    }
}

/// `1h02m`, `3m05s`, `42s`.
fn time_left(secs: f64) -> String {
    let secs = secs.min(1e9) as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catch_up_starts_far_behind_and_ends_at_the_best_header() {
        let mut progress = Progress::new();
        progress.connected(10, 1, 11);
        assert!(progress.run.is_none(), "one block behind is not a catch-up");
        progress.connected(11, 5, 100);
        assert_eq!(
            progress.run.as_ref().map(|r| (r.blocks, r.txs)),
            Some((1, 5))
        );
        progress.connected(100, 5, 100);
        assert!(progress.run.is_none());
    }

    #[test]
    fn time_left_reads_like_a_clock() {
        assert_eq!(time_left(42.4), "42s");
        assert_eq!(time_left(185.0), "3m05s");
        assert_eq!(time_left(3720.0), "1h02m");
    }
}
