#!/usr/bin/env bash
# Everything a fresh clone needs before it runs: Node 24 + pnpm (scripts/toolchain.sh), the
# workspace's packages (frozen lockfile), and the local Postgres and NATS (scripts/services.sh).
# Source it, so that PATH keeps the toolchain: `source scripts/setup.sh`.
_weft_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$_weft_here/toolchain.sh"
if [ ! -f "$_weft_here/../node_modules/.modules.yaml" ] || [ "$_weft_here/../pnpm-lock.yaml" -nt "$_weft_here/../node_modules/.modules.yaml" ]; then
  (cd "$_weft_here/.." && pnpm install --frozen-lockfile >&2)
fi
bash "$_weft_here/services.sh"
# The web console (Vite build), rebuilt when its sources are newer than the build.
_weft_console="$_weft_here/../apps/console"
if [ -d "$_weft_console/src" ] && { [ ! -f "$_weft_console/dist/index.html" ] || \
   [ -n "$(find "$_weft_console/src" "$_weft_console/index.html" -newer "$_weft_console/dist/index.html" 2>/dev/null | head -n 1)" ]; }; then
  (cd "$_weft_console" && pnpm build >/dev/null) || echo "setup: the console did not build" >&2
fi
unset _weft_console
unset _weft_here
