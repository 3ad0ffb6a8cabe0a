//! `metrics`: serves what every module records through the metrics facade
//! (`node_api::metrics`) in the Prometheus text format at `/metrics`, as reth and Zebra do.
//!
//! Needs: nothing (it serves whatever the modules of the profile record; a module that
//! is not running records nothing, so it has no series). Provides: nothing.
//!
//! Profile table `[metrics]`: `listen` (`host:port`; default 127.0.0.1 on the chain's RPC
//! port + 1000: regtest 19443, dev 29443, testnet 39443), served without authentication
//! on the kernel's module HTTP, shared with the `health` plugin when it names the same
//! address.
//!
//! Invariants: one recorder per process, installed by the kernel before it builds any
//! module of a profile that lists `metrics`, so no count is lost, whatever the order of
//! `[node] modules` (see [`recorder`]). Label values are bounded by the
//! recording modules: nothing a peer sends becomes a label value.
//!
//! Costs: recording is a relaxed atomic add on a handle resolved once (P2P, chain) or a
//! sharded map lookup; a scrape renders every series (a few hundred) in well under a
//! millisecond. Histograms are kept as the buckets their modules declare
//! (`node_api::metrics::HistogramBuckets`), drained every
//! [`recorder::UPKEEP`] even when nobody scrapes, so their memory stays bounded.

mod module;
pub mod recorder;
