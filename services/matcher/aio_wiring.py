"""The matcher's services on a grpc.aio server (--io aio): the same servicers and use
cases as the threaded server, placed for one event loop.

- ProfileMatcherService (GetClientConfig, the batch, MatchProfile) runs inline on the
  loop with the embedded store in memory, which never waits on anything but the GIL,
  and its write lock: a match that changes a player's stored active_campaigns writes
  them back, and waits while another write (an import batch) holds the lock. So a
  call that comes while the lock is held runs on the match pool instead
  (`inline_while`), where that wait holds no one else. With a store that can wait (a
  file, MongoDB) it runs on --match-workers threads of its own, so that a slow read
  holds neither the loop nor the other services.
- ProfileService and AudienceService run on the --workers pool: they write, count
  and read streams, all of which can wait.
- Health and reflection are grpc's own async servicers, on the loop.
The token gates, limits, decoding and metrics are the ones the threaded server's
interceptors apply, wrapped around each method once (services/transport/aio_calls.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

import grpc

from profilematcher.matcher.v1 import audience_service_pb2_grpc, matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2_grpc
from services.matcher.audience_servicer import AudienceServicer
from services.matcher.servicer import ProfileMatcherServicer
from services.matcher.settings import MatcherSettings, store_in_memory
from services.observability.aio_metrics import rpc_observers
from services.observability.metrics import RpcMetrics
from services.profiles.servicer import ProfileServicer
from services.storage.sqlite_store import SQLiteProfileStore
from services.storage.wrapper import StoreWrapper
from services.transport.aio_calls import CallGate, CallWrapper
from services.transport.aio_server import AioRunningServer, Registrar
from services.transport.auth import BearerTokenInterceptor, WritesClosedInterceptor
from services.transport.grpc_server import ServerSecurity


def gates_of(interceptors: Sequence[grpc.ServerInterceptor]) -> list[CallGate]:
    """The token gates among a server's security interceptors. Any other interceptor
    is refused: the aio server runs none, and one left out silently would open a hole."""
    gates: list[CallGate] = []
    for interceptor in interceptors:
        if not isinstance(interceptor, BearerTokenInterceptor | WritesClosedInterceptor):
            raise TypeError(f"the aio server cannot apply {type(interceptor).__name__}")
        gates.append(interceptor)
    return gates


def placement(
    matcher_service: str, match_pool: Executor | None, general_pool: Executor
) -> Callable[[str], Executor | None]:
    """Where each method's sync servicer runs: None inline on the loop."""
    prefix = f"/{matcher_service}/"

    def place(method: str) -> Executor | None:
        return match_pool if method.startswith(prefix) else general_pool

    return place


def write_in_progress(store: object) -> Callable[[], bool]:
    """A look that never waits at whether a write holds `store`'s write lock (the
    embedded store's, through any wrappers); never, for a store without one."""
    while isinstance(store, StoreWrapper):
        store = store.inner
    if isinstance(store, SQLiteProfileStore):
        return store.writing
    return lambda: False


def start_aio_matcher(
    settings: MatcherSettings,
    security: ServerSecurity,
    metrics: RpcMetrics,
    *,
    matcher_service: str,
    service_names: Sequence[str],
    servicers: tuple[ProfileMatcherServicer, ProfileServicer, AudienceServicer],
    holds_catalog: Callable[[], bool],
    store_writing: Callable[[], bool] = lambda: False,
) -> AioRunningServer:
    """Starts the matcher's services on an aio server (health NOT_SERVING until the
    caller sets it); raises OSError when the port cannot be bound.

    ProfileMatcherService runs inline on the loop (in-memory store) only while
    `holds_catalog()` and not `store_writing()`: else a call could wait, for the
    first catalog's fetch or for the store's write lock, and so it runs on the match
    pool, as it does with any other store. (A write that takes the lock just after
    the look can still hold one inline write-back for the length of one write.)"""
    matcher, profiles, audiences = servicers
    options = settings.server
    gates = gates_of(security.interceptors)  # first: a refusal leaves nothing started
    general_pool = ThreadPoolExecutor(options.max_workers, thread_name_prefix="grpc-worker")
    # At least one thread: with the in-memory store it is the fallback of inline calls.
    match_pool = ThreadPoolExecutor(
        max(settings.match_workers, 1), thread_name_prefix="match-worker"
    )
    inline = store_in_memory(settings.store)
    executors = [general_pool, match_pool]

    def nothing_to_wait_for() -> bool:
        return holds_catalog() and not store_writing()

    wrapper = CallWrapper(
        placement(matcher_service, None if inline else match_pool, general_pool),
        inline_while=nothing_to_wait_for if inline else None,
        inline_fallback=match_pool if inline else None,
        max_concurrent=options.max_concurrent_rpcs,
        max_message_bytes=options.max_message_bytes,
        gates=gates,
        observe=rpc_observers(metrics),
    )

    def register(registrar: Registrar) -> None:
        # The generated functions want a grpc.Server; the registrar has the two
        # methods they call.
        server: grpc.Server = registrar  # type: ignore[assignment]
        matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(matcher, server)
        profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(profiles, server)
        audience_service_pb2_grpc.add_AudienceServiceServicer_to_server(audiences, server)

    running = AioRunningServer(options, service_names, executors)
    running.start(options, wrapper, register, security.credentials)
    return running
