"""Retries against a closed port (nothing listens: every attempt is UNAVAILABLE): idempotent rpcs
are tried max_attempts times with jittered waits within the policy's bounds, non-idempotent ones
once. Measured through the observer's attempt times."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

import pytest

from rekey_client import AsyncClient, Client, RetryPolicy, UnavailableError, proto

from .conftest import KEY, Recorder

POLICY = RetryPolicy(max_attempts=5, initial_backoff=0.1, max_backoff=0.25)
# Scheduling and the refused connection itself take a little time on a shared machine.
SLACK = 0.2


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        host, port = s.getsockname()
    return f"{host}:{port}"


def check_waits(recorder: Recorder, rpc: str, started: float) -> None:
    attempts = recorder.of(rpc)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4, 5]
    assert all(isinstance(a.error, UnavailableError) for a in attempts)
    times = [started] + [a.at for a in attempts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[1:])]
    for attempt, gap in enumerate(gaps, start=1):
        assert gap <= POLICY.bound(attempt) + SLACK, (attempt, gap, gaps)
    # Full jitter: four draws in [0, bound] make a total far below the sum of the bounds in
    # almost every run, and never above it.
    assert sum(gaps) <= sum(POLICY.bound(i) for i in range(1, 5)) + 4 * SLACK


def test_idempotent_rpcs_are_retried_up_to_max_attempts(recorder: Recorder) -> None:
    with Client(closed_port(), token="t", retry_policy=POLICY, observer=recorder) as c:
        started = time.monotonic()
        with pytest.raises(UnavailableError):
            c.decrypt(proto.DecryptRequest(ciphertext=b"x"))
        check_waits(recorder, "Decrypt", started)
        with pytest.raises(UnavailableError):
            c.schedule_rotation(proto.ScheduleRotationRequest(key_name=KEY, force=False))
        assert len(recorder.of("ScheduleRotation")) == 5


def test_non_idempotent_rpcs_are_tried_once(recorder: Recorder) -> None:
    with Client(closed_port(), token="t", retry_policy=POLICY, observer=recorder) as c:
        with pytest.raises(UnavailableError):
            c.rotate(proto.RotateRequest(key_name=KEY, force=True))
        with pytest.raises(UnavailableError):
            c.rollback(proto.RollbackRequest(key_name=KEY))
        with pytest.raises(UnavailableError):
            c.create_token(proto.CreateTokenRequest(name="n", role=proto.TOKEN_ROLE_CLIENT))
        with pytest.raises(UnavailableError):
            c.schedule_rotation(proto.ScheduleRotationRequest(key_name=KEY, force=True))
        with pytest.raises(UnavailableError):
            c.rollback_event(proto.RollbackEventRequest(event_id="e"))
    for rpc in ("Rotate", "Rollback", "CreateToken", "ScheduleRotation", "RollbackEvent"):
        assert len(recorder.of(rpc)) == 1, rpc


def test_the_async_client_retries_the_same_way(recorder: Recorder) -> None:
    async def scenario() -> float:
        async with AsyncClient(closed_port(), token="t", retry_policy=POLICY, observer=recorder) as c:
            started = time.monotonic()
            with pytest.raises(UnavailableError):
                await c.get_status(proto.GetStatusRequest())
            with pytest.raises(UnavailableError):
                await c.rotate(proto.RotateRequest(key_name=KEY, force=True))
            return started

    started = asyncio.run(scenario())
    check_waits(recorder, "GetStatus", started)
    assert len(recorder.of("Rotate")) == 1


def test_no_retries_with_the_none_policy(recorder: Recorder) -> None:
    with (
        Client(closed_port(), token="t", retry_policy=RetryPolicy.none(), observer=recorder) as c,
        pytest.raises(UnavailableError),
    ):
        c.get_status(proto.GetStatusRequest())
    assert len(recorder.of("GetStatus")) == 1
