"""ProfileMatcherService on threads of its own (match_workers), the rest on the server's;
the matcher's thread and stream settings."""

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
from services.matcher.settings import IO_AIO, MatcherSettings, add_flags
from tests.matcher.conftest import HELD_READS, start, store_uri
from tests.matcher.fakes import (
    CampaignServer,
    FakeCampaignService,
    SpyStore,
    eventually,
    sample_campaign,
)


def test_one_match_worker_serves_matching_while_other_services_stay_free(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, match_workers=1, **HELD_READS)
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


def test_by_default_matching_runs_on_threads_of_its_own_with_every_store(
    store: SpyStore, campaigns: CampaignServer, sample_player: str, io: str
) -> None:
    # But on the aio server's loop, inline, with the in-memory store, which never waits.
    inline = io == IO_AIO and store_uri(store) == ""
    server = start(store, campaigns)  # the default settings
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
    assert names[0].startswith("grpc-aio-loop" if inline else "match-worker")


def test_before_the_first_catalog_a_match_waits_for_it_on_a_pool_thread_never_the_loop(
    store: SpyStore, sample_player: str, io: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fetching the first catalog can take up to the campaigns timeout: on the loop it
    # would hold every call, health checks too, for that long.
    inline = io == IO_AIO and store_uri(store) == ""
    campaigns = CampaignServer(FakeCampaignService([sample_campaign()]))
    campaigns.start()
    campaigns.stop()  # down at start: no catalog yet
    server = start(store, campaigns, campaigns_timeout=1.0)
    names: list[str] = []
    cache_current = server.cache.current

    def current(*, timeout: float | None = None) -> Any:
        names.append(threading.current_thread().name)
        return cache_current(timeout=timeout)

    monkeypatch.setattr(server.cache, "current", current)
    request = pb.GetClientConfigRequest(player_id=sample_player)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetClientConfig(request, timeout=10)
            assert caught.value.code() in {
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            }
            campaigns.start()
            eventually(lambda: stub.GetClientConfig(request, timeout=10))
            stub.GetClientConfig(request, timeout=10)  # the first since a catalog is held
    finally:
        server.stop(0)
        campaigns.stop()
    assert names[0].startswith("match-worker")
    # Once a catalog is held, nothing on the way waits: inline again, where it was.
    assert names[-1].startswith("grpc-aio-loop" if inline else "match-worker")


def _settings(*argv: str) -> Any:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return MatcherSettings.from_args(parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    ("argv", "workers"),
    [
        ((), 1),  # auto, embedded store in memory
        (("--store", ":memory:"), 1),
        (("--store", "/tmp/profiles.sqlite3"), 8),  # auto: a file can make calls wait
        (("--store", "mongodb://db.example:27017/game"), 8),  # auto, MongoDB
        (("--match-workers", "3"), 3),
        (("--store", "mongodb://db.example/game", "--match-workers", "2"), 2),
    ],
)
def test_match_workers_setting(argv: tuple[str, ...], workers: int) -> None:
    assert _settings(*argv).match_workers == workers


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be at least 1, got 0"),  # the read path always has threads of its own
        ("-1", "must be at least 1, got -1"),
        ("many", "want a number or auto, got 'many'"),
    ],
)
def test_bad_match_workers_setting(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"--match-workers: {message}"):
        _settings("--match-workers", value)


def test_import_stream_settings_from_flags_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = _settings()
    assert (defaults.max_import_streams, defaults.import_idle_timeout) == (2, 30.0)
    flags = _settings("--max-import-streams", "5", "--import-idle-timeout", "0.5")
    assert (flags.max_import_streams, flags.import_idle_timeout) == (5, 0.5)
    monkeypatch.setenv("PROFILE_MATCHER_MAX_IMPORT_STREAMS", "3")
    monkeypatch.setenv("PROFILE_MATCHER_IMPORT_IDLE_TIMEOUT", "12")
    env = _settings()
    assert (env.max_import_streams, env.import_idle_timeout) == (3, 12.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--max-import-streams", "0"), "--max-import-streams: must be at least 1, got 0"),
        (("--import-idle-timeout", "0"), "--import-idle-timeout: must be more than 0 seconds"),
        (("--import-idle-timeout", "-1"), "--import-idle-timeout: must be more than 0 seconds"),
        (("--import-idle-timeout", "nan"), "--import-idle-timeout: must be more than 0 seconds"),
    ],
)
def test_bad_import_stream_settings(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _settings(*argv)
