#!/usr/bin/env bash
# docs/openapi.json through standard tools from npm, at the exact versions of package-lock.json:
#   1. @apidevtools/swagger-parser validates it (OpenAPI 3.0's JSON Schema and semantic checks);
#   2. openapi-typescript-codegen generates a TypeScript client from it (fetch);
#   3. TypeScript compiles that client with smoke.ts, an application's use of it, in strict mode;
#   4. smoke.cjs runs the compiled client against a stand-in server on 127.0.0.1 and checks that
#      every operationId of the document has its method.
# Everything is installed (npm ci) and generated in a temporary directory, removed at the end: the
# tree gets no node_modules. Needs Node.js 18+ and npm (scripts/install-deps.sh installs Debian's)
# and the npm registry (or a cache holding the locked packages). Run by ctest (test openapi_tools,
# labels build and openapi) or by hand:
#   bash tests/openapi/check.sh [DOCUMENT]     (default docs/openapi.json)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
document=$(realpath "${1:-$root/docs/openapi.json}")

fail() { echo "openapi check: FAIL: $*" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
  fail "node and npm are needed (bash scripts/install-deps.sh installs them)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || fail "Node.js 18 or later is needed, this is $(node --version)"
[ -f "$document" ] || fail "no document $document"

work=$(mktemp -d "${TMPDIR:-/tmp}/ci-openapi-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here"/package.json "$here"/package-lock.json "$here"/validate.mjs "$here"/tsconfig.json \
  "$here"/smoke.ts "$here"/smoke.cjs "$work"/
cd "$work"

echo "openapi check: node $(node --version), npm $(npm --version); npm ci in $work"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1 ||
  { cat npm-ci.log >&2; fail "npm ci failed (is the npm registry reachable?)"; }
bin=$work/node_modules/.bin

node validate.mjs "$document" || fail "the validator refused $document"

"$bin"/openapi --input "$document" --output client --client fetch --name CodeInterpreterClient ||
  fail "openapi-typescript-codegen could not generate a client from $document"
echo "generate: openapi-typescript-codegen $(node -p 'require("openapi-typescript-codegen/package.json").version') wrote $(find client -name '*.ts' | wc -l) files"

"$bin"/tsc -p tsconfig.json || fail "the generated client does not compile (tsc $("$bin"/tsc --version))"
echo "compile: $("$bin"/tsc --version) compiled the client and smoke.ts in strict mode"

node smoke.cjs "$document" || fail "the compiled client did not work against the stand-in server"
echo "openapi check: ok"
