"""ServedCatalog: whole-catalog swaps and waiting for them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from services.campaigns.served_catalog import ServedCatalog
from services.domain.campaign import Catalog

OLD = Catalog(version="old", campaigns=())
NEW = Catalog(version="new", campaigns=())


def _clock() -> datetime:
    return datetime(2022, 1, 1, tzinfo=UTC)


def test_replace_swaps_only_a_new_version() -> None:
    served = ServedCatalog(OLD, clock=_clock)
    first = served.current

    assert served.replace(Catalog(version="old", campaigns=())) is False
    assert served.current is first
    assert served.replace(NEW) is True
    assert served.current.catalog is NEW
    assert served.current.loaded_at == _clock()


def test_waiter_gets_the_new_catalog() -> None:
    served = ServedCatalog(OLD)
    got = []
    waiter = threading.Thread(target=lambda: got.append(served.wait_for_change("old", 5.0)))
    waiter.start()

    served.replace(NEW)
    waiter.join(5.0)

    assert not waiter.is_alive()
    assert got[0] is not None
    assert got[0].catalog is NEW


def test_wait_returns_at_once_when_already_changed() -> None:
    served = ServedCatalog(NEW)

    loaded = served.wait_for_change("old", 5.0)

    assert loaded is not None
    assert loaded.catalog is NEW


def test_wait_times_out_with_none() -> None:
    assert ServedCatalog(OLD).wait_for_change("old", 0.01) is None


def test_close_ends_every_wait() -> None:
    served = ServedCatalog(OLD)
    got: list[object] = []
    waiters = [
        threading.Thread(target=lambda: got.append(served.wait_for_change("old", 30.0)))
        for _ in range(3)
    ]
    for w in waiters:
        w.start()

    served.close()
    for w in waiters:
        w.join(5.0)

    assert not any(w.is_alive() for w in waiters)
    assert got == [None, None, None]
    assert served.wait_for_change("old", 30.0) is None


def test_cancelled_wait_ends_when_woken() -> None:
    served = ServedCatalog(OLD)
    cancelled = threading.Event()
    got: list[object] = []
    waiter = threading.Thread(
        target=lambda: got.append(served.wait_for_change("old", 30.0, cancelled=cancelled.is_set))
    )
    waiter.start()

    cancelled.set()
    served.wake_waiters()
    waiter.join(5.0)

    assert not waiter.is_alive()
    assert got == [None]
