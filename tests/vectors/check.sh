#!/usr/bin/env bash
# Checks the format-v1 test vectors (ciphertext-v1.json, envelope-v1.json) with the independent
# Python implementation in check_envelope_vectors.py, in a throwaway venv holding only the pinned
# `cryptography` (requirements.txt), so the result does not depend on the machine's Python packages.
# Then, in the same venv, the Vault Transit vectors (vault-transit-v1.json): check_vault_vectors.py
# checks them independently, and make_vault_vectors.py --check confirms the file is what it makes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${REKEY_VECTORS_VENV:-${TMPDIR:-/tmp}/rekey-vectors-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >/dev/null 2>&1; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi
"$venv/bin/python" "$here/check_envelope_vectors.py"
"$venv/bin/python" "$here/check_vault_vectors.py"
"$venv/bin/python" "$here/make_vault_vectors.py" --check
