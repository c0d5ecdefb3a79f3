"""The matcher process's one wiring point: settings in, running server out."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import grpc
from grpc_health.v1 import health_pb2

from profilematcher.matcher.v1 import (
    audience_service_pb2,
    audience_service_pb2_grpc,
    matcher_service_pb2,
    matcher_service_pb2_grpc,
)
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2, profile_service_pb2_grpc
from services.codecs.profile_view import MessageView
from services.domain.errors import DependencyUnavailable
from services.matcher.access import server_security
from services.matcher.aio_wiring import start_aio_matcher, write_in_progress
from services.matcher.audience import EstimateAudience
from services.matcher.audience_servicer import AudienceServicer
from services.matcher.campaign_client import CampaignClient
from services.matcher.catalog_cache import CatalogCache
from services.matcher.catalog_subscription import CAMPAIGN_CHANNEL_OPTIONS, CatalogSubscription
from services.matcher.client_config import ServeClientConfig
from services.matcher.dry_run import MatchDryRun
from services.matcher.servicer import ProfileMatcherServicer
from services.matcher.settings import IO_AIO, MatcherSettings
from services.observability.http import MetricsServer, serve_metrics
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import Metrics, new_registry
from services.observability.store import instrument_store
from services.profiles.servicer import ProfileServicer
from services.storage.base import AudienceCounts, ServingStore
from services.transport.aio_server import AioRunningServer
from services.transport.grpc_server import (
    RunningServer,
    ServerSecurity,
    create_server,
    start_server,
)
from services.transport.pools import DedicatedPool
from services.transport.tls import open_channel
from services.transport.tls_probe import HandshakeDiagnosis

log = logging.getLogger(__name__)

MATCHER_SERVICE = matcher_service_pb2.DESCRIPTOR.services_by_name["ProfileMatcherService"].full_name
SERVICE_NAMES = (
    MATCHER_SERVICE,
    profile_service_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name,
    audience_service_pb2.DESCRIPTOR.services_by_name["AudienceService"].full_name,
)
# A health service name of its own for the catalog's freshness: NOT_SERVING while no
# catalog was confirmed by the campaign service within --max-staleness (or there is
# none). The matcher's own names stay SERVING while it holds any catalog.
CATALOG_HEALTH = "profilematcher.catalog"
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def match_pool(workers: int) -> list[DedicatedPool]:
    """The interceptor that gives ProfileMatcherService `workers` threads of its own
    (none for 0), to go first in a server's interceptors."""
    if workers == 0:
        return []
    return [DedicatedPool(MATCHER_SERVICE, workers, thread_name_prefix="match-worker")]


def campaign_client(settings: MatcherSettings) -> tuple[grpc.Channel, CampaignClient]:
    """The channel to the campaign service (TLS, reconnect options) and the client
    that calls it with the token; the caller closes the channel."""
    channel = open_channel(
        settings.campaigns_target, settings.campaigns_tls, CAMPAIGN_CHANNEL_OPTIONS
    )
    client = CampaignClient(
        channel,
        timeout=settings.campaigns_timeout,
        token=settings.campaigns_auth_token,
        # grpc says only "Socket closed" when the TLS handshake fails: this logs why.
        on_unavailable=(
            HandshakeDiagnosis(
                settings.campaigns_target, settings.campaigns_tls, what="the campaign service"
            )
            if settings.campaigns_tls.enabled
            else None
        ),
    )
    return channel, client


@dataclass(slots=True)
class MatcherServer:
    running: RunningServer | AioRunningServer
    cache: CatalogCache
    channel: grpc.Channel
    subscription: CatalogSubscription | None
    metrics: Metrics
    metrics_server: MetricsServer | None
    _stop_monitor: threading.Event
    _monitor: threading.Thread
    _pools: list[DedicatedPool]

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def drain_seconds(self) -> float:
        return self.running.drain_seconds

    def start_draining(self) -> None:
        """Health NOT_SERVING for good; calls are still served (transport/grpc_server.py)."""
        self._stop_health_monitor()
        self.running.start_draining()

    def _stop_health_monitor(self) -> None:
        self._stop_monitor.set()
        self._monitor.join(timeout=5)

    def stop(self, grace: float | None = None) -> None:
        self._stop_health_monitor()
        if self.subscription is not None:
            self.subscription.stop()
        self.running.stop(grace)
        for pool in self._pools:
            pool.shutdown()
        self.channel.close()
        if self.metrics_server is not None:
            self.metrics_server.close()  # last, so the drain can still be scraped


def start_matcher(
    settings: MatcherSettings,
    store: ServingStore[profile_pb2.Profile],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    timer: Callable[[], float] = time.monotonic,
    before_bind: Callable[[CatalogCache], None] | None = None,
) -> MatcherServer:
    """Starts serving; the store is the caller's (it owns the one client per process).

    Health is SERVING while a catalog is held, however old: a cold start with the
    campaign service down stays NOT_SERVING. `timer` is the catalog cache's clock.
    `before_bind` runs just before the port is bound (a worker of several waits there
    for its first catalog: services/matcher/first_catalog.py).
    """
    # Its own registry per server: tests start many matchers in one process.
    metrics = Metrics(new_registry())
    store = instrument_store(store, metrics)
    # First, so that settings they refuse leave nothing started.
    profile_servicer = ProfileServicer(
        store,
        max_import_streams=settings.max_import_streams,
        import_idle_timeout=settings.import_idle_timeout,
    )
    security = server_security(settings)
    channel, client = campaign_client(settings)
    cache = CatalogCache(
        client,
        ttl=settings.catalog_ttl,
        max_staleness=settings.max_staleness,
        fetch_timeout=settings.campaigns_timeout,
        timer=timer,
        observer=metrics.catalog,
        wall_clock=clock,
    )
    metrics.catalog.set_age_source(lambda: cache.state().age, stale_after=settings.max_staleness)
    matcher_servicer = ProfileMatcherServicer(
        ServeClientConfig(store, cache, clock, document=MessageView),
        MatchDryRun(cache, clock),
    )
    # On the server's general pool, never the match pool: a count can take seconds.
    # Every store wrapper forwards count_audience (StoreWrapper).
    audiences = EstimateAudience(
        cast(AudienceCounts, store),
        cache,
        clock,
        timeout=settings.audience_timeout,
        max_concurrent=settings.max_audience_counts,
    )
    audience_servicer = AudienceServicer(audiences)
    if before_bind is not None:
        try:
            before_bind(cache)
        except BaseException:
            channel.close()
            raise
    pools: list[DedicatedPool] = []
    running: RunningServer | AioRunningServer
    servicers = (matcher_servicer, profile_servicer, audience_servicer)
    if settings.io == IO_AIO:
        running, metrics_server = _start_aio(
            settings,
            security,
            metrics,
            channel,
            servicers,
            holds_catalog=cache.holds_catalog,
            store_writing=write_in_progress(store),
        )
    else:
        running, metrics_server, pools = _start_threaded(
            settings, security, metrics, channel, servicers
        )
    try:
        cache.current(timeout=settings.campaigns_timeout)
    except DependencyUnavailable as exc:
        log.warning("no campaign catalog yet (NOT_SERVING until there is one): %s", exc)
    subscription = None
    if settings.watch_campaigns:
        subscription = CatalogSubscription(
            client.watch, cache, backoff_cap=settings.watch_reconnect_cap
        )
        subscription.start()
    stop_monitor = threading.Event()
    health = _update_health(cache, running, None)
    monitor = threading.Thread(
        target=_monitor_health,
        args=(cache, running, settings.health_interval, stop_monitor, health),
        name="health-monitor",
        daemon=True,
    )
    monitor.start()
    return MatcherServer(
        running, cache, channel, subscription, metrics, metrics_server, stop_monitor, monitor, pools
    )


def _start_aio(
    settings: MatcherSettings,
    security: ServerSecurity,
    metrics: Metrics,
    channel: grpc.Channel,
    servicers: tuple[ProfileMatcherServicer, ProfileServicer, AudienceServicer],
    *,
    holds_catalog: Callable[[], bool],
    store_writing: Callable[[], bool],
) -> tuple[AioRunningServer, MetricsServer | None]:
    """The matcher's services on a grpc.aio server (--io aio, aio_wiring.py)."""
    try:
        running = start_aio_matcher(
            settings,
            security,
            metrics,
            matcher_service=MATCHER_SERVICE,
            service_names=SERVICE_NAMES,
            servicers=servicers,
            holds_catalog=holds_catalog,
            store_writing=store_writing,
        )
    except BaseException:
        channel.close()
        raise
    try:
        metrics_server = serve_metrics(settings.metrics, metrics.registry)
    except BaseException:
        running.stop(0)
        channel.close()
        raise
    return running, metrics_server


def _start_threaded(
    settings: MatcherSettings,
    security: ServerSecurity,
    metrics: Metrics,
    channel: grpc.Channel,
    servicers: tuple[ProfileMatcherServicer, ProfileServicer, AudienceServicer],
) -> tuple[RunningServer, MetricsServer | None, list[DedicatedPool]]:
    """The matcher's services on grpc's thread-pool server (--io threads)."""
    matcher_servicer, profile_servicer, audience_servicer = servicers
    pools = match_pool(settings.match_workers)
    # Metrics before the token check, so its refusals are counted too.
    interceptors = [*pools, MetricsInterceptor(metrics), *security.interceptors]
    server = create_server(settings.server, interceptors)
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(matcher_servicer, server)
    profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(profile_servicer, server)
    audience_service_pb2_grpc.add_AudienceServiceServicer_to_server(audience_servicer, server)
    try:
        running = start_server(
            server, settings.server, SERVICE_NAMES, credentials=security.credentials
        )
        metrics_server = serve_metrics(settings.metrics, metrics.registry)
    except BaseException:
        # Nothing half-started may outlive a failed start (the caller closes the store).
        server.stop(None)
        for pool in pools:
            pool.shutdown()
        channel.close()
        raise
    return running, metrics_server, pools


def _monitor_health(
    cache: CatalogCache,
    running: RunningServer | AioRunningServer,
    interval: float,
    stop: threading.Event,
    health: tuple[bool, bool],
) -> None:
    """`health` is what it was last set to, (serving, stale), so that no change made
    in between is missed."""
    while not stop.wait(interval):
        cache.poke()  # an idle matcher still refreshes, so its catalog does not age out
        health = _update_health(cache, running, health)


def _update_health(
    cache: CatalogCache, running: RunningServer | AioRunningServer, was: tuple[bool, bool] | None
) -> tuple[bool, bool]:
    """Health from the cache's state; `was` and the result are (serving, stale).

    The servers' health follows `serving` alone: a stale catalog is still served, and
    every matcher's catalog ages alike, so turning NOT_SERVING on age would take the
    whole fleet out of rotation at once. Staleness has its own health name.
    """
    state = cache.state()
    now = (state.serving, state.stale)
    if now == was:
        return now
    running.set_serving(state.serving)
    running.health.set(CATALOG_HEALTH, _NOT_SERVING if state.stale else _SERVING)
    if was is None or was[0] != state.serving:
        if state.serving:
            log.info("SERVING with catalog %s", state.version)
        else:
            log.warning("NOT_SERVING: no campaign catalog yet")
    if state.serving and (was is None or was[1] != state.stale):
        if state.stale:
            log.warning(
                "catalog %s is %.0f s old, past --max-staleness, and still served;"
                " health %s: NOT_SERVING",
                state.version,
                state.age,
                CATALOG_HEALTH,
            )
        elif was is not None and was[0]:
            log.info("catalog %s confirmed by the campaign service again", state.version)
    return now
