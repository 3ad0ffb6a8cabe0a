//! The chain state: blocks, the block index and the UTXO set on LMDB, with fork choice by
//! most work. Only the chain module (`modules/chain`) opens it and provides it as the
//! `chain` service ([`LocalChain`], implementing `node-api`'s `ChainView` and
//! `ChainWriter`); the command line (`node import`, `node check-datadir`), the benchmarks,
//! the lab and tests use it directly. Other modules see the chain only through the
//! `node-api` contract, so they build without LMDB (heed) or rayon.
//!
//! What it keeps: blocks, the block index, the main chain, the UTXO set, undo data,
//! metadata, an optional address index, an optional transaction index (`tx_index.rs`) and
//! an optional BIP157/158 block filter index (`filter_index.rs`),
//! with fork choice by most cumulative work; blocks may be marked invalid by hand
//! (`invalidate.rs`) and the last blocks re-checked (`verify_chain.rs`).
//!
//! One writer at a time (a mutex) accepts headers and blocks and moves the tip; readers
//! (RPC, peers) use the in-memory tree and LMDB read transactions and never wait for it.
//! Connecting a run of blocks (up to `MAX_RUN_BLOCKS`), or disconnecting one, is one
//! LMDB write transaction; the in-memory tree follows each commit. Blocks arriving on the
//! tip (the usual case) are stored, indexed and connected in that same transaction, so a
//! run costs one commit in all (see `pipeline.rs`). On open, the tip moves to the
//! most-work stored chain, which also finishes a reorganisation a crash interrupted.
//!
//! With `keep_blocks` set, the state is pruned (see `prune.rs`): bodies and undo
//! data of blocks deeper than that are deleted as new blocks connect. Blocks are also
//! imported from a file or another data directory ([`import`]), and the data directory's
//! integrity is checked after an unclean stop ([`integrity`]).
//!
//! What it needs: a directory; every core (rayon) while blocks connect.
//!
//! Invariants: connecting or disconnecting a block (with the pruning it triggers) is one
//! LMDB write transaction; the state never disagrees with itself after a crash.

mod accept;
mod activate;
mod connect;
mod filter_index;
pub mod import;
pub mod integrity;
mod invalidate;
mod local_chain;
mod open;
mod pipeline;
mod progress;
mod proposal;
mod prune;
mod read;
mod records;
mod stats;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tree;
mod tx_index;
mod verify_chain;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

pub use import::{
    chain_blocks, import_blocks, import_headers, write_block_file, BlockFileReader, ImportError,
    ImportProgress,
};
pub use invalidate::Marked;
pub use local_chain::LocalChain;
pub(crate) use pipeline::{run_is_full, verifiers, Cores, Ready};
pub use stats::{ChainTip, UtxoStats};
// The contract types the state fills, defined with the formats so that `node-api` need not
// depend on this crate; re-exported for the state's own users.
pub use node_chain::{
    anti_dos_threshold, BlockIndexEntry, BlockOutcome, ChainError, ChainIdentity, NextBlock,
    ProposalError, Tip, TxIndexInfo, TxLocation, ANTI_DOS_MARGIN_BLOCKS, MAX_RUN_BLOCKS,
    MAX_RUN_BYTES, MIN_KEEP_BLOCKS,
};
pub use node_chain::{FilterIndexInfo, StoredFilter};

use self::store::{Store, WriteError};
use self::tree::BlockTree;
use node_chain::events::ChainEvent;
use node_chain::hash::Hash256;
use node_chain::spec::ChainSpec;
use node_chain::validation::BlockError;

const TIP_KEY: &[u8] = b"tip";
const SPEC_KEY: &[u8] = b"spec";
const SCHEMA_KEY: &[u8] = b"schema";
const ADDRESS_INDEX_KEY: &[u8] = b"address_index";
/// How far the transaction index is built (see `tx_index.rs`).
const TX_INDEX_KEY: &[u8] = b"tx_index";
/// Bumped when a record layout changes; an older data directory is refused, not misread.
const SCHEMA_VERSION: u32 = 1;
/// A header may be at most this far ahead of our clock (Bitcoin's MAX_FUTURE_BLOCK_TIME).
const MAX_FUTURE_SECS: u64 = 2 * 60 * 60;
/// Locators step back exponentially after this many recent blocks, as Bitcoin's do.
const LOCATOR_DENSE: usize = 10;

/// Options of the chain state that a profile chooses.
#[derive(Debug, Clone, Default)]
pub struct ChainOptions {
    /// Keep an index from P2PKH hash to unspent outputs (balance of any address).
    pub address_index: bool,
    /// Keep an index from txid to the main-chain block holding it (Bitcoin Core's
    /// `-txindex`), so any confirmed transaction can be looked up by txid.
    pub tx_index: bool,
    /// Keep BIP158 basic filters and BIP157 filter headers of main-chain blocks (Bitcoin
    /// Core's `-blockfilterindex`; see `filter_index.rs`).
    pub block_filter_index: bool,
    /// Keep the bodies and undo data of only this many recent main-chain blocks; 0 keeps
    /// everything. At least [`MIN_KEEP_BLOCKS`] when set.
    pub keep_blocks: u32,
    /// Bitcoin Core's `-assumevalid`: signatures of this block and its ancestors are not
    /// checked while it is on the best header chain (every other rule is). `None` checks
    /// every signature.
    pub assume_valid: Option<Hash256>,
}

impl From<WriteError<BlockError>> for ChainError {
    fn from(e: WriteError<BlockError>) -> Self {
        match e {
            WriteError::Store(e) => store::storage_error(e),
            WriteError::Refused(e) => ChainError::Invalid(e),
        }
    }
}

type EventSink = Box<dyn Fn(ChainEvent) + Send + Sync>;

/// The chain state: the `chain` service.
pub struct ChainState {
    spec: Arc<ChainSpec>,
    store: Store,
    tree: RwLock<BlockTree>,
    writer: Mutex<()>,
    /// Blocks inside `accept_block` and the verified ones waiting to be written.
    pipeline: pipeline::Pipeline,
    /// The catch-up progress line; updated under the writer lock.
    progress: Mutex<progress::Progress>,
    options: ChainOptions,
    /// Mirror of the meta record: main-chain heights `1..=prune_height` have no data.
    prune_height: AtomicU32,
    /// How far the tx index is built: `tx_index::SYNCED`, or the last height indexed
    /// while it is being built (see `tx_index.rs`).
    tx_index_built: AtomicU64,
    /// How far the block filter index is built: `filter_index::SYNCED`, or the next
    /// height to build (see `filter_index.rs`).
    filter_index_built: AtomicU64,
    sink: EventSink,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ChainState {
    pub(crate) fn tree(&self) -> RwLockReadGuard<'_, BlockTree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The chain spec.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// Whether the address index is kept.
    pub fn has_address_index(&self) -> bool {
        self.options.address_index
    }

    /// Whether this node lacks (or will delete) old block data: pruning is on, or was on
    /// when older blocks were connected. Such a node serves only recent blocks
    /// (NODE_NETWORK_LIMITED rather than NODE_NETWORK).
    pub fn is_pruned(&self) -> bool {
        self.options.keep_blocks > 0 || self.prune_height() > 0
    }

    /// Main-chain blocks at heights `1..=prune_height()` have no body or undo data (0:
    /// nothing pruned). Blocks above it, and genesis, are stored.
    pub fn prune_height(&self) -> u32 {
        self.prune_height.load(Ordering::Acquire)
    }

    /// How many recent main-chain blocks keep their data (0: all of them).
    pub fn keep_blocks(&self) -> u32 {
        self.options.keep_blocks
    }
}
