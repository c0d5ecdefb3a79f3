"""What a worker of several publishes instead of scrape-time collectors: gauges it sets
itself, every second from when they are made, since the scrape runs in the parent
(multiprocess.py).

Each series carries the worker's index as `worker`: every worker holds its own catalog,
and they may briefly disagree. multiprocess_mode "live...": a dead worker's series go
with it (the supervisor marks it dead), and a restarted one's start afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from prometheus_client import Gauge
from prometheus_client.metrics_core import GaugeMetricFamily

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 1.0


def start_publishing(publish: Callable[[], None], interval: float = PUBLISH_INTERVAL) -> None:
    """Runs `publish` every `interval` seconds on a daemon thread, which ends with the
    worker process (a worker builds its metrics once)."""

    def run() -> None:
        while True:
            try:
                publish()
            except Exception:
                # A broken source must not end the publishing; the gap shows instead.
                log.exception("publishing metrics failed")
            time.sleep(interval)

    threading.Thread(target=run, name="metrics-publisher", daemon=True).start()


class VersionInfo:
    """An info gauge by version and worker: 1 for the current version. The previous
    one is set to 0, which the parent drops (a file keeps every label set it had)."""

    def __init__(self, family: GaugeMetricFamily, worker: str) -> None:
        self._gauge = Gauge(
            family.name,
            family.documentation,
            ["version", "worker"],
            multiprocess_mode="livemax",
            registry=None,
        )
        self._worker = worker
        self._version: str | None = None
        self._lock = threading.Lock()

    def set(self, version: str) -> None:
        with self._lock:
            if version == self._version:
                return
            if self._version is not None:
                self._gauge.labels(self._version, self._worker).set(0)
            self._gauge.labels(version, self._worker).set(1)
            self._version = version


def worker_gauge(family: GaugeMetricFamily, worker: str) -> Gauge:
    """A gauge of this worker's own value, named and described as `family`."""
    gauge = Gauge(
        family.name, family.documentation, ["worker"], multiprocess_mode="livemax", registry=None
    )
    return gauge.labels(worker)


class WorkerCatalogGauges:
    """The matcher's catalog info, age and stale metrics (metrics.catalog_families),
    published by a worker of several: nothing of the age until it has a source."""

    def __init__(self, worker: str, families: Sequence[GaugeMetricFamily]) -> None:
        info, age, stale = families
        self._info = VersionInfo(info, worker)
        self._age_family, self._stale_family, self._worker = age, stale, worker
        self._age: Gauge | None = None  # made with the first age: absent until then
        self._stale: Gauge | None = None
        # (source, stale_after), set at once so the publisher never sees half of it.
        self._source: tuple[Callable[[], float | None], float] | None = None
        start_publishing(self._publish)

    def set_version(self, version: str) -> None:
        self._info.set(version)

    def set_age_source(self, source: Callable[[], float | None], stale_after: float) -> None:
        self._source = (source, stale_after)

    def _publish(self) -> None:
        if self._source is None:
            return
        source, stale_after = self._source
        age = source()
        if age is not None:
            if self._age is None:
                self._age = worker_gauge(self._age_family, self._worker)
            self._age.set(age)
        if self._stale is None:
            self._stale = worker_gauge(self._stale_family, self._worker)
        # No catalog at all is worse than an old one, so it counts as stale.
        self._stale.set(1.0 if age is None or age > stale_after else 0.0)


class WorkerServingGauges:
    """The campaign service's served-catalog metrics (campaign_metrics.serving_families),
    published by a worker of several: the open streams summed over them."""

    def __init__(
        self,
        worker: str,
        families: Sequence[GaugeMetricFamily],
        catalog: Callable[[], tuple[str, int]],
        watchers: Callable[[], int],
    ) -> None:
        info, campaigns, streams = families
        self._info = VersionInfo(info, worker)
        self._campaigns = worker_gauge(campaigns, worker)
        self._watchers = Gauge(
            streams.name, streams.documentation, multiprocess_mode="livesum", registry=None
        )
        self._catalog, self._watcher_count = catalog, watchers
        start_publishing(self._publish)

    def _publish(self) -> None:
        version, count = self._catalog()
        self._info.set(version)
        self._campaigns.set(count)
        self._watchers.set(self._watcher_count())
