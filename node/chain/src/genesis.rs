//! Genesis blocks, built by code from a few pinned values.

use crate::block::{Block, BlockHeader};
use crate::hash::Hash256;
use crate::script::{bip34_height_prefix, p2pkh_script, push_slice};
use crate::transaction::Transaction;

/// The key hash the genesis coinbase pays: hash160 of the public key in Bitcoin's own
/// genesis block, whose private key nobody is known to hold. Genesis outputs are never
/// spendable anyway.
const GENESIS_KEY_HASH: [u8; 20] = [
    0x62, 0xe9, 0x07, 0xb1, 0x5c, 0xbf, 0x27, 0xd5, 0x42, 0x53, 0x99, 0xeb, 0xf6, 0xf0, 0xfb, 0x50,
    0xeb, 0xb8, 0x8f, 0x18,
];

/// What makes one chain's genesis block its own (a chain spec file's `[genesis]` table).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisParams {
    /// The text pushed in the coinbase script after the height.
    pub message: String,
    /// The header time.
    pub time: u32,
    /// A nonce found once, offline, so that the header meets its own bits.
    pub nonce: u32,
}

impl GenesisParams {
    /// The genesis block of a chain with these params, `bits` and `subsidy`.
    pub fn block(&self, bits: u32, subsidy: u64) -> Block {
        genesis_block(&self.message, self.time, self.nonce, bits, subsidy)
    }
}

/// The genesis block: one coinbase (height 0 then `message` in its script, `subsidy` paid
/// P2PKH to [`GENESIS_KEY_HASH`]) under a header with `time`, `bits` and `nonce`.
pub(crate) fn genesis_block(
    message: &str,
    time: u32,
    nonce: u32,
    bits: u32,
    subsidy: u64,
) -> Block {
    let mut script_sig = bip34_height_prefix(0);
    push_slice(&mut script_sig, message.as_bytes());
    let coinbase = Transaction::coinbase(script_sig, p2pkh_script(&GENESIS_KEY_HASH), subsidy);
    let header = BlockHeader {
        version: 1,
        prev_block: Hash256::ZERO,
        merkle_root: coinbase.txid(),
        time,
        bits,
        nonce,
    };
    Block {
        header,
        txs: vec![coinbase],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash160;

    #[test]
    fn genesis_pays_satoshis_key() {
        let pubkey = hex::decode(concat!(
            "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb6",
            "49f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
        ))
        .unwrap();
        assert_eq!(hash160(&pubkey), GENESIS_KEY_HASH);
        let params = GenesisParams {
            message: "m".to_string(),
            time: 1,
            nonce: 2,
        };
        let block = params.block(0x207fffff, 50);
        let coinbase = &block.txs[0];
        assert!(coinbase.is_coinbase());
        assert_eq!(coinbase.inputs[0].script_sig, [0x00, 0x01, b'm']);
        assert_eq!(
            block.compute_merkle_root(),
            (block.header.merkle_root, false)
        );
    }
}
