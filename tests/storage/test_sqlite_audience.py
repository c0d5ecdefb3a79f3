"""The embedded store's audience scan: its document view, its deadline, its progress
log, and rows it cannot read."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import DependencyTimeout, InvalidInput
from services.domain.profile import Profile
from services.domain.profile_json import profile_to_document
from services.storage import sqlite_audience
from services.storage.sqlite_row_view import StoredRowView
from services.storage.sqlite_store import SQLiteProfileStore
from tests.storage.audience_strategies import profiles
from tests.storage.contract import player


@pytest.fixture
def store() -> Iterator[SQLiteProfileStore]:
    store = SQLiteProfileStore.in_memory()
    yield store
    store.close()


def _rows(store: SQLiteProfileStore) -> list[tuple[str, bytes, str | None]]:
    with store._db.read("test", None) as conn:
        rows: list[tuple[str, bytes, str | None]] = conn.execute(
            sqlite_audience.SCAN_ALL
        ).fetchall()
    return rows


@settings(max_examples=100, deadline=None)
@given(profile=profiles())
def test_the_view_is_the_document_of_the_stored_profile(profile: Profile) -> None:
    store = SQLiteProfileStore.in_memory()
    try:
        store.create(profile)
        [(player_id, wire, custom)] = _rows(store)
        stored = store.get(player_id)
    finally:
        store.close()
    assert stored is not None
    expected = profile_to_document(stored)
    view = StoredRowView(profile_pb2.Profile.FromString(wire), custom)
    assert dict(view) == expected
    assert len(view) == len(expected)
    for key, value in expected.items():
        assert view.get(key) == value
        assert view[key] == value
    assert view.get("_not_there", "default") == "default"
    assert view.get("not_a_field") is None
    with pytest.raises(KeyError):
        view["_not_there"]


def test_a_custom_field_holding_null_is_present(store: SQLiteProfileStore) -> None:
    store.create(player("p1", custom_fields={"_tier": None}))
    store.create(player("p2"))
    assert store.count_audience({"_tier": {"$exists": True}}, timeout=5).matched == 1
    assert store.count_audience({"_tier": None}, timeout=5).matched == 2


def test_counts_matched_scanned_and_total(store: SQLiteProfileStore) -> None:
    store.upsert_many([player(f"p{i}", level=i % 4) for i in range(10)])
    count = store.count_audience({"level": {"$gte": 2}}, timeout=5)
    assert (count.matched, count.scanned, count.total) == (4, 10, 10)
    assert store.count_audience({}, timeout=5).matched == 10


def test_a_query_that_is_no_condition_names_its_clause(store: SQLiteProfileStore) -> None:
    with pytest.raises(InvalidInput) as caught:
        store.count_audience({"level": {"$regex": "x"}}, timeout=5)
    assert caught.value.field == "query.level.$regex"


def test_the_deadline_stops_the_scan_saying_how_far_it_got(
    store: SQLiteProfileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.upsert_many([player(f"p{i}", level=1) for i in range(25)])
    monkeypatch.setattr(sqlite_audience, "CHUNK_ROWS", 10)
    times = iter([100.0, 100.0, 200.0])
    with store._db.read("test", None) as conn, pytest.raises(DependencyTimeout) as caught:
        sqlite_audience.count_matching_rows(
            conn,
            {"level": 1},
            deadline=150.0,
            name="test store",
            clock=lambda: next(times, 300.0),
        )
    assert caught.value.public == (
        "could not count the audience in time: 20 of 25 profiles scanned, 20 matched so far"
    )
    # The read transaction was closed: the connection reads on.
    assert store.count_audience({"level": 1}, timeout=5).matched == 25


def test_no_time_left_is_a_timeout_before_any_read(store: SQLiteProfileStore) -> None:
    with pytest.raises(DependencyTimeout):
        store.count_audience({"level": 1}, timeout=0)


def test_progress_goes_to_the_log(
    store: SQLiteProfileStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.upsert_many([player(f"p{i}", level=i % 2) for i in range(12)])
    caplog.set_level(logging.INFO, logger=sqlite_audience.__name__)
    with store._db.read("test", None) as conn:
        count = sqlite_audience.count_matching_rows(
            conn, {"level": 1}, deadline=None, name="test store", progress_every=5
        )
    assert count.matched == 6
    progress = [r.getMessage() for r in caplog.records if "scanned" in r.getMessage()]
    assert [line.split(" (")[0] for line in progress] == [
        "audience count in test store: 12 of 12 profiles scanned, 6 matched"
    ]


def test_an_unreadable_row_is_not_counted_and_is_logged(
    store: SQLiteProfileStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.upsert_many([player("good", level=1), player("bad", level=1)])
    with store._db.write("corrupt", None) as conn:
        conn.execute("UPDATE profiles SET profile = x'ff' WHERE player_id = 'bad'")
    count = store.count_audience({"level": 1}, timeout=5)
    assert (count.matched, count.scanned) == (1, 2)
    assert any("'bad' unreadable" in r.getMessage() for r in caplog.records)
