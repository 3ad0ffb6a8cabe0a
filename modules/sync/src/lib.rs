//! Block download: brings the chain to the most-work chain the peers know.
//!
//! What it does: accepts every `headers` and `block` message a peer sends (announced,
//! pushed or requested) into the chain, asks for headers when a peer announces a block we
//! cannot place, punishes peers that send invalid data, and leaves the choice of what to
//! request from whom to a registered strategy (`[sync] strategy`):
//! `headers-first` (validate the header chain, then fetch bodies in parallel from several
//! peers in a moving window, re-assigning blocks a peer stalls on; settings in
//! `[sync.headers-first]`: `window`, `max_in_flight_per_peer`, `stall_timeout_secs`) or
//! `poll` (the tutorial's heartbeat made correct: at an interval, ask every peer for
//! headers after our locator and fetch what is missing from one peer; settings in
//! `[sync.poll]`: `interval_secs`, `batch`). Blocks are handed to the chain side by side
//! (up to 128 and 32 MiB at once, two of the runs it writes): the chain verifies their
//! signatures in parallel and connects them in order; its catch-up progress lines say how
//! far the download is.
//!
//! Needs: [`node_api::ChainView`] and [`node_api::ChainWriter`] (`chain`,
//! `chain-writer`), [`node_api::PeerService`] (`peers`), optionally
//! [`node_api::CompactBlocks`] (`compact-blocks`, from a relay running `compact`: the
//! block on the tip is then asked of those peers as `MSG_CMPCT_BLOCK`, BIP152's
//! low-bandwidth mode, and the relay rebuilds it), and the peers module's
//! [`node_api::p2p::PeerEvent`]s on the bus. Provides: nothing; its strategies are
//! registered under the behaviour [`STRATEGY`], whose contract ([`SyncStrategy`],
//! [`SyncContext`]) is in `node-api` so that a third party's crate adds one. Runs one
//! task, `sync loop`.
//!
//! Invariants: blocks are handed to the chain one at a time, in arrival order; the chain
//! stores blocks that arrive before their parents and connects them once the gap fills.
//! A pruned peer (NODE_NETWORK_LIMITED without NODE_NETWORK) is only asked for bodies
//! among its last 288 blocks, as Bitcoin Core does: older ones it would answer `notfound`.
//!
//! A peer's headers are stored only once their chain reaches the anti-DoS work (the
//! tip's less 144 blocks' worth, as Bitcoin Core since 24.0): a low-work run the peer
//! has more of is held in memory and extended (up to 20,000 headers per peer, then the
//! peer is dropped); 10 low-work chains, 10 `headers` messages in a row that connect to
//! nothing, or one whose headers do not connect to each other disconnect the peer; and
//! unconnecting headers get at most one `getheaders` per peer per 2 minutes
//! (`header_guard.rs`). A block pushed on an unknown branch below that work is not
//! stored either, and counts as a low-work chain.
//!
//! Metrics: `node_sync_blocks_downloaded_total`, `node_sync_in_flight`.
//!
//! Costs: one chain write per block, on the blocking pool; headers are validated in
//! batches of up to 2,000; up to 1.6 MB of presync headers per peer.

mod config;
mod driver;
mod header_guard;
mod headers_first;
mod module;
mod poll;
#[cfg(test)]
mod tests;

pub use config::SyncConfig;
pub use headers_first::HeadersFirstConfig;
pub use node_api::{SyncContext, SyncStrategy, STRATEGY};
pub use poll::PollConfig;
