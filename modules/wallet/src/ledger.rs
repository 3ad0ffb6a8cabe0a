//! What a wallet transaction means to the wallet, by Bitcoin Core's rules
//! (`CachedTxGetAmounts`, `gettransaction`, `ListTransactions`):
//!
//! - credit: outputs paying the wallet; debit: the wallet's outputs its inputs spend;
//!   it is "from me" when the debit is not zero;
//! - the fee is known for a transaction from me: debit less the outputs;
//! - `amount` is credit less debit less fee taken back out, which is credit less the
//!   outputs for a transaction from me (what left the wallet, fee excluded), and the
//!   credit otherwise;
//! - details: for a transaction from me, one `send` per output that is not change (the
//!   outputs the wallet made as change, or paying an address labelled "change"), each
//!   with the fee; then one entry per output paying the wallet: `receive`, or for a
//!   coinbase `immature` until it matures, `generate` after, `orphan` when its block left
//!   the main chain.

use std::collections::HashMap;
use std::sync::Arc;

use node_api::chain::Address;

use crate::history::{History, WalletTx};

/// The label of the addresses the wallet gives for change.
pub(crate) const CHANGE_LABEL: &str = "change";

/// The wallet's addresses, by hash, with their labels.
pub(crate) struct Owner {
    pub(crate) version: u8,
    pub(crate) labels: Arc<HashMap<[u8; 20], String>>,
}

impl Owner {
    /// The wallet's address `script` pays, with its label.
    pub(crate) fn of(&self, script: &[u8]) -> Option<(Address, &str)> {
        let address = Address::from_script(self.version, script)?;
        let label = self.labels.get(&address.hash)?;
        Some((address, label))
    }

    /// Whether the transaction touches the wallet: pays it, or spends one of its outputs
    /// recorded in `history`.
    pub(crate) fn touches(&self, tx: &node_api::chain::Transaction, history: &History) -> bool {
        tx.outputs
            .iter()
            .any(|o| self.of(&o.script_pubkey).is_some())
            || tx.inputs.iter().any(|i| {
                history
                    .output(&i.prevout)
                    .is_some_and(|(_, script)| self.of(script).is_some())
            })
    }
}

/// Core's transaction categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Send,
    Receive,
    Generate,
    Immature,
    Orphan,
}

impl Category {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Category::Send => "send",
            Category::Receive => "receive",
            Category::Generate => "generate",
            Category::Immature => "immature",
            Category::Orphan => "orphan",
        }
    }
}

/// One line of `details` or `listtransactions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detail {
    pub(crate) address: Option<Address>,
    /// The address's label when it is the wallet's.
    pub(crate) label: Option<String>,
    pub(crate) category: Category,
    /// Satoshis, negative for a send.
    pub(crate) amount: i64,
    pub(crate) vout: u32,
    /// Satoshis, negative; on sends only.
    pub(crate) fee: Option<i64>,
}

/// A wallet transaction's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Satoshis, signed (see the module doc).
    pub(crate) amount: i64,
    /// The fee as Core shows it (negative), for a transaction from me.
    pub(crate) fee: Option<i64>,
    /// Blocks confirming it; 0 unconfirmed.
    pub(crate) confirmations: u32,
    pub(crate) details: Vec<Detail>,
}

/// The figures of `wtx` with the chain's tip at `tip_height`.
pub(crate) fn summarize(
    wtx: &WalletTx,
    history: &History,
    owner: &Owner,
    tip_height: u32,
    maturity: u32,
) -> Summary {
    let tx = &wtx.tx;
    let debit: u64 = tx
        .inputs
        .iter()
        .filter_map(|i| history.output(&i.prevout))
        .filter(|(_, script)| owner.of(script).is_some())
        .map(|(value, _)| value)
        .sum();
    let credit: u64 = tx
        .outputs
        .iter()
        .filter(|o| owner.of(&o.script_pubkey).is_some())
        .map(|o| o.value)
        .sum();
    let value_out: u64 = tx.outputs.iter().map(|o| o.value).sum();
    let from_me = debit > 0;
    let fee = from_me.then(|| debit.saturating_sub(value_out) as i64);
    let amount = if from_me {
        credit as i64 - value_out as i64
    } else {
        credit as i64
    };
    let confirmations = wtx
        .block
        .map(|b| (tip_height + 1).saturating_sub(b.height))
        .unwrap_or(0);
    let receive_category = if !tx.is_coinbase() {
        Category::Receive
    } else if wtx.block.is_none() {
        Category::Orphan
    } else if confirmations <= maturity {
        Category::Immature
    } else {
        Category::Generate
    };
    let mut details = Vec::new();
    if from_me {
        for (vout, out) in tx.outputs.iter().enumerate() {
            let mine = owner.of(&out.script_pubkey);
            let change = wtx.change.contains(&(vout as u32))
                || mine.is_some_and(|(_, label)| label == CHANGE_LABEL);
            if mine.is_some() && change {
                continue;
            }
            details.push(Detail {
                address: Address::from_script(owner.version, &out.script_pubkey),
                label: mine.map(|(_, l)| l.to_string()),
                category: Category::Send,
                amount: -(out.value as i64),
                vout: vout as u32,
                fee: fee.map(|f| -f),
            });
        }
    }
    for (vout, out) in tx.outputs.iter().enumerate() {
        let Some((address, label)) = owner.of(&out.script_pubkey) else {
            continue;
        };
        if from_me && (wtx.change.contains(&(vout as u32)) || label == CHANGE_LABEL) {
            continue;
        }
        details.push(Detail {
            address: Some(address),
            label: Some(label.to_string()),
            category: receive_category,
            amount: out.value as i64,
            vout: vout as u32,
            fee: None,
        });
    }
    Summary {
        amount,
        fee: fee.map(|f| -f),
        confirmations,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::BlockPosition;
    use node_api::chain::{Hash256, OutPoint, Transaction, TxIn, TxOut};

    fn address(n: u8) -> Address {
        Address {
            version: 0x6f,
            hash: [n; 20],
        }
    }

    fn pay(inputs: Vec<OutPoint>, outputs: Vec<(u8, u64)>) -> Arc<Transaction> {
        Arc::new(Transaction {
            version: 1,
            inputs: inputs
                .into_iter()
                .map(|prevout| TxIn {
                    prevout,
                    script_sig: vec![],
                    sequence: 0xffff_ffff,
                })
                .collect(),
            outputs: outputs
                .into_iter()
                .map(|(n, value)| TxOut {
                    value,
                    script_pubkey: address(n).script_pubkey(),
                })
                .collect(),
            lock_time: 0,
        })
    }

    #[test]
    fn a_payment_received_then_spent_with_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::new(dir.path().join("h"), Hash256::ZERO);
        let owner = Owner {
            version: 0x6f,
            labels: Arc::new([([1u8; 20], "mine".to_string())].into_iter().collect()),
        };
        let outside = OutPoint {
            txid: Hash256([7; 32]),
            vout: 0,
        };
        // 5 coins in from outside, to address 1.
        let incoming = pay(vec![outside], vec![(1, 500), (2, 100)]);
        let at = BlockPosition {
            hash: Hash256([3; 32]),
            height: 10,
            index: 1,
            time: 0,
        };
        history.record(incoming.clone(), Some(at), 0, vec![]);
        // 2 out to address 9, 2.9 change back to address 1, 0.1 fee.
        let spend = OutPoint {
            txid: incoming.txid(),
            vout: 0,
        };
        let outgoing = pay(vec![spend], vec![(9, 200), (1, 290)]);
        history.record(outgoing.clone(), None, 0, vec![1]);

        let got = summarize(&history.txs[&incoming.txid()], &history, &owner, 12, 100);
        assert_eq!((got.amount, got.fee, got.confirmations), (500, None, 3));
        assert_eq!(got.details.len(), 1);
        assert_eq!(got.details[0].category, Category::Receive);

        let sent = summarize(&history.txs[&outgoing.txid()], &history, &owner, 12, 100);
        assert_eq!(
            (sent.amount, sent.fee, sent.confirmations),
            (-200, Some(-10), 0)
        );
        assert_eq!(sent.details.len(), 1, "{:?}", sent.details);
        assert_eq!(sent.details[0].category, Category::Send);
        assert_eq!(sent.details[0].amount, -200);
        assert_eq!(sent.details[0].fee, Some(-10));
        assert_eq!(sent.details[0].address, Some(address(9)));
    }
}
