//! The cookie file, as bitcoind writes it: `DATADIR/.cookie` holding
//! `__cookie__:<64 hex digits>`, readable by the owner only, removed at clean shutdown.
//! Whoever can read the data directory can call the node, and nobody else.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::StartError;

/// The user name that goes with the cookie's password.
pub const COOKIE_USER: &str = "__cookie__";

/// The cookie's file name inside the data directory.
pub const COOKIE_FILE: &str = ".cookie";

/// The file beside the cookie holding the address the server is bound to (the one the
/// system chose when `listen` asks for port 0), removed at stop like the cookie.
pub const ADDRESS_FILE: &str = "rpc.addr";

/// A cookie this process wrote.
#[derive(Debug)]
pub struct Cookie {
    /// Where it was written.
    pub path: PathBuf,
    /// The password that goes with [`COOKIE_USER`].
    pub password: String,
}

impl Cookie {
    /// Writes a fresh random cookie into `datadir`, mode 0600, atomically: a reader sees
    /// either the old file or the whole new one, never a partial or world-readable one.
    pub fn generate(datadir: &Path) -> Result<Cookie, StartError> {
        let path = datadir.join(COOKIE_FILE);
        let tmp = datadir.join(format!("{COOKIE_FILE}.tmp"));
        let err = |reason: String| StartError::Cookie {
            path: path.clone(),
            reason,
        };
        let password = hex::encode(rand::random::<[u8; 32]>());
        // A leftover temporary file keeps its old mode when opened again: remove it so
        // the file is created with 0600.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(format!("cannot remove stale {}: {e}", tmp.display()))),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| err(format!("cannot create {}: {e}", tmp.display())))?;
        file.write_all(format!("{COOKIE_USER}:{password}").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| err(format!("cannot write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| err(format!("cannot rename {}: {e}", tmp.display())))?;
        Ok(Cookie { path, password })
    }

    /// Removes the file; one already gone is not an error.
    pub fn remove(&self) -> Result<(), StartError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StartError::Cookie {
                path: self.path.clone(),
                reason: format!("cannot remove: {e}"),
            }),
        }
    }
}

/// Reads a cookie file: its user and password.
pub fn read_cookie(path: &Path) -> std::io::Result<(String, String)> {
    let text = std::fs::read_to_string(path)?;
    // bitcoind reads the first line only.
    let line = text.lines().next().unwrap_or("");
    line.split_once(':')
        .map(|(user, password)| (user.to_string(), password.to_string()))
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "no ':' in the cookie file")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_private_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cookie = Cookie::generate(dir.path()).unwrap();
        assert_eq!(cookie.path, dir.path().join(".cookie"));
        let mode = std::fs::metadata(&cookie.path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(cookie.password.len(), 64);
        let (user, password) = read_cookie(&cookie.path).unwrap();
        assert_eq!(user, COOKIE_USER);
        assert_eq!(password, cookie.password);
        assert!(!dir.path().join(".cookie.tmp").exists());
        cookie.remove().unwrap();
        assert!(!cookie.path.exists());
        cookie.remove().unwrap();
    }

    #[test]
    fn a_new_cookie_replaces_the_old_and_a_stale_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".cookie.tmp");
        std::fs::write(&tmp, "junk").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        let first = Cookie::generate(dir.path()).unwrap();
        let second = Cookie::generate(dir.path()).unwrap();
        assert_ne!(first.password, second.password);
        assert_eq!(read_cookie(&second.path).unwrap().1, second.password);
        let mode = std::fs::metadata(&second.path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = Cookie::generate(Path::new("/nonexistent/dir"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dir/.cookie"), "{err}");
    }
}
