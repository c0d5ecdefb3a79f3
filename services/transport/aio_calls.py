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
3. the concurrency limit refuses beyond its count of calls in their handlers (a
   call whose thread still works when the call ends keeps its place until that work
   ends, as on the threaded server);
4. a request over the message limit is refused, one that does not parse is
   INVALID_ARGUMENT (request_checks.py, as on the threaded server: a unary request
   arrives as bytes and is checked here, after the other checks; a streamed one as
   it is read);
5. the behaviour runs: an async one on the loop; a sync one (our servicers) inline on
   the loop while nothing on its way can wait (the in-memory store, a catalog held:
   `inline_while`), or on a thread pool, through
   the sync context it was written for (aio_sync.py).
Every refusal, and every abort of a sync servicer, is recorded with its code before
the status goes out, then sent with `context.abort`, as any other call's.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from services.domain.errors import InvalidInput
from services.transport.aio_sync import (
    Aborted,
    AioContext,
    Metadata,
    Place,
    Run,
    SyncContext,
    pooled_client_stream,
    pooled_unary,
)
from services.transport.auth import log_refusal
from services.transport.handlers import Behaviour, Handler, behaviour_of, rpc_type
from services.transport.limits import NEVER_SHED, busy
from services.transport.request_checks import Refused, RequestTooLarge, checking
from services.transport.status import ended_code, status_for


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
    # A sync method placed inline runs there only while this holds (say, while a
    # catalog is held: fetching the first one would wait), else on `inline_fallback`.
    inline_while: Callable[[], bool] | None = None
    inline_fallback: Executor | None = None
    in_flight: int = field(default=0, init=False)

    def wrap(self, method: str, handler: Handler) -> Handler:
        kind = rpc_type(handler)
        behaviour = behaviour_of(handler)
        if behaviour is None:
            raise TypeError("a method handler without a behaviour of its kind")
        call = _Call(
            self,
            method,
            handler.request_deserializer or _raw,
            [gate for gate in self.gates if gate.protects(method)],
            None if self.observe is None else self.observe(method, kind),
        )
        serialize = handler.response_serializer
        is_async = inspect.iscoroutinefunction(behaviour) or inspect.isasyncgenfunction(behaviour)
        executor = None if is_async else self.placement(method)
        if kind == "unary":
            if is_async:
                wrapped = call.unary(run=_awaited(behaviour))
            elif executor is None:
                fallback = self.inline_fallback
                wrapped = call.unary(
                    inline=behaviour,
                    inline_while=self.inline_while,
                    run=None if fallback is None else pooled_unary(behaviour, fallback),
                )
            else:
                wrapped = call.unary(run=pooled_unary(behaviour, executor))
            return grpc.unary_unary_rpc_method_handler(wrapped, None, serialize)
        if not is_async and (kind != "client_stream" or executor is None):
            raise TypeError(f"{method}: a sync {kind} needs a pool on the aio server")
        if kind == "client_stream":
            run = pooled_client_stream(behaviour, executor) if executor else _awaited(behaviour)
            return grpc.stream_unary_rpc_method_handler(
                call.client_stream(run), call.marking_deserializer(), serialize
            )
        if kind == "server_stream":
            return grpc.unary_stream_rpc_method_handler(call.streamed(behaviour), None, serialize)
        return grpc.stream_stream_rpc_method_handler(
            call.streamed(behaviour), call.marking_deserializer(), serialize
        )


def _raw(data: bytes) -> bytes:
    return data


def _awaited(behaviour: Behaviour) -> Run:
    """An async behaviour as a Run: awaited on the loop, so it ends with its call."""

    async def run(argument: Any, context: AioContext, _place: Place) -> Any:
        return await behaviour(argument, context)

    return run


class _Place:
    """An admitted call's place in `in_flight`, taken as it is made; given back when
    the call ends, or, if its thread's work still runs then, when that work ends."""

    __slots__ = ("_work", "_wrapper")

    def __init__(self, wrapper: CallWrapper) -> None:
        self._wrapper = wrapper
        self._work: Future[Any] | None = None
        wrapper.in_flight += 1

    def hold_until(self, work: Future[Any]) -> None:
        self._work = work

    def give_back(self) -> None:
        """On the loop, as the call ends."""
        work = self._work
        if work is None or work.done():
            self._free()
            return
        loop = asyncio.get_running_loop()

        def ended(_work: Future[Any]) -> None:  # on the thread that did the work
            # A closed loop: the server that counted is gone too.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._free)

        work.add_done_callback(ended)

    def _free(self) -> None:
        self._wrapper.in_flight -= 1


class _Uncounted:
    """The place of a call the limit does not count (a response stream)."""

    def hold_until(self, work: Future[Any]) -> None:
        pass

    def give_back(self) -> None:
        pass


_UNCOUNTED = _Uncounted()


_OK = grpc.StatusCode.OK


class _Call:
    """One method's checks, bound once; its methods make the behaviours grpc runs.

    A call is counted by the metrics from its start to its end, and in `in_flight`
    from its admission to its end or its thread's, whichever is later (`_Place`). A
    refusal or a servicer's abort is recorded before the status goes out (Aborted), as
    the sync server's interceptor records it.
    """

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
        self._gates = gates
        self._observer = observer
        self._check = checking(parse, wrapper.max_message_bytes)

    def _admit(self, context: AioContext) -> None:
        """Raises Aborted for a call the gates or the concurrency limit refuse."""
        for gate in self._gates:
            # grpc.aio's Metadata holds the same (key, value) pairs as the sync stack's.
            metadata: Any = context.invocation_metadata()
            refusal = gate.refusal(metadata)
            if refusal is not None:
                code, reason = refusal
                log_refusal(self._method, context.peer(), reason)
                raise Aborted(code, reason)
        wrapper = self._wrapper
        if wrapper.in_flight >= wrapper.max_concurrent and self._method not in NEVER_SHED:
            raise Aborted(grpc.StatusCode.RESOURCE_EXHAUSTED, busy(wrapper.max_concurrent))

    def _request(self, data: bytes) -> Any:
        request = self._check(data)
        if type(request) is Refused:
            raise Aborted(*request.status())
        return request

    def marking_deserializer(self) -> Callable[[bytes], Any]:
        """For streamed requests: a message over the limit or that does not parse
        becomes a Refused, raised where the handler reads it (`_checked`)."""
        return self._check

    def _started(self) -> float:
        return 0.0 if self._observer is None else self._observer.started()

    def _finished(self, started: float, code: grpc.StatusCode) -> None:
        if self._observer is not None:
            self._observer.finished(started, code)

    def unary(
        self,
        *,
        run: Run | None = None,
        inline: Behaviour | None = None,
        inline_while: Callable[[], bool] | None = None,
    ) -> Behaviour:
        """A single request and response; `inline` (a sync behaviour) runs right here,
        with no await between the request and the response, while `inline_while`
        holds (always, if None); `run` otherwise, as any other awaited call."""
        wrapper = self._wrapper

        async def unary(data: bytes, context: AioContext) -> Any:
            if inline is None or (inline_while is not None and not inline_while()):
                assert run is not None, "a unary call runs inline or awaited"
                return await self._guarded(run, lambda: self._request(data), context)
            started = self._started()
            try:
                self._admit(context)
                wrapper.in_flight += 1
                try:
                    response = inline(self._request(data), SyncContext(context))
                finally:
                    wrapper.in_flight -= 1
            except Aborted as aborted:
                self._finished(started, aborted.code)
                await context.abort(aborted.code, aborted.details)
            except BaseException as exc:
                self._finished(started, _raised_code(context, exc))
                raise
            self._finished(started, _returned_code(context))
            return response

        return unary

    async def _guarded(
        self, run: Run, argument: Any, context: AioContext, *, counted: bool = True
    ) -> Any:
        """Admits the call and runs `run(argument(), context, place)`, with a place in
        `in_flight` if `counted`."""
        started = self._started()
        try:
            self._admit(context)
            place = _Place(self._wrapper) if counted else _UNCOUNTED
            try:
                response = await run(argument(), context, place)
            except _STREAM_REFUSALS as exc:
                raise _refusal(exc) from None
            finally:
                place.give_back()
        except Aborted as aborted:
            self._finished(started, aborted.code)
            await context.abort(aborted.code, aborted.details)
        except BaseException as exc:
            self._finished(started, _raised_code(context, exc))
            raise
        self._finished(started, _returned_code(context))
        return response

    def client_stream(self, run: Run) -> Behaviour:
        async def client_stream(requests: AsyncIterator[Any], context: AioContext) -> Any:
            return await self._guarded(run, lambda: _checked(requests), context)

        return client_stream

    def streamed(self, behaviour: Behaviour) -> Behaviour:
        """A response stream (health's Watch, reflection), an async generator or a
        coroutine that writes; the call lasts until its end. Not in `in_flight`: a
        Watch lasts as long as its client, and the threaded server frees its slot as
        soon as it is set up (limits.py), so watchers never crowd out calls."""

        def start(argument: Any) -> Any:
            # A single request arrives as bytes (no deserializer), a stream as messages.
            if isinstance(argument, bytes):
                return self._request(argument)
            return _checked(argument)

        if not inspect.isasyncgenfunction(behaviour):
            run = _awaited(behaviour)

            async def written(argument: Any, context: AioContext) -> None:
                await self._guarded(run, lambda: start(argument), context, counted=False)

            return written

        async def generated(argument: Any, context: AioContext) -> AsyncIterator[Any]:
            started = self._started()
            try:
                self._admit(context)
                try:
                    async for response in behaviour(start(argument), context):
                        yield response
                except _STREAM_REFUSALS as exc:
                    raise _refusal(exc) from None
            except Aborted as aborted:
                self._finished(started, aborted.code)
                await context.abort(aborted.code, aborted.details)
            except BaseException as exc:
                self._finished(started, _raised_code(context, exc))
                raise
            self._finished(started, _returned_code(context))

        return generated


# What a streamed request message can be refused with (`_checked`), when the handler
# reading it has no error mapping of its own (grpc's reflection, say).
_STREAM_REFUSALS = (RequestTooLarge, InvalidInput)


def _refusal(error: RequestTooLarge | InvalidInput) -> Aborted:
    return Aborted(status_for(error), str(error))


def _returned_code(context: AioContext) -> grpc.StatusCode:
    """The code of a call whose handler returned: what it set, else OK, unless the
    client left or its deadline passed first (inline, nothing awaited, no
    cancellation could stop the handler), which is what the client saw."""
    code: grpc.StatusCode | None = context.code()
    if code is not None:
        return code
    if context.cancelled():
        return ended_code(context.time_remaining())
    return _OK


def _raised_code(context: AioContext, exc: BaseException) -> grpc.StatusCode:
    code: grpc.StatusCode | None = context.code()
    if code is not None and code is not _OK:
        return code
    # The client left or its deadline passed: the task is cancelled, a stream closed.
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return ended_code(context.time_remaining())
    return grpc.StatusCode.UNKNOWN


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    # Raised inside the servicer's loop, so its error mapping answers for it.
    async for request in requests:
        if type(request) is Refused:
            raise request.error
        yield request
