//! Finding the workerd binary: `FLARESYNC_WORKERD`, else the npm package that
//! `scripts/install-workerd.sh` puts in the cache dir (`$FLARESYNC_CACHE/wrangler`).

use std::path::{Path, PathBuf};

/// Environment variable naming the workerd binary explicitly.
pub const WORKERD_ENV: &str = "FLARESYNC_WORKERD";

/// The workerd binary, if one is installed. `repo_cache` is the default cache dir
/// (`<repo>/.cache`) used when `FLARESYNC_CACHE` is not set.
pub fn workerd_binary(repo_cache: Option<&Path>) -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os(WORKERD_ENV) {
        let path = PathBuf::from(explicit);
        return path.is_file().then_some(path);
    }
    let cache = std::env::var_os("FLARESYNC_CACHE")
        .map(PathBuf::from)
        .or_else(|| repo_cache.map(Path::to_path_buf))?;
    let path = cache.join("wrangler/node_modules/workerd/bin/workerd");
    path.is_file().then_some(path)
}

/// The one message the emulator prints when the data plane is off.
pub fn data_plane_off_message() -> String {
    format!(
        "flaresync emulator: the data plane is off (workerd not found), deployed Workers do not \
         serve HTTP. To turn it on, install it with \
         crates/flaresync-emulator/scripts/install-workerd.sh (needs Node.js and npm; it uses \
         $FLARESYNC_CACHE or <repo>/.cache) or point {WORKERD_ENV} at a workerd binary."
    )
}
