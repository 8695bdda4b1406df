#!/usr/bin/env bash
# Install the real wrangler CLI (pinned to 4.86.0, the newest 4.x that runs on Node 20) into a
# cache directory, for the emulator's wrangler interop test (tests/wrangler_interop.rs).
#
# Cache dir: $FLARESYNC_CACHE/wrangler when FLARESYNC_CACHE is set, else
# <repo root>/.cache/wrangler. Idempotent: does nothing when the pinned version is installed.
# Prints the path of the wrangler entry point (bin/wrangler.js) on success. Also runs
# install-workerd.sh (the runtime of the emulator's data plane, at the version wrangler pins).
set -euo pipefail

WRANGLER_VERSION="4.86.0"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cache-dir.sh
source "$script_dir/cache-dir.sh"
entry="$cache_dir/node_modules/wrangler/bin/wrangler.js"
install_pinned wrangler "$WRANGLER_VERSION" "" test -f "$entry"
"$script_dir/install-workerd.sh" >&2
echo "$entry"
