//! The data directory: created 0700, and locked so two nodes never share one.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::error::KernelError;

/// A data directory this process holds the lock of. The lock is released when the value
/// is dropped or the process dies, so a killed node never leaves a stale lock behind.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory (mode 0700) if needed and takes its lock.
    pub fn open(path: &Path) -> Result<Self, KernelError> {
        let err = |reason: String| KernelError::DataDir {
            path: path.to_path_buf(),
            reason,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| err(format!("cannot create: {e}")))?;
        let lock_path = path.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| err(format!("cannot open {}: {e}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(err(
                    "in use by another node (its lock file .lock is held)".to_string()
                ))
            }
            Err(TryLockError::Error(e)) => return Err(err(format!("cannot lock: {e}"))),
        }
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_private_and_locked_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b");
        let first = DataDir::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let second = DataDir::open(&path).unwrap_err();
        assert!(second.to_string().contains("in use"), "{second}");
        drop(first);
        DataDir::open(&path).unwrap();
    }
}
