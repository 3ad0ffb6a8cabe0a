//! The mempool as other modules see it: submitting, looking up and selecting
//! transactions, what the pool announces, and the relay policy contract.

use std::sync::Arc;

use node_chain::validation::TxError;
use node_chain::{Hash256, OutPoint, Transaction, TxOut};
use node_kernel::rpc::{codes, RpcError};
use node_kernel::Behaviour;

/// The behaviour mempool policies register under (`[mempool] policy`).
pub const POLICY: Behaviour<Box<dyn MempoolPolicy>> = Behaviour::new("mempool policy");

/// A relay policy: what is relayed beyond what consensus allows.
pub trait MempoolPolicy: Send + Sync {
    /// Rules on the transaction's shape (size, scripts, outputs).
    fn check_standard(&self, tx: &Transaction) -> Result<(), MempoolError>;
    /// The least fee a transaction of `size` bytes must pay, given the pool's minimum
    /// relay fee rate (satoshis per 1000 bytes).
    fn min_fee(&self, size: usize, min_relay_fee_per_kb: u64) -> u64;
    /// The least fee a transaction of `size` bytes must pay while the pool's rolling
    /// minimum fee rate is `pool_min_fee_per_kb` (above zero only after the pool
    /// trimmed to its byte limit, then decaying; Core's `GetMinFee`). Refusals answer
    /// "mempool min fee not met". By default the rate applied to the size, as Core.
    fn mempool_min_fee(&self, size: usize, pool_min_fee_per_kb: u64) -> u64 {
        (size as u64)
            .saturating_mul(pool_min_fee_per_kb)
            .div_ceil(1000)
    }
    /// The least fee rate this policy asks (satoshis per 1000 bytes) given the pool's
    /// minimum relay fee rate: a rate that meets [`MempoolPolicy::min_fee`] at every
    /// size. `getmempoolinfo` reports it as `minrelaytxfee` and wallets pay at least it,
    /// so a wallet's payments enter its own pool. By default the pool's rate, as
    /// [`MempoolPolicy::min_fee`]'s default asks.
    fn min_fee_rate_per_kb(&self, min_relay_fee_per_kb: u64) -> u64 {
        min_relay_fee_per_kb
    }
    /// The same for the pool's rolling minimum ([`MempoolPolicy::mempool_min_fee`]):
    /// with the relay rate above, `getmempoolinfo.mempoolminfee`.
    fn mempool_min_fee_rate_per_kb(&self, pool_min_fee_per_kb: u64) -> u64 {
        pool_min_fee_per_kb
    }
}

/// The mempool service.
pub trait MempoolService: Send + Sync {
    /// Admits a transaction from a local client (RPC, wallet): a missing parent is an
    /// error, not an orphan.
    fn accept(&self, tx: Transaction) -> Result<Accepted, MempoolError>;
    /// Admits a transaction from a peer: one with unknown parents waits as an orphan.
    fn accept_from_peer(&self, tx: Transaction) -> Result<Accepted, MempoolError>;
    /// Whether `txid` is pooled.
    fn contains(&self, txid: &Hash256) -> bool;
    /// A pooled transaction.
    fn get(&self, txid: &Hash256) -> Option<Arc<Transaction>>;
    /// Every pooled txid, in admission order.
    fn txids(&self) -> Vec<Hash256>;
    /// Pooled transactions admitted after admission number `after`, in admission order,
    /// at most `max`. Numbers only grow (the first admission is 1), so a reader keeping
    /// the last number it read sees every admission still pooled exactly once, whatever
    /// the event bus dropped: the cursor the relay's announcements read. One ordered-map
    /// range read under the pool's lock.
    fn admitted_since(&self, after: u64, max: usize) -> Vec<Admitted>;
    /// The admission number of the last admission (0 before any): where a reader that
    /// starts from now begins.
    fn last_admitted(&self) -> u64;
    /// One entry's figures.
    fn entry(&self, txid: &Hash256) -> Option<EntryInfo>;
    /// Every entry's figures, in admission order.
    fn entries(&self) -> Vec<EntryInfo>;
    /// Figures for `getmempoolinfo`.
    fn info(&self) -> MempoolInfo;
    /// The best transactions for a block of at most `max_bytes` of transactions and
    /// `max_txs` of them, each after its unconfirmed parents.
    fn select(&self, max_bytes: usize, max_txs: usize) -> Vec<SelectedTx>;
    /// Whether an entry spends `outpoint`.
    fn is_spent(&self, outpoint: &OutPoint) -> bool;
    /// Unspent outputs of pooled transactions paying `script_pubkey`: unconfirmed coins
    /// a wallet may spend again.
    fn unspent_outputs_to(&self, script_pubkey: &[u8]) -> Vec<(OutPoint, TxOut)>;
}

/// What the bus carries about the pool: relay announces accepted transactions.
#[derive(Debug, Clone)]
pub enum MempoolEvent {
    /// A transaction entered the pool.
    Accepted {
        /// Its id.
        txid: Hash256,
        /// The transaction.
        tx: Arc<Transaction>,
        /// Its fee, satoshis.
        fee: u64,
    },
    /// A transaction left the pool without being confirmed.
    Removed {
        /// Its id.
        txid: Hash256,
        /// Why: `conflict`, `expiry`, `sizelimit`, `reorg`.
        reason: &'static str,
    },
}

/// A pooled transaction with its admission number ([`MempoolService::admitted_since`]).
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Its admission number.
    pub sequence: u64,
    /// Its id.
    pub txid: Hash256,
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its fee, satoshis.
    pub fee: u64,
}

/// A transaction was admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its id.
    pub txid: Hash256,
    /// Its fee, satoshis.
    pub fee: u64,
}

/// A transaction chosen for a block, with its fee.
#[derive(Debug, Clone)]
pub struct SelectedTx {
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its fee, satoshis.
    pub fee: u64,
}

/// Figures for `getmempoolinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolInfo {
    /// Entries.
    pub size: usize,
    /// Their serialized bytes.
    pub bytes: usize,
    /// The configured limit in bytes.
    pub max_bytes: usize,
    /// Orphans waiting for parents.
    pub orphans: usize,
    /// Minimum relay fee, satoshis per 1000 bytes.
    pub min_relay_fee_per_kb: u64,
    /// The least fee rate a transaction needs to enter now, satoshis per 1000 bytes: the
    /// pool's rolling minimum (raised when it trims, decaying after) or the minimum
    /// relay fee, whichever is higher (`getmempoolinfo.mempoolminfee`). Wallets pay at
    /// least this.
    pub min_fee_per_kb: u64,
}

/// What `getmempoolentry` and `getrawmempool true` show of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The transaction id.
    pub txid: Hash256,
    /// Serialized size in bytes.
    pub size: usize,
    /// Fee in satoshis.
    pub fee: u64,
    /// Unix seconds at admission.
    pub time: u64,
    /// Chain height at admission.
    pub height: u32,
    /// In-pool ancestors, itself included.
    pub ancestor_count: usize,
    /// Their bytes.
    pub ancestor_size: usize,
    /// Their fees.
    pub ancestor_fees: u64,
    /// In-pool descendants, itself included.
    pub descendant_count: usize,
    /// Their bytes.
    pub descendant_size: usize,
    /// Their fees.
    pub descendant_fees: u64,
    /// In-pool parents.
    pub depends: Vec<Hash256>,
    /// In-pool children.
    pub spent_by: Vec<Hash256>,
}

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
    /// Pays less than the pool's rolling minimum fee, raised when it last trimmed.
    #[error("mempool min fee not met, {fee} < {required}")]
    MinFeeNotMet {
        /// Fee paid, satoshis.
        fee: u64,
        /// Fee required, satoshis.
        required: u64,
    },
    /// Pays less than the minimum relay fee.
    #[error("min relay fee not met, {} < {} coins", node_chain::Coins(*fee), node_chain::Coins(*required))]
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
