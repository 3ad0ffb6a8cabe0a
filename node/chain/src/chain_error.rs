//! Why the chain refused or failed something, and the limits those errors name: the chain
//! service's error, shared by the chain state that raises it and the modules that read
//! it.

use primitive_types::U256;

use crate::hash::Hash256;
use crate::pow::block_work;
use crate::validation::BlockError;

/// How far below the tip's work a peer's header chain must reach before it is stored:
/// a day of blocks at the tip's difficulty (Bitcoin Core's 144).
pub const ANTI_DOS_MARGIN_BLOCKS: u64 = 144;

/// The anti-DoS work for a tip of `chain_work` whose header has `bits`: its work less
/// [`ANTI_DOS_MARGIN_BLOCKS`] blocks' worth at its difficulty.
pub fn anti_dos_threshold(chain_work: U256, bits: u32) -> U256 {
    let margin = block_work(bits).saturating_mul(U256::from(ANTI_DOS_MARGIN_BLOCKS));
    chain_work.saturating_sub(margin)
}

/// Bitcoin Core's MIN_BLOCKS_TO_KEEP: a pruned node can still reorganise this deep, and
/// peers may ask a NODE_NETWORK_LIMITED node for this many recent blocks.
pub const MIN_KEEP_BLOCKS: u32 = 288;

/// Most blocks connected in one write transaction. A commit's fsync is paid once per run,
/// so 64 makes it negligible next to the blocks' own work, while the run stays far below
/// the prune depth ([`MIN_KEEP_BLOCKS`], which the chain state's pruning needs) and a
/// node stopped mid-run loses at most this many blocks of work.
pub const MAX_RUN_BLOCKS: usize = 64;

/// A run ends once its serialized blocks reach this many bytes (so it passes it by less
/// than one block). LMDB keeps a transaction's dirty pages in memory until the commit; a
/// run writes a few times its blocks' size (bodies, undo data, coins), well under LMDB's
/// 512 MiB dirty-page limit, and a node syncing full 1 MB blocks still writes 16 a
/// commit.
pub const MAX_RUN_BYTES: usize = 16 << 20;

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

impl ChainError {
    /// A file error about `path`: disk full when it is, else storage naming the file.
    pub fn from_io(path: &std::path::Path, e: std::io::Error) -> Self {
        if is_disk_full_io(&e) {
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

/// Linux's errno values for no space left and a quota exceeded.
const ENOSPC: i32 = 28;
const EDQUOT: i32 = 122;

/// Whether an I/O error is the file system (or the user's quota) being full.
pub fn is_disk_full_io(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT))
}

/// Why a proposal was not found valid.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    /// It does not build on the tip: nothing can be said (Core's reason).
    #[error("inconclusive-not-best-prevblk")]
    NotOnTip,
    /// It breaks a rule.
    #[error("{0}")]
    Invalid(BlockError),
    /// The store failed.
    #[error("{0}")]
    Chain(ChainError),
}
