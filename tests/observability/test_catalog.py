"""CatalogMetrics alone, then as the observer of a real CatalogCache on a test clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable
from services.matcher.catalog_cache import CacheObserver, CatalogCache
from services.observability.metrics import Metrics
from tests.matcher.fakes import eventually
from tests.observability.conftest import names, value

AGE = "profilematcher_catalog_age_seconds"
STALE = "profilematcher_catalog_stale"
INFO = "profilematcher_catalog_info"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SteeredFetcher:
    """Answers with whatever the test queued, each answer only once the test allows it."""

    def __init__(self) -> None:
        self.answers: list[Catalog | Exception | None] = []
        self.allowed = threading.Semaphore(0)

    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        assert self.allowed.acquire(timeout=10), "the test never let this fetch answer"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def answer(self, answer: Catalog | Exception | None) -> None:
        self.answers.append(answer)
        self.allowed.release()


def counts(metrics: Metrics, name: str) -> dict[str, float]:
    return {
        sample.labels["result"]: sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == name
    }


def test_counters_and_versions(metrics: Metrics) -> None:
    catalog = metrics.catalog
    for _ in range(3):
        catalog.hit()
    catalog.miss()
    catalog.stale()
    catalog.refreshed("ok")
    catalog.refreshed("unchanged")
    catalog.refreshed("unchanged")
    catalog.refreshed("error")
    assert counts(metrics, "profilematcher_catalog_cache_total") == {
        "hit": 3,
        "miss": 1,
        "stale": 1,
    }
    assert counts(metrics, "profilematcher_catalog_refreshes_total") == {
        "ok": 1,
        "unchanged": 2,
        "error": 1,
    }

    assert INFO not in names(metrics.registry)
    catalog.installed("v1")
    catalog.installed("v2")
    assert value(metrics.registry, INFO, version="v2") == 1
    assert value(metrics.registry, INFO) == 1  # only the current version has a series


def test_every_series_exists_before_anything_happens(metrics: Metrics) -> None:
    assert counts(metrics, "profilematcher_catalog_cache_total") == dict.fromkeys(
        ("hit", "miss", "stale"), 0.0
    )
    assert counts(metrics, "profilematcher_catalog_refreshes_total") == dict.fromkeys(
        ("ok", "unchanged", "error"), 0.0
    )


def test_age_is_read_at_scrape_time(metrics: Metrics) -> None:
    clock = Clock()
    confirmed: list[float] = []
    metrics.catalog.set_age_source(
        lambda: clock() - confirmed[-1] if confirmed else None, stale_after=60
    )
    assert AGE not in names(metrics.registry)  # no catalog, no age
    assert value(metrics.registry, STALE) == 1

    confirmed.append(clock())
    clock.now += 42
    assert value(metrics.registry, AGE) == 42
    assert value(metrics.registry, STALE) == 0
    clock.now += 18.5
    assert value(metrics.registry, AGE) == 60.5
    assert value(metrics.registry, STALE) == 1


def test_a_failing_age_source_does_not_break_the_scrape(metrics: Metrics) -> None:
    def broken() -> float:
        raise RuntimeError("broken (test)")

    metrics.catalog.set_age_source(broken, stale_after=60)
    metrics.catalog.hit()
    assert value(metrics.registry, "profilematcher_catalog_cache_total", result="hit") == 1
    assert AGE not in names(metrics.registry)


@pytest.fixture
def fetcher() -> Iterator[SteeredFetcher]:
    fetcher = SteeredFetcher()
    yield fetcher
    for _ in range(5):  # unblocks a background refresh a failed test left waiting
        fetcher.answer(DependencyUnavailable("test over"))


def test_wired_to_a_catalog_cache(metrics: Metrics, fetcher: SteeredFetcher) -> None:
    clock = Clock()
    observer: CacheObserver = metrics.catalog  # the cache's observer Protocol, checked by mypy
    cache = CatalogCache(fetcher, ttl=100, retry_after=0, timer=clock, observer=observer)
    metrics.catalog.set_age_source(lambda: cache.state().age, stale_after=100)
    cache_total = "profilematcher_catalog_cache_total"
    refreshes = "profilematcher_catalog_refreshes_total"

    fetcher.answer(Catalog("v1", ()))
    assert cache.current().version == "v1"  # cold: a miss, then a fetch
    assert value(metrics.registry, cache_total, result="miss") == 1
    assert value(metrics.registry, refreshes, result="ok") == 1
    assert value(metrics.registry, INFO, version="v1") == 1
    assert value(metrics.registry, AGE) == 0

    clock.now += 50
    cache.current()
    assert value(metrics.registry, cache_total, result="hit") == 1
    assert value(metrics.registry, AGE) == 50
    assert value(metrics.registry, STALE) == 0

    # Past the TTL: the old catalog is served while a background fetch waits on us.
    clock.now += 60
    assert cache.current().version == "v1"
    assert value(metrics.registry, cache_total, result="stale") == 1
    assert value(metrics.registry, AGE) == 110
    assert value(metrics.registry, STALE) == 1

    fetcher.answer(DependencyUnavailable("down (test)"))
    eventually(lambda: _expect(value(metrics.registry, refreshes, result="error") == 1))
    assert value(metrics.registry, STALE) == 1

    fetcher.answer(None)  # the campaign service confirms v1

    def confirmed() -> None:
        cache.current()  # retried: the failed refresh may still hold the fetch slot
        assert value(metrics.registry, refreshes, result="unchanged") == 1

    eventually(confirmed)
    assert value(metrics.registry, AGE) == 0
    assert value(metrics.registry, STALE) == 0

    cache.offer(Catalog("v2", ()))  # pushed by WatchCampaigns
    assert value(metrics.registry, INFO, version="v2") == 1
    assert value(metrics.registry, INFO) == 1


def _expect(condition: bool) -> None:
    assert condition
