"""A failed dependency tells the client what failed, never where it lives or what the
driver said: the path, URI, host:port and driver text go to the server's log, once."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.matcher.bootstrap import MatcherServer
from services.storage.mongo_store import MongoProfileStore, mongo_client
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.status import RepeatLimitedLog
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, FakeCampaignService, SpyStore
from tests.ports import free_port

PLAYER = "97983be2-98b7-11e7-90cf-082e5f28d836"
STATUS_LOG = "services.transport.status"


def refusal(method: Callable[..., Any], request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        method(request, timeout=10)
    return info.value


@contextmanager
def serve(store: SpyStore, campaigns: CampaignServer) -> Iterator[grpc.Channel]:
    server: MatcherServer = start(store, campaigns)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield channel
    finally:
        server.stop(0)


def test_a_locked_sqlite_file_is_not_named_to_the_client(
    tmp_path: Path, campaigns: CampaignServer, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secret-dir" / "profiles.db"
    path.parent.mkdir()
    store = SQLiteProfileStore.open(path, timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with serve(SpyStore(store), campaigns) as channel:
            stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
            request = ppb.CreateProfileRequest(profile=profile_pb2.Profile(player_id=PLAYER))
            with caplog.at_level(logging.WARNING, logger=STATUS_LOG):
                error = refusal(stub.CreateProfile, request)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    message = error.details() or ""
    assert message == "could not create a profile: the profile store did not answer in time"
    for internal in ("secret-dir", str(tmp_path), "SQLite", "locked"):
        assert internal not in message
    logged = [r.getMessage() for r in caplog.records if r.name == STATUS_LOG]
    assert len(logged) == 1
    assert str(path) in logged[0]
    assert "locked" in logged[0]


def test_an_unreachable_mongodb_is_not_named_to_the_client(
    campaigns: CampaignServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    client = mongo_client(
        f"mongodb://app:hunter2@127.0.0.1:{port}/profilematcher",
        server_selection_timeout=0.05,
        operation_timeout=0.05,
    )
    store = MongoProfileStore(client["profilematcher"]["profiles"], owns_client=True)
    try:
        with serve(SpyStore(store), campaigns) as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            request = pb.GetClientConfigRequest(player_id=PLAYER)
            with caplog.at_level(logging.WARNING, logger=STATUS_LOG):
                error = refusal(stub.GetClientConfig, request)
    finally:
        store.close()
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    message = error.details() or ""
    assert message == "could not read profiles: the profile store is unreachable"
    for internal in (str(port), "127.0.0.1", "mongodb", "MongoDB", "hunter2", "refused"):
        assert internal not in message
    logged = [r.getMessage() for r in caplog.records if r.name == STATUS_LOG]
    assert len(logged) == 1
    assert f"127.0.0.1:{port}" in logged[0]
    assert "hunter2" not in logged[0]


def test_campaign_service_down_at_a_cold_start_is_not_named_to_the_client(
    store: SpyStore, sample_player: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    down = CampaignServer(FakeCampaignService())
    down.port = port  # never started: nothing listens there
    with serve(store, down) as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        request = pb.GetClientConfigRequest(player_id=sample_player)
        with caplog.at_level(logging.WARNING, logger=STATUS_LOG):
            error = refusal(stub.GetClientConfig, request)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    message = error.details() or ""
    assert message.startswith("no campaign catalog yet: the campaign service")
    for internal in (str(port), "127.0.0.1", "ipv4", "connect"):
        assert internal not in message
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == STATUS_LOG)
    assert f"127.0.0.1:{port}" in logged


def test_a_repeated_failure_is_logged_once_per_interval_with_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    repeats = RepeatLimitedLog(10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=STATUS_LOG):
        for _ in range(3):
            repeats.record("MongoDB unreachable: db:27017")
        repeats.record("something else")
        now[0] = 10.0
        repeats.record("MongoDB unreachable: db:27017")
    assert [r.getMessage() for r in caplog.records] == [
        "MongoDB unreachable: db:27017",
        "something else",
        "MongoDB unreachable: db:27017 (and 2 more times since it was last logged)",
    ]
