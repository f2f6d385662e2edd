#!/usr/bin/env bash
# CI of the Python client: dependencies from the lockfile into .venv, stale generated code,
# ruff and mypy, the test suite against a real `rekey serve`, the wheel, and the example app run
# from that wheel against a server it starts.
#
#   REKEY_BIN=/path/to/rekey clients/python/ci.sh      (default: <repo>/target/debug/rekey)
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)

REKEY_BIN=${REKEY_BIN:-../../target/debug/rekey}
REKEY_BIN=$(cd "$(dirname "$REKEY_BIN")" && pwd)/$(basename "$REKEY_BIN")
export REKEY_BIN
[[ -x $REKEY_BIN ]] || { echo "ci.sh: no rekey binary at $REKEY_BIN (set REKEY_BIN)" >&2; exit 1; }

step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step "dependencies from requirements-dev.lock"
[[ -x .venv/bin/python ]] || python3 -m venv .venv
py=$here/.venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock

step "generated code is up to date with proto/"
"$py" scripts/generate.py --out "$tmp/_proto"
if ! diff -r -x __pycache__ src/rekey_client/_proto "$tmp/_proto"; then
    echo "ci.sh: src/rekey_client/_proto is stale: run 'python scripts/generate.py' and commit" >&2
    exit 1
fi

step "ruff"
"$py" -m ruff check .
"$py" -m ruff format --check .

step "mypy (strict)"
"$py" -m mypy

step "pytest against a real server"
"$py" -m pytest -q -p no:cacheprovider --durations=5

step "wheel"
rm -rf dist
"$py" -m build --wheel --no-isolation --outdir dist .
"$py" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall dist/rekey_client-*.whl

step "examples/python against a server it starts (the installed wheel, not src/)"
(
    cd "$tmp"
    unset PYTHONPATH
    RECORDS_DB="$tmp/records.db" "$py" -m rekey_client.testing run -- "$py" "$here/../../examples/python/records.py" demo
)

step "done"
