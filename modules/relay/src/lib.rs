//! Relay: spreads validated transactions and blocks to peers, and takes transactions
//! from them.
//!
//! What it does: announces every transaction the mempool accepts and every new tip the
//! chain connects, the way the chosen broadcast behaviour says (`[relay] broadcast`):
//! `flood` sends the object itself to every peer at once, `announce` sends `inv` for
//! transactions and `headers` (or `inv` to peers that did not ask for headers) for
//! blocks, `batched` queues announcements and sends them every `[relay.batched]
//! interval_ms`, as the tutorial's heartbeat did. It requests announced transactions it
//! lacks, hands received ones to the mempool, and serves `getdata` for pooled
//! transactions.
//!
//! Needs: [`node_api::MempoolService`] (`mempool`) and [`node_api::PeerService`]
//! (`peers`), and on the bus the mempool's [`node_api::MempoolEvent`]s and the chain's
//! [`node_api::chain::ChainEvent`]s (the mempool needs the chain, so it is there).
//! Provides: nothing; its behaviours implement [`node_api::Broadcast`] and are registered
//! under [`node_api::BROADCAST`]. Runs one task, `relay loop`.
//!
//! Invariants: only validated objects are relayed (the mempool's and the chain's events
//! come after validation); no peer is sent what it is known to have, so nothing is echoed
//! back to its sender (the peers service tracks what each peer knows). Events come from
//! the bus, which may lag: a missed event is logged and its object not announced.
//!
//! Metrics: `node_relay_first_seen_to_announced_seconds{kind,behaviour}` (histogram),
//! timed around the peers service the behaviour is handed; at most 50,000 objects wait
//! to be announced.
//!
//! Costs: one encoding per object per message shape, shared by every peer; transactions
//! from peers are validated on the blocking pool, one at a time.

mod behaviour;
mod compact;
mod config;
mod metrics;
mod module;

pub use behaviour::BatchedConfig;
pub use compact::CompactConfig;
pub use config::RelayConfig;
