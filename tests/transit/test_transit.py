"""Rekey's Vault-Transit-compatible HTTP API driven by the unchanged hvac client from PyPI, as an
application written for Vault would drive it: hvac's own methods, URLs and exception types
(400 InvalidRequest, 403 Forbidden, 404 InvalidPath), the X-Vault-Token header.

Keys: one session server holds the runbook's five. Tests that change a key's versions each use
their own key, so their assertions never depend on the order tests run in:
TOKEN_ENCRYPTION is never rotated; DATABASE_ENCRYPTION is rotated (rotate, rewrap);
FILE_ENCRYPTION has versions retired (min_decryption_version); SESSION_ENCRYPTION makes data
keys; API_SIGNATURE is the HMAC key.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import uuid
from typing import Any

import hvac
import pytest
import requests
from hvac.exceptions import Forbidden, InvalidPath, InvalidRequest, VaultError

from conftest import ENCRYPTION_KEYS, HMAC_KEY, RUNBOOK_KEYS, Server

KEY = "TOKEN_ENCRYPTION"  # never rotated
ROTATED = "DATABASE_ENCRYPTION"  # rotated by the rotate and rewrap tests
RETIRING = "FILE_ENCRYPTION"  # versions retired by the min_decryption_version test
DATAKEY = "SESSION_ENCRYPTION"
UNKNOWN = "NO_SUCH_TRANSIT_KEY"
MOUNT = "transit"

VAULT_VALUE = re.compile(r"^vault:v(?P<version>[1-9][0-9]*):(?P<b64>[A-Za-z0-9+/]+={0,2})$")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def version_of(value: str) -> int:
    """The N of a `vault:v<N>:<base64>` value (and checks the form)."""
    match = VAULT_VALUE.match(value)
    assert match, f"not in Vault's form vault:v<N>:<base64>: {value!r}"
    unb64(match["b64"])
    return int(match["version"])


def transit(client: hvac.Client) -> Any:
    return client.secrets.transit


def data_of(response: Any) -> dict[str, Any]:
    """The `data` of a 200 answer (hvac returns the parsed JSON for a 200)."""
    assert isinstance(response, dict), f"expected a 200 with a JSON body, got {response!r}"
    data: dict[str, Any] = response["data"]
    return data


def rotate(client: hvac.Client, key: str) -> dict[str, Any]:
    """hvac's rotate_key, and the key read it answers with. Transit's rotate is Rekey's manual
    rotation, which starts the key's migration event and is refused (400) while the previous
    rotation's event is still running, even for a key with nothing to migrate (it ends within
    milliseconds): the tests rotate back to back, so a refusal naming a migration in progress is
    retried for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return data_of(transit(client).rotate_key(key))
        except InvalidRequest as err:
            if "migration in progress" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def raw(server: Server, method: str, path: str, token: str | None = None, *, bearer: bool = False,
        **kwargs: Any) -> requests.Response:  # fmt: skip
    """A request without hvac: `path` under /v1/<mount>/, the token as X-Vault-Token or
    (bearer=True) as Authorization: Bearer."""
    headers = dict(kwargs.pop("headers", {}))
    token = server.admin_token if token is None else token
    if token and bearer:
        headers["Authorization"] = f"Bearer {token}"
    elif token:
        headers["X-Vault-Token"] = token
    return requests.request(method, f"{server.url}/v1/{MOUNT}/{path}", headers=headers, timeout=30, **kwargs)


def read_http_response(reader: Any) -> tuple[int | str, bool]:
    """Reads one HTTP/1.1 response (Content-Length framed) from a socket file: its status (or
    what happened instead) and whether it announced `Connection: close`."""
    status_line = reader.readline()
    if not status_line:
        return "connection closed by the server", True
    length, close = 0, False
    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        if name.strip().lower() == "connection" and value.strip().lower() == "close":
            close = True
    reader.read(length)
    return int(status_line.split()[1]), close


def assert_error_body(err: VaultError, *, contains: str | None = None) -> None:
    """Vault's error body, `{"errors": ["message", ...]}` served as `application/json` (hvac
    parses the body only for exactly that Content-Type; otherwise exc.errors is None and the
    message is the raw text)."""
    assert err.json is not None, (
        f"hvac could not read the error body as JSON (Content-Type must be exactly application/json): {err.text!r}"
    )
    assert isinstance(err.errors, list) and err.errors, f"no errors list in {err.json!r}"
    assert all(isinstance(e, str) and e for e in err.errors), err.json
    if contains is not None:
        assert contains in ", ".join(err.errors), f"{contains!r} not in {err.errors!r}"


# --- encrypt and decrypt ------------------------------------------------------------------------


def test_encrypt_decrypt_round_trip_and_vault_envelope(admin: hvac.Client) -> None:
    plaintext = b"card 4111 1111 1111 1111"
    answer = transit(admin).encrypt_data(KEY, plaintext=b64(plaintext))
    # Vault's response envelope.
    assert isinstance(answer, dict), answer
    uuid.UUID(answer["request_id"])
    assert answer["lease_id"] == "" and answer["renewable"] is False and answer["lease_duration"] == 0
    assert answer["wrap_info"] is None and answer["auth"] is None
    assert answer["warnings"] is None or isinstance(answer["warnings"], list)
    assert answer["mount_type"] == "transit"
    data = answer["data"]
    assert data["ciphertext"].startswith("vault:v"), data
    assert version_of(data["ciphertext"]) == data["key_version"] >= 1
    decrypted = data_of(transit(admin).decrypt_data(KEY, ciphertext=data["ciphertext"]))
    assert unb64(decrypted["plaintext"]) == plaintext


@pytest.mark.parametrize("key", ENCRYPTION_KEYS)
def test_every_aes_gcm_key_encrypts_and_decrypts(admin: hvac.Client, key: str) -> None:
    plaintext = f"secret under {key}".encode()
    data = data_of(transit(admin).encrypt_data(key, plaintext=b64(plaintext)))
    assert version_of(data["ciphertext"]) == data["key_version"]
    back = data_of(transit(admin).decrypt_data(key, ciphertext=data["ciphertext"]))
    assert unb64(back["plaintext"]) == plaintext


def test_two_encryptions_of_the_same_plaintext_differ(admin: hvac.Client) -> None:
    one = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"same")))["ciphertext"]
    two = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"same")))["ciphertext"]
    assert one != two


def test_associated_data_is_bound_to_the_ciphertext(admin: hvac.Client) -> None:
    plaintext, aad = b"ssn 078-05-1120", b64(b"users/42/ssn")
    ciphertext = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(plaintext), associated_data=aad))["ciphertext"]
    assert version_of(ciphertext) >= 1
    back = data_of(transit(admin).decrypt_data(KEY, ciphertext=ciphertext, associated_data=aad))
    assert unb64(back["plaintext"]) == plaintext
    with pytest.raises(InvalidRequest) as missing:
        transit(admin).decrypt_data(KEY, ciphertext=ciphertext)
    assert_error_body(missing.value)
    with pytest.raises(InvalidRequest) as other:
        transit(admin).decrypt_data(KEY, ciphertext=ciphertext, associated_data=b64(b"users/43/ssn"))
    assert_error_body(other.value)


def test_without_associated_data_a_decrypt_with_some_fails(admin: hvac.Client) -> None:
    ciphertext = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"no aad")))["ciphertext"]
    with pytest.raises(InvalidRequest):
        transit(admin).decrypt_data(KEY, ciphertext=ciphertext, associated_data=b64(b"x"))


def test_put_is_accepted_like_post(server: Server) -> None:
    answer = raw(server, "PUT", f"encrypt/{KEY}", json={"plaintext": b64(b"put")})
    assert answer.status_code == 200, answer.text
    ciphertext = answer.json()["data"]["ciphertext"]
    back = raw(server, "PUT", f"decrypt/{KEY}", json={"ciphertext": ciphertext})
    assert back.status_code == 200, back.text
    assert unb64(back.json()["data"]["plaintext"]) == b"put"


def test_key_version_zero_means_latest(admin: hvac.Client) -> None:
    data = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"v0"), key_version=0))
    assert version_of(data["ciphertext"]) == data["key_version"]


# --- batch --------------------------------------------------------------------------------------


def test_batch_encrypt_and_decrypt_all_good(admin: hvac.Client) -> None:
    items = [b"first", b"second", b"third"]
    batch = [{"plaintext": b64(p), "reference": f"r{i}"} for i, p in enumerate(items)]
    results = data_of(transit(admin).encrypt_data(KEY, batch_input=batch))["batch_results"]
    assert [r["reference"] for r in results] == ["r0", "r1", "r2"]
    for r in results:
        assert "error" not in r or not r["error"], r
        assert version_of(r["ciphertext"]) == r["key_version"]
    decrypted = data_of(
        transit(admin).decrypt_data(
            KEY, batch_input=[{"ciphertext": r["ciphertext"], "reference": r["reference"]} for r in results]
        )
    )["batch_results"]
    assert [unb64(r["plaintext"]) for r in decrypted] == items
    assert [r["reference"] for r in decrypted] == ["r0", "r1", "r2"]


def test_batch_encrypt_with_associated_data(admin: hvac.Client) -> None:
    batch = [{"plaintext": b64(b"a"), "associated_data": b64(b"row-1")},
             {"plaintext": b64(b"b"), "associated_data": b64(b"row-2")}]  # fmt: skip
    results = data_of(transit(admin).encrypt_data(KEY, batch_input=batch))["batch_results"]
    one = data_of(transit(admin).decrypt_data(KEY, ciphertext=results[0]["ciphertext"], associated_data=b64(b"row-1")))
    assert unb64(one["plaintext"]) == b"a"
    with pytest.raises(InvalidRequest):
        transit(admin).decrypt_data(KEY, ciphertext=results[1]["ciphertext"], associated_data=b64(b"row-1"))


BAD_BATCH = [
    {"plaintext": b64(b"good one"), "reference": "good-1"},
    {"plaintext": "this is not base64!", "reference": "bad"},
    {"plaintext": b64(b"good two"), "reference": "good-2"},
]


def test_batch_encrypt_with_a_bad_item_is_a_400_carrying_batch_results(admin: hvac.Client) -> None:
    # Vault answers 400 when an item failed (partial_failure_response_code unset), with the
    # per-item results in the body; hvac raises InvalidRequest for the 400.
    with pytest.raises(InvalidRequest) as failed:
        transit(admin).encrypt_data(KEY, batch_input=BAD_BATCH)
    body = failed.value.json
    assert body is not None, f"error body not read as JSON: {failed.value.text!r}"
    results = body["data"]["batch_results"]
    assert [r.get("reference") for r in results] == ["good-1", "bad", "good-2"]
    assert results[1].get("error") and not results[1].get("ciphertext"), results[1]
    assert version_of(results[0]["ciphertext"]) >= 1 and version_of(results[2]["ciphertext"]) >= 1


def test_batch_encrypt_with_partial_failure_response_code_200(admin: hvac.Client) -> None:
    # hvac's encrypt_data has no partial_failure_response_code parameter: hvac's adapter posts it.
    answer = admin.adapter.post(
        f"/v1/{MOUNT}/encrypt/{KEY}", json={"batch_input": BAD_BATCH, "partial_failure_response_code": 200}
    )
    results = data_of(answer)["batch_results"]
    assert len(results) == 3
    good_1, bad, good_2 = results
    assert bad["reference"] == "bad" and bad["error"], bad
    assert not bad.get("ciphertext"), bad
    for item, plaintext in ((good_1, b"good one"), (good_2, b"good two")):
        assert not item.get("error"), item
        assert version_of(item["ciphertext"]) == item["key_version"]
        back = data_of(transit(admin).decrypt_data(KEY, ciphertext=item["ciphertext"]))
        assert unb64(back["plaintext"]) == plaintext
    assert (good_1["reference"], good_2["reference"]) == ("good-1", "good-2")


def test_batch_decrypt_with_a_bad_item(admin: hvac.Client) -> None:
    good = [data_of(transit(admin).encrypt_data(KEY, plaintext=b64(p)))["ciphertext"] for p in (b"one", b"two")]
    # A well-formed value that fails authentication: the first value with its last base64
    # characters changed.
    match = VAULT_VALUE.match(good[0])
    assert match
    sealed = bytearray(unb64(match["b64"]))
    sealed[-1] ^= 0x01
    tampered = f"vault:v{match['version']}:{b64(bytes(sealed))}"
    batch = [{"ciphertext": good[0], "reference": "one"}, {"ciphertext": tampered, "reference": "bad"},
             {"ciphertext": good[1], "reference": "two"}]  # fmt: skip

    with pytest.raises(InvalidRequest) as failed:
        transit(admin).decrypt_data(KEY, batch_input=batch)
    assert failed.value.json is not None, failed.value.text
    assert [r.get("reference") for r in failed.value.json["data"]["batch_results"]] == ["one", "bad", "two"]

    answer = admin.adapter.post(
        f"/v1/{MOUNT}/decrypt/{KEY}", json={"batch_input": batch, "partial_failure_response_code": 200}
    )
    one, bad, two = data_of(answer)["batch_results"]
    assert unb64(one["plaintext"]) == b"one" and not one.get("error"), one
    assert unb64(two["plaintext"]) == b"two" and not two.get("error"), two
    assert bad["error"] and not bad.get("plaintext"), bad
    assert bad["reference"] == "bad"


def test_batch_with_every_item_bad_is_400_even_with_partial_failure_code(admin: hvac.Client) -> None:
    with pytest.raises(InvalidRequest) as failed:
        admin.adapter.post(
            f"/v1/{MOUNT}/encrypt/{KEY}",
            json={"batch_input": [{"plaintext": "!!"}, {"plaintext": "??"}], "partial_failure_response_code": 200},
        )
    assert failed.value.json is not None, failed.value.text
    results = failed.value.json["data"]["batch_results"]
    assert len(results) == 2 and all(r.get("error") for r in results), results


# --- rotate and rewrap ----------------------------------------------------------------------------


def test_rotate_key_returns_the_key_read_with_a_new_latest_version(admin: hvac.Client) -> None:
    before = data_of(transit(admin).read_key(ROTATED))["latest_version"]
    rotated = rotate(admin, ROTATED)
    assert rotated["name"] == ROTATED and rotated["latest_version"] == before + 1
    assert str(before + 1) in rotated["keys"] and str(before) in rotated["keys"]
    read = data_of(transit(admin).read_key(ROTATED))
    assert read["latest_version"] == before + 1
    fresh = data_of(transit(admin).encrypt_data(ROTATED, plaintext=b64(b"after rotate")))
    assert fresh["key_version"] == version_of(fresh["ciphertext"]) == before + 1


def test_rewrap_after_rotate(admin: hvac.Client) -> None:
    plaintext = b"rewrap me"
    old = data_of(transit(admin).encrypt_data(ROTATED, plaintext=b64(plaintext)))
    old_version = old["key_version"]
    rotated = rotate(admin, ROTATED)
    assert rotated["latest_version"] == old_version + 1

    # The old ciphertext still decrypts.
    back = data_of(transit(admin).decrypt_data(ROTATED, ciphertext=old["ciphertext"]))
    assert unb64(back["plaintext"]) == plaintext

    rewrapped = data_of(transit(admin).rewrap_data(ROTATED, ciphertext=old["ciphertext"]))
    assert rewrapped["key_version"] == version_of(rewrapped["ciphertext"]) == old_version + 1
    assert rewrapped["ciphertext"] != old["ciphertext"]
    again = data_of(transit(admin).decrypt_data(ROTATED, ciphertext=rewrapped["ciphertext"]))
    assert unb64(again["plaintext"]) == plaintext


def test_batch_rewrap(admin: hvac.Client) -> None:
    values = [data_of(transit(admin).encrypt_data(ROTATED, plaintext=b64(p)))["ciphertext"] for p in (b"x", b"y")]
    latest = rotate(admin, ROTATED)["latest_version"]
    # hvac's rewrap_data takes ciphertext positionally; with batch_input Vault ignores it.
    results = data_of(
        transit(admin).rewrap_data(ROTATED, ciphertext=None, batch_input=[{"ciphertext": v} for v in values])
    )["batch_results"]
    assert [version_of(r["ciphertext"]) for r in results] == [latest, latest]
    plain = [unb64(data_of(transit(admin).decrypt_data(ROTATED, ciphertext=r["ciphertext"]))["plaintext"])
             for r in results]  # fmt: skip
    assert plain == [b"x", b"y"]


# --- datakey ------------------------------------------------------------------------------------


def test_datakey_plaintext_default_is_256_bits(admin: hvac.Client) -> None:
    data = data_of(transit(admin).generate_data_key(DATAKEY, key_type="plaintext"))
    key = unb64(data["plaintext"])
    assert len(key) == 32
    assert version_of(data["ciphertext"]) == data["key_version"]
    unwrapped = data_of(transit(admin).decrypt_data(DATAKEY, ciphertext=data["ciphertext"]))
    assert unb64(unwrapped["plaintext"]) == key


@pytest.mark.parametrize(("bits", "length"), [(128, 16), (256, 32), (512, 64)])
def test_datakey_plaintext_bits(admin: hvac.Client, bits: int, length: int) -> None:
    data = data_of(transit(admin).generate_data_key(DATAKEY, key_type="plaintext", bits=bits))
    key = unb64(data["plaintext"])
    assert len(key) == length
    unwrapped = data_of(transit(admin).decrypt_data(DATAKEY, ciphertext=data["ciphertext"]))
    assert unb64(unwrapped["plaintext"]) == key


def test_datakey_wrapped_returns_no_plaintext(admin: hvac.Client) -> None:
    data = data_of(transit(admin).generate_data_key(DATAKEY, key_type="wrapped"))
    assert not data.get("plaintext"), "datakey/wrapped must not return the plaintext key"
    assert version_of(data["ciphertext"]) == data["key_version"]
    unwrapped = data_of(transit(admin).decrypt_data(DATAKEY, ciphertext=data["ciphertext"]))
    assert len(unb64(unwrapped["plaintext"])) == 32


def test_datakey_bad_bits_is_invalid_request(admin: hvac.Client) -> None:
    # hvac refuses other sizes itself; send one through its adapter.
    with pytest.raises(InvalidRequest) as err:
        admin.adapter.post(f"/v1/{MOUNT}/datakey/plaintext/{DATAKEY}", json={"bits": 100})
    assert_error_body(err.value)


# --- hmac and verify ----------------------------------------------------------------------------


def test_hmac_and_verify(admin: hvac.Client) -> None:
    message = b64(b'{"amount": 100, "to": "acct-7"}')
    data = data_of(transit(admin).generate_hmac(HMAC_KEY, hash_input=message))
    mac = data["hmac"]
    assert version_of(mac) >= 1
    valid = data_of(transit(admin).verify_signed_data(HMAC_KEY, hash_input=message, hmac=mac))
    assert valid["valid"] is True
    tampered = b64(b'{"amount": 900, "to": "acct-7"}')
    invalid = data_of(transit(admin).verify_signed_data(HMAC_KEY, hash_input=tampered, hmac=mac))
    assert invalid["valid"] is False


def test_hmac_with_explicit_sha2_256(admin: hvac.Client) -> None:
    message = b64(b"explicit algorithm")
    mac = data_of(transit(admin).generate_hmac(HMAC_KEY, hash_input=message, algorithm="sha2-256"))["hmac"]
    same = data_of(transit(admin).generate_hmac(HMAC_KEY, hash_input=message))["hmac"]
    assert mac == same, "HMAC-SHA256 is deterministic: the default algorithm is sha2-256"
    ok = transit(admin).verify_signed_data(HMAC_KEY, hash_input=message, hmac=mac, hash_algorithm="sha2-256")
    assert data_of(ok)["valid"] is True
    # The algorithm in the URL, as Vault also accepts it.
    by_path = data_of(admin.adapter.post(f"/v1/{MOUNT}/hmac/{HMAC_KEY}/sha2-256", json={"input": message}))
    assert by_path["hmac"] == mac
    verified = admin.adapter.post(f"/v1/{MOUNT}/verify/{HMAC_KEY}/sha2-256", json={"input": message, "hmac": mac})
    assert data_of(verified)["valid"] is True


def test_hmac_other_algorithms_are_refused(admin: hvac.Client) -> None:
    with pytest.raises(InvalidRequest) as err:
        transit(admin).generate_hmac(HMAC_KEY, hash_input=b64(b"m"), algorithm="sha2-512")
    assert_error_body(err.value)


def test_hmac_batch(admin: hvac.Client) -> None:
    answer = admin.adapter.post(
        f"/v1/{MOUNT}/hmac/{HMAC_KEY}", json={"batch_input": [{"input": b64(b"a")}, {"input": b64(b"b")}]}
    )
    macs = [r["hmac"] for r in data_of(answer)["batch_results"]]
    assert len(macs) == 2 and macs[0] != macs[1]
    verified = admin.adapter.post(
        f"/v1/{MOUNT}/verify/{HMAC_KEY}",
        json={"batch_input": [{"input": b64(b"a"), "hmac": macs[0]}, {"input": b64(b"a"), "hmac": macs[1]}]},
    )
    assert [r["valid"] for r in data_of(verified)["batch_results"]] == [True, False]


def test_hmac_on_an_encryption_key_and_encrypt_on_the_hmac_key_are_refused(admin: hvac.Client) -> None:
    with pytest.raises(InvalidRequest) as hmac_err:
        transit(admin).generate_hmac(KEY, hash_input=b64(b"m"))
    assert_error_body(hmac_err.value)
    with pytest.raises(InvalidRequest) as encrypt_err:
        transit(admin).encrypt_data(HMAC_KEY, plaintext=b64(b"m"))
    assert_error_body(encrypt_err.value)


# --- keys: read, list, config ---------------------------------------------------------------------


def test_read_key_of_an_aes_key(admin: hvac.Client) -> None:
    data = data_of(transit(admin).read_key(KEY))
    assert data["name"] == KEY
    assert data["type"] == "aes256-gcm96"
    latest = data["latest_version"]
    assert isinstance(latest, int) and latest >= 1
    assert isinstance(data["keys"], dict) and str(latest) in data["keys"], data["keys"]
    assert all(isinstance(v, int) and v > 1_500_000_000 for v in data["keys"].values()), data["keys"]
    assert data["min_decryption_version"] >= 1
    assert data["min_encryption_version"] == 0 and data["min_available_version"] == 0
    assert data["deletion_allowed"] is False and data["derived"] is False and data["exportable"] is False
    assert data["allow_plaintext_backup"] is False and data["imported_key"] is False
    assert data["supports_encryption"] is True and data["supports_decryption"] is True
    assert data["supports_derivation"] is False and data["supports_signing"] is False
    assert data["auto_rotate_period"] == 90 * 86400, "TOKEN_ENCRYPTION rotates every 90 days"


def test_read_key_of_the_hmac_key(admin: hvac.Client) -> None:
    data = data_of(transit(admin).read_key(HMAC_KEY))
    assert data["name"] == HMAC_KEY and data["type"] == "hmac"
    assert str(data["latest_version"]) in data["keys"]
    assert data["supports_encryption"] is False and data["supports_decryption"] is False


def test_read_key_of_an_unknown_key_is_invalid_path(admin: hvac.Client) -> None:
    with pytest.raises(InvalidPath) as err:
        transit(admin).read_key(UNKNOWN)
    assert err.value.json == {"errors": []}, err.value.text


def test_list_keys(admin: hvac.Client) -> None:
    keys = data_of(transit(admin).list_keys())["keys"]
    assert set(keys) == RUNBOOK_KEYS and len(keys) == len(RUNBOOK_KEYS), keys


def test_list_keys_with_the_raw_list_method_and_with_get_list_true(server: Server) -> None:
    listed = raw(server, "LIST", "keys")
    assert listed.status_code == 200, listed.text
    assert set(listed.json()["data"]["keys"]) == RUNBOOK_KEYS
    by_get = raw(server, "GET", "keys", params={"list": "true"})
    assert by_get.status_code == 200, by_get.text
    assert set(by_get.json()["data"]["keys"]) == RUNBOOK_KEYS


def test_min_decryption_version_retires_old_versions(admin: hvac.Client) -> None:
    plaintext = b"written under an old version"
    old = data_of(transit(admin).encrypt_data(RETIRING, plaintext=b64(plaintext)))
    first = old["key_version"]
    rotate(admin, RETIRING)
    middle = data_of(transit(admin).encrypt_data(RETIRING, plaintext=b64(b"middle")))
    latest = rotate(admin, RETIRING)["latest_version"]
    assert latest == first + 2 and middle["key_version"] == first + 1

    configured = data_of(transit(admin).update_key_configuration(RETIRING, min_decryption_version=first + 1))
    assert configured["min_decryption_version"] == first + 1
    read = data_of(transit(admin).read_key(RETIRING))
    assert read["min_decryption_version"] == first + 1 and read["latest_version"] == latest
    assert str(first) not in read["keys"], f"retired version {first} still listed: {read['keys']}"
    assert {str(first + 1), str(latest)} <= set(read["keys"]), read["keys"]

    with pytest.raises(InvalidRequest) as retired:
        transit(admin).decrypt_data(RETIRING, ciphertext=old["ciphertext"])
    assert_error_body(retired.value)
    # A version at or above the minimum still decrypts; a rewrap of the retired value fails too.
    still = data_of(transit(admin).decrypt_data(RETIRING, ciphertext=middle["ciphertext"]))
    assert unb64(still["plaintext"]) == b"middle"
    with pytest.raises(InvalidRequest):
        transit(admin).rewrap_data(RETIRING, ciphertext=old["ciphertext"])

    # Rekey never un-retires: lowering is refused, as is a minimum above the latest version.
    with pytest.raises(InvalidRequest) as lower:
        transit(admin).update_key_configuration(RETIRING, min_decryption_version=first)
    assert_error_body(lower.value)
    with pytest.raises(InvalidRequest) as above:
        transit(admin).update_key_configuration(RETIRING, min_decryption_version=latest + 1)
    assert_error_body(above.value)
    assert data_of(transit(admin).read_key(RETIRING))["min_decryption_version"] == first + 1

    # Up to the latest version.
    top = data_of(transit(admin).update_key_configuration(RETIRING, min_decryption_version=latest))
    assert top["min_decryption_version"] == latest and set(top["keys"]) == {str(latest)}, top
    with pytest.raises(InvalidRequest):
        transit(admin).decrypt_data(RETIRING, ciphertext=middle["ciphertext"])
    fresh = data_of(transit(admin).encrypt_data(RETIRING, plaintext=b64(b"new")))
    assert fresh["key_version"] == latest
    assert unb64(data_of(transit(admin).decrypt_data(RETIRING, ciphertext=fresh["ciphertext"]))["plaintext"]) == b"new"


@pytest.mark.parametrize(
    "settings",
    [{"deletion_allowed": True}, {"exportable": True}, {"allow_plaintext_backup": True}, {"min_encryption_version": 1}],
    ids=["deletion_allowed", "exportable", "allow_plaintext_backup", "min_encryption_version"],
)
def test_key_config_settings_rekey_does_not_support_are_refused(admin: hvac.Client, settings: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as err:
        transit(admin).update_key_configuration(KEY, **settings)
    assert_error_body(err.value)
    read = data_of(transit(admin).read_key(KEY))
    assert read["deletion_allowed"] is False and read["exportable"] is False and read["min_encryption_version"] == 0


def test_create_key_on_an_existing_key_changes_nothing_and_warns(admin: hvac.Client) -> None:
    before = data_of(transit(admin).read_key(KEY))
    answer = transit(admin).create_key(KEY)
    assert isinstance(answer, dict), f"expected 200 with a body, got {answer!r}"
    assert answer["warnings"], answer
    assert data_of(transit(admin).read_key(KEY)) == before


def test_create_key_of_an_unknown_key_explains_config_or_import(admin: hvac.Client) -> None:
    with pytest.raises(InvalidRequest) as err:
        transit(admin).create_key(UNKNOWN)
    assert_error_body(err.value, contains="import")
    with pytest.raises(InvalidPath):
        transit(admin).read_key(UNKNOWN)


# --- errors -------------------------------------------------------------------------------------


def test_unknown_key_is_invalid_request_naming_the_key(admin: hvac.Client) -> None:
    with pytest.raises(InvalidRequest) as encrypt:
        transit(admin).encrypt_data(UNKNOWN, plaintext=b64(b"x"))
    assert_error_body(encrypt.value, contains=UNKNOWN)
    ciphertext = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"x")))["ciphertext"]
    with pytest.raises(InvalidRequest) as decrypt:
        transit(admin).decrypt_data(UNKNOWN, ciphertext=ciphertext)
    assert_error_body(decrypt.value, contains=UNKNOWN)


@pytest.mark.parametrize("route", ["rewrap", "datakey", "hmac", "verify"])
def test_unknown_key_on_the_other_data_routes_is_invalid_request(admin: hvac.Client, route: str) -> None:
    ciphertext = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"x")))["ciphertext"]
    mac = data_of(transit(admin).generate_hmac(HMAC_KEY, hash_input=b64(b"x")))["hmac"]
    calls = {
        "rewrap": lambda: transit(admin).rewrap_data(UNKNOWN, ciphertext=ciphertext),
        "datakey": lambda: transit(admin).generate_data_key(UNKNOWN, key_type="plaintext"),
        "hmac": lambda: transit(admin).generate_hmac(UNKNOWN, hash_input=b64(b"x")),
        "verify": lambda: transit(admin).verify_signed_data(UNKNOWN, hash_input=b64(b"x"), hmac=mac),
    }
    with pytest.raises(InvalidRequest) as err:
        calls[route]()
    assert_error_body(err.value, contains=UNKNOWN)


def test_a_value_of_one_key_does_not_decrypt_under_another(admin: hvac.Client) -> None:
    ciphertext = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"x")))["ciphertext"]
    with pytest.raises(InvalidRequest):
        transit(admin).decrypt_data(DATAKEY, ciphertext=ciphertext)


@pytest.mark.parametrize(
    "ciphertext",
    ["vault:v1:AAAA", "not-a-vault-value", "vault:v1:!!not base64!!", "vault:vx:AAAA", "vault:v0:AAAA", ""],
    ids=["short", "no-prefix", "bad-base64", "bad-version", "version-0", "empty"],
)
def test_bad_ciphertext_is_invalid_request(admin: hvac.Client, ciphertext: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        transit(admin).decrypt_data(KEY, ciphertext=ciphertext)
    assert_error_body(err.value)


def test_tampered_ciphertext_is_invalid_request(admin: hvac.Client) -> None:
    ciphertext = data_of(transit(admin).encrypt_data(KEY, plaintext=b64(b"integrity")))["ciphertext"]
    match = VAULT_VALUE.match(ciphertext)
    assert match
    sealed = bytearray(unb64(match["b64"]))
    sealed[len(sealed) // 2] ^= 0x80
    with pytest.raises(InvalidRequest):
        transit(admin).decrypt_data(KEY, ciphertext=f"vault:v{match['version']}:{b64(bytes(sealed))}")


def test_malformed_base64_plaintext_is_invalid_request(admin: hvac.Client) -> None:
    with pytest.raises(InvalidRequest) as err:
        transit(admin).encrypt_data(KEY, plaintext="this is not base64!")
    assert_error_body(err.value)
    with pytest.raises(InvalidRequest):
        transit(admin).encrypt_data(KEY, plaintext=b64(b"x"), associated_data="not base64 either!")
    with pytest.raises(InvalidRequest):
        transit(admin).generate_hmac(HMAC_KEY, hash_input="%%%")


@pytest.mark.parametrize(
    "params",
    [{"context": b64(b"tenant-1")}, {"nonce": b64(b"\0" * 12)}, {"key_version": 99}, {"convergent_encryption": True}],
    ids=["context", "nonce", "key_version", "convergent_encryption"],
)
def test_vault_features_rekey_does_not_support_are_refused(admin: hvac.Client, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as err:
        transit(admin).encrypt_data(KEY, plaintext=b64(b"x"), **params)
    assert_error_body(err.value)


def test_bad_token_is_forbidden(server: Server) -> None:
    bogus = server.client("not-a-real-token")
    with pytest.raises(Forbidden) as err:
        transit(bogus).encrypt_data(KEY, plaintext=b64(b"x"))
    # Vault's words first, then Rekey's reason.
    [message] = err.value.errors
    assert message.startswith("permission denied: "), err.value.text
    assert "not valid" in message, message
    with pytest.raises(Forbidden):
        transit(bogus).read_key(KEY)
    with pytest.raises(Forbidden):
        transit(bogus).list_keys()


def test_missing_token_is_forbidden(server: Server) -> None:
    for method, path, body in (("POST", f"encrypt/{KEY}", {"plaintext": b64(b"x")}), ("GET", f"keys/{KEY}", None)):
        answer = raw(server, method, path, token="", json=body)
        assert answer.status_code == 403, f"{method} {path}: {answer.status_code} {answer.text}"
        [message] = answer.json()["errors"]
        assert message.startswith("permission denied: missing client token"), message
        assert "X-Vault-Token" in message, message


def test_authorization_bearer_header(server: Server) -> None:
    answer = raw(server, "POST", f"encrypt/{KEY}", bearer=True, json={"plaintext": b64(b"bearer")})
    assert answer.status_code == 200, answer.text
    ciphertext = answer.json()["data"]["ciphertext"]
    assert version_of(ciphertext) >= 1
    back = raw(server, "POST", f"decrypt/{KEY}", bearer=True, json={"ciphertext": ciphertext})
    assert back.status_code == 200, back.text
    assert unb64(back.json()["data"]["plaintext"]) == b"bearer"
    refused = raw(server, "POST", f"encrypt/{KEY}", token="not-a-real-token", bearer=True,
                  json={"plaintext": b64(b"x")})  # fmt: skip
    assert refused.status_code == 403, refused.text


def test_wrong_method_is_405(server: Server) -> None:
    answer = raw(server, "GET", f"encrypt/{KEY}")
    assert answer.status_code == 405, f"GET encrypt: {answer.status_code} {answer.text}"
    answer = raw(server, "DELETE", f"keys/{KEY}")
    assert answer.status_code in (400, 405), f"DELETE keys/{KEY}: {answer.status_code} {answer.text}"


def test_a_vault_route_rekey_does_not_serve_answers_in_vault_form(admin: hvac.Client) -> None:
    # transit/random exists in Vault (hvac's generate_random_bytes), not in Rekey: a 404 whose
    # body is Vault's {"errors": [...]}, like every other error under the mount.
    with pytest.raises(InvalidPath) as err:
        transit(admin).generate_random_bytes(n_bytes=16)
    assert err.value.json is not None and isinstance(err.value.json.get("errors"), list), err.value.text
    with pytest.raises(InvalidPath) as sign:
        transit(admin).sign_data(KEY, hash_input=b64(b"x"))
    assert sign.value.json is not None and isinstance(sign.value.json.get("errors"), list), sign.value.text


@pytest.mark.parametrize(
    "path",
    [f"keys/{KEY}", f"keys/{UNKNOWN}", "random", f"encrypt/{KEY}"],
    ids=["create-existing-key", "create-unknown-key", "unrouted-path", "encrypt"],
)
def test_a_post_answered_before_its_body_arrived_leaves_the_connection_usable(server: Server, path: str) -> None:
    # hvac's requests (urllib3) keeps its connection alive and writes a request's headers and
    # its body in two writes. Whatever the server answers the POST, and whether or not its
    # handler uses the body, the next request on that connection must be served, unless the
    # answer said `Connection: close`; a server that closes it without saying so makes the
    # client's next request fail with "Connection aborted" now and then. Made deterministic
    # here: the body follows the headers 50 ms later.
    host, port = server.http.rsplit(":", 1)
    auth = f"Host: {server.http}\r\nX-Vault-Token: {server.admin_token}\r\n"
    body = json.dumps({"plaintext": b64(b"x")}).encode()
    head = (f"POST /v1/{MOUNT}/{path} HTTP/1.1\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        reader = sock.makefile("rb")
        sock.sendall(head.encode())
        time.sleep(0.05)
        sock.sendall(body)
        first, announced_close = read_http_response(reader)
        if announced_close:
            return  # the client knows to open a new connection
        try:
            sock.sendall(f"GET /v1/{MOUNT}/keys/{KEY} HTTP/1.1\r\n{auth}\r\n".encode())
            second, _ = read_http_response(reader)
        except OSError as err:
            second = f"connection closed ({err})"
    assert second == 200, (
        f"POST /v1/{MOUNT}/{path} answered {first} without Connection: close, then the next request on the same "
        f"connection got {second!r} instead of 200"
    )


def test_error_answers_are_json(server: Server) -> None:
    answer = raw(server, "POST", f"encrypt/{UNKNOWN}", json={"plaintext": b64(b"x")})
    assert answer.status_code == 400, answer.text
    assert answer.headers.get("Content-Type") == "application/json", answer.headers.get("Content-Type")
    errors = answer.json()["errors"]
    assert isinstance(errors, list) and errors and UNKNOWN in errors[0], errors


# --- scoped client tokens -----------------------------------------------------------------------


def test_encrypt_only_token_encrypts_its_key_only(encrypt_only: hvac.Client, admin: hvac.Client) -> None:
    data = data_of(transit(encrypt_only).encrypt_data(KEY, plaintext=b64(b"scoped")))
    assert version_of(data["ciphertext"]) >= 1
    # The admin can decrypt what it encrypted; the token itself cannot.
    assert unb64(data_of(transit(admin).decrypt_data(KEY, ciphertext=data["ciphertext"]))["plaintext"]) == b"scoped"
    with pytest.raises(Forbidden):
        transit(encrypt_only).decrypt_data(KEY, ciphertext=data["ciphertext"])
    with pytest.raises(Forbidden):
        transit(encrypt_only).encrypt_data(DATAKEY, plaintext=b64(b"other key"))
    with pytest.raises(Forbidden):
        transit(encrypt_only).generate_data_key(KEY, key_type="plaintext")


def test_client_token_is_refused_admin_routes(encrypt_only: hvac.Client, server: Server, client_token: str) -> None:
    with pytest.raises(Forbidden):
        transit(encrypt_only).read_key(KEY)
    # Even a client token with every key and operation is no admin token.
    full = server.client(client_token)
    data = data_of(transit(full).encrypt_data(KEY, plaintext=b64(b"client")))
    assert unb64(data_of(transit(full).decrypt_data(KEY, ciphertext=data["ciphertext"]))["plaintext"]) == b"client"
    for call in (
        lambda: transit(full).read_key(KEY),
        lambda: transit(full).list_keys(),
        lambda: transit(full).rotate_key(KEY),
        lambda: transit(full).update_key_configuration(KEY, min_decryption_version=1),
    ):
        with pytest.raises(Forbidden):
            call()


# --- configuration: mount and switch ----------------------------------------------------------


def test_mount_is_configurable_and_transit_can_be_turned_off(server_with: Any) -> None:
    moved = server_with({"REKEY_TRANSIT_MOUNT": "kms"})
    client = moved.client()
    data = data_of(client.secrets.transit.encrypt_data(KEY, plaintext=b64(b"kms"), mount_point="kms"))
    back = data_of(client.secrets.transit.decrypt_data(KEY, ciphertext=data["ciphertext"], mount_point="kms"))
    assert unb64(back["plaintext"]) == b"kms"
    with pytest.raises(InvalidPath):
        client.secrets.transit.encrypt_data(KEY, plaintext=b64(b"x"))

    off = server_with({"REKEY_TRANSIT_ENABLED": "false"})
    with pytest.raises(InvalidPath):
        off.client().secrets.transit.encrypt_data(KEY, plaintext=b64(b"x"))
