#!/usr/bin/env bash
# Make sure the `workerd` runtime (npm package `workerd`) is present in the cache directory, at the
# exact version the pinned wrangler (4.86.0) depends on. The emulator's data plane runs deployed
# Workers on it (src/dataplane); without it the emulator serves its control plane only.
#
# Cache dir: $FLARESYNC_CACHE/wrangler when FLARESYNC_CACHE is set, else <repo root>/.cache/wrangler
# (the same tree install-wrangler.sh fills: wrangler already pulls workerd in as a dependency, so
# this usually only checks). Idempotent. Prints the path of the workerd binary on success.
set -euo pipefail

# The version wrangler 4.86.0 pins in its package.json ("workerd": "1.20260426.1").
WORKERD_VERSION="1.20260426.1"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cache-dir.sh
source "$script_dir/cache-dir.sh"
binary="$cache_dir/node_modules/workerd/bin/workerd"
install_pinned workerd "$WORKERD_VERSION" \
  "(its platform package @cloudflare/workerd-<os>-<arch> may be missing)" "$binary" --version
echo "$binary"
