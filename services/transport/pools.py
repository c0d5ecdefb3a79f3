"""A thread pool of its own for one service's unary calls.

gRPC Python runs every call on the server's one pool, unless the method's behaviour
carries an `experimental_thread_pool` attribute: then the call runs there. This is
the hook grpc_health's own servicer uses to keep its Watch streams off the server's
pool. `tests/test_pools.py` checks that the installed grpcio still honours it.

Why a separate pool: a call whose work never waits (matching over the in-memory
embedded store is all CPU under one GIL) gains nothing from a second thread, and
every thread that wants the GIL turns each release of it (a SQLite call, gRPC's own
hand-offs) into context switches: one thread for those calls serves more of them than
many do, while the server's pool stays free for streams, other services, health and
reflection, which a single-threaded server would block.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc

from services.transport.handlers import Behaviour, Continuation, Handler, rebuilt


class DedicatedPool(grpc.ServerInterceptor):
    """Runs the unary-unary methods of `service` on `workers` threads of their own.

    Install it first in the interceptor list, so that it marks the handler the server
    finally runs; stop the server before calling `shutdown`.
    """

    def __init__(self, service: str, workers: int, *, thread_name_prefix: str) -> None:
        if workers < 1:
            raise ValueError(f"a dedicated pool needs at least one thread, got {workers}")
        self._prefix = f"/{service}/"
        self.executor = futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=thread_name_prefix
        )

    def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if (
            handler is None
            or handler.unary_unary is None
            or not handler_call_details.method.startswith(self._prefix)
            # A call that already has a pool (a refusal over the concurrency limit)
            # keeps it: it must not queue behind the calls it refuses.
            or getattr(handler.unary_unary, "experimental_thread_pool", None) is not None
        ):
            return handler
        return rebuilt(handler, self._on_pool(handler.unary_unary), handler.request_deserializer)

    def _on_pool(self, behaviour: Behaviour) -> Behaviour:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            return behaviour(request, context)

        run.experimental_thread_pool = self.executor  # type: ignore[attr-defined]
        return run

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)
