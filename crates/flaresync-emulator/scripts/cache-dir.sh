# Sourced by the install scripts: the npm cache tree they share and its package.json.
# Sets cache_dir to $FLARESYNC_CACHE/wrangler when FLARESYNC_CACHE is set, else
# <repo root>/.cache/wrangler; `ensure_cache_dir` creates it as a private npm project.
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
