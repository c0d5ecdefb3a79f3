"""The matcher keeps serving through campaign-service faults and recovers by itself."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable
from services.matcher.bootstrap import MatcherServer
from services.matcher.catalog_cache import CatalogCache
from services.matching.compiled import CompiledCatalog
from tests.matcher.conftest import start
from tests.matcher.fakes import (
    CampaignServer,
    FakeCampaignService,
    SpyStore,
    eventually,
    sample_campaign,
)

Stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub


def health(server: MatcherServer) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    status: int = response.status
    return status


def test_restart_of_the_campaign_service_fails_no_request_and_brings_the_new_catalog(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, catalog_ttl=0.2, health_interval=0.05)
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def load() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = Stub(channel)
            while not stop.is_set():
                try:
                    stub.GetClientConfig(
                        pb.GetClientConfigRequest(player_id=sample_player), timeout=5
                    )
                    outcomes["OK"] += 1
                except grpc.RpcError as exc:
                    outcomes[exc.code().name] += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        eventually(lambda: _assert(outcomes["OK"] > 20))
        campaigns.stop()
        served_while_down = outcomes["OK"]
        eventually(lambda: _assert(outcomes["OK"] > served_while_down + 50))
        campaigns.service.set_catalog([sample_campaign(name="renamed")], "v2")
        campaigns.start()

        def renamed() -> None:
            response = Stub(grpc.insecure_channel(f"127.0.0.1:{server.port}")).GetClientConfig(
                pb.GetClientConfigRequest(player_id=sample_player)
            )
            assert list(response.profile.active_campaigns) == ["renamed"]

        eventually(renamed)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        server.stop(0)
    assert set(outcomes) == {"OK"}, outcomes


def test_cold_start_with_the_campaign_service_down_is_not_serving(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    campaigns.stop()
    server = start(store, campaigns, campaigns_timeout=0.3, health_interval=0.05)
    try:
        assert health(server) == health_pb2.HealthCheckResponse.NOT_SERVING
        with (
            grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
            pytest.raises(grpc.RpcError) as info,
        ):
            Stub(channel).GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "campaign" in (info.value.details() or "")
        campaigns.start()
        eventually(lambda: _assert(health(server) == health_pb2.HealthCheckResponse.SERVING))
    finally:
        server.stop(0)


def test_a_catalog_change_reaches_the_matcher_through_the_watch_stream(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    # A TTL of an hour: only the watch stream can bring the change in time.
    server = start(store, campaigns, catalog_ttl=3600.0)
    try:
        campaigns.service.set_catalog([sample_campaign(name="pushed")], "v2")
        eventually(lambda: _assert(server.cache.state().version == "v2"))
    finally:
        server.stop(0)


def test_without_watch_the_ttl_poll_brings_the_change(store: SpyStore, sample_player: str) -> None:
    service = FakeCampaignService([sample_campaign()], watchable=False)
    campaigns = CampaignServer(service)
    campaigns.start()
    server = start(store, campaigns, catalog_ttl=0.1, health_interval=0.05)
    try:
        service.set_catalog([sample_campaign(name="polled")], "v2")
        eventually(lambda: _assert(server.cache.state().version == "v2"))
    finally:
        server.stop(0)
        campaigns.stop()


# -- the cache alone, with a controlled clock ---------------------------------------------


class ScriptedFetcher:
    def __init__(self) -> None:
        self.catalog = Catalog("v1", (sample_campaign(),))
        self.down = False
        self.calls = 0
        self.release = threading.Event()
        self.release.set()

    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        self.calls += 1
        self.release.wait(5)
        if self.down:
            raise DependencyUnavailable("down (test)")
        return None if known_version == self.catalog.version else self.catalog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_cache(fetcher: ScriptedFetcher, clock: Clock, **options: Any) -> CatalogCache:
    return CatalogCache(fetcher, ttl=10, max_staleness=60, retry_after=1, timer=clock, **options)


def test_cache_serves_stale_while_down_and_reports_staleness() -> None:
    fetcher, clock = ScriptedFetcher(), Clock()
    cache = make_cache(fetcher, clock)
    first = cache.current()
    fetcher.down = True
    clock.now += 30  # expired, not too stale
    assert cache.current() is first
    eventually(lambda: _assert(fetcher.calls == 2))  # one background attempt
    assert cache.state().serving
    assert not cache.state().stale
    clock.now += 31  # past max staleness: still answers and serving, but reported stale
    assert cache.current() is first
    assert cache.state().serving
    assert cache.state().stale


def test_cache_cold_failure_is_unavailable_and_fails_fast_until_retry() -> None:
    fetcher, clock = ScriptedFetcher(), Clock()
    fetcher.down = True
    cache = make_cache(fetcher, clock)
    with pytest.raises(DependencyUnavailable):
        cache.current()
    with pytest.raises(DependencyUnavailable, match="no catalog yet"):
        cache.current()
    assert fetcher.calls == 1  # the second caller did not wait on a known-down service
    fetcher.down = False
    clock.now += 2
    assert cache.current().version == "v1"


def test_cache_one_fetch_for_many_cold_callers() -> None:
    fetcher, clock = ScriptedFetcher(), Clock()
    fetcher.release.clear()
    cache = make_cache(fetcher, clock)
    results: list[CompiledCatalog] = []
    threads = [threading.Thread(target=lambda: results.append(cache.current())) for _ in range(10)]
    for thread in threads:
        thread.start()
    fetcher.release.set()
    for thread in threads:
        thread.join()
    assert fetcher.calls == 1
    assert len(results) == 10
    assert len({id(r) for r in results}) == 1


def test_cache_refreshes_ahead_of_expiry_without_blocking() -> None:
    fetcher, clock = ScriptedFetcher(), Clock()
    cache = make_cache(fetcher, clock)
    cache.current()
    fetcher.catalog = Catalog("v2", (sample_campaign(name="next"),))
    fetcher.release.clear()
    clock.now += 9  # 90% of the TTL: still fresh, refresh starts in the background
    assert cache.current().version == "v1"  # answered at once, with the fetch held
    fetcher.release.set()
    eventually(lambda: _assert(cache.current().version == "v2"))
    assert fetcher.calls == 2


def test_cache_compiles_once_per_version() -> None:
    fetcher, clock = ScriptedFetcher(), Clock()
    cache = make_cache(fetcher, clock)
    first = cache.current()
    cache.offer(Catalog("v1", fetcher.catalog.campaigns))
    clock.now += 11
    cache.poke()
    eventually(lambda: _assert(fetcher.calls == 2))
    assert cache.current() is first


def test_cache_a_slow_poll_does_not_roll_back_a_pushed_catalog() -> None:
    fetcher, clock = ScriptedFetcher(), Clock()
    cache = make_cache(fetcher, clock)
    cache.current()  # v1
    fetcher.release.clear()
    clock.now += 11  # expired: the next call starts a background poll, which blocks
    cache.current()
    eventually(lambda: _assert(fetcher.calls == 2))
    cache.offer(Catalog("v2", (sample_campaign(name="pushed"),)))  # the watch stream
    fetcher.release.set()  # the poll now answers "v1 is unchanged"
    eventually(lambda: _assert(not cache._fetching.locked()))
    assert cache.current().version == "v2"


def _assert(condition: bool) -> None:
    assert condition
