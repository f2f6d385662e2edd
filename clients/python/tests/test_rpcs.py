"""A round trip of every rpc of KeyService, RotationService and AdminService against a real
server, with the blocking and the asyncio client."""

from __future__ import annotations

import asyncio

import pytest

from rekey_client import (
    AsyncClient,
    CallOptions,
    Client,
    FailedPreconditionError,
    InvalidCiphertextError,
    KeyNotFoundError,
    proto,
)
from rekey_client._data_key import DATA_KEY_AAD
from rekey_client.testing import RekeyServer

from .conftest import KEY, Recorder

ROTATED = "FILE_ENCRYPTION"  # rotated and rolled back here, used by no other test
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_key_service_data_plane(client: Client) -> None:
    sealed = client.encrypt(
        proto.EncryptRequest(key_name=KEY, plaintext=b"p", associated_data=b"ad"), CallOptions(traceparent=TRACEPARENT)
    )
    assert sealed.key_version >= 1
    opened = client.decrypt(proto.DecryptRequest(ciphertext=sealed.ciphertext, associated_data=b"ad"))
    assert (opened.plaintext, opened.key_name) == (b"p", KEY)

    dk = client.generate_data_key(proto.GenerateDataKeyRequest(key_name=KEY, associated_data=DATA_KEY_AAD))
    assert len(dk.plaintext_key) == 32
    unwrapped = client.decrypt(proto.DecryptRequest(ciphertext=dk.wrapped_key, associated_data=DATA_KEY_AAD))
    assert unwrapped.plaintext == dk.plaintext_key

    rewrapped = client.rewrap(proto.RewrapRequest(ciphertext=sealed.ciphertext, associated_data=b"ad"))
    again = client.decrypt(proto.DecryptRequest(ciphertext=rewrapped.ciphertext, associated_data=b"ad"))
    assert again.plaintext == b"p"

    signed = client.sign(proto.SignRequest(key_name="API_SIGNATURE", message=b"m"))
    assert client.verify(proto.VerifyRequest(message=b"m", signature=signed.signature)).valid
    assert not client.verify(proto.VerifyRequest(message=b"other", signature=signed.signature)).valid
    with pytest.raises(InvalidCiphertextError):
        client.verify(proto.VerifyRequest(message=b"m", signature=b"not a signature"))

    status = client.get_status(proto.GetStatusRequest())
    names = {k.key_name: k.purpose for k in status.keys}
    assert names[KEY] == proto.KEY_PURPOSE_ENCRYPT_DECRYPT
    assert names["API_SIGNATURE"] == proto.KEY_PURPOSE_SIGN_VERIFY


def test_rotation_lifecycle(client: Client) -> None:
    before = client.get_status(proto.GetStatusRequest(key_name=ROTATED)).keys[0].primary_version
    rotated = client.rotate(proto.RotateRequest(key_name=ROTATED, force=True))
    assert (rotated.previous_version, rotated.new_version) == (before, before + 1)
    event = client.get_event(proto.GetEventRequest(event_id=rotated.event_id)).event
    assert (event.key_name, event.to_version) == (ROTATED, rotated.new_version)
    listed = client.list_events(proto.ListEventsRequest(key_name=ROTATED))
    assert rotated.event_id in [e.event_id for e in listed.events]

    impact = client.get_impact(proto.GetImpactRequest(key_name=ROTATED))
    assert impact.primary_version == rotated.new_version
    schedule = client.get_schedule(proto.GetScheduleRequest())
    assert ROTATED in [k.key_name for k in schedule.keys]
    not_due = client.schedule_rotation(proto.ScheduleRotationRequest(key_name=ROTATED))
    assert not not_due.rotated and not_due.reason

    # The event has no migration targets to work, so it is (or soon is) completed: executing or
    # retrying it is refused by state, which is still the rpc answering.
    for call in (
        lambda: client.execute_event(proto.ExecuteEventRequest(event_id=rotated.event_id)),
        lambda: client.retry_event(proto.RetryEventRequest(event_id=rotated.event_id)),
    ):
        try:
            answer = call()
        except FailedPreconditionError:
            continue
        assert answer.event.event_id == rotated.event_id

    rolled = client.rollback_event(proto.RollbackEventRequest(event_id=rotated.event_id))
    assert rolled.event.rolling_back or rolled.event.status == proto.ROTATION_EVENT_STATUS_ROLLED_BACK
    assert client.get_status(proto.GetStatusRequest(key_name=ROTATED)).keys[0].primary_version == before

    again = client.rotate(proto.RotateRequest(key_name=ROTATED, force=True))
    back = client.rollback(proto.RollbackRequest(key_name=ROTATED))
    # The version below the rolled-back one becomes primary again (here 2, deprecated by the
    # RollbackEvent above), whichever was primary before the rotation.
    assert back.rolled_back_version == again.new_version
    assert back.primary_version == again.new_version - 1


def test_admin_service(client: Client) -> None:
    created = client.create_token(
        proto.CreateTokenRequest(name="py-test", role=proto.TOKEN_ROLE_CLIENT, key_names=[KEY], operations=["encrypt"])
    )
    assert created.token and created.info.token_id.startswith("tok_")
    listed = client.list_tokens(proto.ListTokensRequest())
    assert created.info.token_id in [t.token_id for t in listed.tokens]
    revoked = client.revoke_token(proto.RevokeTokenRequest(token_id=created.info.token_id))
    assert revoked.token.HasField("revoked_at")

    audit = client.list_audit(proto.ListAuditRequest(limit=1000))
    assert any(r.operation for r in audit.records)
    verified = client.verify_audit(proto.VerifyAuditRequest())
    assert verified.intact and verified.rows > 0
    report = client.get_report(proto.GetReportRequest(kind=proto.REPORT_KIND_WEEKLY))
    assert report.kind == proto.REPORT_KIND_WEEKLY
    assert KEY in [k.key_name for k in report.weekly.keys]


def test_the_async_client_round_trips_and_raises_typed_errors(server: RekeyServer, recorder: Recorder) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.grpc_url, token=server.admin_token, observer=recorder) as c:
            await c.wait_ready()
            sealed = await c.encrypt(proto.EncryptRequest(key_name=KEY, plaintext=b"async"))
            opened = await c.decrypt(proto.DecryptRequest(ciphertext=sealed.ciphertext))
            assert opened.plaintext == b"async"
            results = await asyncio.gather(*(c.get_status(proto.GetStatusRequest(key_name=KEY)) for _ in range(10)))
            assert all(r.keys[0].key_name == KEY for r in results)
            with pytest.raises(KeyNotFoundError):
                await c.encrypt(proto.EncryptRequest(key_name="NO_SUCH_KEY", plaintext=b"x"))
            report = await c.get_report(proto.GetReportRequest())
            assert report.kind == proto.REPORT_KIND_POST_ROTATION

    asyncio.run(scenario())
    assert [a.error is None for a in recorder.of("Encrypt")] == [True, False]


def test_wait_ready_connects_and_the_client_is_reusable_across_threads(client: Client) -> None:
    client.wait_ready()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: client.get_status(proto.GetStatusRequest(key_name=KEY)), range(16)))
    assert len(statuses) == 16
