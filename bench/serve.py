"""Servers under test for the end-to-end benchmarks, each in its own process.

    python -m bench.serve matcher --port 50061 --players 100000 [--io aio|threads]
    python -m bench.serve echo --port 50062 --response FILE [--io aio|threads]
    python -m bench.serve bare-aio --port 50064 --response FILE

`matcher` is the real thing (demo catalog, embedded store in memory, seeded), on the
server --io names. `echo` is our plumbing: the same server as the matcher's (the
same options, pools, interceptors or aio wrapping; --layers picks which of them)
answering GetClientConfig with a prebuilt response, the matcher's own answer for the
sample player (--response, which bench/e2e.py fetches from the matcher first), so the
difference between the two is what matching and storage cost. `bare-sync` and
`bare-aio` have nothing of ours (bench/bare.py). `floor` is a lower bound for any
matcher on this stack, not a design to ship: see FloorServicer.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc

from bench.bare import BareServicer, serve_bare_aio, serve_bare_sync
from bench.layers import (
    ALL_LAYERS,
    SERVED_LAYERS,
    start_aio_echo,
    start_aio_servicer,
    sync_layers,
)
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.campaigns.bootstrap import CampaignServer, start_campaign_server
from services.campaigns.demo import write_demo_catalog
from services.campaigns.settings import CampaignSettings
from services.codecs.profile_message import profile_to_message, serving_record
from services.codecs.profile_view import MessageView
from services.codecs.struct_value import json_from_value
from services.demo.players import generate_players, sample_profile
from services.domain.profile_json import profile_from_document
from services.matcher.assignment_messages import AssignmentEncoder
from services.matcher.bootstrap import SERVICE_NAMES, MatcherServer, match_pool, start_matcher
from services.matcher.campaign_client import CampaignClient
from services.matcher.catalog_cache import CatalogCache
from services.matcher.settings import (
    EMBEDDED_MATCH_WORKERS,
    IO_AIO,
    IO_MODES,
    IO_THREADS,
    MatcherSettings,
)
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import Metrics, new_registry
from services.profiles.import_profiles import import_profiles
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.aio_server import AioRunningServer
from services.transport.grpc_server import (
    RunningServer,
    ServerOptions,
    create_server,
    start_server,
    wait_for_signal,
)
from services.transport.status import mapped_errors, time_left

SAMPLE_PLAYER = str(sample_profile()["player_id"])


class _SingleCallServicer(matcher_service_pb2_grpc.ProfileMatcherServiceServicer):
    """The baselines answer GetClientConfig only."""

    def BatchGetClientConfig(  # noqa: N802
        self, request: pb.BatchGetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetClientConfigResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this baseline answers GetClientConfig")

    def MatchProfile(  # noqa: N802
        self, request: pb.MatchProfileRequest, context: grpc.ServicerContext
    ) -> pb.MatchProfileResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this baseline answers GetClientConfig")


class EchoServicer(_SingleCallServicer, BareServicer):
    """The bare echo's answer, refusing the other RPCs as the floor does."""


class FloorServicer(_SingleCallServicer):
    """The least a GetClientConfig can do on this stack: a lower bound, not a design.

    Like the matcher it reads the player's row from an in-memory SQLite database
    through a connection per worker thread, times that read into the same store
    histogram, takes the catalog from the same CatalogCache (fed by a real campaign
    service), parses the stored Profile message in C and matches with the same
    compiled engine. It does it all inline, in one method: no use case, no store
    interface or metrics wrapper, no checks that the row is the player's, and custom
    fields stored inside the message instead of beside it as exact JSON. Nothing it
    skips can be made cheaper than skipping it, so its throughput beside the echo's
    bounds what any matcher built on these parts (gRPC's threaded server, sqlite3)
    can reach.
    """

    def __init__(self, database: str, cache: CatalogCache, metrics: Metrics) -> None:
        self._database = database
        self._cache = cache
        self._read_seconds = metrics.store_seconds.labels(operation="get_many")
        self._local = threading.local()
        self._assignments = AssignmentEncoder()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(
                self._database, uri=True, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA read_uncommitted = true")
        return conn

    @mapped_errors
    def GetClientConfig(  # noqa: N802
        self, request: pb.GetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetClientConfigResponse:
        catalog = self._cache.current(timeout=time_left(context))
        now = datetime.now(UTC)
        start = time.perf_counter()
        (wire,) = self._reader().execute(FLOOR_SELECT, (request.player_id,)).fetchone()
        self._read_seconds.observe(time.perf_counter() - start)
        response = pb.GetClientConfigResponse()
        stored = response.profile
        stored.ParseFromString(wire)
        _, answer, assignments = catalog.evaluate(
            serving_record(stored),
            now,
            request.game or None,
            context={key: json_from_value(value) for key, value in request.context.items()},
            document=MessageView(stored),
        )
        stored.active_campaigns[:] = answer
        response.MergeFromString(self._assignments.field(2, assignments))
        return response


FLOOR_SELECT = "SELECT wire FROM floor WHERE player_id = ?"


@dataclass
class Started:
    """A server under test, and what to close once it has stopped."""

    server: RunningServer | AioRunningServer | MatcherServer
    closers: list[Callable[[], object]]

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def drain_seconds(self) -> float:
        return self.server.drain_seconds

    def start_draining(self) -> None:
        self.server.start_draining()

    def stop(self, grace: float | None = None) -> None:
        self.server.stop(grace)
        for close in self.closers:
            close()


def start_echo(
    options: ServerOptions,
    match_workers: int,
    response: pb.GetClientConfigResponse,
    *,
    io: str = IO_THREADS,
    layers: frozenset[str] = SERVED_LAYERS,
    token: str | None = None,
) -> Started:
    """The echo, built like the matcher's server on `io` (the same pools, and the
    `layers` of its interceptors or aio wrapping), answering every GetClientConfig
    with `response`."""
    if io == IO_AIO:
        return Started(start_aio_echo(options, response, layers, token), [])
    pools = match_pool(match_workers)
    interceptors = [*pools, *sync_layers(options, layers, token)]
    # Without the limits the message size options go too: grpc's own limit, unraised.
    server = grpc.server(
        futures.ThreadPoolExecutor(options.max_workers, thread_name_prefix="grpc-worker"),
        interceptors=interceptors,
    )
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
        EchoServicer(response), server
    )
    running = start_server(server, options, SERVICE_NAMES)
    running.set_serving(True)
    return Started(running, [pool.shutdown for pool in pools])


def start_bench_matcher(
    options: ServerOptions,
    campaign_server: CampaignServer,
    docs: list[dict[str, object]],
    match_workers: int,
    *,
    io: str = IO_THREADS,
    token: str | None = None,
) -> Started:
    """The real matcher over `docs` in the embedded store, in memory, on `io`."""
    store = SQLiteProfileStore.in_memory()
    import_profiles(store, ((i, doc, None) for i, doc in enumerate(docs)))
    matcher = start_matcher(
        MatcherSettings(
            server=options,
            campaigns_target=f"127.0.0.1:{campaign_server.port}",
            match_workers=match_workers,
            # A benchmark's own server, as open as the baselines it is compared with.
            allow_unauthenticated_writes=True,
            io=io,
            auth_token=token,
        ),
        store,
    )
    return Started(matcher, [store.close])


def start_floor(
    options: ServerOptions,
    campaign_server: CampaignServer,
    docs: list[dict[str, object]],
    match_workers: int,
    *,
    io: str = IO_THREADS,
) -> Started:
    """The floor server over `docs`, built like the matcher's server on `io` (with
    aio, inline on the loop, as the matcher's reads of the in-memory store)."""
    database = f"file:bench-floor-{uuid.uuid4().hex}?mode=memory&cache=shared"
    keeper = sqlite3.connect(database, uri=True, check_same_thread=False)  # keeps it alive
    keeper.execute("CREATE TABLE floor (player_id TEXT PRIMARY KEY, wire BLOB NOT NULL)")
    keeper.executemany(
        "INSERT INTO floor VALUES (?, ?)",
        (
            (
                str(doc["player_id"]),
                profile_to_message(profile_from_document(doc)).SerializeToString(),
            )
            for doc in docs
        ),
    )
    keeper.commit()
    metrics = Metrics(new_registry())
    channel = grpc.insecure_channel(f"127.0.0.1:{campaign_server.port}")
    cache = CatalogCache(CampaignClient(channel), observer=metrics.catalog)
    if io == IO_AIO:
        floor = FloorServicer(database, cache, metrics)
        aio = start_aio_servicer(options, floor, SERVED_LAYERS, None, metrics)
        cache.current(timeout=10)
        return Started(aio, [channel.close, keeper.close])
    pools = match_pool(match_workers)
    server = create_server(options, [*pools, MetricsInterceptor(metrics)])
    matcher_service_pb2_grpc.add_ProfileMatcherServiceServicer_to_server(
        FloorServicer(database, cache, metrics), server
    )
    running = start_server(server, options, SERVICE_NAMES)
    cache.current(timeout=10)
    running.set_serving(True)
    return Started(running, [*(pool.shutdown for pool in pools), channel.close, keeper.close])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["matcher", "echo", "floor", "bare-sync", "bare-aio"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--match-workers",
        type=int,
        default=EMBEDDED_MATCH_WORKERS,
        help="threads of their own for ProfileMatcherService (0: the --workers pool)",
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        help="matcher and floor: serve this catalog file instead of the demo catalog",
    )
    parser.add_argument(
        "--response",
        type=Path,
        help="echo (required): the serialized GetClientConfigResponse to answer with",
    )
    parser.add_argument(
        "--io", choices=IO_MODES, default=IO_THREADS, help="matcher, echo and floor"
    )
    parser.add_argument(
        "--layers",
        default=",".join(sorted(SERVED_LAYERS)),
        help="echo: what of our server it has, of "
        + ", ".join(sorted(ALL_LAYERS))
        + " (aio: limits and decoding always; auth needs --auth-token), or none",
    )
    parser.add_argument("--auth-token", help="matcher and echo: calls need this bearer token")
    parser.add_argument(
        "--noop-interceptors", type=int, default=0, help="bare-*: pass-through interceptors"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.mode in ("bare-sync", "bare-aio"):
        if args.response is None:
            parser.error(f"{args.mode} needs --response")
        bare = pb.GetClientConfigResponse.FromString(args.response.read_bytes())
        if args.mode == "bare-sync":
            serve_bare_sync(args.port, args.workers, bare, args.noop_interceptors)
        else:
            serve_bare_aio(args.port, bare, args.noop_interceptors)
        return
    layers = frozenset() if args.layers == "none" else frozenset(args.layers.split(","))
    if not layers <= ALL_LAYERS:
        parser.error(f"--layers: unknown {', '.join(sorted(layers - ALL_LAYERS))}")
    # No balancer in front of a benchmark: stop at once.
    options = ServerOptions(
        host="127.0.0.1", port=args.port, max_workers=args.workers, drain_seconds=0
    )

    if args.mode == "echo":
        if args.response is None:
            parser.error("echo needs --response")
        response = pb.GetClientConfigResponse.FromString(args.response.read_bytes())
        echo = start_echo(
            options,
            args.match_workers,
            response,
            io=args.io,
            layers=layers,
            token=args.auth_token,
        )
        print(f"echo ready on {echo.port}", flush=True)
        wait_for_signal([echo])
        return

    with tempfile.TemporaryDirectory() as tmp:
        catalog = args.catalog or write_demo_catalog(Path(tmp) / "catalog.json", datetime.now(UTC))
        campaign_server = start_campaign_server(
            CampaignSettings(catalog=catalog, host="127.0.0.1", port=0, drain_seconds=0)
        )
        docs = [sample_profile(), *generate_players(args.players)]
        if args.mode == "floor":
            server = start_floor(options, campaign_server, docs, args.match_workers, io=args.io)
        else:
            server = start_bench_matcher(
                options,
                campaign_server,
                docs,
                args.match_workers,
                io=args.io,
                token=args.auth_token,
            )
        # The seed documents are the benchmark's, not the server's: a matcher holds
        # none, and a million dicts kept alive would weigh on every garbage collection.
        del docs
        if os.environ.get("BENCH_GC_FREEZE"):
            gc.collect()
            gc.freeze()
        print(f"{args.mode} ready on {server.port}", flush=True)
        wait_for_signal([server, campaign_server])


if __name__ == "__main__":
    main()
