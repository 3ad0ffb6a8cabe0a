//! Opening the chain state: creating a new data directory, refusing another chain's or
//! an older schema, building or dropping the address index, dropping the tx index or
//! reading how far it is built, and loading the block tree.

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};

use super::progress::Progress;
use super::prune::{decode_prune_height, PRUNE_HEIGHT_KEY};
use super::records::{address_key, decode, encode, height_key, outpoint_from_key, HAVE_DATA};
use super::store::Store;
use super::tree::BlockTree;
use super::{
    BlockIndexEntry, ChainError, ChainIdentity, ChainOptions, ChainState, ADDRESS_INDEX_KEY,
    MIN_KEEP_BLOCKS, SCHEMA_KEY, SCHEMA_VERSION, SPEC_KEY, TIP_KEY,
};
use node_chain::block::Block;
use node_chain::coin::Coin;
use node_chain::events::ChainEvent;
use node_chain::hash::Hash256;
use node_chain::pow::block_work;
use node_chain::spec::ChainSpec;
use node_chain::validation::BlockError;

impl ChainState {
    /// Opens (or creates) the chain state in `path` for `spec`. Events of every later
    /// change go to `sink`, in order.
    pub fn open(
        path: &Path,
        spec: Arc<ChainSpec>,
        options: ChainOptions,
        sink: impl Fn(ChainEvent) + Send + Sync + 'static,
    ) -> Result<Arc<ChainState>, ChainError> {
        if options.keep_blocks != 0 && options.keep_blocks < MIN_KEEP_BLOCKS {
            return Err(ChainError::KeepBlocksTooLow(options.keep_blocks));
        }
        if options.tx_index && options.keep_blocks != 0 {
            return Err(ChainError::TxIndexNeedsBlocks(
                "it cannot be combined with keep_blocks".to_string(),
            ));
        }
        // Before LMDB maps the file: a truncated or garbled one is refused by name
        // instead of crashing this process.
        super::integrity::check_files(path)?;
        let store = Store::open(path)?;
        let genesis = spec.genesis_block();
        let genesis_hash = genesis.hash();
        let found: Option<(String, u32, Option<Hash256>)> = store.read(|txn, dbs| {
            let spec_name = dbs
                .meta
                .get(txn, SPEC_KEY)?
                .map(|b| String::from_utf8_lossy(b).to_string());
            let schema = dbs
                .meta
                .get(txn, SCHEMA_KEY)?
                .and_then(|b| b.try_into().ok().map(u32::from_le_bytes));
            // The main chain's first block is the genesis this directory was created with.
            let stored_genesis = dbs
                .main
                .get(txn, &height_key(0))?
                .and_then(|b| b.try_into().ok().map(Hash256));
            Ok(spec_name
                .zip(schema)
                .map(|(name, schema)| (name, schema, stored_genesis)))
        })?;
        match found {
            None => Self::initialize(&store, &spec, &genesis)?,
            // The spec is recorded with the genesis in one transaction: a directory with
            // one and not the other lost records, whatever chain it holds.
            Some((_, _, None)) => {
                return Err(ChainError::Corrupt(format!(
                    "{}: the main chain's first block is missing, though the chain is \
                     recorded; the node cannot start on it: {}",
                    path.join(super::integrity::DATA_FILE).display(),
                    super::integrity::RECOVERY
                )))
            }
            Some((name, _, stored)) if name != spec.name || stored != Some(genesis_hash) => {
                return Err(ChainError::WrongChain {
                    found: Box::new(ChainIdentity {
                        name,
                        genesis: stored.map_or_else(|| "none".to_string(), |h| h.to_string()),
                    }),
                    wanted: Box::new(ChainIdentity {
                        name: spec.name.to_string(),
                        genesis: genesis_hash.to_string(),
                    }),
                })
            }
            Some((_, schema, _)) if schema != SCHEMA_VERSION => {
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
        let tx_index_built = super::tx_index::prepare(&store, options.tx_index, prune_height)?;
        let filter_index_built = super::filter_index::prepare(
            &store,
            options.block_filter_index,
            options.keep_blocks,
            prune_height,
        )?;
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
            pipeline: Default::default(),
            progress: Mutex::new(Progress::new()),
            options,
            prune_height: AtomicU32::new(prune_height),
            tx_index_built: AtomicU64::new(tx_index_built),
            filter_index_built: AtomicU64::new(filter_index_built),
            sink: Box::new(sink),
        });
        {
            let _writer = state.writer.lock().unwrap_or_else(|e| e.into_inner());
            let tip = state.tree().tip();
            state.activate_best_chain(tip)?;
        }
        if state.tip().height == 0 {
            // A new chain's index starts complete: genesis's filter, at once.
            state.build_filter_index_batch()?;
        }
        Ok(state)
    }

    pub(super) fn initialize(
        store: &Store,
        spec: &ChainSpec,
        genesis: &Block,
    ) -> Result<(), ChainError> {
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
    pub(super) fn sync_address_index(store: &Store, wanted: bool) -> Result<(), ChainError> {
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
                    if let Some(hash) = node_chain::script::parse_p2pkh(&coin.script_pubkey) {
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

    pub(super) fn load_tree(store: &Store, genesis: Hash256) -> Result<BlockTree, ChainError> {
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
        tree.refill_candidates();
        Ok(tree)
    }
}
