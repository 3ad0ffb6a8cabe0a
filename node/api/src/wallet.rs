//! The wallet as other modules see it.

use node_chain::{Address, Hash256};

/// The wallet service: addresses other modules may pay to, and what it knows of its own
/// transactions.
pub trait WalletService: Send + Sync {
    /// A new receiving address with `label`.
    fn new_address(&self, label: &str) -> Result<Address, String>;
    /// Every address of the wallet with its label.
    fn addresses(&self) -> Vec<(Address, String)>;
    /// Whether `address` belongs to the wallet.
    fn is_mine(&self, address: &Address) -> bool;
    /// The main-chain block holding the wallet transaction `txid`: what lets
    /// `getrawtransaction` find a confirmed wallet transaction without a transaction
    /// index or a block hash, as Core does. `None` when it is not a wallet transaction
    /// or not confirmed.
    fn transaction_block(&self, txid: &Hash256) -> Option<Hash256>;
}
