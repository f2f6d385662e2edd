"""What `encrypt_many`, `decrypt_many` and `rewrap_many` share between the sync and the async
client: splitting the items into consecutive batches within the client's limits (counting bytes
as the server does), putting each batch's results back at their items' places, and reading a
per-item `ItemError` as the item's single rpc would read the same status. The calls themselves
(one after the other, each with its own deadline and retries) are made in client.py and aio.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.message import Message

from . import _rpcs
from . import proto as pb
from ._rpcs import Rpc
from .errors import REASON_HEADER, Input, InternalError, RekeyError, TooLargeError, from_status

Item = TypeVar("Item", bound=Message)
BatchReq = TypeVar("BatchReq", bound=Message)
BatchResp = TypeVar("BatchResp", bound=Message)
Out = TypeVar("Out", bound=Message)

_CODES: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def item_error(error: pb.ItemError, input: Input) -> RekeyError:
    """The typed error of one failed item: by its reason, else by its code, exactly as
    `from_status` reads a status with the same code, reason and message. An unset reason
    (ERROR_REASON_UNSPECIFIED) or one newer than this client is read by the code alone."""
    code = _CODES.get(error.code)
    if code is None:
        return InternalError(error.message, f"CODE_{error.code}")
    metadata: list[tuple[str, str]] = []
    if error.reason != pb.ERROR_REASON_UNSPECIFIED:
        # A reason newer than this client has no name here: the code decides.
        with contextlib.suppress(ValueError):
            metadata.append((REASON_HEADER, pb.ErrorReason.Name(error.reason)))
    return from_status(code, error.message, metadata, input)


@dataclass(frozen=True)
class BatchRpc(Generic[Item, BatchReq, BatchResp, Out]):
    """One batch rpc: how to size an item, make a request of items, and read the results."""

    rpc: Rpc[BatchReq, BatchResp]
    #: How the server counts an item's bytes against its batch limit.
    size: Callable[[Item], int]
    request: Callable[[list[Item]], BatchReq]
    #: The results of an answer, each the item's response, its ItemError, or None.
    results: Callable[[BatchResp], list[Out | pb.ItemError | None]]
    #: How an item's INVALID_ARGUMENT without a reason reads (Decrypt/Rewrap items are values).
    item_input: Input


def _pick(result: Any) -> Any:
    which = result.WhichOneof("result")
    if which == "response":
        return result.response
    if which == "error":
        return result.error
    return None


def _encrypt_results(answer: pb.EncryptBatchResponse) -> list[pb.EncryptResponse | pb.ItemError | None]:
    return [_pick(r) for r in answer.results]


def _decrypt_results(answer: pb.DecryptBatchResponse) -> list[pb.DecryptResponse | pb.ItemError | None]:
    return [_pick(r) for r in answer.results]


def _rewrap_results(answer: pb.RewrapBatchResponse) -> list[pb.RewrapResponse | pb.ItemError | None]:
    return [_pick(r) for r in answer.results]


ENCRYPT: BatchRpc[pb.EncryptRequest, pb.EncryptBatchRequest, pb.EncryptBatchResponse, pb.EncryptResponse] = BatchRpc(
    _rpcs.ENCRYPT_BATCH,
    lambda item: len(item.plaintext) + len(item.associated_data),
    lambda items: pb.EncryptBatchRequest(items=items),
    _encrypt_results,
    Input.OTHER,
)
DECRYPT: BatchRpc[pb.DecryptRequest, pb.DecryptBatchRequest, pb.DecryptBatchResponse, pb.DecryptResponse] = BatchRpc(
    _rpcs.DECRYPT_BATCH,
    lambda item: len(item.ciphertext) + len(item.associated_data),
    lambda items: pb.DecryptBatchRequest(items=items),
    _decrypt_results,
    Input.VALUE,
)
REWRAP: BatchRpc[pb.RewrapRequest, pb.RewrapBatchRequest, pb.RewrapBatchResponse, pb.RewrapResponse] = BatchRpc(
    _rpcs.REWRAP_BATCH,
    lambda item: len(item.ciphertext) + len(item.associated_data),
    lambda items: pb.RewrapBatchRequest(items=items),
    _rewrap_results,
    Input.VALUE,
)


def split(sizes: list[int], max_items: int, max_bytes: int) -> tuple[list[list[int]], dict[int, RekeyError]]:
    """Consecutive batches (lists of item indices, in input order) of at most `max_items` items
    and `max_bytes` bytes each, and a TooLargeError for every item whose bytes alone exceed
    `max_bytes` (such an item is in no batch; the others still go)."""
    batches: list[list[int]] = []
    refused: dict[int, RekeyError] = {}
    current: list[int] = []
    current_bytes = 0
    for index, size in enumerate(sizes):
        if size > max_bytes:
            refused[index] = TooLargeError(f"item {index} is {size} bytes, above the batch limit of {max_bytes} bytes")
            continue
        if current and (len(current) >= max_items or current_bytes + size > max_bytes):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        batches.append(current)
    return batches, refused


class BatchRun(Generic[Item, BatchReq, BatchResp, Out]):
    """One `*_many` call: the batches to send, and the results gathered so far in input order."""

    def __init__(
        self, kind: BatchRpc[Item, BatchReq, BatchResp, Out], items: Iterable[Item], max_items: int, max_bytes: int
    ) -> None:
        self.kind = kind
        self._items = list(items)
        self._batches, refused = split([kind.size(i) for i in self._items], max_items, max_bytes)
        self._out: list[Out | RekeyError | None] = [None] * len(self._items)
        for index, error in refused.items():
            self._out[index] = error

    def requests(self) -> Iterator[tuple[list[int], BatchReq]]:
        """Each batch's item indices and its request, made only when it is about to be sent."""
        for indices in self._batches:
            yield indices, self.kind.request([self._items[i] for i in indices])

    def take(self, indices: list[int], answer: BatchResp) -> None:
        """Puts a batch's results at its items' places. Raises InternalError if the server
        answered another number of results than the batch had items."""
        results = self.kind.results(answer)
        if len(results) != len(indices):
            raise InternalError(f"{self.kind.rpc.name} answered {len(results)} results for {len(indices)} items", None)
        for index, result in zip(indices, results, strict=True):
            if result is None:
                self._out[index] = InternalError(f"{self.kind.rpc.name} answered an empty result for item {index}")
            elif isinstance(result, pb.ItemError):
                self._out[index] = item_error(result, self.kind.item_input)
            else:
                self._out[index] = result

    def finish(self) -> list[Out | RekeyError]:
        out: list[Out | RekeyError] = []
        for index, result in enumerate(self._out):
            if result is None:  # pragma: no cover - every item is refused or in a batch
                raise InternalError(f"item {index} got no result")
            out.append(result)
        return out
