"""Counts and times every RPC of a sync grpcio server by its final status code.

Which code the client gets (grpcio 1.85, grpc/_server.py):
- the handler returns: the code set with `context.set_code`, else OK;
- the handler raises: the code set before (`context.abort` sets it, then raises),
  else UNKNOWN;
- the client cancels or its deadline passes: no status is sent; the server sees
  the call end, which is recorded as CANCELLED or DEADLINE_EXCEEDED, the code the
  client sees.
The interceptor wraps the handler's behaviour and reads `context.code()` at exactly
those points. A termination callback covers the RPCs whose handler never finishes
on its own: a response stream the client walked away from, a handler still waiting
when the deadline passed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from prometheus_client import Counter, Histogram

from services.observability.metrics import GRPC_CODE_LABELS, RpcMetrics
from services.transport.handlers import Behaviour, behaviour_of, rebuilt, rpc_type
from services.transport.status import ended_code

_TRequest = TypeVar("_TRequest")
_TResponse = TypeVar("_TResponse")


def split_method(full_method: str) -> tuple[str, str]:
    """ "/package.Service/Method" -> ("package.Service", "Method")."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return (service or "unknown", method or "unknown")


def _code_set(context: grpc.ServicerContext) -> grpc.StatusCode | None:
    """What `set_code` or `abort` stored, None until then. grpc's _Context has had
    `code()` for years; the type stubs still lack it."""
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    return code


def _ended_code(context: grpc.ServicerContext) -> grpc.StatusCode:
    """The code of a call that ended without a status from us: the client left."""
    return ended_code(context.time_remaining())


def _returned_code(context: grpc.ServicerContext) -> grpc.StatusCode:
    code = _code_set(context)
    if code is not None:
        return code
    # Still before our status is sent, so inactive can only mean the client left.
    return grpc.StatusCode.OK if context.is_active() else _ended_code(context)


def _raised_code(context: grpc.ServicerContext) -> grpc.StatusCode:
    code = _code_set(context)
    if code is not None:
        return code
    return grpc.StatusCode.UNKNOWN if context.is_active() else _ended_code(context)


class MethodMetrics:
    """The label children of one method, bound once instead of on every call."""

    __slots__ = ("_by_code", "_handled", "_labels", "seconds", "started")

    def __init__(self, metrics: RpcMetrics, labels: tuple[str, str, str]) -> None:
        self._labels = labels
        self._handled: Counter = metrics.rpc_handled
        self._by_code: dict[grpc.StatusCode, Counter] = {}
        self.started: Counter = metrics.rpc_started.labels(*labels)
        self.seconds: Histogram = metrics.rpc_seconds.labels(*labels)

    def handled(self, code: grpc.StatusCode) -> None:
        child = self._by_code.get(code)
        if child is None:
            child = self._by_code[code] = self._handled.labels(
                *self._labels, GRPC_CODE_LABELS[code]
            )
        child.inc()


class _Call:
    """One RPC: started on creation, recorded once by whichever end comes first."""

    __slots__ = ("_context", "_done", "_lock", "_method", "_start", "_timer")

    def __init__(
        self,
        method: MethodMetrics,
        context: grpc.ServicerContext,
        timer: Callable[[], float],
    ) -> None:
        self._method = method
        self._context = context
        self._timer = timer
        self._lock = threading.Lock()
        self._done = False
        method.started.inc()
        self._start = timer()
        # Runs on grpc's poller thread when the call is over, however it ended.
        context.add_callback(self._terminated)

    def returned(self) -> None:
        self._finish(_returned_code(self._context))

    def raised(self) -> None:
        self._finish(_raised_code(self._context))

    def _terminated(self) -> None:
        if self._done:  # the usual case; _finish still settles any race
            return
        # The call is over but the handler did not finish: the client left.
        code = _code_set(self._context)
        self._finish(_ended_code(self._context) if code is None else code)

    def _finish(self, code: grpc.StatusCode) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._method.seconds.observe(self._timer() - self._start)
        self._method.handled(code)


class MetricsInterceptor(grpc.ServerInterceptor):
    """Records grpc_server_started_total, grpc_server_handled_total and
    grpc_server_handling_seconds for every method the server knows.

    Put it first in the server's interceptors, so that it sees the codes that other
    interceptors set. Unknown methods (UNIMPLEMENTED) are not recorded: their names
    come from the client and would make unbounded label values.
    """

    def __init__(
        self, metrics: RpcMetrics, *, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._metrics = metrics
        self._timer = timer
        # Keyed by the full method path; only registered methods get here.
        self._methods: dict[str, MethodMetrics] = {}

    def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], grpc.RpcMethodHandler[_TRequest, _TResponse] | None
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_TRequest, _TResponse] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        path = handler_call_details.method
        method = self._methods.get(path)
        if method is None:
            service, name = split_method(path)
            # A race here binds the same children twice, which is harmless.
            method = self._methods[path] = MethodMetrics(
                self._metrics, (rpc_type(handler), service, name)
            )
        return _observed_handler(handler, method, self._timer)


def _observed_handler(
    handler: grpc.RpcMethodHandler[_TRequest, _TResponse],
    method: MethodMetrics,
    timer: Callable[[], float],
) -> grpc.RpcMethodHandler[_TRequest, _TResponse]:
    behaviour = behaviour_of(handler)
    if behaviour is None:  # a malformed handler: leave grpc to report it
        return handler
    if not handler.response_streaming:
        wrapped = _single_response(behaviour, method, timer)
    elif getattr(behaviour, "experimental_non_blocking", False):
        wrapped = _non_blocking_stream(behaviour, method, timer)
    else:
        wrapped = _response_stream(behaviour, method, timer)
    return rebuilt(handler, wrapped, handler.request_deserializer, stands_in_for=behaviour)


def _single_response(
    behaviour: Behaviour, method: MethodMetrics, timer: Callable[[], float]
) -> Behaviour:
    def observed(request: Any, context: grpc.ServicerContext) -> Any:
        call = _Call(method, context, timer)
        try:
            response = behaviour(request, context)
        except BaseException:
            call.raised()
            raise
        call.returned()
        return response

    return observed


def _response_stream(
    behaviour: Behaviour, method: MethodMetrics, timer: Callable[[], float]
) -> Behaviour:
    def observed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        call = _Call(method, context, timer)
        try:
            responses = behaviour(request, context)
        except BaseException:
            call.raised()
            raise
        return _until_the_end(responses, call)

    return observed


def _until_the_end(responses: Iterator[Any], call: _Call) -> Iterator[Any]:
    try:
        # yield from also closes the handler's generator when grpc drops this one.
        yield from responses
    except BaseException:
        call.raised()
        raise
    call.returned()


def _non_blocking_stream(
    behaviour: Behaviour, method: MethodMetrics, timer: Callable[[], float]
) -> Behaviour:
    """A behaviour that returns at once and streams through a callback; None ends it."""

    def observed(request: Any, context: grpc.ServicerContext, send: Callable[[Any], None]) -> None:
        call = _Call(method, context, timer)

        def observed_send(response: Any) -> None:
            if response is None:
                # Before the status goes out: afterwards the call is inactive and
                # would read as cancelled.
                call.returned()
            send(response)

        try:
            behaviour(request, context, observed_send)
        except BaseException:
            call.raised()
            raise

    return observed
