"""What every server of ours has: a thread pool, health, reflection, a graceful stop.

Stopping on SIGTERM goes in three steps, so that no caller sees a refused connection
while a load balancer could still send it our way, and no call is cancelled while
it can still finish:
1. drain: health turns NOT_SERVING and everything is still served, for the drain
   delay, long enough for balancers to notice and stop sending new calls;
2. grace: new calls are refused; the ones in flight get the grace period to finish
   and their results are sent (a grace at least as long as the store's time limit
   lets every write that started finish, so none is reported failed after it
   committed);
3. whatever is still running after that is cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.transport.decoding import RequestDecodingInterceptor
from services.transport.health_servicer import HealthServicer
from services.transport.limits import CallLimits, grpc_receive_limit
from services.transport.stop_signals import StopSignals

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
    # After SIGTERM, how long health says NOT_SERVING while calls are still served.
    drain_seconds: float = 5.0
    # Bind with SO_REUSEPORT, so that several processes serve one port and the kernel
    # spreads connections among them (--processes). Off for one process: a second
    # server started on its port by mistake then fails to bind instead of sharing it.
    reuse_port: bool = False
    # Also bound, in plaintext: a worker's private unix socket (in a directory only
    # this user may enter), where it checks its own health to prove to its supervisor
    # that it still serves (--processes, services/processes/liveness.py).
    probe_address: str | None = None


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """What a process's wiring makes of its security settings: the credentials to
    bind with (None: plaintext) and the interceptors that check each call's token."""

    credentials: grpc.ServerCredentials | None = None
    interceptors: Sequence[grpc.ServerInterceptor] = ()


@dataclass(slots=True)
class RunningServer:
    server: grpc.Server
    health: HealthServicer
    port: int
    service_names: tuple[str, ...]
    grace_seconds: float
    drain_seconds: float

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            self.health.set(name, status)

    def start_draining(self) -> None:
        """Health NOT_SERVING for good (nothing sets it back), calls still served."""
        self.health.enter_graceful_shutdown()

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
        # Limits last, so metrics see their refusals; decoding innermost, so that
        # metrics and auth see its refusals as any other call.
        interceptors=[*interceptors, limits, RequestDecodingInterceptor()],
        options=channel_arguments(options),
    )


def channel_arguments(options: ServerOptions) -> list[tuple[str, int]]:
    """grpc's options for a server of ours, sync or aio: grpc's own receive limit above
    ours (limits.py), and the port shared with other processes only when asked."""
    return [
        ("grpc.max_receive_message_length", grpc_receive_limit(options.max_message_bytes)),
        ("grpc.max_send_message_length", options.max_message_bytes),
        ("grpc.so_reuseport", 1 if options.reuse_port else 0),
    ]


class Bindable(Protocol):
    """What grpc.Server and grpc.aio.Server both have for binding a port."""

    def add_insecure_port(self, address: str) -> int: ...
    def add_secure_port(self, address: str, server_credentials: grpc.ServerCredentials) -> int: ...


def bind(
    server: Bindable, options: ServerOptions, credentials: grpc.ServerCredentials | None
) -> int:
    """Binds options' host and port (TLS with `credentials`), and its probe address
    when it has one; OSError when it cannot."""
    address = f"{options.host}:{options.port}"
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
        if options.probe_address is not None:
            address = options.probe_address
            server.add_insecure_port(address)
        return port
    except RuntimeError as exc:  # grpcio's way of saying the bind failed
        raise OSError(f"cannot bind {address}: {exc}") from None


def start_server(
    server: grpc.Server,
    options: ServerOptions,
    service_names: Sequence[str],
    credentials: grpc.ServerCredentials | None = None,
) -> RunningServer:
    """Adds health and reflection for `service_names`, binds and starts.

    Health starts NOT_SERVING; the caller flips it once its dependencies are ready.
    """
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = bind(server, options, credentials)
    server.start()
    running = RunningServer(
        server,
        health_servicer,
        port,
        tuple(service_names),
        options.grace_seconds,
        options.drain_seconds,
    )
    running.set_serving(False)
    return running


class Stoppable(Protocol):
    @property
    def drain_seconds(self) -> float: ...
    def start_draining(self) -> None: ...
    def stop(self, grace: float | None = None) -> None: ...


def shut_down(servers: Sequence[Stoppable], *, drain_wait: Callable[[float], object]) -> None:
    """Drains every server for the longest of their drain delays, then stops each: new
    calls refused, in-flight ones given their grace. `drain_wait(seconds)` waits out
    the drain, and may return sooner to cut it short (a second signal)."""
    for running in servers:
        running.start_draining()
    drain = max((running.drain_seconds for running in servers), default=0.0)
    if drain > 0:
        log.info("health NOT_SERVING; still serving for %g s before refusing new calls", drain)
        drain_wait(drain)
    log.info("refusing new calls; letting calls in flight finish")
    for running in servers:
        running.stop()


def wait_for_signal(
    servers: Sequence[Stoppable], *, ready: Callable[[], None] | None = None
) -> None:
    """Blocks until SIGTERM or SIGINT, then shuts the servers down (`shut_down`); a
    second signal cuts the drain short. `ready` runs once the handlers are in place, so
    whatever it announces (a log line that a supervisor or a test waits for) is never
    followed by a signal that would still kill the process without a drain. Either
    signal is acted on whichever thread it lands on (stop_signals)."""
    # Kept until the servers are stopped, so a second Ctrl-C is no traceback.
    with StopSignals() as signals:
        if ready is not None:
            ready()
        first = signals.next()
        log.info("received %s, shutting down", first.name)

        def drain_wait(seconds: float) -> None:
            again = signals.within(seconds)
            if again is not None:
                log.info("received %s again, ending the drain", again.name)

        shut_down(servers, drain_wait=drain_wait)
