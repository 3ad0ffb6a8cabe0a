//! BIP152 vectors computed independently of this crate: a Python script serialized
//! these messages as Bitcoin Core's functional test framework does
//! (`test/functional/test_framework/messages.py`: `P2PHeaderAndShortIDs`,
//! `PrefilledTransaction`, `BlockTransactionsRequest`, `BlockTransactions`,
//! `msg_sendcmpct`) and computed short ids with Core's `siphash.py` (`siphash256`) keyed
//! from `hashlib.sha256(header || nonce)`. The block is eight legacy transactions
//! (coinbase first) under header version 1, prev `00 01 .. 1f`, time 1767225600, bits
//! 0x207fffff, nonce 7; the compact nonce is 0x0123456789abcdef.

use node_chain::{deserialize, Block, Hash256};

use crate::compact::{
    BlockTxn, BlockTxnRequest, HeaderAndShortIds, PrefilledTx, SendCmpct, ShortIdKey,
};
use crate::message::{Command, Message};

const BLOCK: &[&str] = &[
    "01000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fb7b593495a9cc18b",
    "9239e76816dc1bda471352fc6b67c77244a87a76f12fa83200b95569ffff7f20070000000801000000010000",
    "000000000000000000000000000000000000000000000000000000000000ffffffff0403050000ffffffff01",
    "00f2052a010000001976a914111111111111111111111111111111111111111188ac00000000010000000101",
    "01010101010101010101010101010101010101010101010101010101010101010000000151ffffffff01e803",
    "0000000000001976a914212121212121212121212121212121212121212188ac000000000100000001020202",
    "020202020202020202020202020202020202020202020202020202020202000000025151ffffffff01d00700",
    "00000000001976a914222222222222222222222222222222222222222288ac00000000010000000103030303",
    "030303030303030303030303030303030303030303030303030303030300000003515151ffffffff01b80b00",
    "00000000001976a914232323232323232323232323232323232323232388ac00000000010000000104040404",
    "04040404040404040404040404040404040404040404040404040404040000000451515151ffffffff01a00f",
    "0000000000001976a914242424242424242424242424242424242424242488ac000000000100000001050505",
    "050505050505050505050505050505050505050505050505050505050505000000055151515151ffffffff01",
    "88130000000000001976a914252525252525252525252525252525252525252588ac00000000010000000106",
    "060606060606060606060606060606060606060606060606060606060606060600000006515151515151ffff",
    "ffff0170170000000000001976a914262626262626262626262626262626262626262688ac00000000010000",
    "0001070707070707070707070707070707070707070707070707070707070707070707000000075151515151",
    "5151ffffffff01581b0000000000001976a914272727272727272727272727272727272727272788ac000000",
    "00",
];

/// The short id of each transaction of [`BLOCK`], in block order.
const SHORT_IDS: [u64; 8] = [
    0xd1c7c5f1745b,
    0x5c80adb7998c,
    0xfe55b1b6cfb7,
    0x2cc1e2cef6c3,
    0x953cdf84b3a5,
    0xbb563d23009c,
    0xb5bf9a562fa9,
    0xfa6017ac1ba2,
];

/// `cmpctblock` with the coinbase prefilled (what Core sends).
const CMPCT_COINBASE: &[&str] = &[
    "01000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fb7b593495a9cc18b",
    "9239e76816dc1bda471352fc6b67c77244a87a76f12fa83200b95569ffff7f2007000000efcdab8967452301",
    "078c99b7ad805cb7cfb6b155fec3f6cee2c12ca5b384df3c959c00233d56bba92f569abfb5a21bac1760fa01",
    "0001000000010000000000000000000000000000000000000000000000000000000000000000ffffffff0403",
    "050000ffffffff0100f2052a010000001976a914111111111111111111111111111111111111111188ac0000",
    "0000",
];

/// `cmpctblock` with transactions 0, 2 and 5 prefilled (gaps 0, 1, 2).
const CMPCT_GAPS: &[&str] = &[
    "01000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fb7b593495a9cc18b",
    "9239e76816dc1bda471352fc6b67c77244a87a76f12fa83200b95569ffff7f2007000000efcdab8967452301",
    "058c99b7ad805cc3f6cee2c12ca5b384df3c95a92f569abfb5a21bac1760fa03000100000001000000000000",
    "0000000000000000000000000000000000000000000000000000ffffffff0403050000ffffffff0100f2052a",
    "010000001976a914111111111111111111111111111111111111111188ac0000000001010000000102020202",
    "0202020202020202020202020202020202020202020202020202020202000000025151ffffffff01d0070000",
    "000000001976a914222222222222222222222222222222222222222288ac0000000002010000000105050505",
    "0505050505050505050505050505050505050505050505050505050505000000055151515151ffffffff0188",
    "130000000000001976a914252525252525252525252525252525252525252588ac00000000",
];

/// `getblocktxn` for positions 1, 3, 4 and 300 (gaps 1, 1, 0, 295).
const GETBLOCKTXN: &[&str] =
    &["b51d3a8ce0d4a4fe211fe1f851cd5d828a9f3745aeba990deea18cdbb604849104010100fd2701"];

/// `blocktxn` with transactions 3 and 4.
const BLOCKTXN: &[&str] = &[
    "b51d3a8ce0d4a4fe211fe1f851cd5d828a9f3745aeba990deea18cdbb6048491020100000001030303030303",
    "03030303030303030303030303030303030303030303030303030300000003515151ffffffff01b80b000000",
    "0000001976a914232323232323232323232323232323232323232388ac000000000100000001040404040404",
    "0404040404040404040404040404040404040404040404040404040000000451515151ffffffff01a00f0000",
    "000000001976a914242424242424242424242424242424242424242488ac00000000",
];

const SENDCMPCT_HIGH: &str = "010100000000000000";
const SENDCMPCT_LOW: &str = "000100000000000000";

fn bytes(parts: &[&str]) -> Vec<u8> {
    hex::decode(parts.concat()).unwrap()
}

fn block() -> Block {
    deserialize(&bytes(BLOCK)).unwrap()
}

fn decode(command: &str, payload: &[u8]) -> Message {
    Message::decode(Command::new(command).unwrap(), payload).unwrap()
}

#[test]
fn short_ids_match_cores_siphash() {
    let block = block();
    let key = ShortIdKey::new(&block.header, 0x0123_4567_89ab_cdef);
    for (tx, expected) in block.txs.iter().zip(SHORT_IDS) {
        assert_eq!(key.short_id(&tx.txid()), expected);
    }
}

#[test]
fn cmpctblock_with_the_coinbase_prefilled_is_byte_for_byte() {
    let block = block();
    let compact = HeaderAndShortIds::from_block(&block, 0x0123_4567_89ab_cdef).unwrap();
    assert_eq!(compact.short_ids, SHORT_IDS[1..]);
    let message = Message::CmpctBlock(compact);
    assert_eq!(message.payload(), bytes(CMPCT_COINBASE));
    assert_eq!(decode("cmpctblock", &bytes(CMPCT_COINBASE)), message);
}

#[test]
fn prefilled_positions_are_differential() {
    let block = block();
    let mut compact = HeaderAndShortIds::from_block(&block, 0x0123_4567_89ab_cdef).unwrap();
    compact.prefilled = [0u16, 2, 5]
        .iter()
        .map(|&i| PrefilledTx {
            index: i,
            tx: block.txs[i as usize].clone(),
        })
        .collect();
    compact.short_ids = [1, 3, 4, 6, 7].iter().map(|&i| SHORT_IDS[i]).collect();
    let message = Message::CmpctBlock(compact);
    assert_eq!(message.payload(), bytes(CMPCT_GAPS));
    assert_eq!(decode("cmpctblock", &bytes(CMPCT_GAPS)), message);
}

#[test]
fn getblocktxn_and_blocktxn_are_byte_for_byte() {
    let block = block();
    let block_hash: Hash256 = block.hash();
    let request = Message::GetBlockTxn(BlockTxnRequest {
        block_hash,
        indexes: vec![1, 3, 4, 300],
    });
    assert_eq!(request.payload(), bytes(GETBLOCKTXN));
    assert_eq!(decode("getblocktxn", &bytes(GETBLOCKTXN)), request);
    let answer = Message::BlockTxn(BlockTxn {
        block_hash,
        txs: block.txs[3..5].to_vec(),
    });
    assert_eq!(answer.payload(), bytes(BLOCKTXN));
    assert_eq!(decode("blocktxn", &bytes(BLOCKTXN)), answer);
}

#[test]
fn sendcmpct_is_byte_for_byte() {
    for (announce, vector) in [(true, SENDCMPCT_HIGH), (false, SENDCMPCT_LOW)] {
        let message = Message::SendCmpct(SendCmpct {
            announce,
            version: 1,
        });
        assert_eq!(message.payload(), hex::decode(vector).unwrap());
        assert_eq!(decode("sendcmpct", &hex::decode(vector).unwrap()), message);
    }
}

#[test]
fn positions_over_16_bits_are_malformed() {
    let block_hash = block().hash();
    let mut payload = block_hash.0.to_vec();
    // Two positions: 65,535, then a gap of zero, which would be 65,536.
    payload.extend_from_slice(&[2, 0xfd, 0xff, 0xff, 0]);
    let err = Message::decode(Command::new("getblocktxn").unwrap(), &payload).unwrap_err();
    assert!(!err.is_misbehaviour(), "{err}");
    let mut payload = block_hash.0.to_vec();
    payload.extend_from_slice(&[1, 0xfd, 0xff, 0xff]);
    let Message::GetBlockTxn(request) = decode("getblocktxn", &payload) else {
        panic!("not a getblocktxn")
    };
    assert_eq!(request.indexes, [u16::MAX]);
}

#[test]
fn the_bitcoin_crate_reads_our_compact_block() {
    use bitcoin::bip152::HeaderAndShortIds as BtcCompact;
    let block = block();
    let compact = HeaderAndShortIds::from_block(&block, 0x0123_4567_89ab_cdef).unwrap();
    let payload = Message::CmpctBlock(compact).payload();
    let theirs: BtcCompact = bitcoin::consensus::deserialize(&payload).unwrap();
    assert_eq!(theirs.short_ids.len(), 7);
    assert_eq!(bitcoin::consensus::serialize(&theirs), payload);
}
