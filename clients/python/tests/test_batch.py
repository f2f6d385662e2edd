"""The batch rpcs and encrypt_many / decrypt_many / rewrap_many against a real server: per-item
typed errors in input order beside the items that succeed, splitting into as many calls as the
limits ask (counted on the server's /metrics), the local TooLargeError of an item above the byte
limit, and the server's own whole-call limit reached by a client configured above it."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

import pytest

from rekey_client import (
    AsyncClient,
    AuthenticationFailedError,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidCiphertextError,
    KeyNotFoundError,
    PermissionDeniedError,
    RekeyError,
    TooLargeError,
    UnauthenticatedError,
    VersionRetiredError,
    proto,
)
from rekey_client.testing import RekeyServer

from .conftest import KEY, Recorder

T = TypeVar("T")

ENCRYPT_BATCH = "rekey.v1.KeyService/EncryptBatch"
DECRYPT_BATCH = "rekey.v1.KeyService/DecryptBatch"

RETIRING_CONFIG = """
[rotation]
# Every second, so a version deprecated with a zero grace period is retired within ~1 s.
schedule_cron = "* * * * * *"
min_interval_secs = 0

[[keys]]
name = "RETIRING"
rotation_interval_days = 90
grace_period_days = 0
"""


def _tamper(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 1])


def _retire_primary(c: Client, key: str) -> None:
    """Rotates `key` and waits until its previous version is retired."""
    rotated = c.rotate(proto.RotateRequest(key_name=key))
    deadline = time.monotonic() + 12
    while True:
        status = c.get_status(proto.GetStatusRequest(key_name=key)).keys[0]
        states = {v.version: v.state for v in status.versions}
        if states[rotated.previous_version] == proto.KEY_VERSION_STATE_RETIRED:
            return
        assert time.monotonic() < deadline, f"version never retired: {states}"
        time.sleep(0.2)


def _all_ok(results: list[T | RekeyError]) -> list[T]:
    """The responses, or the first item's error raised so that pytest shows it."""
    out: list[T] = []
    for result in results:
        if isinstance(result, RekeyError):
            raise result
        out.append(result)
    return out


def test_a_mixed_batch_answers_each_item_its_own_typed_error_in_order() -> None:
    with (
        RekeyServer.start(config_toml=RETIRING_CONFIG) as server,
        Client(server.grpc_url, token=server.admin_token) as admin,
    ):
        retired = admin.encrypt(proto.EncryptRequest(key_name="RETIRING", plaintext=b"old")).ciphertext
        _retire_primary(admin, "RETIRING")
        scoped = admin.create_token(
            proto.CreateTokenRequest(name="two keys", role=proto.TOKEN_ROLE_CLIENT, key_names=[KEY, "RETIRING"])
        )
        other_key = admin.encrypt(proto.EncryptRequest(key_name="SESSION_ENCRYPTION", plaintext=b"s")).ciphertext

        # Encrypt: unknown key, signing key, malformed name, among valid items.
        sealed = admin.encrypt_many(
            [
                proto.EncryptRequest(key_name=KEY, plaintext=b"zero", associated_data=b"ad 0"),
                proto.EncryptRequest(key_name="NO_SUCH_KEY", plaintext=b"one"),
                proto.EncryptRequest(key_name="API_SIGNATURE", plaintext=b"two"),
                proto.EncryptRequest(key_name="bad name!", plaintext=b"three"),
                proto.EncryptRequest(key_name="RETIRING", plaintext=b"four"),
            ]
        )
        assert [type(r) for r in sealed] == [
            proto.EncryptResponse,
            KeyNotFoundError,
            FailedPreconditionError,
            InvalidArgumentError,
            proto.EncryptResponse,
        ]
        assert isinstance(sealed[1], KeyNotFoundError)
        assert sealed[1].code == "NOT_FOUND" and "NO_SUCH_KEY" in sealed[1].message
        zero, four = sealed[0], sealed[4]
        assert isinstance(zero, proto.EncryptResponse) and isinstance(four, proto.EncryptResponse)

        # Decrypt with a token scoped to two keys: a tampered value, a wrong associated data, a
        # retired version, a key outside the scope, garbage, among valid items.
        items = [
            proto.DecryptRequest(ciphertext=zero.ciphertext, associated_data=b"ad 0"),
            proto.DecryptRequest(ciphertext=_tamper(zero.ciphertext), associated_data=b"ad 0"),
            proto.DecryptRequest(ciphertext=zero.ciphertext, associated_data=b"other"),
            proto.DecryptRequest(ciphertext=retired),
            proto.DecryptRequest(ciphertext=other_key),
            proto.DecryptRequest(ciphertext=b"not a rekey value"),
            proto.DecryptRequest(ciphertext=four.ciphertext),
        ]
        with Client(server.grpc_url, token=scoped.token) as limited:
            opened = limited.decrypt_many(items)
        assert [type(r) for r in opened] == [
            proto.DecryptResponse,
            AuthenticationFailedError,
            AuthenticationFailedError,
            VersionRetiredError,
            PermissionDeniedError,
            InvalidCiphertextError,
            proto.DecryptResponse,
        ]
        first, last = opened[0], opened[6]
        assert isinstance(first, proto.DecryptResponse) and (first.plaintext, first.key_name) == (b"zero", KEY)
        assert isinstance(last, proto.DecryptResponse) and last.plaintext == b"four"
        assert isinstance(opened[3], VersionRetiredError) and opened[3].code == "FAILED_PRECONDITION"

        # Rewrap, with the asyncio client: the same per-item errors, and a value that opens.
        async def rewrap() -> list[proto.RewrapResponse | RekeyError]:
            async with AsyncClient(server.grpc_url, token=scoped.token) as c:
                return await c.rewrap_many(
                    [
                        proto.RewrapRequest(ciphertext=_tamper(zero.ciphertext), associated_data=b"ad 0"),
                        proto.RewrapRequest(ciphertext=zero.ciphertext, associated_data=b"ad 0"),
                        proto.RewrapRequest(ciphertext=retired),
                        proto.RewrapRequest(ciphertext=other_key),
                    ]
                )

        rewrapped = asyncio.run(rewrap())
        assert [type(r) for r in rewrapped] == [
            AuthenticationFailedError,
            proto.RewrapResponse,
            VersionRetiredError,
            PermissionDeniedError,
        ]
        fresh = rewrapped[1]
        assert isinstance(fresh, proto.RewrapResponse)
        again = admin.decrypt(proto.DecryptRequest(ciphertext=fresh.ciphertext, associated_data=b"ad 0"))
        assert again.plaintext == b"zero"


def test_25000_items_go_in_three_calls_and_come_back_in_order(server: RekeyServer, recorder: Recorder) -> None:
    items = [proto.EncryptRequest(key_name=KEY, plaintext=f"value {i}".encode()) for i in range(25_000)]
    with Client(server.grpc_url, token=server.admin_token, observer=recorder) as c:
        encrypted_before = server.rpc_count(ENCRYPT_BATCH)
        sealed = c.encrypt_many(items)
        assert server.rpc_count(ENCRYPT_BATCH) - encrypted_before == 3
        assert [a.attempt for a in recorder.of("EncryptBatch")] == [1, 1, 1]
        ciphertexts = _all_ok(sealed)
        assert len(ciphertexts) == 25_000

        decrypted_before = server.rpc_count(DECRYPT_BATCH)
        opened = _all_ok(c.decrypt_many([proto.DecryptRequest(ciphertext=r.ciphertext) for r in ciphertexts]))
        assert server.rpc_count(DECRYPT_BATCH) - decrypted_before == 3
        assert [r.plaintext for r in opened] == [i.plaintext for i in items]


def test_batch_max_items_splits_accordingly(server: RekeyServer, recorder: Recorder) -> None:
    items = [proto.EncryptRequest(key_name=KEY, plaintext=bytes([i])) for i in range(20)]
    with Client(server.grpc_url, token=server.admin_token, observer=recorder, batch_max_items=7) as c:
        before = server.rpc_count(ENCRYPT_BATCH)
        sealed = _all_ok(c.encrypt_many(items))
        assert server.rpc_count(ENCRYPT_BATCH) - before == 3
        opened = _all_ok(c.decrypt_many([proto.DecryptRequest(ciphertext=r.ciphertext) for r in sealed]))
    assert [r.plaintext for r in opened] == [bytes([i]) for i in range(20)]
    assert len(recorder.of("EncryptBatch")) == 3 and len(recorder.of("DecryptBatch")) == 3

    async def rewrap() -> list[proto.RewrapResponse | RekeyError]:
        async with AsyncClient(server.grpc_url, token=server.admin_token, observer=recorder, batch_max_items=7) as c:
            return await c.rewrap_many([proto.RewrapRequest(ciphertext=r.ciphertext) for r in sealed])

    rewrapped = asyncio.run(rewrap())
    assert len(_all_ok(rewrapped)) == 20
    assert len(recorder.of("RewrapBatch")) == 3


def test_an_item_above_batch_max_bytes_is_too_large_locally_and_the_others_proceed(
    server: RekeyServer, recorder: Recorder
) -> None:
    items = [
        proto.EncryptRequest(key_name=KEY, plaintext=b"a" * 60, associated_data=b"b" * 40),  # 100: fits
        proto.EncryptRequest(key_name=KEY, plaintext=b"a" * 60, associated_data=b"b" * 41),  # 101: refused
        proto.EncryptRequest(key_name=KEY, plaintext=b"c"),
    ]
    with Client(server.grpc_url, token=server.admin_token, observer=recorder, batch_max_bytes=100) as c:
        sealed = c.encrypt_many(items)
    assert isinstance(sealed[1], TooLargeError)
    assert sealed[1].message == "item 1 is 101 bytes, above the batch limit of 100 bytes"
    assert sealed[1].code is None
    assert isinstance(sealed[0], proto.EncryptResponse) and isinstance(sealed[2], proto.EncryptResponse)
    # Items 0 and 2 cannot share a call (101 bytes): two calls, the refused item in none.
    assert len(recorder.of("EncryptBatch")) == 2


def test_the_servers_whole_call_limits_are_too_large(server: RekeyServer, recorder: Recorder) -> None:
    items = [proto.EncryptRequest(key_name=KEY, plaintext=b"x") for _ in range(10_001)]
    with Client(server.grpc_url, token=server.admin_token, batch_max_items=20_000) as c:
        with pytest.raises(TooLargeError) as e:
            c.encrypt_batch(proto.EncryptBatchRequest(items=items))
        assert e.value.code == "RESOURCE_EXHAUSTED"
        # encrypt_many raises a whole call's error: no partial list.
        with pytest.raises(TooLargeError):
            c.encrypt_many(items)

    # 16 MiB exactly (ciphertext + associated data, as the server counts) is one call, and one
    # byte more is two for a client at the default limit, while a client configured above the
    # server's limit meets the server's refusal of the whole call.
    def values(extra: int) -> list[proto.DecryptRequest]:
        mib = 1024 * 1024
        last = proto.DecryptRequest(ciphertext=b"x" * (mib - 10), associated_data=b"a" * (10 + extra))
        return [proto.DecryptRequest(ciphertext=b"x" * mib)] * 15 + [last]

    with Client(server.grpc_url, token=server.admin_token, observer=recorder) as c:
        assert all(isinstance(r, InvalidCiphertextError) for r in c.decrypt_many(values(0)))
        assert len(recorder.of("DecryptBatch")) == 1
        assert all(isinstance(r, InvalidCiphertextError) for r in c.decrypt_many(values(1)))
        assert len(recorder.of("DecryptBatch")) == 3
    with Client(server.grpc_url, token=server.admin_token, batch_max_bytes=32 * 1024 * 1024) as c:
        with pytest.raises(TooLargeError) as e:
            c.decrypt_many(values(1))
        assert e.value.code == "RESOURCE_EXHAUSTED" and "16777217 bytes" in e.value.message


def test_whole_call_errors_raise(server: RekeyServer, recorder: Recorder) -> None:
    with Client(server.grpc_url, token=server.admin_token) as c, pytest.raises(InvalidArgumentError):
        c.encrypt_batch(proto.EncryptBatchRequest())
    with (
        Client(server.grpc_url, token="not-a-token", observer=recorder) as wrong,
        pytest.raises(UnauthenticatedError),
    ):
        wrong.encrypt_many([proto.EncryptRequest(key_name=KEY, plaintext=b"x")])
    assert len(recorder.of("EncryptBatch")) == 1


def test_the_raw_batch_rpcs_answer_in_input_order(client: Client) -> None:
    answer = client.encrypt_batch(
        proto.EncryptBatchRequest(
            items=[
                proto.EncryptRequest(key_name=KEY, plaintext=b"a"),
                proto.EncryptRequest(key_name="NO_SUCH_KEY", plaintext=b"b"),
            ]
        )
    )
    assert [r.WhichOneof("result") for r in answer.results] == ["response", "error"]
    assert answer.results[1].error.reason == proto.ERROR_REASON_KEY_NOT_FOUND
    value = answer.results[0].response.ciphertext
    opened = client.decrypt_batch(proto.DecryptBatchRequest(items=[proto.DecryptRequest(ciphertext=value)]))
    assert opened.results[0].response.plaintext == b"a"
    rewrapped = client.rewrap_batch(proto.RewrapBatchRequest(items=[proto.RewrapRequest(ciphertext=value)]))
    assert rewrapped.results[0].WhichOneof("result") == "response"
