"""Bare grpcio baselines for the end-to-end benchmark: nothing of ours in them.

`bare-sync` is grpc.server on a ThreadPoolExecutor, `bare-aio` grpc.aio.server on
asyncio.run's loop; each answers GetClientConfig with one prebuilt response (the
matcher's own answer, --response) and has grpc's health servicer, SERVING, for the
benchmark's readiness check. Nothing else: no interceptors, options, limits or
metrics. They bound what any server in Python on grpcio can reach, the sync and the
aio stack each; `--noop-interceptors N` puts N pass-through interceptors in front,
which is what an interceptor chain costs before any of them does any work.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc

_STOP = (signal.SIGTERM, signal.SIGINT)


class BareServicer(matcher_service_pb2_grpc.ProfileMatcherServiceServicer):
    def __init__(self, response: pb.GetClientConfigResponse) -> None:
        self._response = response

    def GetClientConfig(  # noqa: N802
        self, request: pb.GetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetClientConfigResponse:
        return self._response


class BareAioServicer(matcher_service_pb2_grpc.ProfileMatcherServiceServicer):
    def __init__(self, response: pb.GetClientConfigResponse) -> None:
        self._response = response

    async def GetClientConfig(  # noqa: N802
        self, request: pb.GetClientConfigRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetClientConfigResponse:
        return self._response


class _PassThrough(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        return continuation(handler_call_details)


class _AioPassThrough(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        return await continuation(handler_call_details)


def serve_bare_sync(
    port: int, workers: int, response: pb.GetClientConfigResponse, noop_interceptors: int = 0
) -> None:
    # Blocked before grpc makes its threads, which inherit the mask: a stop signal then
    # waits, pending, for sigwait below, whichever thread the kernel gave it to. (A
    # Python handler setting an Event would not wake the main thread if it landed on
    # another one.)
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers),
        interceptors=[_PassThrough() for _ in range(noop_interceptors)],
    )
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
        # The generated base answers the other RPCs UNIMPLEMENTED; its stubs call them abstract.
        BareServicer(response),  # type: ignore[abstract]
        server,
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(f"bare-sync ready on {bound}", flush=True)
    signal.sigwait(_STOP)
    server.stop(0).wait()


def serve_bare_aio(
    port: int, response: pb.GetClientConfigResponse, noop_interceptors: int = 0
) -> None:
    asyncio.run(_serve_bare_aio(port, response, noop_interceptors))


async def _serve_bare_aio(
    port: int, response: pb.GetClientConfigResponse, noop_interceptors: int
) -> None:
    server = grpc.aio.server(interceptors=[_AioPassThrough() for _ in range(noop_interceptors)])
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
        BareAioServicer(response),  # type: ignore[abstract]
        server,
    )
    health_servicer = health_aio.HealthServicer()  # SERVING from the start
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"bare-aio ready on {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in _STOP:
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0)
