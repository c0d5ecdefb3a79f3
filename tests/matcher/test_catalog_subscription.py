"""A changed catalog reaches the matcher within seconds of the campaign service's return,
however long it was away; the reconnects of a fleet stay spread out."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest

from services.domain.campaign import Catalog
from services.domain.errors import DependencyUnavailable
from services.matcher.catalog_subscription import CatalogSubscription
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually, sample_campaign

# What the campaign service's return may cost, at most, before the change is served.
BOUND = 5.0
CHANGED = Catalog("v2", (sample_campaign(name="changed"),))


class SimulatedOutage:
    """Simulated time: the service is down from 0 until `back_at`, then serves CHANGED.

    The watcher's pauses advance the clock instead of sleeping, so an outage of an
    hour takes no real time."""

    def __init__(self, back_at: float) -> None:
        self.now = 0.0
        self.back_at = back_at
        self.served_at: float | None = None
        self.arrived = threading.Event()
        self._ended = threading.Event()

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    def open_stream(self) -> SimulatedStream:
        if self.now < self.back_at:
            raise DependencyUnavailable("campaign service: UNAVAILABLE: down (simulated)")
        return SimulatedStream(self._ended)

    def offer(self, catalog: Catalog) -> None:  # the cache, as the watcher sees it
        assert catalog is CHANGED
        if self.served_at is None:
            self.served_at = self.now
        self.arrived.set()


class SimulatedStream:
    """Yields the changed catalog, then stays open until cancelled."""

    def __init__(self, ended: threading.Event) -> None:
        self._ended = ended

    def __iter__(self) -> Iterator[Catalog]:
        yield CHANGED
        self._ended.wait(10)

    def cancel(self) -> None:
        self._ended.set()


def delay_after_return(outage: float, jitter_seed: int) -> float:
    """Simulated seconds from the service's return to the new catalog being served."""
    outage_run = SimulatedOutage(back_at=outage)
    watcher = CatalogSubscription(
        outage_run.open_stream,
        outage_run,
        jitter=random.Random(jitter_seed).random,
        sleep=outage_run.sleep,
    )
    watcher.start()
    try:
        assert outage_run.arrived.wait(10), "the watcher never reconnected"
    finally:
        watcher.stop()
    assert outage_run.served_at is not None
    return outage_run.served_at - outage


@pytest.mark.parametrize("outage", [30.0, 3600.0])
def test_the_change_is_served_within_the_bound_after_an_outage_of_any_length(
    outage: float,
) -> None:
    delays = [delay_after_return(outage, seed) for seed in range(40)]
    assert max(delays) <= BOUND, sorted(delays)[-5:]
    # The jitter still spreads a fleet: matchers do not come back all at once.
    assert len({round(delay, 3) for delay in delays}) > 30


def test_a_restarted_campaign_service_with_a_change_reaches_the_matcher(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    # A TTL of an hour: only the watch stream can bring the change. A short reconnect
    # cap only makes the test quick; the bound itself is shown in simulated time above.
    server = start(store, campaigns, catalog_ttl=3600.0, watch_reconnect_cap=0.2)
    try:
        assert server.cache.state().version == "v1"
        campaigns.stop()
        campaigns.service.set_catalog([sample_campaign(name="changed")], "v2")
        campaigns.start()  # on the same port
        eventually(lambda: _assert(server.cache.state().version == "v2"), timeout=15)
    finally:
        server.stop(0)


def _assert(condition: bool) -> None:
    assert condition
