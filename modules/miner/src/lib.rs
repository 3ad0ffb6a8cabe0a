//! The miner: block templates from the mempool, and a nonce search on every core.
//!
//! What it does: builds a template on the chain's tip (a coinbase paying subsidy plus
//! fees, then the mempool's best transactions), searches the header's nonce space for a
//! hash at or below the target ([`search`]) on a rayon pool of a configured number of
//! threads with the widest SHA-256 kernel the CPU offers (AVX-512, AVX2, the SHA
//! extensions, or portable `sha2`), rolls the extranonce when the space runs out, and
//! submits a found block to the chain like any peer's. It mines continuously
//! (`[miner] autostart`, `setgenerate`) or on request (`generatetoaddress`, on every chain).
//! External miners get templates through `getblocktemplate` (BIP22, with BIP23 long
//! polling and proposals) and hand blocks back with `submitblock` (`gbt.rs`).
//!
//! Needs: `dyn ChainView` (the tip, and a listener on it), `dyn ChainWriter` (to accept
//! found blocks), `dyn MempoolService` (the transactions); uses `dyn WalletService` when
//! present for a payout address if `[miner] payout_address` is empty. Provides: `dyn
//! MinerService` (the `miner` service: status, start and stop) and the mining RPC
//! methods; uses `dyn PeerService` when present (templates are refused off regtest
//! while no peer is connected, as Core does). Tasks: `search` (blocking: the mining thread) and `watch` (fresher
//! transactions, the hash-rate log, shutdown).
//!
//! Invariants: a reported nonce always meets the target, checked with the full 256-bit
//! comparison; a search stops within about a millisecond of a new tip, which a chain
//! listener reports inside the step that moved it. A template is built from a pool that
//! has finished with the tip it builds on (the mempool's listener runs before the
//! miner's), so it never offers a transaction that tip confirmed.
//!
//! Metrics: `node_miner_hashes_total` (added when each search ends),
//! `node_miner_blocks_found_total`.
//!
//! Costs: one SHA-256 compression per header to set up a job, at most two per nonce; on a
//! core with AVX-512 about 37 million nonces per second, no allocation while hashing. A
//! template costs a pool selection and a merkle root; a `getblocktemplate` answer also
//! the hex of every selected transaction. A waiting long poll costs a task and one RPC
//! connection until the tip moves, the pool changes or `longpoll_timeout_secs` pass.

mod config;
mod gbt;
mod module;
mod rpc;
mod rpc_help;
pub mod search;
mod template;
mod worker;

pub use config::MinerConfig;
