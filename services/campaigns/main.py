"""`profile-matcher campaigns`: serve a catalog file until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable

from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import load_catalog_parts
from services.campaigns.errors import CatalogError
from services.campaigns.settings import CampaignSettings, add_flags
from services.observability.http import MetricsSettings
from services.processes.serving import serve_in_processes
from services.processes.worker import WorkerStart
from services.transport.grpc_server import wait_for_signal

log = logging.getLogger(__name__)

EXIT_BAD_CONFIG = 2
EXIT_CANNOT_BIND = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve a campaign catalog file over gRPC (CampaignService, health, reflection), "
        "reloading it whenever it changes."
    )
    add_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Serves until a signal; 2 for a bad configuration or catalog, 1 if the port is taken."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        settings = CampaignSettings.from_args(args)
        if settings.processes > 1:
            # Refused once here rather than once by every worker.
            build_catalog(*load_catalog_parts(settings.catalog))
    except (ValueError, CatalogError) as exc:  # SettingsError too
        return _refused(exc)
    if settings.processes > 1:
        return serve_in_processes(
            "campaigns",
            settings,
            processes=settings.processes,
            host=settings.host,
            port=settings.port,
            metrics=settings.metrics,
            for_worker=_worker_settings,
            serve=serve,
            hang_seconds=settings.worker_hang_seconds,
        )
    return serve(settings)


def _worker_settings(settings: CampaignSettings, worker: WorkerStart) -> CampaignSettings:
    """Serving the catalog and following its file, on the shared port. It loads the
    catalog before it binds (bootstrap), so it serves from its first connection."""
    return dataclasses.replace(
        settings,
        processes=1,
        port=worker.port,
        reuse_port=True,
        probe_address=worker.probe_address,
        metrics=MetricsSettings(),
    )


def _refused(exc: ValueError | CatalogError) -> int:
    if isinstance(exc, CatalogError):
        print(
            f"profile-matcher campaigns: the catalog cannot be served "
            f"({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}):",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        print(f"profile-matcher campaigns: {exc}", file=sys.stderr)
    return EXIT_BAD_CONFIG


def serve(settings: CampaignSettings, ready: Callable[[], None] | None = None) -> int:
    """One campaign server in this process; `ready` runs once it serves and handles
    signals."""
    try:
        server = start_campaign_server(settings)
    except (ValueError, CatalogError) as exc:
        return _refused(exc)
    except OSError as exc:
        print(f"profile-matcher campaigns: {exc}", file=sys.stderr)
        return EXIT_CANNOT_BIND
    snapshot = server.served.current

    def announce() -> None:
        log.info(
            "CampaignService ready on %s:%d, catalog %s version %s (%d campaigns)",
            settings.host,
            server.port,
            settings.catalog,
            snapshot.catalog.version,
            len(snapshot.catalog.campaigns),
        )
        if ready is not None:
            ready()

    wait_for_signal([server], ready=announce)
    log.info("CampaignService stopped")
    return 0
