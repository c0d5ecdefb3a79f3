"""The campaign process's one wiring point: settings in, a running server out."""

from __future__ import annotations

from dataclasses import dataclass

from profilematcher.campaigns.v1 import campaign_service_pb2_grpc as pb_grpc
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_parts
from services.campaigns.file_watcher import CatalogFileWatcher, file_signature
from services.campaigns.served_catalog import ServedCatalog
from services.campaigns.servicer import SERVICE_NAME, CampaignServiceServicer
from services.campaigns.settings import CampaignSettings
from services.observability.campaign_metrics import CampaignMetrics
from services.observability.http import MetricsServer, serve_metrics
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import new_registry
from services.transport.auth import token_interceptors
from services.transport.grpc_server import (
    RunningServer,
    ServerOptions,
    ServerSecurity,
    create_server,
    start_server,
)
from services.transport.tls import server_credentials


def server_security(settings: CampaignSettings) -> ServerSecurity:
    """The campaign server's credentials (None: plaintext) and, with a token, the
    interceptor that wants it on every method but health and reflection (the service
    has no writes to set apart). Raises ValueError for an unusable TLS file or token."""
    return ServerSecurity(
        credentials=server_credentials(settings.tls),
        interceptors=token_interceptors(settings.auth_token),
    )


@dataclass(slots=True)
class CampaignServer(RunningServer):
    """A running campaign server, with the catalog it serves and the watcher of its
    file; `stop` also ends the watch streams and the watching, so that it stops quickly."""

    served: ServedCatalog
    file_watcher: CatalogFileWatcher
    servicer: CampaignServiceServicer
    metrics_server: MetricsServer | None = None
    metrics: CampaignMetrics | None = None

    def stop(self, grace: float | None = None) -> None:
        self.set_serving(False)
        self.file_watcher.stop()
        # Streams end now instead of holding the graceful stop for its whole grace.
        self.served.close()
        RunningServer.stop(self, grace)
        if self.metrics_server is not None:
            self.metrics_server.close()


def start_campaign_server(settings: CampaignSettings) -> CampaignServer:
    """Loads the catalog, starts serving it and following the file; health SERVING.

    Raises CatalogError (with every problem) when the file cannot be used, and
    OSError when the address cannot be bound; nothing is left running then.
    """
    security = server_security(settings)
    # The signature is taken before the read, so a change during it is seen later.
    seen = file_signature(settings.catalog)
    served = ServedCatalog(build_catalog(*load_catalog_parts(settings.catalog)))
    servicer = CampaignServiceServicer(served, max_watchers=settings.max_watchers)
    options = ServerOptions(
        host=settings.host,
        port=settings.port,
        max_workers=settings.max_workers,
        grace_seconds=settings.grace_seconds,
        drain_seconds=settings.drain_seconds,
        reuse_port=settings.reuse_port,
        probe_address=settings.probe_address,
    )
    metrics = CampaignMetrics(
        new_registry(),
        catalog=lambda: _served(served),
        watchers=lambda: servicer.open_watchers,
    )
    # Metrics before the token check, so its refusals are counted too.
    server = create_server(options, [MetricsInterceptor(metrics), *security.interceptors])
    pb_grpc.add_CampaignServiceServicer_to_server(servicer, server)
    try:
        running = start_server(server, options, [SERVICE_NAME], credentials=security.credentials)
        metrics_server = serve_metrics(settings.metrics, metrics.registry)
    except BaseException:
        server.stop(None)
        raise
    file_watcher = CatalogFileWatcher(
        settings.catalog, served, interval=settings.poll_interval, seen=seen, observer=metrics
    )
    file_watcher.start()
    campaign_server = CampaignServer(
        server=running.server,
        health=running.health,
        port=running.port,
        service_names=running.service_names,
        grace_seconds=running.grace_seconds,
        drain_seconds=running.drain_seconds,
        served=served,
        file_watcher=file_watcher,
        servicer=servicer,
        metrics_server=metrics_server,
        metrics=metrics,
    )
    campaign_server.set_serving(True)
    return campaign_server


def _served(served: ServedCatalog) -> tuple[str, int]:
    catalog = served.current.catalog
    return catalog.version, len(catalog.campaigns)
