//! Relay: spreads validated transactions and blocks to peers, and takes transactions
//! from them.
//!
//! What it does: announces every transaction the mempool accepts and every new tip the
//! chain connects, the way the chosen broadcast behaviour says (`[relay] broadcast`):
//! `flood` sends the object itself to every peer at once, `announce` sends `inv` for
//! transactions and `headers` (or `inv` to peers that did not ask for headers) for
//! blocks, `batched` queues announcements and sends them every `[relay.batched]
//! interval_ms`, as the tutorial's heartbeat did, and `compact` relays blocks as BIP152
//! compact blocks (`[relay.compact]`; see `compact/mod.rs`). It requests announced
//! transactions it lacks (of the first announcer, then of the next ones in turn when the
//! one asked answers `notfound` or not within `answer_timeout_ms`; see `requests.rs`),
//! hands received ones to the mempool, and serves `getdata` for pooled transactions.
//!
//! Behaviours that talk to peers: the [`node_api::Broadcast`] contract lets a behaviour
//! name inbound topics (`compact`: `sendcmpct`, `cmpctblock`, `getblocktxn`, `blocktxn`,
//! `getdata` of `MSG_CMPCT_BLOCK`, and a copy of `block` to learn who delivers blocks
//! first); this loop subscribes to them, follows the peers' comings and goings for it,
//! and hands it the chain and its writer (declared in `uses`, required only then). The
//! cut with the sync module: a rebuilt block goes to the chain through
//! [`node_api::ChainWriter`] like the sync's, and the fallback to a full block is a
//! `getdata` whose answer the sync module accepts as any pushed block; the sync module
//! keeps every `headers` and `inv` announcement, and asks the block on the tip compact
//! from the peers the behaviour names ([`node_api::CompactBlocks`], provided here as
//! `compact-blocks` only by a behaviour that rebuilds compact blocks). Modules still meet only through
//! `node-api`. Transactions a peer sent that did not enter the mempool (orphans, policy)
//! go to the behaviour, which may keep some for rebuilding blocks.
//!
//! Needs: [`node_api::MempoolService`] (`mempool`) and [`node_api::PeerService`]
//! (`peers`), with `compact` also [`node_api::ChainView`] and [`node_api::ChainWriter`]
//! (`chain`, `chain-writer`), and [`node_api::ChainStream`] (`chain-stream`: the blocks to
//! announce, in order and without loss; the mempool needs the chain, so it is there).
//! Transactions to announce are read from the pool's admission cursor
//! ([`node_api::MempoolService::admitted_since`]); the mempool's events on the bus only
//! wake the loop, so a lagging bus loses no announcement.
//! Provides: `compact-blocks` ([`node_api::CompactBlocks`]) with `compact`; its behaviours implement [`node_api::Broadcast`] and are registered
//! under [`node_api::BROADCAST`]. Runs one task, `relay loop`.
//!
//! Invariants: only validated objects are relayed (the mempool's and the chain's events
//! come after validation); no peer is sent what it is known to have, so nothing is echoed
//! back to its sender (the peers service tracks what each peer knows). Every transaction
//! admitted while the relay runs and still pooled when it reads the cursor is announced
//! once, in admission order, and every block the chain stream commits (the last 16 of
//! one step) whatever the bus drops.
//!
//! Metrics: `node_relay_first_seen_to_announced_seconds{kind,behaviour}` (histogram),
//! timed around the peers service the behaviour is handed; at most 50,000 objects wait
//! to be announced.
//!
//! Costs: one encoding per object per message shape, shared by every peer; transactions
//! from peers are validated on the blocking pool, one at a time. `compact` computes one
//! SipHash per mempool transaction per received compact block, and keeps the last 16
//! blocks to answer `getblocktxn`.

mod behaviour;
mod compact;
mod config;
mod metrics;
mod module;
mod requests;

pub use behaviour::BatchedConfig;
pub use compact::CompactConfig;
pub use config::RelayConfig;
