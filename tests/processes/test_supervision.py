"""The supervising parent with fake workers (tests/processes/supervised.py): signals
around a fork, restarts, giving up, and what counts as a failed start."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

from services.processes.restarts import QUICK_DEATHS_BEFORE_GIVING_UP
from tests.processes.cli_process import CliProcess


def supervised(tmp_path: Path, plan: dict[str, Any]) -> CliProcess:
    return CliProcess([json.dumps(plan), str(tmp_path)], module="tests.processes.supervised")


def test_a_sigterm_passed_on_just_after_a_fork_still_stops_that_worker(tmp_path: Path) -> None:
    parent = supervised(tmp_path, {"slots": [["serve"]], "hold_fork": True})
    try:
        child = int(parent.wait_for(r"^forked (\d+)$").group(1))
        parent.process.send_signal(signal.SIGTERM)
        # Logged once the parent has passed it on: the child has it, before its own
        # handlers exist.
        parent.wait_for("received SIGTERM, stopping the workers")
        (tmp_path / "go-fork").touch()
        assert parent.process.wait(timeout=20) == 0, parent.text
    finally:
        parent.kill()
    assert f"worker 0 (pid {child}) was killed by SIGTERM" in parent.text, parent.text


def test_a_worker_that_served_and_then_fails_to_start_again_is_restarted_not_fatal(
    tmp_path: Path,
) -> None:
    # Worker 0 is still starting while worker 1 serves, dies, and fails its restart
    # before serving: worker 1 has served, so that is a crash to restart, not a start
    # that cannot work.
    parent = supervised(tmp_path, {"slots": [["hold"], ["die", "fail", "serve"]]})
    try:
        parent.wait_for(r"worker 1 \(pid \d+\) exited with code 2; starting it again")
        (tmp_path / "go-0").touch()
        parent.wait_for(r"2 worker processes serving on port")
        assert parent.stop() == 0, parent.text
    finally:
        parent.kill()
    assert "before it served" not in parent.text
    assert parent.text.count("worker 1 started (pid") == 3, parent.text


def test_a_worker_of_a_slot_that_never_served_failing_fails_the_start(tmp_path: Path) -> None:
    parent = supervised(tmp_path, {"slots": [["hold"], ["fail"]]})
    try:
        assert parent.process.wait(timeout=20) == 2, parent.text
    finally:
        parent.kill()
    assert "worker 1 (pid" in parent.text
    assert "exited with code 2 before it served: stopping the others" in parent.text
    assert parent.text.count("started (pid") == 2, parent.text


def test_a_worker_that_keeps_dying_soon_after_its_start_makes_the_parent_give_up(
    tmp_path: Path,
) -> None:
    parent = supervised(tmp_path, {"slots": [["serve"], ["die-once-0-serves"]]})
    try:
        assert parent.process.wait(timeout=20) == 3, parent.text
    finally:
        parent.kill()
    text = parent.text
    assert (
        f"exited with code 3, its {QUICK_DEATHS_BEFORE_GIVING_UP}. death in a row soon"
        " after its start: giving up, stopping every worker and exiting"
    ) in text, text
    assert text.count("worker 1 started (pid") == QUICK_DEATHS_BEFORE_GIVING_UP, text
    assert text.count("received SIGTERM, shutting down") == 1, text  # worker 0 drained
    assert re.search(r"worker 0 \(pid \d+\) exited with code 0$", text, re.MULTILINE), text
