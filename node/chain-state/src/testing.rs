//! Builds valid regtest blocks and signed P2PKH payments, for tests of this crate and of
//! the modules (enabled by the `testing` feature; never in the node's own code paths).

use std::collections::{HashMap, VecDeque};

use crate::ChainState;
use node_chain::script::{bip34_height_prefix, p2pkh_script};
use node_chain::{
    check_proof_of_work, merkle_root, sign_p2pkh_input, Block, BlockHeader, Hash256, OutPoint,
    PrivateKey, Transaction, TxIn, TxOut,
};

/// Fee of each payment a [`SpendingChain`] makes, satoshis.
const SPEND_FEE: u64 = 1_000;

/// A key and its P2PKH script.
pub struct Wallet {
    key: PrivateKey,
}

impl Wallet {
    /// A wallet whose private key is the number `seed`.
    pub fn new(seed: u8) -> Wallet {
        let mut bytes = [0u8; 32];
        bytes[31] = seed;
        Wallet {
            key: PrivateKey::from_bytes(&bytes, true).unwrap(),
        }
    }

    /// The private key, to sign transactions built by hand.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The key's P2PKH hash.
    pub fn hash160(&self) -> [u8; 20] {
        self.key.public_key().hash160()
    }

    /// The key's P2PKH output script.
    pub fn script(&self) -> Vec<u8> {
        p2pkh_script(&self.hash160())
    }

    /// Spends output `vout` of `prev` (ours): `amount` to `to`, the rest minus `fee` back.
    pub fn pay(
        &self,
        prev: &Transaction,
        vout: u32,
        to: &Wallet,
        amount: u64,
        fee: u64,
    ) -> Transaction {
        let value = prev.outputs[vout as usize].value;
        let mut outputs = vec![TxOut {
            value: amount,
            script_pubkey: to.script(),
        }];
        if value > amount + fee {
            outputs.push(TxOut {
                value: value - amount - fee,
                script_pubkey: self.script(),
            });
        }
        let mut tx = Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: prev.txid(),
                    vout,
                },
                script_sig: Vec::new(),
                sequence: 0xffff_ffff,
            }],
            outputs,
            lock_time: 0,
        };
        self.resign(&mut tx, &prev.outputs[vout as usize].script_pubkey);
        tx
    }

    /// Signs input 0 again after the test changed the transaction.
    pub fn resign(&self, tx: &mut Transaction, prev_script: &[u8]) {
        tx.inputs[0].script_sig = sign_p2pkh_input(tx, 0, prev_script, &self.key).unwrap();
    }
}

/// Extends a chain of blocks from a starting tip, independent of what the state accepts.
#[derive(Clone)]
pub struct Builder {
    prev: Hash256,
    height: u32,
    time: u32,
    bits: u32,
    extra: Vec<u8>,
    /// Output values of every transaction in the blocks built so far, to compute fees.
    values: HashMap<OutPoint, u64>,
}

fn record_outputs(values: &mut HashMap<OutPoint, u64>, tx: &Transaction) {
    let txid = tx.txid();
    for (vout, out) in tx.outputs.iter().enumerate() {
        values.insert(
            OutPoint {
                txid,
                vout: vout as u32,
            },
            out.value,
        );
    }
}

impl Builder {
    /// A builder extending the state's current tip.
    pub fn new(state: &ChainState) -> Builder {
        let tip = state.tip();
        Builder {
            prev: tip.hash,
            height: tip.height,
            time: tip.header.time,
            bits: tip.header.bits,
            extra: Vec::new(),
            values: HashMap::new(),
        }
    }

    /// Makes this builder's blocks differ from another's on the same parent.
    pub fn set_extra(&mut self, extra: &[u8]) {
        self.extra = extra.to_vec();
    }

    fn coinbase(&self, height_push: &[u8], to: &Wallet, value: u64) -> Transaction {
        let mut script = height_push.to_vec();
        script.extend_from_slice(&[4, 1, 2, 3, 4]);
        script.extend_from_slice(&self.extra);
        Transaction::coinbase(script, to.script(), value)
    }

    fn assemble(
        &mut self,
        coinbase: Transaction,
        txs: Vec<Transaction>,
        time: u32,
        bits: u32,
    ) -> Block {
        let mut all = vec![coinbase];
        all.extend(txs);
        let txids: Vec<Hash256> = all.iter().map(|t| t.txid()).collect();
        let mut header = BlockHeader {
            version: 1,
            prev_block: self.prev,
            merkle_root: merkle_root(&txids).0,
            time,
            bits,
            nonce: 0,
        };
        let limit = crate::ChainSpec::by_name("regtest").unwrap().pow_limit();
        while check_proof_of_work(&header.hash(), header.bits, &limit).is_err() {
            header.nonce += 1;
        }
        for tx in &all {
            record_outputs(&mut self.values, tx);
        }
        self.prev = header.hash();
        self.height += 1;
        self.time = time;
        Block { header, txs: all }
    }

    /// The regtest subsidy of the next block.
    fn subsidy(&self) -> u64 {
        crate::ChainSpec::by_name("regtest")
            .expect("regtest exists")
            .subsidy(self.height + 1)
    }

    /// Fees of `txs` (inputs the builder has seen, in earlier blocks or earlier in `txs`).
    fn fees(&self, txs: &[Transaction]) -> u64 {
        let mut in_block = HashMap::new();
        let mut fees = 0;
        for tx in txs {
            let inputs: u64 = tx
                .inputs
                .iter()
                .map(|i| {
                    in_block
                        .get(&i.prevout)
                        .or_else(|| self.values.get(&i.prevout))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            fees += inputs.saturating_sub(tx.output_value().unwrap_or(0));
            record_outputs(&mut in_block, tx);
        }
        fees
    }

    /// Accepts into `state` a block paying `to`, then as many more as the chain's coinbase
    /// maturity asks, and returns the first: its coinbase is spendable in the next block.
    pub fn mature_coinbase(&mut self, state: &ChainState, to: &Wallet) -> Block {
        let first = self.next_block(to, vec![]);
        state.accept_block(&first).expect("a built block is valid");
        for _ in 0..state.spec().coinbase_maturity {
            state
                .accept_block(&self.next_block(to, vec![]))
                .expect("a built block is valid");
        }
        first
    }

    /// The next block, its coinbase paying the subsidy plus the fees of `txs`.
    pub fn next_block(&mut self, to: &Wallet, txs: Vec<Transaction>) -> Block {
        let value = self.subsidy() + self.fees(&txs);
        self.next_block_paying(to, txs, value)
    }

    /// The next block, its coinbase paying the subsidy plus the fees of `txs` to `to` in
    /// `outputs` equal outputs (the remainder in the first): many coins from one block.
    pub fn next_block_split(
        &mut self,
        to: &Wallet,
        outputs: usize,
        txs: Vec<Transaction>,
    ) -> Block {
        let value = self.subsidy() + self.fees(&txs);
        let mut coinbase = self.coinbase(&bip34_height_prefix(self.height + 1), to, 0);
        let count = outputs.max(1) as u64;
        coinbase.outputs = (0..count)
            .map(|i| TxOut {
                value: value / count + if i == 0 { value % count } else { 0 },
                script_pubkey: to.script(),
            })
            .collect();
        let (time, bits) = (self.time + 1, self.bits);
        self.assemble(coinbase, txs, time, bits)
    }

    /// The height of the last block built.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The next block, its coinbase paying `value`.
    pub fn next_block_paying(&mut self, to: &Wallet, txs: Vec<Transaction>, value: u64) -> Block {
        let coinbase = self.coinbase(&bip34_height_prefix(self.height + 1), to, value);
        let (time, bits) = (self.time + 1, self.bits);
        self.assemble(coinbase, txs, time, bits)
    }

    /// The next block, its coinbase paying `value` to any output script.
    pub fn next_block_paying_script(&mut self, script_pubkey: Vec<u8>, value: u64) -> Block {
        let mut coinbase = self.coinbase(
            &bip34_height_prefix(self.height + 1),
            &Wallet::new(1),
            value,
        );
        coinbase.outputs[0].script_pubkey = script_pubkey;
        let (time, bits) = (self.time + 1, self.bits);
        self.assemble(coinbase, vec![], time, bits)
    }

    /// The next block with a wrong BIP34 height.
    pub fn next_block_with_height_push(&mut self, to: &Wallet, height: u32) -> Block {
        let coinbase = self.coinbase(&bip34_height_prefix(height), to, self.subsidy());
        let (time, bits) = (self.time + 1, self.bits);
        self.assemble(coinbase, vec![], time, bits)
    }

    /// The next block with the given bits.
    pub fn next_block_with_bits(&mut self, to: &Wallet, bits: u32) -> Block {
        let coinbase = self.coinbase(&bip34_height_prefix(self.height + 1), to, self.subsidy());
        let time = self.time + 1;
        self.assemble(coinbase, vec![], time, bits)
    }

    /// The next block with the given time.
    pub fn next_block_with_time(&mut self, to: &Wallet, time: u32) -> Block {
        let coinbase = self.coinbase(&bip34_height_prefix(self.height + 1), to, self.subsidy());
        let bits = self.bits;
        self.assemble(coinbase, vec![], time, bits)
    }
}

/// A deterministic chain whose blocks spend earlier coins: every block pays its coinbase
/// to one wallet, and its transactions spend up to `spends` of that wallet's coins back to
/// itself (one input, one output, a fixed fee), so block bodies carry signatures while the
/// UTXO set stays small. Clone it to fork; [`SpendingChain::fork`] makes the copy's blocks
/// differ.
#[derive(Clone)]
pub struct SpendingChain {
    builder: Builder,
    seed: u8,
    /// Coinbases with the height that created them, oldest first.
    coinbases: VecDeque<(Transaction, u32)>,
    /// Payments, whose output is spendable in any later block.
    coins: VecDeque<Transaction>,
}

impl SpendingChain {
    /// A chain extending the state's tip, paying the wallet `Wallet::new(seed)`.
    pub fn new(state: &ChainState, seed: u8) -> SpendingChain {
        SpendingChain {
            builder: Builder::new(state),
            seed,
            coinbases: VecDeque::new(),
            coins: VecDeque::new(),
        }
    }

    /// A copy whose next blocks differ from this chain's (a side branch from here).
    pub fn fork(&self, extra: &[u8]) -> SpendingChain {
        let mut fork = self.clone();
        fork.builder.set_extra(extra);
        fork
    }

    /// The height of the last block built.
    pub fn height(&self) -> u32 {
        self.builder.height()
    }

    /// The next block, spending up to `spends` coins (payments first, then coinbases once
    /// mature).
    pub fn next_block(&mut self, spends: usize) -> Block {
        let wallet = Wallet::new(self.seed);
        let height = self.builder.height() + 1;
        let maturity = crate::ChainSpec::by_name("regtest")
            .expect("regtest exists")
            .coinbase_maturity;
        let mut txs = Vec::with_capacity(spends);
        while txs.len() < spends {
            let prev = if let Some(prev) = self.coins.pop_front() {
                prev
            } else if self
                .coinbases
                .front()
                .is_some_and(|(_, created)| height - created >= maturity)
            {
                self.coinbases.pop_front().expect("checked").0
            } else {
                break;
            };
            let value = prev.outputs[0].value;
            if value <= 2 * SPEND_FEE {
                continue;
            }
            txs.push(wallet.pay(&prev, 0, &wallet, value - SPEND_FEE, SPEND_FEE));
        }
        let block = self.builder.next_block(&wallet, txs);
        self.coins.extend(block.txs[1..].iter().cloned());
        self.coinbases.push_back((block.txs[0].clone(), height));
        block
    }
}
