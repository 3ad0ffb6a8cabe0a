//! The `wallet` service: addresses, coins, balances and payments.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use node_api::chain::{
    sign_p2pkh_input, Address, AddressError, Hash256, OutPoint, PrivateKey, Transaction, TxIn,
    TxOut,
};
use node_api::{ChainView, MempoolService, WalletService};

use crate::error::WalletError;
use crate::keystore::KeyStore;

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
    chain: Arc<dyn ChainView>,
    mempool: Arc<dyn MempoolService>,
    keys: Mutex<KeyStore>,
    fee_rate_per_kb: u64,
    /// Held while a payment is built and submitted, so two payments never pick one coin.
    paying: Mutex<()>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Wallet {
    /// Opens the key file at `path`.
    pub fn open(
        chain: Arc<dyn ChainView>,
        mempool: Arc<dyn MempoolService>,
        path: PathBuf,
        fee_rate_per_kb: u64,
    ) -> Result<Arc<Wallet>, WalletError> {
        let keys = KeyStore::open(path, chain.spec().wif_version)?;
        Ok(Arc::new(Wallet {
            chain,
            mempool,
            keys: Mutex::new(keys),
            fee_rate_per_kb,
            paying: Mutex::new(()),
        }))
    }

    fn keys(&self) -> MutexGuard<'_, KeyStore> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn version(&self) -> u8 {
        self.chain.spec().address_version
    }

    /// Parses an address of this wallet's chain (any address, not only ours).
    pub fn chain_spec_address(&self, text: &str) -> Result<Address, AddressError> {
        self.chain.spec().parse_address(text)
    }

    /// Creates a key and returns its address.
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
            .map(|k| (k.key.address(version), k.label.clone()))
            .collect()
    }

    /// Whether `address` is one of ours.
    pub fn is_mine(&self, address: &Address) -> bool {
        let version = self.version();
        self.keys()
            .keys
            .iter()
            .any(|k| k.key.address(version) == *address)
    }

    /// Coins paying `addresses`: confirmed ones from the address index that no pooled
    /// transaction spends, then unconfirmed ones from the mempool. Each outpoint is
    /// listed once.
    ///
    /// The mempool drops what a block confirms inside the step that connects it, but a
    /// block may connect between the two reads here, before that step reaches the pool:
    /// an output of a transaction seen confirmed is then not taken from the mempool too.
    /// The race can hide an output for one call; it never counts one twice.
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
    /// to it, as the tutorial's `send --from`), at the configured fee rate. The payment
    /// goes to the mempool, which announces it to the network at once.
    pub fn send(
        &self,
        to: &Address,
        amount: u64,
        from: Option<&Address>,
    ) -> Result<(Hash256, u64), WalletError> {
        if amount < DUST {
            return Err(WalletError::InvalidAmount(format!(
                "{amount} satoshis is below the dust threshold of {DUST}"
            )));
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
        coins.retain(|c| c.spendable);
        // Confirmed coins first, largest first: fewer inputs, smaller fees.
        coins.sort_by_key(|c| (c.confirmations == 0, std::cmp::Reverse(c.value)));
        let fee_for = |inputs: u64, outputs: u64| {
            ((TX_OVERHEAD + INPUT_SIZE * inputs + OUTPUT_SIZE * outputs) * self.fee_rate_per_kb)
                .div_ceil(1000)
        };
        let mut chosen = Vec::new();
        let mut total = 0u64;
        for coin in coins.iter() {
            if total >= amount + fee_for(chosen.len() as u64, 2) {
                break;
            }
            total += coin.value;
            chosen.push(coin.clone());
        }
        let needed = amount + fee_for(chosen.len() as u64, 2);
        if total < needed {
            let available: u64 = coins.iter().map(|c| c.value).sum();
            return Err(WalletError::InsufficientFunds {
                available,
                needed: amount + fee_for(coins.len().max(1) as u64, 2),
            });
        }
        let change_address = from.copied().unwrap_or(chosen[0].address);
        let mut outputs = vec![TxOut {
            value: amount,
            script_pubkey: to.script_pubkey(),
        }];
        let change = total - needed;
        if change >= DUST {
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
                let key = keys
                    .keys
                    .iter()
                    .find(|k| k.key.address(version) == coin.address)
                    .ok_or_else(|| WalletError::NotMine(coin.address.to_string()))?;
                tx.inputs[index].script_sig =
                    sign_p2pkh_input(&tx, index, &coin.address.script_pubkey(), &key.key)
                        .map_err(|e| WalletError::Chain(format!("signing failed: {e}")))?;
            }
        }
        let accepted = self.mempool.accept(tx)?;
        tracing::info!(txid = %accepted.txid, amount, fee = accepted.fee, "payment sent");
        Ok((accepted.txid, accepted.fee))
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
}
