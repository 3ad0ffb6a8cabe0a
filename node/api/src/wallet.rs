//! The wallet as other modules see it.

use node_chain::Address;

/// The wallet service: addresses other modules may pay to.
pub trait WalletService: Send + Sync {
    /// A new receiving address with `label`.
    fn new_address(&self, label: &str) -> Result<Address, String>;
    /// Every address of the wallet with its label.
    fn addresses(&self) -> Vec<(Address, String)>;
    /// Whether `address` belongs to the wallet.
    fn is_mine(&self, address: &Address) -> bool;
}
