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
    #[error("Insufficient funds: {available} available, {needed} needed")]
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
            _ => RpcError::new(codes::WALLET_ERROR, self.to_string()),
        }
    }
}
