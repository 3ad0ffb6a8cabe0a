//! The legacy signature hash for SIGHASH_ALL, byte for byte as Bitcoin Core's
//! `SignatureHash` (pre-segwit).

use crate::encode::{write_compact_size, write_vec, Encode};
use crate::hash::{sha256d, Hash256};
use crate::script::{OP_CODESEPARATOR, OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4};
use crate::signature::SIGHASH_ALL;
use crate::transaction::Transaction;

/// The hash an input's SIGHASH_ALL signature signs, or `None` when `input_index` is out of
/// range (Bitcoin Core would return the number one there; no valid input can reach it).
///
/// The transaction is serialized with every input script emptied except the signed
/// input's, which becomes `script_code` (the previous output's script) with its
/// `OP_CODESEPARATOR`s removed, followed by the hash type as four bytes. Cost: one
/// serialization of the transaction per input, so quadratic in inputs as in Bitcoin.
pub fn legacy_sighash_all(
    tx: &Transaction,
    input_index: usize,
    script_code: &[u8],
) -> Option<Hash256> {
    if input_index >= tx.inputs.len() {
        return None;
    }
    let mut out =
        Vec::with_capacity(128 + 48 * tx.inputs.len() + 34 * tx.outputs.len() + script_code.len());
    tx.version.encode(&mut out);
    write_compact_size(&mut out, tx.inputs.len() as u64);
    for (n, input) in tx.inputs.iter().enumerate() {
        input.prevout.encode(&mut out);
        if n == input_index {
            write_script_code(&mut out, script_code);
        } else {
            write_compact_size(&mut out, 0);
        }
        input.sequence.encode(&mut out);
    }
    write_vec(&mut out, &tx.outputs);
    tx.lock_time.encode(&mut out);
    u32::from(SIGHASH_ALL).encode(&mut out);
    Some(sha256d(&out))
}

/// Core's `SerializeScriptCode`: the length counts every byte but the separators, then the
/// bytes are copied op by op without them. Copying stops where op parsing stops, so a script
/// ending in a truncated push writes fewer bytes than its length claims; Core hashes exactly
/// that, and so do we.
fn write_script_code(out: &mut Vec<u8>, script: &[u8]) {
    let mut separators = 0;
    let mut pc = 0;
    while let Ok((opcode, next)) = next_op(script, pc) {
        separators += usize::from(opcode == OP_CODESEPARATOR);
        pc = next;
    }
    write_compact_size(out, (script.len() - separators) as u64);
    let mut begin = 0;
    let mut pc = 0;
    let stop = loop {
        match next_op(script, pc) {
            Ok((opcode, next)) => {
                if opcode == OP_CODESEPARATOR {
                    out.extend_from_slice(&script[begin..next - 1]);
                    begin = next;
                }
                pc = next;
            }
            Err(stop) => break stop,
        }
    };
    if begin != script.len() {
        out.extend_from_slice(&script[begin..stop]);
    }
}

/// Core's `GetScriptOp`: the opcode at `pc` and the offset after it and its data, or, when
/// the script ends (or ends inside a push), `Err` with how far parsing advanced.
fn next_op(script: &[u8], mut pc: usize) -> Result<(u8, usize), usize> {
    let opcode = *script.get(pc).ok_or(pc)?;
    pc += 1;
    if opcode > OP_PUSHDATA4 {
        return Ok((opcode, pc));
    }
    let size_len = match opcode {
        OP_PUSHDATA1 => 1,
        OP_PUSHDATA2 => 2,
        OP_PUSHDATA4 => 4,
        _ => 0,
    };
    let size = if size_len == 0 {
        usize::from(opcode)
    } else {
        let bytes = script.get(pc..pc + size_len).ok_or(pc)?;
        pc += size_len;
        bytes
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if script.len() - pc < size {
        return Err(pc);
    }
    Ok((opcode, pc + size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::write_var_bytes;
    use crate::transaction::{OutPoint, TxIn, TxOut};

    fn tx() -> Transaction {
        let input = |n: u8| TxIn {
            prevout: OutPoint {
                txid: Hash256([n; 32]),
                vout: u32::from(n),
            },
            script_sig: vec![n; 3],
            sequence: 0xffff_fffe,
        };
        Transaction {
            version: 1,
            inputs: vec![input(1), input(2)],
            outputs: vec![TxOut {
                value: 5,
                script_pubkey: vec![0x51],
            }],
            lock_time: 7,
        }
    }

    /// The hash of the serialization Core signs, with `script_field` as the signed input's
    /// script field exactly as written (length prefix included).
    fn expected(tx: &Transaction, index: usize, script_field: &[u8]) -> Hash256 {
        let mut out = Vec::new();
        tx.version.encode(&mut out);
        write_compact_size(&mut out, tx.inputs.len() as u64);
        for (n, input) in tx.inputs.iter().enumerate() {
            input.prevout.encode(&mut out);
            if n == index {
                out.extend_from_slice(script_field);
            } else {
                out.push(0);
            }
            input.sequence.encode(&mut out);
        }
        write_vec(&mut out, &tx.outputs);
        tx.lock_time.encode(&mut out);
        out.extend_from_slice(&[1, 0, 0, 0]);
        sha256d(&out)
    }

    #[test]
    fn plain_script_code_is_written_as_is() {
        let code = crate::script::p2pkh_script(&[9; 20]);
        let mut field = Vec::new();
        write_var_bytes(&mut field, &code);
        assert_eq!(
            legacy_sighash_all(&tx(), 1, &code),
            Some(expected(&tx(), 1, &field))
        );
        assert_ne!(
            legacy_sighash_all(&tx(), 0, &code),
            legacy_sighash_all(&tx(), 1, &code)
        );
        assert_eq!(legacy_sighash_all(&tx(), 2, &code), None);
    }

    #[test]
    fn code_separators_are_removed_but_pushed_0xab_bytes_stay() {
        // OP_CODESEPARATOR, push [0xab], OP_1, OP_CODESEPARATOR.
        let code = [0xab, 0x01, 0xab, 0x51, 0xab];
        let field = [3, 0x01, 0xab, 0x51];
        assert_eq!(
            legacy_sighash_all(&tx(), 0, &code),
            Some(expected(&tx(), 0, &field))
        );
    }

    #[test]
    fn truncated_push_writes_what_core_writes() {
        // OP_1, OP_CODESEPARATOR, then a push of 5 bytes with only 2 present: the length
        // says 4 (5 bytes less one separator) but only OP_1 and the push opcode are copied.
        let code = [0x51, 0xab, 0x05, 0x01, 0x02];
        let field = [4, 0x51, 0x05];
        assert_eq!(
            legacy_sighash_all(&tx(), 0, &code),
            Some(expected(&tx(), 0, &field))
        );
        // A truncated OP_PUSHDATA2 size stops right after the opcode.
        let code = [0x51, OP_PUSHDATA2, 0x01];
        let field = [3, 0x51, OP_PUSHDATA2];
        assert_eq!(
            legacy_sighash_all(&tx(), 0, &code),
            Some(expected(&tx(), 0, &field))
        );
    }

    #[test]
    fn next_op_reads_every_push_form() {
        assert_eq!(next_op(&[OP_PUSHDATA1, 1, 7], 0), Ok((OP_PUSHDATA1, 3)));
        assert_eq!(next_op(&[OP_PUSHDATA2, 1, 0, 7], 0), Ok((OP_PUSHDATA2, 4)));
        assert_eq!(
            next_op(&[OP_PUSHDATA4, 1, 0, 0, 0, 7], 0),
            Ok((OP_PUSHDATA4, 6))
        );
        assert_eq!(next_op(&[OP_PUSHDATA4, 0xff, 0xff, 0xff, 0xff], 0), Err(5));
        assert_eq!(next_op(&[], 0), Err(0));
    }
}
