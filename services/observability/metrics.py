"""Every metric a matcher process exports, defined on one registry the caller picks
(the campaign service's own are in campaign_metrics.py).

A registry holds each metric name once, so a process builds one `Metrics` per registry.
The default is prometheus_client's process-wide REGISTRY (which also carries the
process_* and python_gc_* collectors); anything that may be built several times in one
process, such as a server started by every test, passes `new_registry()` instead.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable

import grpc
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from services.observability.multiprocess import worker_label
from services.observability.published import WorkerCatalogGauges

log = logging.getLogger(__name__)

# RPCs here range from a cached catalog over the embedded store to a slow MongoDB or an
# expiring deadline; past the last bucket it is +Inf either way.
# Long-lived streams (WatchCampaigns, health Watch) always land in +Inf: latency
# dashboards should select grpc_type="unary".
RPC_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# One store call is a single indexed read or one batched write: from SQLite in memory
# up to the store's timeout.
STORE_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
)  # fmt: skip

REFRESH_RESULTS = ("ok", "unchanged", "error")

CATALOG_INFO = "profilematcher_catalog_info"
CATALOG_AGE = "profilematcher_catalog_age_seconds"
CATALOG_STALE = "profilematcher_catalog_stale"

AgeSource = Callable[[], float | None]


def _go_code_name(code: grpc.StatusCode) -> str:
    if code is grpc.StatusCode.OK:
        return "OK"
    if code is grpc.StatusCode.CANCELLED:
        return "Canceled"  # sic: Go's spelling
    return "".join(part.capitalize() for part in code.name.split("_"))


# grpc_code values as go-grpc-prometheus writes them (Go's codes.Code.String():
# "NotFound", not "NOT_FOUND"), so that shared dashboards and alerts match.
GRPC_CODE_LABELS: dict[grpc.StatusCode, str] = {
    code: _go_code_name(code) for code in grpc.StatusCode
}


def new_registry() -> CollectorRegistry:
    """A registry of its own, with the same process, platform and GC metrics as REGISTRY."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class _CatalogCollector:
    """Reads the catalog's version and age when scraped, so the age is never out of date."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._age: AgeSource | None = None
        self._stale_after = math.inf

    def set_version(self, version: str) -> None:
        with self._lock:
            self._version = version

    def set_age_source(self, source: AgeSource, stale_after: float) -> None:
        with self._lock:
            self._age, self._stale_after = source, stale_after

    def describe(self) -> Iterable[Metric]:
        # Lets the registry refuse a second definition of these names.
        return catalog_families()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            version, source, stale_after = self._version, self._age, self._stale_after
        info, age_family, stale_family = catalog_families()
        if version is not None:
            info.add_metric([version], 1.0)
        families: list[Metric] = [info]
        if source is not None:
            try:
                age = source()
            except Exception:
                # A broken source must not fail the whole scrape; the gap shows instead.
                log.exception("catalog age source failed")
                return families
            if age is not None:
                age_family.add_metric([], age)
                families.append(age_family)
            # No catalog at all is worse than an old one, so it counts as stale.
            stale_family.add_metric([], 1.0 if age is None or age > stale_after else 0.0)
            families.append(stale_family)
        return families


def catalog_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """The catalog's info, age and stale metrics, empty: read at scrape time in one
    process, published by each worker of several (published.WorkerCatalogGauges)."""
    return (
        GaugeMetricFamily(
            CATALOG_INFO,
            "The campaign catalog version being served (1 for the current one).",
            labels=["version"],
        ),
        GaugeMetricFamily(
            CATALOG_AGE,
            "Seconds since the campaign service last confirmed the catalog;"
            " absent while there is no catalog.",
        ),
        GaugeMetricFamily(
            CATALOG_STALE,
            "1 while there is no catalog or it is older than the staleness limit.",
        ),
    )


class CatalogMetrics:
    """The campaign cache's observer (services.matcher.catalog_cache.CacheObserver).

    Every method is a counter increment or a field store: cheap, and never raises.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        cache = Counter(
            "profilematcher_catalog_cache_total",
            "Catalog lookups by RPCs: hit (fresh), stale (past its TTL, served while"
            " a refresh runs or the campaign service is down), miss (none held yet).",
            ["result"],
            registry=registry,
        )
        refreshes = Counter(
            "profilematcher_catalog_refreshes_total",
            "Catalog fetches from the campaign service: ok (new catalog), unchanged"
            " (known version confirmed), error (the service could not answer).",
            ["result"],
            registry=registry,
        )
        # Bound up front: the hot path is one increment, and every series exists
        # from the first scrape, so rate() and absent-free alerts work at once.
        self._hit = cache.labels(result="hit")
        self._miss = cache.labels(result="miss")
        self._stale = cache.labels(result="stale")
        self._refreshes = refreshes
        self._refresh_results = {
            result: refreshes.labels(result=result) for result in REFRESH_RESULTS
        }
        worker = worker_label()
        self._collector: _CatalogCollector | WorkerCatalogGauges
        if worker is None:
            self._collector = _CatalogCollector()
            registry.register(self._collector)
        else:
            # A worker of several: the scrape runs in the parent (multiprocess.py).
            self._collector = WorkerCatalogGauges(worker, catalog_families())

    def hit(self) -> None:
        self._hit.inc()

    def miss(self) -> None:
        self._miss.inc()

    def stale(self) -> None:
        self._stale.inc()

    def refreshed(self, result: str) -> None:
        """`result` is "ok", "unchanged" or "error"."""
        child = self._refresh_results.get(result)
        (self._refreshes.labels(result=result) if child is None else child).inc()

    def installed(self, version: str) -> None:
        """A catalog version became current (fetched, or pushed by WatchCampaigns)."""
        self._collector.set_version(version)

    def set_age_source(self, source: AgeSource, *, stale_after: float) -> None:
        """Where the age comes from at scrape time: seconds since the campaign service
        last confirmed the catalog, or None while there is none.

        `stale_after` is the age past which profilematcher_catalog_stale reads 1.
        """
        self._collector.set_age_source(source, stale_after)


class RpcMetrics:
    """The gRPC server metrics (grpc_server_*) every server of ours exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = REGISTRY if registry is None else registry
        # Label names and meanings follow go-grpc-prometheus, so the usual gRPC
        # dashboards and alerts work unchanged.
        rpc_labels = ["grpc_type", "grpc_service", "grpc_method"]
        self.rpc_started = Counter(
            "grpc_server_started_total",
            "RPCs started on the server.",
            rpc_labels,
            registry=self.registry,
        )
        self.rpc_handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by final status code.",
            [*rpc_labels, "grpc_code"],
            registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Seconds from the start of an RPC until its handler finished"
            " (for a response stream, until the stream ended).",
            rpc_labels,
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )


class Metrics(RpcMetrics):
    """The matcher's: gRPC server, campaign catalog and profile store, on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.store_seconds = Histogram(
            "profilematcher_store_operation_seconds",
            "Seconds per profile store call, failed ones included.",
            ["operation"],
            buckets=STORE_BUCKETS,
            registry=self.registry,
        )
        self.store_errors = Counter(
            "profilematcher_store_errors_total",
            "Profile store calls that raised, by exception class. ProfileNotFound and"
            " ProfileAlreadyExists are answers to the caller; DependencyUnavailable and"
            " DependencyTimeout are the store failing.",
            ["operation", "error"],
            registry=self.registry,
        )
        self.catalog = CatalogMetrics(self.registry)
