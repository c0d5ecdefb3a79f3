"""The campaign process's one wiring point: settings in, a running server out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from profilematcher.campaigns.v1 import campaign_service_pb2_grpc as pb_grpc
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_file
from services.campaigns.holder import CatalogHolder
from services.campaigns.reloader import DEFAULT_POLL_INTERVAL, CatalogReloader, file_signature
from services.campaigns.servicer import SERVICE_NAME, CampaignServiceServicer
from services.observability.campaign_metrics import CampaignMetrics
from services.observability.http import MetricsServer, MetricsSettings, start_metrics_server
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import new_registry
from services.transport.grpc_server import RunningServer, ServerOptions, create_server, start_server
from services.transport.tls import (
    TLSSettings,
    server_credentials,
    service_token_interceptors,
)

DEFAULT_HOST = "[::]"
DEFAULT_PORT = 50052
ENV_CATALOG = "PROFILE_MATCHER_CATALOG"
ENV_PORT = "PROFILE_MATCHER_CAMPAIGNS_PORT"
ENV_HOST = "PROFILE_MATCHER_CAMPAIGNS_HOST"
ENV_POLL_INTERVAL = "PROFILE_MATCHER_CATALOG_POLL_INTERVAL"


class SettingsError(ValueError):
    """The flags and environment do not make a usable configuration."""


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """Everything the campaign process needs.

    Thread budget: the server is synchronous, so every open WatchCampaigns stream
    holds one of `max_workers` threads until it ends. At most `max_watchers` streams
    are admitted (more get RESOURCE_EXHAUSTED) so that `max_workers - max_watchers`
    threads always remain for ListCampaigns, health checks and reflection. Watchers
    are matcher processes (one stream each), so the defaults allow 48 matchers; raise
    both numbers together for a larger fleet.
    """

    catalog: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_workers: int = 64
    max_watchers: int = 48
    grace_seconds: float = 5.0
    # After SIGTERM, how long health says NOT_SERVING while calls are still served.
    drain_seconds: float = 5.0
    tls: TLSSettings = field(default_factory=TLSSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # When set, ListCampaigns and WatchCampaigns need `authorization: Bearer <token>`.
    auth_token: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be within 0..65535, got {self.port}")
        if self.poll_interval <= 0:
            raise SettingsError(f"poll interval must be positive, got {self.poll_interval}")
        for name, seconds in (("drain delay", self.drain_seconds), ("grace", self.grace_seconds)):
            if not seconds >= 0:  # also refuses NaN
                raise SettingsError(f"{name} must be 0 or more seconds, got {seconds:g}")
        if not 0 < self.max_watchers < self.max_workers:
            raise SettingsError(
                f"max_watchers ({self.max_watchers}) must be positive and below "
                f"max_workers ({self.max_workers}), or unary calls would starve"
            )

    @classmethod
    def from_sources(
        cls,
        *,
        catalog: str | os.PathLike[str] | None = None,
        port: int | None = None,
        host: str | None = None,
        poll_interval: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CampaignSettings:
        """Settings from flag values (None: not given), falling back to the environment."""
        env = os.environ if env is None else env
        catalog_path = catalog if catalog is not None else env.get(ENV_CATALOG) or None
        if catalog_path is None:
            raise SettingsError(f"no catalog file: pass --catalog FILE or set {ENV_CATALOG}")
        if port is None and env.get(ENV_PORT):
            try:
                port = int(env[ENV_PORT])
            except ValueError:
                raise SettingsError(
                    f"{ENV_PORT} must be a port number, got {env[ENV_PORT]!r}"
                ) from None
        if host is None:
            host = env.get(ENV_HOST) or None
        if poll_interval is None and env.get(ENV_POLL_INTERVAL):
            try:
                poll_interval = float(env[ENV_POLL_INTERVAL])
            except ValueError:
                raise SettingsError(
                    f"{ENV_POLL_INTERVAL} must be a number of seconds,"
                    f" got {env[ENV_POLL_INTERVAL]!r}"
                ) from None
        return cls(
            catalog=Path(catalog_path),
            port=DEFAULT_PORT if port is None else port,
            host=DEFAULT_HOST if host is None else host,
            poll_interval=DEFAULT_POLL_INTERVAL if poll_interval is None else poll_interval,
        )


@dataclass(slots=True)
class CampaignServer(RunningServer):
    """A running campaign server; `stop` also ends the watch streams and reloading.

    It is a RunningServer so that `services.transport.grpc_server.wait_for_signal` stops
    it like any other server, in the order that lets it stop quickly.
    """

    holder: CatalogHolder
    reloader: CatalogReloader
    servicer: CampaignServiceServicer
    metrics_server: MetricsServer | None = None
    metrics: CampaignMetrics | None = None

    def stop(self, grace: float | None = None) -> None:
        self.set_serving(False)
        self.reloader.stop()
        # Streams end now instead of holding the graceful stop for its whole grace.
        self.holder.close()
        RunningServer.stop(self, grace)
        if self.metrics_server is not None:
            self.metrics_server.close()


def start_campaign_server(settings: CampaignSettings) -> CampaignServer:
    """Loads the catalog, starts serving it and following the file; health SERVING.

    Raises CatalogError (with every problem) when the file cannot be used, and
    OSError when the address cannot be bound; nothing is left running then.
    """
    # The signature is taken before the read, so a change during it is seen later.
    seen = file_signature(settings.catalog)
    holder = CatalogHolder(build_catalog(load_catalog_file(settings.catalog)))
    servicer = CampaignServiceServicer(holder, max_watchers=settings.max_watchers)
    options = ServerOptions(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        grace_seconds=settings.grace_seconds,
        drain_seconds=settings.drain_seconds,
    )
    metrics = CampaignMetrics(
        new_registry(),
        catalog=lambda: _served(holder),
        watchers=lambda: servicer.open_watchers,
    )
    # Metrics before the token check, so its refusals are counted too.
    server = create_server(
        options, [MetricsInterceptor(metrics), *service_token_interceptors(settings.auth_token)]
    )
    pb_grpc.add_CampaignServiceServicer_to_server(servicer, server)
    try:
        running = start_server(
            server, options, [SERVICE_NAME], credentials=server_credentials(settings.tls)
        )
    except BaseException:
        server.stop(None)
        raise
    reloader = CatalogReloader(
        settings.catalog, holder, interval=settings.poll_interval, seen=seen, observer=metrics
    )
    reloader.start()
    campaign_server = CampaignServer(
        server=running.server,
        health=running.health,
        port=running.port,
        service_names=running.service_names,
        grace_seconds=running.grace_seconds,
        drain_seconds=running.drain_seconds,
        holder=holder,
        reloader=reloader,
        servicer=servicer,
        metrics_server=(
            start_metrics_server(settings.metrics.port, metrics.registry, settings.metrics.host)
            if settings.metrics.enabled
            else None
        ),
        metrics=metrics,
    )
    campaign_server.set_serving(True)
    return campaign_server


def _served(holder: CatalogHolder) -> tuple[str, int]:
    catalog = holder.current.catalog
    return catalog.version, len(catalog.campaigns)
