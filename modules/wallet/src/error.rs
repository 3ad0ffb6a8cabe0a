//! Wallet errors. None of them carries key material.

use node_api::rpc::{codes, RpcError};
use node_api::MempoolError;

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The key file could not be read or written.
    #[error("wallet file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong (never the file's content).
        reason: String,
    },
    /// Not enough spendable coins.
    #[error(
        "Insufficient funds: {} available, {} needed (amount and fee, in coins)",
        node_api::chain::Coins(*available),
        node_api::chain::Coins(*needed)
    )]
    InsufficientFunds {
        /// Spendable satoshis.
        available: u64,
        /// Amount plus fee.
        needed: u64,
    },
    /// The address does not belong to this wallet.
    #[error("address {0} is not in this wallet")]
    NotMine(String),
    /// An amount of zero or below the dust threshold.
    #[error("Invalid amount: {0}")]
    InvalidAmount(String),
    /// The mempool refused the payment.
    #[error("payment refused: {0}")]
    Rejected(#[from] MempoolError),
    /// The chain could not be read.
    #[error("chain: {0}")]
    Chain(String),
    /// An encrypted wallet is locked: private keys are out of reach.
    #[error("Error: Please enter the wallet passphrase with walletpassphrase first.")]
    Locked,
    /// The passphrase does not open the wallet.
    #[error("Error: The wallet passphrase entered was incorrect.")]
    WrongPassphrase,
    /// A passphrase method (named) was called on a wallet that has no passphrase.
    #[error("Error: running with an unencrypted wallet, but {0} was called.")]
    NotEncrypted(&'static str),
    /// `encryptwallet` on an encrypted wallet.
    #[error("Error: running with an encrypted wallet, but encryptwallet was called.")]
    AlreadyEncrypted,
    /// The stored encryption settings are unusable (never the passphrase or a key).
    #[error("wallet encryption: {0}")]
    Encryption(String),
    /// Not a transaction of this wallet.
    #[error("Invalid or non-wallet transaction id")]
    UnknownTransaction,
    /// `abandontransaction` on a confirmed or pooled transaction.
    #[error("Transaction not eligible for abandonment")]
    NotAbandonable,
    /// A request Core refuses with -8 (`abandontransaction` on a pooled transaction).
    #[error("{0}")]
    InvalidParameter(String),
}

impl WalletError {
    /// The error a JSON-RPC client gets, with Bitcoin Core's codes.
    pub fn to_rpc(&self) -> RpcError {
        match self {
            WalletError::InsufficientFunds { .. } => {
                RpcError::new(codes::WALLET_INSUFFICIENT_FUNDS, self.to_string())
            }
            WalletError::NotMine(_) => RpcError::new(codes::WALLET_ERROR, self.to_string()),
            WalletError::InvalidAmount(_) => RpcError::new(codes::TYPE_ERROR, self.to_string()),
            WalletError::Rejected(e) => e.to_rpc(),
            WalletError::Locked => RpcError::new(codes::WALLET_UNLOCK_NEEDED, self.to_string()),
            WalletError::WrongPassphrase => {
                RpcError::new(codes::WALLET_PASSPHRASE_INCORRECT, self.to_string())
            }
            WalletError::NotEncrypted(_) | WalletError::AlreadyEncrypted => {
                RpcError::new(codes::WALLET_WRONG_ENC_STATE, self.to_string())
            }
            WalletError::UnknownTransaction | WalletError::NotAbandonable => {
                RpcError::new(codes::INVALID_ADDRESS_OR_KEY, self.to_string())
            }
            WalletError::InvalidParameter(_) => {
                RpcError::new(codes::INVALID_PARAMETER, self.to_string())
            }
            _ => RpcError::new(codes::WALLET_ERROR, self.to_string()),
        }
    }
}
