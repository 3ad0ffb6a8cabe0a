//! The key file: private keys as WIF in JSON, created 0600 and replaced atomically (write
//! a temporary file with the same mode, then rename), so a crash leaves the old or the new
//! file, never half of one.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use node_api::chain::PrivateKey;
use serde::{Deserialize, Serialize};

use crate::error::WalletError;

#[derive(Serialize, Deserialize, Default)]
struct KeyFile {
    version: u32,
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    wif: String,
    label: String,
    created: u64,
}

/// A key and what the wallet knows of it.
pub(crate) struct Key {
    pub(crate) key: PrivateKey,
    pub(crate) label: String,
    pub(crate) created: u64,
}

pub(crate) struct KeyStore {
    path: PathBuf,
    wif_version: u8,
    pub(crate) keys: Vec<Key>,
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> WalletError {
    WalletError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl KeyStore {
    /// Opens the key file, or starts an empty store when there is none yet.
    pub(crate) fn open(path: PathBuf, wif_version: u8) -> Result<KeyStore, WalletError> {
        let mut store = KeyStore {
            path,
            wif_version,
            keys: Vec::new(),
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
        for (i, stored) in file.keys.into_iter().enumerate() {
            // The error names the entry, never its content.
            let key = PrivateKey::from_wif(&stored.wif, wif_version)
                .map_err(|_| file_error(&store.path, format!("key #{i} is not a valid WIF key")))?;
            store.keys.push(Key {
                key,
                label: stored.label,
                created: stored.created,
            });
        }
        Ok(store)
    }

    /// Adds a key and rewrites the file before returning.
    pub(crate) fn add(
        &mut self,
        key: PrivateKey,
        label: String,
        created: u64,
    ) -> Result<(), WalletError> {
        self.keys.push(Key {
            key,
            label,
            created,
        });
        if let Err(e) = self.save() {
            self.keys.pop();
            return Err(e);
        }
        Ok(())
    }

    fn save(&self) -> Result<(), WalletError> {
        let file = KeyFile {
            version: 1,
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    wif: k.key.to_wif(self.wif_version),
                    label: k.label.clone(),
                    created: k.created,
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| file_error(&self.path, e))?;
        let tmp = self.path.with_extension("tmp");
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| file_error(&tmp, e))?;
        out.write_all(text.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(|e| file_error(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| file_error(&self.path, e))?;
        Ok(())
    }
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
        store.add(key, "savings".to_string(), 7).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let store = KeyStore::open(path, 0xef).unwrap();
        assert_eq!(store.keys.len(), 1);
        assert_eq!(store.keys[0].key.public_key().hash160(), address);
        assert_eq!(store.keys[0].label, "savings");
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
}
