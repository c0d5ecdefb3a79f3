"""`--processes N` for a server command: N workers, each that command's own one-process
server, on one port, supervised by the parent (supervisor.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.observability.http import MetricsSettings
from services.processes.supervisor import supervise
from services.processes.worker import WorkerStart

SettingsT = TypeVar("SettingsT")


def serve_in_processes(
    name: str,
    settings: SettingsT,
    *,
    processes: int,
    host: str,
    port: int,
    metrics: MetricsSettings,
    for_worker: Callable[[SettingsT, WorkerStart], SettingsT],
    serve: Callable[[SettingsT, Callable[[], None]], int],
    hang_seconds: float = 0.0,
) -> int:
    """`processes` workers on `host`:`port`, the parent serving every worker's metrics
    on `metrics`; the command's exit code.

    Each worker runs `serve(for_worker(settings, worker), ready)`: `for_worker` makes
    the command's settings one worker's (one process, the shared port with SO_REUSEPORT,
    its probe address bound too, no metrics endpoint of its own) and `serve` calls
    `ready` once it serves. A worker that serves and then goes `hang_seconds` without
    its server answering at its probe address is replaced (hangs.py; 0: never)."""

    def work(worker: WorkerStart) -> int:
        return serve(for_worker(settings, worker), worker.ready)

    return supervise(
        name,
        processes,
        host=host,
        port=port,
        metrics=metrics,
        work=work,
        hang_seconds=hang_seconds,
    )
