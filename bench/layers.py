"""The layers of our servers an echo can be built with, to measure what each costs:
`metrics` (the RPC metrics), `auth` (the bearer token check), `limits` (the
concurrency and message size limits) and `decoding` (undecodable requests as
INVALID_ARGUMENT). On the threaded server each is an interceptor; on the aio server
limits and decoding are part of the one wrapper every method gets, metrics and auth
are its optional parts (services/transport/aio_calls.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.matcher.bootstrap import SERVICE_NAMES
from services.observability.aio_metrics import rpc_observers
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import RpcMetrics, new_registry
from services.transport.aio_calls import CallGate, CallWrapper
from services.transport.aio_server import AioRunningServer, Registrar
from services.transport.auth import BearerTokenInterceptor, all_methods_except_health_and_reflection
from services.transport.decoding import RequestDecodingInterceptor
from services.transport.grpc_server import ServerOptions
from services.transport.limits import CallLimits

ALL_LAYERS = frozenset({"metrics", "auth", "limits", "decoding"})
# What the matcher serves with when no token is set, as the benchmarks run it.
SERVED_LAYERS = ALL_LAYERS - {"auth"}


def _token_gate(layers: frozenset[str], token: str | None) -> BearerTokenInterceptor | None:
    if "auth" not in layers:
        return None
    if token is None:
        raise ValueError("the auth layer needs --auth-token")
    return BearerTokenInterceptor(token, all_methods_except_health_and_reflection)


def sync_layers(
    options: ServerOptions, layers: frozenset[str], token: str | None
) -> list[grpc.ServerInterceptor]:
    """The interceptors in create_server's order: metrics, auth, limits, decoding."""
    interceptors: list[grpc.ServerInterceptor] = []
    if "metrics" in layers:
        interceptors.append(MetricsInterceptor(RpcMetrics(new_registry())))
    gate = _token_gate(layers, token)
    if gate is not None:
        interceptors.append(gate)
    if "limits" in layers:
        interceptors.append(CallLimits(options.max_concurrent_rpcs, options.max_message_bytes))
    if "decoding" in layers:
        interceptors.append(RequestDecodingInterceptor())
    return interceptors


def start_aio_echo(
    options: ServerOptions,
    response: pb.GetClientConfigResponse,
    layers: frozenset[str],
    token: str | None,
) -> AioRunningServer:
    """The echo on the matcher's aio server: GetClientConfig inline on the loop, as the
    matcher's with the in-memory store."""
    from bench.serve import EchoServicer

    metrics = RpcMetrics(new_registry()) if "metrics" in layers else None
    return start_aio_servicer(options, EchoServicer(response), layers, token, metrics)


def start_aio_servicer(
    options: ServerOptions,
    servicer: matcher_service_pb2_grpc.ProfileMatcherServiceServicer,
    layers: frozenset[str],
    token: str | None,
    metrics: RpcMetrics | None,
) -> AioRunningServer:
    """`servicer` (sync) inline on the loop of an aio server with `layers`, SERVING."""
    if not {"limits", "decoding"} <= layers:
        raise ValueError("the aio server always has the limits and decoding layers")
    gate = _token_gate(layers, token)
    gates: list[CallGate] = [] if gate is None else [gate]
    wrapper = CallWrapper(
        lambda _method: None,
        max_concurrent=options.max_concurrent_rpcs,
        max_message_bytes=options.max_message_bytes,
        gates=gates,
        observe=rpc_observers(metrics) if metrics is not None and "metrics" in layers else None,
    )

    def register(registrar: Registrar) -> None:
        server: grpc.Server = registrar  # type: ignore[assignment]
        matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(servicer, server)

    pool = ThreadPoolExecutor(options.max_workers, thread_name_prefix="grpc-worker")
    running = AioRunningServer(options, SERVICE_NAMES, [pool])
    running.start(options, wrapper, register, None)
    running.set_serving(True)
    return running
