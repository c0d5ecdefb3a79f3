"""The parent's merged metrics across worker processes that die: totals never go down,
and a dead worker leaves no files of its own behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram, values

from services.observability.multiprocess import (
    WORKER_RPCS,
    WorkerRecord,
    metrics_directory,
    parent_registry,
    worker_died,
)
from tests.observability.conftest import value


class FakeWorker:
    """The metrics one worker process writes, as prometheus_client writes them, under
    a made-up pid."""

    def __init__(self, directory: Path, pid: int, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        value_class = values.MultiProcessValue(lambda: pid)  # type: ignore[no-untyped-call]
        monkeypatch.setattr(values, "ValueClass", value_class)
        self.pid = pid
        self.started = Counter(
            "grpc_server_started", "RPCs started.", ["grpc_method"], registry=None
        )
        self.seconds = Histogram("rpc_seconds", "Seconds.", buckets=(0.1, 1.0), registry=None)
        self.age = Gauge("age_seconds", "Age.", multiprocess_mode="livemax", registry=None)


def test_a_dead_workers_counts_stay_and_its_files_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [WorkerRecord(0, 101, alive=True, restarts=0)]
    registry = parent_registry(tmp_path, lambda: records)
    first = FakeWorker(tmp_path, 101, monkeypatch)
    first.started.labels("Get").inc(3)
    first.seconds.observe(0.05)
    first.seconds.observe(0.5)
    first.age.set(7)
    assert value(registry, "grpc_server_started_total", grpc_method="Get") == 3
    assert value(registry, "age_seconds") == 7

    worker_died(tmp_path, 101, 0)
    records = [WorkerRecord(0, 101, alive=False, restarts=0)]
    assert not list(tmp_path.glob("*_101.db"))
    assert value(registry, "grpc_server_started_total", grpc_method="Get") == 3
    assert value(registry, "rpc_seconds_bucket", le="0.1") == 1
    assert value(registry, "rpc_seconds_bucket", le="1.0") == 2
    assert value(registry, "rpc_seconds_count") == 2
    assert value(registry, "rpc_seconds_sum") == pytest.approx(0.55)
    assert value(registry, "age_seconds") == 0  # a dead worker's gauge is gone
    assert value(registry, WORKER_RPCS + "_total", worker="0") == 3

    second = FakeWorker(tmp_path, 102, monkeypatch)
    records = [WorkerRecord(0, 102, alive=True, restarts=1)]
    second.started.labels("Get").inc(2)
    second.seconds.observe(2.0)
    assert value(registry, "grpc_server_started_total", grpc_method="Get") == 5
    assert value(registry, WORKER_RPCS + "_total", worker="0") == 5
    assert value(registry, "rpc_seconds_count") == 3
    assert value(registry, "rpc_seconds_bucket", le="1.0") == 2


def test_a_crash_loop_leaves_one_archive_per_slot_and_the_totals_climb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = parent_registry(tmp_path, lambda: [])
    seen = 0.0
    for pid in range(200, 220):
        worker = FakeWorker(tmp_path, pid, monkeypatch)
        worker.started.labels("Get").inc()
        worker.seconds.observe(0.5)
        worker.age.set(1)
        worker_died(tmp_path, pid, pid % 2)
        total = value(registry, "grpc_server_started_total", grpc_method="Get")
        assert total == seen + 1
        seen = total
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "counter_worker0.db",
        "counter_worker1.db",
        "histogram_worker0.db",
        "histogram_worker1.db",
    ]
    assert value(registry, "rpc_seconds_count") == 20


def test_a_killed_parents_directory_goes_at_the_next_start_a_live_ones_stays(
    tmp_path: Path,
) -> None:
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys; from pathlib import Path;"
            " from services.observability.multiprocess import metrics_directory;"
            " held = metrics_directory(Path(sys.argv[1])); held.__enter__();"
            " os.kill(os.getpid(), signal.SIGKILL)",
            str(tmp_path),
        ],
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    (left_behind,) = tmp_path.glob("profile-matcher-metrics-*")
    older = tmp_path / "profile-matcher-metrics-older"  # no lock file: not ours to judge
    older.mkdir()
    with metrics_directory(tmp_path) as live:
        assert not left_behind.exists()
        with metrics_directory(tmp_path) as second:
            assert live.is_dir(), "a directory in use was removed"
            assert second != live
        assert not second.exists()
    assert [path.name for path in tmp_path.iterdir()] == [older.name]
