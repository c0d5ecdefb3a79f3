"""`profile-matcher campaigns`: serve a catalog file until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from services.campaigns.bootstrap import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENV_CATALOG,
    ENV_HOST,
    ENV_POLL_INTERVAL,
    ENV_PORT,
    CampaignSettings,
    SettingsError,
    start_campaign_server,
)
from services.campaigns.catalog_file import CatalogError
from services.campaigns.reloader import DEFAULT_POLL_INTERVAL
from services.config import add_flag
from services.observability.http import add_metrics_flags, metrics_settings_from
from services.transport.call_auth import (
    add_campaign_service_auth_flags,
    campaign_service_token_from_args,
)
from services.transport.grpc_server import wait_for_signal
from services.transport.tls import add_server_tls_flags, tls_from_args

log = logging.getLogger(__name__)

EXIT_BAD_CONFIG = 2
EXIT_CANNOT_BIND = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve a campaign catalog file over gRPC (CampaignService, health, reflection), "
        "reloading it whenever it changes."
    )
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help=f"catalog file: a JSON list of campaigns, or one campaign (env {ENV_CATALOG})",
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"port to listen on; 0 picks a free one (env {ENV_PORT}, default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host", help=f"address to listen on (env {ENV_HOST}, default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        metavar="SECONDS",
        help="how often to check the catalog file for changes"
        f" (env {ENV_POLL_INTERVAL}, default {DEFAULT_POLL_INTERVAL})",
    )
    add_flag(
        parser,
        "--drain-delay",
        env="PROFILE_MATCHER_CAMPAIGNS_DRAIN_DELAY",
        default=5.0,
        convert=float,
        help="after SIGTERM, seconds health says NOT_SERVING while calls"
        " are still served, so that load balancers stop sending new ones",
    )
    add_flag(
        parser,
        "--grace",
        env="PROFILE_MATCHER_CAMPAIGNS_GRACE",
        default=5.0,
        convert=float,
        help="after the drain, seconds calls in flight get to finish",
    )
    add_server_tls_flags(parser)
    add_campaign_service_auth_flags(parser)
    add_metrics_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Serves until a signal; 2 for a bad configuration or catalog, 1 if the port is taken."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        settings = dataclasses.replace(
            CampaignSettings.from_sources(
                catalog=args.catalog,
                port=args.port,
                host=args.host,
                poll_interval=args.poll_interval,
            ),
            tls=tls_from_args(args),
            metrics=metrics_settings_from(args),
            auth_token=campaign_service_token_from_args(args),
            drain_seconds=args.drain_delay,
            grace_seconds=args.grace,
        )
        if settings.auth_token and not settings.tls.enabled:
            log.warning("an auth token is set but TLS is off: the token travels in clear text")
        server = start_campaign_server(settings)
    except (SettingsError, ValueError) as exc:
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
    snapshot = server.holder.current
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
