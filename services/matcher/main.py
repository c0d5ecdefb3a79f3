"""`profile-matcher matcher`: the matcher process: flags, settings, start, wait."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import sys
from collections.abc import Callable

from services.domain.errors import DependencyUnavailable
from services.matcher.bootstrap import start_matcher
from services.matcher.catalog_cache import CatalogCache
from services.matcher.first_catalog import hold_first_catalog
from services.matcher.settings import MatcherSettings, add_flags
from services.observability.http import MetricsSettings
from services.processes.serving import serve_in_processes
from services.processes.worker import WorkerStart
from services.storage.factory import describe_store, open_store
from services.transport.grpc_server import wait_for_signal

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    add_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Serves until a signal; 2 for bad settings or an unusable store, 1 if the port
    cannot be bound."""
    try:
        settings = MatcherSettings.from_args(args)
    except ValueError as exc:
        print(f"profile-matcher matcher: {exc}", file=sys.stderr)
        return 2
    if settings.processes > 1:
        return serve_in_processes(
            "matcher",
            settings,
            processes=settings.processes,
            host=settings.server.host,
            port=settings.server.port,
            metrics=settings.metrics,
            for_worker=_worker_settings,
            serve=_serve_worker,
            hang_seconds=settings.worker_hang_seconds,
        )
    return serve(settings)


def _worker_settings(settings: MatcherSettings, worker: WorkerStart) -> MatcherSettings:
    """A whole matcher with its own store client, on the shared port."""
    return dataclasses.replace(
        settings,
        processes=1,
        server=dataclasses.replace(
            settings.server,
            port=worker.port,
            reuse_port=True,
            probe_address=worker.probe_address,
        ),
        metrics=MetricsSettings(),
    )


def _serve_worker(settings: MatcherSettings, ready: Callable[[], None]) -> int:
    """Bound only once it holds a catalog, so it is SERVING when `ready` runs."""
    hold = functools.partial(hold_first_catalog, timeout=settings.campaigns_timeout)
    return serve(settings, ready, before_bind=hold)


def serve(
    settings: MatcherSettings,
    ready: Callable[[], None] | None = None,
    before_bind: Callable[[CatalogCache], None] | None = None,
) -> int:
    """One matcher in this process; `ready` runs once it serves and handles signals,
    `before_bind` just before it binds its port (bootstrap.start_matcher)."""
    try:
        store = open_store(
            settings.store or None,
            timeout=settings.store_timeout,
            audience_read_preference=settings.audience_read_preference,
        )
    except (ValueError, DependencyUnavailable) as exc:
        print(f"profile-matcher matcher: {exc}", file=sys.stderr)
        return 2
    try:
        server = start_matcher(settings, store, before_bind=before_bind)
    except OSError as exc:
        store.close()
        print(f"profile-matcher matcher: {exc}", file=sys.stderr)
        return 1

    def announce() -> None:
        log.info(
            "matcher serving on port %d (store: %s, campaigns: %s)",
            server.port,
            describe_store(settings.store or None),
            settings.campaigns_target,
        )
        if ready is not None:
            ready()

    try:
        wait_for_signal([server], ready=announce)
    finally:
        store.close()
    return 0
