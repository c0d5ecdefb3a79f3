"""`profile-matcher campaigns`: serve a catalog file until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import sys

from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.errors import CatalogError
from services.campaigns.settings import CampaignSettings, add_flags
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
        server = start_campaign_server(settings)
    except ValueError as exc:  # SettingsError too
        print(f"profile-matcher campaigns: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except CatalogError as exc:
        print(
            f"profile-matcher campaigns: the catalog cannot be served "
            f"({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}):",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except OSError as exc:
        print(f"profile-matcher campaigns: {exc}", file=sys.stderr)
        return EXIT_CANNOT_BIND
    snapshot = server.served.current
    log.info(
        "CampaignService ready on %s:%d, catalog %s version %s (%d campaigns)",
        settings.host,
        server.port,
        settings.catalog,
        snapshot.catalog.version,
        len(snapshot.catalog.campaigns),
    )
    wait_for_signal([server])
    log.info("CampaignService stopped")
    return 0
