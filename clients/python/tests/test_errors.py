"""Every error the server can produce, reached against a real server and raised as its typed
class; the message is the server's and the code name is kept."""

from __future__ import annotations

import socket
import time

import pytest

from rekey_client import (
    AuthenticationFailedError,
    CachePolicy,
    CallOptions,
    Client,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidCiphertextError,
    KeyNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    TooLargeError,
    UnauthenticatedError,
    VersionRetiredError,
    proto,
)
from rekey_client.testing import RekeyServer

from .conftest import KEY, Recorder


def encrypt(key: str = KEY, plaintext: bytes = b"p") -> proto.EncryptRequest:
    return proto.EncryptRequest(key_name=key, plaintext=plaintext)


def test_unknown_key_is_key_not_found(client: Client) -> None:
    with pytest.raises(KeyNotFoundError) as e:
        client.encrypt(encrypt("NO_SUCH_KEY"))
    assert "NO_SUCH_KEY" in e.value.message
    assert e.value.code == "NOT_FOUND"


def test_malformed_key_name_is_invalid_argument(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as e:
        client.encrypt(encrypt("bad name!"))
    assert e.value.code == "INVALID_ARGUMENT"


def test_tampered_ciphertext_is_authentication_failed_and_garbage_is_invalid(client: Client) -> None:
    sealed = client.encrypt(encrypt()).ciphertext
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(AuthenticationFailedError):
        client.decrypt(proto.DecryptRequest(ciphertext=tampered))
    with pytest.raises(AuthenticationFailedError):
        client.decrypt(proto.DecryptRequest(ciphertext=sealed, associated_data=b"other"))
    with pytest.raises(InvalidCiphertextError) as e:
        client.decrypt(proto.DecryptRequest(ciphertext=b"not rekey"))
    assert e.value.code == "INVALID_ARGUMENT"


def test_wrong_token_is_unauthenticated_after_exactly_one_attempt(server: RekeyServer, recorder: Recorder) -> None:
    with Client(server.grpc_url, token="not-a-token", observer=recorder) as wrong, pytest.raises(UnauthenticatedError):
        wrong.get_status(proto.GetStatusRequest())
    assert len(recorder.of("GetStatus")) == 1
    with Client(server.grpc_url) as anonymous, pytest.raises(UnauthenticatedError):
        anonymous.encrypt(encrypt())


def test_token_scoped_to_another_key_is_permission_denied(client: Client, server: RekeyServer) -> None:
    scoped = client.create_token(
        proto.CreateTokenRequest(name="sessions-only", role=proto.TOKEN_ROLE_CLIENT, key_names=["SESSION_ENCRYPTION"])
    )
    with Client(server.grpc_url, token=scoped.token) as limited:
        limited.encrypt(encrypt("SESSION_ENCRYPTION"))
        with pytest.raises(PermissionDeniedError) as e:
            limited.encrypt(encrypt(KEY))
        assert e.value.code == "PERMISSION_DENIED"
        # An envelope over a key outside the scope fails the same way on its first call.
        with pytest.raises(PermissionDeniedError):
            limited.envelope(KEY, CachePolicy(max_age=60)).encrypt(b"x")
        assert scoped.token not in repr(limited)
    # A client token on an admin rpc.
    with Client(server.grpc_url, token=scoped.token) as limited, pytest.raises(PermissionDeniedError):
        limited.list_tokens(proto.ListTokensRequest())


def test_wrong_purpose_is_failed_precondition(client: Client) -> None:
    with pytest.raises(FailedPreconditionError):
        client.sign(proto.SignRequest(key_name=KEY, message=b"m"))
    with pytest.raises(FailedPreconditionError):
        client.envelope("API_SIGNATURE", CachePolicy(max_age=60)).encrypt(b"x")


def test_unknown_event_and_token_are_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError) as e:
        client.get_event(proto.GetEventRequest(event_id="evt_does_not_exist"))
    assert not isinstance(e.value, KeyNotFoundError)
    with pytest.raises(NotFoundError):
        client.revoke_token(proto.RevokeTokenRequest(token_id="tok_does_not_exist"))


def test_plaintext_above_the_servers_limit_is_too_large(client: Client) -> None:
    with pytest.raises(TooLargeError):
        client.encrypt(encrypt(plaintext=bytes(1024 * 1024 + 1)))


def test_a_peer_that_never_answers_is_deadline_exceeded_per_attempt(recorder: Recorder) -> None:
    # A listener that completes TCP handshakes (the kernel does) but never speaks HTTP/2.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host, port = silent.getsockname()
        with Client(f"{host}:{port}", token="t", observer=recorder) as c:
            start = time.monotonic()
            with pytest.raises(DeadlineExceededError):
                c.get_status(proto.GetStatusRequest(), CallOptions(attempt_timeout=0.2, deadline=5.0))
            elapsed = time.monotonic() - start
    attempts = recorder.of("GetStatus")
    # DEADLINE_EXCEEDED is transient and GetStatus idempotent: retried up to max_attempts.
    assert len(attempts) == 4
    assert all(isinstance(a.error, DeadlineExceededError) for a in attempts)
    # Four attempts of 0.2 s and three waits of at most 0.05, 0.1 and 0.2 s.
    assert 0.8 <= elapsed < 0.8 + 0.35 + 0.5


def test_the_overall_deadline_bounds_the_retries(recorder: Recorder) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host, port = silent.getsockname()
        with Client(f"{host}:{port}", token="t", observer=recorder) as c:
            start = time.monotonic()
            with pytest.raises(DeadlineExceededError):
                c.get_status(proto.GetStatusRequest(), CallOptions(attempt_timeout=10, deadline=0.3))
            elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 0.8
    assert len(recorder.of("GetStatus")) == 1


def test_too_many_failed_authentications_are_rate_limited_with_a_hint() -> None:
    # Its own server: the limiter would lock this address out of the shared one for a minute.
    with RekeyServer.start() as server, Client(server.grpc_url, token="wrong", retry_policy=RetryPolicy.none()) as c:
        for _ in range(20):
            with pytest.raises(UnauthenticatedError):
                c.get_status(proto.GetStatusRequest())
        with pytest.raises(RateLimitedError) as e:
            c.get_status(proto.GetStatusRequest())
        assert e.value.code == "RESOURCE_EXHAUSTED"
        assert e.value.retry_after is not None
        assert 0 < e.value.retry_after <= 60


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


def test_a_value_of_a_retired_version_is_version_retired() -> None:
    with (
        RekeyServer.start(config_toml=RETIRING_CONFIG) as server,
        Client(server.grpc_url, token=server.admin_token) as c,
    ):
        old = c.encrypt(encrypt("RETIRING", b"old secret")).ciphertext
        envelope = c.envelope("RETIRING", CachePolicy(max_age=60))
        old_value = envelope.encrypt(b"old envelope secret", b"row 1")
        rotated = c.rotate(proto.RotateRequest(key_name="RETIRING"))
        assert rotated.new_version == rotated.previous_version + 1
        deadline = time.monotonic() + 12
        while True:
            status = c.get_status(proto.GetStatusRequest(key_name="RETIRING")).keys[0]
            states = {v.version: v.state for v in status.versions}
            if states[rotated.previous_version] == proto.KEY_VERSION_STATE_RETIRED:
                break
            assert time.monotonic() < deadline, f"version never retired: {states}"
            time.sleep(0.2)
        with pytest.raises(VersionRetiredError) as e:
            c.decrypt(proto.DecryptRequest(ciphertext=old))
        assert e.value.code == "FAILED_PRECONDITION"
        # A fresh envelope must unwrap the old value's data key: refused the same way.
        with pytest.raises(VersionRetiredError):
            c.envelope("RETIRING", CachePolicy(max_age=60)).decrypt(old_value, b"row 1")
