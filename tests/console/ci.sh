#!/usr/bin/env bash
# The console suite: Rekey's web console (/ui) in Debian's headless Chromium, driven by
# playwright-core (from package-lock.json; no browser download) against a real `rekey serve`
# with a SQLite application database as its migration targets (harness.mjs starts it). Fails,
# never skips, when the binary, Chromium or python3 (which writes the SQLite file) is missing.
#
#   REKEY_BIN=/path/to/rekey tests/console/ci.sh        (default: <repo>/target/debug/rekey)
#   CHROMIUM=/path/to/chromium tests/console/ci.sh      (default: /usr/bin/chromium)
#   tests/console/ci.sh --test-name-pattern=audit       (extra arguments go to node --test)
#   REKEY_KEEP_WORKDIR=1 tests/console/ci.sh            (keep each server's directory: its log,
#                                                        config and app.db, in $TMPDIR/rekey-console-*)
#
# The screenshots of docs/console/ are made by hand: node tests/console/screenshots.mjs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# A relative REKEY_BIN is relative to where ci.sh was started from.
REKEY_BIN=${REKEY_BIN:-$here/../../target/debug/rekey}
[[ $REKEY_BIN == /* ]] || REKEY_BIN=$PWD/$REKEY_BIN
export REKEY_BIN
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
cd "$here"

step() { printf '\n== console: %s (%ss)\n' "$1" "$SECONDS"; }

[[ -x $REKEY_BIN ]] || { echo "FAIL: no rekey binary at $REKEY_BIN (set REKEY_BIN)" >&2; exit 1; }
command -v node >/dev/null || { echo "FAIL: node is not installed (Node >= 20)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    { echo "FAIL: Node >= 20 is needed, this is $(node --version)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to write the SQLite application database" >&2; exit 1; }

step "Chromium ($CHROMIUM)"
if [[ ! -x $CHROMIUM ]]; then
    if [[ $CHROMIUM != /usr/bin/chromium ]]; then
        echo "FAIL: no Chromium at CHROMIUM=$CHROMIUM" >&2
        exit 1
    fi
    echo "Chromium is missing; installing Debian's package (apt-get install -y chromium)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } || {
        echo "FAIL: cannot install chromium (apt-get install -y chromium, as root); this suite never skips" >&2
        exit 1
    }
    [[ -x $CHROMIUM ]] || { echo "FAIL: no Chromium at $CHROMIUM after installing it" >&2; exit 1; }
fi
"$CHROMIUM" --version 2>/dev/null || true

step "npm ci (playwright-core from package-lock.json, no browser download)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

step "node --test: the console in headless Chromium against a real server"
# One test file at a time (each starts its own server and browser); a hung test fails after 5 min.
node --test --test-concurrency=1 --test-timeout=300000 "$@"

step "done"
