//! Named chain specs: every consensus constant that differs between chains.
//!
//! | spec      | magic       | P2P   | RPC   | spacing | retarget     | pow limit  |
//! |-----------|-------------|-------|-------|---------|--------------|------------|
//! | `regtest` | `d9b4bef1`  | 18444 | 18443 | 600 s   | never        | 0x207fffff |
//! | `dev`     | `d9b4bef2`  | 28444 | 28443 | 10 s    | 60 blocks    | 0x1f00ffff |
//! | `testnet` | `d9b4bef3`  | 38444 | 38443 | 150 s   | 2016 blocks  | 0x1e0fffff |
//!
//! All use address version 0x6f and WIF version 0xef (Bitcoin testnet's, so addresses start
//! with `m` or `n`), a 50-coin initial subsidy, coinbase maturity 100 and 1,000,000-byte
//! blocks. Halving every 150 blocks on regtest (as Bitcoin's regtest), 210,000 elsewhere.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::address::{Address, AddressError};
use crate::block::Block;
use crate::genesis::GenesisParams;
use crate::hash::Hash256;
use crate::pow::{next_work_required, target_from_compact, U256};
use crate::transaction::COIN;

/// The consensus constants of one chain. Owned and shared as `Arc<ChainSpec>`: the
/// built-in specs and the ones read from files alike. Its serde form is the chain spec
/// file ([`crate::spec_file`]): every key required, unknown keys refused, the magic, the
/// proof-of-work limit and hashes written as Bitcoin tools print them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// The name profiles use (`chain = "regtest"`).
    pub name: String,
    /// One line on what the chain is for.
    pub description: String,
    /// The first four bytes of every P2P message; a peer of another chain fails at once.
    #[serde(with = "crate::spec_file::magic_hex")]
    pub magic: [u8; 4],
    /// Default TCP (and UDP discovery) port.
    pub p2p_port: u16,
    /// Default JSON-RPC port.
    pub rpc_port: u16,
    /// Version byte of P2PKH addresses.
    pub address_version: u8,
    /// Version byte of WIF private keys.
    pub wif_version: u8,
    /// Coinbase subsidy at height 0, in satoshis.
    pub initial_subsidy: u64,
    /// Blocks between subsidy halvings.
    pub halving_interval: u32,
    /// Confirmations before a coinbase output may be spent.
    pub coinbase_maturity: u32,
    /// Intended seconds between blocks.
    pub target_spacing: u32,
    /// Blocks per difficulty window; `None` keeps the genesis bits forever (regtest).
    /// Written 0 in a file.
    #[serde(with = "crate::spec_file::zero_is_none")]
    pub retarget_window: Option<u32>,
    /// The easiest target allowed, in compact form; also the genesis bits. Written in hex
    /// (`"0x207fffff"`) in a file.
    #[serde(with = "crate::spec_file::compact_hex")]
    pub pow_limit_bits: u32,
    /// Largest serialized block, in bytes.
    pub max_block_size: usize,
    /// The default `[chain] assume_valid` block (Bitcoin Core's `defaultAssumeValid`):
    /// signatures of its ancestors on the best header chain are not checked. A release
    /// sets it to a block buried deep enough that its validity is not in doubt. Written
    /// `"0"` for none in a file.
    #[serde(with = "crate::spec_file::hash_or_zero")]
    pub assume_valid: Option<Hash256>,
    /// What makes the genesis block unique (the file's `[genesis]` table).
    pub genesis: GenesisParams,
}

const GENESIS_TIME: u32 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// The built-in specs, made once per process.
static SPECS: LazyLock<[Arc<ChainSpec>; 3]> = LazyLock::new(|| {
    [
        Arc::new(ChainSpec {
            name: "regtest".to_string(),
            description:
                "local tests: minimum difficulty, no retargeting, halving every 150 blocks"
                    .to_string(),
            magic: [0xd9, 0xb4, 0xbe, 0xf1],
            p2p_port: 18444,
            rpc_port: 18443,
            address_version: 0x6f,
            wif_version: 0xef,
            initial_subsidy: 50 * COIN,
            halving_interval: 150,
            coinbase_maturity: 100,
            target_spacing: 600,
            retarget_window: None,
            pow_limit_bits: 0x207fffff,
            max_block_size: 1_000_000,
            genesis: GenesisParams {
                message: "node regtest genesis".to_string(),
                time: GENESIS_TIME,
                nonce: 0,
            }, // half of all nonces meet 0x207fffff; 0 does
            // Test chains are built from scratch; nothing is known valid in advance.
            assume_valid: None,
        }),
        Arc::new(ChainSpec {
            name: "dev".to_string(),
            description: "development: 10-second blocks mined by CPU, retarget every 60 blocks"
                .to_string(),
            magic: [0xd9, 0xb4, 0xbe, 0xf2],
            p2p_port: 28444,
            rpc_port: 28443,
            address_version: 0x6f,
            wif_version: 0xef,
            initial_subsidy: 50 * COIN,
            halving_interval: 210_000,
            coinbase_maturity: 100,
            target_spacing: 10,
            retarget_window: Some(60),
            pow_limit_bits: 0x1f00ffff,
            max_block_size: 1_000_000,
            genesis: GenesisParams {
                message: "node dev genesis".to_string(),
                time: GENESIS_TIME,
                nonce: 164_446,
            },
            // A development chain is restarted at will: no block to vouch for.
            assume_valid: None,
        }),
        Arc::new(ChainSpec {
            name: "testnet".to_string(),
            description: "shared test network: 150-second blocks, retarget every 2016 blocks"
                .to_string(),
            magic: [0xd9, 0xb4, 0xbe, 0xf3],
            p2p_port: 38444,
            rpc_port: 38443,
            address_version: 0x6f,
            wif_version: 0xef,
            initial_subsidy: 50 * COIN,
            halving_interval: 210_000,
            coinbase_maturity: 100,
            target_spacing: 150,
            retarget_window: Some(2016),
            pow_limit_bits: 0x1e0fffff,
            max_block_size: 1_000_000,
            genesis: GenesisParams {
                message: "node testnet genesis".to_string(),
                time: GENESIS_TIME,
                nonce: 2_289_823,
            },
            // Set to a deeply buried block once the shared network has a history worth it.
            assume_valid: None,
        }),
    ]
});

/// A chain name no spec has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chain spec {name:?}; known: {}", ChainSpec::names().join(", "))]
pub struct UnknownSpec {
    /// The name asked for.
    pub name: String,
}

impl ChainSpec {
    /// The spec called `name`.
    pub fn by_name(name: &str) -> Result<Arc<ChainSpec>, UnknownSpec> {
        SPECS
            .iter()
            .find(|spec| spec.name == name)
            .cloned()
            .ok_or_else(|| UnknownSpec {
                name: name.to_owned(),
            })
    }

    /// Every spec name, in a fixed order.
    pub fn names() -> Vec<&'static str> {
        SPECS.iter().map(|spec| spec.name.as_str()).collect()
    }

    /// Every built-in spec.
    pub fn all() -> &'static [Arc<ChainSpec>] {
        &*SPECS
    }

    /// The easiest target allowed, as a number.
    pub fn pow_limit(&self) -> U256 {
        target_from_compact(self.pow_limit_bits).target
    }

    /// Seconds a retarget window should take, when the chain retargets.
    pub fn target_timespan(&self) -> Option<u32> {
        self.retarget_window
            .map(|window| window * self.target_spacing)
    }

    /// The coinbase subsidy at `height`: halved every `halving_interval` blocks, zero after
    /// 64 halvings, as Bitcoin's `GetBlockSubsidy`.
    pub fn subsidy(&self, height: u32) -> u64 {
        match height / self.halving_interval {
            halvings @ 0..=63 => self.initial_subsidy >> halvings,
            _ => 0,
        }
    }

    /// When the block at `next_height` starts a new retarget window, the height of the first
    /// block of the window that just ended (whose time the retarget needs).
    pub fn retarget_window_start(&self, next_height: u32) -> Option<u32> {
        let window = self.retarget_window?;
        (next_height >= window && next_height.is_multiple_of(window)).then(|| next_height - window)
    }

    /// The bits the block at `next_height` (> 0) must carry, as Bitcoin's
    /// `GetNextWorkRequired` without testnet's minimum-difficulty exception.
    ///
    /// `prev_bits` and `prev_time` are the parent's; `window_start_time` is called only at a
    /// retarget height, with [`Self::retarget_window_start`]'s height, and must return that
    /// ancestor's header time (a lookup the caller may fail).
    pub fn next_bits<E>(
        &self,
        next_height: u32,
        prev_bits: u32,
        prev_time: u32,
        window_start_time: impl FnOnce(u32) -> Result<u32, E>,
    ) -> Result<u32, E> {
        match (
            self.retarget_window_start(next_height),
            self.target_timespan(),
        ) {
            (Some(first_height), Some(timespan)) => {
                let first_time = window_start_time(first_height)?;
                Ok(next_work_required(
                    prev_bits,
                    prev_time,
                    first_time,
                    timespan,
                    &self.pow_limit(),
                ))
            }
            _ => Ok(prev_bits),
        }
    }

    /// The genesis block.
    pub fn genesis_block(&self) -> Block {
        self.genesis
            .block(self.pow_limit_bits, self.initial_subsidy)
    }

    /// The genesis block's hash.
    pub fn genesis_hash(&self) -> Hash256 {
        self.genesis_block().hash()
    }

    /// Parses an address and checks it belongs to this chain.
    pub fn parse_address(&self, s: &str) -> Result<Address, AddressError> {
        Address::parse(s, self.address_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::check_proof_of_work;

    #[test]
    fn lookup_by_name_and_unknown_names() {
        assert_eq!(ChainSpec::names(), ["regtest", "dev", "testnet"]);
        assert_eq!(ChainSpec::by_name("dev").unwrap().target_spacing, 10);
        let err = ChainSpec::by_name("mainnet").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown chain spec \"mainnet\"; known: regtest, dev, testnet"
        );
    }

    #[test]
    fn specs_are_distinct_and_sane() {
        let specs = ChainSpec::all();
        for (i, a) in specs.iter().enumerate() {
            for b in &specs[i + 1..] {
                assert_ne!(a.magic, b.magic);
                assert_ne!(a.p2p_port, b.p2p_port);
                assert_ne!(a.rpc_port, b.rpc_port);
                assert_ne!(a.genesis_hash(), b.genesis_hash());
            }
            assert_ne!(a.p2p_port, a.rpc_port);
            // The slowest window at the easiest target stays at the limit, even where the
            // product passes 2^256 (testnet's does).
            if let Some(timespan) = a.target_timespan() {
                let bits =
                    next_work_required(a.pow_limit_bits, 4 * timespan, 0, timespan, &a.pow_limit());
                assert_eq!(bits, a.pow_limit_bits, "{}", a.name);
            }
        }
    }

    #[test]
    fn genesis_blocks_meet_their_own_bits_and_are_pinned() {
        let pinned = [
            (
                "regtest",
                "25b06908e540f72ef5c53e8b9db56a0f36de22b41df2b0ced5ee01d7b7402148",
            ),
            (
                "dev",
                "000054434eea9ead6626642612fd855431f7365906add246b003e2db55345e6b",
            ),
            (
                "testnet",
                "000009402bb6b9dca08cdd6a01aa007e8b0167e9053e9b27155cfcfa6a8c655f",
            ),
        ];
        for (name, hash) in pinned {
            let spec = ChainSpec::by_name(name).unwrap();
            let genesis = spec.genesis_block();
            assert_eq!(genesis.header.bits, spec.pow_limit_bits);
            assert_eq!(
                genesis.compute_merkle_root(),
                (genesis.header.merkle_root, false)
            );
            assert_eq!(
                check_proof_of_work(&genesis.hash(), genesis.header.bits, &spec.pow_limit()),
                Ok(()),
                "{name}"
            );
            assert_eq!(genesis.hash().to_string(), hash, "{name}");
            assert!(genesis.size() <= spec.max_block_size);
        }
    }

    #[test]
    fn subsidy_halves_and_ends() {
        let regtest = ChainSpec::by_name("regtest").unwrap();
        assert_eq!(regtest.subsidy(0), 50 * COIN);
        assert_eq!(regtest.subsidy(149), 50 * COIN);
        assert_eq!(regtest.subsidy(150), 25 * COIN);
        assert_eq!(regtest.subsidy(150 * 33), (50 * COIN) >> 33);
        assert_eq!(regtest.subsidy(150 * 64), 0);
        assert_eq!(regtest.subsidy(u32::MAX), 0);
        let testnet = ChainSpec::by_name("testnet").unwrap();
        assert_eq!(testnet.subsidy(209_999), 50 * COIN);
        assert_eq!(testnet.subsidy(210_000), 25 * COIN);
    }

    #[test]
    fn next_bits_retargets_only_at_window_boundaries() {
        let dev = ChainSpec::by_name("dev").unwrap();
        let never = |_| -> Result<u32, String> { Err("not a retarget height".into()) };
        assert_eq!(dev.retarget_window_start(59), None);
        assert_eq!(dev.retarget_window_start(60), Some(0));
        assert_eq!(dev.retarget_window_start(120), Some(60));
        assert_eq!(dev.next_bits(61, 0x1e12_3456, 1000, never), Ok(0x1e12_3456));
        // A window that took exactly its timespan keeps the target (up to compact rounding).
        let bits = 0x1e12_3456;
        let asked = std::cell::Cell::new(None);
        let kept = dev.next_bits(120, bits, 10_600, |h| {
            asked.set(Some(h));
            Ok::<_, String>(10_000)
        });
        assert_eq!(kept, Ok(bits));
        assert_eq!(asked.get(), Some(60));
        // Twice as fast: half the target.
        let harder = dev
            .next_bits(120, bits, 10_300, |_| Ok::<_, String>(10_000))
            .unwrap();
        assert_eq!(
            target_from_compact(harder).target,
            target_from_compact(bits).target / 2
        );
        // Lookup failures pass through.
        assert_eq!(
            dev.next_bits(60, bits, 0, |_| Err("missing")),
            Err("missing")
        );
        // Regtest never retargets.
        let regtest = ChainSpec::by_name("regtest").unwrap();
        assert_eq!(
            regtest.next_bits(2016, 0x207fffff, 0, never),
            Ok(0x207fffff)
        );
    }

    #[test]
    fn addresses_are_checked_against_the_chain() {
        let regtest = ChainSpec::by_name("regtest").unwrap();
        let address = Address {
            version: regtest.address_version,
            hash: [4; 20],
        };
        assert_eq!(regtest.parse_address(&address.to_string()), Ok(address));
        let mainnet = Address {
            version: 0,
            hash: [4; 20],
        };
        assert!(matches!(
            regtest.parse_address(&mainnet.to_string()),
            Err(AddressError::Version { .. })
        ));
    }
}
