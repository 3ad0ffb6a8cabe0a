//! The pool across restarts, as Bitcoin Core's `mempool.dat`: written at shutdown (and by
//! `savemempool`), read back at start. Entries are written in admission order, so every
//! parent is read before its children; each is admitted again under today's rules, and
//! one a block confirmed meanwhile is simply refused.
//!
//! Layout: the magic `NODEMP01`, a u32 count, then per entry its `prioritisetransaction`
//! delta (i64) and the transaction in its wire encoding (u32 length first), all little
//! endian. The file is written to a temporary name and renamed, so a crash leaves the old
//! file or the new one.

use std::io::Write;
use std::path::Path;

use node_api::chain::{deserialize, serialize, Transaction};
use node_api::MempoolService;

use crate::mempool::Mempool;

/// The file's name inside the data directory.
pub(crate) const FILE: &str = "mempool.dat";
const MAGIC: &[u8; 8] = b"NODEMP01";

/// Writes every entry to `path`; returns how many.
pub(crate) fn save(mempool: &Mempool, path: &Path) -> std::io::Result<usize> {
    let entries = mempool.in_order();
    let mut bytes = Vec::with_capacity(16 + entries.iter().map(|t| t.size() + 12).sum::<usize>());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for tx in &entries {
        let raw = serialize(&**tx);
        bytes.extend_from_slice(&mempool.fee_delta(&tx.txid()).to_le_bytes());
        bytes.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&raw);
    }
    let tmp = path.with_extension("dat.new");
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(entries.len())
}

/// What loading found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// Admitted again.
    pub(crate) accepted: usize,
    /// Refused (confirmed meanwhile, conflicting, below today's policy).
    pub(crate) refused: usize,
}

/// Admits the entries saved in `path` (none when there is no file). A file larger than
/// `max_bytes` (the pool's own limit, with room for the framing) is not read: it cannot
/// be one this pool wrote.
pub(crate) fn load(mempool: &Mempool, path: &Path, max_bytes: usize) -> std::io::Result<Loaded> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    if size > (max_bytes as u64) * 2 + 1024 {
        return Err(invalid("larger than the pool could have written"));
    }
    let bytes = std::fs::read(path)?;
    let mut rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| invalid("not a mempool file"))?;
    let mut take = |n: usize| -> std::io::Result<&[u8]> {
        if rest.len() < n {
            return Err(invalid("truncated"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    let mut loaded = Loaded::default();
    for _ in 0..count {
        let delta = i64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let tx: Transaction = deserialize(take(len)?).map_err(|e| invalid(&e.to_string()))?;
        if delta != 0 {
            mempool.prioritise(tx.txid(), delta);
        }
        match mempool.accept(tx) {
            Ok(_) => loaded.accepted += 1,
            Err(_) => loaded.refused += 1,
        }
    }
    Ok(loaded)
}
