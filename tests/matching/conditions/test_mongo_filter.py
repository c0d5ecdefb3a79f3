"""`to_mongo_filter`: the condition at one instant as a MongoDB filter, clauses the store
cannot run dropped conservatively and listed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import mongomock

from services.domain.conditions import MongoFilter, parse_condition, parse_segments
from tests.matching.conditions.helpers import NOW


def _filter(where: dict[str, Any], segments: Mapping[str, object] | None = None) -> MongoFilter:
    return parse_condition(where, segments=segments).to_mongo_filter(NOW)


def test_times_become_datetimes_and_segments_are_inlined() -> None:
    segments = parse_segments({"recent": {"created": {"$gte": {"$ago": "14d"}}}})
    translated = _filter(
        {
            "$segment": "recent",
            "last_purchase": {"$lt": {"$date": "2024-01-01 00:00:00Z"}},
            "clan": {"id": "c1", "name": "A"},
        },
        segments,
    )
    assert translated == MongoFilter(
        {
            "created": {"$gte": NOW - timedelta(days=14)},
            "last_purchase": {"$lt": datetime(2024, 1, 1, tzinfo=UTC)},
            "clan": {"$eq": {"id": "c1", "name": "A"}},
        },
        (),
    )


def test_the_same_field_twice_goes_into_and() -> None:
    translated = _filter({"level": {"$gte": 1}, "$segment": "s"}, {"s": {"level": {"$lte": 9}}})
    assert translated.filter == {"$and": [{"level": {"$gte": 1}}, {"level": {"$lte": 9}}]}


def test_context_and_versions_are_dropped_conservatively() -> None:
    cases: list[tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
        ({"level": 1, "context.k": 2}, {"level": 1}, ("where.context.k",)),
        (
            {"devices.firmware": {"$vgte": "17", "$ne": "x"}},
            {"devices.firmware": {"$ne": "x"}},
            ("where.devices.firmware.$vgte",),
        ),
        # An $or with a branch the store cannot check could hold for anyone.
        (
            {"level": 1, "$or": [{"country": "US"}, {"context.k": 2}]},
            {"level": 1},
            ("where.$or[1].context.k",),
        ),
        # $nor keeps what it can check: "not A and not B" implies "not A".
        (
            {"$nor": [{"country": "US"}, {"context.k": 2}]},
            {"$nor": [{"country": "US"}]},
            ("where.$nor[1].context.k",),
        ),
        ({"$nor": [{"context.k": 2}]}, {}, ("where.$nor[0].context.k",)),
        # $not over a version test cannot be narrowed: dropped whole.
        ({"_v": {"$not": {"$vgt": "1", "$eq": 3}}}, {}, ("where._v.$not.$vgt",)),
        # $elemMatch keeps the rest of its query.
        (
            {"devices": {"$elemMatch": {"model": "x", "firmware": {"$vlt": "2"}}}},
            {"devices": {"$elemMatch": {"model": "x"}}},
            ("where.devices.$elemMatch.firmware.$vlt",),
        ),
        ({"_v": {"$elemMatch": {"$vlt": "2"}}}, {}, ("where._v.$elemMatch.$vlt",)),
        # Item names MongoDB would read as paths.
        ({"inventory.a.b": {"$gt": 0}, "level": 2}, {"level": 2}, ("where.inventory.a.b",)),
    ]
    for where, expected, unevaluable in cases:
        assert _filter(where) == MongoFilter(expected, unevaluable), where


def test_the_dropped_filter_never_loses_a_match() -> None:
    docs = [
        {"_id": i, "level": level, "country": country}
        for i, (level, country) in enumerate([(1, "US"), (1, "DE"), (2, "US"), (2, "DE")])
    ]
    store: Any = mongomock.MongoClient().db.profiles
    store.insert_many(docs)
    for where in (
        {"$nor": [{"country": "US"}, {"context.k": 2}]},
        {"$or": [{"level": 2}, {"context.k": 2}]},
        {"level": {"$not": {"$gt": 1}}, "context.k": {"$ne": 2}},
    ):
        condition = parse_condition(where)
        found = {d["_id"] for d in store.find(condition.to_mongo_filter(NOW).filter)}
        for context in ({}, {"k": 2}, {"k": 3}):
            held = {d["_id"] for d in docs if condition.evaluate(d, context, NOW)}
            assert held <= found, (where, context)
