"""Each method of a grpc.aio server wrapped once, when it is registered: what the
sync server's interceptors do (metrics, token gates, the concurrency and message size
limits, request decoding), done inline in one async function per call.

grpc.aio runs interceptors on every call: each one is awaited in turn to find the
handler, and one that wraps the handler rebuilds it on every call. Here the wrapping
happens once per method (`CallWrapper.wrap`), so a call runs one function that does
the checks in order:
1. the metrics observer notes the start (services/observability/aio_metrics.py), and
   records the final code however the call ends;
2. token gates (services/transport/auth.py) refuse before anything is parsed;
3. the concurrency limit refuses beyond its count of calls in their handlers;
4. a request over the message limit is refused, one that does not parse is
   INVALID_ARGUMENT (a unary request arrives as bytes and is parsed here, after the
   checks; a streamed one is parsed as it is read);
5. the behaviour runs: an async one on the loop; a sync one (our servicers) inline on
   the loop, when it never waits (the in-memory store), or on a thread pool, through
   `SyncContext`, which gives it the sync context it was written for.
Every refusal is `context.abort`, so the metrics see it as any other call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

import grpc

from services.domain.errors import InvalidInput
from services.transport.handlers import Behaviour, Handler
from services.transport.limits import RequestTooLarge

log = logging.getLogger(__name__)

# Core ends the call on its own clock, Python reads the wall clock: a call cancelled
# this close to its deadline was ended by the deadline (as the sync metrics read it).
_DEADLINE_SLACK = 0.05
Metadata = Sequence[tuple[str, str | bytes]]


class MethodObserver(Protocol):
    """What records one method's calls: `started` when one begins, `finished` with
    the value `started` gave and the call's final code."""

    def started(self) -> float: ...
    def finished(self, started: float, code: grpc.StatusCode) -> None: ...


class CallGate(Protocol):
    """A check of each call's metadata (auth.py's token gates)."""

    def protects(self, method: str) -> bool: ...
    def refusal(self, metadata: Metadata | None) -> tuple[grpc.StatusCode, str] | None: ...


# Where a sync behaviour runs: None inline on the loop, else on that executor.
Placement = Callable[[str], Executor | None]


@dataclass
class CallWrapper:
    """What every call of an aio server goes through (see the module docstring)."""

    placement: Placement
    max_concurrent: int
    max_message_bytes: int
    gates: Sequence[CallGate] = ()
    # (full method name, rpc type) -> its observer; None: no metrics.
    observe: Callable[[str, str], MethodObserver] | None = None
    in_flight: int = field(default=0, init=False)

    def wrap(self, method: str, handler: Handler) -> Handler:
        kind = _rpc_type(handler)
        behaviour = _behaviour_of(handler)
        call = _Call(
            self,
            method,
            handler.request_deserializer or _raw,
            [gate for gate in self.gates if gate.protects(method)],
            None if self.observe is None else self.observe(method, kind),
        )
        is_async = inspect.iscoroutinefunction(behaviour) or inspect.isasyncgenfunction(behaviour)
        if kind == "unary":
            run = _async_unary(behaviour) if is_async else _sync_unary(behaviour, self, method)
            return grpc.unary_unary_rpc_method_handler(
                call.unary(run), None, handler.response_serializer
            )
        if kind == "client_stream":
            run = (
                _async_unary(behaviour)
                if is_async
                else _sync_client_stream(behaviour, self.placement(method))
            )
            return grpc.stream_unary_rpc_method_handler(
                call.client_stream(run), call.marking_deserializer(), handler.response_serializer
            )
        if not is_async:
            raise TypeError(f"{method}: a sync response stream cannot run on the aio server")
        if kind == "server_stream":
            return grpc.unary_stream_rpc_method_handler(
                call.server_stream(behaviour), None, handler.response_serializer
            )
        return grpc.stream_stream_rpc_method_handler(
            call.bidi_stream(behaviour), call.marking_deserializer(), handler.response_serializer
        )


def _raw(data: bytes) -> bytes:
    return data


def _rpc_type(handler: Handler) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


def _behaviour_of(handler: Handler) -> Behaviour:
    if handler.request_streaming:
        found = handler.stream_stream if handler.response_streaming else handler.stream_unary
    else:
        found = handler.unary_stream if handler.response_streaming else handler.unary_unary
    if found is None:
        raise TypeError("a method handler without a behaviour of its kind")
    return found


class _Problem:
    """Stands in for a streamed request message that is over the limit or did not parse."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


# The behaviour of a call, once admitted: (request or requests, context) -> response.
Run = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]


class _Call:
    """One method's checks, bound once; its methods make the behaviours grpc runs."""

    def __init__(
        self,
        wrapper: CallWrapper,
        method: str,
        parse: Callable[[bytes], Any],
        gates: list[CallGate],
        observer: MethodObserver | None,
    ) -> None:
        self._wrapper = wrapper
        self._method = method
        self._parse = parse
        self._gates = gates
        self._observer = observer
        self._limit = wrapper.max_message_bytes

    # -- the checks every call goes through ----------------------------------------

    def _admit(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Refuses a call the gates or the concurrency limit refuse (raises _Aborted)."""
        for gate in self._gates:
            # grpc.aio's Metadata holds the same (key, value) pairs as the sync stack's.
            metadata: Any = context.invocation_metadata()
            refusal = gate.refusal(metadata)
            if refusal is not None:
                code, reason = refusal
                log.warning("refused %s from %s: %s", self._method, context.peer(), reason)
                raise _Aborted(code, reason)
        wrapper = self._wrapper
        if wrapper.in_flight >= wrapper.max_concurrent:
            raise _Aborted(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"server busy: {wrapper.max_concurrent} calls in flight, its limit; retry later",
            )

    async def _observed(
        self, context: grpc.aio.ServicerContext[Any, Any], body: Callable[[], Any]
    ) -> Any:
        """Runs `body` (a coroutine function) under the concurrency count and the metrics."""
        observer = self._observer
        started = 0.0 if observer is None else observer.started()
        try:
            self._admit(context)
            self._wrapper.in_flight += 1
            try:
                result = await body()
            finally:
                self._wrapper.in_flight -= 1
        except _Aborted as aborted:
            # Recorded before the status goes out, as the sync server's metrics are.
            if observer is not None:
                observer.finished(started, aborted.code)
            await context.abort(aborted.code, aborted.details)
        except BaseException as exc:
            if observer is not None:
                observer.finished(started, _raised_code(context, exc))
            raise
        if observer is not None:
            observer.finished(started, context.code() or grpc.StatusCode.OK)
        return result

    def _request(self, data: bytes) -> Any:
        if len(data) > self._limit:
            raise _Aborted(
                grpc.StatusCode.RESOURCE_EXHAUSTED, str(RequestTooLarge(len(data), self._limit))
            )
        try:
            return self._parse(data)
        except Exception as exc:  # whatever the parser raises, the bytes are at fault
            raise _Aborted(
                grpc.StatusCode.INVALID_ARGUMENT, f"request: not a valid request message ({exc})"
            ) from None

    def marking_deserializer(self) -> Callable[[bytes], Any]:
        """For streamed requests: a message over the limit or that does not parse
        becomes a _Problem, raised where the handler reads it (`_checked`)."""
        parse, limit = self._parse, self._limit

        def deserialize(data: bytes) -> Any:
            if len(data) > limit:
                return _Problem(RequestTooLarge(len(data), limit))
            try:
                return parse(data)
            except Exception as exc:
                return _Problem(InvalidInput("request", f"not a valid request message ({exc})"))

        return deserialize

    # -- the behaviours, by kind -------------------------------------------------------

    def unary(self, run: Run) -> Behaviour:
        async def unary(data: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async def body() -> Any:
                return await run(self._request(data), context)

            return await self._observed(context, body)

        return unary

    def client_stream(self, run: Run) -> Behaviour:
        async def client_stream(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> Any:
            async def body() -> Any:
                return await run(_checked(requests), context)

            return await self._observed(context, body)

        return client_stream

    def server_stream(self, behaviour: Behaviour) -> Behaviour:
        if inspect.isasyncgenfunction(behaviour):

            async def generated(
                data: bytes, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                async def responses() -> AsyncIterator[Any]:
                    async for response in behaviour(self._request(data), context):
                        yield response

                async for response in self._observed_stream(context, responses):
                    yield response

            return generated

        async def written(data: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            async def body() -> None:
                await behaviour(self._request(data), context)

            await self._observed(context, body)

        return written

    def bidi_stream(self, behaviour: Behaviour) -> Behaviour:
        if inspect.isasyncgenfunction(behaviour):

            async def generated(
                requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                def responses() -> AsyncIterator[Any]:
                    return behaviour(_checked(requests), context)  # type: ignore[no-any-return]

                async for response in self._observed_stream(context, responses):
                    yield response

            return generated

        async def written(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> None:
            async def body() -> None:
                await behaviour(_checked(requests), context)

            await self._observed(context, body)

        return written

    async def _observed_stream(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        responses: Callable[[], AsyncIterator[Any]],
    ) -> AsyncIterator[Any]:
        """`_observed` for a response stream: the call lasts until its last response."""
        observer = self._observer
        started = 0.0 if observer is None else observer.started()
        try:
            self._admit(context)
            self._wrapper.in_flight += 1
            try:
                async for response in responses():
                    yield response
            finally:
                self._wrapper.in_flight -= 1
        except _Aborted as aborted:
            if observer is not None:
                observer.finished(started, aborted.code)
            await context.abort(aborted.code, aborted.details)
        except BaseException as exc:
            if observer is not None:
                observer.finished(started, _raised_code(context, exc))
            raise
        if observer is not None:
            observer.finished(started, context.code() or grpc.StatusCode.OK)


def _raised_code(
    context: grpc.aio.ServicerContext[Any, Any], exc: BaseException
) -> grpc.StatusCode:
    code: grpc.StatusCode | None = context.code()
    if code is not None and code is not grpc.StatusCode.OK:
        return code
    # The client left or its deadline passed: the task is cancelled, a stream closed.
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        remaining = context.time_remaining()
        if remaining is not None and remaining <= _DEADLINE_SLACK:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    # Raised inside the servicer's loop, so its error mapping answers for it.
    async for request in requests:
        if type(request) is _Problem:
            raise request.error
        yield request


def _async_unary(behaviour: Behaviour) -> Run:
    return behaviour


# -- sync behaviours (our servicers) on the aio server ---------------------------------


class _Aborted(Exception):
    """Raised by SyncContext.abort; the async side aborts the call with its status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class SyncContext:
    """The part of grpc.ServicerContext our sync servicers use, over an aio call's
    context. `abort` raises instead of aborting: the call is aborted by the async side,
    on the loop, which is where aio does it."""

    __slots__ = ("_context",)

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._context = context

    def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise _Aborted(code, details)

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


def _sync_unary(behaviour: Behaviour, wrapper: CallWrapper, method: str) -> Run:
    executor = wrapper.placement(method)
    if executor is None:

        async def inline(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            return behaviour(request, SyncContext(context))

        return inline

    async def pooled(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, behaviour, request, SyncContext(context))

    return pooled


def _sync_client_stream(behaviour: Behaviour, executor: Executor | None) -> Run:
    """A sync client-streaming behaviour on a pool thread, reading the stream through
    a blocking iterator (inline it would hold the loop while it waits for messages)."""
    if executor is None:
        raise TypeError("a sync client stream needs a pool to wait for its messages on")

    async def pooled(
        requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        loop = asyncio.get_running_loop()
        blocking = _BlockingStream(requests, loop)
        return await loop.run_in_executor(executor, behaviour, blocking, SyncContext(context))

    return pooled


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
            future = asyncio.run_coroutine_threadsafe(_next(self._requests), self._loop)
            item = future.result()
        except Exception as exc:  # the loop is closed, or the call is over
            if isinstance(exc, InvalidInput | RequestTooLarge):
                raise
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
