#!/usr/bin/env bash
# What CI checks, in order: codegen current, lint + format, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm generate >/dev/null
git diff --exit-code -- libs/contracts/src/gen
pnpm lint
pnpm typecheck
pnpm test
