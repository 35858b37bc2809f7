#!/usr/bin/env bash
# The whole suite: core and cross-package tests, then every plugin in its own environment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-core.sh
scripts/test-plugins.sh
