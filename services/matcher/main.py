"""`profile-matcher matcher`: the matcher process: flags, settings, start, wait."""

from __future__ import annotations

import argparse
import logging
import sys

from services.domain.errors import DependencyUnavailable
from services.matcher.bootstrap import start_matcher
from services.matcher.settings import MatcherSettings, add_flags
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
        store = open_store(
            settings.store or None,
            timeout=settings.store_timeout,
            index_build_timeout=settings.index_build_timeout,
            audience_read_preference=settings.audience_read_preference,
        )
    except (ValueError, DependencyUnavailable) as exc:
        print(f"profile-matcher matcher: {exc}", file=sys.stderr)
        return 2
    try:
        server = start_matcher(settings, store)
    except OSError as exc:
        store.close()
        print(f"profile-matcher matcher: {exc}", file=sys.stderr)
        return 1
    log.info(
        "matcher serving on port %d (store: %s, campaigns: %s)",
        server.port,
        describe_store(settings.store or None),
        settings.campaigns_target,
    )
    try:
        wait_for_signal([server])
    finally:
        store.close()
    return 0
