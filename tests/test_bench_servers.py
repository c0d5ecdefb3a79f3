"""The end-to-end benchmark's servers answer what the matcher answers (no timings)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from bench.e2e import ProcessCounters, fetch_response
from bench.serve import SAMPLE_PLAYER, start_bench_matcher, start_echo, start_floor
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.demo import write_demo_catalog
from services.campaigns.settings import CampaignSettings
from services.demo.players import generate_players, sample_profile
from services.matcher.settings import EMBEDDED_MATCH_WORKERS, IO_AIO
from services.transport.grpc_server import ServerOptions

OPTIONS = ServerOptions(host="127.0.0.1", port=0, grace_seconds=0)
Stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Stub]]:
    """The matcher, the floor and the echo, as bench/serve.py starts them."""
    catalog = write_demo_catalog(
        Path(tmp_path_factory.mktemp("catalog")) / "catalog.json", datetime.now(UTC)
    )
    campaigns = start_campaign_server(CampaignSettings(catalog=catalog, host="127.0.0.1", port=0))
    docs = [sample_profile(), *generate_players(50)]
    servers = {
        "matcher": start_bench_matcher(OPTIONS, campaigns, docs, EMBEDDED_MATCH_WORKERS),
        "matcher-aio": start_bench_matcher(
            OPTIONS, campaigns, docs, EMBEDDED_MATCH_WORKERS, io=IO_AIO
        ),
        "floor": start_floor(OPTIONS, campaigns, docs, EMBEDDED_MATCH_WORKERS),
        "floor-aio": start_floor(OPTIONS, campaigns, docs, EMBEDDED_MATCH_WORKERS, io=IO_AIO),
    }
    # As bench/e2e.py does: the echo answers with what the matcher answered.
    response = fetch_response(servers["matcher"].port, tmp_path_factory.mktemp("response"))
    answer = pb.GetClientConfigResponse.FromString(response.read_bytes())
    servers["echo"] = start_echo(OPTIONS, EMBEDDED_MATCH_WORKERS, answer)
    servers["echo-aio"] = start_echo(OPTIONS, EMBEDDED_MATCH_WORKERS, answer, io=IO_AIO)
    channels = {
        name: grpc.insecure_channel(f"127.0.0.1:{server.port}") for name, server in servers.items()
    }
    yield {name: Stub(channel) for name, channel in channels.items()}
    for channel in channels.values():
        channel.close()
    for server in servers.values():
        server.stop(0)
    campaigns.stop(0)


def _config(stub: Stub, player_id: str) -> pb.GetClientConfigResponse:
    response: pb.GetClientConfigResponse = stub.GetClientConfig(
        pb.GetClientConfigRequest(player_id=player_id), timeout=10
    )
    return response


def test_the_echo_answers_the_matchers_response_for_the_sample_player(
    stubs: dict[str, Stub],
) -> None:
    answer = _config(stubs["matcher"], SAMPLE_PLAYER)
    assert len(answer.profile.active_campaigns) > 1
    assert _config(stubs["echo"], SAMPLE_PLAYER) == answer
    assert _config(stubs["echo-aio"], SAMPLE_PLAYER) == answer


def test_the_floor_answers_what_the_matcher_answers(stubs: dict[str, Stub]) -> None:
    players = [SAMPLE_PLAYER, *(str(doc["player_id"]) for doc in generate_players(50))]
    matched = 0
    for player_id in players:
        answer = _config(stubs["matcher"], player_id)
        assert _config(stubs["floor"], player_id) == answer, player_id
        assert _config(stubs["matcher-aio"], player_id) == answer, player_id
        assert _config(stubs["floor-aio"], player_id) == answer, player_id
        matched += bool(answer.profile.active_campaigns)
    assert matched > 10  # the comparison covers players who match something


def test_the_baselines_refuse_the_other_rpcs(stubs: dict[str, Stub]) -> None:
    for name in ("echo", "echo-aio", "floor", "floor-aio"):
        with pytest.raises(grpc.RpcError) as caught:
            stubs[name].BatchGetClientConfig(
                pb.BatchGetClientConfigRequest(player_ids=[SAMPLE_PLAYER]), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_process_counters_add_up_every_thread() -> None:
    first = ProcessCounters.read(os.getpid())
    start = time.process_time()
    while time.process_time() - start < 0.05:  # several clock ticks of CPU time
        pass
    second = ProcessCounters.read(os.getpid())
    assert first is not None
    assert second is not None
    assert second.cpu_seconds > first.cpu_seconds
    # Summed over the threads alive at each read, so one ending between them may lower it.
    assert first.switches > 0
    assert second.switches > 0
    assert ProcessCounters.read(2**22 + 1) is None  # above Linux's pid limit


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_busiest_thread_is_the_one_that_spun() -> None:
    spun, read = threading.Event(), threading.Event()

    def spin() -> None:
        start = time.thread_time()
        while time.thread_time() - start < 0.2:  # many clock ticks of this thread's CPU
            pass
        spun.set()
        read.wait(timeout=30)  # still listed in /proc when it is read

    first = ProcessCounters.read(os.getpid())
    spinner = threading.Thread(target=spin)
    spinner.start()
    spun.wait(timeout=30)
    second = ProcessCounters.read(os.getpid())
    read.set()
    spinner.join()
    assert first is not None
    assert second is not None
    busiest = second.busiest_since(first)
    # The spinner is new since `first`: all its CPU counts, and it is the most.
    assert busiest >= second.thread_seconds[str(spinner.native_id)] >= 0.1
    # The process's total and each thread's are scaled from the scheduler's runtime
    # separately (cputime_adjust), so they may disagree by a clock tick or so.
    slack = 2 / os.sysconf("SC_CLK_TCK")
    assert busiest <= second.cpu_seconds - first.cpu_seconds + slack
