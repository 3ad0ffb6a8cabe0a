//! Consensus rules and their typed rejection reasons.
//!
//! Reasons use Bitcoin Core's strings where Core has one, so operators and tools read the
//! same words. Each error also says whether the sender misbehaved: a peer that relays a
//! block failing a rule everyone checks is punished; one that merely sends something we
//! cannot place yet (unknown parent) is not.

mod block;
mod sigcache;
mod tx;

pub use block::{check_block, check_coinbase_height};
pub use sigcache::{SigCache, SIG_CACHE_ENTRIES};
pub use tx::verify_block_input_scripts;
pub use tx::{check_transaction, check_tx_inputs, verify_input_scripts, CoinLookup, InputCheck};

use crate::hash::Hash256;

/// Why a transaction breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No inputs.
    #[error("bad-txns-vin-empty")]
    EmptyInputs,
    /// No outputs.
    #[error("bad-txns-vout-empty")]
    EmptyOutputs,
    /// Serialized larger than a block may be.
    #[error("bad-txns-oversize")]
    Oversize,
    /// An output above the money supply.
    #[error("bad-txns-vout-toolarge")]
    OutputTooLarge,
    /// Outputs summing above the money supply.
    #[error("bad-txns-txouttotal-toolarge")]
    OutputTotalTooLarge,
    /// The same outpoint spent twice within the transaction.
    #[error("bad-txns-inputs-duplicate")]
    DuplicateInputs,
    /// A non-coinbase input spending the null outpoint.
    #[error("bad-txns-prevout-null")]
    NullPrevout,
    /// A coinbase script outside 2..=100 bytes.
    #[error("bad-cb-length")]
    CoinbaseLength,
    /// An output that is not P2PKH: this chain has no other script.
    #[error("bad-txns-output-not-p2pkh (output {index})")]
    NonP2pkhOutput {
        /// The output's index.
        index: usize,
    },
    /// An input spends nothing the chain (or the block so far) has.
    #[error("bad-txns-inputs-missingorspent")]
    MissingInputs,
    /// An input spends a coinbase output younger than the maturity.
    #[error("bad-txns-premature-spend-of-coinbase (depth {depth} < {maturity})")]
    PrematureCoinbaseSpend {
        /// Blocks since the coinbase.
        depth: u32,
        /// Blocks required.
        maturity: u32,
    },
    /// Inputs worth less than outputs.
    #[error("bad-txns-in-belowout ({inputs} < {outputs})")]
    InputsBelowOutputs {
        /// Sum of inputs, satoshis.
        inputs: u64,
        /// Sum of outputs, satoshis.
        outputs: u64,
    },
    /// Input values summing above the money supply.
    #[error("bad-txns-inputvalues-outofrange")]
    InputValuesOutOfRange,
    /// A signature or script check failed.
    #[error("mandatory-script-verify-flag-failed (input {input}: {reason})")]
    Script {
        /// The input's index.
        input: usize,
        /// What failed.
        reason: String,
    },
}

/// Why a block or header is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The hash is above the target its bits claim.
    #[error("high-hash")]
    HighHash,
    /// The bits are not what the retarget rule gives.
    #[error("bad-diffbits")]
    BadDiffBits,
    /// Time not above the median of the previous 11 blocks.
    #[error("time-too-old")]
    TimeTooOld,
    /// Time more than two hours ahead of ours.
    #[error("time-too-new")]
    TimeTooNew,
    /// The parent is unknown: not the sender's fault, we may just be behind.
    #[error("prev-blk-not-found")]
    PrevNotFound,
    /// The parent (or an ancestor) is invalid.
    #[error("bad-prevblk")]
    PrevInvalid,
    /// This block was found invalid before.
    #[error("duplicate-invalid")]
    KnownInvalid,
    /// Serialized size above the chain's maximum.
    #[error("bad-blk-length")]
    BadLength,
    /// The header's merkle root does not match the transactions.
    #[error("bad-txnmrklroot")]
    BadMerkleRoot,
    /// The transaction list was mutated by duplicating the last pair (CVE-2012-2459).
    #[error("bad-txns-duplicate")]
    Mutated,
    /// The first transaction is not a coinbase.
    #[error("bad-cb-missing")]
    NoCoinbase,
    /// A coinbase after the first transaction.
    #[error("bad-cb-multiple")]
    MultipleCoinbase,
    /// The coinbase does not start with a push of the block height (BIP34).
    #[error("bad-cb-height")]
    BadCoinbaseHeight,
    /// The coinbase pays more than subsidy plus fees.
    #[error("bad-cb-amount ({} > {} coins)", crate::Coins(*paid), crate::Coins(*allowed))]
    BadCoinbaseAmount {
        /// Satoshis paid.
        paid: u64,
        /// Subsidy plus fees.
        allowed: u64,
    },
    /// Two transactions of the block spend one outpoint.
    #[error("bad-txns-inputs-missingorspent (double spend in block)")]
    DoubleSpendInBlock,
    /// A transaction breaks a rule.
    #[error("{error} (tx {txid})")]
    Tx {
        /// The transaction.
        txid: Hash256,
        /// The rule it breaks.
        error: TxError,
    },
}

impl BlockError {
    /// Bitcoin Core's reason string, without details.
    pub fn reason(&self) -> String {
        let text = self.to_string();
        text.split(' ').next().unwrap_or_default().to_string()
    }

    /// Whether the peer that sent this misbehaved. A mutated block or an unknown parent
    /// may come from an honest peer; everything else breaks a rule every node checks.
    pub fn is_misbehaviour(&self) -> bool {
        !matches!(self, BlockError::PrevNotFound)
    }

    /// Whether the block itself (its hash) is invalid forever. A bad merkle root or a
    /// mutated transaction list says nothing about the header's hash: the real block with
    /// that header may still be valid, so it must not be marked failed.
    pub fn marks_block_invalid(&self) -> bool {
        !matches!(
            self,
            BlockError::PrevNotFound
                | BlockError::BadMerkleRoot
                | BlockError::Mutated
                | BlockError::BadLength
                | BlockError::TimeTooNew
        )
    }
}
