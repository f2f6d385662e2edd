#!/usr/bin/env bash
# The clients' one-format promise, checked live: one real `rekey serve`; each client (Rust,
# Python, TypeScript) encrypts 20 envelope values and 5 stream ciphertexts with its own
# envelope cipher; every client then decrypts every file, its own included. Run by
# `scripts/test cross` after the client suites have set up their environments
# (clients/python/.venv, clients/typescript/build).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
rekey_bin="${REKEY_BIN:-$target/debug/rekey}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

driver() {
    case "$1" in
        rust) "$target/debug/examples/cross_lang" "${@:2}" ;;
        python) "$root/clients/python/.venv/bin/python" -m rekey_client._cross "${@:2}" ;;
        typescript) node "$root/clients/typescript/build/tools/cross.js" "${@:2}" ;;
    esac
}

token="cross-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
env -u REKEY_CONFIG REKEY_ADMIN_TOKEN="$token" "$rekey_bin" serve \
    --listen 127.0.0.1:0 --http-listen off --data-dir "$work/data" \
    --ready-file "$work/ready.json" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    [ -f "$work/ready.json" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done
[ -f "$work/ready.json" ] || { echo "FAIL: rekey serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
grpc="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc"])' "$work/ready.json")"
export REKEY_ADDR="http://$grpc" REKEY_TOKEN="$token"
unset REKEY_TOKEN_FILE REKEY_CA_FILE REKEY_CLIENT_CERT_FILE REKEY_CLIENT_KEY_FILE

languages=(rust python typescript)
for maker in "${languages[@]}"; do
    driver "$maker" encrypt "$work/$maker.json"
done
for maker in "${languages[@]}"; do
    for reader in "${languages[@]}"; do
        driver "$reader" decrypt "$work/$maker.json"
    done
done
echo "cross-language: every value and stream made by ${languages[*]} opened in each of them"
