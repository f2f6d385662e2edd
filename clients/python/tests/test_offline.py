"""The client's own logic, without a server: error mapping, retry policy, configuration, the rpc
table, the cache policy and caches, describe(), and the trace context."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from rekey_client import (
    AsyncClient,
    AuthenticationFailedError,
    CachePolicy,
    Client,
    ClientConfig,
    ConfigError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    InvalidCiphertextError,
    KeyNotFoundError,
    Kind,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    TooLargeError,
    TransportError,
    UnauthenticatedError,
    UnavailableError,
    VersionRetiredError,
    _rpcs,
    describe,
    proto,
)
from rekey_client._caches import DecryptCache, EncryptCache
from rekey_client._calls import plan
from rekey_client._data_key import DataKey
from rekey_client._proto.rekey.v1 import admin_service_pb2, key_service_pb2, rotation_service_pb2
from rekey_client._stream_rpcs import MAX_MESSAGE_CHUNK, pieces
from rekey_client.errors import Input, from_status

S = grpc.StatusCode
WORKED_DK = bytes.fromhex("8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677")
WORKED_WRAPPED = bytes.fromhex(
    "524b01010c637573746f6d65722e70696900000007b0b1b2b3b4b5b6b7b8b9babb11ccf010201055a047e9b5918908eeb50ca5e3"
    "69d9f361ca5edfa0c218d79461c70723da9965fbc15187889ae1973db3"
)


def reason(name: str) -> list[tuple[str, str]]:
    return [("rekey-error-reason", name)]


# Errors -------------------------------------------------------------------------------------


def test_the_servers_reason_decides_over_code_and_message() -> None:
    cases = [
        (S.NOT_FOUND, "ERROR_REASON_KEY_NOT_FOUND", KeyNotFoundError),
        (S.NOT_FOUND, "ERROR_REASON_VERSION_NOT_FOUND", KeyNotFoundError),
        (S.NOT_FOUND, "ERROR_REASON_EVENT_NOT_FOUND", NotFoundError),
        (S.NOT_FOUND, "ERROR_REASON_TOKEN_NOT_FOUND", NotFoundError),
        (S.FAILED_PRECONDITION, "ERROR_REASON_VERSION_RETIRED", VersionRetiredError),
        (S.FAILED_PRECONDITION, "ERROR_REASON_WRONG_PURPOSE", FailedPreconditionError),
        (S.FAILED_PRECONDITION, "ERROR_REASON_ROTATION_REFUSED", FailedPreconditionError),
        (S.FAILED_PRECONDITION, "ERROR_REASON_EVENT_STATE", FailedPreconditionError),
        (S.INVALID_ARGUMENT, "ERROR_REASON_INVALID_VALUE", InvalidCiphertextError),
        (S.INVALID_ARGUMENT, "ERROR_REASON_AUTHENTICATION_FAILED", AuthenticationFailedError),
        (S.INVALID_ARGUMENT, "ERROR_REASON_INVALID_ARGUMENT", InvalidArgumentError),
        (S.RESOURCE_EXHAUSTED, "ERROR_REASON_TOO_LARGE", TooLargeError),
        (S.UNAUTHENTICATED, "ERROR_REASON_UNAUTHENTICATED", UnauthenticatedError),
        (S.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED", PermissionDeniedError),
        (S.UNAVAILABLE, "ERROR_REASON_UNAVAILABLE", UnavailableError),
        (S.INTERNAL, "ERROR_REASON_INTERNAL", InternalError),
    ]
    for code, name, cls in cases:
        error = from_status(code, "reworded", reason(name), Input.OTHER)
        assert type(error) is cls, (name, error)
        assert (error.message, error.code) == ("reworded", code.name)


def test_rate_limited_reads_retry_after_from_metadata_then_from_the_message() -> None:
    md = [*reason("ERROR_REASON_RATE_LIMITED"), ("retry-after", "9")]
    error = from_status(S.RESOURCE_EXHAUSTED, "slow down", md, Input.OTHER)
    assert isinstance(error, RateLimitedError) and error.retry_after == 9
    error = from_status(S.RESOURCE_EXHAUSTED, "too many failed authentication attempts from x; retry in 41 s", None,
                        Input.OTHER)  # fmt: skip
    assert isinstance(error, RateLimitedError) and error.retry_after == 41
    error = from_status(S.RESOURCE_EXHAUSTED, "message too large", None, Input.OTHER)
    assert isinstance(error, TooLargeError)


def test_without_a_reason_the_code_and_documented_messages_decide() -> None:
    o, v = Input.OTHER, Input.VALUE
    cases = [
        (S.NOT_FOUND, 'key "K" does not exist', o, KeyNotFoundError),
        (S.NOT_FOUND, 'version 3 of key "K" does not exist', o, KeyNotFoundError),
        (S.NOT_FOUND, 'rotation event "e" does not exist', o, NotFoundError),
        (S.FAILED_PRECONDITION, "version 1 of key K is retired and can no longer be used", v, VersionRetiredError),
        (S.FAILED_PRECONDITION, "key rotation is disabled", o, FailedPreconditionError),
        (S.INVALID_ARGUMENT, "ciphertext failed authentication: it was modified", v, AuthenticationFailedError),
        (S.INVALID_ARGUMENT, "ciphertext is truncated", v, InvalidCiphertextError),
        (S.INVALID_ARGUMENT, "ciphertext is truncated", o, InvalidArgumentError),
        (S.OUT_OF_RANGE, "decoded message length too large", o, TooLargeError),
        (S.PERMISSION_DENIED, "scope", o, PermissionDeniedError),
        (S.UNAUTHENTICATED, "token", o, UnauthenticatedError),
        (S.UNAVAILABLE, "down", o, UnavailableError),
        (S.DEADLINE_EXCEEDED, "late", o, DeadlineExceededError),
        (S.UNKNOWN, "?", o, TransportError),
        (S.CANCELLED, "?", o, TransportError),
        # tonic's answer to an expired grpc-timeout is a deadline, as in the Rust client.
        (S.CANCELLED, "Timeout expired", o, DeadlineExceededError),
        (S.INTERNAL, "see the log", o, InternalError),
        (S.UNIMPLEMENTED, "?", o, InternalError),
        # A reason from a newer server falls back to the code.
        (S.NOT_FOUND, "event x", o, NotFoundError),
    ]
    for code, message, input, cls in cases:
        md = reason("ERROR_REASON_FROM_THE_FUTURE") if message == "event x" else None
        assert type(from_status(code, message, md, input)) is cls, (code, message)


def test_only_unavailable_and_deadline_exceeded_are_transient() -> None:
    assert UnavailableError("x").is_transient and DeadlineExceededError("x").is_transient
    for cls in (InvalidArgumentError, NotFoundError, InternalError, PermissionDeniedError, RateLimitedError):
        assert not cls("x").is_transient
    assert str(KeyNotFoundError("no key K")) == "key not found: no key K"


# Retries ------------------------------------------------------------------------------------


def test_bounds_double_from_the_initial_backoff_up_to_the_cap() -> None:
    p = RetryPolicy()
    assert [p.bound(i) for i in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert p.bound(7) == 2.0 and p.bound(10**6) == 2.0


def test_waits_are_jittered_within_the_bound() -> None:
    p = RetryPolicy()
    waits = [p.backoff(3) for _ in range(200)]
    assert all(0 <= w <= 0.2 for w in waits)
    assert len(set(waits)) > 1, "full jitter: not a constant"


def test_next_wait_follows_idempotency_attempts_and_the_deadline() -> None:
    p = RetryPolicy()
    down = UnavailableError("down")
    assert all(p.next_wait(down, True, attempt, 60) is not None for attempt in (1, 2, 3))
    assert p.next_wait(down, True, 4, 60) is None
    assert p.next_wait(down, False, 1, 60) is None
    assert p.next_wait(InvalidArgumentError("x"), True, 1, 60) is None
    assert RetryPolicy.none().next_wait(down, True, 1, 60) is None
    limited = RateLimitedError("slow", retry_after=2.0)
    assert p.next_wait(limited, False, 1, 60) == 2.0, "the limiter refused before the rpc ran"
    assert p.next_wait(limited, True, 1, 1.0) is None, "does not fit the deadline"
    assert p.next_wait(RateLimitedError("slow"), True, 1, 60) is None


# Configuration ------------------------------------------------------------------------------


def test_the_environment_gives_address_token_and_certificates(tmp_path: Path) -> None:
    c = ClientConfig.from_env({})
    assert (c.addr, c.token, c.token_file) == ("http://127.0.0.1:50051", None, None)
    c = ClientConfig.from_env({"REKEY_ADDR": "10.0.0.1:1", "REKEY_TOKEN": "tok"})
    assert (c.addr, c.token) == ("10.0.0.1:1", "tok")
    c = ClientConfig.from_env({"REKEY_TOKEN": "tok", "REKEY_TOKEN_FILE": "/t"})
    assert (c.token, c.token_file) == (None, "/t")
    c = ClientConfig.from_env({"REKEY_TOKEN": "tok"}, token_file="/u")
    assert (c.token, c.token_file) == (None, "/u")
    with pytest.raises(ConfigError):
        ClientConfig.from_env({"REKEY_CLIENT_CERT_FILE": "/c"})
    c = ClientConfig.from_env({"REKEY_ADDR": "https://h:1", "REKEY_CA_FILE": "/ca", "REKEY_CLIENT_CERT_FILE": "/c",
                               "REKEY_CLIENT_KEY_FILE": "/k"})  # fmt: skip
    assert (c.ca_file, c.client_cert_file, c.client_key_file) == ("/ca", "/c", "/k")


def test_the_token_file_is_read_and_the_token_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  secret-token-value\n")
    assert ClientConfig(token_file=path).bearer() == "Bearer secret-token-value"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError):
        ClientConfig(token_file=tmp_path / "empty").bearer()
    with pytest.raises(ConfigError) as e:
        ClientConfig(token="sec\nret").bearer()
    assert "sec" not in str(e.value)
    client = Client("h:1", token="super-secret-token")
    assert "super-secret" not in repr(client) and "super-secret" not in repr(client.config)
    client.close()


def test_https_needs_a_ca_and_certificates_need_https() -> None:
    with pytest.raises(ConfigError, match="REKEY_CA_FILE"):
        Client("https://h:1")
    with pytest.raises(ConfigError, match="not https"):
        Client("http://h:1", ca_file="/ca.pem")
    with pytest.raises(ConfigError, match="cannot read"):
        Client("https://h:1", ca_file="/does/not/exist.pem")
    with pytest.raises(ConfigError):
        Client("ftp://h:1")
    assert ClientConfig(addr="h:1").target() == ("h:1", False)
    assert ClientConfig(addr="https://h:1", ca_file="x").target() == ("h:1", True)


# The rpc table ------------------------------------------------------------------------------


def test_the_rpc_table_covers_every_method_of_every_service() -> None:
    in_proto = {
        f"/{service.full_name}/{method.name}": (
            method.input_type.full_name,
            method.output_type.full_name,
            method.client_streaming and method.server_streaming,
        )
        for module in (key_service_pb2, rotation_service_pb2, admin_service_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
        # Only unary and bidirectional rpcs are wrapped: a half-streaming one would fail here.
        if method.client_streaming == method.server_streaming
    }
    in_table = {
        rpc.path: (rpc.request.DESCRIPTOR.full_name, rpc.response.DESCRIPTOR.full_name, rpc.streaming)
        for rpc in _rpcs.ALL
    }
    assert in_table == in_proto
    assert {r.method for r in _rpcs.ALL if r.streaming} == {"EncryptStream", "DecryptStream"}
    for rpc in _rpcs.ALL:
        assert hasattr(Client, _snake(rpc.method)), rpc.method
        assert hasattr(AsyncClient, _snake(rpc.method)), rpc.method
    never = {r.method for r in _rpcs.ALL if not r.idempotent(r.request())}
    assert never == {"Rotate", "Rollback", "CreateToken", "RollbackEvent"}
    assert not _rpcs.SCHEDULE_ROTATION.idempotent(proto.ScheduleRotationRequest(force=True))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def test_stream_chunks_become_messages_of_at_most_one_mib() -> None:
    assert list(pieces(b"")) == []
    small = b"abc"
    assert next(pieces(small)) is small, "a small bytes chunk is sent without a copy"
    assert list(pieces(bytearray(b"xyz"))) == [b"xyz"]
    big = bytes(range(256)) * (MAX_MESSAGE_CHUNK // 256 * 2 + 3)
    parts = list(pieces(memoryview(big)))
    assert [len(p) for p in parts] == [MAX_MESSAGE_CHUNK, MAX_MESSAGE_CHUNK, 768]
    assert b"".join(parts) == big
    wide = memoryview(bytes(8)).cast("I")  # two 4-byte items: sent as their 8 bytes
    assert list(pieces(wide)) == [bytes(8)]
    for bad in ("text", 5, None):
        with pytest.raises(TypeError, match="bytes-like"):
            list(pieces(bad))


# Cache policy and caches ----------------------------------------------------------------------


def worked_key() -> DataKey:
    return DataKey("customer.pii", 7, WORKED_DK, WORKED_WRAPPED)


def test_cache_policy_defaults_and_limits() -> None:
    p = CachePolicy(max_age=300)
    assert (p.max_messages, p.max_bytes, p.decrypt_entries, p.decrypt_ttl) == (None, None, 1000, 300)
    assert CachePolicy(max_age=1, max_messages=0).max_messages == 1
    with pytest.raises(ValueError, match="max_age"):
        CachePolicy(max_age=0)


def test_a_key_serves_until_max_messages_and_max_bytes() -> None:
    cache = EncryptCache(CachePolicy(max_age=3600, max_messages=3))
    assert cache.take(1) is None
    cache.install(worked_key(), 1, 1)
    assert cache.take(1) is not None and cache.take(1) is not None
    assert cache.take(1) is None and cache.take(1) is None
    cache = EncryptCache(CachePolicy(max_age=3600, max_bytes=100))
    cache.install(worked_key(), 0, 0)
    assert cache.take(500) is not None, "a fresh key takes one big message"
    cache.install(worked_key(), 1, 60)
    assert cache.take(40) is not None and cache.take(1) is None


def test_the_decrypt_cache_evicts_the_least_recently_used_and_expires() -> None:
    def key(i: int) -> DataKey:
        wrapped = bytearray(WORKED_WRAPPED)
        wrapped[-1] = i  # another wrapped key (structurally valid)
        return DataKey("customer.pii", 7, WORKED_DK, bytes(wrapped))

    cache = DecryptCache(2, 3600)
    a, b, c = key(1), key(2), key(3)
    assert cache.insert(a) == 0 and cache.insert(b) == 0
    assert cache.get(a.wrapped_key)[0] is a
    assert cache.insert(c) == 1
    assert cache.get(b.wrapped_key) == (None, 0)
    assert cache.get(a.wrapped_key)[0] is a and cache.get(c.wrapped_key)[0] is c
    short = DecryptCache(10, 0.03)
    short.insert(a)
    time.sleep(0.04)
    assert short.get(a.wrapped_key) == (None, 1)
    assert len(DecryptCache(0, 3600)) == 0
    none = DecryptCache(0, 3600)
    none.insert(a)
    assert none.get(a.wrapped_key) == (None, 0)


def test_a_data_key_is_checked_like_the_rust_client_checks_it() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey("customer.pii", 7, WORKED_DK[:31], WORKED_WRAPPED)
    with pytest.raises(ValueError, match="wrapped data key"):
        DataKey("customer.pii", 8, WORKED_DK, WORKED_WRAPPED)
    with pytest.raises(ValueError, match="wrapped data key"):
        DataKey("other.name", 7, WORKED_DK, WORKED_WRAPPED)
    key = worked_key()
    assert "8899aabb" not in repr(key)
    key.wipe()
    assert key._key == bytearray(32)


def test_describe_reads_every_kind_offline() -> None:
    key = worked_key()
    info = describe(key.seal(b"p", b"ad"))
    assert (info.kind, info.key_name, info.key_version) == (Kind.ENVELOPE_CIPHERTEXT, "customer.pii", 7)
    assert describe(WORKED_WRAPPED).kind == Kind.CIPHERTEXT
    with pytest.raises(ValueError, match="does not start"):
        describe(b"hello world")


# Trace context ----------------------------------------------------------------------------------


def test_the_current_opentelemetry_span_is_sent_as_traceparent() -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    context = SpanContext(trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7, is_remote=False,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))  # fmt: skip
    config = ClientConfig()
    request = proto.GetStatusRequest()
    assert "traceparent" not in dict(plan(config, None, _rpcs.GET_STATUS, request, None).metadata)
    with trace.use_span(NonRecordingSpan(context)):
        metadata = dict(plan(config, "Bearer t", _rpcs.GET_STATUS, request, None).metadata)
    assert metadata["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert metadata["authorization"] == "Bearer t"
