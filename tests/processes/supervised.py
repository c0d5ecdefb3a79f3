"""A supervisor of fake workers, as a command for tests of supervision itself:
`python -m tests.processes.supervised PLAN DIRECTORY`.

PLAN is JSON: {"slots": [[action, ...], ...], "hold_fork": bool}. Worker I's Nth
start does slots[I][N] (the last action once they run out):
- "serve": says it serves once its signal handlers are in place (and touches
  DIRECTORY/serving-I then), waits for a signal and stops as a server does;
- "die": says it serves, then exits 3 at once;
- "die-once-0-serves": waits for DIRECTORY/serving-0, then does as "die" (so that
  worker 0 is sure to drain, not be killed, when the parent gives up);
- "fail": exits 2 before it serves (a store it cannot open);
- "hold": waits for the file DIRECTORY/go-I, then serves.
"hold_fork": each child, just forked, prints "forked PID" and waits for the file
DIRECTORY/go-fork before it becomes a worker, which holds open the moment between
the fork and the worker's own signal handlers.
No gRPC object is made: these workers test the parent, not a server.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.observability.http import MetricsSettings
from services.processes import worker as worker_side
from services.processes.restarts import RestartPolicy
from services.processes.supervisor import supervise
from services.processes.worker import WorkerStart
from services.transport.grpc_server import wait_for_signal

# Restarts at once, and every death counts as one soon after the start.
POLICY = RestartPolicy(first_delay=0.01, max_delay=0.01, stable_after=3600.0)


def wait_for_file(path: Path) -> None:
    while not path.exists():
        time.sleep(0.01)


def planned_work(plan: list[list[str]], directory: Path) -> Callable[[WorkerStart], int]:
    def work(worker: WorkerStart) -> int:
        attempts = directory / f"attempts-{worker.index}"
        with attempts.open("a") as record:
            record.write("x")
        actions = plan[worker.index]
        action = actions[min(len(attempts.read_text()) - 1, len(actions) - 1)]
        if action == "fail":
            return 2
        if action == "hold":
            wait_for_file(directory / f"go-{worker.index}")
        if action == "die-once-0-serves":
            wait_for_file(directory / "serving-0")
        if action.startswith("die"):
            worker.ready()
            return 3

        def serving() -> None:
            worker.ready()
            (directory / f"serving-{worker.index}").touch()

        wait_for_signal([], ready=serving)
        return 0

    return work


def hold_each_fork(directory: Path) -> None:
    """Wraps what the child does first, to make it wait for the test just after the fork."""
    become_worker = worker_side.become_worker

    def held(*args: Any, **kwargs: Any) -> None:
        # One write, so that no line of the parent's lands inside it.
        os.write(sys.stderr.fileno(), f"forked {os.getpid()}\n".encode())
        wait_for_file(directory / "go-fork")
        become_worker(*args, **kwargs)

    worker_side.become_worker = held


def main(argv: list[str]) -> int:
    plan: dict[str, Any] = json.loads(argv[0])
    directory = Path(argv[1])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if plan.get("hold_fork"):
        hold_each_fork(directory)
    slots: list[list[str]] = plan["slots"]
    return supervise(
        "fake",
        len(slots),
        host="127.0.0.1",
        port=0,
        metrics=MetricsSettings(),
        work=planned_work(slots, directory),
        policy=POLICY,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
