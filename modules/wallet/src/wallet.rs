//! The `wallet` service: addresses, coins, balances and payments.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use node_api::chain::{
    sign_p2pkh_input, Address, AddressError, Coins, Hash256, OutPoint, PrivateKey, Transaction,
    TxIn, TxOut,
};
use node_api::{ChainView, MempoolService, WalletService};

use crate::error::WalletError;
use crate::follow::Followed;
use crate::history::{now, History};
use crate::keystore::KeyStore;
use crate::ledger::Owner;

/// Bytes a signed P2PKH input adds (outpoint 36, script ~107, sequence 4, length 1).
const INPUT_SIZE: u64 = 148;
/// Bytes a P2PKH output adds.
const OUTPUT_SIZE: u64 = 34;
/// Version, counts and lock time.
const TX_OVERHEAD: u64 = 10;
/// Change below this is given to the fee rather than creating dust (Core's P2PKH dust).
const DUST: u64 = 546;

/// A coin the wallet can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletCoin {
    /// Where it is.
    pub outpoint: OutPoint,
    /// Satoshis.
    pub value: u64,
    /// The address it pays.
    pub address: Address,
    /// Blocks confirming it; 0 while it is in the mempool.
    pub confirmations: u32,
    /// Whether it may be spent now (confirmed coinbases must mature).
    pub spendable: bool,
}

/// A wallet's money, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    /// Confirmed and spendable.
    pub confirmed: u64,
    /// In the mempool (change and incoming payments), spendable too.
    pub unconfirmed: u64,
    /// Coinbase outputs that have not matured.
    pub immature: u64,
}

/// The wallet service.
pub struct Wallet {
    pub(crate) chain: Arc<dyn ChainView>,
    pub(crate) mempool: Arc<dyn MempoolService>,
    /// Shared with the relock timer of `walletpassphrase`.
    keys: Arc<Mutex<KeyStore>>,
    /// The wallet's transactions. Lock order: history before keys, never the reverse.
    pub(crate) history: Mutex<History>,
    /// Fee rate of payments, satoshis per 1000 bytes (`settxfee` changes it).
    fee_rate_per_kb: AtomicU64,
    /// The configured rate, which `settxfee 0` restores.
    default_fee_rate_per_kb: u64,
    /// Held while a payment is built and submitted, so two payments never pick one coin.
    paying: Mutex<()>,
}

/// One recipient of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// Where to.
    pub address: Address,
    /// Satoshis.
    pub amount: u64,
    /// Whether the fee is taken out of this amount (Core's subtractfeefrom).
    pub subtract_fee: bool,
}

impl Wallet {
    /// Opens the key file at `path` and its transaction history beside it, catches the
    /// history up with the chain and follows the chain from then on.
    pub fn open(
        chain: Arc<dyn ChainView>,
        mempool: Arc<dyn MempoolService>,
        path: PathBuf,
        fee_rate_per_kb: u64,
    ) -> Result<Arc<Wallet>, WalletError> {
        let keys = KeyStore::open(path.clone(), chain.spec().wif_version)?;
        let history = crate::follow::load_history(&*chain, &keys, &path)?;
        let wallet = Arc::new(Wallet {
            chain,
            mempool,
            keys: Arc::new(Mutex::new(keys)),
            history: Mutex::new(history),
            fee_rate_per_kb: AtomicU64::new(fee_rate_per_kb),
            default_fee_rate_per_kb: fee_rate_per_kb,
            paying: Mutex::new(()),
        });
        crate::follow::start(&wallet)?;
        Ok(wallet)
    }

    pub(crate) fn keys(&self) -> MutexGuard<'_, KeyStore> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn history(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wallet's addresses by hash, with labels: what decides what is ours.
    pub(crate) fn owner(&self) -> Owner {
        let version = self.version();
        Owner {
            version,
            labels: self.keys().labels(),
        }
    }

    /// Fee rate of payments, satoshis per 1000 bytes.
    pub fn fee_rate_per_kb(&self) -> u64 {
        self.fee_rate_per_kb.load(Ordering::Relaxed)
    }

    /// `settxfee`: the fee rate of later payments; 0 restores the configured rate. A rate
    /// below the pool's minimum relay fee would make payments the pool refuses.
    pub fn set_fee_rate(&self, per_kb: u64) -> Result<(), WalletError> {
        let min = self.mempool.info().min_relay_fee_per_kb;
        if per_kb != 0 && per_kb < min {
            return Err(WalletError::InvalidParameter(format!(
                "txfee cannot be less than min relay tx fee ({} BTC/kvB)",
                Coins(min)
            )));
        }
        let rate = if per_kb == 0 {
            self.default_fee_rate_per_kb
        } else {
            per_kb
        };
        self.fee_rate_per_kb.store(rate, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn version(&self) -> u8 {
        self.chain.spec().address_version
    }

    /// Parses an address of this wallet's chain (any address, not only ours).
    pub fn chain_spec_address(&self, text: &str) -> Result<Address, AddressError> {
        self.chain.spec().parse_address(text)
    }

    /// Creates a key and returns its address. An encrypted wallet must be unlocked: the
    /// new key is sealed before it is written.
    pub fn new_address(&self, label: &str) -> Result<Address, WalletError> {
        let key = PrivateKey::generate();
        let address = key.address(self.version());
        self.keys().add(key, label.to_string(), now())?;
        tracing::info!(%address, "new wallet address");
        Ok(address)
    }

    /// Every address, oldest first, with its label.
    pub fn addresses(&self) -> Vec<(Address, String)> {
        let version = self.version();
        self.keys()
            .keys
            .iter()
            .map(|k| {
                (
                    Address {
                        version,
                        hash: k.hash,
                    },
                    k.label.clone(),
                )
            })
            .collect()
    }

    /// Whether `address` is one of ours.
    pub fn is_mine(&self, address: &Address) -> bool {
        address.version == self.version() && self.keys().labels().contains_key(&address.hash)
    }

    /// `dumpprivkey`: the key of `address` (the caller shows it as WIF; never logged).
    pub fn private_key(&self, address: &Address) -> Result<PrivateKey, WalletError> {
        self.keys().secret(address, self.version())
    }

    /// `importprivkey`: adds `key` (if new) and, with `rescan`, finds its confirmed coins
    /// through the address index and records the transactions that made them. Returns
    /// its address.
    pub fn import_key(
        &self,
        key: PrivateKey,
        label: &str,
        rescan: bool,
    ) -> Result<Address, WalletError> {
        let address = key.address(self.version());
        if !self.is_mine(&address) {
            self.keys().add(key, label.to_string(), now())?;
            tracing::info!(%address, "key imported");
        }
        if rescan {
            crate::follow::rescan_address(self, &address)?;
        }
        Ok(address)
    }

    /// Whether the wallet is encrypted, and until when (unix seconds, 0 locked) it is
    /// unlocked.
    pub fn lock_state(&self) -> Option<u64> {
        let keys = self.keys();
        keys.is_encrypted().then_some(keys.unlocked_until)
    }

    /// `encryptwallet`: encrypts the keys under `passphrase`; the wallet is left locked.
    pub fn encrypt(&self, passphrase: &str) -> Result<(), WalletError> {
        self.keys().encrypt(passphrase)?;
        tracing::info!("wallet encrypted");
        Ok(())
    }

    /// `walletpassphrase`: unlocks for `seconds`, then a timer on `runtime` locks again
    /// (unless another unlock or a `walletlock` came first).
    pub fn unlock(
        &self,
        passphrase: &str,
        seconds: u64,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), WalletError> {
        let generation = {
            let mut keys = self.keys();
            keys.unlock(passphrase)?;
            keys.unlocked_until = now().saturating_add(seconds);
            keys.unlock_generation
        };
        let keys = self.keys.clone();
        runtime.spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
            if keys.unlock_generation == generation {
                keys.lock();
                tracing::info!("wallet locked again after its unlock time");
            }
        });
        Ok(())
    }

    /// `walletlock`.
    pub fn lock(&self) -> Result<(), WalletError> {
        let mut keys = self.keys();
        if !keys.is_encrypted() {
            return Err(WalletError::NotEncrypted("walletlock"));
        }
        keys.lock();
        Ok(())
    }

    /// `walletpassphrasechange`.
    pub fn change_passphrase(&self, old: &str, new: &str) -> Result<(), WalletError> {
        self.keys().change_passphrase(old, new)?;
        tracing::info!("wallet passphrase changed");
        Ok(())
    }

    /// `backupwallet`: the key file as stored (sealed if encrypted), 0600. The history
    /// is not copied: a wallet restored from the keys alone finds it again by rescanning.
    pub fn backup(&self, destination: &Path) -> Result<(), WalletError> {
        self.keys().backup(destination)
    }

    /// Coins paying `addresses`: confirmed ones from the address index that no pooled
    /// transaction spends, then unconfirmed ones from the mempool. Each outpoint is
    /// listed once.
    ///
    /// The mempool drops what a block confirms inside the step that connects it, but a
    /// block may connect between the reads here, and the reads are ordered for it:
    /// - a confirmed coin the pool does not spend is read again from the chain after the
    ///   pool was asked: a pooled spend that a block confirmed meanwhile left the pool only
    ///   after the block was written, so the second read sees the coin spent (without it,
    ///   a payment could pick a coin its previous payment had just spent in a block);
    /// - an output of a transaction seen confirmed is not taken from the mempool too.
    ///
    /// The race can hide an output for one call; it never counts one twice or lists a
    /// spent one.
    pub fn coins_of(&self, addresses: &[Address]) -> Result<Vec<WalletCoin>, WalletError> {
        let chain_error = |e: node_api::chain::ChainError| WalletError::Chain(e.to_string());
        let tip = self.chain.tip().height;
        let maturity = self.chain.spec().coinbase_maturity;
        let mut coins = Vec::new();
        let mut listed: HashSet<OutPoint> = HashSet::new();
        let mut confirmed_txids: HashSet<Hash256> = HashSet::new();
        for address in addresses {
            let confirmed = self
                .chain
                .address_coins(&address.hash)
                .map_err(chain_error)?
                .ok_or_else(|| WalletError::Chain("the address index is off".to_string()))?;
            for (outpoint, coin) in confirmed {
                confirmed_txids.insert(outpoint.txid);
                if !listed.insert(outpoint) || self.mempool.is_spent(&outpoint) {
                    continue;
                }
                if self.chain.coin(&outpoint).map_err(chain_error)?.is_none() {
                    continue;
                }
                // The index may be read after a block the tip read above did not see.
                let confirmations = (tip + 1).saturating_sub(coin.height).max(1);
                coins.push(WalletCoin {
                    outpoint,
                    value: coin.value,
                    address: *address,
                    confirmations,
                    spendable: !coin.coinbase || confirmations > maturity,
                });
            }
        }
        for address in addresses {
            for (outpoint, out) in self.mempool.unspent_outputs_to(&address.script_pubkey()) {
                if confirmed_txids.contains(&outpoint.txid) || !listed.insert(outpoint) {
                    continue;
                }
                // Confirmed after the index was read: the next call lists it as confirmed.
                if self.chain.coin(&outpoint).map_err(chain_error)?.is_some() {
                    continue;
                }
                coins.push(WalletCoin {
                    outpoint,
                    value: out.value,
                    address: *address,
                    confirmations: 0,
                    spendable: true,
                });
            }
        }
        Ok(coins)
    }

    /// Every coin of the wallet.
    pub fn coins(&self) -> Result<Vec<WalletCoin>, WalletError> {
        let addresses: Vec<Address> = self.addresses().into_iter().map(|(a, _)| a).collect();
        self.coins_of(&addresses)
    }

    /// The balance of `coins`.
    pub fn balance_of(coins: &[WalletCoin]) -> Balance {
        coins.iter().fold(Balance::default(), |mut b, c| {
            if !c.spendable {
                b.immature += c.value;
            } else if c.confirmations == 0 {
                b.unconfirmed += c.value;
            } else {
                b.confirmed += c.value;
            }
            b
        })
    }

    /// Pays `amount` to `to` from the wallet's coins (or only from `from`'s, change back
    /// to it, as the tutorial's `send --from`), at the fee rate. The payment goes to the
    /// mempool, which announces it to the network at once.
    pub fn send(
        &self,
        to: &Address,
        amount: u64,
        from: Option<&Address>,
    ) -> Result<(Hash256, u64), WalletError> {
        let recipient = Recipient {
            address: *to,
            amount,
            subtract_fee: false,
        };
        self.pay(&[recipient], from, 0)
    }

    /// Pays every recipient in one transaction (`sendmany`), from coins with at least
    /// `minconf` confirmations (0: unconfirmed change too), or only from `from`'s coins
    /// with change back to it. The fee is added on top, or split evenly among the
    /// recipients marked `subtract_fee` (the first of them pays the remainder), as Core.
    /// Returns the txid and the fee.
    pub fn pay(
        &self,
        recipients: &[Recipient],
        from: Option<&Address>,
        minconf: u32,
    ) -> Result<(Hash256, u64), WalletError> {
        for r in recipients {
            if r.amount < DUST {
                return Err(WalletError::InvalidAmount(format!(
                    "{} is below the dust threshold of {} coins",
                    Coins(r.amount),
                    Coins(DUST)
                )));
            }
        }
        if self.keys().is_locked() {
            return Err(WalletError::Locked);
        }
        let _paying = self.paying.lock().unwrap_or_else(|e| e.into_inner());
        let mut coins = match from {
            Some(address) => {
                if !self.is_mine(address) {
                    return Err(WalletError::NotMine(address.to_string()));
                }
                self.coins_of(std::slice::from_ref(address))?
            }
            None => self.coins()?,
        };
        coins.retain(|c| c.spendable && c.confirmations >= minconf);
        // Confirmed coins first, largest first: fewer inputs, smaller fees.
        coins.sort_by_key(|c| (c.confirmations == 0, std::cmp::Reverse(c.value)));
        // Never below what the pool takes now: after it trimmed, its minimum rises above
        // the configured rate, and a payment under it would be refused.
        let rate = self
            .fee_rate_per_kb()
            .max(self.mempool.info().min_fee_per_kb);
        let outputs_count = recipients.len() as u64 + 1;
        let fee_for = |inputs: u64| {
            ((TX_OVERHEAD + INPUT_SIZE * inputs + OUTPUT_SIZE * outputs_count) * rate)
                .div_ceil(1000)
        };
        let total_out: u64 = recipients.iter().map(|r| r.amount).sum();
        let subtracting = recipients.iter().filter(|r| r.subtract_fee).count() as u64;
        // What the inputs must cover with `n` of them.
        let needed = |n: u64| total_out + if subtracting > 0 { 0 } else { fee_for(n) };
        let mut chosen = Vec::new();
        let mut total = 0u64;
        for coin in coins.iter() {
            if total >= needed(chosen.len() as u64) {
                break;
            }
            total += coin.value;
            chosen.push(coin.clone());
        }
        if chosen.is_empty() || total < needed(chosen.len() as u64) {
            let available: u64 = coins.iter().map(|c| c.value).sum();
            return Err(WalletError::InsufficientFunds {
                available,
                needed: needed(coins.len().max(1) as u64),
            });
        }
        let fee = fee_for(chosen.len() as u64);
        let mut outputs = Vec::with_capacity(recipients.len() + 1);
        let mut first_subtracted = true;
        for r in recipients {
            let mut value = r.amount;
            if r.subtract_fee {
                let mut share = fee / subtracting;
                if first_subtracted {
                    share += fee % subtracting;
                    first_subtracted = false;
                }
                value = value.saturating_sub(share);
                if value < DUST {
                    return Err(WalletError::InvalidAmount(
                        "The transaction amount is too small to pay the fee".to_string(),
                    ));
                }
            }
            outputs.push(TxOut {
                value,
                script_pubkey: r.address.script_pubkey(),
            });
        }
        let paid: u64 = outputs.iter().map(|o| o.value).sum();
        // Change below dust goes to the fee rather than making an output nobody spends.
        let change = total - paid - fee;
        let change_address = from.copied().unwrap_or(chosen[0].address);
        let mut change_vouts = Vec::new();
        if change >= DUST {
            change_vouts.push(outputs.len() as u32);
            outputs.push(TxOut {
                value: change,
                script_pubkey: change_address.script_pubkey(),
            });
        }
        let mut tx = Transaction {
            version: 1,
            inputs: chosen
                .iter()
                .map(|c| TxIn {
                    prevout: c.outpoint,
                    script_sig: Vec::new(),
                    sequence: 0xffff_ffff,
                })
                .collect(),
            outputs,
            lock_time: 0,
        };
        {
            let keys = self.keys();
            let version = self.version();
            for (index, coin) in chosen.iter().enumerate() {
                let key = keys.secret(&coin.address, version)?;
                tx.inputs[index].script_sig =
                    sign_p2pkh_input(&tx, index, &coin.address.script_pubkey(), &key)
                        .map_err(|e| WalletError::Chain(format!("signing failed: {e}")))?;
            }
        }
        let tx = Arc::new(tx);
        let accepted = self.mempool.accept((*tx).clone())?;
        {
            let mut history = self.history();
            history.record(tx, None, now(), change_vouts);
            if let Err(e) = history.save() {
                // The payment is out; the history catches it up from the chain later.
                tracing::warn!("wallet history not saved: {e}");
            }
        }
        tracing::info!(
            txid = %accepted.txid,
            amount = %Coins(total_out),
            fee = %Coins(accepted.fee),
            "payment sent"
        );
        Ok((accepted.txid, accepted.fee))
    }

    /// `abandontransaction`: an unconfirmed wallet transaction that is not in the pool
    /// (and its wallet descendants) no longer counts as spending its inputs.
    pub fn abandon(&self, txid: &Hash256) -> Result<(), WalletError> {
        let mut history = self.history();
        let wtx = history
            .txs
            .get(txid)
            .ok_or(WalletError::UnknownTransaction)?;
        if wtx.block.is_some() || self.mempool.contains(txid) {
            return Err(WalletError::NotAbandonable);
        }
        let mut pending = vec![*txid];
        while let Some(next) = pending.pop() {
            history.abandon(&next);
            let children: Vec<Hash256> = history
                .txs
                .values()
                .filter(|w| {
                    w.block.is_none()
                        && !w.abandoned
                        && w.tx.inputs.iter().any(|i| i.prevout.txid == next)
                })
                .map(|w| w.tx.txid())
                .collect();
            pending.extend(children);
        }
        history.save()
    }
}

impl Followed for Wallet {
    fn history(&self) -> MutexGuard<'_, History> {
        Wallet::history(self)
    }
    fn owner(&self) -> Owner {
        Wallet::owner(self)
    }
    fn chain(&self) -> &dyn ChainView {
        &*self.chain
    }
    fn mempool(&self) -> &dyn MempoolService {
        &*self.mempool
    }
    fn listen(&self, listener: Arc<dyn node_api::ChainListener>) {
        self.chain.listen(listener);
    }
}

impl WalletService for Wallet {
    fn new_address(&self, label: &str) -> Result<Address, String> {
        Wallet::new_address(self, label).map_err(|e| e.to_string())
    }

    fn addresses(&self) -> Vec<(Address, String)> {
        Wallet::addresses(self)
    }

    fn is_mine(&self, address: &Address) -> bool {
        Wallet::is_mine(self, address)
    }

    fn transaction_block(&self, txid: &Hash256) -> Option<Hash256> {
        let block = self.history().txs.get(txid)?.block?;
        // The history follows the chain inside each step; checked anyway, since a
        // caller wants a block it can read the transaction from.
        self.chain.is_main(&block.hash).then_some(block.hash)
    }
}
