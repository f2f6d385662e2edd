"""The blocking client: every rpc of KeyService, RotationService and AdminService as a typed
method, with the bearer token on every call, a timeout per attempt and a deadline per call, and
retries with exponential backoff and full jitter for the rpcs the proto calls safe to retry;
the streaming rpcs as iterators of bytes, one attempt each. Thread-safe: share one Client (one
connection) between threads.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from . import _batch, _rpcs, _stream_rpcs
from . import proto as pb
from ._base import ClientBase
from ._batch import BatchRpc, BatchRun
from ._calls import plan, report, stream_timeout, typed_error
from ._rpcs import Rpc
from ._stream_rpcs import Chunk, Feed
from .config import CallOptions
from .envelope import Envelope
from .errors import RekeyError, UnavailableError
from .policy import CachePolicy

__all__ = ["Client"]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Item = TypeVar("Item", bound=Message)
BatchReq = TypeVar("BatchReq", bound=Message)
BatchResp = TypeVar("BatchResp", bound=Message)
Out = TypeVar("Out", bound=Message)


class Client(ClientBase):
    """A blocking Rekey client. Each rpc is a method taking the request message
    (`rekey_client.proto`) and an optional `CallOptions`, returning the response message or
    raising a `RekeyError` subclass. `client.envelope(...)` encrypts locally.

    >>> client = Client.from_env()
    >>> client.encrypt(proto.EncryptRequest(key_name="TOKEN_ENCRYPTION", plaintext=b"hi"))
    """

    def _open(self) -> None:
        options = self._config.channel_options()
        if self._credentials is not None:
            self._channel = grpc.secure_channel(self._target, self._credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self._target, options=options)
        self._callables: dict[str, grpc.UnaryUnaryMultiCallable[Any, Any]] = {}
        self._stream_callables: dict[str, grpc.StreamStreamMultiCallable[Any, Any]] = {}

    def close(self) -> None:
        """Closes the connection; calls made afterwards fail."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Connects now (within `timeout`, default the connect timeout), so that a wrong address
        fails here rather than on the first call. Raises UnavailableError."""
        limit = self._config.connect_timeout if timeout is None else timeout
        try:
            grpc.channel_ready_future(self._channel).result(timeout=limit)
        except grpc.FutureTimeoutError:
            raise UnavailableError(f"cannot reach the Rekey server at {self._config.addr} within {limit} s") from None

    @property
    def channel(self) -> grpc.Channel:
        """The underlying channel, for services this package does not wrap (e.g. gRPC health)."""
        return self._channel

    def envelope(self, key_name: str, policy: CachePolicy) -> Envelope:
        """Local envelope encryption under cached data keys of `key_name` (an encryption key).
        Nothing is sent yet; see `Envelope.warm`. Raises InvalidArgumentError for a malformed
        key name."""
        return Envelope(self, key_name, policy)

    def _callable(self, rpc: Rpc[Req, Resp]) -> grpc.UnaryUnaryMultiCallable[Req, Resp]:
        found = self._callables.get(rpc.path)
        if found is None:
            found = self._channel.unary_unary(
                rpc.path,
                request_serializer=rpc.request.SerializeToString,
                response_deserializer=rpc.response.FromString,
            )
            self._callables[rpc.path] = found
        return found

    def _call(self, rpc: Rpc[Req, Resp], request: Req, options: CallOptions | None) -> Resp:
        """Sends `request`, retrying as the rpc's idempotency and the policy allow."""
        call = plan(self._config, self._bearer, rpc, request, options)
        send = self._callable(rpc)
        observer, policy = self._config.observer, self._config.retry_policy
        attempt = 1
        while True:
            timeout = call.timeout_of_next_attempt()
            try:
                response: Resp = send(request, timeout=timeout, metadata=call.metadata)
            except grpc.RpcError as e:
                error = typed_error(e, rpc.input)
            else:
                report(observer, rpc, attempt, None)
                return response
            report(observer, rpc, attempt, error)
            wait = policy.next_wait(error, call.idempotent, attempt, call.remaining())
            if wait is None:
                raise error
            time.sleep(wait)
            attempt += 1

    def _stream_callable(self, rpc: Rpc[Req, Resp]) -> grpc.StreamStreamMultiCallable[Req, Resp]:
        found = self._stream_callables.get(rpc.path)
        if found is None:
            found = self._channel.stream_stream(
                rpc.path,
                request_serializer=rpc.request.SerializeToString,
                response_deserializer=rpc.response.FromString,
            )
            self._stream_callables[rpc.path] = found
        return found

    def _stream(
        self, rpc: Rpc[Req, Any], first: Req, rest: Iterator[Req], options: CallOptions | None
    ) -> Generator[bytes, None, None]:
        """One streaming call, made when the iteration starts: sends `first`, then `rest` as a
        grpc thread reads it, and yields the `chunk` of each answer (but empty ones) as they
        come. One attempt, never retried
        (`rest` cannot be read again), bounded only by the call's own options. Raises the call's
        typed error, or the error of the caller's own iterable unchanged. Leaving the iteration
        early (break, close, an exception in the caller's loop) cancels the call."""
        call_plan = plan(self._config, self._bearer, rpc, first, options)
        observer = self._config.observer
        try:
            timeout = stream_timeout(options)
        except RekeyError as e:
            report(observer, rpc, 1, e)
            raise
        feed = Feed(first, rest)
        call = self._stream_callable(rpc)(iter(feed), timeout=timeout, metadata=call_plan.metadata)
        feed.attach(call)
        finished = False
        try:
            try:
                for response in call:
                    if response.chunk:
                        yield response.chunk
            except grpc.RpcError as e:
                finished = True
                if feed.error is not None:
                    raise feed.error from None
                error = typed_error(e, rpc.input)
            else:
                finished = True
                report(observer, rpc, 1, None)
                return
            report(observer, rpc, 1, error)
            raise error
        finally:
            if not finished:
                call.cancel()

    def _many(
        self,
        kind: BatchRpc[Item, BatchReq, BatchResp, Out],
        items: Iterable[Item],
        options: CallOptions | None,
    ) -> list[Out | RekeyError]:
        """Sends the items in consecutive batches within the client's limits, one call after the
        other (each with its deadline and retries), and returns one result per item in input
        order. A failed call raises its error: no partial list."""
        run = BatchRun(kind, items, self._config.batch_max_items, self._config.batch_max_bytes)
        for indices, request in run.requests():
            run.take(indices, self._call(kind.rpc, request, options))
        return run.finish()

    # One method per rpc --------------------------------------------------------------------

    def encrypt(self, request: pb.EncryptRequest, options: CallOptions | None = None) -> pb.EncryptResponse:
        """KeyService.Encrypt: encrypts on the server under the key's primary version."""
        return self._call(_rpcs.ENCRYPT, request, options)

    def decrypt(self, request: pb.DecryptRequest, options: CallOptions | None = None) -> pb.DecryptResponse:
        """KeyService.Decrypt: decrypts a ciphertext made by Encrypt, GenerateDataKey or Rewrap
        (envelope values go to `Envelope.decrypt`)."""
        return self._call(_rpcs.DECRYPT, request, options)

    def generate_data_key(
        self, request: pb.GenerateDataKeyRequest, options: CallOptions | None = None
    ) -> pb.GenerateDataKeyResponse:
        """KeyService.GenerateDataKey: a fresh data key and its wrapped form."""
        return self._call(_rpcs.GENERATE_DATA_KEY, request, options)

    def rewrap(self, request: pb.RewrapRequest, options: CallOptions | None = None) -> pb.RewrapResponse:
        """KeyService.Rewrap: re-encrypts under the primary version without returning plaintext."""
        return self._call(_rpcs.REWRAP, request, options)

    def sign(self, request: pb.SignRequest, options: CallOptions | None = None) -> pb.SignResponse:
        """KeyService.Sign: HMAC-SHA256 under the key's primary version."""
        return self._call(_rpcs.SIGN, request, options)

    def verify(self, request: pb.VerifyRequest, options: CallOptions | None = None) -> pb.VerifyResponse:
        """KeyService.Verify: `valid` is false for a mismatch; errors only when it cannot check."""
        return self._call(_rpcs.VERIFY, request, options)

    def encrypt_batch(
        self, request: pb.EncryptBatchRequest, options: CallOptions | None = None
    ) -> pb.EncryptBatchResponse:
        """KeyService.EncryptBatch: one call of many Encrypt items, results in input order with an
        ItemError per failed item; over the server's limits the whole call fails (TooLargeError).
        `encrypt_many` splits and maps the results for you."""
        return self._call(_rpcs.ENCRYPT_BATCH, request, options)

    def decrypt_batch(
        self, request: pb.DecryptBatchRequest, options: CallOptions | None = None
    ) -> pb.DecryptBatchResponse:
        """KeyService.DecryptBatch: as `encrypt_batch`, of Decrypt items (see `decrypt_many`)."""
        return self._call(_rpcs.DECRYPT_BATCH, request, options)

    def rewrap_batch(
        self, request: pb.RewrapBatchRequest, options: CallOptions | None = None
    ) -> pb.RewrapBatchResponse:
        """KeyService.RewrapBatch: as `encrypt_batch`, of Rewrap items (see `rewrap_many`)."""
        return self._call(_rpcs.REWRAP_BATCH, request, options)

    def encrypt_many(
        self, items: Iterable[pb.EncryptRequest], options: CallOptions | None = None
    ) -> list[pb.EncryptResponse | RekeyError]:
        """Encrypts every item with EncryptBatch calls of at most `batch_max_items` items and
        `batch_max_bytes` bytes (plaintext + associated data), sent one after the other. Returns
        one result per item, in input order: its EncryptResponse, or the RekeyError instance
        (not raised) Encrypt would have raised for it alone; an item above `batch_max_bytes` is
        not sent and gets a TooLargeError. An error of a whole call (UnauthenticatedError,
        UnavailableError after retries, ...) is raised. No items: [] without a call."""
        return self._many(_batch.ENCRYPT, items, options)

    def decrypt_many(
        self, items: Iterable[pb.DecryptRequest], options: CallOptions | None = None
    ) -> list[pb.DecryptResponse | RekeyError]:
        """As `encrypt_many`, with DecryptBatch (bytes counted: ciphertext + associated data);
        a tampered item gets AuthenticationFailedError, a malformed one InvalidCiphertextError."""
        return self._many(_batch.DECRYPT, items, options)

    def rewrap_many(
        self, items: Iterable[pb.RewrapRequest], options: CallOptions | None = None
    ) -> list[pb.RewrapResponse | RekeyError]:
        """As `decrypt_many`, with RewrapBatch: each value re-encrypted under its key's primary
        version, without plaintext leaving the server."""
        return self._many(_batch.REWRAP, items, options)

    def encrypt_stream(
        self,
        key_name: str,
        chunks: Iterable[Chunk],
        associated_data: bytes = b"",
        *,
        segment_size: int = 0,
        options: CallOptions | None = None,
    ) -> Generator[bytes, None, None]:
        """KeyService.EncryptStream: the server seals `chunks` (any iterable of bytes-like
        objects of any size) into a stream ciphertext (kind 0x04, the bytes of
        `Envelope.encrypt_stream`) under `key_name`'s primary version, and this iterator yields
        it as it comes: the header, then each segment once sealed. `segment_size` is the
        plaintext bytes per segment, 256 to 1048576 (0: the server's default, 65536).

        Lazy: the call starts with the iteration; `chunks` is read by a grpc thread as the
        server takes it. Errors are raised while iterating, mapped as `encrypt`'s
        (KeyNotFoundError, PermissionDeniedError, InvalidArgumentError for a bad segment size,
        ...); an error raised by `chunks` itself is raised unchanged. After an error, what was
        yielded is incomplete: discard it. **Never retried** (`chunks` cannot be replayed): one
        attempt, bounded only by `options` (its deadline or attempt timeout, the smaller): the
        client-wide timeouts are for single requests, and a stream lasts as long as its data.
        Stopping the iteration early (break, `close()`) cancels the call."""
        first = _stream_rpcs.encrypt_first(key_name, associated_data, segment_size)
        return self._stream(_rpcs.ENCRYPT_STREAM, first, _stream_rpcs.encrypt_requests(chunks), options)

    def decrypt_stream(
        self,
        chunks: Iterable[Chunk],
        associated_data: bytes = b"",
        *,
        options: CallOptions | None = None,
    ) -> Generator[bytes, None, None]:
        """KeyService.DecryptStream: the server opens the stream ciphertext sent as `chunks`
        (cut anywhere; made by `encrypt_stream` or `Envelope.encrypt_stream`) and this iterator
        yields each segment's plaintext once that segment is authenticated.

        **Plaintext comes before the end is checked**: a truncated or extended stream is only
        detected at its end, after the segments before it were yielded. Only an iteration that
        ends without an error delivered the whole stream; otherwise discard what it yielded.
        Errors are raised while iterating, mapped as `decrypt`'s (AuthenticationFailedError for
        a modified, dropped, reordered or appended segment or other associated data,
        InvalidCiphertextError for a malformed header, KeyNotFoundError, VersionRetiredError,
        ...); an error raised by `chunks` itself is raised unchanged. Never retried; timeout
        and laziness as `encrypt_stream`."""
        first = _stream_rpcs.decrypt_first(associated_data)
        return self._stream(_rpcs.DECRYPT_STREAM, first, _stream_rpcs.decrypt_requests(chunks), options)

    def rotate(self, request: pb.RotateRequest, options: CallOptions | None = None) -> pb.RotateResponse:
        """KeyService.Rotate: a new primary version. Never retried: after UnavailableError, check
        GetStatus before rotating again."""
        return self._call(_rpcs.ROTATE, request, options)

    def rollback(self, request: pb.RollbackRequest, options: CallOptions | None = None) -> pb.RollbackResponse:
        """KeyService.Rollback: the previous version becomes primary again. Never retried."""
        return self._call(_rpcs.ROLLBACK, request, options)

    def get_status(self, request: pb.GetStatusRequest, options: CallOptions | None = None) -> pb.GetStatusResponse:
        """KeyService.GetStatus: lifecycle status of one key, or of all with an empty name."""
        return self._call(_rpcs.GET_STATUS, request, options)

    def get_impact(self, request: pb.GetImpactRequest, options: CallOptions | None = None) -> pb.GetImpactResponse:
        """RotationService.GetImpact: stored records per key version."""
        return self._call(_rpcs.GET_IMPACT, request, options)

    def schedule_rotation(
        self, request: pb.ScheduleRotationRequest, options: CallOptions | None = None
    ) -> pb.ScheduleRotationResponse:
        """RotationService.ScheduleRotation: rotates if due, or at once with `force`. Retried only
        without `force`."""
        return self._call(_rpcs.SCHEDULE_ROTATION, request, options)

    def get_schedule(
        self, request: pb.GetScheduleRequest, options: CallOptions | None = None
    ) -> pb.GetScheduleResponse:
        """RotationService.GetSchedule: last and next rotation per key."""
        return self._call(_rpcs.GET_SCHEDULE, request, options)

    def get_event(self, request: pb.GetEventRequest, options: CallOptions | None = None) -> pb.GetEventResponse:
        """RotationService.GetEvent: one rotation event."""
        return self._call(_rpcs.GET_EVENT, request, options)

    def list_events(self, request: pb.ListEventsRequest, options: CallOptions | None = None) -> pb.ListEventsResponse:
        """RotationService.ListEvents: events, newest first."""
        return self._call(_rpcs.LIST_EVENTS, request, options)

    def execute_event(
        self, request: pb.ExecuteEventRequest, options: CallOptions | None = None
    ) -> pb.ExecuteEventResponse:
        """RotationService.ExecuteEvent: runs or continues an event's migration now."""
        return self._call(_rpcs.EXECUTE_EVENT, request, options)

    def retry_event(self, request: pb.RetryEventRequest, options: CallOptions | None = None) -> pb.RetryEventResponse:
        """RotationService.RetryEvent: resumes a failed event from its checkpoint."""
        return self._call(_rpcs.RETRY_EVENT, request, options)

    def rollback_event(
        self, request: pb.RollbackEventRequest, options: CallOptions | None = None
    ) -> pb.RollbackEventResponse:
        """RotationService.RollbackEvent: rolls an event back. Never retried by the client."""
        return self._call(_rpcs.ROLLBACK_EVENT, request, options)

    def create_token(
        self, request: pb.CreateTokenRequest, options: CallOptions | None = None
    ) -> pb.CreateTokenResponse:
        """AdminService.CreateToken: a new API token (its secret is in the answer, once). Never
        retried: each call creates a token."""
        return self._call(_rpcs.CREATE_TOKEN, request, options)

    def list_tokens(self, request: pb.ListTokensRequest, options: CallOptions | None = None) -> pb.ListTokensResponse:
        """AdminService.ListTokens: every token, without secrets."""
        return self._call(_rpcs.LIST_TOKENS, request, options)

    def revoke_token(
        self, request: pb.RevokeTokenRequest, options: CallOptions | None = None
    ) -> pb.RevokeTokenResponse:
        """AdminService.RevokeToken."""
        return self._call(_rpcs.REVOKE_TOKEN, request, options)

    def list_audit(self, request: pb.ListAuditRequest, options: CallOptions | None = None) -> pb.ListAuditResponse:
        """AdminService.ListAudit: audit records after `after_seq`."""
        return self._call(_rpcs.LIST_AUDIT, request, options)

    def verify_audit(
        self, request: pb.VerifyAuditRequest, options: CallOptions | None = None
    ) -> pb.VerifyAuditResponse:
        """AdminService.VerifyAudit: checks the audit hash chain."""
        return self._call(_rpcs.VERIFY_AUDIT, request, options)

    def get_report(self, request: pb.GetReportRequest, options: CallOptions | None = None) -> pb.GetReportResponse:
        """AdminService.GetReport: a typed usage or compliance report."""
        return self._call(_rpcs.GET_REPORT, request, options)
