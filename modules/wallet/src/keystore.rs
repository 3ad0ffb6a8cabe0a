//! The key file: JSON, created 0600 and replaced atomically (write a temporary file with
//! the same mode, then rename), so a crash leaves the old or the new file, never half of
//! one.
//!
//! Format (version 2; version 1, without `encryption`, still opens):
//! - unencrypted: each key is `{wif, label, created}`;
//! - encrypted: `encryption` holds the Argon2id settings, the salt and the master key
//!   sealed under the passphrase's key; each key is `{pubkey, sealed, label, created}`,
//!   `sealed` being its 32 secret bytes and compression flag sealed under the master key
//!   (see [`crate::crypto`]). Public keys stay readable, so a locked wallet still knows
//!   its addresses, balances and history; no secret is ever written in the clear once
//!   the wallet is encrypted.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use node_api::chain::{Address, PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, KdfParams};
use crate::error::WalletError;

/// Bytes of a KDF salt (RFC 9106 recommends 16).
const SALT_LEN: usize = 16;

#[derive(Serialize, Deserialize, Default)]
struct KeyFile {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encryption: Option<Encryption>,
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Encryption {
    /// Always "argon2id"; named so that another KDF can be told apart later.
    kdf: String,
    params: KdfParams,
    /// Hex.
    salt: String,
    /// The master key sealed under the passphrase's key, hex.
    master_key: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wif: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pubkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    label: String,
    created: u64,
}

/// A key and what the wallet knows of it.
pub(crate) struct Key {
    pub(crate) public: PublicKey,
    /// hash160 of the public key, computed once: what a block pays the wallet is decided
    /// by looking every key up for every block.
    pub(crate) hash: [u8; 20],
    /// The private key; `None` while an encrypted wallet is locked.
    pub(crate) secret: Option<PrivateKey>,
    /// The secret sealed under the master key, when the wallet is encrypted.
    sealed: Option<Vec<u8>>,
    pub(crate) label: String,
    pub(crate) created: u64,
}

pub(crate) struct KeyStore {
    path: PathBuf,
    wif_version: u8,
    pub(crate) keys: Vec<Key>,
    /// The keys' hash160s with their labels: what decides what is the wallet's, read for
    /// every block the chain connects, so kept beside the keys rather than rebuilt.
    labels: Arc<HashMap<[u8; 20], String>>,
    encryption: Option<Encryption>,
    /// The master key while an encrypted wallet is unlocked.
    master: Option<crypto::Key>,
    /// Unix seconds when the current unlock ends; 0 while locked.
    pub(crate) unlocked_until: u64,
    /// Counts unlocks, so that a relock timer ends only the unlock that started it.
    pub(crate) unlock_generation: u64,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> WalletError {
    WalletError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl Key {
    fn new(
        public: PublicKey,
        secret: Option<PrivateKey>,
        sealed: Option<Vec<u8>>,
        label: String,
        created: u64,
    ) -> Key {
        Key {
            hash: public.hash160(),
            public,
            secret,
            sealed,
            label,
            created,
        }
    }
}

/// The sealed form of a key's secret: 32 bytes, then 1 when compressed.
fn secret_plaintext(key: &PrivateKey) -> Vec<u8> {
    let mut bytes = key.secret_bytes().to_vec();
    bytes.push(u8::from(key.is_compressed()));
    bytes
}

fn secret_from_plaintext(bytes: &[u8]) -> Option<PrivateKey> {
    let (secret, flag) = bytes.split_at_checked(32)?;
    let secret: &[u8; 32] = secret.try_into().ok()?;
    match flag {
        [compressed] => PrivateKey::from_bytes(secret, *compressed == 1).ok(),
        _ => None,
    }
}

impl KeyStore {
    /// Opens the key file, or starts an empty store when there is none yet. An encrypted
    /// wallet opens locked.
    pub(crate) fn open(path: PathBuf, wif_version: u8) -> Result<KeyStore, WalletError> {
        let mut store = KeyStore {
            path,
            wif_version,
            keys: Vec::new(),
            labels: Arc::default(),
            encryption: None,
            master: None,
            unlocked_until: 0,
            unlock_generation: 0,
        };
        if !store.path.exists() {
            return Ok(store);
        }
        let text = std::fs::read_to_string(&store.path).map_err(|e| file_error(&store.path, e))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
            file_error(
                &store.path,
                format!("not a wallet file (line {})", e.line()),
            )
        })?;
        store.encryption = file.encryption;
        for (i, stored) in file.keys.into_iter().enumerate() {
            // Errors name the entry, never its content.
            let bad = |what: &str| file_error(&store.path, format!("key #{i} {what}"));
            let key = if store.encryption.is_some() {
                let public = stored
                    .pubkey
                    .as_deref()
                    .and_then(|h| hex::decode(h).ok())
                    .and_then(|b| PublicKey::from_slice(&b).ok())
                    .ok_or_else(|| bad("has no valid public key"))?;
                let sealed = stored
                    .sealed
                    .as_deref()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| bad("has no sealed secret"))?;
                Key::new(public, None, Some(sealed), stored.label, stored.created)
            } else {
                let secret = stored
                    .wif
                    .as_deref()
                    .and_then(|w| PrivateKey::from_wif(w, wif_version).ok())
                    .ok_or_else(|| bad("is not a valid WIF key"))?;
                Key::new(
                    secret.public_key(),
                    Some(secret),
                    None,
                    stored.label,
                    stored.created,
                )
            };
            store.keys.push(key);
        }
        store.labels = Arc::new(
            store
                .keys
                .iter()
                .map(|k| (k.hash, k.label.clone()))
                .collect(),
        );
        Ok(store)
    }

    /// The keys' hash160s with their labels.
    pub(crate) fn labels(&self) -> Arc<HashMap<[u8; 20], String>> {
        self.labels.clone()
    }

    /// Whether the wallet is encrypted.
    pub(crate) fn is_encrypted(&self) -> bool {
        self.encryption.is_some()
    }

    /// Whether private keys are out of reach (encrypted and not unlocked).
    pub(crate) fn is_locked(&self) -> bool {
        self.is_encrypted() && self.master.is_none()
    }

    /// The private key of `address`: `NotMine` when the wallet has no such key, `Locked`
    /// while an encrypted wallet is locked.
    pub(crate) fn secret(&self, address: &Address, version: u8) -> Result<PrivateKey, WalletError> {
        let key = self
            .keys
            .iter()
            .find(|k| version == address.version && k.hash == address.hash)
            .ok_or_else(|| WalletError::NotMine(address.to_string()))?;
        key.secret.clone().ok_or(WalletError::Locked)
    }

    /// Adds a key and rewrites the file before returning. An encrypted wallet must be
    /// unlocked: the new key is sealed before it is written.
    pub(crate) fn add(
        &mut self,
        key: PrivateKey,
        label: String,
        created: u64,
    ) -> Result<(), WalletError> {
        let sealed = match (&self.encryption, &self.master) {
            (None, _) => None,
            (Some(_), Some(master)) => Some(crypto::seal(master, &secret_plaintext(&key))),
            (Some(_), None) => return Err(WalletError::Locked),
        };
        self.keys.push(Key::new(
            key.public_key(),
            Some(key),
            sealed,
            label,
            created,
        ));
        if let Err(e) = self.save() {
            self.keys.pop();
            return Err(e);
        }
        let added = self.keys.last().expect("just added");
        Arc::make_mut(&mut self.labels).insert(added.hash, added.label.clone());
        Ok(())
    }

    /// Encrypts every key under `passphrase` with a new random master key, rewrites the
    /// file without any clear secret, and leaves the wallet locked (as Core does).
    pub(crate) fn encrypt(&mut self, passphrase: &str) -> Result<(), WalletError> {
        if self.is_encrypted() {
            return Err(WalletError::AlreadyEncrypted);
        }
        let master: crypto::Key = crypto::random();
        let encryption = seal_master(&master, passphrase)?;
        let sealed: Vec<Vec<u8>> = self
            .keys
            .iter()
            .map(|k| {
                k.secret
                    .as_ref()
                    .map(|s| crypto::seal(&master, &secret_plaintext(s)))
                    .ok_or(WalletError::Locked)
            })
            .collect::<Result<_, _>>()?;
        for (key, sealed) in self.keys.iter_mut().zip(sealed) {
            key.sealed = Some(sealed);
        }
        self.encryption = Some(encryption);
        if let Err(e) = self.save() {
            self.encryption = None;
            for key in &mut self.keys {
                key.sealed = None;
            }
            return Err(e);
        }
        self.lock();
        Ok(())
    }

    /// Opens the master key with `passphrase` and every private key with it.
    pub(crate) fn unlock(&mut self, passphrase: &str) -> Result<(), WalletError> {
        let encryption = self
            .encryption
            .as_ref()
            .ok_or(WalletError::NotEncrypted("walletpassphrase"))?;
        let master = open_master(encryption, passphrase)?;
        let mut secrets = Vec::with_capacity(self.keys.len());
        for (i, key) in self.keys.iter().enumerate() {
            let plain = key
                .sealed
                .as_deref()
                .map(|s| crypto::open(&master, s))
                .and_then(Result::ok)
                .and_then(|p| secret_from_plaintext(&p))
                .filter(|s| s.public_key() == key.public)
                .ok_or_else(|| file_error(&self.path, format!("key #{i} does not open")))?;
            secrets.push(plain);
        }
        for (key, secret) in self.keys.iter_mut().zip(secrets) {
            key.secret = Some(secret);
        }
        self.master = Some(master);
        self.unlock_generation += 1;
        Ok(())
    }

    /// Forgets the master key and every private key (an unencrypted wallet is unchanged).
    pub(crate) fn lock(&mut self) {
        if !self.is_encrypted() {
            return;
        }
        self.master = None;
        self.unlocked_until = 0;
        for key in &mut self.keys {
            key.secret = None;
        }
    }

    /// Re-seals the master key under `new` once `old` opens it; the keys' sealed secrets
    /// stay as they are. The lock state does not change.
    pub(crate) fn change_passphrase(&mut self, old: &str, new: &str) -> Result<(), WalletError> {
        let encryption = self
            .encryption
            .as_ref()
            .ok_or(WalletError::NotEncrypted("walletpassphrasechange"))?;
        let master = open_master(encryption, old)?;
        let previous = self.encryption.replace(seal_master(&master, new)?);
        if let Err(e) = self.save() {
            self.encryption = previous;
            return Err(e);
        }
        Ok(())
    }

    /// Copies the file as stored (sealed secrets stay sealed) to `destination`, 0600.
    pub(crate) fn backup(&self, destination: &Path) -> Result<(), WalletError> {
        write_private(destination, &self.file_text()?)
    }

    fn file_text(&self) -> Result<String, WalletError> {
        let encrypted = self.is_encrypted();
        let file = KeyFile {
            version: 2,
            encryption: self.encryption.clone(),
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    wif: match (&k.secret, encrypted) {
                        (Some(secret), false) => Some(secret.to_wif(self.wif_version)),
                        _ => None,
                    },
                    pubkey: encrypted.then(|| hex::encode(k.public.to_bytes())),
                    sealed: k.sealed.as_ref().filter(|_| encrypted).map(hex::encode),
                    label: k.label.clone(),
                    created: k.created,
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).map_err(|e| file_error(&self.path, e))
    }

    fn save(&self) -> Result<(), WalletError> {
        let text = self.file_text()?;
        let tmp = self.path.with_extension("tmp");
        write_private(&tmp, &text)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| file_error(&self.path, e))?;
        Ok(())
    }
}

/// `encryption` for `master` sealed under `passphrase` with a new salt.
fn seal_master(master: &crypto::Key, passphrase: &str) -> Result<Encryption, WalletError> {
    let params = KdfParams::default();
    let salt: [u8; SALT_LEN] = crypto::random();
    let key = crypto::derive_key(passphrase, &salt, params)
        .map_err(|e| WalletError::Encryption(e.to_string()))?;
    Ok(Encryption {
        kdf: "argon2id".to_string(),
        params,
        salt: hex::encode(salt),
        master_key: hex::encode(crypto::seal(&key, master)),
    })
}

/// The master key, if `passphrase` is the wallet's.
fn open_master(encryption: &Encryption, passphrase: &str) -> Result<crypto::Key, WalletError> {
    let salt = hex::decode(&encryption.salt).map_err(|_| WalletError::WrongPassphrase)?;
    let sealed = hex::decode(&encryption.master_key).map_err(|_| WalletError::WrongPassphrase)?;
    let key = crypto::derive_key(passphrase, &salt, encryption.params)
        .map_err(|e| WalletError::Encryption(e.to_string()))?;
    let master = crypto::open(&key, &sealed).map_err(|_| WalletError::WrongPassphrase)?;
    master.try_into().map_err(|_| WalletError::WrongPassphrase)
}

/// Writes `text` to `path`, created 0600 (and truncated if it exists), flushed to disk.
fn write_private(path: &Path, text: &str) -> Result<(), WalletError> {
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_error(path, e))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_survive_a_reopen_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.json");
        let mut store = KeyStore::open(path.clone(), 0xef).unwrap();
        let key = PrivateKey::generate();
        let address = key.public_key().hash160();
        let before = store.labels();
        store.add(key, "savings".to_string(), 7).unwrap();
        // What the chain follower reads: the added key, without changing a map handed
        // out before.
        assert!(before.is_empty());
        assert_eq!(
            store.labels().get(&address).map(String::as_str),
            Some("savings")
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let store = KeyStore::open(path, 0xef).unwrap();
        assert_eq!(store.keys.len(), 1);
        assert_eq!(store.keys[0].public.hash160(), address);
        assert_eq!(store.keys[0].label, "savings");
        assert_eq!(
            store.labels().get(&address).map(String::as_str),
            Some("savings")
        );
    }

    #[test]
    fn a_corrupt_file_is_refused_without_showing_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.json");
        std::fs::write(
            &path,
            r#"{"version":1,"keys":[{"wif":"secretsecret","label":"","created":0}]}"#,
        )
        .unwrap();
        let err = KeyStore::open(path, 0xef).err().unwrap().to_string();
        assert!(err.contains("key #0"), "{err}");
        assert!(!err.contains("secretsecret"), "{err}");
    }

    #[test]
    fn encryption_round_trip_wrong_passphrase_and_passphrase_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallet.json");
        let mut store = KeyStore::open(path.clone(), 0xef).unwrap();
        let key = PrivateKey::generate();
        let wif = key.to_wif(0xef);
        let address = key.address(0x6f);
        store.add(key.clone(), String::new(), 1).unwrap();
        store.encrypt("first pass").unwrap();
        assert!(store.is_locked());
        assert!(matches!(
            store.secret(&address, 0x6f),
            Err(WalletError::Locked)
        ));
        assert!(matches!(
            store.add(PrivateKey::generate(), String::new(), 2),
            Err(WalletError::Locked)
        ));

        // Nothing secret is on disk: no WIF, no raw secret bytes (in hex or not).
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains(&wif));
        assert!(!text.contains(&hex::encode(key.secret_bytes())));
        assert!(!bytes.windows(32).any(|w| w == key.secret_bytes()));

        let mut reopened = KeyStore::open(path.clone(), 0xef).unwrap();
        assert!(reopened.is_locked());
        assert!(matches!(
            reopened.unlock("wrong pass"),
            Err(WalletError::WrongPassphrase)
        ));
        reopened.unlock("first pass").unwrap();
        assert_eq!(reopened.secret(&address, 0x6f).unwrap(), key);

        reopened
            .change_passphrase("first pass", "second pass")
            .unwrap();
        reopened.lock();
        let mut again = KeyStore::open(path, 0xef).unwrap();
        assert!(matches!(
            again.unlock("first pass"),
            Err(WalletError::WrongPassphrase)
        ));
        again.unlock("second pass").unwrap();
        assert_eq!(again.secret(&address, 0x6f).unwrap(), key);
        assert!(matches!(
            again.encrypt("x"),
            Err(WalletError::AlreadyEncrypted)
        ));
    }
}
