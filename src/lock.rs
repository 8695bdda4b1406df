//! The state-directory lock: held while a `sync` or `run` works on a state directory, since two
//! passes interleaving on one journal would each see the other's fresh versions as strangers.

use std::path::Path;

use anyhow::{Context as _, bail};

/// Released when dropped (the OS releases it when the process dies, even on `kill -9`).
pub struct StateLock {
    _file: std::fs::File,
}

/// Takes the lock of `dir` (created if missing; owner-only, like the lock file), or says who
/// holds it.
pub fn lock_state(dir: &Path) -> anyhow::Result<StateLock> {
    private_state_dir(dir)?;
    let path = dir.join("flaresync.lock");
    let file = flaresync_journal::private::open_private_file(&path)
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

/// Creates a state directory (or the clone inside it) readable by its owner only (0700),
/// whatever the umask; an existing one is tightened.
pub fn private_state_dir(dir: &Path) -> anyhow::Result<()> {
    flaresync_journal::private::create_private_dir(dir)
        .with_context(|| format!("cannot create {} (owner-only, 0700)", dir.display()))
}
