"""`profile-matcher matcher`: the matcher process."""

from __future__ import annotations

import argparse
import logging

from services.config import add_flag
from services.matcher.server import MatcherSettings, start_matcher
from services.storage.factory import describe_store, open_store
from services.transport.server import ServerOptions, wait_for_signal

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    flags: list[tuple[str, str, object, type, str]] = [
        ("--store", "PROFILE_MATCHER_STORE", "", str,
         "profile store: mongodb://..., a file path for the embedded store, or empty for memory"),
        ("--campaigns", "PROFILE_MATCHER_CAMPAIGNS", "localhost:50052", str,
         "campaign service HOST:PORT"),
        ("--port", "PROFILE_MATCHER_PORT", 50051, int, "port to serve on"),
        ("--host", "PROFILE_MATCHER_HOST", "[::]", str, "address to bind"),
        ("--catalog-ttl", "PROFILE_MATCHER_CATALOG_TTL", 300.0, float,
         "seconds a fetched catalog is served before it is fetched again"),
        ("--timeout", "PROFILE_MATCHER_TIMEOUT", 2.0, float,
         "seconds to wait for MongoDB or the campaign service when a call has no deadline"),
        ("--workers", "PROFILE_MATCHER_WORKERS", 16, int, "gRPC worker threads"),
    ]  # fmt: skip
    for flag, env, default, convert, help_text in flags:
        add_flag(parser, flag, env=env, default=default, convert=convert, help=help_text)


def settings_from(args: argparse.Namespace) -> MatcherSettings:
    return MatcherSettings(
        server=ServerOptions(host=args.host, port=args.port, max_workers=args.workers),
        campaigns_target=args.campaigns,
        catalog_ttl=args.catalog_ttl,
        campaigns_timeout=args.timeout,
    )


def run(args: argparse.Namespace) -> int:
    store = open_store(args.store or None, timeout=args.timeout)
    server = start_matcher(settings_from(args), store)
    log.info(
        "matcher serving on port %d (store: %s, campaigns: %s)",
        server.port,
        describe_store(args.store or None),
        args.campaigns,
    )
    try:
        wait_for_signal([server])
    finally:
        store.close()
    return 0
