#!/usr/bin/env bash
# Quick start, command 1: the Weft stack (journal, coordinator, executor) on the local Postgres
# and NATS, running the pipeline demo. Arguments go to the demo (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec node examples/pipeline/src/demo.ts "$@"
