//! Chain state on LMDB: blocks, the block index, the main chain, the UTXO set, undo data,
//! metadata and an optional address index, with fork choice by most cumulative work.
//!
//! One writer at a time (a mutex) accepts headers and blocks and moves the tip; readers
//! (RPC, peers) use the in-memory tree and LMDB read transactions and never wait for it.
//! Connecting or disconnecting a block is one LMDB write transaction; the in-memory tree
//! follows each commit. A block arriving on the tip (the usual case) is stored, indexed
//! and connected in that same transaction, so it costs one commit in all. On open, the
//! tip moves to the most-work stored chain, which also finishes a reorganisation a crash
//! interrupted.
//!
//! With `keep_blocks` set, the state is pruned (see `prune.rs`): bodies and undo
//! data of blocks deeper than that are deleted as new blocks connect.

mod connect;
mod prune;
mod records;
mod store;
mod tree;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use primitive_types::U256;

pub use prune::MIN_KEEP_BLOCKS;
pub use records::BlockIndexEntry;

use self::prune::{decode_prune_height, PRUNE_HEIGHT_KEY};
use self::records::{
    address_key, decode, encode, height_key, outpoint_from_key, outpoint_key, FAILED, HAVE_DATA,
};
use self::store::{Store, WriteError};
use self::tree::BlockTree;
use crate::block::{Block, BlockHeader};
use crate::coin::Coin;
use crate::events::ChainEvent;
use crate::hash::Hash256;
use crate::pow::{block_work, check_proof_of_work};
use crate::spec::ChainSpec;
use crate::transaction::OutPoint;
use crate::validation::{check_block, check_coinbase_height, BlockError};

const TIP_KEY: &[u8] = b"tip";
const SPEC_KEY: &[u8] = b"spec";
const SCHEMA_KEY: &[u8] = b"schema";
const ADDRESS_INDEX_KEY: &[u8] = b"address_index";
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
    /// Keep the bodies and undo data of only this many recent main-chain blocks; 0 keeps
    /// everything. At least [`MIN_KEEP_BLOCKS`] when set.
    pub keep_blocks: u32,
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
    /// The data directory belongs to another chain.
    #[error("the data directory holds chain {found:?}, but the profile asks for {wanted:?}")]
    WrongChain {
        /// The chain stored.
        found: String,
        /// The chain asked for.
        wanted: String,
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
}

impl From<heed::Error> for ChainError {
    fn from(e: heed::Error) -> Self {
        ChainError::Storage(e.to_string())
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
    options: ChainOptions,
    /// Mirror of the meta record: main-chain heights `1..=prune_height` have no data.
    prune_height: AtomicU32,
    sink: EventSink,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ChainState {
    /// Opens (or creates) the chain state in `path` for `spec`. Events of every later
    /// change go to `sink`, in order.
    pub fn open(
        path: &Path,
        spec: &'static ChainSpec,
        options: ChainOptions,
        sink: impl Fn(ChainEvent) + Send + Sync + 'static,
    ) -> Result<Arc<ChainState>, ChainError> {
        if options.keep_blocks != 0 && options.keep_blocks < MIN_KEEP_BLOCKS {
            return Err(ChainError::KeepBlocksTooLow(options.keep_blocks));
        }
        let store = Store::open(path)?;
        let genesis = spec.genesis_block();
        let genesis_hash = genesis.hash();
        let found: Option<(String, u32)> = store.read(|txn, dbs| {
            let spec_name = dbs
                .meta
                .get(txn, SPEC_KEY)?
                .map(|b| String::from_utf8_lossy(b).to_string());
            let schema = dbs
                .meta
                .get(txn, SCHEMA_KEY)?
                .and_then(|b| b.try_into().ok().map(u32::from_le_bytes));
            Ok(spec_name.zip(schema))
        })?;
        match found {
            None => Self::initialize(&store, spec, &genesis)?,
            Some((name, _)) if name != spec.name => {
                return Err(ChainError::WrongChain {
                    found: name,
                    wanted: spec.name.to_string(),
                })
            }
            Some((_, schema)) if schema != SCHEMA_VERSION => {
                return Err(ChainError::Corrupt(format!(
                    "schema version {schema}, this build reads {SCHEMA_VERSION}; reindex into a new data directory"
                )))
            }
            Some(_) => {}
        }
        Self::sync_address_index(&store, options.address_index)?;
        let tree = Self::load_tree(&store, genesis_hash)?;
        let prune_height =
            store.read(|txn, dbs| Ok(decode_prune_height(dbs.meta.get(txn, PRUNE_HEIGHT_KEY)?)))?;
        if prune_height > 0 && options.keep_blocks == 0 {
            tracing::warn!(
                prune_height,
                "the data directory was pruned; it stays pruned below that height (a new data \
                 directory is needed to keep every block again)"
            );
        }
        let state = Arc::new(ChainState {
            spec,
            store,
            tree: RwLock::new(tree),
            writer: Mutex::new(()),
            options,
            prune_height: AtomicU32::new(prune_height),
            sink: Box::new(sink),
        });
        {
            let _writer = state.writer.lock().unwrap_or_else(|e| e.into_inner());
            let tip = state.tree().tip();
            state.activate_best_chain(tip)?;
        }
        Ok(state)
    }

    fn initialize(store: &Store, spec: &ChainSpec, genesis: &Block) -> Result<(), ChainError> {
        let hash = genesis.hash();
        let entry = BlockIndexEntry {
            header: genesis.header,
            height: 0,
            chain_work: block_work(genesis.header.bits),
            status: HAVE_DATA,
            tx_count: genesis.txs.len() as u32,
        };
        store.write::<(), BlockError>(|txn, dbs| {
            dbs.blocks.put(txn, hash.as_bytes(), &encode(genesis))?;
            dbs.index.put(txn, hash.as_bytes(), &encode(&entry))?;
            dbs.main.put(txn, &height_key(0), hash.as_bytes())?;
            dbs.meta.put(txn, TIP_KEY, hash.as_bytes())?;
            dbs.meta.put(txn, SPEC_KEY, spec.name.as_bytes())?;
            dbs.meta
                .put(txn, SCHEMA_KEY, &SCHEMA_VERSION.to_le_bytes())?;
            Ok(())
        })?;
        tracing::info!(chain = spec.name, genesis = %hash, "new chain state");
        Ok(())
    }

    /// Builds or drops the address index when the profile switched it on or off.
    fn sync_address_index(store: &Store, wanted: bool) -> Result<(), ChainError> {
        let built = store.read(|txn, dbs| Ok(dbs.meta.get(txn, ADDRESS_INDEX_KEY)?.is_some()))?;
        if built == wanted {
            return Ok(());
        }
        store.write::<(), BlockError>(|txn, dbs| {
            dbs.address.clear(txn)?;
            if wanted {
                let mut rows = Vec::new();
                for item in dbs.utxo.iter(txn)? {
                    let (key, value) = item?;
                    rows.push((key.to_vec(), value.to_vec()));
                }
                for (key, value) in rows {
                    let (Some(outpoint), Ok(coin)) =
                        (outpoint_from_key(&key), decode::<Coin>(&value))
                    else {
                        continue;
                    };
                    if let Some(hash) = crate::script::parse_p2pkh(&coin.script_pubkey) {
                        dbs.address
                            .put(txn, &address_key(&hash, &outpoint), &value)?;
                    }
                }
                dbs.meta.put(txn, ADDRESS_INDEX_KEY, b"1")?;
            } else {
                dbs.meta.delete(txn, ADDRESS_INDEX_KEY)?;
            }
            Ok(())
        })?;
        tracing::info!(on = wanted, "address index rebuilt");
        Ok(())
    }

    fn load_tree(store: &Store, genesis: Hash256) -> Result<BlockTree, ChainError> {
        let (entries, main) = store.read(|txn, dbs| {
            let mut entries = Vec::new();
            for item in dbs.index.iter(txn)? {
                let (key, value) = item?;
                entries.push((key.to_vec(), value.to_vec()));
            }
            let mut main = Vec::new();
            for item in dbs.main.iter(txn)? {
                let (_, value) = item?;
                main.push(value.to_vec());
            }
            Ok((entries, main))
        })?;
        let hash_of = |bytes: &[u8]| -> Result<Hash256, ChainError> {
            bytes
                .try_into()
                .map(Hash256)
                .map_err(|_| ChainError::Corrupt("a block hash is not 32 bytes".to_string()))
        };
        let mut decoded = Vec::with_capacity(entries.len());
        let mut genesis_entry = None;
        for (key, value) in entries {
            let hash = hash_of(&key)?;
            let entry: BlockIndexEntry = decode(&value)
                .map_err(|e| ChainError::Corrupt(format!("index entry {hash}: {e}")))?;
            if hash == genesis {
                genesis_entry = Some(entry);
            } else {
                decoded.push((hash, entry));
            }
        }
        let genesis_entry = genesis_entry
            .ok_or_else(|| ChainError::Corrupt("genesis is not in the block index".to_string()))?;
        let mut tree = BlockTree::new(genesis, genesis_entry);
        // Parents before children, so children lists and best header build in one pass.
        decoded.sort_by_key(|(_, e)| e.height);
        for (hash, entry) in decoded {
            tree.insert(hash, entry);
        }
        let main: Vec<Hash256> = main.iter().map(|b| hash_of(b)).collect::<Result<_, _>>()?;
        if main.first() != Some(&genesis) {
            return Err(ChainError::Corrupt(
                "main chain does not start at genesis".to_string(),
            ));
        }
        tree.set_main(main);
        tree.set_best_header();
        let tip_work = tree.tip_entry().chain_work;
        let candidates: Vec<Hash256> = tree
            .iter()
            .filter(|(_, e)| e.has_data() && !e.is_failed() && e.chain_work > tip_work)
            .map(|(h, _)| *h)
            .collect();
        tree.candidates.extend(candidates);
        Ok(tree)
    }

    fn tree(&self) -> RwLockReadGuard<'_, BlockTree> {
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

    /// The tip of the main chain.
    pub fn tip(&self) -> Tip {
        let tree = self.tree();
        let hash = tree.tip();
        let entry = tree.tip_entry();
        Tip {
            hash,
            height: entry.height,
            header: entry.header,
            chain_work: entry.chain_work,
            median_time_past: tree.median_time_past(&hash),
        }
    }

    /// The most-work header known (the tip once every block is fetched).
    pub fn best_header(&self) -> (Hash256, u32) {
        let tree = self.tree();
        let hash = tree.best_header();
        (hash, tree.get(&hash).map(|e| e.height).unwrap_or(0))
    }

    /// What the next block on the tip must carry.
    pub fn next_block(&self) -> NextBlock {
        let tree = self.tree();
        let prev = tree.tip();
        NextBlock {
            prev,
            height: tree.height() + 1,
            bits: self.next_bits(&tree, &prev),
            min_time: tree.median_time_past(&prev),
        }
    }

    /// The index entry of a known header.
    pub fn entry(&self, hash: &Hash256) -> Option<BlockIndexEntry> {
        self.tree().get(hash).cloned()
    }

    /// Whether `hash` is on the main chain.
    pub fn is_main(&self, hash: &Hash256) -> bool {
        self.tree().is_main(hash)
    }

    /// The main-chain block hash at `height`.
    pub fn hash_at(&self, height: u32) -> Option<Hash256> {
        self.tree().main_hash(height)
    }

    /// The main-chain successor of `hash`, if any.
    pub fn next_hash(&self, hash: &Hash256) -> Option<Hash256> {
        let tree = self.tree();
        let entry = tree.get(hash)?;
        if !tree.is_main(hash) {
            return None;
        }
        tree.main_hash(entry.height + 1)
    }

    /// Median time past of the 11 blocks ending at `hash`.
    pub fn median_time_past(&self, hash: &Hash256) -> u32 {
        self.tree().median_time_past(hash)
    }

    /// Number of headers known.
    pub fn header_count(&self) -> usize {
        self.tree().len()
    }

    /// A stored block.
    pub fn block(&self, hash: &Hash256) -> Result<Option<Block>, ChainError> {
        match self.block_bytes(hash)? {
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| ChainError::Corrupt(format!("block {hash}: {e}"))),
            None => Ok(None),
        }
    }

    /// A stored block's serialization, as peers are served it.
    pub fn block_bytes(&self, hash: &Hash256) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self
            .store
            .read(|txn, dbs| Ok(dbs.blocks.get(txn, hash.as_bytes())?.map(<[u8]>::to_vec)))?)
    }

    /// An unspent output of the main chain.
    pub fn coin(&self, outpoint: &OutPoint) -> Result<Option<Coin>, ChainError> {
        let bytes = self.store.read(|txn, dbs| {
            Ok(dbs
                .utxo
                .get(txn, &outpoint_key(outpoint))?
                .map(<[u8]>::to_vec))
        })?;
        bytes
            .map(|b| decode(&b).map_err(|e| ChainError::Corrupt(format!("coin: {e}"))))
            .transpose()
    }

    /// The unspent outputs paying a P2PKH hash, when the address index is on.
    pub fn address_coins(
        &self,
        hash160: &[u8; 20],
    ) -> Result<Option<Vec<(OutPoint, Coin)>>, ChainError> {
        if !self.options.address_index {
            return Ok(None);
        }
        let rows = self.store.read(|txn, dbs| {
            let mut rows = Vec::new();
            for item in dbs.address.prefix_iter(txn, hash160)? {
                let (key, value) = item?;
                rows.push((key[20..].to_vec(), value.to_vec()));
            }
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(key, value)| {
                let outpoint = outpoint_from_key(&key)
                    .ok_or_else(|| ChainError::Corrupt("address index key".to_string()))?;
                let coin = decode(&value).map_err(|e| ChainError::Corrupt(format!("coin: {e}")))?;
                Ok((outpoint, coin))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Every unspent output (for checks and tests; walks the whole set).
    pub fn utxo_snapshot(&self) -> Result<Vec<(OutPoint, Coin)>, ChainError> {
        let rows = self.store.read(|txn, dbs| {
            let mut rows = Vec::new();
            for item in dbs.utxo.iter(txn)? {
                let (key, value) = item?;
                rows.push((key.to_vec(), value.to_vec()));
            }
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(k, v)| {
                let outpoint = outpoint_from_key(&k)
                    .ok_or_else(|| ChainError::Corrupt("utxo key".to_string()))?;
                let coin = decode(&v).map_err(|e| ChainError::Corrupt(format!("coin: {e}")))?;
                Ok((outpoint, coin))
            })
            .collect()
    }

    /// Bytes of the LMDB file on disk.
    pub fn disk_size(&self) -> u64 {
        self.store.disk_size()
    }

    /// A block locator for the main chain: the last blocks densely, then exponentially
    /// sparser back to genesis (Bitcoin's CChain::GetLocator).
    pub fn locator(&self) -> Vec<Hash256> {
        let tree = self.tree();
        let mut locator = Vec::new();
        let mut height = i64::from(tree.height());
        let mut step = 1i64;
        while height > 0 {
            locator.push(
                tree.main_hash(height as u32)
                    .expect("height within main chain"),
            );
            if locator.len() >= LOCATOR_DENSE {
                step *= 2;
            }
            height -= step;
        }
        locator.push(tree.main_hash(0).expect("genesis"));
        locator
    }

    /// The height of the last main-chain block a locator shares with us (genesis at
    /// worst).
    pub fn find_fork(&self, locator: &[Hash256]) -> u32 {
        let tree = self.tree();
        locator
            .iter()
            .find(|h| tree.is_main(h))
            .and_then(|h| tree.get(h))
            .map(|e| e.height)
            .unwrap_or(0)
    }

    /// Main-chain headers after the fork point of `locator`, up to `stop` or `max`.
    pub fn headers_after(
        &self,
        locator: &[Hash256],
        stop: &Hash256,
        max: usize,
    ) -> Vec<BlockHeader> {
        let start = self.find_fork(locator) + 1;
        let tree = self.tree();
        let mut headers = Vec::new();
        let mut height = start;
        while headers.len() < max {
            let Some(hash) = tree.main_hash(height) else {
                break;
            };
            headers.push(
                tree.get(&hash)
                    .expect("main chain entries are indexed")
                    .header,
            );
            if hash == *stop {
                break;
            }
            height += 1;
        }
        headers
    }

    /// Blocks on the best-header chain whose data we lack, lowest first.
    pub fn missing_blocks(&self, max: usize) -> Vec<Hash256> {
        self.tree().missing_on_best_chain(max)
    }

    fn next_bits(&self, tree: &BlockTree, prev: &Hash256) -> u32 {
        let entry = tree.get(prev).expect("prev is indexed");
        let height = entry.height + 1;
        let ancestor_time = |h: u32| {
            tree.ancestor(prev, h)
                .and_then(|a| tree.get(&a))
                .map(|e| e.header.time)
                .ok_or(())
        };
        // Every ancestor of an indexed block is indexed, so the lookup cannot fail.
        self.spec
            .next_bits(height, entry.header.bits, entry.header.time, ancestor_time)
            .unwrap_or(entry.header.bits)
    }

    /// Checks a header against its parent and stores it in the index. Returns whether it
    /// was new.
    pub fn accept_header(&self, header: &BlockHeader) -> Result<bool, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.accept_headers_locked(std::slice::from_ref(header));
        result.map(|n| n == 1)
    }

    /// Checks and stores a run of headers (each the parent of the next, as a `headers`
    /// message carries them) in one write. Returns how many were new; stops at the first
    /// invalid one, storing those before it.
    pub fn accept_headers(&self, headers: &[BlockHeader]) -> Result<usize, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.accept_headers_locked(headers)
    }

    fn accept_headers_locked(&self, headers: &[BlockHeader]) -> Result<usize, ChainError> {
        // The run is persisted in one write at the end. A crash before that write only
        // forgets headers, which peers send again.
        let (accepted, failure) = self.index_headers(headers);
        self.persist_entries(&accepted)?;
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(accepted.len()),
        }
    }

    /// Checks a run of headers and adds the new ones to the in-memory tree (not to LMDB:
    /// the caller persists them). Each joins the tree as soon as it passes, so the next
    /// one of the run finds its parent there. Stops at the first invalid one.
    fn index_headers(
        &self,
        headers: &[BlockHeader],
    ) -> (Vec<(Hash256, BlockIndexEntry)>, Option<BlockError>) {
        let mut accepted: Vec<(Hash256, BlockIndexEntry)> = Vec::new();
        let mut failure = None;
        for header in headers {
            let hash = header.hash();
            let entry = {
                let tree = self.tree();
                if let Some(existing) = tree.get(&hash) {
                    if existing.is_failed() {
                        failure = Some(BlockError::KnownInvalid);
                        break;
                    }
                    continue;
                }
                let Some(prev) = tree.get(&header.prev_block) else {
                    failure = Some(BlockError::PrevNotFound);
                    break;
                };
                if let Err(e) = self.check_header(&tree, header, prev) {
                    failure = Some(e);
                    break;
                }
                BlockIndexEntry {
                    header: *header,
                    height: prev.height + 1,
                    chain_work: prev.chain_work + block_work(header.bits),
                    status: 0,
                    tx_count: 0,
                }
            };
            self.tree
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(hash, entry.clone());
            accepted.push((hash, entry));
        }
        (accepted, failure)
    }

    /// Writes index entries in one write (none: no write).
    fn persist_entries(&self, entries: &[(Hash256, BlockIndexEntry)]) -> Result<(), ChainError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.store.write::<(), BlockError>(|txn, dbs| {
            for (hash, entry) in entries {
                dbs.index.put(txn, hash.as_bytes(), &encode(entry))?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Header rules that need the parent: proof of work, bits, time.
    fn check_header(
        &self,
        tree: &BlockTree,
        header: &BlockHeader,
        prev: &BlockIndexEntry,
    ) -> Result<(), BlockError> {
        if prev.is_failed() {
            return Err(BlockError::PrevInvalid);
        }
        check_proof_of_work(&header.hash(), header.bits, &self.spec.pow_limit())
            .map_err(|_| BlockError::HighHash)?;
        if header.bits != self.next_bits(tree, &header.prev_block) {
            return Err(BlockError::BadDiffBits);
        }
        if header.time <= tree.median_time_past(&header.prev_block) {
            return Err(BlockError::TimeTooOld);
        }
        if u64::from(header.time) > now() + MAX_FUTURE_SECS {
            return Err(BlockError::TimeTooNew);
        }
        Ok(())
    }

    /// Validates and stores a block, then moves the tip to the most-work chain. Invalid
    /// blocks are rejected with their reason (and remembered as invalid when the reason
    /// is about the block itself).
    pub fn accept_block(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let hash = block.hash();
        if let Some(entry) = self.tree().get(&hash) {
            if entry.is_failed() {
                return Err(BlockError::KnownInvalid.into());
            }
            // A pruned main-chain block was had; a pruned side-branch one fails the
            // fork check below.
            if entry.has_data() || (entry.is_pruned() && self.tree().is_main(&hash)) {
                return Ok(BlockOutcome::AlreadyHave);
            }
        }
        // A new header is persisted by the write that stores the block, saving a commit;
        // when the block is refused, by a write of its own (children may build on it).
        let (new_header, failure) = self.index_headers(std::slice::from_ref(&block.header));
        if let Some(e) = failure {
            return Err(e.into());
        }
        let result = self.accept_indexed_block(block, hash);
        if result.is_err() && !new_header.is_empty() {
            let entry = self.tree().get(&hash).cloned().expect("header indexed");
            self.persist_entries(&[(hash, entry)])?;
        }
        result
    }

    /// `accept_block` once the block's header is in the tree.
    fn accept_indexed_block(
        &self,
        block: &Block,
        hash: Hash256,
    ) -> Result<BlockOutcome, ChainError> {
        let height = self
            .tree()
            .get(&hash)
            .map(|e| e.height)
            .expect("header just accepted");
        self.check_fork_above_prune(&hash)?;
        let checked = check_block(block, self.spec.max_block_size)
            .and_then(|()| check_coinbase_height(block, height));
        if let Err(e) = checked {
            if e.marks_block_invalid() {
                self.mark_failed(hash)?;
            }
            return Err(e.into());
        }
        let mut entry = self
            .tree()
            .get(&hash)
            .cloned()
            .expect("header just accepted");
        entry.status |= HAVE_DATA;
        entry.tx_count = block.txs.len() as u32;
        let start_tip = self.tree().tip();
        let mut failed = None;
        if block.header.prev_block == start_tip {
            // The common case, a block on the tip: stored and connected in one write
            // (an invalid one is not stored at all).
            match self.connect(block, hash, Some(&entry)) {
                Ok(()) => {}
                Err(ChainError::Invalid(reason)) => {
                    tracing::warn!(block = %hash, %reason, "block failed to connect; marked invalid");
                    self.mark_failed(hash)?;
                    failed = Some((hash, reason));
                }
                Err(e) => return Err(e),
            }
        } else {
            self.store.write::<(), BlockError>(|txn, dbs| {
                dbs.blocks.put(txn, hash.as_bytes(), &encode(block))?;
                dbs.index.put(txn, hash.as_bytes(), &encode(&entry))?;
                Ok(())
            })?;
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let tip_work = tree.tip_entry().chain_work;
            let work = entry.chain_work;
            *tree.get_mut(&hash).expect("indexed") = entry;
            if work > tip_work {
                tree.candidates.insert(hash);
            }
        }
        {
            // Descendants stored before this block may now be connectable.
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            let descendants = tree.descendants_with_data(&hash);
            tree.candidates.extend(descendants);
        }
        let failed = failed.or(self.activate_best_chain(start_tip)?);
        let tree = self.tree();
        if tree.is_main(&hash) {
            Ok(BlockOutcome::BecameTip)
        } else if tree.get(&hash).is_some_and(|e| e.is_failed()) {
            match failed {
                Some((failed_hash, reason)) if failed_hash == hash => Err(reason.into()),
                _ => Err(BlockError::PrevInvalid.into()),
            }
        } else {
            Ok(BlockOutcome::SideBranch)
        }
    }

    /// Refuses a block whose branch forks below the prune height: its data could never
    /// be connected, so it is neither stored nor made a candidate.
    fn check_fork_above_prune(&self, hash: &Hash256) -> Result<(), ChainError> {
        let prune_height = self.prune_height();
        if prune_height == 0 {
            return Ok(());
        }
        let tree = self.tree();
        let fork_height = tree
            .fork_point(hash)
            .and_then(|f| tree.get(&f))
            .map(|e| e.height)
            .expect("indexed blocks descend from genesis");
        if fork_height < prune_height && !tree.is_main(hash) {
            return Err(ChainError::BeyondPruned {
                hash: *hash,
                fork_height,
                prune_height,
            });
        }
        Ok(())
    }

    fn mark_failed(&self, hash: Hash256) -> Result<(), ChainError> {
        let marked = self
            .tree
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .mark_failed(hash);
        let entries: Vec<(Hash256, BlockIndexEntry)> = {
            let tree = self.tree();
            marked
                .iter()
                .filter_map(|h| tree.get(h).map(|e| (*h, e.clone())))
                .collect()
        };
        self.store.write::<(), BlockError>(|txn, dbs| {
            for (h, e) in &entries {
                dbs.index.put(txn, h.as_bytes(), &encode(e))?;
            }
            Ok(())
        })?;
        debug_assert!(entries.iter().all(|(_, e)| e.status & FAILED != 0));
        Ok(())
    }

    /// Moves the tip to the most-work connectable chain: disconnect to the fork point,
    /// connect the branch; a block that fails is marked invalid and the search repeats.
    /// Returns the last block that failed to connect, with its reason. Announces the tip
    /// if it differs from `start_tip`.
    fn activate_best_chain(
        &self,
        start_tip: Hash256,
    ) -> Result<Option<(Hash256, BlockError)>, ChainError> {
        let mut failed = None;
        loop {
            let Some(target) = self.tree().best_candidate() else {
                break;
            };
            let (fork, fork_height, branch) = {
                let tree = self.tree();
                let fork = tree
                    .fork_point(&target)
                    .expect("candidates descend from genesis");
                let branch = tree.branch_from_main(&target).expect("checked connectable");
                (fork, tree.get(&fork).expect("indexed").height, branch)
            };
            let prune_height = self.prune_height();
            if fork_height < prune_height {
                // Blocks are checked against this before they are stored, so only a state
                // pruned by hand gets here; disconnecting would hit missing undo data.
                tracing::warn!(
                    block = %target, fork_height, prune_height,
                    "a more-work branch forks below the prune height; it cannot be connected"
                );
                let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
                for hash in branch {
                    tree.candidates.remove(&hash);
                }
                continue;
            }
            while self.tree().tip() != fork {
                self.disconnect_tip()?;
            }
            for hash in branch {
                let block = self
                    .block(&hash)?
                    .ok_or_else(|| ChainError::Corrupt(format!("block {hash} has no data")))?;
                match self.connect(&block, hash, None) {
                    Ok(()) => {}
                    Err(ChainError::Invalid(reason)) => {
                        tracing::warn!(block = %hash, %reason, "block failed to connect; marked invalid");
                        self.mark_failed(hash)?;
                        failed = Some((hash, reason));
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
        tree.prune_candidates();
        let tip = tree.tip();
        if tip != start_tip {
            let height = tree.height();
            drop(tree);
            (self.sink)(ChainEvent::TipChanged { hash: tip, height });
        }
        Ok(failed)
    }

    /// Connects `block` on the tip in one write. With `new_entry`, the block is not
    /// stored yet: that same write stores it with this index entry.
    fn connect(
        &self,
        block: &Block,
        hash: Hash256,
        new_entry: Option<&BlockIndexEntry>,
    ) -> Result<(), ChainError> {
        let height = self.tree().get(&hash).expect("indexed").height;
        let prune_height = self.prune_height();
        let pruned = self.store.write(|txn, dbs| {
            if let Some(entry) = new_entry {
                dbs.blocks.put(txn, hash.as_bytes(), &encode(block))?;
                dbs.index.put(txn, hash.as_bytes(), &encode(entry))?;
            }
            connect::connect_block(
                txn,
                dbs,
                self.spec,
                self.options.address_index,
                block,
                &hash,
                height,
            )?;
            prune::prune_step(
                txn,
                dbs,
                &self.tree(),
                prune_height,
                height,
                self.options.keep_blocks,
            )
        })?;
        {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = new_entry {
                *tree.get_mut(&hash).expect("indexed") = entry.clone();
            }
            tree.push_main(hash);
            tree.candidates.remove(&hash);
            if let Some(pruned) = pruned {
                for (pruned_hash, entry) in pruned.entries {
                    tree.candidates.remove(&pruned_hash);
                    if let Some(slot) = tree.get_mut(&pruned_hash) {
                        *slot = entry;
                    }
                }
                self.prune_height.store(pruned.height, Ordering::Release);
                tracing::debug!(prune_height = pruned.height, "pruned old block data");
            }
        }
        (self.sink)(ChainEvent::BlockConnected {
            hash,
            height,
            block: Arc::new(block.clone()),
        });
        Ok(())
    }

    fn disconnect_tip(&self) -> Result<(), ChainError> {
        let (hash, height) = {
            let tree = self.tree();
            (tree.tip(), tree.height())
        };
        let block = self
            .block(&hash)?
            .ok_or_else(|| ChainError::Corrupt(format!("tip {hash} has no data to disconnect")))?;
        self.store.write(|txn, dbs| {
            connect::disconnect_block(txn, dbs, self.options.address_index, &block, &hash, height)
        })?;
        {
            let mut tree = self.tree.write().unwrap_or_else(|e| e.into_inner());
            tree.pop_main();
            tree.candidates.insert(hash);
        }
        (self.sink)(ChainEvent::BlockDisconnected {
            hash,
            height,
            block: Arc::new(block),
        });
        Ok(())
    }
}
