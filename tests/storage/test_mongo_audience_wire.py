"""The MongoDB audience count on the wire: real pymongo talking to MockupDB.

The count is one `aggregate` with the campaign's filter as its `$match`, what is left
of the count's time as `maxTimeMS`, and the configured read preference; the total is
one `count` command (estimated_document_count). The server here says it is a mongos,
since a driver sends `$readPreference` to a mongos and never to a standalone.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import mockupdb
import pytest
from mockupdb import MockupDB, OpMsg, go

from services.domain.errors import DependencyTimeout
from services.matcher.audience import audience_query
from services.storage.base import AudienceCount
from services.storage.mongo_store import MongoProfileStore, mongo_client
from tests.matcher.fakes import sample_campaign
from tests.mockupdb_server import HANDSHAKE, _short_select

MONGOS = {**HANDSHAKE, "msg": "isdbgrid"}
AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def mongos(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(
        mockupdb, "select", types.SimpleNamespace(select=_short_select, error=OSError)
    )
    mock = MockupDB(auto_ismaster=MONGOS)
    mock.autoresponds("endSessions")
    mock.run()
    yield mock
    mock.stop()


def _store(uri: str, read_preference: str) -> MongoProfileStore:
    client = mongo_client(uri, server_selection_timeout=2.0, operation_timeout=2.0)
    return MongoProfileStore(
        client["profilematcher"]["profiles"],
        owns_client=True,
        audience_read_preference=read_preference,
    )


def test_the_count_is_one_aggregate_with_the_filter_time_limit_and_read_preference(
    mongos: Any,
) -> None:
    store = _store(mongos.uri, "secondaryPreferred")
    query = audience_query(sample_campaign(), AT).query
    try:
        future = go(store.count_audience, query, timeout=30.0)

        request = mongos.receives(OpMsg("aggregate", "profiles"))
        assert request["pipeline"] == [
            {"$match": query},
            {"$group": {"_id": 1, "n": {"$sum": 1}}},
        ]
        assert request["pipeline"][0]["$match"] == {
            "level": {"$gte": 1, "$lte": 3},
            # Every spelling whose upper case is a listed code (U+017F, the long s, is one).
            "country": {
                "$in": [
                    *("CA", "Ca", "RO", "Ro", "US", "Us", "U\u017f", "cA", "ca"),
                    *("rO", "ro", "uS", "us", "u\u017f"),
                ]
            },
            "inventory.item_1": {"$gt": 0},
            "inventory.item_4": {"$not": {"$gt": 0}},
        }
        # What is left of the count's own 30 s (less a round trip), not the client's 2 s.
        assert 25_000 < request["maxTimeMS"] <= 30_000
        assert request["$readPreference"] == {"mode": "secondaryPreferred"}
        request.ok(cursor={"id": 0, "ns": "profilematcher.profiles", "firstBatch": [{"n": 7}]})

        total = mongos.receives(OpMsg("count", "profiles"))
        assert total["$readPreference"] == {"mode": "secondaryPreferred"}
        assert 0 < total["maxTimeMS"] <= 30_000
        total.ok(n=40)

        assert future() == AudienceCount(matched=7, scanned=40, total=40)
    finally:
        store.close()


def test_primary_sends_no_read_preference_to_a_mongos(mongos: Any) -> None:
    store = _store(mongos.uri, "primary")
    try:
        future = go(store.count_audience, {"level": 3}, timeout=5.0)
        request = mongos.receives(OpMsg("aggregate", "profiles"))
        assert request["pipeline"][0] == {"$match": {"level": 3}}
        assert "$readPreference" not in request
        request.ok(cursor={"id": 0, "ns": "profilematcher.profiles", "firstBatch": []})
        mongos.receives(OpMsg("count", "profiles")).ok(n=0)
        assert future() == AudienceCount(0, 0, 0)
    finally:
        store.close()


def test_a_count_past_its_time_is_a_timeout(mongos: Any) -> None:
    store = _store(mongos.uri, "primary")
    try:
        # A thread of its own: mockupdb's `go` raises a copy, without `public`.
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(store.count_audience, {"level": 3}, timeout=5.0)
            mongos.receives(OpMsg("aggregate", "profiles")).replies(
                {"ok": 0, "errmsg": "operation exceeded time limit", "code": 50}
            )
            with pytest.raises(DependencyTimeout) as caught:
                future.result()
        assert caught.value.public == (
            "could not count an audience: the profile store did not answer in time"
        )
    finally:
        store.close()


def test_an_unknown_read_preference_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown read preference 'fastest'"):
        MongoProfileStore(
            mongo_client("mongodb://127.0.0.1:1")["db"]["profiles"],
            audience_read_preference="fastest",
        )
