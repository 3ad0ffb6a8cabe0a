//! The LMDB environment and its databases, with the one rule that makes growth safe:
//! the map is resized only while no transaction of this process is open.

use std::path::Path;
use std::sync::{Mutex, RwLock};

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use node_chain::ChainError;

/// The map starts here and doubles when a write finds it full. LMDB maps are sparse, so a
/// larger start would cost nothing on disk, but growth is what a long-lived node needs.
const INITIAL_MAP_SIZE: usize = 256 << 20;

/// The named databases of the chain state.
#[derive(Clone, Copy)]
pub(crate) struct Dbs {
    /// Block hash -> serialized block.
    pub(crate) blocks: Database<Bytes, Bytes>,
    /// Block hash -> `BlockIndexEntry`.
    pub(crate) index: Database<Bytes, Bytes>,
    /// Height (big-endian) -> block hash, for the main chain.
    pub(crate) main: Database<Bytes, Bytes>,
    /// Outpoint key -> `Coin`.
    pub(crate) utxo: Database<Bytes, Bytes>,
    /// Block hash -> `BlockUndo`.
    pub(crate) undo: Database<Bytes, Bytes>,
    /// Name -> value: spec, schema version, tip.
    pub(crate) meta: Database<Bytes, Bytes>,
    /// hash160 ++ outpoint key -> `Coin`, when the address index is on.
    pub(crate) address: Database<Bytes, Bytes>,
    /// Txid -> block hash ++ position (u32 little-endian), when the tx index is on.
    pub(crate) tx_index: Database<Bytes, Bytes>,
    /// Block hash -> filter header ++ filter hash ++ BIP158 filter, when the block filter
    /// index is on (`filter_index.rs`).
    pub(crate) block_filter: Database<Bytes, Bytes>,
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError<E> {
    /// LMDB failed.
    #[error("storage: {0}")]
    Store(#[from] heed::Error),
    /// The caller's closure refused (a consensus rule); the transaction was aborted.
    #[error("{0}")]
    Refused(E),
}

/// Linux's errno values for an I/O error and no space left.
pub(crate) const EIO: i32 = 5;
pub(crate) const ENOSPC: i32 = 28;

/// Whether `e` says the disk (or the user's quota) is full.
pub(crate) fn is_disk_full(e: &std::io::Error) -> bool {
    node_chain::is_disk_full_io(e)
}

/// Whether the file system holding `dir` cannot take 64 KiB more: a probe file is
/// written, synced and removed.
pub(crate) fn disk_full(dir: &Path) -> bool {
    use std::io::Write;
    let probe = dir.join(".space-probe");
    let written = std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(&[0u8; 64 << 10]).and_then(|()| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    written.is_err_and(|e| is_disk_full(&e))
}

pub(crate) struct Store {
    /// The environment's directory.
    path: std::path::PathBuf,
    /// Whether a write failed for lack of space (cleared by a commit once the file
    /// system has room again).
    disk_full: std::sync::atomic::AtomicBool,
    env: Env<WithoutTls>,
    dbs: Dbs,
    /// Readers and the writer hold it shared; growing the map holds it exclusively, so
    /// `resize` never runs under an open transaction.
    gate: RwLock<()>,
    writer: Mutex<()>,
}

/// An LMDB error as the chain service reports it: disk full when it is, else storage.
/// (`ChainError` is defined without LMDB, in `node-chain`, so it has no `From` for it.)
pub(crate) fn storage_error(e: heed::Error) -> ChainError {
    match e {
        heed::Error::Io(e) if is_disk_full(&e) => ChainError::DiskFull(e.to_string()),
        e => ChainError::Storage(e.to_string()),
    }
}

impl Store {
    pub(crate) fn open(path: &Path) -> Result<Store, ChainError> {
        Store::open_env(path).map_err(storage_error)
    }

    fn open_env(path: &Path) -> Result<Store, heed::Error> {
        std::fs::create_dir_all(path)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(INITIAL_MAP_SIZE).max_dbs(9);
        // SAFETY: the data directory is locked by the kernel, so no other process opens
        // this environment, and this process opens it once.
        let env = unsafe { options.open(path)? };
        let current = env.info().map_size;
        let mut wtxn = env.write_txn()?;
        let dbs = Dbs {
            blocks: env.create_database(&mut wtxn, Some("blocks"))?,
            index: env.create_database(&mut wtxn, Some("index"))?,
            main: env.create_database(&mut wtxn, Some("main"))?,
            utxo: env.create_database(&mut wtxn, Some("utxo"))?,
            undo: env.create_database(&mut wtxn, Some("undo"))?,
            meta: env.create_database(&mut wtxn, Some("meta"))?,
            address: env.create_database(&mut wtxn, Some("address"))?,
            tx_index: env.create_database(&mut wtxn, Some("tx_index"))?,
            block_filter: env.create_database(&mut wtxn, Some("block_filter"))?,
        };
        wtxn.commit()?;
        tracing::debug!(map_size = current, "chain store open");
        Ok(Store {
            path: path.to_path_buf(),
            disk_full: Default::default(),
            env,
            dbs,
            gate: RwLock::new(()),
            writer: Mutex::new(()),
        })
    }

    /// Runs `f` in a read transaction. Readers never wait on the writer.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&RoTxn<'_, WithoutTls>, &Dbs) -> Result<T, heed::Error>,
    ) -> Result<T, ChainError> {
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let rtxn = self.env.read_txn().map_err(storage_error)?;
        f(&rtxn, &self.dbs).map_err(storage_error)
    }

    /// Runs `f` in one write transaction and commits it. When the map is full, the
    /// transaction is aborted, the map doubled, and `f` runs again from the start.
    pub(crate) fn write<T, E>(
        &self,
        mut f: impl FnMut(&mut RwTxn<'_>, &Dbs) -> Result<T, WriteError<E>>,
    ) -> Result<T, WriteError<E>> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let attempt = {
                let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
                let mut wtxn = self.env.write_txn()?;
                match f(&mut wtxn, &self.dbs) {
                    Ok(value) => wtxn.commit().map(|()| value).map_err(WriteError::Store),
                    Err(e) => Err(e),
                }
            };
            match attempt {
                Err(WriteError::Store(heed::Error::Mdb(heed::MdbError::MapFull))) => self.grow()?,
                Err(WriteError::Store(heed::Error::Io(e))) => {
                    let e = self.disk_full_or(e);
                    self.disk_full
                        .store(is_disk_full(&e), std::sync::atomic::Ordering::Relaxed);
                    return Err(WriteError::Store(heed::Error::Io(e)));
                }
                Ok(value) => {
                    // A small write succeeds on a full disk when LMDB reuses its free
                    // pages (a refused block's header is stored right after its body
                    // failed): the flag goes only once 64 KiB fit on the file system.
                    if self.is_full() && !disk_full(&self.path) {
                        self.disk_full
                            .store(false, std::sync::atomic::Ordering::Relaxed);
                    }
                    return Ok(value);
                }
                other => return other,
            }
        }
    }

    /// Runs `f` in a write transaction that is always aborted, never committed: for
    /// checks that replay changes (`verifychain` disconnecting and reconnecting blocks)
    /// without keeping them. Other writes wait while it runs.
    pub(crate) fn scratch<T, E>(
        &self,
        f: impl FnOnce(&mut RwTxn<'_>, &Dbs) -> Result<T, WriteError<E>>,
    ) -> Result<T, WriteError<E>> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let mut wtxn = self.env.write_txn()?;
        let result = f(&mut wtxn, &self.dbs);
        wtxn.abort();
        result
    }

    /// A failed write's error, as ENOSPC when the file system is full: a write-back
    /// that failed for lack of space surfaces as EIO at commit, which would tell the
    /// operator nothing. Asked of the file system by writing a small probe file.
    fn disk_full_or(&self, e: std::io::Error) -> std::io::Error {
        if e.raw_os_error() != Some(EIO) || !disk_full(&self.path) {
            return e;
        }
        std::io::Error::from_raw_os_error(ENOSPC)
    }

    /// Whether the last write failed because the disk (or quota) is full.
    pub(crate) fn is_full(&self) -> bool {
        self.disk_full.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn grow(&self) -> Result<(), heed::Error> {
        let _exclusive = self.gate.write().unwrap_or_else(|e| e.into_inner());
        let new_size = self.env.info().map_size * 2;
        tracing::info!(new_size, "chain store map full; growing");
        // SAFETY: the exclusive gate guarantees no transaction of this process is open,
        // which is LMDB's condition for mdb_env_set_mapsize; no other process opens the
        // environment (the data directory is locked).
        unsafe { self.env.resize(new_size) }
    }

    /// Bytes the environment's file uses on disk.
    pub(crate) fn disk_size(&self) -> u64 {
        self.env.real_disk_size().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_grows_and_the_write_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = store.env.info().map_size;
        // More than the initial map holds, in one transaction.
        let value = vec![7u8; 1 << 20];
        let count = INITIAL_MAP_SIZE / value.len() + 8;
        let mut attempts = 0;
        store
            .write::<(), ()>(|txn, dbs| {
                attempts += 1;
                for i in 0..count as u32 {
                    dbs.blocks.put(txn, &i.to_be_bytes(), &value)?;
                }
                Ok(())
            })
            .unwrap();
        assert!(attempts >= 2);
        assert!(store.env.info().map_size > before);
        let stored = store.read(|txn, dbs| dbs.blocks.len(txn)).unwrap();
        assert_eq!(stored, count as u64);
    }
}
