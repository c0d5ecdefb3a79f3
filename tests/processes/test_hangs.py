"""`--worker-hang-seconds` as it runs for real: a worker that stops (SIGSTOP: the real
thing, no hook) is killed and started again while the port keeps serving; a worker
waiting for its first catalog is left to wait."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.matcher.fakes import CampaignServer, FakeCampaignService, eventually, sample_campaign
from tests.ports import free_port
from tests.processes.cli_process import CliProcess
from tests.processes.test_matcher_processes import get_client_config, health, matcher_argv

# Small, so the tests are quick; large enough that a busy machine is not taken for a
# hung worker (each test still waits on outcomes, never on this).
HANG = "3"


@pytest.mark.parametrize("io", ["aio", "threads"])
def test_a_stopped_worker_is_killed_and_started_again_and_the_port_keeps_serving(
    io: str, campaigns: CampaignServer, store_file: Path, sample_profile_doc: dict[str, Any]
) -> None:
    player = sample_profile_doc["player_id"]
    matcher = CliProcess(
        matcher_argv(campaigns, str(store_file), "--io", io, "--worker-hang-seconds", HANG)
    )
    stopped: int | None = None
    try:
        port = matcher.serving_port()
        hung = stopped = matcher.worker_pids()[0]
        os.kill(hung, signal.SIGSTOP)
        matcher.wait_for(
            rf"worker 0 \(pid {stopped}\) has not answered its health check for [\d.]+ s"
            rf" \(--worker-hang-seconds {HANG}\): hung, sending it SIGTERM"
        )
        # A stopped process leaves SIGTERM pending: only SIGKILL ends it.
        matcher.wait_for(rf"worker 0 \(pid {stopped}\) hung and still running [\d.]+ s after")
        matcher.wait_for(
            rf"worker 0 \(pid {stopped}\) was killed by SIGKILL; starting it again in", timeout=30
        )
        stopped = None
        matcher.wait_for(rf"^\[worker 0 pid (?!{hung}\])\d+\] .*matcher serving on port")

        def answers_every_time() -> None:
            for _ in range(6):  # each on a connection of its own, to either worker
                get_client_config(port, player)

        eventually(answers_every_time, timeout=30)
        assert matcher.stop() == 0, matcher.text
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGKILL)
        matcher.kill()
    assert "worker 1 (pid" not in matcher.text.split("received SIGTERM")[0], matcher.text


def test_a_worker_waiting_long_for_its_first_catalog_is_not_taken_for_hung(
    store_file: Path,
) -> None:
    campaigns = CampaignServer(FakeCampaignService([sample_campaign()]))
    campaigns.port = free_port()  # where it will start; nothing listens there yet
    matcher = CliProcess(matcher_argv(campaigns, str(store_file), "--worker-hang-seconds", "2"))
    try:
        for worker in "01":
            matcher.wait_for(rf"^\[worker {worker} pid \d+\] .*no campaign catalog yet")
        # Several times the limit, with neither worker serving nor proving anything.
        time.sleep(5.0)
        campaigns.start()
        port = matcher.serving_port()
        assert health(port) is not None
        assert matcher.stop() == 0, matcher.text
    finally:
        matcher.kill()
        campaigns.stop()
    assert "has not answered its health check" not in matcher.text, matcher.text
    assert matcher.text.count("started (pid") == 2, matcher.text


def test_campaigns_workers_are_watched_too() -> None:
    catalog = Path(__file__).resolve().parent.parent / "data" / "campaign.json"
    server = CliProcess(
        [
            "campaigns", "--catalog", str(catalog), "--processes", "2", "--host", "127.0.0.1",
            "--port", "0", "--drain-delay", "0", "--grace", "1",
            "--worker-hang-seconds", HANG,
        ]
    )  # fmt: skip
    stopped: int | None = None
    try:
        server.serving_port()
        hung = stopped = server.worker_pids()[1]
        os.kill(hung, signal.SIGSTOP)
        server.wait_for(
            rf"worker 1 \(pid {hung}\) was killed by SIGKILL; starting it again in", timeout=30
        )
        stopped = None
        server.wait_for(rf"^\[worker 1 pid (?!{hung}\])\d+\] .*CampaignService ready on")
        assert server.stop() == 0, server.text
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGKILL)
        server.kill()
