# Sourced by the install scripts: the npm cache tree they share and its package.json.
# Sets cache_dir to $FLARESYNC_CACHE/wrangler when FLARESYNC_CACHE is set, else
# <repo root>/.cache/wrangler; `ensure_cache_dir` creates it as a private npm project;
# `install_pinned` puts one npm package into it at an exact version.
# (script_dir must be set by the caller.)
repo_root="$(cd "$script_dir/../../.." && pwd)"
if [[ -n "${FLARESYNC_CACHE:-}" ]]; then
  cache_dir="$FLARESYNC_CACHE/wrangler"
else
  cache_dir="$repo_root/.cache/wrangler"
fi

ensure_cache_dir() {
  mkdir -p "$cache_dir"
  if [[ ! -f "$cache_dir/package.json" ]]; then
    printf '{\n  "name": "flaresync-wrangler-cache",\n  "private": true\n}\n' >"$cache_dir/package.json"
  fi
}

# The version of the package whose package.json is $1 (fails when absent).
package_version() {
  [[ -f "$1" ]] || return 1
  node -e 'process.stdout.write(require(process.argv[1]).version)' "$1"
}

require_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "$1: node and npm are required (Node >= 20)" >&2
    exit 1
  fi
}

# Makes sure npm package $1 is installed in the cache at exactly version $2 and that the command
# after $3 (it checks that the installed package works, e.g. `test -f <entry>`) succeeds:
# installs it when not, and exits 1 when it still is not, with the hint $3 when not empty.
# Messages name the calling script, install-$1.sh.
install_pinned() {
  local name="$1" version="$2" hint="$3"
  shift 3
  local who="install-$name.sh"
  local pkg="$cache_dir/node_modules/$name/package.json"
  require_node "$who"
  if [[ "$(package_version "$pkg" 2>/dev/null || true)" == "$version" ]] && "$@" >/dev/null 2>&1; then
    return 0
  fi
  ensure_cache_dir
  echo "$who: installing $name@$version into $cache_dir" >&2
  npm install --prefix "$cache_dir" --no-audit --no-fund --no-save --loglevel=error \
    "$name@$version" >&2
  if [[ "$(package_version "$pkg")" != "$version" ]] || ! "$@" >/dev/null 2>&1; then
    echo "$who: $name@$version did not install into $cache_dir" >&2
    if [[ -n "$hint" ]]; then
      echo "$who: $hint" >&2
    fi
    exit 1
  fi
}
