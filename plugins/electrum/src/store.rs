//! The scripthash index on disk: its own LMDB environment under `DATADIR/electrum/`,
//! written in the chain's order, one write transaction per step so that a node killed
//! at any instant reopens an index whose rows and recorded tip agree.
//!
//! Tables (keys big-endian where order matters):
//! - `history`: scripthash ++ height ++ position in block -> txid. A prefix scan yields
//!   a script's confirmed history in chain order.
//! - `funding`: outpoint -> scripthash ++ value ++ height, for every unspent output: what
//!   lets an input be attributed to the script it spends from.
//! - `unspent`: scripthash ++ height ++ outpoint -> value: a script's confirmed coins.
//! - `txs`: txid -> height ++ position: where a confirmed transaction is.
//! - `undo`: height -> block hash ++ the outputs its inputs spent, so a disconnected
//!   block's rows are removed and the coins it spent come back.
//! - `meta`: `tip` -> hash ++ height of the last block indexed.
//!
//! Cost on disk, per transaction: 76 bytes of `history` per script it touches, 40 of
//! `txs`; per unspent output 80 of `funding` and 80 of `unspent`; per spent input 80 of
//! `undo`; LMDB's page overhead on top (see the benchmark for measured bytes per block).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use node_api::chain::script::is_op_return;
use node_api::chain::{Block, Hash256, OutPoint};
use sha2::{Digest, Sha256};

/// The map starts here and doubles when a write finds it full (LMDB maps are sparse).
const INITIAL_MAP_SIZE: usize = 64 << 20;

/// A script's Electrum id: sha256 of the output script (shown byte-reversed in hex).
pub(crate) type ScriptHash = [u8; 32];

/// The Electrum scripthash of an output script.
pub(crate) fn script_hash(script_pubkey: &[u8]) -> ScriptHash {
    Sha256::digest(script_pubkey).into()
}

/// An unspent output of a script, as the index records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Funding {
    /// The script it pays.
    pub(crate) script: ScriptHash,
    /// Satoshis.
    pub(crate) value: u64,
    /// Height of the block that created it.
    pub(crate) height: u32,
}

/// An error of the index's storage.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// LMDB failed.
    Lmdb(heed::Error),
    /// The rows disagree with themselves or with the chain (a bug or a damaged file).
    Corrupt(String),
    /// A script's history is longer than the bound asked for (`[electrum] max_history`).
    TooLong {
        /// The bound.
        limit: usize,
    },
}

impl std::error::Error for StoreError {}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Lmdb(e) => write!(f, "electrum index storage: {e}"),
            StoreError::Corrupt(what) => write!(f, "electrum index damaged: {what}"),
            StoreError::TooLong { limit } => write!(
                f,
                "history too large: more than {limit} transactions (the server's max_history)"
            ),
        }
    }
}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> Self {
        StoreError::Lmdb(e)
    }
}

#[derive(Clone, Copy)]
struct Dbs {
    history: Database<Bytes, Bytes>,
    funding: Database<Bytes, Bytes>,
    unspent: Database<Bytes, Bytes>,
    txs: Database<Bytes, Bytes>,
    undo: Database<Bytes, Bytes>,
    meta: Database<Bytes, Bytes>,
}

/// The index's environment.
pub(crate) struct Store {
    env: Env<WithoutTls>,
    dbs: Dbs,
    /// Readers and the writer hold it shared; growing the map holds it exclusively, so
    /// the map is never resized under an open transaction (LMDB's rule).
    gate: RwLock<()>,
    writer: Mutex<()>,
}

const TIP: &[u8] = b"tip";

fn outpoint_key(outpoint: &OutPoint) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[..32].copy_from_slice(outpoint.txid.as_bytes());
    key[32..].copy_from_slice(&outpoint.vout.to_be_bytes());
    key
}

fn history_key(script: &ScriptHash, height: u32, pos: u32) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(script);
    key[32..36].copy_from_slice(&height.to_be_bytes());
    key[36..].copy_from_slice(&pos.to_be_bytes());
    key
}

fn unspent_key(script: &ScriptHash, height: u32, outpoint: &OutPoint) -> [u8; 72] {
    let mut key = [0u8; 72];
    key[..32].copy_from_slice(script);
    key[32..36].copy_from_slice(&height.to_be_bytes());
    key[36..].copy_from_slice(&outpoint_key(outpoint));
    key
}

fn funding_value(funding: &Funding) -> [u8; 44] {
    let mut value = [0u8; 44];
    value[..32].copy_from_slice(&funding.script);
    value[32..40].copy_from_slice(&funding.value.to_le_bytes());
    value[40..].copy_from_slice(&funding.height.to_le_bytes());
    value
}

fn read_funding(bytes: &[u8]) -> Option<Funding> {
    Some(Funding {
        script: bytes.get(..32)?.try_into().ok()?,
        value: u64::from_le_bytes(bytes.get(32..40)?.try_into().ok()?),
        height: u32::from_le_bytes(bytes.get(40..44)?.try_into().ok()?),
    })
}

fn hash_of(bytes: &[u8]) -> Option<Hash256> {
    Some(Hash256(bytes.get(..32)?.try_into().ok()?))
}

fn u32_be(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

/// What one block changed: the scripts whose history moved.
pub(crate) type Touched = BTreeSet<ScriptHash>;

impl Store {
    /// Opens (or creates) the index in `path`.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(path).map_err(heed::Error::Io)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(INITIAL_MAP_SIZE).max_dbs(6);
        // SAFETY: the data directory is locked by the kernel, so no other process opens
        // this environment, and this process opens it once (the module starts once).
        let env = unsafe { options.open(path)? };
        let mut wtxn = env.write_txn()?;
        let dbs = Dbs {
            history: env.create_database(&mut wtxn, Some("history"))?,
            funding: env.create_database(&mut wtxn, Some("funding"))?,
            unspent: env.create_database(&mut wtxn, Some("unspent"))?,
            txs: env.create_database(&mut wtxn, Some("txs"))?,
            undo: env.create_database(&mut wtxn, Some("undo"))?,
            meta: env.create_database(&mut wtxn, Some("meta"))?,
        };
        wtxn.commit()?;
        Ok(Store {
            env,
            dbs,
            gate: RwLock::new(()),
            writer: Mutex::new(()),
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&RoTxn<'_, WithoutTls>, &Dbs) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let rtxn = self.env.read_txn()?;
        f(&rtxn, &self.dbs)
    }

    /// Runs `f` in one write transaction and commits it; when the map is full the
    /// transaction is aborted, the map doubled and `f` run again from the start.
    fn write<T>(
        &self,
        mut f: impl FnMut(&mut RwTxn<'_>, &Dbs) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let attempt = {
                let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
                let mut wtxn = self.env.write_txn()?;
                match f(&mut wtxn, &self.dbs) {
                    Ok(value) => wtxn.commit().map(|()| value).map_err(StoreError::from),
                    Err(e) => Err(e),
                }
            };
            match attempt {
                Err(StoreError::Lmdb(heed::Error::Mdb(heed::MdbError::MapFull))) => {
                    let _exclusive = self.gate.write().unwrap_or_else(|e| e.into_inner());
                    let new_size = self.env.info().map_size * 2;
                    tracing::info!(new_size, "electrum index map full; growing");
                    // SAFETY: the exclusive gate means no transaction of this process is
                    // open, LMDB's condition for resizing; no other process opens it.
                    unsafe { self.env.resize(new_size)? };
                }
                other => return other,
            }
        }
    }

    /// The last block indexed and its height.
    pub(crate) fn tip(&self) -> Result<Option<(Hash256, u32)>, StoreError> {
        self.read(|rtxn, dbs| Ok(read_tip(rtxn, dbs)?))
    }

    /// Adds `blocks` (consecutive, the first on the indexed tip) in one transaction with
    /// the new tip. Returns the scripts touched.
    pub(crate) fn connect(&self, blocks: &[(u32, &Block)]) -> Result<Touched, StoreError> {
        self.write(|wtxn, dbs| {
            let mut touched = Touched::new();
            for &(height, block) in blocks {
                connect_block(wtxn, dbs, height, block, &mut touched)?;
            }
            Ok(touched)
        })
    }

    /// Removes the indexed tip, `block` at `height`, in one transaction with the new tip
    /// (its parent). Returns the scripts touched.
    pub(crate) fn disconnect(&self, height: u32, block: &Block) -> Result<Touched, StoreError> {
        self.write(|wtxn, dbs| disconnect_block(wtxn, dbs, height, block))
    }

    /// Forgets everything (a rebuild from genesis follows).
    pub(crate) fn clear(&self) -> Result<(), StoreError> {
        self.write(|wtxn, dbs| {
            for db in [
                dbs.history,
                dbs.funding,
                dbs.unspent,
                dbs.txs,
                dbs.undo,
                dbs.meta,
            ] {
                db.clear(wtxn)?;
            }
            Ok(())
        })
    }

    /// A script's confirmed history, in chain order: (height, txid); more than `limit`
    /// rows is an error, found without reading past the bound.
    pub(crate) fn history(
        &self,
        script: &ScriptHash,
        limit: usize,
    ) -> Result<Vec<(u32, Hash256)>, StoreError> {
        self.read(|rtxn, dbs| {
            let mut rows = Vec::new();
            for item in dbs.history.prefix_iter(rtxn, script)? {
                let (key, value) = item?;
                let height = key
                    .get(32..)
                    .and_then(u32_be)
                    .ok_or_else(|| bad("history key"))?;
                let txid = hash_of(value).ok_or_else(|| bad("history value"))?;
                if rows.len() == limit {
                    return Err(StoreError::TooLong { limit });
                }
                rows.push((height, txid));
            }
            Ok(rows)
        })
    }

    /// A script's confirmed unspent outputs, by height: (outpoint, value, height).
    pub(crate) fn unspent(
        &self,
        script: &ScriptHash,
        limit: usize,
    ) -> Result<Vec<(OutPoint, u64, u32)>, StoreError> {
        self.read(|rtxn, dbs| {
            let mut rows = Vec::new();
            for item in dbs.unspent.prefix_iter(rtxn, script)? {
                let (key, value) = item?;
                let parse = || -> Option<(OutPoint, u64, u32)> {
                    let height = u32_be(key.get(32..36)?)?;
                    let txid = hash_of(key.get(36..68)?)?;
                    let vout = u32_be(key.get(68..72)?)?;
                    let value = u64::from_le_bytes(value.get(..8)?.try_into().ok()?);
                    Some((OutPoint { txid, vout }, value, height))
                };
                if rows.len() == limit {
                    return Err(StoreError::TooLong { limit });
                }
                rows.push(parse().ok_or_else(|| bad("unspent row"))?);
            }
            Ok(rows)
        })
    }

    /// The script and value of a confirmed unspent output.
    pub(crate) fn funding(&self, outpoint: &OutPoint) -> Result<Option<Funding>, StoreError> {
        self.read(|rtxn, dbs| {
            Ok(dbs
                .funding
                .get(rtxn, &outpoint_key(outpoint))?
                .and_then(read_funding))
        })
    }

    /// Height and position in its block of a confirmed transaction.
    pub(crate) fn tx_position(&self, txid: &Hash256) -> Result<Option<(u32, u32)>, StoreError> {
        self.read(|rtxn, dbs| {
            Ok(dbs
                .txs
                .get(rtxn, txid.as_bytes())?
                .and_then(|v| Some((u32_be(v.get(..4)?)?, u32_be(v.get(4..8)?)?))))
        })
    }

    /// Bytes of the environment's file.
    pub(crate) fn disk_size(&self) -> u64 {
        self.env.real_disk_size().unwrap_or(0)
    }
}

fn bad(what: &str) -> StoreError {
    StoreError::Corrupt(format!("malformed {what}"))
}

fn read_tip(rtxn: &RoTxn<'_>, dbs: &Dbs) -> Result<Option<(Hash256, u32)>, heed::Error> {
    Ok(dbs.meta.get(rtxn, TIP)?.and_then(|v| {
        let hash = hash_of(v)?;
        let height = u32_be(v.get(32..36)?)?;
        Some((hash, height))
    }))
}

fn write_tip(
    wtxn: &mut RwTxn<'_>,
    dbs: &Dbs,
    tip: Option<(Hash256, u32)>,
) -> Result<(), heed::Error> {
    match tip {
        Some((hash, height)) => {
            let mut value = [0u8; 36];
            value[..32].copy_from_slice(hash.as_bytes());
            value[32..].copy_from_slice(&height.to_be_bytes());
            dbs.meta.put(wtxn, TIP, &value)
        }
        None => dbs.meta.delete(wtxn, TIP).map(|_| ()),
    }
}

fn connect_block(
    wtxn: &mut RwTxn<'_>,
    dbs: &Dbs,
    height: u32,
    block: &Block,
    touched: &mut Touched,
) -> Result<(), StoreError> {
    let tip = read_tip(wtxn, dbs)?;
    let expected = match tip {
        Some((hash, h)) => (h.checked_add(1), Some(hash)),
        None => (Some(0), None),
    };
    if expected.0 != Some(height) || expected.1.is_some_and(|h| h != block.header.prev_block) {
        return Err(StoreError::Corrupt(format!(
            "block at height {height} does not extend the indexed tip {tip:?}"
        )));
    }
    let hash = block.hash();
    // The undo record: the block's hash, then every output its inputs spent.
    let mut undo = Vec::with_capacity(32 + 80 * block.txs.len());
    undo.extend_from_slice(hash.as_bytes());
    for (pos, tx) in block.txs.iter().enumerate() {
        let pos = pos as u32;
        let txid = tx.txid();
        let mut scripts: Vec<ScriptHash> = Vec::new();
        if !tx.is_coinbase() {
            for input in &tx.inputs {
                let key = outpoint_key(&input.prevout);
                let Some(funding) = dbs.funding.get(wtxn, &key)?.and_then(read_funding) else {
                    continue;
                };
                dbs.funding.delete(wtxn, &key)?;
                dbs.unspent.delete(
                    wtxn,
                    &unspent_key(&funding.script, funding.height, &input.prevout),
                )?;
                undo.extend_from_slice(&key);
                undo.extend_from_slice(&funding_value(&funding));
                scripts.push(funding.script);
            }
        }
        for (vout, output) in tx.outputs.iter().enumerate() {
            // Provably unspendable: never a coin, never asked for.
            if is_op_return(&output.script_pubkey) {
                continue;
            }
            let outpoint = OutPoint {
                txid,
                vout: vout as u32,
            };
            let funding = Funding {
                script: script_hash(&output.script_pubkey),
                value: output.value,
                height,
            };
            dbs.funding
                .put(wtxn, &outpoint_key(&outpoint), &funding_value(&funding))?;
            dbs.unspent.put(
                wtxn,
                &unspent_key(&funding.script, height, &outpoint),
                &funding.value.to_le_bytes(),
            )?;
            scripts.push(funding.script);
        }
        scripts.sort_unstable();
        scripts.dedup();
        for script in scripts {
            dbs.history
                .put(wtxn, &history_key(&script, height, pos), txid.as_bytes())?;
            touched.insert(script);
        }
        let mut position = [0u8; 8];
        position[..4].copy_from_slice(&height.to_be_bytes());
        position[4..].copy_from_slice(&pos.to_be_bytes());
        dbs.txs.put(wtxn, txid.as_bytes(), &position)?;
    }
    dbs.undo.put(wtxn, &height.to_be_bytes(), &undo)?;
    write_tip(wtxn, dbs, Some((hash, height)))?;
    Ok(())
}

fn disconnect_block(
    wtxn: &mut RwTxn<'_>,
    dbs: &Dbs,
    height: u32,
    block: &Block,
) -> Result<Touched, StoreError> {
    let hash = block.hash();
    match read_tip(wtxn, dbs)? {
        Some((tip, h)) if tip == hash && h == height => {}
        other => {
            return Err(StoreError::Corrupt(format!(
                "disconnecting {hash} at {height}, but the indexed tip is {other:?}"
            )))
        }
    }
    let undo = dbs
        .undo
        .get(wtxn, &height.to_be_bytes())?
        .ok_or_else(|| bad("undo record (missing)"))?
        .to_vec();
    if undo.len() < 32 || !(undo.len() - 32).is_multiple_of(80) || undo[..32] != hash.0 {
        return Err(bad("undo record"));
    }
    let mut touched = Touched::new();
    // The spent coins come back first: an output created and spent inside this block is
    // then removed again with the block's own outputs below.
    for record in undo[32..].chunks_exact(80) {
        let key: [u8; 36] = record[..36].try_into().map_err(|_| bad("undo record"))?;
        let funding = read_funding(&record[36..]).ok_or_else(|| bad("undo record"))?;
        let outpoint = OutPoint {
            txid: hash_of(&key).ok_or_else(|| bad("undo record"))?,
            vout: u32_be(&key[32..]).ok_or_else(|| bad("undo record"))?,
        };
        dbs.funding.put(wtxn, &key, &funding_value(&funding))?;
        dbs.unspent.put(
            wtxn,
            &unspent_key(&funding.script, funding.height, &outpoint),
            &funding.value.to_le_bytes(),
        )?;
        touched.insert(funding.script);
    }
    for tx in &block.txs {
        let txid = tx.txid();
        for (vout, output) in tx.outputs.iter().enumerate() {
            if is_op_return(&output.script_pubkey) {
                continue;
            }
            let outpoint = OutPoint {
                txid,
                vout: vout as u32,
            };
            let script = script_hash(&output.script_pubkey);
            dbs.funding.delete(wtxn, &outpoint_key(&outpoint))?;
            dbs.unspent
                .delete(wtxn, &unspent_key(&script, height, &outpoint))?;
            touched.insert(script);
        }
        dbs.txs.delete(wtxn, txid.as_bytes())?;
    }
    for script in &touched {
        let mut prefix = [0u8; 36];
        prefix[..32].copy_from_slice(script);
        prefix[32..].copy_from_slice(&height.to_be_bytes());
        let keys: Vec<Vec<u8>> = dbs
            .history
            .prefix_iter(wtxn, &prefix)?
            .map(|item| item.map(|(key, _)| key.to_vec()))
            .collect::<Result<_, _>>()?;
        for key in keys {
            dbs.history.delete(wtxn, &key)?;
        }
    }
    dbs.undo.delete(wtxn, &height.to_be_bytes())?;
    let parent = height.checked_sub(1).map(|h| (block.header.prev_block, h));
    write_tip(wtxn, dbs, parent)?;
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::chain::{BlockHeader, Transaction, TxIn, TxOut};

    fn script(n: u8) -> Vec<u8> {
        node_api::chain::script::p2pkh_script(&[n; 20])
    }

    fn coinbase(height: u32, to: u8) -> Transaction {
        Transaction::coinbase(height.to_le_bytes().to_vec(), script(to), 50)
    }

    fn spend(prev: &Transaction, vout: u32, to: u8, value: u64) -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: prev.txid(),
                    vout,
                },
                script_sig: vec![1],
                sequence: u32::MAX,
            }],
            outputs: vec![TxOut {
                value,
                script_pubkey: script(to),
            }],
            lock_time: 0,
        }
    }

    fn block(prev: Hash256, txs: Vec<Transaction>) -> Block {
        Block {
            header: BlockHeader {
                version: 1,
                prev_block: prev,
                merkle_root: Hash256::default(),
                time: 0,
                bits: 0,
                nonce: 0,
            },
            txs,
        }
    }

    #[test]
    fn connect_and_disconnect_restore_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = script_hash(&script(1));
        let b = script_hash(&script(2));
        let cb0 = coinbase(0, 1);
        let b0 = block(Hash256::default(), vec![cb0.clone()]);
        store.connect(&[(0, &b0)]).unwrap();
        assert_eq!(store.unspent(&a, usize::MAX).unwrap().len(), 1);
        let pay = spend(&cb0, 0, 2, 40);
        // Created and spent in the same block: a chain of two.
        let pay_again = spend(&pay, 0, 1, 30);
        let b1 = block(
            b0.hash(),
            vec![coinbase(1, 2), pay.clone(), pay_again.clone()],
        );
        let before: Vec<_> = [a, b]
            .iter()
            .map(|s| {
                (
                    store.history(s, usize::MAX).unwrap(),
                    store.unspent(s, usize::MAX).unwrap(),
                )
            })
            .collect();
        let touched = store.connect(&[(1, &b1)]).unwrap();
        assert!(touched.contains(&a) && touched.contains(&b));
        assert_eq!(
            store.history(&a, usize::MAX).unwrap(),
            vec![(0, cb0.txid()), (1, pay.txid()), (1, pay_again.txid())]
        );
        assert_eq!(store.unspent(&a, usize::MAX).unwrap().len(), 1);
        assert_eq!(
            store.unspent(&b, usize::MAX).unwrap().len(),
            1,
            "the coinbase; pay was spent"
        );
        assert_eq!(store.tx_position(&pay_again.txid()).unwrap(), Some((1, 2)));
        // The bound on a history is checked without reading past it.
        assert_eq!(store.history(&a, 3).unwrap().len(), 3);
        assert!(matches!(
            store.history(&a, 2),
            Err(StoreError::TooLong { limit: 2 })
        ));
        assert_eq!(store.tip().unwrap(), Some((b1.hash(), 1)));
        // A block that does not extend the tip is refused, and nothing is written.
        assert!(store.connect(&[(1, &b1)]).is_err());
        store.disconnect(1, &b1).unwrap();
        let after: Vec<_> = [a, b]
            .iter()
            .map(|s| {
                (
                    store.history(s, usize::MAX).unwrap(),
                    store.unspent(s, usize::MAX).unwrap(),
                )
            })
            .collect();
        assert_eq!(before, after);
        assert_eq!(store.tx_position(&pay.txid()).unwrap(), None);
        assert_eq!(store.tip().unwrap(), Some((b0.hash(), 0)));
        assert!(store
            .funding(&OutPoint {
                txid: cb0.txid(),
                vout: 0
            })
            .unwrap()
            .is_some());
        // Reopening finds the same tip.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.tip().unwrap(), Some((b0.hash(), 0)));
    }
}
