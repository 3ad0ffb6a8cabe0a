//! Chain state on LMDB: blocks, the block index, the main chain, the UTXO set, undo data,
//! metadata, an optional address index and an optional transaction index (`tx_index.rs`),
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
//! data of blocks deeper than that are deleted as new blocks connect.

mod accept;
mod activate;
mod connect;
mod filter_index;
pub mod integrity;
mod invalidate;
mod open;
mod pipeline;
mod progress;
mod proposal;
mod prune;
mod read;
mod records;
mod stats;
mod store;
mod tree;
mod tx_index;
mod verify_chain;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use primitive_types::U256;

pub use accept::anti_dos_threshold;
pub use filter_index::{FilterIndexInfo, StoredFilter};
pub use invalidate::Marked;
pub(crate) use pipeline::{run_is_full, verifiers, Cores, Ready};
pub use pipeline::{MAX_RUN_BLOCKS, MAX_RUN_BYTES};
pub use proposal::ProposalError;
pub use prune::MIN_KEEP_BLOCKS;
pub use records::BlockIndexEntry;
pub use stats::{ChainTip, UtxoStats};
pub use tx_index::{TxIndexInfo, TxLocation};

use self::store::{Store, WriteError};
use self::tree::BlockTree;
use crate::block::BlockHeader;
use crate::events::ChainEvent;
use crate::hash::Hash256;
use crate::spec::ChainSpec;
use crate::validation::BlockError;

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

/// What a data directory records of its chain: the spec's name and the genesis hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainIdentity {
    /// The chain spec's name.
    pub name: String,
    /// The genesis block's hash, or `none` when the directory has no main chain.
    pub genesis: String,
}

/// Errors of the chain state.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The block or header breaks a rule.
    #[error("{0}")]
    Invalid(#[from] BlockError),
    /// LMDB failed.
    #[error("chain storage: {0}")]
    Storage(String),
    /// The file system holding the data directory is full (or the user's quota spent):
    /// nothing was written. Reads go on; writes work again once space is freed.
    #[error("disk full: the chain state could not be written ({0}); free space on the data directory's file system")]
    DiskFull(String),
    /// The data directory belongs to another chain.
    #[error(
        "the data directory holds chain {:?} (genesis {}), but the profile asks for chain \
         {:?} (genesis {}); use another data directory",
        found.name, found.genesis, wanted.name, wanted.genesis
    )]
    WrongChain {
        /// The chain stored.
        found: Box<ChainIdentity>,
        /// The chain asked for.
        wanted: Box<ChainIdentity>,
    },
    /// Stored records cannot be read.
    #[error("chain state is corrupt: {0}")]
    Corrupt(String),
    /// The options cannot work.
    #[error("keep_blocks = {0} is below the minimum of {MIN_KEEP_BLOCKS} (0 keeps every block)")]
    KeepBlocksTooLow(u32),
    /// The block's branch leaves the main chain where this pruned node no longer has the
    /// data to disconnect back to: it cannot be connected, so it is not stored. Not a
    /// fault of the sender.
    #[error(
        "block {hash} forks from the main chain at height {fork_height}, below the prune \
         height {prune_height}: a pruned node cannot reorganise that deep"
    )]
    BeyondPruned {
        /// The block.
        hash: Hash256,
        /// Height of the last main-chain block its branch shares.
        fork_height: u32,
        /// Main-chain blocks up to this height have no data.
        prune_height: u32,
    },
    /// The transaction index needs every block's data: it cannot be kept with pruning on,
    /// nor built on a data directory pruned already (Bitcoin Core refuses `-txindex` with
    /// `-prune` too).
    #[error("tx_index needs every block: {0}")]
    TxIndexNeedsBlocks(String),
    /// The block filter index cannot be built over this data directory's blocks (pruned,
    /// or pruning on while it would be built).
    #[error("block_filter_index: {0}")]
    FilterIndexNeedsBlocks(String),
    /// A peer's headers lead to a chain with less work than the anti-DoS threshold (the
    /// tip's work less [`ANTI_DOS_MARGIN_BLOCKS`] blocks' worth): not stored, as Bitcoin
    /// Core does since 24.0, so cheap forks cannot fill the index. Not a rule broken by
    /// itself: the sender may be on a stale fork, or part way through a long chain.
    #[error(
        "headers ending at {last} lead to a chain with less work than the anti-DoS \
         threshold ({ANTI_DOS_MARGIN_BLOCKS} blocks' worth below the tip): not stored"
    )]
    LowWork {
        /// The last header of the run.
        last: Hash256,
    },
}

/// How far below the tip's work a peer's header chain must reach before it is stored:
/// a day of blocks at the tip's difficulty (Bitcoin Core's 144).
pub const ANTI_DOS_MARGIN_BLOCKS: u64 = 144;

impl From<heed::Error> for ChainError {
    fn from(e: heed::Error) -> Self {
        match e {
            heed::Error::Io(e) if store::is_disk_full(&e) => ChainError::DiskFull(e.to_string()),
            e => ChainError::Storage(e.to_string()),
        }
    }
}

impl ChainError {
    /// A file error about `path`: disk full when it is, else storage naming the file.
    pub fn from_io(path: &std::path::Path, e: std::io::Error) -> Self {
        if store::is_disk_full(&e) {
            return ChainError::DiskFull(format!("{}: {e}", path.display()));
        }
        ChainError::Storage(format!("{}: {e}", path.display()))
    }

    /// Whether this is the disk being full (the operator frees space; nothing is wrong
    /// with the data).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, ChainError::DiskFull(_))
    }
}

impl From<WriteError<BlockError>> for ChainError {
    fn from(e: WriteError<BlockError>) -> Self {
        match e {
            WriteError::Store(e) => e.into(),
            WriteError::Refused(e) => ChainError::Invalid(e),
        }
    }
}

/// What happened to an accepted block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Stored; the tip is now this block or one of its descendants.
    BecameTip,
    /// Stored on a branch with less work than the tip.
    SideBranch,
    /// Already stored.
    AlreadyHave,
}

/// The tip of the main chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// Its hash.
    pub hash: Hash256,
    /// Its height.
    pub height: u32,
    /// Its header.
    pub header: BlockHeader,
    /// Cumulative work of the main chain.
    pub chain_work: U256,
    /// Median time of the last 11 blocks.
    pub median_time_past: u32,
}

/// Where the next block goes: what a miner needs for a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBlock {
    /// The parent (the tip).
    pub prev: Hash256,
    /// The new block's height.
    pub height: u32,
    /// The bits it must carry.
    pub bits: u32,
    /// Its time must be above this (median time past of the tip).
    pub min_time: u32,
}

type EventSink = Box<dyn Fn(ChainEvent) + Send + Sync>;

/// The chain state: the `chain` service.
pub struct ChainState {
    spec: &'static ChainSpec,
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
    pub(super) fn tree(&self) -> RwLockReadGuard<'_, BlockTree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The chain spec.
    pub fn spec(&self) -> &'static ChainSpec {
        self.spec
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
