"""What every server of ours has: a thread pool, health, reflection, a graceful stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable, Sequence
from concurrent import futures
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.transport.limits import CallLimits, grpc_receive_limit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str = "[::]"
    port: int = 0
    max_workers: int = 16
    # Beyond this many RPCs in flight, new ones get RESOURCE_EXHAUSTED at once
    # instead of queueing without bound.
    max_concurrent_rpcs: int = 256
    max_message_bytes: int = 4 * 1024 * 1024
    grace_seconds: float = 5.0


@dataclass(slots=True)
class RunningServer:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    service_names: tuple[str, ...]
    grace_seconds: float

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def stop(self, grace: float | None = None) -> None:
        """Health to NOT_SERVING first (so balancers drain us), then a graceful stop."""
        self.set_serving(False)
        self.server.stop(self.grace_seconds if grace is None else grace).wait()


def create_server(
    options: ServerOptions, interceptors: Sequence[grpc.ServerInterceptor] = ()
) -> grpc.Server:
    # The limits are enforced by CallLimits, last, rather than by grpcio itself, whose
    # refusals no interceptor sees: this way the metrics count them (limits.py).
    limits = CallLimits(options.max_concurrent_rpcs, options.max_message_bytes)
    return grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=options.max_workers, thread_name_prefix="grpc-worker"
        ),
        interceptors=[*interceptors, limits],
        options=[
            ("grpc.max_receive_message_length", grpc_receive_limit(options.max_message_bytes)),
            ("grpc.max_send_message_length", options.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )


def start_server(
    server: grpc.Server,
    options: ServerOptions,
    service_names: Sequence[str],
    credentials: grpc.ServerCredentials | None = None,
) -> RunningServer:
    """Adds health and reflection for `service_names`, binds and starts.

    Health starts NOT_SERVING; the caller flips it once its dependencies are ready.
    """
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = f"{options.host}:{options.port}"
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:  # grpcio's way of saying the bind failed
        raise OSError(f"cannot bind {address}: {exc}") from None
    server.start()
    running = RunningServer(
        server, health_servicer, port, tuple(service_names), options.grace_seconds
    )
    running.set_serving(False)
    return running


class Stoppable(Protocol):
    def stop(self, grace: float | None = None) -> None: ...


def wait_for_signal(servers: Iterable[Stoppable]) -> None:
    """Blocks until SIGTERM or SIGINT, then stops every server gracefully."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for running in servers:
        running.stop()
