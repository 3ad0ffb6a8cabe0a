//! P2PKH addresses: base58check of a version byte and a public-key hash.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::sha256d;
use crate::script::{p2pkh_script, parse_p2pkh};

/// The longest base58 string decoded; longer input is rejected before the quadratic decode.
const MAX_BASE58_LEN: usize = 100;

/// Why a base58check string (an address or a WIF key) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Longer than any address or key.
    #[error("{len} characters is too long for base58check (at most {MAX_BASE58_LEN})")]
    TooLong {
        /// Characters in the input.
        len: usize,
    },
    /// A character outside the base58 alphabet.
    #[error("not base58: {0}")]
    Base58(String),
    /// The last four bytes are not the checksum of the rest (a typo, most likely).
    #[error("base58check checksum mismatch")]
    Checksum,
    /// The payload has the wrong length for what was expected.
    #[error("payload is {found} bytes; expected {expected}")]
    Length {
        /// Payload bytes after the version, without checksum.
        found: usize,
        /// What was expected, e.g. `"20"`.
        expected: &'static str,
    },
    /// The version byte belongs to another network.
    #[error(
        "version byte {found:#04x} belongs to another network; this chain uses {expected:#04x}"
    )]
    Version {
        /// The version byte found.
        found: u8,
        /// The chain's version byte.
        expected: u8,
    },
}

/// Base58 of `payload` followed by the first four bytes of its sha256d.
pub(crate) fn base58check_encode(payload: &[u8]) -> String {
    let mut data = payload.to_vec();
    data.extend_from_slice(&sha256d(payload).0[..4]);
    bs58::encode(data).into_string()
}

/// The payload of a base58check string (version byte included), checksum verified. An
/// input too short to hold a checksum fails the checksum check.
pub(crate) fn base58check_decode(s: &str) -> Result<Vec<u8>, AddressError> {
    if s.len() > MAX_BASE58_LEN {
        return Err(AddressError::TooLong { len: s.len() });
    }
    let mut data = bs58::decode(s)
        .into_vec()
        .map_err(|e| AddressError::Base58(e.to_string()))?;
    if data.len() < 4 {
        return Err(AddressError::Checksum);
    }
    let checksum = data.split_off(data.len() - 4);
    if sha256d(&data).0[..4] != checksum[..] {
        return Err(AddressError::Checksum);
    }
    Ok(data)
}

/// A P2PKH address: a network version byte and the hash160 of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The network's version byte (`ChainSpec::address_version`).
    pub version: u8,
    /// hash160 of the serialized public key.
    pub hash: [u8; 20],
}

impl Address {
    /// Parses `s` and checks that its version byte is `expected_version`.
    pub fn parse(s: &str, expected_version: u8) -> Result<Address, AddressError> {
        let address: Address = s.parse()?;
        if address.version != expected_version {
            return Err(AddressError::Version {
                found: address.version,
                expected: expected_version,
            });
        }
        Ok(address)
    }

    /// The address a P2PKH output script pays, or `None` for any other script.
    pub fn from_script(version: u8, script_pubkey: &[u8]) -> Option<Address> {
        parse_p2pkh(script_pubkey).map(|hash| Address { version, hash })
    }

    /// The P2PKH output script paying this address.
    pub fn script_pubkey(&self) -> Vec<u8> {
        p2pkh_script(&self.hash)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = [0u8; 21];
        payload[0] = self.version;
        payload[1..].copy_from_slice(&self.hash);
        f.write_str(&base58check_encode(&payload))
    }
}

/// Parses any version byte; use [`Address::parse`] to check it against a chain.
impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let payload = base58check_decode(s)?;
        let wrong_length = || AddressError::Length {
            found: payload.len().saturating_sub(1),
            expected: "20",
        };
        let (&version, hash) = payload.split_first().ok_or_else(wrong_length)?;
        let hash: [u8; 20] = hash.try_into().map_err(|_| wrong_length())?;
        Ok(Address { version, hash })
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn satoshis_genesis_address() {
        let hash: [u8; 20] = hex::decode("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")
            .unwrap()
            .try_into()
            .unwrap();
        let address = Address { version: 0, hash };
        assert_eq!(address.to_string(), "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
        assert_eq!(
            Address::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 0),
            Ok(address)
        );
        assert_eq!(
            Address::from_script(0, &address.script_pubkey()),
            Some(address)
        );
        assert_eq!(Address::from_script(0, &[0x51]), None);
    }

    #[test]
    fn parse_says_why_it_failed() {
        assert!(matches!(
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0".parse::<Address>(),
            Err(AddressError::Base58(_))
        ));
        assert_eq!(
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb".parse::<Address>(),
            Err(AddressError::Checksum)
        );
        assert_eq!("".parse::<Address>(), Err(AddressError::Checksum));
        assert_eq!(
            Address::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 0x6f),
            Err(AddressError::Version {
                found: 0,
                expected: 0x6f
            })
        );
        let short = base58check_encode(&[0x6f; 20]);
        assert_eq!(
            short.parse::<Address>(),
            Err(AddressError::Length {
                found: 19,
                expected: "20"
            })
        );
        let long = "1".repeat(101);
        assert_eq!(
            long.parse::<Address>(),
            Err(AddressError::TooLong { len: 101 })
        );
        let err = Address::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 0x6f).unwrap_err();
        assert_eq!(
            err.to_string(),
            "version byte 0x00 belongs to another network; this chain uses 0x6f"
        );
    }

    #[test]
    fn serde_as_string() {
        let address = Address {
            version: 0x6f,
            hash: [1; 20],
        };
        let json = serde_json::to_string(&address).unwrap();
        assert_eq!(json, format!("\"{address}\""));
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), address);
    }
}
