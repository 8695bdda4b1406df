//! The state-directory lock: held while a `sync` or `run` works on a state directory, since two
//! passes interleaving on one journal would each see the other's fresh versions as strangers.

use std::path::Path;

use anyhow::{Context as _, bail};

/// Released when dropped (the OS releases it when the process dies, even on `kill -9`).
pub struct StateLock {
    _file: std::fs::File,
}

/// Takes the lock of `dir` (created if missing), or says who holds it.
pub fn lock_state(dir: &Path) -> anyhow::Result<StateLock> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("flaresync.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another flaresync (sync or run) is using the state directory {}",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
