#!/usr/bin/env bash
# Core and cross-package tests, with the real services they need installed first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-services.sh
scripts/uv.sh run --no-sync pytest -q -p no:cacheprovider "$@"
