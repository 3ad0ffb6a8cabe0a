//! The readiness rule: which conditions hold, from a snapshot of the node.

use serde::Serialize;

/// Every condition, as [`Failing::condition`] names it.
pub(crate) const CONDITIONS: [&str; 4] = ["blocks_behind", "tip_age", "peers", "disk_full"];

/// The `/ready` thresholds, from the profile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    pub(crate) max_blocks_behind: u32,
    pub(crate) max_tip_age_secs: u64,
    pub(crate) min_peers: usize,
}

/// What the node looks like now.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Snapshot {
    /// Height of the tip.
    pub(crate) tip_height: u32,
    /// The best height known: the best header, or a peer's announced start height.
    pub(crate) best_known_height: u32,
    /// Seconds since the tip's timestamp (0 when it is in the future).
    pub(crate) tip_age_secs: u64,
    /// Peers past the handshake.
    pub(crate) peers: usize,
    /// The last chain state write failed for lack of space.
    pub(crate) disk_full: bool,
}

/// One condition that does not hold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Failing {
    /// `blocks_behind`, `tip_age`, `peers` or `disk_full`.
    pub(crate) condition: &'static str,
    /// What is wrong, with the numbers.
    pub(crate) detail: String,
}

/// Every condition of [`Thresholds`] that `snapshot` fails; empty means ready.
pub(crate) fn failing(snapshot: &Snapshot, limits: &Thresholds) -> Vec<Failing> {
    let mut failing = Vec::new();
    let behind = snapshot
        .best_known_height
        .saturating_sub(snapshot.tip_height);
    if behind > limits.max_blocks_behind {
        failing.push(Failing {
            condition: "blocks_behind",
            detail: format!(
                "tip {} is {behind} blocks behind the best known height {} (at most {} allowed)",
                snapshot.tip_height, snapshot.best_known_height, limits.max_blocks_behind
            ),
        });
    }
    if snapshot.tip_age_secs > limits.max_tip_age_secs {
        failing.push(Failing {
            condition: "tip_age",
            detail: format!(
                "tip is {} s old (at most {} s allowed)",
                snapshot.tip_age_secs, limits.max_tip_age_secs
            ),
        });
    }
    if snapshot.peers < limits.min_peers {
        failing.push(Failing {
            condition: "peers",
            detail: format!(
                "{} peers connected (at least {} needed)",
                snapshot.peers, limits.min_peers
            ),
        });
    }
    if snapshot.disk_full {
        failing.push(Failing {
            condition: "disk_full",
            detail: "disk full: the last chain state write failed for lack of space; free \
                     space on the data directory's file system"
                .to_string(),
        });
    }
    failing
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Thresholds = Thresholds {
        max_blocks_behind: 2,
        max_tip_age_secs: 3600,
        min_peers: 1,
    };

    fn snapshot(tip: u32, best: u32, age: u64, peers: usize) -> Snapshot {
        Snapshot {
            tip_height: tip,
            best_known_height: best,
            tip_age_secs: age,
            peers,
            disk_full: false,
        }
    }

    fn conditions(s: &Snapshot) -> Vec<&'static str> {
        failing(s, &LIMITS).iter().map(|f| f.condition).collect()
    }

    #[test]
    fn ready_at_the_limits() {
        assert!(conditions(&snapshot(100, 102, 3600, 1)).is_empty());
        // A tip ahead of what peers announced (they connected earlier) is not behind.
        assert!(conditions(&snapshot(100, 50, 0, 1)).is_empty());
    }

    #[test]
    fn each_condition_fails_on_its_own_one_past_its_limit() {
        assert_eq!(conditions(&snapshot(100, 103, 0, 1)), ["blocks_behind"]);
        assert_eq!(conditions(&snapshot(100, 100, 3601, 1)), ["tip_age"]);
        assert_eq!(conditions(&snapshot(100, 100, 0, 0)), ["peers"]);
        assert_eq!(
            conditions(&snapshot(0, 500, 1_000_000, 0)),
            ["blocks_behind", "tip_age", "peers"]
        );
        let full = Snapshot {
            disk_full: true,
            ..snapshot(100, 100, 0, 1)
        };
        assert_eq!(conditions(&full), ["disk_full"]);
        assert!(failing(&full, &LIMITS)[0].detail.starts_with("disk full"));
    }

    #[test]
    fn details_carry_the_numbers() {
        let f = failing(&snapshot(7, 20, 0, 0), &LIMITS);
        assert!(f[0].detail.contains("13 blocks behind"), "{}", f[0].detail);
        assert!(f[1].detail.contains("0 peers"), "{}", f[1].detail);
    }
}
