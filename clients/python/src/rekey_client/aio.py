"""The asyncio client (grpc.aio): the same surface as `Client`, every method awaited (the
streaming rpcs as async iterators of bytes). Use one AsyncClient per event loop; concurrent
tasks share its connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message

from . import _batch, _rpcs, _stream_rpcs
from . import proto as pb
from ._base import ClientBase
from ._batch import BatchRpc, BatchRun
from ._calls import plan, report, stream_timeout, typed_error
from ._rpcs import Rpc
from ._stream_rpcs import AsyncFeed, Chunk
from .config import CallOptions
from .envelope import AsyncEnvelope
from .errors import RekeyError, UnavailableError
from .policy import CachePolicy

__all__ = ["AsyncClient"]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Item = TypeVar("Item", bound=Message)
BatchReq = TypeVar("BatchReq", bound=Message)
BatchResp = TypeVar("BatchResp", bound=Message)
Out = TypeVar("Out", bound=Message)


class AsyncClient(ClientBase):
    """An asyncio Rekey client. Each rpc is a coroutine method taking the request message
    (`rekey_client.proto`) and an optional `CallOptions`, returning the response message or
    raising a `RekeyError` subclass. `client.envelope(...)` encrypts locally.

    >>> async with AsyncClient.from_env() as client:
    ...     await client.encrypt(proto.EncryptRequest(key_name="TOKEN_ENCRYPTION", plaintext=b"hi"))
    """

    def _open(self) -> None:
        options = self._config.channel_options()
        if self._credentials is not None:
            self._channel = grpc.aio.secure_channel(self._target, self._credentials, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(self._target, options=options)
        self._callables: dict[str, grpc.aio.UnaryUnaryMultiCallable[Any, Any]] = {}
        self._stream_callables: dict[str, grpc.aio.StreamStreamMultiCallable[Any, Any]] = {}

    async def close(self) -> None:
        """Closes the connection; calls made afterwards fail."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Connects now (within `timeout`, default the connect timeout). Raises
        UnavailableError."""
        limit = self._config.connect_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self._channel.channel_ready(), limit)
        except asyncio.TimeoutError:
            raise UnavailableError(f"cannot reach the Rekey server at {self._config.addr} within {limit} s") from None

    @property
    def channel(self) -> grpc.aio.Channel:
        """The underlying channel, for services this package does not wrap."""
        return self._channel

    def envelope(self, key_name: str, policy: CachePolicy) -> AsyncEnvelope:
        """As `Client.envelope`, for asyncio."""
        return AsyncEnvelope(self, key_name, policy)

    def _callable(self, rpc: Rpc[Req, Resp]) -> grpc.aio.UnaryUnaryMultiCallable[Req, Resp]:
        found = self._callables.get(rpc.path)
        if found is None:
            found = self._channel.unary_unary(
                rpc.path,
                request_serializer=rpc.request.SerializeToString,
                response_deserializer=rpc.response.FromString,
            )
            self._callables[rpc.path] = found
        return found

    async def _call(self, rpc: Rpc[Req, Resp], request: Req, options: CallOptions | None) -> Resp:
        """Sends `request`, retrying as the rpc's idempotency and the policy allow."""
        call = plan(self._config, self._bearer, rpc, request, options)
        send = self._callable(rpc)
        observer, policy = self._config.observer, self._config.retry_policy
        attempt = 1
        while True:
            timeout = call.timeout_of_next_attempt()
            try:
                response: Resp = await send(request, timeout=timeout, metadata=call.metadata)
            except grpc.RpcError as e:
                error = typed_error(e, rpc.input)
            else:
                report(observer, rpc, attempt, None)
                return response
            report(observer, rpc, attempt, error)
            wait = policy.next_wait(error, call.idempotent, attempt, call.remaining())
            if wait is None:
                raise error
            await asyncio.sleep(wait)
            attempt += 1

    def _stream_callable(self, rpc: Rpc[Req, Resp]) -> grpc.aio.StreamStreamMultiCallable[Req, Resp]:
        found = self._stream_callables.get(rpc.path)
        if found is None:
            found = self._channel.stream_stream(
                rpc.path,
                request_serializer=rpc.request.SerializeToString,
                response_deserializer=rpc.response.FromString,
            )
            self._stream_callables[rpc.path] = found
        return found

    async def _stream(
        self, rpc: Rpc[Req, Any], first: Req, rest: AsyncIterator[Req], options: CallOptions | None
    ) -> AsyncGenerator[bytes, None]:
        """As `Client._stream`: one streaming call, made when the iteration starts, never
        retried; `rest` is read by a task of grpc's. Yields the `chunk` of each answer but empty
        ones; raises the call's typed error, or the error of the caller's own iterable
        unchanged; leaving the iteration early cancels the call."""
        call_plan = plan(self._config, self._bearer, rpc, first, options)
        observer = self._config.observer
        try:
            timeout = stream_timeout(options)
        except RekeyError as e:
            report(observer, rpc, 1, e)
            raise
        feed = AsyncFeed(first, rest, await_headers=rpc is _rpcs.ENCRYPT_STREAM)
        call = self._stream_callable(rpc)(feed.requests(), timeout=timeout, metadata=call_plan.metadata)
        feed.attach(call)
        finished = False
        try:
            try:
                async for response in call:
                    if response.chunk:
                        yield response.chunk
            except grpc.RpcError as e:
                finished = True
                if feed.error is not None:
                    raise feed.error from None
                error = typed_error(e, rpc.input)
            except asyncio.CancelledError:
                # grpc.aio cancels the call when the caller's iterable raises, and the read
                # then ends as cancelled: that is the iterable's error, unless this task is
                # itself being cancelled.
                task = asyncio.current_task()
                cancelling = getattr(task, "cancelling", None)
                if feed.error is not None and not (cancelling is not None and cancelling()):
                    finished = True
                    raise feed.error from None
                raise
            else:
                finished = True
                report(observer, rpc, 1, None)
                return
            report(observer, rpc, 1, error)
            raise error
        finally:
            if not finished:
                call.cancel()

    async def _many(
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
            run.take(indices, await self._call(kind.rpc, request, options))
        return run.finish()

    # One method per rpc --------------------------------------------------------------------

    async def encrypt(self, request: pb.EncryptRequest, options: CallOptions | None = None) -> pb.EncryptResponse:
        """KeyService.Encrypt: encrypts on the server under the key's primary version."""
        return await self._call(_rpcs.ENCRYPT, request, options)

    async def decrypt(self, request: pb.DecryptRequest, options: CallOptions | None = None) -> pb.DecryptResponse:
        """KeyService.Decrypt: decrypts a ciphertext made by Encrypt, GenerateDataKey or Rewrap
        (envelope values go to `Envelope.decrypt`)."""
        return await self._call(_rpcs.DECRYPT, request, options)

    async def generate_data_key(
        self, request: pb.GenerateDataKeyRequest, options: CallOptions | None = None
    ) -> pb.GenerateDataKeyResponse:
        """KeyService.GenerateDataKey: a fresh data key and its wrapped form."""
        return await self._call(_rpcs.GENERATE_DATA_KEY, request, options)

    async def rewrap(self, request: pb.RewrapRequest, options: CallOptions | None = None) -> pb.RewrapResponse:
        """KeyService.Rewrap: re-encrypts under the primary version without returning plaintext."""
        return await self._call(_rpcs.REWRAP, request, options)

    async def sign(self, request: pb.SignRequest, options: CallOptions | None = None) -> pb.SignResponse:
        """KeyService.Sign: HMAC-SHA256 under the key's primary version."""
        return await self._call(_rpcs.SIGN, request, options)

    async def verify(self, request: pb.VerifyRequest, options: CallOptions | None = None) -> pb.VerifyResponse:
        """KeyService.Verify: `valid` is false for a mismatch; errors only when it cannot check."""
        return await self._call(_rpcs.VERIFY, request, options)

    async def encrypt_batch(
        self, request: pb.EncryptBatchRequest, options: CallOptions | None = None
    ) -> pb.EncryptBatchResponse:
        """KeyService.EncryptBatch: one call of many Encrypt items, results in input order with an
        ItemError per failed item; over the server's limits the whole call fails (TooLargeError).
        `encrypt_many` splits and maps the results for you."""
        return await self._call(_rpcs.ENCRYPT_BATCH, request, options)

    async def decrypt_batch(
        self, request: pb.DecryptBatchRequest, options: CallOptions | None = None
    ) -> pb.DecryptBatchResponse:
        """KeyService.DecryptBatch: as `encrypt_batch`, of Decrypt items (see `decrypt_many`)."""
        return await self._call(_rpcs.DECRYPT_BATCH, request, options)

    async def rewrap_batch(
        self, request: pb.RewrapBatchRequest, options: CallOptions | None = None
    ) -> pb.RewrapBatchResponse:
        """KeyService.RewrapBatch: as `encrypt_batch`, of Rewrap items (see `rewrap_many`)."""
        return await self._call(_rpcs.REWRAP_BATCH, request, options)

    async def encrypt_many(
        self, items: Iterable[pb.EncryptRequest], options: CallOptions | None = None
    ) -> list[pb.EncryptResponse | RekeyError]:
        """Encrypts every item with EncryptBatch calls of at most `batch_max_items` items and
        `batch_max_bytes` bytes (plaintext + associated data), sent one after the other. Returns
        one result per item, in input order: its EncryptResponse, or the RekeyError instance
        (not raised) Encrypt would have raised for it alone; an item above `batch_max_bytes` is
        not sent and gets a TooLargeError. An error of a whole call (UnauthenticatedError,
        UnavailableError after retries, ...) is raised. No items: [] without a call."""
        return await self._many(_batch.ENCRYPT, items, options)

    async def decrypt_many(
        self, items: Iterable[pb.DecryptRequest], options: CallOptions | None = None
    ) -> list[pb.DecryptResponse | RekeyError]:
        """As `encrypt_many`, with DecryptBatch (bytes counted: ciphertext + associated data);
        a tampered item gets AuthenticationFailedError, a malformed one InvalidCiphertextError."""
        return await self._many(_batch.DECRYPT, items, options)

    async def rewrap_many(
        self, items: Iterable[pb.RewrapRequest], options: CallOptions | None = None
    ) -> list[pb.RewrapResponse | RekeyError]:
        """As `decrypt_many`, with RewrapBatch: each value re-encrypted under its key's primary
        version, without plaintext leaving the server."""
        return await self._many(_batch.REWRAP, items, options)

    def encrypt_stream(
        self,
        key_name: str,
        chunks: AsyncIterable[Chunk] | Iterable[Chunk],
        associated_data: bytes = b"",
        *,
        segment_size: int = 0,
        options: CallOptions | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """As `Client.encrypt_stream`, as an async iterator (not awaited: `async for`).
        `chunks` is an async iterable of bytes-like objects (a plain iterable is read in the
        event loop: use it for data already in memory). Never retried."""
        first = _stream_rpcs.encrypt_first(key_name, associated_data, segment_size)
        rest = _stream_rpcs.encrypt_requests_async(chunks)
        return self._stream(_rpcs.ENCRYPT_STREAM, first, rest, options)

    def decrypt_stream(
        self,
        chunks: AsyncIterable[Chunk] | Iterable[Chunk],
        associated_data: bytes = b"",
        *,
        options: CallOptions | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """As `Client.decrypt_stream`, as an async iterator: each segment's plaintext once
        authenticated, the end of the stream checked last (discard the output of an iteration
        that raised). Never retried."""
        first = _stream_rpcs.decrypt_first(associated_data)
        rest = _stream_rpcs.decrypt_requests_async(chunks)
        return self._stream(_rpcs.DECRYPT_STREAM, first, rest, options)

    async def rotate(self, request: pb.RotateRequest, options: CallOptions | None = None) -> pb.RotateResponse:
        """KeyService.Rotate: a new primary version. Never retried: after UnavailableError, check
        GetStatus before rotating again."""
        return await self._call(_rpcs.ROTATE, request, options)

    async def rollback(self, request: pb.RollbackRequest, options: CallOptions | None = None) -> pb.RollbackResponse:
        """KeyService.Rollback: the previous version becomes primary again. Never retried."""
        return await self._call(_rpcs.ROLLBACK, request, options)

    async def get_status(
        self, request: pb.GetStatusRequest, options: CallOptions | None = None
    ) -> pb.GetStatusResponse:
        """KeyService.GetStatus: lifecycle status of one key, or of all with an empty name."""
        return await self._call(_rpcs.GET_STATUS, request, options)

    async def get_impact(
        self, request: pb.GetImpactRequest, options: CallOptions | None = None
    ) -> pb.GetImpactResponse:
        """RotationService.GetImpact: stored records per key version."""
        return await self._call(_rpcs.GET_IMPACT, request, options)

    async def schedule_rotation(
        self, request: pb.ScheduleRotationRequest, options: CallOptions | None = None
    ) -> pb.ScheduleRotationResponse:
        """RotationService.ScheduleRotation: rotates if due, or at once with `force`. Retried only
        without `force`."""
        return await self._call(_rpcs.SCHEDULE_ROTATION, request, options)

    async def get_schedule(
        self, request: pb.GetScheduleRequest, options: CallOptions | None = None
    ) -> pb.GetScheduleResponse:
        """RotationService.GetSchedule: last and next rotation per key."""
        return await self._call(_rpcs.GET_SCHEDULE, request, options)

    async def get_event(self, request: pb.GetEventRequest, options: CallOptions | None = None) -> pb.GetEventResponse:
        """RotationService.GetEvent: one rotation event."""
        return await self._call(_rpcs.GET_EVENT, request, options)

    async def list_events(
        self, request: pb.ListEventsRequest, options: CallOptions | None = None
    ) -> pb.ListEventsResponse:
        """RotationService.ListEvents: events, newest first."""
        return await self._call(_rpcs.LIST_EVENTS, request, options)

    async def execute_event(
        self, request: pb.ExecuteEventRequest, options: CallOptions | None = None
    ) -> pb.ExecuteEventResponse:
        """RotationService.ExecuteEvent: runs or continues an event's migration now."""
        return await self._call(_rpcs.EXECUTE_EVENT, request, options)

    async def retry_event(
        self, request: pb.RetryEventRequest, options: CallOptions | None = None
    ) -> pb.RetryEventResponse:
        """RotationService.RetryEvent: resumes a failed event from its checkpoint."""
        return await self._call(_rpcs.RETRY_EVENT, request, options)

    async def rollback_event(
        self, request: pb.RollbackEventRequest, options: CallOptions | None = None
    ) -> pb.RollbackEventResponse:
        """RotationService.RollbackEvent: rolls an event back. Never retried by the client."""
        return await self._call(_rpcs.ROLLBACK_EVENT, request, options)

    async def create_token(
        self, request: pb.CreateTokenRequest, options: CallOptions | None = None
    ) -> pb.CreateTokenResponse:
        """AdminService.CreateToken: a new API token (its secret is in the answer, once). Never
        retried: each call creates a token."""
        return await self._call(_rpcs.CREATE_TOKEN, request, options)

    async def list_tokens(
        self, request: pb.ListTokensRequest, options: CallOptions | None = None
    ) -> pb.ListTokensResponse:
        """AdminService.ListTokens: every token, without secrets."""
        return await self._call(_rpcs.LIST_TOKENS, request, options)

    async def revoke_token(
        self, request: pb.RevokeTokenRequest, options: CallOptions | None = None
    ) -> pb.RevokeTokenResponse:
        """AdminService.RevokeToken."""
        return await self._call(_rpcs.REVOKE_TOKEN, request, options)

    async def list_audit(
        self, request: pb.ListAuditRequest, options: CallOptions | None = None
    ) -> pb.ListAuditResponse:
        """AdminService.ListAudit: audit records after `after_seq`."""
        return await self._call(_rpcs.LIST_AUDIT, request, options)

    async def verify_audit(
        self, request: pb.VerifyAuditRequest, options: CallOptions | None = None
    ) -> pb.VerifyAuditResponse:
        """AdminService.VerifyAudit: checks the audit hash chain."""
        return await self._call(_rpcs.VERIFY_AUDIT, request, options)

    async def get_report(
        self, request: pb.GetReportRequest, options: CallOptions | None = None
    ) -> pb.GetReportResponse:
        """AdminService.GetReport: a typed usage or compliance report."""
        return await self._call(_rpcs.GET_REPORT, request, options)
