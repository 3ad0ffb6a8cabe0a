//! How the wallet's history (see [`crate::history`]) keeps up with the chain and the pool:
//!
//! - at start, from the block the history file agrees with: back to the main chain if
//!   that block left it (what it confirmed becomes unconfirmed), then forward over every
//!   main-chain block since; a wallet without a history file starts from the block two
//!   hours before its oldest key (Core's rescan window), or at the tip when it has no key;
//! - then through a [`ChainListener`], inside the step that connects or disconnects a
//!   block, as the mempool does: a connected block's transactions touching the wallet
//!   are recorded with their position, a disconnected block's become unconfirmed;
//! - payments from elsewhere waiting in the pool are recorded when a listing reads the
//!   history ([`sync_pool`]), which is when they matter;
//! - an imported key's confirmed coins are found through the address index
//!   ([`rescan_address`]): the transactions that made its unspent outputs. Outputs it
//!   spent before the import are not in the index and are not listed.
//!
//! Locking: the listener runs while the chain holds its writer lock; it takes the
//! history's lock, then the keys' lock, and only reads the chain (reads never take the
//! writer lock). Nothing takes them in the other order.

use std::path::Path;
use std::sync::{Arc, MutexGuard, Weak};

use node_api::chain::{Address, Block, ChainEvent, Hash256};
use node_api::{ChainListener, ChainView, MempoolService};

use crate::error::WalletError;
use crate::history::{now, positions, History};
use crate::keystore::KeyStore;
use crate::ledger::Owner;

/// What following needs of a wallet: its history, who owns what, and the chain and pool
/// it follows. The wallet implements it (`wallet.rs`), so this file does not depend on
/// the wallet's type, which calls it.
pub(crate) trait Followed: Send + Sync + 'static {
    /// The history, locked.
    fn history(&self) -> MutexGuard<'_, History>;
    /// Whose outputs and inputs are the wallet's.
    fn owner(&self) -> Owner;
    /// The chain followed.
    fn chain(&self) -> &dyn ChainView;
    /// The pool followed.
    fn mempool(&self) -> &dyn MempoolService;
    /// Registers `listener` with the chain.
    fn listen(&self, listener: Arc<dyn ChainListener>);
}

/// Core's TIMESTAMP_WINDOW: block times may run two hours behind a key's birth.
const KEY_TIME_WINDOW: u64 = 2 * 60 * 60;

fn chain_error(e: impl std::fmt::Display) -> WalletError {
    WalletError::Chain(e.to_string())
}

/// The history beside `key_file`, or a new one starting where a rescan must begin.
pub(crate) fn load_history(
    chain: &dyn ChainView,
    keys: &KeyStore,
    key_file: &Path,
) -> Result<History, WalletError> {
    let path = History::path_for(key_file);
    if let Some(history) = History::open(path.clone())? {
        return Ok(history);
    }
    let Some(oldest) = keys.keys.iter().map(|k| k.created).min() else {
        return Ok(History::new(path, chain.tip().hash));
    };
    // The last block before the window: the catch-up starts after it.
    let since = oldest.saturating_sub(KEY_TIME_WINDOW);
    let mut start = Hash256::ZERO;
    for height in 0..=chain.tip().height {
        let Some(hash) = chain.hash_at(height) else {
            break;
        };
        match chain.entry(&hash) {
            Some(e) if u64::from(e.header.time) < since => start = hash,
            _ => break,
        }
    }
    Ok(History::new(path, start))
}

/// Catches the history up with the chain, then follows it.
pub(crate) fn start<W: Followed>(wallet: &Arc<W>) -> Result<(), WalletError> {
    // Registered first: a block connected during the catch-up waits for the history's
    // lock and is then recorded again, to the same effect.
    wallet.listen(Arc::new(Follower(Arc::downgrade(wallet))));
    let mut history = wallet.history();
    let owner = wallet.owner();
    let chain = wallet.chain();
    // Back to the main chain.
    let mut fork = history.best;
    while fork != Hash256::ZERO && !chain.is_main(&fork) {
        history.disconnect(&fork);
        fork = chain
            .entry(&fork)
            .map(|e| e.header.prev_block)
            .unwrap_or(Hash256::ZERO);
    }
    let first = if fork == Hash256::ZERO {
        0
    } else {
        chain.entry(&fork).map(|e| e.height + 1).unwrap_or(0)
    };
    let tip = chain.tip();
    if first <= tip.height {
        tracing::info!(
            from = first,
            to = tip.height,
            "wallet catching up with the chain"
        );
    }
    for height in first..=tip.height {
        let Some(hash) = chain.hash_at(height) else {
            break;
        };
        let block = chain
            .block(&hash)
            .map_err(chain_error)?
            .ok_or_else(|| chain_error(format!("block {hash} is not stored (pruned?)")))?;
        connect(&mut history, &owner, &block, &block.txids(), hash, height);
    }
    // Written even if nothing changed: the next start begins from here.
    history.write()
}

/// Records what `block` (whose transaction ids are `txids`) confirms for the wallet.
fn connect(
    history: &mut History,
    owner: &Owner,
    block: &Block,
    txids: &[Hash256],
    hash: Hash256,
    height: u32,
) {
    for ((tx, position), txid) in positions(block, hash, height).zip(txids) {
        if history.txs.contains_key(txid) || owner.touches(tx, history) {
            history.record_followed(Arc::new(tx.clone()), position, now());
        }
    }
    history.set_best(hash);
}

struct Follower<W>(Weak<W>);

impl<W: Followed> ChainListener for Follower<W> {
    fn on_chain_event(&self, event: &ChainEvent) {
        let Some(wallet) = self.0.upgrade() else {
            return;
        };
        let mut history = wallet.history();
        match event {
            ChainEvent::BlockConnected {
                hash,
                height,
                block,
                txids,
            } => connect(&mut history, &wallet.owner(), block, txids, *hash, *height),
            ChainEvent::BlockDisconnected { hash, block, .. } => {
                history.disconnect(hash);
                history.set_best(block.header.prev_block);
            }
            ChainEvent::TipChanged { .. } => {
                // At most one write per step: a failure costs a rescan at the next start.
                if let Err(e) = history.save() {
                    tracing::warn!("wallet history not saved: {e}");
                }
            }
        }
    }
}

/// Records the pool's transactions that touch the wallet and that it has not seen (a
/// payment from elsewhere waiting for a block), so that listings show them.
pub(crate) fn sync_pool(wallet: &impl Followed) -> Result<(), WalletError> {
    let owner = wallet.owner();
    let mut history = wallet.history();
    for txid in wallet.mempool().txids() {
        if history.txs.contains_key(&txid) {
            continue;
        }
        if let Some(tx) = wallet.mempool().get(&txid) {
            if owner.touches(&tx, &history) {
                history.record(tx, None, now(), Vec::new());
            }
        }
    }
    history.save()
}

/// Records the transactions that made `address`'s unspent outputs, found through the
/// chain's address index (`importprivkey` with rescan).
pub(crate) fn rescan_address(wallet: &impl Followed, address: &Address) -> Result<(), WalletError> {
    let chain = wallet.chain();
    let coins = chain
        .address_coins(&address.hash)
        .map_err(chain_error)?
        .ok_or_else(|| chain_error("the address index is off"))?;
    let mut history = wallet.history();
    let mut found = 0;
    for (outpoint, coin) in coins {
        if history
            .txs
            .get(&outpoint.txid)
            .is_some_and(|w| w.block.is_some())
        {
            continue;
        }
        let Some(hash) = chain.hash_at(coin.height) else {
            continue;
        };
        let Some(block) = chain.block(&hash).map_err(chain_error)? else {
            continue;
        };
        let made = positions(&block, hash, coin.height)
            .find(|(tx, _)| tx.txid() == outpoint.txid)
            .map(|(tx, position)| (Arc::new(tx.clone()), position));
        if let Some((tx, position)) = made {
            history.record(tx, Some(position), now(), Vec::new());
            found += 1;
        }
    }
    tracing::info!(%address, transactions = found, "imported key rescanned through the address index");
    history.save()
}
