"""CatalogHolder: whole-catalog swaps and waiting for them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from services.campaigns.holder import CatalogHolder
from services.domain.campaign import Catalog

OLD = Catalog(version="old", campaigns=())
NEW = Catalog(version="new", campaigns=())


def _clock() -> datetime:
    return datetime(2022, 1, 1, tzinfo=UTC)


def test_replace_swaps_only_a_new_version() -> None:
    holder = CatalogHolder(OLD, clock=_clock)
    first = holder.current

    assert holder.replace(Catalog(version="old", campaigns=())) is False
    assert holder.current is first
    assert holder.replace(NEW) is True
    assert holder.current.catalog is NEW
    assert holder.current.loaded_at == _clock()


def test_waiter_gets_the_new_catalog() -> None:
    holder = CatalogHolder(OLD)
    got = []
    waiter = threading.Thread(target=lambda: got.append(holder.wait_for_change("old", 5.0)))
    waiter.start()

    holder.replace(NEW)
    waiter.join(5.0)

    assert not waiter.is_alive()
    assert got[0] is not None
    assert got[0].catalog is NEW


def test_wait_returns_at_once_when_already_changed() -> None:
    holder = CatalogHolder(NEW)

    snapshot = holder.wait_for_change("old", 5.0)

    assert snapshot is not None
    assert snapshot.catalog is NEW


def test_wait_times_out_with_none() -> None:
    assert CatalogHolder(OLD).wait_for_change("old", 0.01) is None


def test_close_ends_every_wait() -> None:
    holder = CatalogHolder(OLD)
    got: list[object] = []
    waiters = [
        threading.Thread(target=lambda: got.append(holder.wait_for_change("old", 30.0)))
        for _ in range(3)
    ]
    for w in waiters:
        w.start()

    holder.close()
    for w in waiters:
        w.join(5.0)

    assert not any(w.is_alive() for w in waiters)
    assert got == [None, None, None]
    assert holder.wait_for_change("old", 30.0) is None


def test_cancelled_wait_ends_when_woken() -> None:
    holder = CatalogHolder(OLD)
    cancelled = threading.Event()
    got: list[object] = []
    waiter = threading.Thread(
        target=lambda: got.append(holder.wait_for_change("old", 30.0, cancelled=cancelled.is_set))
    )
    waiter.start()

    cancelled.set()
    holder.wake_waiters()
    waiter.join(5.0)

    assert not waiter.is_alive()
    assert got == [None]
