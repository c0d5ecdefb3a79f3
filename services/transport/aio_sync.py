"""Our sync servicers on the aio server: the sync context they were written for, over
an aio call's, and the ways to run them (inline on the loop, or on a thread pool).

A sync servicer ends a call with `context.abort`, which on the sync stack raises. On
aio, aborting is a coroutine that must run on the loop, so here `abort` raises
`Aborted`, and the async side (aio_calls.py) aborts the call with its status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any, NoReturn, Protocol

import grpc

from services.domain.errors import InvalidInput
from services.transport.handlers import Behaviour
from services.transport.request_checks import RequestTooLarge

Metadata = Sequence[tuple[str, str | bytes]]
AioContext = grpc.aio.ServicerContext[Any, Any]


class Place(Protocol):
    """An admitted call's place under the concurrency limit."""

    def hold_until(self, work: Future[Any]) -> None:
        """Keeps the place, once the call is over, until `work` (its thread's) ends."""


# The behaviour of a call, once admitted: (request or requests, context, its place)
# -> response.
Run = Callable[[Any, AioContext, Place], Awaitable[Any]]


class Aborted(Exception):
    """A call to end with `code` and `details` (raised, aborted on the loop)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class SyncContext:
    """The part of grpc.ServicerContext our sync servicers use, over an aio context."""

    __slots__ = ("_context",)

    def __init__(self, context: AioContext) -> None:
        self._context = context

    def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise Aborted(code, details)

    def time_remaining(self) -> float | None:
        remaining: float | None = self._context.time_remaining()
        return remaining

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        self._context.set_trailing_metadata(metadata)

    def invocation_metadata(self) -> Metadata:
        metadata: Any = self._context.invocation_metadata()
        return () if metadata is None else tuple(metadata)

    def peer(self) -> str:
        peer: str = self._context.peer()
        return peer

    def set_code(self, code: grpc.StatusCode) -> None:
        self._context.set_code(code)

    def set_details(self, details: str) -> None:
        self._context.set_details(details)


def pooled_unary(behaviour: Behaviour, executor: Executor) -> Run:
    """A sync unary behaviour on `executor`, so that the loop never waits for it."""

    async def pooled(request: Any, context: AioContext, place: Place) -> Any:
        return await _on_pool(executor.submit(behaviour, request, SyncContext(context)), place)

    return pooled


def pooled_client_stream(behaviour: Behaviour, executor: Executor) -> Run:
    """A sync client-streaming behaviour on `executor`, reading its stream through a
    blocking iterator (inline, it would hold the loop while it waits for messages)."""

    async def pooled(requests: AsyncIterator[Any], context: AioContext, place: Place) -> Any:
        blocking = _BlockingStream(requests, asyncio.get_running_loop())
        return await _on_pool(executor.submit(behaviour, blocking, SyncContext(context)), place)

    return pooled


async def _on_pool(work: Future[Any], place: Place) -> Any:
    try:
        return await asyncio.wrap_future(work)
    except asyncio.CancelledError:
        # The call is over (its client left, its deadline passed, the server stopped)
        # but a thread cannot be stopped: the call keeps its place until the thread's
        # work ends, as on the threaded server, or clients that leave and retry would
        # pile work on the pool past the limit. Work not started yet was dropped
        # (cancelling the awaited future cancels `work`), and frees the place at once.
        place.hold_until(work)
        raise


class CallEnded(grpc.RpcError):
    """What reading a request stream raises once its call is over, as the sync stack's
    request iterator does (services/transport/streams.py counts on it)."""


class _BlockingStream(Iterator[Any]):
    """An async request stream read from another thread, one message at a time."""

    def __init__(self, requests: AsyncIterator[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._requests = requests
        self._loop = loop

    def __next__(self) -> Any:
        try:
            item = asyncio.run_coroutine_threadsafe(_next(self._requests), self._loop).result()
        except (InvalidInput, RequestTooLarge):  # a bad message: the servicer answers it
            raise
        except Exception as exc:  # the call is over, or the loop is gone
            raise CallEnded(str(exc)) from exc
        if item is _END:
            raise StopIteration
        return item


_END = object()


async def _next(requests: AsyncIterator[Any]) -> Any:
    try:
        return await anext(requests)
    except StopAsyncIteration:
        return _END
