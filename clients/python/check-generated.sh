#!/usr/bin/env bash
# Fails when weft_client/gen differs from what generate.sh makes of proto/ now (CI runs this).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$here/generate.sh" "$tmp/gen"
if ! diff -r -x __pycache__ "$here/weft_client/gen" "$tmp/gen"; then
  echo "check-generated.sh: clients/python/weft_client/gen is stale; run bash clients/python/generate.sh and commit" >&2
  exit 1
fi
echo "clients/python/weft_client/gen is up to date"
