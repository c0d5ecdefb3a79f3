"""The campaign service's metrics: its RPCs, the catalog it serves, its reloads of the
catalog file and its open WatchCampaigns streams. None of the matcher's families."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from services.observability.metrics import RpcMetrics
from services.observability.multiprocess import worker_label
from services.observability.published import WorkerServingGauges

RELOAD_RESULTS = ("ok", "unchanged", "error")

CATALOG_INFO = "profilematcher_campaigns_catalog_info"
CATALOG_CAMPAIGNS = "profilematcher_campaigns_catalog_campaigns"
WATCHERS = "profilematcher_campaigns_watchers"


class _ServingCollector:
    """Reads what is served when scraped: the catalog's version and size, the streams."""

    def __init__(self, catalog: Callable[[], tuple[str, int]], watchers: Callable[[], int]) -> None:
        self._catalog = catalog
        self._watchers = watchers

    def describe(self) -> Iterable[Metric]:
        # Lets the registry refuse a second definition of these names.
        return serving_families()

    def collect(self) -> Iterable[Metric]:
        info, campaigns, watchers = serving_families()
        version, count = self._catalog()
        info.add_metric([version], 1.0)
        campaigns.add_metric([], count)
        watchers.add_metric([], self._watchers())
        return info, campaigns, watchers


def serving_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    """The served catalog's info and size and the open streams, empty: read at scrape
    time in one process, published by each worker of several (published.py)."""
    return (
        GaugeMetricFamily(
            CATALOG_INFO,
            "The catalog version being served (1 for the current one).",
            labels=["version"],
        ),
        GaugeMetricFamily(CATALOG_CAMPAIGNS, "Campaigns in the catalog being served."),
        GaugeMetricFamily(WATCHERS, "Open WatchCampaigns streams (matchers following)."),
    )


class CampaignMetrics(RpcMetrics):
    """grpc_server_* plus the catalog's; the file watcher's observer (`reloaded`).

    `catalog` gives the served catalog's (version, campaign count) and `watchers` the
    number of open streams; both are read at scrape time.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        catalog: Callable[[], tuple[str, int]],
        watchers: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(registry)
        self._clock = clock
        reloads = Counter(
            "profilematcher_campaigns_reloads_total",
            "Reads of the catalog file after it changed: ok (a new version is served),"
            " unchanged (same campaigns), error (not usable; the last good one is served).",
            ["result"],
            registry=registry,
        )
        # Bound up front, so every series exists from the first scrape.
        self._reloads = {result: reloads.labels(result=result) for result in RELOAD_RESULTS}
        self._last_success = Gauge(
            "profilematcher_campaigns_last_reload_success_timestamp_seconds",
            "Unix time the catalog file was last read successfully (at start-up, or"
            " reloaded after a change).",
            registry=registry,
            # Several workers: the oldest of theirs, so an alert on its age sees a
            # worker left behind.
            multiprocess_mode="livemin",
        )
        self._last_success.set(clock())
        worker = worker_label()
        if worker is None:
            registry.register(_ServingCollector(catalog, watchers))
        else:
            # A worker of several: the scrape runs in the parent (multiprocess.py).
            WorkerServingGauges(worker, serving_families(), catalog, watchers)

    def reloaded(self, result: str) -> None:
        """`result` is "ok", "unchanged" or "error"."""
        self._reloads[result].inc()
        if result != "error":
            self._last_success.set(self._clock())
