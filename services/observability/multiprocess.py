"""Metrics when a server runs as several worker processes (--processes): one /metrics
for all of them, in prometheus_client's multiprocess mode.

The parent sets PROMETHEUS_MULTIPROC_DIR to a fresh directory before it forks; each
worker then keeps its counters, histograms and gauges in files there (one set per
pid), and the parent's endpoint merges them (MultiProcessCollector). Counters and
histograms are summed over every worker, dead ones included, so rates stay right
across a restart: when a worker dies the parent folds its counts into one archive
file per worker slot and removes its files, so a crash loop leaves one archive per
slot behind, not a file set per dead process. Gauges merge as each declares
(multiprocess_mode). Collectors that
read a value when scraped (the catalog's age) cannot work so, since the scrape runs in
the parent: in a worker they are gauges that the worker sets every second, with a
`worker` label, the worker's index, which a restarted worker keeps (published.py).
Without a metrics endpoint nothing of this is set up: no one could read the files.
The directory is removed when the parent exits; one that a killed parent left behind
is removed by the next start in the same temporary directory (metrics_directory).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_DIRECTORY_PREFIX = "profile-matcher-metrics-"
# Held locked (flock) by the parent while its directory is in use: the kernel lets go
# of it when the parent dies, however it dies, so a directory whose lock can be
# taken is a killed parent's, left behind.
_IN_USE = ".in-use"
WORKER_UP = "profilematcher_worker_up"
WORKER_RESTARTS = "profilematcher_worker_restarts"
WORKER_RPCS = "profilematcher_worker_rpcs_started"
_RPCS_STARTED = "grpc_server_started"
# The kinds whose values add up over processes (prometheus_client's file prefixes).
_SUMMED_KINDS = ("counter", "histogram", "summary")


class _ThisProcess:
    # Set once, in a worker, before any metric is made.
    worker: str | None = None


def worker_label() -> str | None:
    """This worker's `worker` label value; None outside multiprocess metrics."""
    return _ThisProcess.worker


def enter_worker_mode(index: int) -> None:
    """In a worker just forked: from now on its metrics go to the parent's directory.

    prometheus_client picks where values live when it is imported, which happened in
    the parent before the directory existed: the choice is made again here."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        _ThisProcess.worker = str(index)


@contextmanager
def metrics_directory(under: Path | None = None) -> Iterator[Path]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for the workers about to be forked (in `under`,
    by default the temporary directory), removed (and the variable restored)
    afterwards. Directories that killed parents left there are removed first."""
    parent = Path(under or tempfile.gettempdir())
    remove_abandoned(parent)
    path = Path(tempfile.mkdtemp(prefix=_DIRECTORY_PREFIX, dir=parent))
    # Inherited by the workers, which hold it too while they write here.
    in_use = os.open(path / _IN_USE, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(in_use, fcntl.LOCK_EX)
    before = os.environ.get(MULTIPROC_DIR_ENV)
    os.environ[MULTIPROC_DIR_ENV] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop(MULTIPROC_DIR_ENV, None)
        else:
            os.environ[MULTIPROC_DIR_ENV] = before
        shutil.rmtree(path, ignore_errors=True)
        os.close(in_use)


def remove_abandoned(parent: Path) -> None:
    """Removes the metrics directories in `parent` that no live process holds."""
    for path in parent.glob(_DIRECTORY_PREFIX + "*"):
        try:
            lock = os.open(path / _IN_USE, os.O_RDWR)
        except OSError:  # another user's, or not ours to judge
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # in use
            continue
        else:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            with contextlib.suppress(OSError):
                os.close(lock)


def worker_died(directory: Path, pid: int, index: int) -> None:
    """Folds the counters and histograms of worker `index`'s dead process `pid` into
    the slot's archive, so that no total goes down (a Prometheus counter never does),
    then removes every file of `pid`'s, its gauges with them."""
    for kind in _SUMMED_KINDS:
        dead = directory / f"{kind}_{pid}.db"
        if dead.exists():
            _fold(dead, directory / f"{kind}_{_archive(index)}.db")
    for path in directory.glob(f"*_{pid}.db"):
        path.unlink(missing_ok=True)


def _archive(index: int) -> str:
    # Not a number, so never a live process's files.
    return f"worker{index}"


def _fold(dead: Path, archive: Path) -> None:
    """`archive` := `archive` + `dead`, sample by sample (the files' keys name the
    metric, sample and labels; a histogram's buckets are stored per bucket, so they
    add up as the counters do)."""
    totals: dict[str, float] = {}
    for source in (archive, dead):
        if source.exists():
            values_ = MmapedDict.read_all_values_from_file(str(source))  # type: ignore[no-untyped-call]
            for key, value, _timestamp, _position in values_:
                totals[key] = totals.get(key, 0.0) + value
    # Written aside, then renamed: a scrape never reads a half-written archive.
    aside = archive.with_suffix(".tmp")
    aside.unlink(missing_ok=True)
    written = MmapedDict(str(aside))  # type: ignore[no-untyped-call]
    try:
        for key, value in totals.items():
            written.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        written.close()  # type: ignore[no-untyped-call]
    os.replace(aside, archive)


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """What the supervisor knows of one worker slot, for the parent's own metrics."""

    index: int
    # Its latest process (None before the first start); the earlier ones' counts are
    # in the slot's archive.
    pid: int | None
    alive: bool
    restarts: int


def parent_registry(
    directory: Path, workers: Callable[[], Sequence[WorkerRecord]]
) -> CollectorRegistry:
    """What the parent's /metrics serves: every worker's metrics merged, and per
    worker whether it is up, its restarts and the RPCs it started."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_MergedWorkers(directory))
    registry.register(_Supervision(directory, workers))
    return registry


class _MergedWorkers:
    """MultiProcessCollector, less the info gauges' retired versions.

    A worker cannot remove a label set from its file: when its catalog version
    changes it sets the old one's info to 0, and this drops it, so that an info
    metric shows only current versions, as it does in a single process."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterable[Metric]:
        merged = _merge(_files(self._directory, "*"))
        for metric in merged:
            if metric.type == "gauge" and metric.name.endswith("_info"):
                metric.samples = [sample for sample in metric.samples if sample.value != 0]
            yield metric


class _Supervision:
    def __init__(self, directory: Path, workers: Callable[[], Sequence[WorkerRecord]]) -> None:
        self._directory = directory
        self._workers = workers

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            WORKER_UP, "1 while the worker process runs (--processes).", labels=["worker"]
        )
        restarts = CounterMetricFamily(
            WORKER_RESTARTS,
            "Times the worker process was started again after it died.",
            labels=["worker"],
        )
        rpcs = CounterMetricFamily(
            WORKER_RPCS,
            "RPCs started by the worker, over all its processes: how the kernel spread"
            " the connections (grpc_server_started_total is their sum).",
            labels=["worker"],
        )
        for worker in self._workers():
            label = [str(worker.index)]
            up.add_metric(label, 1.0 if worker.alive else 0.0)
            restarts.add_metric(label, worker.restarts)
            rpcs.add_metric(label, self._rpcs_started(worker))
        return [up, restarts, rpcs]

    def _rpcs_started(self, worker: WorkerRecord) -> float:
        stems = [f"counter_{_archive(worker.index)}"]
        if worker.pid is not None:
            stems.append(f"counter_{worker.pid}")
        files = [path for stem in stems for path in _files(self._directory, stem)]
        return sum(
            sample.value
            for metric in _merge(files)
            if metric.name == _RPCS_STARTED
            for sample in metric.samples
        )


def _files(directory: Path, stem: str) -> list[str]:
    return sorted(str(path) for path in directory.glob(f"{stem}.db"))


def _merge(files: list[str]) -> list[Metric]:
    """The files' metrics merged as the endpoint shows them (histograms accumulated)."""
    merged = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
    return list(merged)
