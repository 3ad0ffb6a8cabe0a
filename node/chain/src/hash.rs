//! Hashes as Bitcoin uses them: double SHA-256 for block and transaction ids, and
//! RIPEMD-160 of SHA-256 (hash160) for public keys.

use std::fmt;
use std::str::FromStr;

use ripemd::Ripemd160;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A 32-byte hash in Bitcoin's internal byte order (the order `sha256d` produces).
///
/// Shown and parsed as Bitcoin shows it: the bytes reversed, in lowercase hex, so a block
/// hash reads with its leading zeros first. Ordering compares the internal bytes, which is
/// not numeric order; use `pow::hash_to_u256` for numeric comparisons.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256(pub [u8; 32]);

impl Hash256 {
    /// The all-zero hash (the "previous block" of a genesis block, the null outpoint's txid).
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// The hash as bytes in internal order.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }
}

/// The double SHA-256 of `data`.
pub fn sha256d(data: &[u8]) -> Hash256 {
    let first = Sha256::digest(data);
    Hash256(Sha256::digest(first).into())
}

/// RIPEMD-160 of SHA-256 of `data`: the hash a P2PKH output commits to.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut reversed = self.0;
        reversed.reverse();
        f.write_str(&hex::encode(reversed))
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({self})")
    }
}

/// Why a string is not a hash in Bitcoin's reversed-hex form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HashParseError {
    /// The string does not have the 64 characters of 32 hex bytes.
    #[error("a hash is 64 hex characters; got {0}")]
    Length(usize),
    /// A character is not a hex digit.
    #[error("a hash is hex: {0}")]
    Hex(#[from] hex::FromHexError),
}

impl FromStr for Hash256 {
    type Err = HashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(HashParseError::Length(s.len()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)?;
        bytes.reverse();
        Ok(Hash256(bytes))
    }
}

impl Serialize for Hash256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256d_of_empty_input() {
        // Known value: sha256(sha256("")).
        assert_eq!(
            hex::encode(sha256d(b"").0),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }

    #[test]
    fn hash160_of_empty_input() {
        assert_eq!(
            hex::encode(hash160(b"")),
            "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"
        );
    }

    #[test]
    fn display_reverses_and_parses_back() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x6f;
        bytes[31] = 0x01;
        let h = Hash256(bytes);
        let shown = h.to_string();
        assert!(shown.starts_with("01"));
        assert!(shown.ends_with("6f"));
        assert_eq!(shown.parse::<Hash256>().unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("Hash256({shown})"));
    }

    #[test]
    fn parse_rejects_bad_strings() {
        assert_eq!("00".parse::<Hash256>(), Err(HashParseError::Length(2)));
        let bad = "g".repeat(64);
        assert!(matches!(
            bad.parse::<Hash256>(),
            Err(HashParseError::Hex(_))
        ));
    }

    #[test]
    fn serde_uses_reversed_hex() {
        let h = sha256d(b"abc");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{h}\""));
        assert_eq!(serde_json::from_str::<Hash256>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hash256>("\"zz\"").is_err());
    }
}
