"""`profile-matcher matcher --processes 2` as it runs for real: a subprocess on a file
store, called over gRPC, its workers killed, its /metrics scraped, then SIGTERM."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.cli import main
from services.observability.multiprocess import WORKER_RESTARTS, WORKER_RPCS, WORKER_UP
from tests.matcher.fakes import CampaignServer, FakeCampaignService, eventually, sample_campaign
from tests.ports import free_port
from tests.processes.cli_process import CliProcess, sample, scrape


def matcher_argv(campaigns: CampaignServer, store: str, *extra: str) -> list[str]:
    return [
        "matcher", "--processes", "2", "--host", "127.0.0.1", "--port", "0",
        "--campaigns", campaigns.target, "--store", store,
        "--drain-delay", "0.2", "--grace", "1", *extra,
    ]  # fmt: skip


def get_client_config(port: int, player_id: str) -> None:
    """On a connection of its own: the kernel spreads connections, not calls."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response = stub.GetClientConfig(pb.GetClientConfigRequest(player_id=player_id), timeout=5)
    assert response.profile.player_id == player_id


def test_workers_share_the_port_come_back_when_killed_and_drain_on_sigterm(
    campaigns: CampaignServer, store_file: Path, tmp_path: Path, sample_profile_doc: dict[str, Any]
) -> None:
    player = sample_profile_doc["player_id"]
    metrics_port = free_port()
    matcher = CliProcess(
        matcher_argv(
            campaigns, str(store_file), "--metrics-port", str(metrics_port),
            "--metrics-host", "127.0.0.1",
            # Off: each worker's checks of itself would count among its RPCs.
            "--worker-hang-seconds", "0",
        ),
        env={"TMPDIR": str(tmp_path)},
    )  # fmt: skip
    try:
        port = matcher.serving_port()
        first = matcher.worker_pids()
        assert sorted(first) == [0, 1], matcher.text
        assert first[0] != first[1]
        calls = 0

        def both_workers_answered() -> None:
            nonlocal calls
            for _ in range(6):
                get_client_config(port, player)
                calls += 1
            text = scrape(metrics_port)
            assert sample(text, WORKER_RPCS + "_total", worker="0") > 0
            assert sample(text, WORKER_RPCS + "_total", worker="1") > 0

        eventually(both_workers_answered, timeout=15)
        text = scrape(metrics_port)
        # One endpoint, every worker's calls, each counted once.
        started = sample(
            text, "grpc_server_started_total", grpc_method="GetClientConfig", grpc_type="unary"
        )
        assert started == calls
        assert sum(sample(text, WORKER_RPCS + "_total", worker=w) for w in "01") >= calls
        for worker in "01":  # each worker holds its own catalog
            assert sample(text, "profilematcher_catalog_info", version="v1", worker=worker) == 1
            assert sample(text, WORKER_UP, worker=worker) == 1

        os.kill(first[1], signal.SIGKILL)
        matcher.wait_for(
            rf"worker 1 \(pid {first[1]}\) was killed by SIGKILL; starting it again in"
        )
        again = matcher.wait_for(
            rf"^\[worker 1 pid (?!{first[1]}\])(\d+)\] .*matcher serving on port"
        )
        assert int(again.group(1)) not in first.values()

        def answers_every_time() -> None:
            for _ in range(6):
                get_client_config(port, player)

        eventually(answers_every_time, timeout=15)
        text = scrape(metrics_port)
        # The killed worker's calls still counted, from its slot's archive.
        again_started = sample(
            text, "grpc_server_started_total", grpc_method="GetClientConfig", grpc_type="unary"
        )
        assert again_started >= started + 6
        (directory,) = tmp_path.glob("profile-matcher-metrics-*")
        assert not list(directory.glob(f"*_{first[1]}.db")), "the dead worker's files stay"
        assert sample(text, WORKER_RESTARTS + "_total", worker="1") == 1
        assert sample(text, WORKER_RESTARTS + "_total", worker="0") == 0
        assert sample(text, WORKER_UP, worker="1") == 1

        assert matcher.stop() == 0, matcher.text
    finally:
        matcher.kill()
    log = matcher.text
    assert "received SIGTERM, stopping the workers" in log
    assert log.count("received SIGTERM, shutting down") == 2, log
    assert log.count("health NOT_SERVING; still serving for 0.2 s") == 2, log
    assert "every worker has stopped" in log
    assert not list(tmp_path.glob("profile-matcher-metrics-*")), "the metrics files stay"


def health(port: int) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    """On a connection of its own, as a probe: the status of the one worker it reaches."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_a_worker_takes_connections_only_once_it_holds_a_catalog(store_file: Path) -> None:
    campaigns = CampaignServer(FakeCampaignService([sample_campaign()]))
    campaigns.port = free_port()  # where it will start; nothing listens there yet
    matcher = CliProcess(matcher_argv(campaigns, str(store_file)))
    try:
        port = int(matcher.wait_for(r"starting 2 worker processes on port (\d+)").group(1))
        for worker in "01":
            matcher.wait_for(
                rf"^\[worker {worker} pid \d+\] .*no campaign catalog yet: this worker binds"
                " the port once it holds one"
            )
        # No worker listens: a probe's connection is refused, not answered by a worker
        # that cannot match (nor by chance by one that can).
        with pytest.raises(grpc.RpcError) as refused:
            health(port)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "serving on port" not in matcher.text

        campaigns.start()
        assert matcher.serving_port() == port
        for _ in range(8):  # whichever worker each connection reaches
            assert health(port) == health_pb2.HealthCheckResponse.SERVING
        assert matcher.stop() == 0, matcher.text
    finally:
        matcher.kill()
        campaigns.stop()
    assert matcher.text.count("campaign catalog held: binding the port") == 2, matcher.text


def test_a_start_that_fails_in_every_worker_exits_2_and_is_not_retried(
    campaigns: CampaignServer, tmp_path: Path
) -> None:
    # Nothing listens on port 1: each worker fails to reach MongoDB, as a bad URI would.
    matcher = CliProcess(matcher_argv(campaigns, "mongodb://127.0.0.1:1/game", "--timeout", "0.3"))
    try:
        assert matcher.process.wait(timeout=30) == 2, matcher.text
    finally:
        matcher.kill()
    log = matcher.text
    assert "before it served: stopping the others" in log
    assert log.count("started (pid") == 2, log  # no restart


def test_a_port_another_server_listens_on_is_refused_not_shared(
    campaigns: CampaignServer, store_file: Path
) -> None:
    import socket

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        argv = matcher_argv(campaigns, str(store_file))
        argv[argv.index("--port") + 1] = str(taken.getsockname()[1])
        matcher = CliProcess(argv)
        try:
            assert matcher.process.wait(timeout=30) == 1, matcher.text
        finally:
            matcher.kill()
    assert "cannot bind 127.0.0.1:" in matcher.text
    assert "started (pid" not in matcher.text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("none", "--processes: want a whole number of processes or auto, got 'none'"),
        ("0", "--processes: must be between 1 and 256, got 0"),
        ("1000", "--processes: must be between 1 and 256, got 1000"),
    ],
)
def test_a_bad_number_of_processes_is_refused_at_start(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["matcher", "--processes", value]) == 2
    assert message in capsys.readouterr().err


def test_more_than_one_process_on_the_in_memory_store_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROFILE_MATCHER_PROCESSES", "2")
    assert main(["matcher"]) == 2
    err = capsys.readouterr().err
    assert "--processes 2: the in-memory store lives inside one process" in err
    assert "--store a file" in err
