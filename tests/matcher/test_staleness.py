"""A stale catalog is reported, not punished: the matcher stays SERVING while it can
answer, so a long campaign-service outage does not take the whole fleet out."""

from __future__ import annotations

import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.matcher.bootstrap import CATALOG_HEALTH, MATCHER_SERVICE, MatcherServer, start_matcher
from services.matcher.settings import MatcherSettings
from services.observability.metrics import CATALOG_STALE
from services.transport.grpc_server import ServerOptions
from tests.matcher.conftest import io_settings
from tests.matcher.fakes import NOW, CampaignServer, SpyStore, eventually

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MAX_STALENESS = 60.0


class Timer:
    """The catalog cache's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def health(server: MatcherServer, service: str = "") -> int:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    status: int = response.status
    return status


def stale_metric(server: MatcherServer) -> float | None:
    return server.metrics.registry.get_sample_value(CATALOG_STALE)


def test_past_max_staleness_the_matcher_reports_it_and_keeps_serving(
    store: SpyStore,
    campaigns: CampaignServer,
    sample_player: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="services.matcher.catalog_subscription")
    timer = Timer()
    server = start_matcher(
        MatcherSettings(
            **io_settings(store),
            server=ServerOptions(host="127.0.0.1", port=0, grace_seconds=0),
            campaigns_target=campaigns.target,
            catalog_ttl=10.0,
            max_staleness=MAX_STALENESS,
            health_interval=0.02,
        ),
        store,
        clock=lambda: NOW,
        timer=timer,
    )
    try:
        assert health(server, CATALOG_HEALTH) == SERVING
        assert stale_metric(server) == 0.0
        campaigns.stop()
        # Once the watch has seen its stream end, it has offered every push it had
        # received: none is read late and confirms the catalog after the jump below.
        eventually(lambda: _assert("catalog watch" in caplog.text))
        timer.now += MAX_STALENESS + 1
        eventually(lambda: _assert(health(server, CATALOG_HEALTH) == NOT_SERVING))
        assert stale_metric(server) == 1.0
        # Still in rotation, and still answering from the catalog it has.
        assert health(server) == SERVING
        assert health(server, MATCHER_SERVICE) == SERVING
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            request = pb.GetClientConfigRequest(player_id=sample_player)
            response = stub.GetClientConfig(request, timeout=5)
        assert list(response.profile.active_campaigns) == ["mycampaign"]
        # Word from the campaign service makes the catalog fresh again.
        campaigns.start()
        eventually(lambda: _assert(health(server, CATALOG_HEALTH) == SERVING))
        assert stale_metric(server) == 0.0
    finally:
        server.stop(0)


def _assert(condition: bool) -> None:
    assert condition
