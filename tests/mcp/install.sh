#!/usr/bin/env bash
# Installs the npm packages of tests/mcp at the exact versions of package-lock.json (npm ci) into a
# cache directory outside the source tree, once per lockfile, and prints that directory (the one
# holding node_modules) as its only line on standard output; pass it to client_test.mjs and
# conformance.mjs as --modules. Idempotent and safe to run concurrently: a second run with the same
# lockfile only prints the directory. Needs Node.js 18+ and npm (scripts/install-deps.sh) and the
# npm registry, or an npm cache holding the locked packages.
#   bash tests/mcp/install.sh      -> e.g. /root/.cache/code-interpreter/mcp-tests/3f1c0a9d2b7e4c15
# CI_MCP_CACHE_DIR overrides the cache's root ($XDG_CACHE_HOME/code-interpreter/mcp-tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "mcp install: FAIL: $*" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
  fail "node and npm are needed (bash scripts/install-deps.sh installs them)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || fail "Node.js 18 or later is needed, this is $(node --version)"

key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
cache=${CI_MCP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/code-interpreter/mcp-tests}
dir=$cache/$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ ! -f "$dir/.installed" ]; then
  work=$(mktemp -d "$cache/.install.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work"
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  echo "mcp install: node $(node --version), npm $(npm --version); npm ci in $dir" >&2
  (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$work/npm-ci.log" 2>&1 ||
    { cat "$work/npm-ci.log" >&2; fail "npm ci failed (is the npm registry reachable?)"; }
  # The versions the lockfile pins, as installed.
  for pin in "@modelcontextprotocol/sdk 1.32.2" "@modelcontextprotocol/conformance 0.1.16"; do
    set -- $pin
    got=$(cd "$work" && node -p "require('./node_modules/$1/package.json').version")
    [ "$got" = "$2" ] || fail "$1 is $got, not $2"
  done
  touch "$work/.installed"
  rm -rf "$dir"
  mv "$work" "$dir"
  trap - EXIT
fi
touch "$dir/.installed"
# Installs of other lockfiles unused for a week.
find "$cache" -mindepth 2 -maxdepth 2 -name .installed -mtime +7 -printf '%h\0' | xargs -0r rm -rf

# The conformance suite's CLI needs Node.js 22+ (fs.globSync): this one, or the node-linux-<arch>
# package's (an optional dependency, installed on linux x64 and arm64).
if [ "$node_major" -lt 22 ] && ! ls "$dir"/node_modules/node-linux-*/bin/node >/dev/null 2>&1; then
  echo "mcp install: warning: Node.js $(node --version) and no node-linux-* package: the conformance suite cannot run" >&2
fi
echo "$dir"
