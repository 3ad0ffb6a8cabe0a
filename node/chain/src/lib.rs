//! The chain: Bitcoin's legacy formats, the consensus rules, and the chain state.
//!
//! What it does: encodes and decodes headers, blocks and transactions byte for byte as
//! Bitcoin does (legacy, non-segwit serialization), computes ids, merkle roots, compact
//! targets, chain work and retargets, builds and checks P2PKH scripts, addresses and
//! signatures (legacy SIGHASH_ALL, BIP66 strict DER), names the chain specs (`regtest`,
//! `dev`, `testnet`) with their genesis blocks, reads chain spec files and resolves a
//! profile's chain to one spec ([`spec_file`]), validates blocks ([`validation`]) and keeps
//! the chain state on LMDB with fork choice by most work ([`state`]), optionally pruned to
//! the last `keep_blocks` bodies, and imports blocks from a file or another data directory
//! ([`import`]). The `chain` module (`modules/chain`) opens the state in a data directory
//! and provides it as the `chain` service.
//!
//! What it needs: the format modules are pure (no I/O); the state needs a directory.
//!
//! Invariants: every format matches Bitcoin Core (the tests compare with the `bitcoin`
//! crate); decoding untrusted bytes never allocates more than the input could hold (see
//! [`encode`]); verifying one input ([`verify_p2pkh_input`]) is a pure function safe to
//! run on many threads at once; [`PrivateKey`] never prints its secret; connecting or
//! disconnecting a block (with the pruning it triggers) is one LMDB write transaction.
//!
//! Costs: a txid or header hash is one serialization and two SHA-256 passes; a legacy
//! signature hash serializes the whole transaction once per input (quadratic in inputs, as
//! in Bitcoin); a signature check is one secp256k1 verification (tens of microseconds),
//! spread over every core when a block connects.

pub mod address;
pub mod block;
pub mod block_filter;
pub mod coin;
pub mod encode;
pub mod events;
pub mod genesis;
pub mod hash;
pub mod import;
pub mod keys;
pub mod merkle;
pub mod pow;
pub mod script;
pub mod sighash;
pub mod signature;
pub mod spec;
pub mod spec_file;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transaction;
pub mod validation;
pub mod verify;

#[cfg(test)]
mod bitcoin_compat;
#[cfg(test)]
mod test_vectors;

pub use address::{Address, AddressError};
pub use block::{Block, BlockHeader, HEADER_SIZE};
pub use coin::Coin;
pub use encode::{deserialize, serialize, Decode, DecodeError, DecodeErrorKind, Encode, Reader};
pub use events::ChainEvent;
pub use genesis::GenesisParams;
pub use hash::{hash160, sha256d, Hash256, HashParseError};
pub use import::{
    chain_blocks, import_blocks, import_headers, write_block_file, BlockFileReader, ImportError,
    ImportProgress,
};
pub use keys::{KeyError, PrivateKey, PublicKey};
pub use merkle::merkle_root;
pub use pow::{
    block_work, check_proof_of_work, target_from_compact, target_to_compact, PowError, U256,
};
pub use sighash::legacy_sighash_all;
pub use signature::{is_low_s, is_strict_der, SIGHASH_ALL};
pub use spec::{ChainSpec, UnknownSpec};
pub use spec_file::{resolve, ChainSpecFile, SpecFileError};
pub use state::integrity;
pub use state::{
    anti_dos_threshold, BlockIndexEntry, BlockOutcome, ChainError, ChainIdentity, ChainOptions,
    ChainState, FilterIndexInfo, Marked, NextBlock, ProposalError, StoredFilter, Tip, TxIndexInfo,
    TxLocation, ANTI_DOS_MARGIN_BLOCKS, MAX_RUN_BLOCKS, MAX_RUN_BYTES, MIN_KEEP_BLOCKS,
};
pub use transaction::{Coins, OutPoint, Transaction, TxIn, TxOut, COIN, MAX_MONEY};
pub use verify::{sign_p2pkh_input, verify_p2pkh_input, ScriptError};
