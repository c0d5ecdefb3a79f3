"""The matcher process's one wiring point: settings in, running server out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from profilematcher.matcher.v1 import matcher_service_pb2, matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2, profile_service_pb2_grpc
from services.domain.errors import DependencyUnavailable
from services.matcher.campaign_cache import CampaignCache
from services.matcher.campaign_client import CampaignClient
from services.matcher.catalog_watch import CatalogWatcher
from services.matcher.client_config import ClientConfigs
from services.matcher.profile_servicer import ProfileServicer
from services.matcher.servicer import ProfileMatcherServicer
from services.observability.http import MetricsServer, MetricsSettings, start_metrics_server
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import Metrics, new_registry
from services.observability.store import instrument_store
from services.storage.base import ProfileStore
from services.transport.pools import DedicatedPool
from services.transport.security import (
    ClientTLSSettings,
    TLSSettings,
    auth_interceptors,
    open_channel,
    server_credentials,
)
from services.transport.server import RunningServer, ServerOptions, create_server, start_server
from services.transport.tls_probe import HandshakeDiagnosis

log = logging.getLogger(__name__)

MATCHER_SERVICE = matcher_service_pb2.DESCRIPTOR.services_by_name["ProfileMatcherService"].full_name
SERVICE_NAMES = (
    MATCHER_SERVICE,
    profile_service_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name,
)
# With the embedded store in memory, ProfileMatcherService's calls never wait on
# anything but the GIL, and one thread of their own served them fastest
# (services/transport/pools.py, BENCHMARKS.md).
EMBEDDED_MATCH_WORKERS = 1


def default_match_workers(store: str | None) -> int:
    """MatcherSettings.match_workers for a store URI (empty: the in-memory store).

    Only the in-memory store never makes a call wait: a file can page in from disk or
    wait for another process's write lock, and MongoDB is a network away. Calls that
    wait need the server's big pool, or one slow call would hold up all the others.
    """
    return EMBEDDED_MATCH_WORKERS if store in (None, "", ":memory:") else 0


@dataclass(frozen=True, slots=True)
class MatcherSettings:
    server: ServerOptions = field(default_factory=lambda: ServerOptions(port=50051))
    campaigns_target: str = "localhost:50052"
    catalog_ttl: float = 300.0
    # Past this age without word from the campaign service, health says NOT_SERVING
    # (requests are still answered from the stale catalog).
    max_staleness: float = 3600.0
    campaigns_timeout: float = 2.0
    watch_campaigns: bool = True
    health_interval: float = 1.0
    tls: TLSSettings = field(default_factory=TLSSettings)
    campaigns_tls: ClientTLSSettings = field(default_factory=ClientTLSSettings)
    # When set, ProfileService's writing RPCs need `authorization: Bearer <token>`.
    auth_token: str | None = None
    protect_reads: bool = False
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # Threads of their own for ProfileMatcherService's calls; 0 runs them on the
    # server's pool with everything else (right for a store the calls wait on).
    match_workers: int = 0


def match_pool(workers: int) -> list[DedicatedPool]:
    """The interceptor that gives ProfileMatcherService `workers` threads of its own
    (none for 0), to go first in a server's interceptors."""
    if workers == 0:
        return []
    return [DedicatedPool(MATCHER_SERVICE, workers, thread_name_prefix="match-worker")]


@dataclass(slots=True)
class MatcherServer:
    running: RunningServer
    cache: CampaignCache
    channel: grpc.Channel
    watcher: CatalogWatcher | None
    metrics: Metrics
    metrics_server: MetricsServer | None
    _stop_monitor: threading.Event
    _monitor: threading.Thread
    _pools: list[DedicatedPool]

    @property
    def port(self) -> int:
        return self.running.port

    def stop(self, grace: float | None = None) -> None:
        self._stop_monitor.set()
        self._monitor.join(timeout=5)
        if self.watcher is not None:
            self.watcher.stop()
        self.running.stop(grace)
        for pool in self._pools:
            pool.shutdown()
        self.channel.close()
        if self.metrics_server is not None:
            self.metrics_server.close()  # last, so the drain can still be scraped


def start_matcher(
    settings: MatcherSettings,
    store: ProfileStore,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MatcherServer:
    """Starts serving; the store is the caller's (it owns the one client per process).

    Health is SERVING only while a catalog no older than `max_staleness` is held:
    a cold start with the campaign service down stays NOT_SERVING.
    """
    # Its own registry per server: tests start many matchers in one process.
    metrics = Metrics(new_registry())
    store = instrument_store(store, metrics)
    channel = open_channel(settings.campaigns_target, settings.campaigns_tls)
    client = CampaignClient(
        channel,
        timeout=settings.campaigns_timeout,
        # grpc says only "Socket closed" when the TLS handshake fails: this logs why.
        on_unavailable=(
            HandshakeDiagnosis(
                settings.campaigns_target, settings.campaigns_tls, what="the campaign service"
            )
            if settings.campaigns_tls.enabled
            else None
        ),
    )
    cache = CampaignCache(
        client,
        ttl=settings.catalog_ttl,
        max_staleness=settings.max_staleness,
        fetch_timeout=settings.campaigns_timeout,
        observer=metrics.catalog,
    )
    metrics.catalog.set_age_source(lambda: cache.state().age, stale_after=settings.catalog_ttl)
    pools = match_pool(settings.match_workers)
    # Metrics before the token check, so its refusals are counted too.
    interceptors = [
        *pools,
        MetricsInterceptor(metrics),
        *auth_interceptors(settings.auth_token, protect_reads=settings.protect_reads),
    ]
    server = create_server(settings.server, interceptors)
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
        ProfileMatcherServicer(ClientConfigs(store, cache, clock)), server
    )
    profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(ProfileServicer(store), server)
    try:
        running = start_server(
            server, settings.server, SERVICE_NAMES, credentials=server_credentials(settings.tls)
        )
        metrics_server = (
            start_metrics_server(settings.metrics.port, metrics.registry, settings.metrics.host)
            if settings.metrics.enabled
            else None
        )
    except BaseException:
        # Nothing half-started may outlive a failed start (the caller closes the store).
        server.stop(None)
        for pool in pools:
            pool.shutdown()
        channel.close()
        raise
    try:
        cache.current(timeout=settings.campaigns_timeout)
    except DependencyUnavailable as exc:
        log.warning("no campaign catalog yet (NOT_SERVING until there is one): %s", exc)
    watcher = None
    if settings.watch_campaigns:
        watcher = CatalogWatcher(client.watch, cache)
        watcher.start()
    stop_monitor = threading.Event()
    serving = _update_health(cache, running, None)
    monitor = threading.Thread(
        target=_monitor_health,
        args=(cache, running, settings.health_interval, stop_monitor, serving),
        name="health-monitor",
        daemon=True,
    )
    monitor.start()
    return MatcherServer(
        running, cache, channel, watcher, metrics, metrics_server, stop_monitor, monitor, pools
    )


def _monitor_health(
    cache: CampaignCache,
    running: RunningServer,
    interval: float,
    stop: threading.Event,
    serving: bool,
) -> None:
    """`serving` is what health was last set to, so no change in between is missed."""
    while not stop.wait(interval):
        cache.poke()  # an idle matcher still refreshes, so its catalog does not age out
        serving = _update_health(cache, running, serving)


def _update_health(cache: CampaignCache, running: RunningServer, was: bool | None) -> bool:
    state = cache.state()
    if state.serving != was:
        running.set_serving(state.serving)
        if state.serving:
            log.info("SERVING with catalog %s", state.version)
        elif state.version is None:
            log.warning("NOT_SERVING: no campaign catalog yet")
        else:
            log.warning(
                "NOT_SERVING: catalog %s is %.0f s old, past the maximum staleness",
                state.version,
                state.age,
            )
    return state.serving
