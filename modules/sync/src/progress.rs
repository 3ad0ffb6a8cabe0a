//! What the operator sees of a download: a progress line at an interval while the tip is
//! behind the best header, and one line when it catches up.

use std::time::{Duration, Instant};

/// A download this short is the steady state (one new block, announced by its header
/// first), not worth a line at info level.
const CAUGHT_UP_MIN_BLOCKS: u32 = 2;

/// A download under way: since when and from which height, and the last progress line.
#[derive(Debug, Clone, Copy)]
struct Download {
    started: Instant,
    from_height: u32,
    line_at: Instant,
    line_height: u32,
}

/// Watches the tip and the best header after every step of the driver.
#[derive(Debug)]
pub(crate) struct Progress {
    interval: Duration,
    download: Option<Download>,
}

/// What one observation concluded, for the log (and tests).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Report {
    /// Nothing to say.
    Quiet,
    /// Still behind, and a progress interval has passed.
    Syncing {
        height: u32,
        headers: u32,
        blocks_per_s: f64,
    },
    /// The tip reached the best header.
    CaughtUp {
        height: u32,
        blocks: u32,
        elapsed: Duration,
        blocks_per_s: f64,
    },
}

impl Progress {
    pub(crate) fn new(interval: Duration) -> Self {
        Progress {
            interval,
            download: None,
        }
    }

    /// Compares the tip's height with the best header's at `now`.
    pub(crate) fn observe(&mut self, tip: u32, best: u32, now: Instant) -> Report {
        let Some(download) = &mut self.download else {
            if best > tip {
                self.download = Some(Download {
                    started: now,
                    from_height: tip,
                    line_at: now,
                    line_height: tip,
                });
            }
            return Report::Quiet;
        };
        if tip >= best {
            let elapsed = now.saturating_duration_since(download.started);
            let blocks = tip.saturating_sub(download.from_height);
            self.download = None;
            return Report::CaughtUp {
                height: tip,
                blocks,
                elapsed,
                blocks_per_s: rate(blocks, elapsed),
            };
        }
        let since = now.saturating_duration_since(download.line_at);
        if since < self.interval {
            return Report::Quiet;
        }
        let blocks = tip.saturating_sub(download.line_height);
        download.line_at = now;
        download.line_height = tip;
        Report::Syncing {
            height: tip,
            headers: best,
            blocks_per_s: rate(blocks, since),
        }
    }

    /// Observes and logs: progress and a long catch-up at info, a short one at debug.
    pub(crate) fn log(&mut self, tip: u32, best: u32, in_flight: usize) {
        match self.observe(tip, best, Instant::now()) {
            Report::Quiet => {}
            Report::Syncing {
                height,
                headers,
                blocks_per_s,
            } => tracing::info!(
                height,
                headers,
                progress = format!(
                    "{:.1}%",
                    100.0 * f64::from(height) / f64::from(headers.max(1))
                ),
                blocks_per_s = format!("{blocks_per_s:.1}"),
                in_flight,
                "syncing"
            ),
            Report::CaughtUp {
                height,
                blocks,
                elapsed,
                blocks_per_s,
            } => {
                let elapsed_s = format!("{:.1}", elapsed.as_secs_f64());
                let blocks_per_s = format!("{blocks_per_s:.1}");
                if blocks >= CAUGHT_UP_MIN_BLOCKS {
                    tracing::info!(
                        height,
                        blocks,
                        elapsed_s,
                        blocks_per_s,
                        "caught up with the best header"
                    );
                } else {
                    tracing::debug!(
                        height,
                        blocks,
                        elapsed_s,
                        blocks_per_s,
                        "caught up with the best header"
                    );
                }
            }
        }
    }
}

fn rate(blocks: u32, elapsed: Duration) -> f64 {
    f64::from(blocks) / elapsed.as_secs_f64().max(1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_while_behind_then_one_when_caught_up() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut progress = Progress::new(Duration::from_secs(5));
        assert_eq!(progress.observe(10, 10, at(0)), Report::Quiet);
        // Headers arrive: the download starts, the first line waits an interval.
        assert_eq!(progress.observe(10, 1010, at(1)), Report::Quiet);
        assert_eq!(progress.observe(100, 1010, at(3)), Report::Quiet);
        assert_eq!(
            progress.observe(510, 1010, at(6)),
            Report::Syncing {
                height: 510,
                headers: 1010,
                blocks_per_s: 100.0
            }
        );
        assert_eq!(progress.observe(600, 1010, at(7)), Report::Quiet);
        assert_eq!(
            progress.observe(1010, 1010, at(11)),
            Report::CaughtUp {
                height: 1010,
                blocks: 1000,
                elapsed: Duration::from_secs(10),
                blocks_per_s: 100.0
            }
        );
        // Once: the next observation at the same tip says nothing.
        assert_eq!(progress.observe(1010, 1010, at(12)), Report::Quiet);
    }

    #[test]
    fn a_single_new_block_is_a_short_download() {
        let start = Instant::now();
        let mut progress = Progress::new(Duration::from_secs(5));
        assert_eq!(progress.observe(7, 8, start), Report::Quiet);
        let Report::CaughtUp { blocks, .. } =
            progress.observe(8, 8, start + Duration::from_millis(20))
        else {
            panic!("not caught up");
        };
        assert!(blocks < CAUGHT_UP_MIN_BLOCKS);
    }
}
