#!/usr/bin/env bash
# Quick start, command 2: the whole test suite, against the real Postgres and NATS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec pnpm test "$@"
