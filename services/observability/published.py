"""What a worker of several publishes instead of scrape-time collectors: gauges it sets
itself, every second, since the scrape runs in the parent (multiprocess.py).

Each series carries the worker's index as `worker`: every worker holds its own catalog,
and they may briefly disagree. multiprocess_mode "live...": a dead worker's series go
with it (the supervisor marks it dead), and a restarted one's start afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from prometheus_client import Gauge
from prometheus_client.metrics_core import GaugeMetricFamily

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 1.0


class Publisher:
    """Runs `publish` on a daemon thread every `interval` seconds, for the life of the
    worker process (a worker builds its metrics once)."""

    def __init__(self, publish: Callable[[], None], interval: float = PUBLISH_INTERVAL) -> None:
        self._publish = publish
        self._interval = interval
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="metrics-publisher", daemon=True).start()

    def _run(self) -> None:
        stop = threading.Event()  # never set: the thread ends with the process
        while True:
            try:
                self._publish()
            except Exception:
                # A broken source must not end the publishing; the gap shows instead.
                log.exception("publishing metrics failed")
            stop.wait(self._interval)


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
    """The matcher's catalog info, age and stale metrics (metrics._CatalogCollector's
    families), published by a worker of several."""

    def __init__(self, worker: str, families: Sequence[GaugeMetricFamily]) -> None:
        info, age, stale = families
        self._info = VersionInfo(info, worker)
        self._age_family, self._stale_family, self._worker = age, stale, worker
        self._age: Gauge | None = None  # made with the first age: absent until then
        self._stale: Gauge | None = None
        self._source: Callable[[], float | None] | None = None
        self._stale_after = float("inf")
        self._publisher = Publisher(self._publish)

    def set_version(self, version: str) -> None:
        self._info.set(version)

    def set_age_source(self, source: Callable[[], float | None], stale_after: float) -> None:
        self._source, self._stale_after = source, stale_after
        self._publisher.start()

    def _publish(self) -> None:
        source = self._source
        if source is None:
            return
        age = source()
        if age is not None:
            if self._age is None:
                self._age = worker_gauge(self._age_family, self._worker)
            self._age.set(age)
        if self._stale is None:
            self._stale = worker_gauge(self._stale_family, self._worker)
        # No catalog at all is worse than an old one, so it counts as stale.
        self._stale.set(1.0 if age is None or age > self._stale_after else 0.0)


class WorkerServingGauges:
    """The campaign service's served-catalog metrics (campaign_metrics._ServingCollector's
    families), published by a worker of several: the open streams summed over them."""

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
        Publisher(self._publish).start()

    def _publish(self) -> None:
        version, count = self._catalog()
        self._info.set(version)
        self._campaigns.set(count)
        self._watchers.set(self._watcher_count())
