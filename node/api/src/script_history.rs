//! A scripthash index as other modules see it: the confirmed transactions touching an
//! output script, in chain order, and the block height of a confirmed transaction. The
//! electrum plugin keeps one on disk and provides it; the explorer reads address
//! history from it when it runs.

use node_chain::Hash256;
use node_kernel::BoxError;

/// One confirmed transaction touching a script: the height of its block and its id.
pub type HistoryRow = (u32, Hash256);

/// The confirmed history of output scripts. Reads are one LMDB read transaction; the
/// index may trail the chain's tip while it catches up ([`ScriptHistory::indexed_tip`]).
pub trait ScriptHistory: Send + Sync {
    /// The last block indexed and its height; `None` before the first.
    fn indexed_tip(&self) -> Option<(Hash256, u32)>;
    /// Transactions paying `script_pubkey` or spending an output that paid it, in chain
    /// order (height, then position in the block).
    fn history(&self, script_pubkey: &[u8]) -> Result<Vec<HistoryRow>, BoxError>;
    /// The height of the main-chain block holding `txid`, when indexed.
    fn tx_height(&self, txid: &Hash256) -> Result<Option<u32>, BoxError>;
}
