//! Block and transaction decoding (`node_chain::deserialize`), the consensus encoding every
//! block and transaction from a peer, a file import or `sendrawtransaction` goes through,
//! and the checks that run on them before any chain state is looked at.
//!
//! Input: one byte choosing what to decode (even: a block, odd: a transaction), then the
//! bytes. Checked: no panic, no allocation past the malloc limit the script sets; what
//! decodes encodes back to exactly the same bytes (the encoding is canonical: shortest
//! CompactSizes, no trailing bytes) and its size is the input's; the context-free rules
//! and the P2PKH input scripts (signature and key parsing) answer without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use node_chain::script::{p2pkh_script, parse_p2pkh_script_sig};
use node_chain::validation::{check_block, check_transaction};
use node_chain::{deserialize, hash160, serialize, verify_p2pkh_input, Block, Transaction};

/// Every spec's block size limit.
const MAX_BLOCK_SIZE: usize = 1_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        if let Ok(block) = deserialize::<Block>(bytes) {
            assert_eq!(serialize(&block), bytes, "block does not re-encode");
            assert_eq!(block.size(), bytes.len());
            let _ = block.hash();
            let _ = check_block(&block, MAX_BLOCK_SIZE);
            for tx in &block.txs {
                check_tx(tx);
            }
        }
    } else if let Ok(tx) = deserialize::<Transaction>(bytes) {
        assert_eq!(serialize(&tx), bytes, "transaction does not re-encode");
        assert_eq!(tx.size(), bytes.len());
        check_tx(&tx);
    }
});

fn check_tx(tx: &Transaction) {
    let _ = tx.txid();
    let _ = tx.output_value();
    let _ = check_transaction(tx, MAX_BLOCK_SIZE);
    if tx.is_coinbase() {
        return;
    }
    for (index, input) in tx.inputs.iter().enumerate() {
        // Spend an output paying the key the script shows, so the key hash matches and
        // the signature and key parsing are reached.
        let Some((_, pubkey)) = parse_p2pkh_script_sig(&input.script_sig) else {
            continue;
        };
        let prev_script = p2pkh_script(&hash160(pubkey));
        let _ = verify_p2pkh_input(tx, index, &prev_script);
    }
}
