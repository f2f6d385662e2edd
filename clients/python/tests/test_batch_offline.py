"""encrypt_many / decrypt_many / rewrap_many without a server: splitting within the limits
(bytes counted as the server counts them), results put back in input order, per-item errors read
as the single rpc's status would be, the limits' configuration, and no call for empty input."""

from __future__ import annotations

import asyncio
from typing import cast

import grpc
import pytest

from rekey_client import (
    AsyncClient,
    AuthenticationFailedError,
    Client,
    ClientConfig,
    ConfigError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    InvalidCiphertextError,
    KeyNotFoundError,
    PermissionDeniedError,
    RekeyError,
    TooLargeError,
    VersionRetiredError,
    _batch,
    proto,
)
from rekey_client.config import DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_ITEMS
from rekey_client.errors import Input

from .conftest import Recorder

S = grpc.StatusCode


def _item_error(code: grpc.StatusCode, reason: proto.ErrorReason, message: str) -> proto.ItemError:
    return proto.ItemError(code=code.value[0], reason=reason, message=message)


# Splitting ----------------------------------------------------------------------------------


def test_split_keeps_input_order_within_both_limits() -> None:
    batches, refused = _batch.split([1] * 25, max_items=7, max_bytes=1000)
    assert [len(b) for b in batches] == [7, 7, 7, 4]
    assert [i for b in batches for i in b] == list(range(25))
    assert refused == {}

    batches, refused = _batch.split([4, 4, 4, 4, 0, 8, 1], max_items=100, max_bytes=8)
    assert batches == [[0, 1], [2, 3, 4], [5], [6]]
    assert refused == {}


def test_split_refuses_an_item_above_the_byte_limit_and_sends_the_others() -> None:
    batches, refused = _batch.split([3, 11, 10, 2], max_items=10, max_bytes=10)
    assert batches == [[0], [2], [3]]
    assert list(refused) == [1]
    error = refused[1]
    assert isinstance(error, TooLargeError) and error.code is None
    assert error.message == "item 1 is 11 bytes, above the batch limit of 10 bytes"

    assert _batch.split([], 10, 10) == ([], {})
    assert _batch.split([11, 12], 10, 10)[0] == []


def test_split_at_the_default_limits() -> None:
    batches, _ = _batch.split([1] * 25_000, DEFAULT_BATCH_MAX_ITEMS, DEFAULT_BATCH_MAX_BYTES)
    assert [len(b) for b in batches] == [10_000, 10_000, 5_000]
    mib = 1024 * 1024
    batches, _ = _batch.split([6 * mib] * 5, DEFAULT_BATCH_MAX_ITEMS, DEFAULT_BATCH_MAX_BYTES)
    assert batches == [[0, 1], [2, 3], [4]]


def test_item_bytes_are_counted_as_the_server_counts_them() -> None:
    enc = proto.EncryptRequest(key_name="K" * 50, plaintext=b"p" * 10, associated_data=b"a" * 3)
    assert _batch.ENCRYPT.size(enc) == 13  # the key name does not count
    dec = proto.DecryptRequest(ciphertext=b"c" * 40, associated_data=b"a" * 2)
    assert _batch.DECRYPT.size(dec) == 42
    rew = proto.RewrapRequest(ciphertext=b"c" * 40)
    assert _batch.REWRAP.size(rew) == 40


# Per-item errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "input", "expected"),
    [
        (S.NOT_FOUND, proto.ERROR_REASON_KEY_NOT_FOUND, Input.OTHER, KeyNotFoundError),
        (S.NOT_FOUND, proto.ERROR_REASON_VERSION_NOT_FOUND, Input.VALUE, KeyNotFoundError),
        (S.FAILED_PRECONDITION, proto.ERROR_REASON_VERSION_RETIRED, Input.VALUE, VersionRetiredError),
        (S.FAILED_PRECONDITION, proto.ERROR_REASON_WRONG_PURPOSE, Input.OTHER, FailedPreconditionError),
        (S.INVALID_ARGUMENT, proto.ERROR_REASON_AUTHENTICATION_FAILED, Input.VALUE, AuthenticationFailedError),
        (S.INVALID_ARGUMENT, proto.ERROR_REASON_INVALID_VALUE, Input.VALUE, InvalidCiphertextError),
        (S.INVALID_ARGUMENT, proto.ERROR_REASON_INVALID_ARGUMENT, Input.OTHER, InvalidArgumentError),
        (S.PERMISSION_DENIED, proto.ERROR_REASON_PERMISSION_DENIED, Input.OTHER, PermissionDeniedError),
        (S.RESOURCE_EXHAUSTED, proto.ERROR_REASON_TOO_LARGE, Input.OTHER, TooLargeError),
        # Without a reason (or one newer than this client), the code decides, and a Decrypt or
        # Rewrap item's INVALID_ARGUMENT is about its value.
        (S.INVALID_ARGUMENT, proto.ERROR_REASON_UNSPECIFIED, Input.VALUE, InvalidCiphertextError),
        (S.INVALID_ARGUMENT, proto.ERROR_REASON_UNSPECIFIED, Input.OTHER, InvalidArgumentError),
        (S.PERMISSION_DENIED, cast(proto.ErrorReason, 999), Input.OTHER, PermissionDeniedError),
        (S.RESOURCE_EXHAUSTED, proto.ERROR_REASON_UNSPECIFIED, Input.OTHER, TooLargeError),
    ],
)
def test_an_item_error_maps_as_the_same_status_would(
    code: grpc.StatusCode, reason: proto.ErrorReason, input: Input, expected: type[RekeyError]
) -> None:
    error = _batch.item_error(_item_error(code, reason, "the message"), input)
    assert type(error) is expected
    assert (error.message, error.code) == ("the message", code.name)


def test_an_item_error_with_an_unknown_code_is_internal() -> None:
    error = _batch.item_error(proto.ItemError(code=99, message="m"), Input.OTHER)
    assert isinstance(error, InternalError) and error.code == "CODE_99"


# Gathering the results ----------------------------------------------------------------------


def _encrypt_answer(results: list[proto.EncryptResponse | proto.ItemError]) -> proto.EncryptBatchResponse:
    out = proto.EncryptBatchResponse()
    for r in results:
        if isinstance(r, proto.ItemError):
            out.results.add(error=r)
        else:
            out.results.add(response=r)
    return out


def test_a_run_puts_every_result_at_its_items_place() -> None:
    items = [proto.EncryptRequest(key_name="K", plaintext=bytes([i]) * (20 if i == 2 else 1)) for i in range(6)]
    run = _batch.BatchRun(_batch.ENCRYPT, items, max_items=2, max_bytes=10)
    sent = list(run.requests())
    assert [indices for indices, _ in sent] == [[0, 1], [3, 4], [5]]
    assert [r.plaintext for r in sent[1][1].items] == [b"\x03", b"\x04"]
    for indices, request in sent:
        answer = [
            proto.EncryptResponse(ciphertext=b"c" + r.plaintext, key_version=1)
            if i != 4
            else _item_error(S.NOT_FOUND, proto.ERROR_REASON_KEY_NOT_FOUND, "key K not found")
            for i, r in zip(indices, request.items, strict=True)
        ]
        run.take(indices, _encrypt_answer(answer))
    out = run.finish()
    assert len(out) == 6
    for i in (0, 1, 3, 5):
        result = out[i]
        assert isinstance(result, proto.EncryptResponse) and result.ciphertext == b"c" + bytes([i])
    assert isinstance(out[2], TooLargeError) and "item 2 is 20 bytes" in out[2].message
    assert isinstance(out[4], KeyNotFoundError)


def test_a_run_refuses_an_answer_with_another_number_of_results() -> None:
    items = [proto.DecryptRequest(ciphertext=b"x"), proto.DecryptRequest(ciphertext=b"y")]
    run = _batch.BatchRun(_batch.DECRYPT, items, max_items=10, max_bytes=100)
    [(indices, _)] = list(run.requests())
    answer = proto.DecryptBatchResponse()
    answer.results.add(response=proto.DecryptResponse(plaintext=b"p"))
    with pytest.raises(InternalError, match="1 results for 2 items"):
        run.take(indices, answer)


def test_a_result_with_neither_response_nor_error_is_internal() -> None:
    run = _batch.BatchRun(_batch.REWRAP, [proto.RewrapRequest(ciphertext=b"x")], max_items=10, max_bytes=100)
    [(indices, _)] = list(run.requests())
    answer = proto.RewrapBatchResponse()
    answer.results.add()
    run.take(indices, answer)
    [only] = run.finish()
    assert isinstance(only, InternalError)


# Configuration and calls that send nothing --------------------------------------------------


def test_batch_limits_default_to_the_servers_and_are_validated() -> None:
    config = ClientConfig()
    assert (config.batch_max_items, config.batch_max_bytes) == (10_000, 16 * 1024 * 1024)
    client = Client("h:1", batch_max_items=7, batch_max_bytes=1000)
    assert (client.config.batch_max_items, client.config.batch_max_bytes) == (7, 1000)
    assert ClientConfig.from_env({}, batch_max_items=3).batch_max_items == 3
    for bad in ({"batch_max_items": 0}, {"batch_max_bytes": -1}, {"batch_max_items": 1.5}, {"batch_max_bytes": True}):
        with pytest.raises(ConfigError):
            ClientConfig(**bad)
    assert "batch_max_items=10000" in repr(config)


def test_empty_input_and_only_oversized_items_make_no_call() -> None:
    recorder = Recorder()
    # Nothing listens on port 1: a call would fail with UnavailableError.
    with Client("127.0.0.1:1", batch_max_bytes=4, observer=recorder) as client:
        assert client.encrypt_many([]) == []
        assert client.decrypt_many(iter([])) == []
        assert client.rewrap_many([]) == []
        [refused] = client.decrypt_many([proto.DecryptRequest(ciphertext=b"12345")])
        assert isinstance(refused, TooLargeError)
        assert refused.message == "item 0 is 5 bytes, above the batch limit of 4 bytes"

    async def scenario() -> list[proto.EncryptResponse | RekeyError]:
        async with AsyncClient("127.0.0.1:1", batch_max_bytes=4, observer=recorder) as client:
            assert await client.decrypt_many([]) == []
            assert await client.rewrap_many([]) == []
            return await client.encrypt_many(
                [proto.EncryptRequest(key_name="K", plaintext=b"12", associated_data=b"345")]
            )

    [refused_async] = asyncio.run(scenario())
    assert isinstance(refused_async, TooLargeError)
    assert recorder.attempts == []
