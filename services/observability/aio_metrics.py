"""The metrics of the aio server's calls (services/transport/aio_calls.py): the same
grpc_server_* metrics, names and labels as the sync server's interceptor records
(interceptor.py), recorded by an observer each method binds once."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from services.observability.interceptor import MethodMetrics, split_method
from services.observability.metrics import RpcMetrics


class _Observer:
    """One method's label children, bound on its first call (a method never called
    exports no series, as with the interceptor): `started` counts and stamps,
    `finished` times and counts the code."""

    __slots__ = ("_bind", "_method", "_timer")

    def __init__(self, bind: Callable[[], MethodMetrics], timer: Callable[[], float]) -> None:
        self._bind = bind
        self._method: MethodMetrics | None = None
        self._timer = timer

    def started(self) -> float:
        method = self._method
        if method is None:
            method = self._method = self._bind()
        method.started.inc()
        return self._timer()

    def finished(self, started: float, code: grpc.StatusCode) -> None:
        method = self._method
        assert method is not None, "finished after started"
        method.seconds.observe(self._timer() - started)
        method.handled(code)


def rpc_observers(
    metrics: RpcMetrics, *, timer: Callable[[], float] = time.perf_counter
) -> Callable[[str, str], _Observer]:
    """What CallWrapper.observe wants: (full method name, rpc type) -> its observer.
    Only registered methods get one, so labels stay bounded."""

    def observer(method: str, rpc_type: str) -> _Observer:
        service, name = split_method(method)
        return _Observer(lambda: MethodMetrics(metrics, (rpc_type, service, name)), timer)

    return observer
