//! Finding the workerd binary: `FLARESYNC_WORKERD`, else the npm package that
//! `scripts/install-workerd.sh` puts in the cache dir (`$FLARESYNC_CACHE/wrangler`).

use std::path::{Path, PathBuf};

use super::asset_services::AssetWorkerSources;

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

/// Where miniflare keeps the workers-shared asset and router workers, below `node_modules`.
const ASSET_WORKERS_DIR: &str = "miniflare/dist/src/workers/assets";

/// Cloudflare's asset and router workers from the miniflare package installed next to
/// `workerd` (wrangler depends on both), else in the cache dir; why not when they are missing.
pub fn asset_worker_sources(workerd: &Path) -> Result<AssetWorkerSources, String> {
    // <prefix>/node_modules/workerd/bin/workerd -> <prefix>/node_modules
    let beside = workerd.ancestors().nth(3).map(Path::to_path_buf);
    let cached = std::env::var_os("FLARESYNC_CACHE")
        .map(|dir| PathBuf::from(dir).join("wrangler/node_modules"));
    let dirs: Vec<PathBuf> = beside
        .into_iter()
        .chain(cached)
        .map(|modules| modules.join(ASSET_WORKERS_DIR))
        .collect();
    for dir in &dirs {
        let read = |name: &str| std::fs::read(dir.join(name));
        if let (Ok(asset_worker), Ok(router_worker)) =
            (read("assets.worker.js"), read("router.worker.js"))
        {
            return Ok(AssetWorkerSources {
                asset_worker: asset_worker.into(),
                router_worker: router_worker.into(),
            });
        }
    }
    Err(format!(
        "flaresync emulator: Workers with static assets will not serve: Cloudflare's asset \
         worker (miniflare, installed with wrangler) was not found in {}. Install wrangler with \
         crates/flaresync-emulator/scripts/install-wrangler.sh.",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    ))
}

/// The one message the emulator prints when the data plane is off; `repo_cache` as for
/// [`workerd_binary`].
pub fn data_plane_off_message(repo_cache: &Path) -> String {
    let cache = cache_dir(repo_cache);
    let prefix = std::path::absolute(&cache)
        .unwrap_or(cache)
        .join("wrangler");
    format!(
        "flaresync emulator: the data plane is off: workerd was not found ({WORKERD_ENV} is not \
         set and {} does not exist), so deployed Workers do not serve HTTP; the control plane \
         runs. To turn it on, install workerd (needs Node.js and npm): `npm install --prefix {} \
         workerd@{WORKERD_VERSION}` (what crates/flaresync-emulator/scripts/install-workerd.sh \
         does; FLARESYNC_CACHE moves the cache dir), or set {WORKERD_ENV} to a workerd binary, \
         then restart the emulator.",
        prefix.join("node_modules/workerd/bin/workerd").display(),
        prefix.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_off_message_says_where_it_looked_and_the_command_that_turns_it_on() {
        let message = data_plane_off_message(Path::new("/srv/repo/.cache"));
        if std::env::var_os("FLARESYNC_CACHE").is_none() {
            assert!(
                message.contains("/srv/repo/.cache/wrangler/node_modules/workerd/bin/workerd"),
                "{message}"
            );
            assert!(
                message.contains("npm install --prefix /srv/repo/.cache/wrangler workerd@"),
                "{message}"
            );
        }
        assert!(message.contains(WORKERD_VERSION), "{message}");
        assert!(message.contains(WORKERD_ENV), "{message}");
    }

    #[test]
    fn the_pinned_version_is_the_install_scripts() {
        let script = include_str!("../../scripts/install-workerd.sh");
        assert!(
            script.contains(&format!("WORKERD_VERSION=\"{WORKERD_VERSION}\"")),
            "install-workerd.sh and WORKERD_VERSION disagree"
        );
    }
}
