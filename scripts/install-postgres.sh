#!/usr/bin/env bash
# Installs PostgreSQL's server programs (initdb, postgres) from Debian's packages when they are
# missing: the PostgreSQL journal and lease tests start a throwaway server of their own with them
# (crates/flaresync-journal/src/test_postgres.rs), on a free loopback port in a temporary
# directory, as the `postgres` user when run as root. No Docker, no system service.
# Usage: scripts/install-postgres.sh   (idempotent; prints where the programs are)
set -euo pipefail

find_bin() {
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$newest" && -x "$newest/initdb" && -x "$newest/postgres" ]]; then
    echo "$newest"
  elif command -v initdb >/dev/null && command -v postgres >/dev/null; then
    dirname "$(command -v initdb)"
  fi
}

bin=$(find_bin)
if [[ -z "$bin" ]]; then
  if ! command -v apt-get >/dev/null; then
    echo "install-postgres: no PostgreSQL server and no apt-get; install PostgreSQL (initdb, postgres) or set FLARESYNC_SKIP_POSTGRES=1" >&2
    exit 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-postgres: PostgreSQL is missing; run this script as root (apt-get install postgresql) or set FLARESYNC_SKIP_POSTGRES=1" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The package's own cluster is not used (the tests make their own): skip creating it.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/flaresync-no-main.conf
  apt-get install -y -qq postgresql >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null; }
  bin=$(find_bin)
fi
if [[ -z "$bin" ]]; then
  echo "install-postgres: PostgreSQL was installed but initdb/postgres are not found" >&2
  exit 1
fi
# Root runs the server as `postgres` (PostgreSQL refuses root); the package creates that user.
if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi
echo "install-postgres: $("$bin/postgres" --version) in $bin"
