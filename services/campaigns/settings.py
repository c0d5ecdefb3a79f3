"""The campaign process's settings: one frozen object, and the one place that parses
it from flags and environment (`add_flags`, `CampaignSettings.from_args`)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from services.campaigns.file_watcher import DEFAULT_POLL_INTERVAL
from services.config import add_flag
from services.observability.http import MetricsSettings
from services.processes.cpus import parse_processes
from services.processes.hangs import DEFAULT_HANG_SECONDS, parse_hang_seconds
from services.server_flags import (
    CAMPAIGNS_TOKEN_ENV,
    add_metrics_flags,
    add_server_tls_flags,
    add_token_flags,
    metrics_settings_from,
    read_token,
    tls_from_args,
    warn_if_token_in_clear,
)
from services.transport.tls import TLSSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_HOST = "[::]"
DEFAULT_PORT = 50052
ENV_CATALOG = "PROFILE_MATCHER_CATALOG"
ENV_PORT = "PROFILE_MATCHER_CAMPAIGNS_PORT"
ENV_HOST = "PROFILE_MATCHER_CAMPAIGNS_HOST"
ENV_POLL_INTERVAL = "PROFILE_MATCHER_CATALOG_POLL_INTERVAL"
ENV_PROCESSES = "PROFILE_MATCHER_CAMPAIGNS_PROCESSES"
ENV_WORKER_HANG_SECONDS = "PROFILE_MATCHER_CAMPAIGNS_WORKER_HANG_SECONDS"


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
    # Worker processes serving the port together (services/processes/supervisor.py),
    # and whether this server binds with SO_REUSEPORT (set in each of those workers).
    processes: int = 1
    reuse_port: bool = False
    # With processes: how long a serving worker may go without answering its own
    # health check before it is replaced (0: never), and in each worker, where it
    # answers it (services/processes/hangs.py, liveness.py).
    worker_hang_seconds: float = DEFAULT_HANG_SECONDS
    probe_address: str | None = None

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
        if port is None:
            port = _from_env(env, ENV_PORT, int, "a port number")
        if host is None:
            host = env.get(ENV_HOST) or None
        if poll_interval is None:
            poll_interval = _from_env(env, ENV_POLL_INTERVAL, float, "a number of seconds")
        return cls(
            catalog=Path(catalog_path),
            port=DEFAULT_PORT if port is None else port,
            host=DEFAULT_HOST if host is None else host,
            poll_interval=DEFAULT_POLL_INTERVAL if poll_interval is None else poll_interval,
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CampaignSettings:
        """Raises SettingsError or ValueError, naming the problem, for unusable ones."""
        settings = dataclasses.replace(
            cls.from_sources(
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
            processes=parse_processes("--processes", args.processes),
            worker_hang_seconds=parse_hang_seconds(
                "--worker-hang-seconds", args.worker_hang_seconds
            ),
        )
        warn_if_token_in_clear(settings.auth_token, settings.tls.enabled, "an auth token")
        return settings


def _from_env(
    env: Mapping[str, str], name: str, convert: Callable[[str], T], what: str
) -> T | None:
    """$name converted, None when it is unset or empty."""
    raw = env.get(name)
    if not raw:
        return None
    try:
        return convert(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Every flag of `profile-matcher campaigns`."""
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
    add_flag(
        parser,
        "--processes",
        env=ENV_PROCESSES,
        default="1",
        convert=str,
        help="worker processes serving the port together (SO_REUSEPORT), each with the"
        " catalog and its own watcher of the file; auto: the CPUs this process may use",
    )
    add_flag(
        parser,
        "--worker-hang-seconds",
        env=ENV_WORKER_HANG_SECONDS,
        default=DEFAULT_HANG_SECONDS,
        convert=float,
        help="with --processes above 1: seconds a serving worker may go without its server"
        " answering a health check of its own before it is killed and started again;"
        " 0: never",
    )
    add_server_tls_flags(parser)
    add_campaign_service_auth_flags(parser)
    add_metrics_flags(parser)


def add_campaign_service_auth_flags(parser: argparse.ArgumentParser) -> None:
    """`profile-matcher campaigns --auth-token(-file)`."""
    add_token_flags(
        parser,
        flag="auth-token",
        env=CAMPAIGNS_TOKEN_ENV,
        purpose="shared secret that ListCampaigns and WatchCampaigns require as "
        "'authorization: Bearer <token>' (health and reflection stay open)",
    )


def campaign_service_token_from_args(args: argparse.Namespace) -> str | None:
    return read_token(args.auth_token, args.auth_token_file, "auth-token")
