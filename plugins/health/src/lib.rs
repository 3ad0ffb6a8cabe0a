//! `health`: `/healthy` and `/ready` for orchestrators and load balancers, as Zebra
//! serves them.
//!
//! - `/healthy` answers 200 while the node runs. A task that panics or fails stops the
//!   whole node (the kernel's supervision), so a node that answers has every task alive;
//!   once shutdown begins it answers 503, then stops listening.
//! - `/ready` answers 200 when the node is fit to serve: its tip is within
//!   `max_blocks_behind` blocks of the best height it knows of (the best header the
//!   chain holds, and the start height each connected peer announced), the tip is at most
//!   `max_tip_age_secs` old, at least `min_peers` peers are connected, and the last chain
//!   state write did not fail for lack of disk space (`disk_full`). Otherwise 503,
//!   with a JSON body naming each condition that fails. Both answer JSON.
//!
//! Needs: the `chain` service; uses `peers` when running (without it the node has no
//! peers, so set `min_peers = 0` for a node that runs alone). Provides: nothing.
//!
//! Profile table `[health]`: `listen` (default: the same address as the `metrics`
//! plugin, 127.0.0.1 on the chain's RPC port + 1000, sharing its listener), and the three
//! thresholds above. Routes are public: they say nothing a peer could not learn.
//!
//! Metrics: `node_ready` (1 when `/ready` would answer 200) and
//! `node_ready_failing{condition}`, refreshed every second, for alert rules.
//!
//! Costs: each request reads the tip and the peer list (memory only).

mod module;
mod readiness;
