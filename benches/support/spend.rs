//! Signed payments for the chains benchmarks build with `node_chain_state::testing`.

use node_chain::Transaction;
use node_chain_state::testing::Wallet;
use rayon::prelude::*;

/// Spends every output of `prev` (all paying `from`) to `to` less `fee`, one single-input
/// transaction each; signed on every core, as a chain of thousands of spends would take
/// long to sign on one.
pub(crate) fn spend_each_output(
    prev: &Transaction,
    from: &Wallet,
    to: &Wallet,
    fee: u64,
) -> Vec<Transaction> {
    (0..prev.outputs.len())
        .into_par_iter()
        .map(|vout| from.pay(prev, vout as u32, to, prev.outputs[vout].value - fee, fee))
        .collect()
}
