"""The matcher's catalog with schedules: compiled for a horizon around the wall clock,
and compiled again in the background as the horizon runs out; the same version stays
in force, and a catalog without schedules is never recompiled."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.domain.campaign import Catalog
from services.domain.profile import Profile
from services.domain.schedule import Schedule
from services.matcher.catalog_cache import CatalogCache
from services.matching import CompiledCatalog
from services.matching.schedule_windows import HORIZON_AHEAD, RENEW_BEFORE
from tests.matcher.fakes import sample_campaign

START = datetime(2026, 6, 1, tzinfo=UTC)
NIGHTLY = Schedule("0 22 * * *", timedelta(hours=1), "UTC")


class Fetcher:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog | None:
        return None if known_version == self.catalog.version else self.catalog


class WallClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def scheduled_catalog() -> Catalog:
    campaign = sample_campaign(
        level=None,
        countries=(),
        required_items=(),
        forbidden_items=(),
        start_date=START - timedelta(days=1),
        end_date=START + timedelta(days=365),
        schedule=NIGHTLY,
    )
    return Catalog("v1", (campaign,))


def test_a_catalog_is_compiled_again_when_its_horizon_runs_out() -> None:
    clock = WallClock()
    cache = CatalogCache(Fetcher(scheduled_catalog()), ttl=3600, wall_clock=clock)
    first = cache.current()
    assert first.renew_at == START + HORIZON_AHEAD - RENEW_BEFORE
    assert cache.current() is first  # not due yet

    clock.now = START + HORIZON_AHEAD - RENEW_BEFORE + timedelta(minutes=1)
    cache.current()  # due: a background renewal starts
    _wait_for(lambda: cache.current() is not first)
    renewed = cache.current()
    assert renewed.version == first.version
    assert renewed.renew_at == clock.now + HORIZON_AHEAD - RENEW_BEFORE
    # Both give the same answers; the renewed one from its time index.
    player = Profile(player_id="p")
    for hour in (21, 22, 23):
        moment = clock.now.replace(hour=hour, minute=30) + timedelta(days=3)
        assert renewed.match(player, moment) == first.match(player, moment)


def test_a_catalog_without_schedules_is_never_recompiled() -> None:
    clock = WallClock()
    catalog = Catalog("v1", (sample_campaign(),))
    cache = CatalogCache(Fetcher(catalog), ttl=3600, wall_clock=clock)
    first = cache.current()
    assert first.renew_at is None
    clock.now += timedelta(days=400)
    assert cache.current() is first


def test_compiled_catalogs_answer_exactly_far_outside_their_horizon() -> None:
    compiled = CompiledCatalog(scheduled_catalog(), at=START)
    player = Profile(player_id="p")
    late = START + timedelta(days=200)
    assert compiled.match(player, late.replace(hour=22, minute=30)) == ("mycampaign",)
    assert compiled.match(player, late.replace(hour=23, minute=0)) == ()
