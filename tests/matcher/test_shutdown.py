"""Stopping: drain first (health NOT_SERVING, calls still served), then refuse new
calls and let the ones in flight finish within the grace period."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.codecs.profile_message import profile_to_message
from services.domain.profile import Profile
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import MatcherServer
from services.matcher.settings import GRACE_MARGIN, MatcherSettings, add_flags
from services.storage.base import ServingStore
from services.storage.sqlite_store import SQLiteProfileStore
from services.storage.wrapper import StoreWrapper
from services.transport.grpc_server import ServerOptions, shut_down
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def target(server: MatcherServer) -> str:
    return f"127.0.0.1:{server.port}"


def get_client_config(server: MatcherServer, player_id: str) -> pb.GetClientConfigResponse:
    """On a new connection each time, as a caller that a balancer just sent our way."""
    with grpc.insecure_channel(target(server)) as channel:
        stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
        response: pb.GetClientConfigResponse = stub.GetClientConfig(
            pb.GetClientConfigRequest(player_id=player_id), timeout=5
        )
    return response


def health(server: MatcherServer) -> int:
    with grpc.insecure_channel(target(server)) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    status: int = response.status
    return status


def refused(server: MatcherServer, player_id: str) -> Callable[[], None]:
    def check() -> None:
        code = grpc.StatusCode.OK
        try:
            get_client_config(server, player_id)
        except grpc.RpcError as exc:
            code = exc.code()
        assert code == grpc.StatusCode.UNAVAILABLE, f"a new call got {code.name}"

    return check


def shutting_down(server: MatcherServer, cut_short: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=shut_down, args=([server],), kwargs={"drain_wait": cut_short.wait}, daemon=True
    )
    thread.start()
    return thread


def test_during_the_drain_health_is_not_serving_and_calls_are_still_served(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    options = ServerOptions(host="127.0.0.1", drain_seconds=60, grace_seconds=5)
    server = start(store, campaigns, server=options, health_interval=0.02)
    end_drain = threading.Event()
    try:
        stopping = shutting_down(server, end_drain)
        eventually(lambda: _assert(health(server) == NOT_SERVING))
        response = get_client_config(server, sample_player)
        assert list(response.profile.active_campaigns) == ["mycampaign"]
        assert health(server) == NOT_SERVING  # the catalog monitor does not set it back
        end_drain.set()  # as the drain delay running out would
        stopping.join(timeout=30)
        assert not stopping.is_alive()
        refused(server, sample_player)()
    finally:
        end_drain.set()
        server.stop(0)


class SlowCreate(StoreWrapper[profile_pb2.Profile]):
    """Holds `create` until released, then writes: a write that commits late."""

    def __init__(self, inner: ServingStore[profile_pb2.Profile]) -> None:
        super().__init__(inner)
        self.entered = threading.Event()
        self.release = threading.Event()

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        self.entered.set()
        assert self.release.wait(10)
        super().create(profile, timeout=timeout)


def test_a_write_in_flight_when_new_calls_are_refused_finishes_and_is_answered_ok(
    campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    slow = SlowCreate(SQLiteProfileStore.in_memory())
    options = ServerOptions(host="127.0.0.1", drain_seconds=0, grace_seconds=30)
    server = start(SpyStore(slow), campaigns, server=options)
    player_id = sample_profile_doc["player_id"]
    end_drain = threading.Event()
    try:
        with grpc.insecure_channel(target(server)) as channel:
            stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
            profile = profile_to_message(profile_from_document(sample_profile_doc))
            call = stub.CreateProfile.future(ppb.CreateProfileRequest(profile=profile))
            assert slow.entered.wait(10)
            stopping = shutting_down(server, end_drain)
            eventually(refused(server, player_id))  # the grace period has begun
            slow.release.set()  # the write commits now, within the grace period
            response = call.result(timeout=10)
        assert response.profile.player_id == player_id
        assert slow.inner.get(player_id) is not None
        stopping.join(timeout=30)
        assert not stopping.is_alive()
    finally:
        slow.release.set()
        end_drain.set()
        server.stop(0)
        slow.close()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return parser.parse_args(list(argv))


def test_the_default_grace_covers_the_store_time_limit() -> None:
    settings = MatcherSettings.from_args(parse("--timeout", "10"))
    assert settings.server.grace_seconds == 10 + GRACE_MARGIN
    assert (
        MatcherSettings.from_args(parse("--grace", "3", "--drain-delay", "0")).server.grace_seconds
        == 3
    )
    assert MatcherSettings.from_args(parse("--drain-delay", "0.5")).server.drain_seconds == 0.5


@pytest.mark.parametrize("flag", ["--grace", "--drain-delay"])
def test_a_negative_drain_or_grace_is_refused_naming_the_flag(flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        MatcherSettings.from_args(parse(flag, "-1"))


def _assert(condition: bool) -> None:
    assert condition
