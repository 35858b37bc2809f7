#!/usr/bin/env bash
# Each plugin is tested in its own environment (frameworks conflict with each other).
set -euo pipefail
cd "$(dirname "$0")/.."
plugins=("$@")
if [ ${#plugins[@]} -eq 0 ]; then
  for d in packages/kitelogik-*/; do
    name=$(basename "$d"); name=${name#kitelogik-}
    [ "$name" = core ] && continue
    plugins+=("$name")
  done
fi
[ ${#plugins[@]} -eq 0 ] && { echo "no plugins"; exit 0; }
failed=()
for p in "${plugins[@]}"; do
  scripts/plugin-env.sh "$p" || failed+=("$p")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "plugin test environments failed: ${failed[*]}" >&2
  exit 1
fi
