"""`profile-matcher matcher`: the matcher process."""

from __future__ import annotations

import argparse
import logging
import math
import sys

from services.config import add_flag
from services.domain.errors import DependencyUnavailable
from services.matcher.server import (
    EMBEDDED_MATCH_WORKERS,
    WAITING_STORE_MATCH_WORKERS,
    MatcherSettings,
    default_match_workers,
    start_matcher,
)
from services.observability.http import add_metrics_flags, metrics_settings_from
from services.profiles.servicer import IMPORT_IDLE_TIMEOUT, MAX_IMPORT_STREAMS
from services.storage.factory import describe_store, open_store
from services.storage.mongo_store import DEFAULT_INDEX_BUILD_TIMEOUT
from services.transport.call_auth import campaigns_client_token_from_args
from services.transport.security import (
    add_security_flags,
    client_tls_from_args,
    tls_from_args,
    token_from_args,
)
from services.transport.server import ServerOptions, wait_for_signal

log = logging.getLogger(__name__)

# Beyond the store's time limit, what a call needs to send its result after its last
# write: a grace this much longer than --timeout never cancels a call whose write
# committed.
GRACE_MARGIN = 1.0


def configure(parser: argparse.ArgumentParser) -> None:
    flags: list[tuple[str, str, object, type, str]] = [
        ("--store", "PROFILE_MATCHER_STORE", "", str,
         "profile store: mongodb://..., a file path for the embedded store, or empty for memory"),
        ("--campaigns", "PROFILE_MATCHER_CAMPAIGNS", "localhost:50052", str,
         "campaign service HOST:PORT"),
        ("--port", "PROFILE_MATCHER_PORT", 50051, int, "port to serve on"),
        ("--host", "PROFILE_MATCHER_HOST", "[::]", str, "address to bind"),
        ("--catalog-ttl", "PROFILE_MATCHER_CATALOG_TTL", 300.0, float,
         "seconds a fetched catalog counts as fresh (the fallback when the watch stream is down)"),
        ("--max-staleness", "PROFILE_MATCHER_MAX_STALENESS", 3600.0, float,
         "seconds without word from the campaign service before the catalog is reported stale"
         " (still served; health service profilematcher.catalog says NOT_SERVING)"),
        ("--timeout", "PROFILE_MATCHER_TIMEOUT", 2.0, float,
         "longest wait for MongoDB or the campaign service; a caller's deadline shortens it"),
        ("--index-build-timeout", "PROFILE_MATCHER_INDEX_BUILD_TIMEOUT",
         DEFAULT_INDEX_BUILD_TIMEOUT, float,
         "seconds MongoDB may take to build the unique player_id index when it is missing"),
        ("--workers", "PROFILE_MATCHER_WORKERS", 16, int, "gRPC worker threads"),
        ("--match-workers", "PROFILE_MATCHER_MATCH_WORKERS", "auto", str,
         "threads of their own for GetClientConfig, BatchGetClientConfig and MatchProfile,"
         f" apart from the --workers pool; auto: {EMBEDDED_MATCH_WORKERS} with the embedded"
         f" store in memory, else {WAITING_STORE_MATCH_WORKERS}"),
        ("--max-concurrent-rpcs", "PROFILE_MATCHER_MAX_CONCURRENT_RPCS", 256, int,
         "RPCs in flight beyond which new ones get RESOURCE_EXHAUSTED at once"),
        ("--max-message-bytes", "PROFILE_MATCHER_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, int,
         "largest request or response message"),
        ("--max-import-streams", "PROFILE_MATCHER_MAX_IMPORT_STREAMS", MAX_IMPORT_STREAMS, int,
         "ImportProfiles streams at once; more get RESOURCE_EXHAUSTED at once"),
        ("--import-idle-timeout", "PROFILE_MATCHER_IMPORT_IDLE_TIMEOUT", IMPORT_IDLE_TIMEOUT,
         float, "seconds an ImportProfiles stream may send nothing before it is ended"
         " (DEADLINE_EXCEEDED; what it sent before is kept)"),
        ("--drain-delay", "PROFILE_MATCHER_DRAIN_DELAY", 5.0, float,
         "after SIGTERM, seconds health says NOT_SERVING while calls are still served,"
         " so that load balancers stop sending new ones"),
    ]  # fmt: skip
    for flag, env, default, convert, help_text in flags:
        add_flag(parser, flag, env=env, default=default, convert=convert, help=help_text)
    add_flag(
        parser,
        "--grace",
        env="PROFILE_MATCHER_GRACE",
        default=None,
        convert=float,
        help="after the drain, seconds calls in flight get to finish before they are"
        f" cancelled; None: --timeout + {GRACE_MARGIN:g}, so every write can finish",
    )
    add_security_flags(parser)
    add_metrics_flags(parser)


def settings_from(args: argparse.Namespace) -> MatcherSettings:
    """Raises ValueError for settings that do not fit together (named in the message)."""
    token = token_from_args(args)
    tls = tls_from_args(args)
    if token and not tls.enabled:
        log.warning("an auth token is set but TLS is off: the token travels in clear text")
    campaigns_token = campaigns_client_token_from_args(args)
    campaigns_tls = client_tls_from_args(args)
    if campaigns_token and not campaigns_tls.enabled:
        log.warning(
            "a campaigns auth token is set but TLS to the campaign service is off: "
            "the token travels in clear text"
        )
    return MatcherSettings(
        server=ServerOptions(
            host=args.host,
            port=args.port,
            max_workers=args.workers,
            max_concurrent_rpcs=args.max_concurrent_rpcs,
            max_message_bytes=args.max_message_bytes,
            grace_seconds=_grace(args.grace, args.timeout),
            drain_seconds=_not_negative("--drain-delay", args.drain_delay),
        ),
        campaigns_target=args.campaigns,
        catalog_ttl=args.catalog_ttl,
        max_staleness=args.max_staleness,
        campaigns_timeout=args.timeout,
        tls=tls,
        campaigns_tls=campaigns_tls,
        auth_token=token,
        public_reads=args.public_reads,
        allow_unauthenticated_writes=args.allow_unauthenticated_writes,
        campaigns_auth_token=campaigns_token,
        metrics=metrics_settings_from(args),
        match_workers=_match_workers(args.match_workers, args.store),
        max_import_streams=_at_least_one("--max-import-streams", args.max_import_streams),
        import_idle_timeout=_positive("--import-idle-timeout", args.import_idle_timeout),
    )


def _grace(grace: float | None, timeout: float) -> float:
    if grace is None:
        return timeout + GRACE_MARGIN
    if _not_negative("--grace", grace) < timeout:
        log.warning(
            "--grace (%g s) is shorter than --timeout (%g s): a call still writing at"
            " shutdown can be cancelled after its write committed",
            grace,
            timeout,
        )
    return grace


def _not_negative(flag: str, seconds: float) -> float:
    if not seconds >= 0:  # also refuses NaN
        raise ValueError(f"{flag}: must be 0 or more seconds, got {seconds:g}")
    return seconds


def _match_workers(raw: str, store: str) -> int:
    if raw.strip().lower() == "auto":
        return default_match_workers(store)
    try:
        workers = int(raw)
    except ValueError:
        raise ValueError(f"--match-workers: want a number or auto, got {raw!r}") from None
    return _at_least_one("--match-workers", workers)


def _at_least_one(flag: str, value: int) -> int:
    if value < 1:
        raise ValueError(f"{flag}: must be at least 1, got {value}")
    return value


def _positive(flag: str, value: float) -> float:
    if not value > 0:  # also refuses nan
        raise ValueError(f"{flag}: must be more than 0 seconds, got {value:g}")
    return value


def _index_build_timeout(seconds: float) -> float:
    if not 0 < seconds < math.inf:
        raise ValueError(f"--index-build-timeout: must be more than 0 seconds, got {seconds}")
    return seconds


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        store = open_store(
            args.store or None,
            timeout=args.timeout,
            index_build_timeout=_index_build_timeout(args.index_build_timeout),
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
        describe_store(args.store or None),
        args.campaigns,
    )
    try:
        wait_for_signal([server])
    finally:
        store.close()
    return 0
