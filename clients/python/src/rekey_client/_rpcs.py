"""Every rpc of KeyService, RotationService and AdminService, stated once: its method path, its
message types, whether the proto calls it safe to retry, whether its subject is a Rekey value
(which decides how INVALID_ARGUMENT reads), and whether it streams. The table of
crates/rekey-client/src/rpcs.rs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from . import proto as pb
from .errors import Input

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


@dataclass(frozen=True)
class Rpc(Generic[Req, Resp]):
    """One rpc: `path` is the gRPC method path ("/rekey.v1.KeyService/Encrypt")."""

    service: str
    method: str
    request: type[Req]
    response: type[Resp]
    #: Whether sending this request twice can change no more than sending it once.
    idempotent: Callable[[Req], bool]
    input: Input = Input.OTHER
    #: A bidirectional stream of requests and answers (EncryptStream, DecryptStream): one
    #: attempt, never retried whatever `idempotent` says, since its requests are read from the
    #: caller's iterable as they are sent and cannot be sent again.
    streaming: bool = False

    @property
    def path(self) -> str:
        return f"/rekey.v1.{self.service}/{self.method}"

    @property
    def name(self) -> str:
        """The name observers see, as the Rust client reports it ("Encrypt")."""
        return self.method


_K, _R, _A = "KeyService", "RotationService", "AdminService"

ENCRYPT = Rpc(_K, "Encrypt", pb.EncryptRequest, pb.EncryptResponse, _always)
DECRYPT = Rpc(_K, "Decrypt", pb.DecryptRequest, pb.DecryptResponse, _always, Input.VALUE)
GENERATE_DATA_KEY = Rpc(_K, "GenerateDataKey", pb.GenerateDataKeyRequest, pb.GenerateDataKeyResponse, _always)
REWRAP = Rpc(_K, "Rewrap", pb.RewrapRequest, pb.RewrapResponse, _always, Input.VALUE)
SIGN = Rpc(_K, "Sign", pb.SignRequest, pb.SignResponse, _always)
VERIFY = Rpc(_K, "Verify", pb.VerifyRequest, pb.VerifyResponse, _always, Input.VALUE)
# The batches' call errors are never about one value (each item's error comes in its result, read
# as the item's single rpc would be: see _batch.py), hence Input.OTHER for all three.
ENCRYPT_BATCH = Rpc(_K, "EncryptBatch", pb.EncryptBatchRequest, pb.EncryptBatchResponse, _always)
DECRYPT_BATCH = Rpc(_K, "DecryptBatch", pb.DecryptBatchRequest, pb.DecryptBatchResponse, _always)
REWRAP_BATCH = Rpc(_K, "RewrapBatch", pb.RewrapBatchRequest, pb.RewrapBatchResponse, _always)
# Safe to retry from the start, says the proto; the client makes one attempt (see `streaming`).
ENCRYPT_STREAM = Rpc(_K, "EncryptStream", pb.EncryptStreamRequest, pb.EncryptStreamResponse, _always, streaming=True)
DECRYPT_STREAM = Rpc(
    _K, "DecryptStream", pb.DecryptStreamRequest, pb.DecryptStreamResponse, _always, Input.VALUE, streaming=True
)
# A lost answer may hide a committed rotation: the caller checks GetStatus before asking again.
ROTATE = Rpc(_K, "Rotate", pb.RotateRequest, pb.RotateResponse, _never)
ROLLBACK = Rpc(_K, "Rollback", pb.RollbackRequest, pb.RollbackResponse, _never)
GET_STATUS = Rpc(_K, "GetStatus", pb.GetStatusRequest, pb.GetStatusResponse, _always)

GET_IMPACT = Rpc(_R, "GetImpact", pb.GetImpactRequest, pb.GetImpactResponse, _always)


def _unforced(request: pb.ScheduleRotationRequest) -> bool:
    # Without `force` a duplicate finds the key no longer due and changes nothing.
    return not request.force


SCHEDULE_ROTATION = Rpc(_R, "ScheduleRotation", pb.ScheduleRotationRequest, pb.ScheduleRotationResponse, _unforced)
GET_SCHEDULE = Rpc(_R, "GetSchedule", pb.GetScheduleRequest, pb.GetScheduleResponse, _always)
GET_EVENT = Rpc(_R, "GetEvent", pb.GetEventRequest, pb.GetEventResponse, _always)
LIST_EVENTS = Rpc(_R, "ListEvents", pb.ListEventsRequest, pb.ListEventsResponse, _always)
EXECUTE_EVENT = Rpc(_R, "ExecuteEvent", pb.ExecuteEventRequest, pb.ExecuteEventResponse, _always)
RETRY_EVENT = Rpc(_R, "RetryEvent", pb.RetryEventRequest, pb.RetryEventResponse, _always)
# Changes which version is primary: the caller looks (GetEvent) before asking again.
ROLLBACK_EVENT = Rpc(_R, "RollbackEvent", pb.RollbackEventRequest, pb.RollbackEventResponse, _never)

# Each call creates a token.
CREATE_TOKEN = Rpc(_A, "CreateToken", pb.CreateTokenRequest, pb.CreateTokenResponse, _never)
LIST_TOKENS = Rpc(_A, "ListTokens", pb.ListTokensRequest, pb.ListTokensResponse, _always)
REVOKE_TOKEN = Rpc(_A, "RevokeToken", pb.RevokeTokenRequest, pb.RevokeTokenResponse, _always)
LIST_AUDIT = Rpc(_A, "ListAudit", pb.ListAuditRequest, pb.ListAuditResponse, _always)
VERIFY_AUDIT = Rpc(_A, "VerifyAudit", pb.VerifyAuditRequest, pb.VerifyAuditResponse, _always)
GET_REPORT = Rpc(_A, "GetReport", pb.GetReportRequest, pb.GetReportResponse, _always)

#: Every rpc, for the test that checks the table against the services in the proto descriptors.
ALL: tuple[Rpc[Any, Any], ...] = (
    ENCRYPT, DECRYPT, GENERATE_DATA_KEY, REWRAP, SIGN, VERIFY, ENCRYPT_BATCH, DECRYPT_BATCH,
    REWRAP_BATCH, ENCRYPT_STREAM, DECRYPT_STREAM, ROTATE, ROLLBACK, GET_STATUS,
    GET_IMPACT, SCHEDULE_ROTATION, GET_SCHEDULE, GET_EVENT, LIST_EVENTS, EXECUTE_EVENT,
    RETRY_EVENT, ROLLBACK_EVENT,
    CREATE_TOKEN, LIST_TOKENS, REVOKE_TOKEN, LIST_AUDIT, VERIFY_AUDIT, GET_REPORT,
)  # fmt: skip
