//! Wallet encryption: a passphrase becomes a key through Argon2id; that key seals a random
//! master key with ChaCha20-Poly1305, and the master key seals each private key. A
//! passphrase change re-seals the master key only, as Bitcoin Core's wallet does.
//!
//! A sealed value is the 12-byte nonce followed by the ciphertext and its 16-byte tag; a
//! wrong key fails the tag check, so a wrong passphrase is detected, never "decrypted"
//! into garbage. Nonces are random: 96 bits make a repeat under one key negligible for
//! the few thousand values a wallet seals.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Bytes of a nonce.
const NONCE_LEN: usize = 12;

/// A 256-bit key (the master key, or one derived from a passphrase).
pub(crate) type Key = [u8; 32];

/// Argon2id's settings, stored in the wallet file so that a wallet keeps opening after
/// the defaults change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KdfParams {
    /// Memory, KiB.
    pub(crate) memory_kib: u32,
    /// Passes over the memory.
    pub(crate) iterations: u32,
    /// Lanes.
    pub(crate) parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        // RFC 9106's second recommended setting (64 MiB, 3 passes, 4 lanes): about a
        // tenth of a second here, costly for a guesser, affordable on a small machine.
        KdfParams {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
        }
    }
}

/// Why a key could not be derived or a value opened. Never carries secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CryptoError {
    /// The stored KDF settings are out of Argon2's range.
    #[error("invalid key derivation settings: {0}")]
    Kdf(String),
    /// The tag did not match: wrong key, or the value was altered.
    #[error("wrong key or damaged value")]
    WrongKey,
}

/// Random bytes from the operating system's generator (through rand's thread RNG, which
/// is seeded from it and reseeds).
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

/// The key `passphrase` gives with `salt` under `params`.
pub(crate) fn derive_key(
    passphrase: &str,
    salt: &[u8],
    params: KdfParams,
) -> Result<Key, CryptoError> {
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| CryptoError::Kdf(e.to_string()))?;
    Ok(key)
}

/// `plaintext` sealed under `key`: nonce, then ciphertext and tag.
pub(crate) fn seal(key: &Key, plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random();
    let cipher = ChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .expect("ChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

/// What `seal` sealed, if `key` is the key it was sealed with.
pub(crate) fn open(key: &Key, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::WrongKey);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    ChaCha20Poly1305::new(key.into())
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| CryptoError::WrongKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small settings: the tests check the construction, not the cost.
    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn a_sealed_value_opens_with_its_key_only() {
        let key = derive_key("correct horse", b"saltsaltsaltsalt", FAST).unwrap();
        let sealed = seal(&key, b"private key bytes");
        assert!(!sealed
            .windows(b"private key bytes".len())
            .any(|w| w == b"private key bytes"));
        assert_eq!(open(&key, &sealed).unwrap(), b"private key bytes");
        let wrong = derive_key("battery staple", b"saltsaltsaltsalt", FAST).unwrap();
        assert_eq!(open(&wrong, &sealed), Err(CryptoError::WrongKey));
    }

    #[test]
    fn the_salt_and_the_passphrase_both_change_the_key() {
        let a = derive_key("pass", b"saltsaltsaltsalt", FAST).unwrap();
        assert_eq!(a, derive_key("pass", b"saltsaltsaltsalt", FAST).unwrap());
        assert_ne!(a, derive_key("pass", b"SALTSALTSALTSALT", FAST).unwrap());
        assert_ne!(a, derive_key("Pass", b"saltsaltsaltsalt", FAST).unwrap());
    }

    #[test]
    fn an_altered_value_is_refused() {
        let key: Key = random();
        let mut sealed = seal(&key, b"secret");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(open(&key, &sealed), Err(CryptoError::WrongKey));
        assert_eq!(open(&key, &sealed[..5]), Err(CryptoError::WrongKey));
    }
}
