//! The chain's formats and rules: Bitcoin's legacy formats, the consensus rules and the
//! chain specs, which every module may use. The chain state (LMDB) is in
//! `node-chain-state`, which only the chain module opens.
//!
//! What it does: encodes and decodes headers, blocks and transactions byte for byte as
//! Bitcoin does (legacy, non-segwit serialization), computes ids, merkle roots, compact
//! targets, chain work and retargets, builds and checks P2PKH scripts, addresses and
//! signatures (legacy SIGHASH_ALL, BIP66 strict DER), names the chain specs (`regtest`,
//! `dev`, `testnet`) with their genesis blocks, reads chain spec files and resolves a
//! profile's chain to one spec ([`spec_file`]) and validates blocks without storage
//! ([`validation`]). It also defines what the chain state reports ([`index`]: the tip,
//! index entries, outcomes) and its errors ([`chain_error`]), so that the contracts in
//! `node-api` name them without depending on the state.
//!
//! What it needs: nothing; it does no I/O but reading a chain spec file.
//!
//! Invariants: every format matches Bitcoin Core (the tests compare with the `bitcoin`
//! crate); decoding untrusted bytes never allocates more than the input could hold (see
//! [`encode`]); verifying one input ([`verify_p2pkh_input`]) is a pure function safe to
//! run on many threads at once; [`PrivateKey`] never prints its secret.
//!
//! Costs: a txid or header hash is one serialization and two SHA-256 passes; a legacy
//! signature hash serializes the whole transaction once per input (quadratic in inputs, as
//! in Bitcoin); a signature check is one secp256k1 verification (tens of microseconds).

pub mod address;
pub mod block;
pub mod block_filter;
pub mod chain_error;
pub mod coin;
pub mod encode;
pub mod events;
pub mod genesis;
pub mod hash;
pub mod index;
pub mod keys;
pub mod merkle;
pub mod pow;
pub mod script;
pub mod sighash;
pub mod signature;
pub mod spec;
pub mod spec_file;
pub mod transaction;
pub mod validation;
pub mod verify;

#[cfg(test)]
mod bitcoin_compat;
#[cfg(test)]
mod test_vectors;

pub use address::{Address, AddressError};
pub use block::{Block, BlockHeader, HEADER_SIZE};
pub use block_filter::{FilterIndexInfo, StoredFilter};
pub use chain_error::{
    anti_dos_threshold, is_disk_full_io, ChainError, ChainIdentity, ProposalError,
    ANTI_DOS_MARGIN_BLOCKS, MAX_RUN_BLOCKS, MAX_RUN_BYTES, MIN_KEEP_BLOCKS,
};
pub use coin::Coin;
pub use encode::{deserialize, serialize, Decode, DecodeError, DecodeErrorKind, Encode, Reader};
pub use events::ChainEvent;
pub use genesis::GenesisParams;
pub use hash::{hash160, sha256d, Hash256, HashParseError};
pub use index::{BlockIndexEntry, BlockOutcome, NextBlock, Tip, TxIndexInfo, TxLocation};
pub use keys::{KeyError, PrivateKey, PublicKey};
pub use merkle::merkle_root;
pub use pow::{
    block_work, check_proof_of_work, target_from_compact, target_to_compact, PowError, U256,
};
pub use sighash::legacy_sighash_all;
pub use signature::{is_low_s, is_strict_der, SIGHASH_ALL};
pub use spec::{ChainSpec, UnknownSpec};
pub use spec_file::{resolve, SpecFileError};
pub use transaction::{Coins, OutPoint, Transaction, TxIn, TxOut, COIN, MAX_MONEY};
pub use verify::{sign_p2pkh_input, verify_p2pkh_input, ScriptError};
