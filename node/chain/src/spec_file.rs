//! Chain spec files: every consensus constant of a [`ChainSpec`] in a TOML file, so a new
//! chain (bigger blocks, a faster block time, another subsidy) is a file, not a code change.
//!
//! The file is the serde form of [`ChainSpec`] itself (the helpers below write the magic,
//! the proof-of-work limit and hashes as Bitcoin tools print them), so a spec and its file
//! cannot drift apart. [`resolve`] is the one way a `[node] chain` value becomes a spec: a
//! built-in name, or a path to a file (relative to a base directory, the profile's),
//! read into an owned `Arc<ChainSpec>`; nothing is leaked or cached, so a process that
//! checks many files (`node chainspec --from`, the fuzz target) keeps nothing of them.
//!
//! Every key is required (a spec copied from another chain must say each value on
//! purpose), unknown keys are refused, and values that cannot work are errors naming the
//! file and the key: zero spacing, a magic that is not 4 bytes, a block smaller than its
//! own genesis, a genesis nonce that does not meet its bits ([`find_genesis_nonce`]
//! completes it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::hash::Hash256;
use crate::pow::check_proof_of_work;
use crate::spec::ChainSpec;
use crate::transaction::MAX_MONEY;

/// The largest `max_block_size` a file may set: the most a block message may carry and
/// the decoder's allocation bound (Bitcoin's `MAX_BLOCK_SERIALIZED_SIZE`).
pub const MAX_BLOCK_SIZE_LIMIT: usize = crate::encode::MAX_ALLOCATION;

/// The longest genesis message: with the height push it keeps the coinbase script within
/// consensus's 100 bytes.
const MAX_GENESIS_MESSAGE: usize = 90;

/// `magic`: four bytes in hex, e.g. `"d9b4bef1"`.
pub(crate) mod magic_hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(magic: &[u8; 4], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(magic))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 4], D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "key magic: {text:?} is not 4 bytes in hex (8 hex digits)"
                ))
            })
    }
}

/// `pow_limit_bits`: a compact target in hex, `"0x207fffff"`.
pub(crate) mod compact_hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    use crate::pow::target_from_compact;

    pub(crate) fn serialize<S: Serializer>(bits: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{bits:08x}"))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = String::deserialize(d)?;
        u32::from_str_radix(text.trim_start_matches("0x"), 16)
            .ok()
            .filter(|bits| target_from_compact(*bits).valid().is_some())
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "key pow_limit_bits: {text:?} is not a valid compact target (positive, in \
                     256 bits), e.g. \"0x207fffff\""
                ))
            })
    }
}

/// `retarget_window`: a number of blocks, 0 for none.
pub(crate) mod zero_is_none {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(window: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(window.unwrap_or(0))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Ok(Some(u32::deserialize(d)?).filter(|w| *w != 0))
    }
}

/// `assume_valid`: a block hash, or `"0"` for none.
pub(crate) mod hash_or_zero {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    use crate::hash::Hash256;

    pub(crate) fn serialize<S: Serializer>(
        hash: &Option<Hash256>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hash.map_or_else(|| "0".to_string(), |h| h.to_string()))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Hash256>, D::Error> {
        let text = String::deserialize(d)?;
        if text == "0" {
            return Ok(None);
        }
        text.parse::<Hash256>().map(Some).map_err(|e| {
            D::Error::custom(format!(
                "key assume_valid: {text:?} is neither a block hash nor \"0\": {e}"
            ))
        })
    }
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

impl ChainSpec {
    /// Reads the text of the chain spec file called `file` (the name is for messages):
    /// the TOML shape and each value's syntax, nothing more ([`ChainSpec::check`] follows).
    pub fn parse_toml(text: &str, file: &str) -> Result<ChainSpec, SpecFileError> {
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

    /// Reads and checks a chain spec file's text: the TOML shape, every value, the genesis
    /// block against `max_block_size` and its nonce against `pow_limit_bits`.
    pub fn from_toml(text: &str, file: &str) -> Result<ChainSpec, SpecFileError> {
        let spec = ChainSpec::parse_toml(text, file)?;
        spec.check(file, true)?;
        Ok(spec)
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
            magic = toml_string(&hex::encode(self.magic)),
            p2p_port = self.p2p_port,
            rpc_port = self.rpc_port,
            address_version = self.address_version,
            wif_version = self.wif_version,
            initial_subsidy = self.initial_subsidy,
            halving_interval = self.halving_interval,
            coinbase_maturity = self.coinbase_maturity,
            target_spacing = self.target_spacing,
            retarget_window = self.retarget_window.unwrap_or(0),
            pow_limit_bits = toml_string(&format!("0x{:08x}", self.pow_limit_bits)),
            limit = MAX_BLOCK_SIZE_LIMIT,
            max_block_size = self.max_block_size,
            max_message = MAX_GENESIS_MESSAGE,
            message = toml_string(&self.genesis.message),
            time = self.genesis.time,
            nonce = self.genesis.nonce,
            assume_valid = toml_string(&self.assume_valid.map_or_else(|| "0".to_string(), |h| h.to_string())),
        )
    }

    /// Checks every value, the genesis block's size and, when `check_nonce`, its nonce
    /// (`file` names the file in errors). The shape and the syntax of each value were
    /// checked when the file was read.
    pub fn check(&self, file: &str, check_nonce: bool) -> Result<(), SpecFileError> {
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
        if let Some(window) = self.retarget_window {
            if window == 1 {
                return Err(invalid(
                    "retarget_window",
                    "1 block cannot measure a timespan; 0 (never) or at least 2".to_string(),
                ));
            }
            if window.checked_mul(self.target_spacing).is_none() {
                return Err(invalid(
                    "retarget_window",
                    format!(
                        "{window} blocks of {} s overflow a 32-bit timespan",
                        self.target_spacing
                    ),
                ));
            }
        }
        if self.genesis.message.is_empty() || self.genesis.message.len() > MAX_GENESIS_MESSAGE {
            return Err(invalid(
                "genesis.message",
                format!(
                    "{} bytes; 1 to {MAX_GENESIS_MESSAGE}",
                    self.genesis.message.len()
                ),
            ));
        }
        let genesis = self.genesis_block();
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
            && check_proof_of_work(&genesis.hash(), self.pow_limit_bits, &self.pow_limit()).is_err()
        {
            return Err(SpecFileError::GenesisNonce {
                file: file.to_string(),
                nonce: self.genesis.nonce,
            });
        }
        Ok(())
    }
}

/// `text` as a TOML string. Not Rust's `{:?}`, whose escapes (`\0`, `\u{1b}`) TOML does
/// not read: a description with a control character would print a file that fails to load.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Reads and checks a chain spec file, every key including the genesis nonce.
pub fn load_spec_file(path: &Path) -> Result<Arc<ChainSpec>, SpecFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpecFileError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    ChainSpec::from_toml(&text, &file).map(Arc::new)
}

/// The one way a `[node] chain` value becomes a spec: a built-in name (`regtest`, `dev`,
/// `testnet`), or a path to a chain spec file, relative to `base` (the profile's
/// directory) unless absolute.
pub fn resolve(chain: &str, base: &Path) -> Result<Arc<ChainSpec>, SpecFileError> {
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
    /// The spec with a genesis nonce that meets its bits (the one given when it did).
    pub spec: ChainSpec,
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
    let mut parsed = ChainSpec::parse_toml(text, file)?;
    parsed.check(file, false)?;
    let mut genesis = parsed.genesis_block();
    let limit = parsed.pow_limit();
    let nonce_found = check_proof_of_work(&genesis.hash(), parsed.pow_limit_bits, &limit).is_err();
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
        spec: parsed,
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

    fn regtest_file() -> ChainSpec {
        let mut file = ChainSpec::clone(&ChainSpec::by_name("regtest").unwrap());
        file.name = "mine".to_string();
        file
    }

    #[test]
    fn a_builtin_spec_round_trips_through_its_file() {
        for spec in ChainSpec::all() {
            let text = spec.to_toml();
            let file = ChainSpec::parse_toml(&text, "x.toml").unwrap();
            assert_eq!(&file, &**spec);
            let mut renamed = file.clone();
            renamed.name = format!("{}-copy", spec.name);
            renamed.check("x.toml", true).unwrap();
            let built = ChainSpec::from_toml(&renamed.to_toml(), "x.toml").unwrap();
            assert_eq!(built.genesis_hash(), spec.genesis_hash(), "{}", spec.name);
            assert_eq!(
                ChainSpec {
                    name: spec.name.clone(),
                    ..built
                },
                **spec
            );
            // The serde form is the file: a generic TOML writer gives the same spec back.
            let plain = toml::to_string(&**spec).unwrap();
            assert_eq!(
                &ChainSpec::parse_toml(&plain, "plain.toml").unwrap(),
                &**spec
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
        let spec = ChainSpec::from_toml(&text, "c.toml").unwrap();
        assert!(spec
            .description
            .starts_with("\0\u{1b}\u{7f}\u{301} '\" \\ \t"));
        assert!(spec.genesis.message.starts_with("\u{301}\0"));
        let printed = spec.to_toml();
        let again = ChainSpec::from_toml(&printed, "printed.toml").unwrap();
        assert_eq!(again, spec);
        assert_eq!(again.genesis_hash(), spec.genesis_hash());
    }

    #[test]
    fn a_spec_prints_as_the_text_it_was_read_from() {
        let text = regtest_file().to_toml();
        let spec = ChainSpec::from_toml(&text, "c.toml").unwrap();
        assert_eq!(spec.to_toml(), text);
        assert_eq!(spec, regtest_file());
    }

    #[test]
    fn unknown_and_missing_keys_name_the_file_and_key() {
        let text = regtest_file().to_toml();
        let err = ChainSpec::parse_toml(&format!("{text}\nextra = 1\n"), "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.toml") && err.contains("extra"), "{err}");
        let without = text.replace("target_spacing = 600\n", "");
        let err = ChainSpec::parse_toml(&without, "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.toml") && err.contains("target_spacing"),
            "{err}"
        );
    }

    #[test]
    fn nonsense_values_name_the_key() {
        // Values a spec can hold but that cannot work: `check` names the key.
        type Change = fn(&mut ChainSpec);
        let cases: [(&str, Change); 4] = [
            ("target_spacing", |f| f.target_spacing = 0),
            ("max_block_size", |f| f.max_block_size = 100),
            ("max_block_size", |f| f.max_block_size = 5_000_000),
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
        // Text no spec can hold: reading the file names the key.
        let text = regtest_file().to_toml();
        let cases = [
            ("magic", "magic = \"d9b4bef1\"", "magic = \"d9b4bef1ff\""),
            ("magic", "magic = \"d9b4bef1\"", "magic = \"zz\""),
            ("pow_limit_bits", "\"0x207fffff\"", "\"0x00000000\""),
            (
                "assume_valid",
                "assume_valid = \"0\"",
                "assume_valid = \"00zz\"",
            ),
        ];
        for (key, from, to) in cases {
            assert!(text.contains(from), "{from}");
            let err = ChainSpec::from_toml(&text.replace(from, to), "c.toml")
                .unwrap_err()
                .to_string();
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
        file.max_block_size = file.genesis_block().size();
        assert!(file.check("c.toml", true).is_ok());
        file.max_block_size -= 1;
        assert!(file.check("c.toml", true).is_err());
        // The longest message keeps the genesis coinbase script within 100 bytes.
        let mut file = regtest_file();
        file.genesis.message = "m".repeat(MAX_GENESIS_MESSAGE);
        file.check("c.toml", false).unwrap();
        assert!(file.genesis_block().txs[0].inputs[0].script_sig.len() <= 100);
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
        file.pow_limit_bits = 0x1f00ffff;
        file.genesis.nonce = 0;
        let text = file.to_toml();
        let err = file.check("c.toml", true).unwrap_err();
        assert!(matches!(err, SpecFileError::GenesisNonce { .. }), "{err}");
        let checked = check_spec_text(&text, "c.toml").unwrap();
        assert!(checked.nonce_found);
        checked.spec.check("c.toml", true).unwrap();
        assert_eq!(checked.spec.genesis_hash(), checked.genesis_hash);
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
        // Read again, the same spec (owned: nothing kept between the two).
        let second = resolve("chains/mine.toml", dir.path()).unwrap();
        assert_eq!(first, second);
        let err = resolve("devnet", dir.path()).unwrap_err().to_string();
        assert!(err.contains("regtest, dev, testnet"), "{err}");
        let err = resolve("chains/nope.toml", dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml does not exist"), "{err}");
    }
}
