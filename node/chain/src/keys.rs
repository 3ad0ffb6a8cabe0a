//! secp256k1 keys: private keys (with WIF import and export) and public keys in Bitcoin's
//! compressed and uncompressed forms.

use std::fmt;

use secp256k1::{ecdsa, Message, SecretKey, SECP256K1};

use crate::address::{base58check_decode, base58check_encode, Address, AddressError};
use crate::hash::{hash160, Hash256};

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The 32 bytes are zero or not below the curve order.
    #[error("private key is zero or not below the secp256k1 curve order")]
    InvalidSecret,
    /// The bytes are not a compressed (33) or uncompressed (65) point on the curve.
    #[error("public key is not a valid {len}-byte compressed (02/03) or uncompressed (04) point")]
    InvalidPublicKey {
        /// Length of the rejected encoding.
        len: usize,
    },
    /// The WIF string failed base58check or belongs to another network.
    #[error("bad WIF key: {0}")]
    Wif(#[from] AddressError),
    /// A WIF payload of 33 bytes must end in the compression flag 0x01.
    #[error("bad WIF key: compression flag is {0:#04x}, expected 0x01")]
    WifCompressionFlag(u8),
}

/// A secp256k1 private key and whether its public key is used in compressed form.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    secret: SecretKey,
    compressed: bool,
}

impl PrivateKey {
    /// A fresh random key from the operating system's generator, compressed.
    pub fn generate() -> Self {
        PrivateKey {
            secret: SecretKey::new(&mut secp256k1::rand::thread_rng()),
            compressed: true,
        }
    }

    /// A key from its 32 secret bytes (big-endian scalar).
    pub fn from_bytes(bytes: &[u8; 32], compressed: bool) -> Result<Self, KeyError> {
        let secret = SecretKey::from_slice(bytes).map_err(|_| KeyError::InvalidSecret)?;
        Ok(PrivateKey { secret, compressed })
    }

    /// The 32 secret bytes. Handle with care: whoever has them can spend.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.secret_bytes()
    }

    /// Whether the public key is used in its 33-byte compressed form.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// The public key, in this key's form.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.secret.public_key(SECP256K1),
            compressed: self.compressed,
        }
    }

    /// The P2PKH address of this key's public key.
    pub fn address(&self, version: u8) -> Address {
        self.public_key().address(version)
    }

    /// Signs a 32-byte hash (deterministic RFC 6979 nonce). The result is strict DER with a
    /// low S, without a hash-type byte.
    pub fn sign_hash(&self, hash: &Hash256) -> Vec<u8> {
        let message = Message::from_digest(hash.0);
        SECP256K1
            .sign_ecdsa(&message, &self.secret)
            .serialize_der()
            .to_vec()
    }

    /// Wallet Import Format: base58check of `version`, the secret, and 0x01 when compressed.
    pub fn to_wif(&self, version: u8) -> String {
        let mut payload = Vec::with_capacity(34);
        payload.push(version);
        payload.extend_from_slice(&self.secret.secret_bytes());
        if self.compressed {
            payload.push(0x01);
        }
        base58check_encode(&payload)
    }

    /// Reads a WIF key, checking its version byte against `expected_version`.
    pub fn from_wif(wif: &str, expected_version: u8) -> Result<Self, KeyError> {
        let payload = base58check_decode(wif)?;
        let (&version, rest) = payload.split_first().ok_or(AddressError::Length {
            found: 0,
            expected: "32 or 33",
        })?;
        if version != expected_version {
            return Err(AddressError::Version {
                found: version,
                expected: expected_version,
            }
            .into());
        }
        let compressed = match rest.len() {
            32 => false,
            33 if rest[32] == 0x01 => true,
            33 => return Err(KeyError::WifCompressionFlag(rest[32])),
            found => {
                return Err(AddressError::Length {
                    found,
                    expected: "32 or 33",
                }
                .into())
            }
        };
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&rest[..32]);
        Self::from_bytes(&secret, compressed)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("secret", &"<redacted>")
            .field("compressed", &self.compressed)
            .finish()
    }
}

/// A secp256k1 public key with the form (compressed or not) it is serialized in, since
/// the address commits to the exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    key: secp256k1::PublicKey,
    compressed: bool,
}

impl PublicKey {
    /// Reads a 33-byte compressed (0x02/0x03) or 65-byte uncompressed (0x04) key. Hybrid
    /// (0x06/0x07) encodings are refused.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let compressed = match (bytes.len(), bytes.first()) {
            (33, Some(0x02 | 0x03)) => true,
            (65, Some(0x04)) => false,
            (len, _) => return Err(KeyError::InvalidPublicKey { len }),
        };
        let key = secp256k1::PublicKey::from_slice(bytes)
            .map_err(|_| KeyError::InvalidPublicKey { len: bytes.len() })?;
        Ok(PublicKey { key, compressed })
    }

    /// The serialized key: 33 bytes when compressed, else 65.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.compressed {
            self.key.serialize().to_vec()
        } else {
            self.key.serialize_uncompressed().to_vec()
        }
    }

    /// Whether the key is serialized in 33 bytes.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// hash160 of the serialized key: what a P2PKH output commits to.
    pub fn hash160(&self) -> [u8; 20] {
        hash160(&self.to_bytes())
    }

    /// The P2PKH address of this key.
    pub fn address(&self, version: u8) -> Address {
        Address {
            version,
            hash: self.hash160(),
        }
    }

    /// Whether `der` (without hash-type byte) is a valid signature of `hash` by this key.
    ///
    /// Accepts a high S, as Bitcoin's consensus does (it normalizes before verifying); low S
    /// is relay policy, see [`crate::is_low_s`]. Encodings the strict DER parser refuses are
    /// invalid; callers check BIP66 encoding first with [`crate::is_strict_der`].
    pub fn verify_hash(&self, hash: &Hash256, der: &[u8]) -> bool {
        let Ok(mut sig) = ecdsa::Signature::from_der(der) else {
            return false;
        };
        sig.normalize_s();
        SECP256K1
            .verify_ecdsa(&Message::from_digest(hash.0), &sig, &self.key)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(self.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_one(compressed: bool) -> PrivateKey {
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        PrivateKey::from_bytes(&bytes, compressed).unwrap()
    }

    #[test]
    fn addresses_of_private_key_one_match_bitcoin() {
        assert_eq!(
            key_one(true).address(0).to_string(),
            "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
        );
        assert_eq!(
            key_one(false).address(0).to_string(),
            "1EHNa6Q4Jz2uvNExL497mE43ikXhwF6kZm"
        );
        assert_eq!(
            hex::encode(key_one(true).public_key().to_bytes()),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
    }

    #[test]
    fn wif_of_private_key_one_matches_bitcoin() {
        let compressed = "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn";
        let uncompressed = "5HpHagT65TZzG1PH3CSu63k8DbpvD8s5ip4nEB3kEsreAnchuDf";
        assert_eq!(key_one(true).to_wif(0x80), compressed);
        assert_eq!(key_one(false).to_wif(0x80), uncompressed);
        assert_eq!(
            PrivateKey::from_wif(compressed, 0x80).unwrap(),
            key_one(true)
        );
        assert_eq!(
            PrivateKey::from_wif(uncompressed, 0x80).unwrap(),
            key_one(false)
        );
        assert_eq!(
            PrivateKey::from_wif(compressed, 0xef),
            Err(KeyError::Wif(AddressError::Version {
                found: 0x80,
                expected: 0xef
            }))
        );
    }

    #[test]
    fn wif_rejections() {
        let mut payload = vec![0xef];
        payload.extend_from_slice(&[0; 32]);
        assert_eq!(
            PrivateKey::from_wif(&base58check_encode(&payload), 0xef),
            Err(KeyError::InvalidSecret)
        );
        payload[32] = 1;
        payload.push(0x02);
        let wif = base58check_encode(&payload);
        assert_eq!(
            PrivateKey::from_wif(&wif, 0xef),
            Err(KeyError::WifCompressionFlag(0x02))
        );
        payload.push(0x01);
        assert!(matches!(
            PrivateKey::from_wif(&base58check_encode(&payload), 0xef),
            Err(KeyError::Wif(AddressError::Length { found: 34, .. }))
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = key_one(true);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode(key.secret_bytes())));
        assert!(!shown.contains("0000000000000001"));
    }

    #[test]
    fn public_key_forms() {
        let compressed = key_one(true).public_key();
        let uncompressed = key_one(false).public_key();
        assert_eq!(
            PublicKey::from_slice(&compressed.to_bytes()),
            Ok(compressed)
        );
        assert_eq!(
            PublicKey::from_slice(&uncompressed.to_bytes()),
            Ok(uncompressed)
        );
        let mut hybrid = uncompressed.to_bytes();
        hybrid[0] = 0x06;
        assert_eq!(
            PublicKey::from_slice(&hybrid),
            Err(KeyError::InvalidPublicKey { len: 65 })
        );
        // About half of all x coordinates are not on the curve.
        let rejected = (0u8..16)
            .filter(|x| {
                let mut bytes = [0u8; 33];
                bytes[0] = 0x02;
                bytes[32] = *x;
                PublicKey::from_slice(&bytes).is_err()
            })
            .count();
        assert!(rejected > 0);
        assert!(PublicKey::from_slice(&[0x02; 32]).is_err());
    }

    #[test]
    fn signatures_are_low_s_and_verify() {
        let key = PrivateKey::generate();
        let hash = crate::hash::sha256d(b"message");
        let der = key.sign_hash(&hash);
        let mut with_type = der.clone();
        with_type.push(0x01);
        assert!(crate::is_strict_der(&with_type));
        assert!(crate::is_low_s(&with_type));
        assert!(key.public_key().verify_hash(&hash, &der));
        assert!(!key
            .public_key()
            .verify_hash(&crate::hash::sha256d(b"other"), &der));
        assert!(!key_one(true).public_key().verify_hash(&hash, &der));
    }
}
