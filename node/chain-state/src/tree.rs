//! The block tree in memory: every known header with its height, work and status, the
//! main chain by height, and the blocks that could become the tip. LMDB holds the same
//! index; this copy answers the hot questions (ancestors, locators, fork points) without
//! a transaction.

use std::collections::{HashMap, HashSet};

use primitive_types::U256;

use super::records::{BlockIndexEntry, FAILED};
use node_chain::hash::Hash256;

pub(crate) struct BlockTree {
    entries: HashMap<Hash256, BlockIndexEntry>,
    children: HashMap<Hash256, Vec<Hash256>>,
    /// Main chain hashes by height; the last is the tip.
    main: Vec<Hash256>,
    /// The most-work header known, whether or not its block is stored.
    best_header: Hash256,
    /// The best header's chain by height (genesis first), kept in step with
    /// `best_header`, so the download window is found without walking back from it.
    best_chain: Vec<Hash256>,
    /// Blocks with data, not failed, with more work than the tip when they were seen:
    /// where the tip may move next.
    pub(crate) candidates: HashSet<Hash256>,
}

impl BlockTree {
    pub(crate) fn new(genesis: Hash256, entry: BlockIndexEntry) -> Self {
        let mut tree = BlockTree {
            entries: HashMap::new(),
            children: HashMap::new(),
            main: vec![genesis],
            best_header: genesis,
            best_chain: vec![genesis],
            candidates: HashSet::new(),
        };
        tree.insert(genesis, entry);
        tree
    }

    pub(crate) fn insert(&mut self, hash: Hash256, entry: BlockIndexEntry) {
        let prev = entry.header.prev_block;
        let work = entry.chain_work;
        if self.entries.insert(hash, entry).is_none() && !prev.is_zero() {
            self.children.entry(prev).or_default().push(hash);
        }
        let best = &self.entries[&self.best_header];
        if work > best.chain_work && !self.entries[&hash].is_failed() {
            self.set_best(hash);
        }
    }

    /// Whether `hash` is `assume_valid` or one of its ancestors, with `assume_valid` on
    /// the best header chain (Bitcoin Core's condition for skipping scripts).
    pub(crate) fn is_assumed_valid(&self, hash: &Hash256, assume_valid: &Hash256) -> bool {
        let (Some(block), Some(anchor)) = (self.entries.get(hash), self.entries.get(assume_valid))
        else {
            return false;
        };
        let on_best = |h: &Hash256, height: u32| self.best_chain.get(height as usize) == Some(h);
        block.height <= anchor.height
            && on_best(assume_valid, anchor.height)
            && on_best(hash, block.height)
    }

    pub(crate) fn get(&self, hash: &Hash256) -> Option<&BlockIndexEntry> {
        self.entries.get(hash)
    }

    pub(crate) fn get_mut(&mut self, hash: &Hash256) -> Option<&mut BlockIndexEntry> {
        self.entries.get_mut(hash)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn tip(&self) -> Hash256 {
        *self
            .main
            .last()
            .expect("the main chain holds genesis at least")
    }

    pub(crate) fn tip_entry(&self) -> &BlockIndexEntry {
        &self.entries[&self.tip()]
    }

    pub(crate) fn height(&self) -> u32 {
        (self.main.len() - 1) as u32
    }

    pub(crate) fn main_hash(&self, height: u32) -> Option<Hash256> {
        self.main.get(height as usize).copied()
    }

    pub(crate) fn is_main(&self, hash: &Hash256) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|e| self.main_hash(e.height) == Some(*hash))
    }

    pub(crate) fn push_main(&mut self, hash: Hash256) {
        debug_assert_eq!(self.entries[&hash].header.prev_block, self.tip());
        self.main.push(hash);
    }

    pub(crate) fn pop_main(&mut self) -> Hash256 {
        assert!(self.main.len() > 1, "genesis is never disconnected");
        self.main.pop().expect("checked above")
    }

    pub(crate) fn best_header(&self) -> Hash256 {
        self.best_header
    }

    /// The ancestor of `hash` at `height`: a main-chain lookup when `hash` is on it,
    /// otherwise a walk back to the main chain first.
    pub(crate) fn ancestor(&self, hash: &Hash256, height: u32) -> Option<Hash256> {
        let mut current = *hash;
        loop {
            let entry = self.entries.get(&current)?;
            if entry.height < height {
                return None;
            }
            if entry.height == height {
                return Some(current);
            }
            if self.main_hash(entry.height) == Some(current) {
                return self.main_hash(height);
            }
            current = entry.header.prev_block;
        }
    }

    /// The last block that `hash`'s chain shares with the main chain.
    pub(crate) fn fork_point(&self, hash: &Hash256) -> Option<Hash256> {
        let mut current = *hash;
        loop {
            let entry = self.entries.get(&current)?;
            if self.main_hash(entry.height) == Some(current) {
                return Some(current);
            }
            current = entry.header.prev_block;
        }
    }

    /// Blocks from just after the fork point up to `hash`, oldest first.
    pub(crate) fn branch_from_main(&self, hash: &Hash256) -> Option<Vec<Hash256>> {
        let mut branch = Vec::new();
        let mut current = *hash;
        loop {
            let entry = self.entries.get(&current)?;
            if self.main_hash(entry.height) == Some(current) {
                branch.reverse();
                return Some(branch);
            }
            branch.push(current);
            current = entry.header.prev_block;
        }
    }

    /// Timestamps of up to 11 blocks ending at `hash`, for the median-time-past rule.
    pub(crate) fn median_time_past(&self, hash: &Hash256) -> u32 {
        let mut times = Vec::with_capacity(11);
        let mut current = Some(*hash);
        while let Some(h) = current {
            if times.len() == 11 {
                break;
            }
            match self.entries.get(&h) {
                Some(e) => {
                    times.push(e.header.time);
                    current = (!e.header.prev_block.is_zero()).then_some(e.header.prev_block);
                }
                None => break,
            }
        }
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }

    /// Marks `hash` and every descendant failed; returns them for persisting.
    pub(crate) fn mark_failed(&mut self, hash: Hash256) -> Vec<Hash256> {
        let mut marked = Vec::new();
        let mut stack = vec![hash];
        while let Some(h) = stack.pop() {
            if let Some(e) = self.entries.get_mut(&h) {
                e.status |= FAILED;
                marked.push(h);
                self.candidates.remove(&h);
            }
            if let Some(children) = self.children.get(&h) {
                stack.extend(children.iter().copied());
            }
        }
        if marked.contains(&self.best_header) {
            self.set_best(self.recompute_best_header());
        }
        marked
    }

    /// Clears the failed mark of `hash`, its descendants and its ancestors (Bitcoin Core's
    /// `ResetBlockFailureFlags`): what `reconsiderblock` undoes. A block that really breaks
    /// a rule is marked again when it fails to connect. Returns the blocks changed.
    pub(crate) fn clear_failed(&mut self, hash: Hash256) -> Vec<Hash256> {
        let mut related = self.descendants(&hash);
        related.push(hash);
        let mut current = self.entries.get(&hash).map(|e| e.header.prev_block);
        while let Some(h) = current.filter(|h| !h.is_zero()) {
            related.push(h);
            current = self.entries.get(&h).map(|e| e.header.prev_block);
        }
        let mut cleared = Vec::new();
        for h in related {
            if let Some(e) = self.entries.get_mut(&h) {
                if e.status & FAILED != 0 {
                    e.status &= !FAILED;
                    cleared.push(h);
                }
            }
        }
        self.set_best_header();
        cleared
    }

    /// Makes every stored, valid block with more work than the tip a candidate again:
    /// after the tip moved back (an invalidated block) or marks were cleared, branches
    /// dropped earlier as too light may be the best again.
    pub(crate) fn refill_candidates(&mut self) {
        let tip_work = self.tip_entry().chain_work;
        let found: Vec<Hash256> = self
            .entries
            .iter()
            .filter(|(_, e)| e.has_data() && !e.is_failed() && e.chain_work > tip_work)
            .map(|(h, _)| *h)
            .collect();
        self.candidates.extend(found);
    }

    fn recompute_best_header(&self) -> Hash256 {
        let mut best = self.tip();
        let mut best_work = U256::zero();
        for (hash, e) in &self.entries {
            if !e.is_failed() && e.chain_work > best_work {
                best = *hash;
                best_work = e.chain_work;
            }
        }
        best
    }

    /// The blocks whose parent is `hash`.
    pub(crate) fn children(&self, hash: &Hash256) -> &[Hash256] {
        self.children.get(hash).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Makes `hash` the best header and updates `best_chain` back to where the old chain
    /// and the new one meet: a cost in new headers, not in chain length.
    fn set_best(&mut self, hash: Hash256) {
        self.best_header = hash;
        let Some(height) = self.entries.get(&hash).map(|e| e.height as usize) else {
            return;
        };
        self.best_chain.truncate(height + 1);
        let mut fresh = Vec::new();
        let mut current = hash;
        loop {
            let entry = &self.entries[&current];
            let h = entry.height as usize;
            if self.best_chain.get(h) == Some(&current) {
                break;
            }
            fresh.push((h, current));
            if h == 0 {
                break;
            }
            current = entry.header.prev_block;
        }
        for (h, hash) in fresh.into_iter().rev() {
            if h < self.best_chain.len() {
                self.best_chain[h] = hash;
            } else {
                self.best_chain.push(hash);
            }
        }
    }

    /// Blocks descending from `hash` through blocks whose data is stored and valid: the
    /// ones that may become connectable once `hash` is.
    pub(crate) fn descendants_with_data(&self, hash: &Hash256) -> Vec<Hash256> {
        let mut found = Vec::new();
        let mut stack: Vec<Hash256> = self.children(hash).to_vec();
        while let Some(h) = stack.pop() {
            let usable = self
                .entries
                .get(&h)
                .is_some_and(|e| e.has_data() && !e.is_failed());
            if usable {
                stack.extend(self.children(&h).iter().copied());
                found.push(h);
            }
        }
        found
    }

    /// Every block descending from `hash`.
    pub(crate) fn descendants(&self, hash: &Hash256) -> Vec<Hash256> {
        let mut found = Vec::new();
        let mut stack: Vec<Hash256> = self.children.get(hash).cloned().unwrap_or_default();
        while let Some(h) = stack.pop() {
            if let Some(children) = self.children.get(&h) {
                stack.extend(children.iter().copied());
            }
            found.push(h);
        }
        found
    }

    /// Whether every block from the fork point up to `hash` has its data: only then can
    /// the tip move to it.
    pub(crate) fn connectable(&self, hash: &Hash256) -> bool {
        self.branch_from_main(hash).is_some_and(|branch| {
            branch
                .iter()
                .all(|h| self.entries[h].has_data() && !self.entries[h].is_failed())
        })
    }

    /// The candidate with the most work that can be connected, if it beats the tip.
    pub(crate) fn best_candidate(&self) -> Option<Hash256> {
        let tip_work = self.tip_entry().chain_work;
        self.candidates
            .iter()
            .filter(|h| self.entries[*h].chain_work > tip_work && self.connectable(h))
            .max_by_key(|h| (self.entries[*h].chain_work, std::cmp::Reverse(**h)))
            .copied()
    }

    /// Drops candidates that can no longer beat the tip.
    pub(crate) fn prune_candidates(&mut self) {
        let tip_work = self.tip_entry().chain_work;
        let entries = &self.entries;
        self.candidates
            .retain(|h| entries[h].chain_work > tip_work && !entries[h].is_failed());
    }

    /// Headers on the best-header chain above the tip whose data is missing, lowest
    /// first, at most `max`: what a headers-first download fetches next.
    pub(crate) fn missing_on_best_chain(&self, max: usize) -> Vec<Hash256> {
        // Where the best chain leaves the main chain: usually the tip itself.
        let mut fork = self.height().min(self.best_chain.len() as u32 - 1) as usize;
        while self.main.get(fork) != self.best_chain.get(fork) {
            fork -= 1;
        }
        self.best_chain[fork + 1..]
            .iter()
            .filter(|h| !self.entries[*h].has_data())
            .take(max)
            .copied()
            .collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Hash256, &BlockIndexEntry)> {
        self.entries.iter()
    }

    pub(crate) fn set_main(&mut self, main: Vec<Hash256>) {
        self.main = main;
    }

    pub(crate) fn set_best_header(&mut self) {
        self.set_best(self.recompute_best_header());
    }
}
