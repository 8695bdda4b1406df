//! Finding the workerd binary: `FLARESYNC_WORKERD`, else the npm package that
//! `scripts/install-workerd.sh` puts in the cache dir (`$FLARESYNC_CACHE/wrangler`).

use std::path::{Path, PathBuf};

/// The workerd version wrangler 4.86.0 pins (also in `scripts/install-workerd.sh`).
pub const WORKERD_VERSION: &str = "1.20260426.1";

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

/// The cache dir workerd is looked for in: `$FLARESYNC_CACHE`, else `repo_cache`.
pub fn cache_dir(repo_cache: &Path) -> PathBuf {
    std::env::var_os("FLARESYNC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_cache.to_path_buf())
}

/// Installs the pinned workerd with npm into the cache dir (what `scripts/install-workerd.sh`
/// does), when npm is on the PATH. Returns the binary, or why it could not.
pub fn install_with_npm(repo_cache: &Path) -> Result<PathBuf, String> {
    let prefix = cache_dir(repo_cache).join("wrangler");
    std::fs::create_dir_all(&prefix)
        .map_err(|error| format!("cannot create {}: {error}", prefix.display()))?;
    let status = std::process::Command::new("npm")
        .args(["install", "--prefix"])
        .arg(&prefix)
        .args(["--no-audit", "--no-fund", "--no-save", "--loglevel=error"])
        .arg(format!("workerd@{WORKERD_VERSION}"))
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|error| format!("npm is not available ({error})"))?;
    if !status.success() {
        return Err(format!(
            "npm install workerd@{WORKERD_VERSION} failed ({status})"
        ));
    }
    workerd_binary(Some(repo_cache)).ok_or_else(|| {
        format!(
            "workerd@{WORKERD_VERSION} did not install into {}",
            prefix.display()
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_version_is_the_install_scripts() {
        let script = include_str!("../../scripts/install-workerd.sh");
        assert!(
            script.contains(&format!("WORKERD_VERSION=\"{WORKERD_VERSION}\"")),
            "install-workerd.sh and WORKERD_VERSION disagree"
        );
    }
}
