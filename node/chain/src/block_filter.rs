//! BIP158 basic block filters: a Golomb-coded set of the scripts a block touches, so a
//! light client can tell from a few hundred bytes whether a block may pay or spend one of
//! its scripts, and BIP157's filter hashes and headers that chain them.
//!
//! What it does: builds a block's basic filter from its output scripts (all but empty and
//! `OP_RETURN` ones) and the scripts its inputs spend (all but empty ones), as Bitcoin
//! Core's `BasicFilterElements` does; encodes the set (SipHash-2-4 keyed by the block
//! hash, mapped onto `[0, N·M)`, sorted, deltas Golomb-Rice coded with `P = 19`,
//! `M = 784931`); decodes one to test scripts against it; hashes and chains filters
//! (`header = sha256d(sha256d(filter) ‖ previous header)`).
//!
//! What it needs: the block and the scripts of the coins it spends (the chain state has
//! them in its undo data). Pure functions, no I/O.
//!
//! Invariants: the bytes equal Bitcoin Core's for the same block and spent scripts (the
//! unit tests check BIP158's published vectors byte for byte); a filter decoded from
//! untrusted bytes never allocates more than its bytes could hold.
//!
//! Costs: one SipHash per distinct element, a sort, and about `P + 2` bits per element
//! (a 1-input, 2-output payment adds about 7 bytes).
//!
//! Why not the `bitcoin` crate's `bip158`: its `BlockFilterWriter` takes a
//! `bitcoin::Block` and a closure over `bitcoin::OutPoint`s, so the node would convert
//! every block into the other crate's types, and that crate (with `secp256k1`'s C build,
//! hex, bech32 and its units crates) would become a production dependency of the chain
//! primitives for about 150 lines of code; the tests compare with it instead.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

use crate::block::Block;
use crate::encode::{write_compact_size, DecodeError, Reader};
use crate::hash::{sha256d, Hash256};
use crate::script::is_op_return;

/// BIP158's Golomb-Rice parameter of basic filters: each delta's low 19 bits are written
/// as they are.
pub const BASIC_FILTER_P: u8 = 19;
/// BIP158's false-positive inverse rate of basic filters (1 / 784931 per query element).
pub const BASIC_FILTER_M: u64 = 784_931;
/// The only filter type BIP157 defines (`basic`): its byte on the wire.
pub const BASIC_FILTER_TYPE: u8 = 0;

/// An encoded BIP158 filter: `CompactSize(N)` followed by the Golomb-Rice coded set, the
/// bytes `getblockfilter` shows and `cfilter` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockFilter {
    /// The encoded filter.
    pub bytes: Vec<u8>,
}

/// The SipHash keys of a block's filter: the first 16 bytes of its hash (internal order).
fn keys(block_hash: &Hash256) -> (u64, u64) {
    let b = block_hash.as_bytes();
    let k0 = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let k1 = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
    (k0, k1)
}

/// An element's place in `[0, f)`: SipHash-2-4, then the 64x64 multiply-and-shift
/// BIP158 uses in place of a modulo.
fn hash_to_range(k0: u64, k1: u64, f: u64, element: &[u8]) -> u64 {
    let mut hasher = SipHasher24::new_with_keys(k0, k1);
    hasher.write(element);
    ((u128::from(hasher.finish()) * u128::from(f)) >> 64) as u64
}

/// Writes bits most significant first, as BIP158's bit stream is.
struct BitWriter {
    out: Vec<u8>,
    /// Bits used in the last byte (0 when a new byte starts).
    used: u8,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.out.push(0);
        }
        if bit {
            let last = self.out.len() - 1;
            self.out[last] |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    fn write_bits(&mut self, value: u64, bits: u8) {
        for i in (0..bits).rev() {
            self.write_bit((value >> i) & 1 == 1);
        }
    }
}

struct BitReader<'a> {
    data: &'a [u8],
    /// Bits read so far.
    position: usize,
}

impl BitReader<'_> {
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.data.get(self.position / 8)?;
        let bit = byte & (0x80 >> (self.position % 8)) != 0;
        self.position += 1;
        Some(bit)
    }

    fn read_bits(&mut self, bits: u8) -> Option<u64> {
        let mut value = 0u64;
        for _ in 0..bits {
            value = (value << 1) | u64::from(self.read_bit()?);
        }
        Some(value)
    }

    /// A Golomb-Rice coded value: the quotient in unary, then `p` bits of remainder.
    fn read_golomb(&mut self, p: u8) -> Option<u64> {
        let mut quotient = 0u64;
        while self.read_bit()? {
            quotient += 1;
        }
        Some((quotient << p) | self.read_bits(p)?)
    }
}

/// Why filter bytes cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The element count is missing or claims more elements than the bytes could hold.
    #[error("block filter: {0}")]
    Count(#[from] DecodeError),
    /// The coded set ends before its last element.
    #[error("block filter: the coded set ends after {read} of {count} elements")]
    Truncated {
        /// Elements read.
        read: u64,
        /// Elements the filter claims.
        count: u64,
    },
}

impl BlockFilter {
    /// The filter of `elements` (duplicates count once) for the block `block_hash`, with
    /// BIP158's basic parameters.
    pub fn from_elements<'a>(
        block_hash: &Hash256,
        elements: impl IntoIterator<Item = &'a [u8]>,
    ) -> BlockFilter {
        let mut distinct: Vec<&[u8]> = elements.into_iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let n = distinct.len() as u64;
        let (k0, k1) = keys(block_hash);
        let f = n * BASIC_FILTER_M;
        let mut values: Vec<u64> = distinct
            .iter()
            .map(|e| hash_to_range(k0, k1, f, e))
            .collect();
        values.sort_unstable();
        let mut bytes = Vec::with_capacity(9 + distinct.len() * 3);
        write_compact_size(&mut bytes, n);
        let mut bits = BitWriter {
            out: bytes,
            used: 0,
        };
        let mut last = 0u64;
        for value in values {
            let delta = value - last;
            last = value;
            let quotient = delta >> BASIC_FILTER_P;
            for _ in 0..quotient {
                bits.write_bit(true);
            }
            bits.write_bit(false);
            bits.write_bits(delta, BASIC_FILTER_P);
        }
        BlockFilter { bytes: bits.out }
    }

    /// The basic filter of `block` (whose hash is `block_hash`), given the scripts its
    /// inputs spend (in any order; the coinbase spends none).
    pub fn basic<'a>(
        block_hash: &Hash256,
        block: &'a Block,
        spent_scripts: impl IntoIterator<Item = &'a [u8]>,
    ) -> BlockFilter {
        let outputs = block
            .txs
            .iter()
            .flat_map(|tx| &tx.outputs)
            .map(|o| o.script_pubkey.as_slice())
            .filter(|s| !s.is_empty() && !is_op_return(s));
        let spent = spent_scripts.into_iter().filter(|s| !s.is_empty());
        BlockFilter::from_elements(block_hash, outputs.chain(spent))
    }

    /// BIP157's filter hash: double SHA-256 of the encoded filter.
    pub fn hash(&self) -> Hash256 {
        sha256d(&self.bytes)
    }

    /// BIP157's filter header: chains this filter to the previous block's header (all
    /// zeros before genesis).
    pub fn header(&self, previous: &Hash256) -> Hash256 {
        filter_header(&self.hash(), previous)
    }

    /// Whether any of `scripts` may be in the filter of block `block_hash`: `false` is
    /// certain, `true` is wrong about once in 784,931 tries per script.
    pub fn matches_any(
        &self,
        block_hash: &Hash256,
        scripts: &[&[u8]],
    ) -> Result<bool, FilterError> {
        let mut reader = Reader::new(&self.bytes);
        // Each element costs at least P + 1 bits, which bounds the count by the bytes.
        let n = reader.read_count("filter element count", 2)? as u64;
        if n == 0 || scripts.is_empty() {
            return Ok(false);
        }
        let (k0, k1) = keys(block_hash);
        let f = n * BASIC_FILTER_M;
        let mut queries: Vec<u64> = scripts
            .iter()
            .map(|s| hash_to_range(k0, k1, f, s))
            .collect();
        queries.sort_unstable();
        let rest = &self.bytes[reader.offset()..];
        let mut bits = BitReader {
            data: rest,
            position: 0,
        };
        let mut value = 0u64;
        let mut next_query = queries.iter().peekable();
        for read in 0..n {
            let delta = bits
                .read_golomb(BASIC_FILTER_P)
                .ok_or(FilterError::Truncated { read, count: n })?;
            value += delta;
            while let Some(&&q) = next_query.peek() {
                if q == value {
                    return Ok(true);
                }
                if q > value {
                    break;
                }
                next_query.next();
            }
            if next_query.peek().is_none() {
                return Ok(false);
            }
        }
        Ok(false)
    }
}

/// How far the block filter index is built (`getindexinfo`'s `basic block filter index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterIndexInfo {
    /// It covers the whole main chain and follows every block.
    pub synced: bool,
    /// The height of the last main-chain block indexed (the tip once synced).
    pub best_block_height: u32,
}

/// What the index holds for one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFilter {
    /// BIP157's filter header (chained to the parent block's).
    pub header: Hash256,
    /// Double SHA-256 of the encoded filter (what `cfheaders` carries).
    pub filter_hash: Hash256,
    /// The encoded filter; `None` once the block's data is pruned.
    pub filter: Option<BlockFilter>,
}

/// BIP157's filter header of a filter whose hash is `filter_hash`, after `previous`.
pub fn filter_header(filter_hash: &Hash256, previous: &Hash256) -> Hash256 {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(filter_hash.as_bytes());
    both[32..].copy_from_slice(previous.as_bytes());
    sha256d(&both)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::encode::deserialize;

    /// BIP158's vectors (bitcoin/bips, bip-0158/testnet-19.json): testnet3 blocks with
    /// the scripts their inputs spend, the previous filter header, the basic filter and
    /// its header.
    const VECTORS: &str = include_str!("testdata/bip158-testnet-19.json");

    struct Vector {
        height: u64,
        hash: Hash256,
        block: Vec<u8>,
        spent: Vec<Vec<u8>>,
        previous_header: Hash256,
        filter: Vec<u8>,
        header: Hash256,
    }

    fn vectors() -> Vec<Vector> {
        let rows: Vec<serde_json::Value> = serde_json::from_str(VECTORS).unwrap();
        rows.iter()
            .skip(1)
            .map(|row| {
                let text = |i: usize| row[i].as_str().unwrap();
                Vector {
                    height: row[0].as_u64().unwrap(),
                    hash: Hash256::from_str(text(1)).unwrap(),
                    block: hex::decode(text(2)).unwrap(),
                    spent: row[3]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| hex::decode(s.as_str().unwrap()).unwrap())
                        .collect(),
                    previous_header: Hash256::from_str(text(4)).unwrap(),
                    filter: hex::decode(text(5)).unwrap(),
                    header: Hash256::from_str(text(6)).unwrap(),
                }
            })
            .collect()
    }

    /// Every vector, byte for byte. Blocks our legacy decoder reads are filtered from
    /// our own `Block`; blocks with witness data (which it refuses, as it must) are
    /// decoded by the `bitcoin` crate for their output scripts. Either way the spent
    /// scripts are the vector's own list, as the chain state gives them from its undo
    /// data. Returns the heights done each way, so the test can say it saw both.
    fn check_all() -> (Vec<u64>, Vec<u64>) {
        let (mut ours, mut witness) = (Vec::new(), Vec::new());
        for v in vectors() {
            let spent = v.spent.iter().map(Vec::as_slice);
            let filter = match deserialize::<Block>(&v.block) {
                Ok(block) => {
                    assert_eq!(block.hash(), v.hash, "height {}", v.height);
                    ours.push(v.height);
                    BlockFilter::basic(&v.hash, &block, spent)
                }
                Err(_) => {
                    let block: bitcoin::Block = bitcoin::consensus::deserialize(&v.block).unwrap();
                    assert_eq!(block.block_hash().to_string(), v.hash.to_string());
                    witness.push(v.height);
                    let outputs: Vec<Vec<u8>> = block
                        .txdata
                        .iter()
                        .flat_map(|tx| &tx.output)
                        .map(|o| o.script_pubkey.to_bytes())
                        .filter(|s| !s.is_empty() && !is_op_return(s))
                        .collect();
                    let elements = outputs
                        .iter()
                        .map(Vec::as_slice)
                        .chain(spent.filter(|s| !s.is_empty()));
                    BlockFilter::from_elements(&v.hash, elements)
                }
            };
            assert_eq!(
                hex::encode(&filter.bytes),
                hex::encode(&v.filter),
                "filter at height {}",
                v.height
            );
            assert_eq!(
                filter.header(&v.previous_header),
                v.header,
                "filter header at height {}",
                v.height
            );
        }
        (ours, witness)
    }

    #[test]
    fn bip158_vectors_match_byte_for_byte() {
        let (ours, witness) = check_all();
        // 10 vectors: 8 legacy blocks read by our decoder, 2 with witness data read by
        // the bitcoin crate.
        assert_eq!(
            ours,
            [0, 2, 3, 15007, 49291, 180480, 987876, 1414221],
            "decoded as legacy blocks"
        );
        assert_eq!(witness, [926485, 1263442], "decoded with their witnesses");
    }

    #[test]
    fn a_filter_matches_its_own_scripts_and_not_others() {
        for v in vectors() {
            let Ok(block) = deserialize::<Block>(&v.block) else {
                continue;
            };
            let filter = BlockFilter { bytes: v.filter };
            let outputs: Vec<&[u8]> = block
                .txs
                .iter()
                .flat_map(|tx| &tx.outputs)
                .map(|o| o.script_pubkey.as_slice())
                .filter(|s| !s.is_empty() && !is_op_return(s))
                .collect();
            let spent = v.spent.iter().map(Vec::as_slice);
            for script in outputs.into_iter().chain(spent).filter(|s| !s.is_empty()) {
                assert!(filter.matches_any(&v.hash, &[script]).unwrap());
            }
            let stranger: &[u8] = b"\x76\xa9\x14not a script in any of these blocks";
            assert!(!filter.matches_any(&v.hash, &[stranger]).unwrap());
        }
    }

    #[test]
    fn the_bitcoin_crates_writer_agrees_on_our_blocks() {
        use bitcoin::bip158::BlockFilter as Theirs;
        for name in ["regtest", "dev", "testnet"] {
            let block = crate::ChainSpec::by_name(name).unwrap().genesis_block();
            let ours = BlockFilter::basic(&block.hash(), &block, std::iter::empty());
            let theirs: bitcoin::Block =
                bitcoin::consensus::deserialize(&crate::encode::serialize(&block)).unwrap();
            let theirs = Theirs::new_script_filter(&theirs, |_| {
                Err::<bitcoin::ScriptBuf, _>(bitcoin::bip158::Error::UtxoMissing(
                    bitcoin::OutPoint::null(),
                ))
            })
            .unwrap();
            assert_eq!(ours.bytes, theirs.content, "{name}");
        }
    }

    #[test]
    fn an_empty_set_and_bad_bytes() {
        let empty = BlockFilter::from_elements(&Hash256::ZERO, std::iter::empty());
        assert_eq!(empty.bytes, vec![0]);
        assert!(!empty.matches_any(&Hash256::ZERO, &[b"x"]).unwrap());
        let claims_many = BlockFilter {
            bytes: vec![0xfd, 0xff, 0xff, 0x00],
        };
        assert!(claims_many.matches_any(&Hash256::ZERO, &[b"x"]).is_err());
        let cut = BlockFilter {
            bytes: vec![0x01, 0xff, 0xff],
        };
        assert!(matches!(
            cut.matches_any(&Hash256::ZERO, &[b"x"]),
            Err(FilterError::Truncated { .. })
        ));
    }
}
