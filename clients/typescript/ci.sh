#!/usr/bin/env bash
# CI entry point of the TypeScript client (shared contract, issue #14): installs from the
# lockfiles, fails on generated code that is stale against proto/, type-checks (strict tsc),
# runs the test suite against a real `rekey serve`, runs the example against a server it
# starts, and packs the npm tarball into packed/ (gitignored).
#   REKEY_BIN   the server binary (default ../../target/debug/rekey)
set -euo pipefail
cd "$(dirname "$0")"

REKEY_BIN="$(realpath "${REKEY_BIN:-../../target/debug/rekey}")"
export REKEY_BIN
if [ ! -x "$REKEY_BIN" ]; then
    echo "FAIL: no rekey binary at $REKEY_BIN (set REKEY_BIN)" >&2
    exit 1
fi

step() { echo; echo "== clients/typescript: $*"; STEP_START=$SECONDS; }
done_step() { echo "   ($((SECONDS - STEP_START)) s)"; }

step "npm ci (from package-lock.json)"
npm ci --no-audit --no-fund --loglevel=error
done_step

step "generated code is current with proto/ (buf generate into a temporary directory, then diff)"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
npx --no-install buf generate ../../proto --template buf.gen.yaml --output "$fresh"
if ! diff -r "$fresh/src/gen" src/gen; then
    echo "FAIL: src/gen is stale against proto/; run 'npm run generate' and commit src/gen" >&2
    exit 1
fi
done_step

step "type check (tsc --noEmit, strict) of the library, tests, tools and bench"
npm run --silent typecheck
done_step

step "test suite against a real rekey serve ($REKEY_BIN)"
npm test
done_step

step "examples/typescript: npm ci, build, run against a server started for it"
(
    cd ../../examples/typescript
    npm ci --no-audit --no-fund --loglevel=error
    npm run --silent build
)
node build/tools/with-server.js -- node ../../examples/typescript/dist/app.js
done_step

step "npm pack into packed/"
rm -rf packed && mkdir packed
npm pack --pack-destination packed --loglevel=error
contents="$(tar -tzf packed/rekey-client-*.tgz)"
for file in package/dist/index.js package/dist/index.d.ts package/dist/gen/rekey/v1/key_service_pb.js package/README.md; do
    grep -qx "$file" <<<"$contents" || { echo "FAIL: the tarball lacks $file" >&2; exit 1; }
done
echo "$(wc -l <<<"$contents") files in $(ls packed/)"
done_step

echo
echo "clients/typescript: all checks passed in $SECONDS s"
