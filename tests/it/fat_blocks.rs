//! Blocks with bytes in them, built in the test without a wallet or transactions: each
//! coinbase carries an `OP_RETURN` output of the size wanted (consensus allows one in a
//! coinbase), and regtest's proof of work takes a few hashes a block. Submitted with
//! `submitblock` through `node rpc -stdin`, so a block may be larger than an argument.

use node_chain::script::{bip34_height_prefix, p2pkh_script};
use node_chain::{
    check_proof_of_work, merkle_root, Block, BlockHeader, Hash256, Transaction, TxOut,
};

use crate::common::{regtest, TestNode};

/// The next blocks of a chain that starts at regtest's genesis.
pub(crate) struct FatBlocks {
    prev: Hash256,
    height: u32,
    time: u32,
}

impl FatBlocks {
    pub(crate) fn on_genesis() -> FatBlocks {
        let genesis = regtest().genesis_block().header;
        FatBlocks {
            prev: genesis.hash(),
            height: 0,
            time: genesis.time,
        }
    }

    /// The next block, about `bytes` bytes long.
    pub(crate) fn next(&mut self, bytes: usize) -> Block {
        let height = self.height + 1;
        let mut script_sig = bip34_height_prefix(height);
        script_sig.extend_from_slice(b"fat");
        let mut coinbase = Transaction::coinbase(
            script_sig,
            p2pkh_script(&[7; 20]),
            regtest().subsidy(height),
        );
        coinbase.outputs.push(TxOut {
            value: 0,
            script_pubkey: [&[0x6a][..], &vec![height as u8; bytes]].concat(),
        });
        let mut header = BlockHeader {
            version: 1,
            prev_block: self.prev,
            merkle_root: merkle_root(&[coinbase.txid()]).0,
            time: self.time + 1,
            bits: regtest().pow_limit_bits,
            nonce: 0,
        };
        let limit = regtest().pow_limit();
        while check_proof_of_work(&header.hash(), header.bits, &limit).is_err() {
            header.nonce += 1;
        }
        (self.prev, self.height, self.time) = (header.hash(), height, header.time);
        Block {
            header,
            txs: vec![coinbase],
        }
    }
}

/// `submitblock`: `Ok` when the block became the tip (Core's null), else the error text.
pub(crate) fn submit(node: &TestNode, block: &Block) -> Result<(), String> {
    let hex = hex::encode(node_chain::serialize(block));
    let out = node.rpc_output(&["-stdin", "submitblock"], &[], &format!("{hex}\n"));
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && stdout.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Builds and submits `count` blocks of about `bytes` bytes on genesis; their hashes.
pub(crate) fn submit_chain(node: &TestNode, count: u32, bytes: usize) -> Vec<Hash256> {
    let mut blocks = FatBlocks::on_genesis();
    (1..=count)
        .map(|height| {
            let block = blocks.next(bytes);
            if let Err(e) = submit(node, &block) {
                panic!("submitblock at height {height}: {e}");
            }
            block.hash()
        })
        .collect()
}
