//! Relay: spreads validated transactions and blocks to peers, and takes transactions
//! from them.
//!
//! What it does: announces every transaction the mempool accepts and every new tip the
//! chain connects, the way the chosen broadcast behaviour says (`[relay] broadcast`):
//! `flood` sends the object itself to every peer at once, `announce` sends `inv` for
//! transactions and `headers` (or `inv` to peers that did not ask for headers) for
//! blocks, `batched` queues announcements and sends them at an interval, as the tutorial's
//! heartbeat did. It requests announced transactions it lacks, hands received ones to the
//! mempool, and serves `getdata` for pooled transactions.
//!
//! Needs: `chain`, `mempool` and `peers`. Provides: nothing; behaviours are registered
//! under [`BEHAVIOUR`].
//!
//! Invariants: only validated objects are relayed (the mempool's and the chain's events
//! come after validation); no peer is sent what it is known to have, so nothing is echoed
//! back to its sender (the peers module tracks what each peer knows).
//!
//! Costs: one encoding per object per message shape, shared by every peer.

mod behaviour;
mod config;
mod module;

pub use behaviour::{Broadcast, BEHAVIOUR};
pub use config::RelayConfig;
