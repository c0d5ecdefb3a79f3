"""The matcher process's settings: one frozen object, and the one place that parses it
from flags and environment (`add_flags`, `MatcherSettings.from_args`)."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field

from services.config import add_flag
from services.matcher.audience import DEFAULT_AUDIENCE_TIMEOUT, DEFAULT_MAX_AUDIENCE_COUNTS
from services.matcher.catalog_subscription import RECONNECT_CAP
from services.matcher.security_flags import (
    add_security_flags,
    campaigns_client_token_from_args,
    client_tls_from_args,
    token_from_args,
)
from services.observability.http import MetricsSettings
from services.processes.cpus import parse_processes
from services.processes.hangs import DEFAULT_HANG_SECONDS, parse_hang_seconds
from services.profiles.servicer import IMPORT_IDLE_TIMEOUT, MAX_IMPORT_STREAMS
from services.server_flags import (
    add_metrics_flags,
    metrics_settings_from,
    tls_from_args,
    warn_if_token_in_clear,
)
from services.storage.mongo_audience import (
    DEFAULT_READ_PREFERENCE,
    READ_PREFERENCES,
    read_preference_named,
)
from services.transport.grpc_server import ServerOptions
from services.transport.tls import ClientTLSSettings, TLSSettings

log = logging.getLogger(__name__)

# ProfileMatcherService (the read path: GetClientConfig, the batch, MatchProfile)
# always runs on threads of its own, so that nothing else the server runs, streams
# above all, can take every thread it needs. How many depends on the store.
# The embedded store in memory never makes a call wait on anything but the GIL: a
# second thread would only hand the GIL around, so one serves them best
# (services/transport/pools.py).
EMBEDDED_MATCH_WORKERS = 1
# A file can page in from disk or wait for another process's write lock, and MongoDB
# is a network away: while one call waits, others must be able to run, or one slow
# read would hold up every call behind it. Bounded all the same, so that a stalled
# store cannot take the threads of the rest of the server.
WAITING_STORE_MATCH_WORKERS = 8
# Beyond the store's time limit, what a call needs to send its result after its last
# write: a grace this much longer than --timeout never cancels a call whose write
# committed.
GRACE_MARGIN = 1.0


# How the matcher serves (--io): "aio", one event loop (grpc.aio); "threads", grpc's
# thread-pool server. Both serve the same services with the same behaviour.
IO_AIO = "aio"
IO_THREADS = "threads"
IO_MODES = (IO_AIO, IO_THREADS)
DEFAULT_IO = IO_AIO


def store_in_memory(store: str | None) -> bool:
    """Whether a store URI names the embedded store in memory, whose reads never wait
    on anything but the GIL (the aio server runs them inline on its loop)."""
    return store in (None, "", ":memory:")


def default_match_workers(store: str | None) -> int:
    """MatcherSettings.match_workers for a store URI (empty: the in-memory store)."""
    return EMBEDDED_MATCH_WORKERS if store_in_memory(store) else WAITING_STORE_MATCH_WORKERS


@dataclass(frozen=True, slots=True)
class MatcherSettings:
    server: ServerOptions = field(default_factory=lambda: ServerOptions(port=50051))
    # The profile store: mongodb://..., a file for the embedded store, or empty for
    # memory. The process opens it (services/storage/factory.py) and hands it over.
    store: str = ""
    # Longest wait for one store call.
    store_timeout: float = 2.0
    campaigns_target: str = "localhost:50052"
    catalog_ttl: float = 300.0
    # Past this age without word from the campaign service, the catalog is reported
    # stale (log, metric, health name CATALOG_HEALTH); it is still served.
    max_staleness: float = 3600.0
    campaigns_timeout: float = 2.0
    watch_campaigns: bool = True
    # Longest pause between attempts to reopen the watch stream (catalog_subscription.py).
    watch_reconnect_cap: float = RECONNECT_CAP
    health_interval: float = 1.0
    tls: TLSSettings = field(default_factory=TLSSettings)
    campaigns_tls: ClientTLSSettings = field(default_factory=ClientTLSSettings)
    # When set, every RPC but health and reflection needs `authorization: Bearer
    # <token>`; with public_reads, only ProfileService's writes do.
    auth_token: str | None = None
    public_reads: bool = False
    # Without a token, ProfileService's writes are refused unless this is set.
    allow_unauthenticated_writes: bool = False
    # Sent to the campaign service on every call, when it wants one.
    campaigns_auth_token: str | None = None
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # Threads of their own for ProfileMatcherService's calls (default_match_workers);
    # 0 runs them on the server's pool, which only benchmarks' baselines do.
    match_workers: int = WAITING_STORE_MATCH_WORKERS
    # ImportProfiles streams at once (more are refused with RESOURCE_EXHAUSTED), and
    # seconds a stream may send nothing before it is ended with DEADLINE_EXCEEDED.
    max_import_streams: int = MAX_IMPORT_STREAMS
    import_idle_timeout: float = IMPORT_IDLE_TIMEOUT
    # The longest an EstimateAudience count may take (a caller's deadline shortens it),
    # and where MongoDB runs counts (services/storage/mongo_audience.py).
    audience_timeout: float = DEFAULT_AUDIENCE_TIMEOUT
    audience_read_preference: str = DEFAULT_READ_PREFERENCE
    # EstimateAudience counts at once in this process; more get RESOURCE_EXHAUSTED.
    max_audience_counts: int = DEFAULT_MAX_AUDIENCE_COUNTS
    # Worker processes serving the port together (services/processes/supervisor.py);
    # 1 serves from this process, as always.
    processes: int = 1
    # With processes: how long a serving worker may go without answering its own health
    # check before it is replaced (0: never; services/processes/hangs.py, liveness.py).
    worker_hang_seconds: float = DEFAULT_HANG_SECONDS
    # IO_AIO or IO_THREADS (services/matcher/aio_wiring.py, bootstrap.py).
    io: str = DEFAULT_IO

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MatcherSettings:
        """Raises ValueError for settings that do not fit together (named in the message)."""
        token = token_from_args(args)
        tls = tls_from_args(args)
        warn_if_token_in_clear(token, tls.enabled, "an auth token")
        campaigns_token = campaigns_client_token_from_args(args)
        campaigns_tls = client_tls_from_args(args)
        warn_if_token_in_clear(campaigns_token, campaigns_tls.enabled, "a campaigns auth token")
        _warn_if_index_build_timeout_set(args.index_build_timeout)
        return cls(
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
            store=args.store,
            store_timeout=args.timeout,
            audience_timeout=_positive("--audience-timeout", args.audience_timeout),
            audience_read_preference=_read_preference(args.audience_read_preference),
            max_audience_counts=_at_least_one("--max-audience-counts", args.max_audience_counts),
            processes=_processes(args.processes, args.store),
            worker_hang_seconds=parse_hang_seconds(
                "--worker-hang-seconds", args.worker_hang_seconds
            ),
            io=_io(args.io),
        )


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Every flag of `profile-matcher matcher`, each defaulting to its variable."""
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
        ("--index-build-timeout", "PROFILE_MATCHER_INDEX_BUILD_TIMEOUT", None, str,
         "deprecated, does nothing but log a warning (accepted so deployments that set it"
         " still start): the player id is MongoDB's _id, so no index is built"),
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
        ("--audience-timeout", "PROFILE_MATCHER_AUDIENCE_TIMEOUT", DEFAULT_AUDIENCE_TIMEOUT,
         float, "longest an EstimateAudience count may take (a scan reads every profile);"
         " a caller's deadline shortens it"),
        ("--max-audience-counts", "PROFILE_MATCHER_MAX_AUDIENCE_COUNTS",
         DEFAULT_MAX_AUDIENCE_COUNTS, int,
         "EstimateAudience counts running at once in one process (each reads every"
         " profile); more are refused with RESOURCE_EXHAUSTED"),
        ("--io", "PROFILE_MATCHER_IO", DEFAULT_IO, str,
         f"how to serve: {IO_AIO}, one event loop (grpc.aio; the in-memory store read on it,"
         f" any other through --match-workers threads), or {IO_THREADS}, grpc's thread pool"),
        ("--audience-read-preference", "PROFILE_MATCHER_AUDIENCE_READ_PREFERENCE",
         DEFAULT_READ_PREFERENCE, str,
         "where MongoDB runs EstimateAudience counts: " + ", ".join(READ_PREFERENCES)
         + " (secondaryPreferred keeps them off the primary)"),
        ("--processes", "PROFILE_MATCHER_PROCESSES", "1", str,
         "worker processes serving the port together (SO_REUSEPORT), each a whole"
         " matcher; auto: the CPUs this process may use (affinity, cgroup CPU limit)."
         " Above 1 the store must be a file or MongoDB"),
        ("--worker-hang-seconds", "PROFILE_MATCHER_WORKER_HANG_SECONDS", DEFAULT_HANG_SECONDS,
         float, "with --processes above 1: seconds a serving worker may go without its"
         " server answering a health check of its own before it is killed and started"
         " again; 0: never"),
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


def _processes(raw: str, store: str) -> int:
    processes = parse_processes("--processes", raw)
    if processes > 1 and store_in_memory(store):
        raise ValueError(
            f"--processes {processes}: the in-memory store lives inside one process;"
            " give --store a file (every worker opens it) or a mongodb:// URI"
        )
    return processes


def _at_least_one(flag: str, value: int) -> int:
    if value < 1:
        raise ValueError(f"{flag}: must be at least 1, got {value}")
    return value


def _positive(flag: str, value: float) -> float:
    if not value > 0:  # also refuses nan
        raise ValueError(f"{flag}: must be more than 0 seconds, got {value:g}")
    return value


def _io(mode: str) -> str:
    if mode not in IO_MODES:
        raise ValueError(f"--io: want one of {', '.join(IO_MODES)}, got {mode!r}")
    return mode


def _read_preference(name: str) -> str:
    try:
        read_preference_named(name)
    except ValueError as exc:
        raise ValueError(f"--audience-read-preference: {exc}") from None
    return name


def _warn_if_index_build_timeout_set(value: str | None) -> None:
    if value is not None:
        log.warning(
            "--index-build-timeout (PROFILE_MATCHER_INDEX_BUILD_TIMEOUT) is deprecated and"
            " does nothing: the player id is MongoDB's _id, so no index is built; drop it"
        )
