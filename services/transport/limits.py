"""The server's concurrency and message size limits, enforced where metrics see them.

grpcio enforces both on its own (`maximum_concurrent_rpcs`, the receive message limit),
but it refuses those calls before any interceptor's handler runs, so they never reach
grpc_server_handled_total: an overloaded server looked idle on its dashboards. Here the
refusals are ordinary handlers that end in RESOURCE_EXHAUSTED, run inside the metrics
interceptor like any other call.

- Concurrency: a call takes a slot when grpc hands it to the interceptors (on arrival,
  as grpcio's own limit counts, so calls queued for a worker thread count too) and
  gives it back when its handler is done: returned, raised, or its stream ended or was
  dropped. A call that ends before its handler runs (the client left first) gives it
  back when grpc drops the handler.
- Size: grpc's own receive limit is set to twice ours (`grpc_receive_limit`), and the
  request deserializer checks ours (request_checks.py, shared with the aio server),
  so a request between the two is refused here, counted, with a message naming the
  limit. A larger one is still cut off by grpc
  before any of our code runs, and is not counted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, NoReturn

import grpc

from services.transport.handlers import (
    Behaviour,
    Continuation,
    Deserializer,
    Handler,
    PerMethod,
    behaviour_of,
    handler_maker,
    rebuilt,
    server_hints,
    take_hints,
)
from services.transport.request_checks import Refused, RequestTooLarge, messages, sized


def grpc_receive_limit(max_message_bytes: int) -> int:
    """grpc's own receive limit for a server whose limit is `max_message_bytes`."""
    return min(2 * max_message_bytes, 2**31 - 1)


# Never refused for the concurrency limit: a health check is cheap, and a probe
# (Kubernetes', or --worker-hang-seconds's) must tell a busy server from a dead one.
# It still counts while it runs, and on the threaded server still needs a worker
# thread, so a pool whose every thread is stuck leaves it unanswered.
NEVER_SHED = frozenset({"/grpc.health.v1.Health/Check"})


def busy(limit: int) -> str:
    """What a call refused over the concurrency limit is told."""
    return f"server busy: {limit} calls in flight, its limit; retry later"


class _Slot:
    """One call's place under the concurrency limit; released once, however it ends."""

    __slots__ = ("_limits", "_token")

    def __init__(self, limits: CallLimits) -> None:
        self._limits = limits
        self._token = [True]

    def release(self) -> None:
        try:
            self._token.pop()  # atomic: only the first release finds the token
        except IndexError:
            return
        self._limits._give_back()

    # A call that ended before its handler ran never calls release: grpc drops the
    # handler, and with it the last reference to this slot.
    __del__ = release


class CallLimits(grpc.ServerInterceptor):
    """Refuses calls beyond `max_concurrent` in flight, and request messages over
    `max_message_bytes`, with RESOURCE_EXHAUSTED.

    Install it after the metrics interceptor, so that its refusals are counted. The
    refusals run on a thread of their own, so that they answer at once even while
    every worker thread is busy.
    """

    def __init__(self, max_concurrent: int, max_message_bytes: int) -> None:
        if max_concurrent < 1:
            raise ValueError(f"the concurrency limit must be positive, got {max_concurrent}")
        self._max_concurrent = max_concurrent
        self._max_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._in_flight = 0
        self._plans = PerMethod(self._plan)
        self._refusals = futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="grpc-refusal"
        )

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        with self._lock:
            admitted = self._in_flight < self._max_concurrent or method in NEVER_SHED
            if admitted:
                self._in_flight += 1
        if not admitted:
            return self._refusal(handler)
        return self._plans.get(method, handler)(_Slot(self))

    def _give_back(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _refusal(self, handler: Handler) -> Handler:
        limit = self._max_concurrent

        def refuse(_request: Any, context: grpc.ServicerContext) -> NoReturn:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, busy(limit))

        refuse.experimental_thread_pool = self._refusals  # type: ignore[attr-defined]
        return rebuilt(handler, refuse, handler.request_deserializer)

    def _plan(self, handler: Handler) -> Callable[[_Slot], Handler]:
        """What a call of `handler`'s method needs but its slot, worked out once per
        method: the call then only binds its slot."""
        behaviour = behaviour_of(handler)
        assert behaviour is not None, "a registered method has a behaviour"
        arguments = _checked_stream if handler.request_streaming else _checked_request
        limit: Callable[[Behaviour, Behaviour, _Slot], Behaviour]
        if getattr(behaviour, "experimental_non_blocking", False):
            limit = _non_blocking
        elif handler.response_streaming:
            limit = _response_stream
        else:
            limit = _single_response
        hints = server_hints(behaviour)
        make = handler_maker(handler)
        deserializer = _size_checked(handler.request_deserializer, self._max_bytes)
        serializer = handler.response_serializer

        def bind(slot: _Slot) -> Handler:
            limited = limit(behaviour, arguments, slot)
            take_hints(limited, hints)
            return make(limited, deserializer, serializer)

        return bind


def _single_response(behaviour: Behaviour, arguments: Behaviour, slot: _Slot) -> Behaviour:
    def limited(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return _too_large_aborts(behaviour, arguments(request, context), context)
        finally:
            slot.release()

    return limited


def _response_stream(behaviour: Behaviour, arguments: Behaviour, slot: _Slot) -> Behaviour:
    def limited(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            responses = _too_large_aborts(behaviour, arguments(request, context), context)
        except BaseException:
            slot.release()
            raise
        return _until_the_end(responses, slot, context)

    return limited


def _until_the_end(
    responses: Iterator[Any], slot: _Slot, context: grpc.ServicerContext
) -> Iterator[Any]:
    try:
        yield from responses
    except RequestTooLarge as exc:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    finally:
        # Also when grpc drops the stream (the client left): closing it ends up here.
        slot.release()


def _non_blocking(behaviour: Behaviour, arguments: Behaviour, slot: _Slot) -> Behaviour:
    """A behaviour that returns at once and streams through a callback: like grpcio's
    own limit, it holds its slot only while it runs."""

    def limited(request: Any, context: grpc.ServicerContext, send: Callable[[Any], None]) -> None:
        try:
            behaviour(arguments(request, context), context, send)
        finally:
            slot.release()

    return limited


def _too_large_aborts(behaviour: Behaviour, argument: Any, context: grpc.ServicerContext) -> Any:
    """Calls the handler; a RequestTooLarge it let through (one that no error mapping
    caught, as in grpc's reflection) still ends the call with RESOURCE_EXHAUSTED."""
    try:
        return behaviour(argument, context)
    except RequestTooLarge as exc:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))


def _checked_request(request: Any, context: grpc.ServicerContext) -> Any:
    # Over the limit, or (decoding.py's deserializer inside ours) not parsed.
    if type(request) is Refused:
        context.abort(*request.status())
    return request


def _checked_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
    return messages(requests)


def _size_checked(deserializer: Deserializer | None, limit: int) -> Deserializer:
    parse: Deserializer = (lambda data: data) if deserializer is None else deserializer

    def deserialize(data: bytes) -> Any:
        return sized(data, limit) or parse(data)

    return deserialize
