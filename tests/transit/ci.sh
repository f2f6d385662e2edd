#!/usr/bin/env bash
# The Transit suite: Rekey's Vault-Transit-compatible HTTP API driven by the unchanged hvac
# client from PyPI, against a real `rekey serve` (conftest.py starts it). Dependencies from
# requirements.lock into tests/transit/.venv. Fails, never skips, when the binary is missing.
#
#   REKEY_BIN=/path/to/rekey tests/transit/ci.sh      (default: <repo>/target/debug/rekey)
#   tests/transit/ci.sh -k batch                       (extra arguments go to pytest)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# A relative REKEY_BIN is relative to where ci.sh was started from.
REKEY_BIN=${REKEY_BIN:-$here/../../target/debug/rekey}
[[ $REKEY_BIN == /* ]] || REKEY_BIN=$PWD/$REKEY_BIN
export REKEY_BIN
cd "$here"
[[ -x $REKEY_BIN ]] || { echo "ci.sh: no rekey binary at $REKEY_BIN (set REKEY_BIN)" >&2; exit 1; }

step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "dependencies from requirements.lock"
[[ -x .venv/bin/python ]] || python3 -m venv .venv
py=$here/.venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check -r requirements.lock

step "pytest: hvac against a real server"
# A Vault address or token of the shell must not reach hvac (conftest.py also strips them
# from the server's environment).
unset VAULT_ADDR VAULT_TOKEN VAULT_NAMESPACE
PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider --durations=5 test_transit.py "$@"

step "done"
