//! Chain spec files: every consensus constant of a [`ChainSpec`] in a TOML file, so a new
//! chain (bigger blocks, a faster block time, another subsidy) is a file, not a code change.
//!
//! [`resolve`] is the one way a `[node] chain` value becomes a spec: a built-in name, or a
//! path to a file (relative to a base directory, the profile's). A loaded spec is leaked
//! once per process and file content, so it is `&'static` like the built-in ones and a
//! second resolution of the same file returns the same spec. Every check runs before that,
//! on owned values ([`SpecValues`], genesis block included): a file that fails, `node
//! chainspec --from` ([`check_spec_text`]) and the fuzz target leak nothing.
//!
//! Every key is required (a spec copied from another chain must say each value on
//! purpose), unknown keys are refused, and values that cannot work are errors naming the
//! file and the key: zero spacing, a magic that is not 4 bytes, a block smaller than its
//! own genesis, a genesis nonce that does not meet its bits ([`find_genesis_nonce`]
//! completes it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::genesis::{genesis_block, GenesisParams};
use crate::hash::Hash256;
use crate::pow::{check_proof_of_work, target_from_compact, U256};
use crate::spec::ChainSpec;
use crate::transaction::MAX_MONEY;

/// The largest `max_block_size` a file may set: the most a block message may carry and
/// the decoder's allocation bound (Bitcoin's `MAX_BLOCK_SERIALIZED_SIZE`).
pub const MAX_BLOCK_SIZE_LIMIT: usize = crate::encode::MAX_ALLOCATION;

/// The longest genesis message: with the height push it keeps the coinbase script within
/// consensus's 100 bytes.
const MAX_GENESIS_MESSAGE: usize = 90;

/// A chain spec file, key for key. Numbers are plain TOML integers; the magic, the
/// proof-of-work limit and hashes are strings, written as Bitcoin tools print them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpecFile {
    /// Lower case letters, digits, `-` and `_`: it names the default data directory.
    pub name: String,
    /// One line on what the chain is for.
    pub description: String,
    /// Four bytes in hex, e.g. `"d9b4bef1"`.
    pub magic: String,
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
    /// Blocks per difficulty window; 0 never retargets.
    pub retarget_window: u32,
    /// The easiest target, compact, in hex (`"0x207fffff"`); also the genesis bits.
    pub pow_limit_bits: String,
    /// Largest serialized block, in bytes.
    pub max_block_size: usize,
    /// The default `[chain] assume_valid`: a block hash, or `"0"` for none.
    pub assume_valid: String,
    /// What makes the genesis block unique.
    pub genesis: GenesisFile,
}

/// The `[genesis]` table of a chain spec file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// Text in the genesis coinbase.
    pub message: String,
    /// Header time, Unix seconds.
    pub time: u32,
    /// A nonce that makes the header meet `pow_limit_bits`.
    pub nonce: u32,
}

/// A chain spec file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecFileError {
    /// Not a chain name, and no file there.
    #[error(
        "{value:?} is neither a built-in chain spec ({}) nor a chain spec file (a path to a \
         .toml file){}",
        ChainSpec::names().join(", "),
        path.as_ref().map(|p| format!(" ({} does not exist)", p.display())).unwrap_or_default()
    )]
    Unknown {
        /// The value of `[node] chain`.
        value: String,
        /// The path tried, when the value looks like one.
        path: Option<PathBuf>,
    },
    /// The file cannot be read.
    #[error("chain spec {file}: cannot read: {reason}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The file is not TOML of the right shape (unknown or missing key, wrong type).
    #[error("chain spec {file}: {reason}")]
    Parse {
        /// The file.
        file: String,
        /// What the TOML reader says, with the key and line.
        reason: String,
    },
    /// A value is not usable.
    #[error("chain spec {file}, key {key}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// The key at fault.
        key: String,
        /// Why.
        reason: String,
    },
    /// The genesis nonce does not meet the genesis bits.
    #[error(
        "chain spec {file}, key genesis.nonce: {nonce} does not meet pow_limit_bits; \
         `node chainspec --from {file}` finds one"
    )]
    GenesisNonce {
        /// The file.
        file: String,
        /// The nonce found there.
        nonce: u32,
    },
}

impl ChainSpecFile {
    /// The file form of a spec (what `node chainspec NAME` prints), made as
    /// [`SpecValues::to_file`] makes it, so a spec loaded from a file prints as that file's
    /// values print.
    pub fn from_spec(spec: &ChainSpec) -> ChainSpecFile {
        SpecValues::of(spec).to_file()
    }

    /// Parses the text of the file called `file` (the name is for messages).
    pub fn parse(text: &str, file: &str) -> Result<ChainSpecFile, SpecFileError> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            SpecFileError::Parse {
                file: file.to_string(),
                reason: match line {
                    Some(line) => format!("{} (line {line})", e.message().trim_end()),
                    None => e.message().trim_end().to_string(),
                },
            }
        })
    }

    /// The file as TOML, each key with a comment saying what it is.
    pub fn to_toml(&self) -> String {
        format!(
            "# Chain spec: every consensus constant of one chain. Use it with `[node] chain = \"FILE\"`\n\
             # (a path relative to the profile); `node chainspec --from FILE` checks it and finds a\n\
             # genesis nonce. Every key is required.\n\
             \n\
             # Names the default data directory (~/.node/NAME); lower case, digits, - and _.\n\
             name = {name}\n\
             description = {description}\n\
             # First 4 bytes of every P2P message, hex: nodes of other chains fail at once.\n\
             magic = {magic}\n\
             # Default ports (a profile's [peers] listen and [rpc] listen win over them).\n\
             p2p_port = {p2p_port}\n\
             rpc_port = {rpc_port}\n\
             # Version bytes of P2PKH addresses and WIF keys (111 and 239: addresses start m or n).\n\
             address_version = {address_version}\n\
             wif_version = {wif_version}\n\
             # Coinbase subsidy at height 0 in satoshis (100000000 = 1 coin), halved every\n\
             # halving_interval blocks.\n\
             initial_subsidy = {initial_subsidy}\n\
             halving_interval = {halving_interval}\n\
             # Confirmations before a coinbase output may be spent.\n\
             coinbase_maturity = {coinbase_maturity}\n\
             # Seconds between blocks, and blocks per difficulty window (0: never retarget).\n\
             target_spacing = {target_spacing}\n\
             retarget_window = {retarget_window}\n\
             # The easiest target, compact; also the genesis block's bits.\n\
             pow_limit_bits = {pow_limit_bits}\n\
             # Largest serialized block, bytes (at most {limit}).\n\
             max_block_size = {max_block_size}\n\
             # Signatures below this block are not checked while it is on the best header chain\n\
             # (a block hash), or \"0\" to check every signature.\n\
             assume_valid = {assume_valid}\n\
             \n\
             [genesis]\n\
             # Text in the genesis coinbase (at most {max_message} bytes) and the header time;\n\
             # change either and the nonce must be found again.\n\
             message = {message}\n\
             time = {time}\n\
             nonce = {nonce}\n",
            name = toml_string(&self.name),
            description = toml_string(&self.description),
            magic = toml_string(&self.magic),
            p2p_port = self.p2p_port,
            rpc_port = self.rpc_port,
            address_version = self.address_version,
            wif_version = self.wif_version,
            initial_subsidy = self.initial_subsidy,
            halving_interval = self.halving_interval,
            coinbase_maturity = self.coinbase_maturity,
            target_spacing = self.target_spacing,
            retarget_window = self.retarget_window,
            pow_limit_bits = toml_string(&self.pow_limit_bits),
            limit = MAX_BLOCK_SIZE_LIMIT,
            max_block_size = self.max_block_size,
            max_message = MAX_GENESIS_MESSAGE,
            message = toml_string(&self.genesis.message),
            time = self.genesis.time,
            nonce = self.genesis.nonce,
            assume_valid = toml_string(&self.assume_valid),
        )
    }

    /// Checks every value, the genesis block's size and, when `check_nonce`, its nonce, all
    /// on owned strings: a file that fails leaks nothing.
    fn check(&self, file: &str, check_nonce: bool) -> Result<SpecValues, SpecFileError> {
        let invalid = |key: &str, reason: String| SpecFileError::Invalid {
            file: file.to_string(),
            key: key.to_string(),
            reason,
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok {
            return Err(invalid(
                "name",
                format!(
                    "{:?}: 1 to 32 lower-case letters, digits, - or _ (it names the data directory)",
                    self.name
                ),
            ));
        }
        if ChainSpec::names().contains(&self.name.as_str()) {
            return Err(invalid(
                "name",
                format!(
                    "{:?} is a built-in chain's name; choose another so data directories and \
                     logs tell them apart",
                    self.name
                ),
            ));
        }
        let magic: [u8; 4] = hex::decode(&self.magic)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                invalid(
                    "magic",
                    format!("{:?} is not 4 bytes in hex (8 hex digits)", self.magic),
                )
            })?;
        if self.p2p_port == 0 {
            return Err(invalid("p2p_port", "must not be 0".to_string()));
        }
        if self.rpc_port == 0 || self.rpc_port == self.p2p_port {
            return Err(invalid(
                "rpc_port",
                format!("{} must be neither 0 nor p2p_port", self.rpc_port),
            ));
        }
        if self.initial_subsidy > MAX_MONEY {
            return Err(invalid(
                "initial_subsidy",
                format!(
                    "{} satoshis is above the 21,000,000-coin money supply",
                    self.initial_subsidy
                ),
            ));
        }
        for (key, value) in [
            ("halving_interval", self.halving_interval),
            ("coinbase_maturity", self.coinbase_maturity),
            ("target_spacing", self.target_spacing),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_string()));
            }
        }
        let retarget_window = match self.retarget_window {
            0 => None,
            1 => {
                return Err(invalid(
                    "retarget_window",
                    "1 block cannot measure a timespan; 0 (never) or at least 2".to_string(),
                ))
            }
            window => {
                if window.checked_mul(self.target_spacing).is_none() {
                    return Err(invalid(
                        "retarget_window",
                        format!(
                            "{window} blocks of {} s overflow a 32-bit timespan",
                            self.target_spacing
                        ),
                    ));
                }
                Some(window)
            }
        };
        let bits_text = self.pow_limit_bits.trim_start_matches("0x");
        let pow_limit_bits = u32::from_str_radix(bits_text, 16)
            .ok()
            .filter(|bits| target_from_compact(*bits).valid().is_some())
            .ok_or_else(|| {
                invalid(
                    "pow_limit_bits",
                    format!(
                        "{:?} is not a valid compact target (positive, in 256 bits), e.g. \"0x207fffff\"",
                        self.pow_limit_bits
                    ),
                )
            })?;
        let assume_valid = match self.assume_valid.as_str() {
            "0" => None,
            text => Some(text.parse::<Hash256>().map_err(|e| {
                invalid(
                    "assume_valid",
                    format!("{text:?} is neither a block hash nor \"0\": {e}"),
                )
            })?),
        };
        if self.genesis.message.is_empty() || self.genesis.message.len() > MAX_GENESIS_MESSAGE {
            return Err(invalid(
                "genesis.message",
                format!(
                    "{} bytes; 1 to {MAX_GENESIS_MESSAGE}",
                    self.genesis.message.len()
                ),
            ));
        }
        let values = SpecValues {
            name: self.name.clone(),
            description: self.description.clone(),
            magic,
            p2p_port: self.p2p_port,
            rpc_port: self.rpc_port,
            address_version: self.address_version,
            wif_version: self.wif_version,
            initial_subsidy: self.initial_subsidy,
            halving_interval: self.halving_interval,
            coinbase_maturity: self.coinbase_maturity,
            target_spacing: self.target_spacing,
            retarget_window,
            pow_limit_bits,
            max_block_size: self.max_block_size,
            assume_valid,
            genesis_message: self.genesis.message.clone(),
            genesis_time: self.genesis.time,
            genesis_nonce: self.genesis.nonce,
        };
        let genesis = values.genesis_block();
        if self.max_block_size < genesis.size() || self.max_block_size > MAX_BLOCK_SIZE_LIMIT {
            return Err(invalid(
                "max_block_size",
                format!(
                    "{} bytes is outside {}..={MAX_BLOCK_SIZE_LIMIT} (a header and a coinbase, \
                     up to the largest block message)",
                    self.max_block_size,
                    genesis.size()
                ),
            ));
        }
        if check_nonce
            && check_proof_of_work(&genesis.hash(), pow_limit_bits, &values.pow_limit()).is_err()
        {
            return Err(SpecFileError::GenesisNonce {
                file: file.to_string(),
                nonce: self.genesis.nonce,
            });
        }
        Ok(values)
    }
}

/// A chain spec's values once every check of its file passed, strings owned: what
/// [`SpecValues::from_text`] makes of a file's text before [`load_spec_file`] leaks the
/// strings into a `&'static` [`ChainSpec`] (once per file content). Checking leaks nothing,
/// so neither a file that fails, nor `node chainspec --from`, nor the fuzz target, which
/// checks millions of files, leaves anything behind.
///
/// It is also what [`ChainSpecFile::from_spec`] prints through ([`SpecValues::to_file`]):
/// a loaded spec and the file printed for it cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecValues {
    name: String,
    description: String,
    magic: [u8; 4],
    p2p_port: u16,
    rpc_port: u16,
    address_version: u8,
    wif_version: u8,
    initial_subsidy: u64,
    halving_interval: u32,
    coinbase_maturity: u32,
    target_spacing: u32,
    retarget_window: Option<u32>,
    pow_limit_bits: u32,
    max_block_size: usize,
    assume_valid: Option<Hash256>,
    genesis_message: String,
    genesis_time: u32,
    genesis_nonce: u32,
}

impl SpecValues {
    /// Parses and checks a chain spec file's text (`file` names it in errors): the TOML
    /// shape, every value, the genesis block against `max_block_size` and its nonce against
    /// `pow_limit_bits`. What [`load_spec_file`] does before it leaks the strings.
    pub fn from_text(text: &str, file: &str) -> Result<SpecValues, SpecFileError> {
        ChainSpecFile::parse(text, file)?.check(file, true)
    }

    /// A spec's values as they are, unchecked: only to print the spec
    /// ([`ChainSpecFile::from_spec`]).
    fn of(spec: &ChainSpec) -> SpecValues {
        SpecValues {
            name: spec.name.to_string(),
            description: spec.description.to_string(),
            magic: spec.magic,
            p2p_port: spec.p2p_port,
            rpc_port: spec.rpc_port,
            address_version: spec.address_version,
            wif_version: spec.wif_version,
            initial_subsidy: spec.initial_subsidy,
            halving_interval: spec.halving_interval,
            coinbase_maturity: spec.coinbase_maturity,
            target_spacing: spec.target_spacing,
            retarget_window: spec.retarget_window,
            pow_limit_bits: spec.pow_limit_bits,
            max_block_size: spec.max_block_size,
            assume_valid: spec.assume_valid,
            genesis_message: spec.genesis.message.to_string(),
            genesis_time: spec.genesis.time,
            genesis_nonce: spec.genesis.nonce,
        }
    }

    /// The file form, each value written one way (hex magic, `0x` bits, `0` for no retarget
    /// window and no assume-valid block): what `node chainspec` prints.
    pub fn to_file(&self) -> ChainSpecFile {
        ChainSpecFile {
            name: self.name.clone(),
            description: self.description.clone(),
            magic: hex::encode(self.magic),
            p2p_port: self.p2p_port,
            rpc_port: self.rpc_port,
            address_version: self.address_version,
            wif_version: self.wif_version,
            initial_subsidy: self.initial_subsidy,
            halving_interval: self.halving_interval,
            coinbase_maturity: self.coinbase_maturity,
            target_spacing: self.target_spacing,
            retarget_window: self.retarget_window.unwrap_or(0),
            pow_limit_bits: format!("0x{:08x}", self.pow_limit_bits),
            max_block_size: self.max_block_size,
            assume_valid: self
                .assume_valid
                .map_or_else(|| "0".to_string(), |h| h.to_string()),
            genesis: GenesisFile {
                message: self.genesis_message.clone(),
                time: self.genesis_time,
                nonce: self.genesis_nonce,
            },
        }
    }

    /// The genesis block, as [`ChainSpec::genesis_block`] makes it from the leaked spec.
    pub fn genesis_block(&self) -> Block {
        genesis_block(
            &self.genesis_message,
            self.genesis_time,
            self.genesis_nonce,
            self.pow_limit_bits,
            self.initial_subsidy,
        )
    }

    /// The genesis block's hash.
    pub fn genesis_hash(&self) -> Hash256 {
        self.genesis_block().hash()
    }

    /// The easiest target, as a number.
    fn pow_limit(&self) -> U256 {
        target_from_compact(self.pow_limit_bits).target
    }

    /// The spec, its three strings leaked: once per process per file ([`load_spec_file`]).
    fn leak(self) -> ChainSpec {
        ChainSpec {
            name: Box::leak(self.name.into_boxed_str()),
            description: Box::leak(self.description.into_boxed_str()),
            magic: self.magic,
            p2p_port: self.p2p_port,
            rpc_port: self.rpc_port,
            address_version: self.address_version,
            wif_version: self.wif_version,
            initial_subsidy: self.initial_subsidy,
            halving_interval: self.halving_interval,
            coinbase_maturity: self.coinbase_maturity,
            target_spacing: self.target_spacing,
            retarget_window: self.retarget_window,
            pow_limit_bits: self.pow_limit_bits,
            max_block_size: self.max_block_size,
            genesis: GenesisParams {
                message: Box::leak(self.genesis_message.into_boxed_str()),
                time: self.genesis_time,
                nonce: self.genesis_nonce,
            },
            assume_valid: self.assume_valid,
        }
    }
}

/// `text` as a TOML string. Not Rust's `{:?}`, whose escapes (`\0`, `\u{1b}`) TOML does
/// not read: a description with a control character would print a file that fails to load.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Reads and checks a chain spec file, every key including the genesis nonce. The spec is
/// leaked: call it once per process per file ([`resolve`] does).
pub fn load_spec_file(path: &Path) -> Result<&'static ChainSpec, SpecFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpecFileError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    static LOADED: OnceLock<Mutex<HashMap<String, &'static ChainSpec>>> = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(spec) = loaded.get(&text) {
        return Ok(spec);
    }
    let spec: &'static ChainSpec = Box::leak(Box::new(spec_from_text(&text, &file)?));
    loaded.insert(text, spec);
    Ok(spec)
}

/// What [`load_spec_file`] makes of a file's text: [`SpecValues::from_text`], then the
/// strings leaked.
fn spec_from_text(text: &str, file: &str) -> Result<ChainSpec, SpecFileError> {
    SpecValues::from_text(text, file).map(SpecValues::leak)
}

/// The one way a `[node] chain` value becomes a spec: a built-in name (`regtest`, `dev`,
/// `testnet`), or a path to a chain spec file, relative to `base` (the profile's
/// directory) unless absolute.
pub fn resolve(chain: &str, base: &Path) -> Result<&'static ChainSpec, SpecFileError> {
    if let Ok(spec) = ChainSpec::by_name(chain) {
        return Ok(spec);
    }
    let looks_like_path = chain.contains('/') || chain.ends_with(".toml");
    let path = base.join(chain);
    if !looks_like_path || !path.is_file() {
        return Err(SpecFileError::Unknown {
            value: chain.to_string(),
            path: looks_like_path.then_some(path),
        });
    }
    load_spec_file(&path)
}

/// What `node chainspec --from FILE` reports.
#[derive(Debug, Clone)]
pub struct CheckedSpecFile {
    /// The file with a genesis nonce that meets its bits (the one given when it did).
    pub file: ChainSpecFile,
    /// The genesis hash with that nonce.
    pub genesis_hash: Hash256,
    /// Whether the nonce was searched for (the file given did not meet its bits).
    pub nonce_found: bool,
}

/// Checks a chain spec file's text; when its genesis nonce does not meet the bits, finds
/// the first one that does (on average `2^256 / target` tries: instant at regtest's
/// limit, seconds at `0x1f00ffff`). Fails when no 32-bit nonce works (change the time or
/// the message).
pub fn check_spec_text(text: &str, file: &str) -> Result<CheckedSpecFile, SpecFileError> {
    let mut parsed = ChainSpecFile::parse(text, file)?;
    let values = parsed.check(file, false)?;
    let mut genesis = values.genesis_block();
    let limit = values.pow_limit();
    let nonce_found = check_proof_of_work(&genesis.hash(), values.pow_limit_bits, &limit).is_err();
    if nonce_found {
        let nonce = find_genesis_nonce(&mut genesis.header, &limit).ok_or_else(|| {
            SpecFileError::Invalid {
                file: file.to_string(),
                key: "genesis.nonce".to_string(),
                reason: "no 32-bit nonce meets pow_limit_bits; change genesis.time or \
                         genesis.message"
                    .to_string(),
            }
        })?;
        parsed.genesis.nonce = nonce;
    }
    Ok(CheckedSpecFile {
        file: parsed,
        genesis_hash: genesis.hash(),
        nonce_found,
    })
}

/// Searches nonces from 0 for a header that meets its own bits; `None` when none does.
pub fn find_genesis_nonce(
    header: &mut crate::block::BlockHeader,
    limit: &crate::pow::U256,
) -> Option<u32> {
    (0..=u32::MAX).find(|&nonce| {
        header.nonce = nonce;
        check_proof_of_work(&header.hash(), header.bits, limit).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regtest_file() -> ChainSpecFile {
        let mut file = ChainSpecFile::from_spec(ChainSpec::by_name("regtest").unwrap());
        file.name = "mine".to_string();
        file
    }

    #[test]
    fn a_builtin_spec_round_trips_through_its_file() {
        for spec in ChainSpec::all() {
            let text = ChainSpecFile::from_spec(spec).to_toml();
            let file = ChainSpecFile::parse(&text, "x.toml").unwrap();
            assert_eq!(file, ChainSpecFile::from_spec(spec));
            let mut renamed = file.clone();
            renamed.name = format!("{}-copy", spec.name);
            let built = renamed.check("x.toml", true).unwrap().leak();
            assert_eq!(built.genesis_hash(), spec.genesis_hash(), "{}", spec.name);
            assert_eq!(
                ChainSpec {
                    name: spec.name,
                    ..built
                },
                *spec
            );
        }
    }

    #[test]
    fn control_characters_in_strings_print_as_toml_that_loads_again() {
        // `to_toml` printed strings with Rust's escapes (`"\0"`, `"\u{1b}"`), which the
        // TOML reader refuses: the chain_spec fuzz target's round trip checks it.
        let text = regtest_file()
            .to_toml()
            .replace(
                "description = \"",
                "description = \"\\u0000\\u001b\\u007f\\u0301 '\\\" \\\\ \\t",
            )
            .replace("message = \"", "message = \"\\u0301\\u0000");
        let spec = spec_from_text(&text, "c.toml").unwrap();
        assert!(spec
            .description
            .starts_with("\0\u{1b}\u{7f}\u{301} '\" \\ \t"));
        assert!(spec.genesis.message.starts_with("\u{301}\0"));
        let printed = ChainSpecFile::from_spec(&spec).to_toml();
        let again = spec_from_text(&printed, "printed.toml").unwrap();
        assert_eq!(again, spec);
        assert_eq!(again.genesis_hash(), spec.genesis_hash());
    }

    #[test]
    fn checked_values_print_as_their_leaked_spec_prints() {
        // The fuzz target checks the round trip on `SpecValues`, the node prints the leaked
        // spec: both go through `to_file`.
        let text = regtest_file().to_toml();
        let values = SpecValues::from_text(&text, "c.toml").unwrap();
        let spec = values.clone().leak();
        assert_eq!(ChainSpecFile::from_spec(&spec), values.to_file());
        assert_eq!(values.to_file().to_toml(), text);
        assert_eq!(spec.genesis_hash(), values.genesis_hash());
    }

    #[test]
    fn unknown_and_missing_keys_name_the_file_and_key() {
        let text = regtest_file().to_toml();
        let err = ChainSpecFile::parse(&format!("{text}\nextra = 1\n"), "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("extra"), "{err}");
        let without = text.replace("target_spacing = 600\n", "");
        let err = ChainSpecFile::parse(&without, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.toml") && err.contains("target_spacing"),
            "{err}"
        );
    }

    #[test]
    fn nonsense_values_name_the_key() {
        type Change = fn(&mut ChainSpecFile);
        let cases: [(&str, Change); 7] = [
            ("target_spacing", |f| f.target_spacing = 0),
            ("magic", |f| f.magic = "d9b4bef1ff".to_string()),
            ("magic", |f| f.magic = "zz".to_string()),
            ("max_block_size", |f| f.max_block_size = 100),
            ("max_block_size", |f| f.max_block_size = 5_000_000),
            ("pow_limit_bits", |f| f.pow_limit_bits = "0x00000000".into()),
            ("name", |f| f.name = "regtest".into()),
        ];
        for (key, change) in cases {
            let mut file = regtest_file();
            change(&mut file);
            let err = file.check("c.toml", true).unwrap_err().to_string();
            assert!(
                err.contains("c.toml") && err.contains(&format!("key {key}")),
                "{key}: {err}"
            );
        }
    }

    #[test]
    fn bounds_hold_at_their_edges() {
        let mut file = regtest_file();
        file.max_block_size = MAX_BLOCK_SIZE_LIMIT;
        assert!(file.check("c.toml", true).is_ok());
        file.max_block_size = MAX_BLOCK_SIZE_LIMIT + 1;
        assert!(file.check("c.toml", true).is_err());
        let mut file = regtest_file();
        file.max_block_size = file.check("c.toml", true).unwrap().genesis_block().size();
        assert!(file.check("c.toml", true).is_ok());
        file.max_block_size -= 1;
        assert!(file.check("c.toml", true).is_err());
        // The longest message keeps the genesis coinbase script within 100 bytes.
        let mut file = regtest_file();
        file.genesis.message = "m".repeat(MAX_GENESIS_MESSAGE);
        let spec = file.check("c.toml", false).unwrap();
        assert!(spec.genesis_block().txs[0].inputs[0].script_sig.len() <= 100);
        file.genesis.message.push('m');
        assert!(file.check("c.toml", false).is_err());
        let mut file = regtest_file();
        file.name = "n".repeat(32);
        assert!(file.check("c.toml", true).is_ok());
        file.name.push('n');
        assert!(file.check("c.toml", true).is_err());
    }

    #[test]
    fn a_genesis_nonce_is_found_when_missing() {
        let mut file = regtest_file();
        file.pow_limit_bits = "0x1f00ffff".to_string();
        file.genesis.nonce = 0;
        let text = file.to_toml();
        let err = file.check("c.toml", true).unwrap_err();
        assert!(matches!(err, SpecFileError::GenesisNonce { .. }), "{err}");
        let checked = check_spec_text(&text, "c.toml").unwrap();
        assert!(checked.nonce_found);
        let spec = checked.file.check("c.toml", true).unwrap();
        assert_eq!(spec.genesis_hash(), checked.genesis_hash);
    }

    #[test]
    fn resolve_takes_names_and_paths_relative_to_the_base() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve("regtest", dir.path()).unwrap().name, "regtest");
        std::fs::create_dir(dir.path().join("chains")).unwrap();
        std::fs::write(
            dir.path().join("chains/mine.toml"),
            regtest_file().to_toml(),
        )
        .unwrap();
        let first = resolve("chains/mine.toml", dir.path()).unwrap();
        assert_eq!(first.name, "mine");
        // Resolved once: the same leaked spec again.
        let second = resolve("chains/mine.toml", dir.path()).unwrap();
        assert!(std::ptr::eq(first, second));
        let err = resolve("devnet", dir.path()).unwrap_err().to_string();
        assert!(err.contains("regtest, dev, testnet"), "{err}");
        let err = resolve("chains/nope.toml", dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml does not exist"), "{err}");
    }
}
