"""grpc's health servicer for the threaded server, without its deadlock on Watch.

grpc_health's HealthServicer sends to every watcher while it holds its one lock. On
the threaded server a Watch is non-blocking: a send waits until grpc's server thread
has taken the message, and that thread, when another Watch ends, runs the closing
callback, which waits for the same lock. A health change made while a watcher leaves
(set_serving(False) at stop, with a probe disconnecting) then hung the server for good.

Here every send happens outside that lock, under a second one that only the sends
take, so a closing Watch never waits behind a send, and the statuses still reach
each watcher in the order they were set. grpc's own fix is in review in the same
shape (grpc/grpc#43403: a send lock taken before the state lock). The aio server's
health servicer awaits its sends on the loop and has no such lock.
"""

from __future__ import annotations

import threading
from typing import Any

from grpc_health.v1 import health, health_pb2


class HealthServicer(health.HealthServicer):  # type: ignore[misc]
    """grpc's HealthServicer (non-blocking Watch), its sends made outside its lock."""

    _gracefully_shutting_down: bool  # the base class's

    def __init__(self) -> None:
        super().__init__(experimental_non_blocking=True)
        # Taken before the base class's `_lock`, never after it.
        self._send_lock = threading.RLock()

    def Watch(
        self,
        request: health_pb2.HealthCheckRequest,
        context: Any,
        send_response_callback: Any = None,
    ) -> Any:
        if send_response_callback is None:
            # A blocking watcher only queues its responses: the base class's is safe.
            return super().Watch(request, context, send_response_callback)
        service = request.service
        with self._send_lock:
            with self._lock:
                status = self._server_status.get(
                    service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
                )
                self._send_response_callbacks.setdefault(service, set()).add(send_response_callback)
                context.add_callback(self._on_close_callback(send_response_callback, service))
            send_response_callback(health_pb2.HealthCheckResponse(status=status))
        return None

    def set(self, service: str, status: Any) -> None:
        with self._send_lock:
            with self._lock:
                if self._gracefully_shutting_down:
                    return
                self._server_status[service] = status
                watchers = list(self._send_response_callbacks.get(service, ()))
            response = health_pb2.HealthCheckResponse(status=status)
            for send in watchers:
                send(response)

    def enter_graceful_shutdown(self) -> None:
        with self._send_lock:
            with self._lock:
                if self._gracefully_shutting_down:
                    return
                services = list(self._server_status)
            for service in services:
                self.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
            with self._lock:
                self._gracefully_shutting_down = True
