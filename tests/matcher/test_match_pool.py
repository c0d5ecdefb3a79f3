"""ProfileMatcherService on threads of its own (match_workers), the rest on the server's."""

from __future__ import annotations

import argparse
import threading
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from profilematcher.profiles.v1 import profile_service_pb2_grpc
from services.matcher.main import configure, settings_from
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore


def test_one_match_worker_serves_matching_while_other_services_stay_free(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, match_workers=1)
    release, entered = threading.Event(), threading.Event()
    readers: list[threading.Thread] = []

    def hold_reads_for_matching() -> None:
        thread = threading.current_thread()
        readers.append(thread)
        if thread.name.startswith("match-worker"):
            entered.set()
            release.wait(timeout=10)

    store.before_read.append(hold_reads_for_matching)
    request = pb.GetClientConfigRequest(player_id=sample_player)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            matcher = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            first = matcher.GetClientConfig.future(request, timeout=10)
            assert entered.wait(timeout=10)
            second = matcher.GetClientConfig.future(request, timeout=10)
            # The one match worker is busy; the server's own pool still answers.
            profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
            got = profiles.GetProfile(ppb.GetProfileRequest(player_id=sample_player), timeout=5)
            assert got.profile.player_id == sample_player
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            assert not second.done()  # queued behind the first, on the same single thread
            release.set()
            assert list(first.result().profile.active_campaigns) == ["mycampaign"]
            assert list(second.result().profile.active_campaigns) == ["mycampaign"]
    finally:
        release.set()
        server.stop(0)
    # GetProfile read on the server's pool; both GetClientConfigs on the one match thread.
    assert [t.name.startswith("match-worker") for t in readers] == [True, False, True]
    assert readers[0] is readers[2]
    assert not readers[0].is_alive()  # the pool is shut down with the server


def test_without_match_workers_matching_runs_on_the_servers_pool(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns)  # match_workers defaults to 0
    names: list[str] = []
    store.before_read.append(lambda: names.append(threading.current_thread().name))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel).GetClientConfig(
                pb.GetClientConfigRequest(player_id=sample_player), timeout=10
            )
    finally:
        server.stop(0)
    assert len(names) == 1
    assert names[0].startswith("grpc-worker")


def _settings(*argv: str) -> Any:
    parser = argparse.ArgumentParser()
    configure(parser)
    return settings_from(parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    ("argv", "workers"),
    [
        ((), 1),  # auto, embedded store in memory
        (("--store", ":memory:"), 1),
        (("--store", "/tmp/profiles.sqlite3"), 0),  # auto: a file can make calls wait
        (("--store", "mongodb://db.example:27017/game"), 0),  # auto, MongoDB
        (("--match-workers", "3"), 3),
        (("--match-workers", "0"), 0),
        (("--store", "mongodb://db.example/game", "--match-workers", "2"), 2),
    ],
)
def test_match_workers_setting(argv: tuple[str, ...], workers: int) -> None:
    assert _settings(*argv).match_workers == workers


@pytest.mark.parametrize(
    ("value", "message"),
    [("-1", "must be 0 or more, got -1"), ("many", "want a number or auto, got 'many'")],
)
def test_bad_match_workers_setting(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"--match-workers: {message}"):
        _settings("--match-workers", value)
