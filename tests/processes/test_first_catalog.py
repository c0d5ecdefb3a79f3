"""A matcher worker of several waits for its first catalog before it binds."""

from __future__ import annotations

import logging

import pytest

from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable
from services.matcher.catalog_cache import CatalogCache
from services.matcher.first_catalog import POLL_INTERVAL, hold_first_catalog
from tests.matcher.fakes import sample_campaign


class DownThenUp:
    """A campaign service that fails `failures` fetches, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.fetches = 0

    def fetch(self, known_version: str | None, *, timeout: float | None = None) -> Catalog:
        self.fetches += 1
        if self.fetches <= self.failures:
            raise DependencyUnavailable("campaign service: UNAVAILABLE")
        return Catalog("v1", (sample_campaign(),))


def test_it_returns_once_the_cache_holds_a_catalog_warning_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    fetcher = DownThenUp(failures=3)
    cache = CatalogCache(fetcher, retry_after=1.0, timer=lambda: now[0])
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with caplog.at_level(logging.INFO, logger="services.matcher.first_catalog"):
        hold_first_catalog(cache, timeout=1.0, sleep=sleep)
    assert cache.state().version == "v1"
    assert fetcher.fetches == 4
    assert set(slept) == {POLL_INTERVAL}
    messages = [record.getMessage() for record in caplog.records]
    assert sum("no campaign catalog yet" in message for message in messages) == 1
    assert messages[-1] == "campaign catalog held: binding the port"


def test_a_catalog_already_held_binds_at_once() -> None:
    cache = CatalogCache(DownThenUp(failures=0))
    hold_first_catalog(cache, timeout=1.0, sleep=lambda _: pytest.fail("no wait"))
    assert cache.state().serving
