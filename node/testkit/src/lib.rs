//! `node-testkit`: what a module's or plugin's tests need, in the manner of reth's
//! `reth-exex-test-utils` and Zebra's mock services.
//!
//! - [`TestNode`]: an in-process node (the kernel's own `plan` and `run`) with the
//!   modules a test names plus the plugin under test, on a temporary data directory;
//!   its services at hand, with helpers to mine ([`TestNode::mine`]), send
//!   transactions, call RPC methods in-process ([`TestNode::rpc`]) and follow the chain
//!   stream. The chain and mempool modules are linked by the kit (so the tests of the
//!   chain and mempool modules cannot use it: they would link their crate twice); other
//!   modules are linked by the test crate that names them (`use node_relay as _;`).
//! - [`TempChain`]: the chain services (view, writer, stream) over a real chain state in
//!   a temporary directory, without a kernel: for a module's unit tests.
//! - [`StreamFollower`]: follows a chain subscription and checks every step applies to
//!   what came before (each block committed once, reverts from the tip).
//! - Fakes: [`RecordingPeers`] (`PeerService`: records what is sent and announced, and
//!   delivers test messages to subscribers), [`MemoryPool`] (`MempoolService`: an
//!   admission-ordered pool that checks only duplicates and conflicts), [`NoWallet`],
//!   [`RecordingMiner`], and [`NoBroadcast`]. `PeerService` is today's single trait; a
//!   split of it into narrower views changes this fake with it.
//! - [`mine_block`]: a valid block on any `ChainView` (regtest's minimum difficulty);
//!   [`Key`] signs payments, [`miner_key`] is what the kit's mining pays.
//!
//! Costs: a `TestNode` is a real node (LMDB in a temporary directory, the modules'
//! tasks); starting one takes milliseconds. Every wait in the kit has a deadline
//! ([`DEADLINE`]) so a broken module fails a test instead of hanging it.

mod chain;
mod fakes;
mod metrics;
mod mine;
mod node;
mod peers;
mod stream;

// Linked for their registrations: every TestNode may run them.
use node_mempool as _;

use std::time::Duration;

pub use chain::TempChain;
pub use fakes::{MemoryPool, NoBroadcast, NoWallet, RecordingMiner};
pub use metrics::metric_value;
pub use mine::{mine_block, MineError};
pub use node::{TestNode, TestNodeBuilder};
pub use peers::RecordingPeers;
pub use stream::StreamFollower;

/// Keys that sign test payments (`Key::new(seed)`, `key.pay(...)`), from the chain
/// crate's test builders.
pub use node_chain_state::testing::Wallet as Key;

/// The key the kit's mining helpers pay: spend its coinbases once mature.
pub fn miner_key() -> Key {
    Key::new(0xa1)
}

/// The longest any helper waits.
pub const DEADLINE: Duration = Duration::from_secs(30);
