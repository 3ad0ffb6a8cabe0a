//! The lab's own coins: one key of its own, paid by mined blocks and fanned out into
//! many independent outputs, so each transaction a step sends spends a confirmed coin and
//! any number of them can be in the mempools at once (no chain of unconfirmed spends).

use node_chain::script::p2pkh_script;
use node_chain::{serialize, sign_p2pkh_input, OutPoint, PrivateKey, Transaction, TxIn, TxOut};

/// Outputs of one fan-out transaction: 1,000 outputs are 34 kB, inside the standard
/// policy's 100 kB transaction limit.
pub(crate) const FAN_OUT: usize = 1_000;

/// Fee rate of every lab transaction, satoshis per byte: above any default minimum.
const FEE_PER_BYTE: u64 = 10;

/// The lab's key and its unspent coins.
pub(crate) struct Coins {
    key: PrivateKey,
    script: Vec<u8>,
    unspent: Vec<(OutPoint, u64)>,
}

impl Coins {
    /// A fresh key with no coins.
    pub(crate) fn new() -> Coins {
        let key = PrivateKey::generate();
        let script = p2pkh_script(&key.public_key().hash160());
        Coins {
            key,
            script,
            unspent: Vec::new(),
        }
    }

    /// The key's address on a chain with this address version.
    pub(crate) fn address(&self, version: u8) -> String {
        self.key.address(version).to_string()
    }

    /// Coins left.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.unspent.len()
    }

    /// Splits output `vout` of `prev` (ours) into [`FAN_OUT`] coins; they are ours once
    /// the returned transaction confirms.
    pub(crate) fn fan_out(&mut self, prev: &Transaction, vout: u32) -> anyhow::Result<Transaction> {
        let value = prev.outputs[vout as usize].value;
        let size_estimate = 10 + 148 + 34 * FAN_OUT as u64;
        let each = (value - size_estimate * FEE_PER_BYTE) / FAN_OUT as u64;
        let outputs = (0..FAN_OUT)
            .map(|_| TxOut {
                value: each,
                script_pubkey: self.script.clone(),
            })
            .collect();
        let tx = self.sign(
            OutPoint {
                txid: prev.txid(),
                vout,
            },
            outputs,
        )?;
        let txid = tx.txid();
        self.unspent
            .extend((0..FAN_OUT as u32).map(|vout| (OutPoint { txid, vout }, each)));
        Ok(tx)
    }

    /// A payment of one coin to ourselves in two outputs (about 226 bytes, like an
    /// ordinary payment with change), in hex for `sendrawtransaction`.
    pub(crate) fn payment(&mut self) -> anyhow::Result<(String, String)> {
        let (prevout, value) = self
            .unspent
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the lab ran out of coins"))?;
        let fee = 226 * FEE_PER_BYTE;
        let half = (value - fee) / 2;
        let outputs = vec![
            TxOut {
                value: half,
                script_pubkey: self.script.clone(),
            },
            TxOut {
                value: value - fee - half,
                script_pubkey: self.script.clone(),
            },
        ];
        let tx = self.sign(prevout, outputs)?;
        Ok((tx.txid().to_string(), hex::encode(serialize(&tx))))
    }

    fn sign(&self, prevout: OutPoint, outputs: Vec<TxOut>) -> anyhow::Result<Transaction> {
        let mut tx = Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout,
                script_sig: Vec::new(),
                sequence: 0xffff_ffff,
            }],
            outputs,
            lock_time: 0,
        };
        tx.inputs[0].script_sig = sign_p2pkh_input(&tx, 0, &self.script, &self.key)
            .map_err(|e| anyhow::anyhow!("cannot sign: {e}"))?;
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_chain::verify_p2pkh_input;

    #[test]
    fn payments_spend_fanned_out_coins_with_valid_signatures() {
        let mut coins = Coins::new();
        let funding = Transaction {
            version: 1,
            inputs: vec![],
            outputs: vec![TxOut {
                value: 50_0000_0000,
                script_pubkey: coins.script.clone(),
            }],
            lock_time: 0,
        };
        let fan = coins.fan_out(&funding, 0).unwrap();
        assert_eq!(fan.outputs.len(), FAN_OUT);
        assert!(serialize(&fan).len() < 100_000);
        assert_eq!(coins.len(), FAN_OUT);
        let (_, hex_tx) = coins.payment().unwrap();
        let bytes = hex::decode(hex_tx).unwrap();
        // An ordinary payment's size: 226 bytes with a 72-byte signature, a byte or two
        // less when the key's random signature has shorter DER integers.
        assert!((222..=226).contains(&bytes.len()), "{} bytes", bytes.len());
        let tx: Transaction = node_chain::deserialize(&bytes).unwrap();
        assert_eq!(tx.inputs[0].prevout.txid, fan.txid());
        verify_p2pkh_input(&tx, 0, &coins.script).unwrap();
        assert_eq!(coins.len(), FAN_OUT - 1);
    }
}
