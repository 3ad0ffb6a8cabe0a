//! Why a transaction is not admitted, with Bitcoin Core's reject reasons.

use node_chain::validation::TxError;
use node_kernel::rpc::{codes, RpcError};

/// A refusal. `reason()` is what `sendrawtransaction` and logs show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// Already in the pool.
    #[error("txn-already-in-mempool")]
    AlreadyInMempool,
    /// Its outputs are already in the UTXO set: a block confirmed it.
    #[error("txn-already-known")]
    AlreadyKnown,
    /// A coinbase cannot be relayed.
    #[error("coinbase")]
    Coinbase,
    /// Breaks a consensus rule.
    #[error("{0}")]
    Invalid(TxError),
    /// Spends an output another entry already spends: first seen wins.
    #[error("txn-mempool-conflict")]
    Conflict,
    /// Some parent is unknown; kept as an orphan when it came from a peer.
    #[error("bad-txns-inputs-missingorspent")]
    MissingInputs,
    /// Pays less than the minimum relay fee.
    #[error("min relay fee not met, {fee} < {required}")]
    FeeTooLow {
        /// Fee paid, satoshis.
        fee: u64,
        /// Fee required, satoshis.
        required: u64,
    },
    /// Too many unconfirmed ancestors.
    #[error("too-long-mempool-chain, too many unconfirmed ancestors [limit: {limit}]")]
    TooLongChain {
        /// The configured limit.
        limit: usize,
    },
    /// The pool is full and this pays too little to displace anything.
    #[error("mempool full")]
    Full,
    /// Not standard under the policy.
    #[error("{0}")]
    NonStandard(String),
}

impl MempoolError {
    /// The error a JSON-RPC client gets, with Bitcoin Core's codes.
    pub fn to_rpc(&self) -> RpcError {
        let code = match self {
            MempoolError::AlreadyKnown => codes::VERIFY_ALREADY_IN_CHAIN,
            MempoolError::MissingInputs => codes::VERIFY_ERROR,
            _ => codes::VERIFY_REJECTED,
        };
        RpcError::new(code, self.to_string())
    }

    /// Whether the sender broke a consensus rule (policy refusals are not misbehaviour).
    pub fn is_misbehaviour(&self) -> bool {
        matches!(self, MempoolError::Invalid(_) | MempoolError::Coinbase)
    }
}
