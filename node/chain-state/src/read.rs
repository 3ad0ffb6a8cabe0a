//! Read-only queries: the tip, index entries, stored blocks and coins, locators and the
//! blocks still missing. None of them takes the writer lock.

use super::records::{decode, outpoint_from_key, outpoint_key, BlockUndo};
use super::tree::BlockTree;
use super::{BlockIndexEntry, ChainError, ChainState, NextBlock, Tip, LOCATOR_DENSE};
use node_chain::block::{Block, BlockHeader};
use node_chain::coin::Coin;
use node_chain::hash::Hash256;
use node_chain::transaction::OutPoint;

impl ChainState {
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
        self.store
            .read(|txn, dbs| Ok(dbs.blocks.get(txn, hash.as_bytes())?.map(<[u8]>::to_vec)))
    }

    /// The coins a block spent, in the order of its inputs (coinbase aside): what
    /// disconnecting it needs, kept while it is on the main chain and not pruned. `None`
    /// when it is not kept.
    pub fn spent_coins(&self, hash: &Hash256) -> Result<Option<Vec<Coin>>, ChainError> {
        let bytes = self
            .store
            .read(|txn, dbs| Ok(dbs.undo.get(txn, hash.as_bytes())?.map(<[u8]>::to_vec)))?;
        bytes
            .map(|b| {
                decode::<BlockUndo>(&b)
                    .map(|undo| undo.spent)
                    .map_err(|e| ChainError::Corrupt(format!("undo of {hash}: {e}")))
            })
            .transpose()
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

    /// Whether the last write of the chain state failed because the disk (or the user's
    /// quota) is full; cleared once a write succeeds again.
    pub fn disk_full(&self) -> bool {
        self.store.is_full()
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

    pub(super) fn next_bits(&self, tree: &BlockTree, prev: &Hash256) -> u32 {
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
}
