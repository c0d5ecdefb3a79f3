"""Audience counts on generated profiles and conditions: MongoDB's count of the
condition's filter (mongomock) equals the in-app engine's count, and the embedded
store's scan counts the same.

When a condition has clauses no store can evaluate (`context.`, versions), the filter
is wider than the condition: its count is then at least the engine's, whatever the
context, and still the engine's count of the filter itself.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from services.domain.conditions import parse_condition
from services.domain.profile import Profile
from services.domain.profile_json import profile_to_document
from services.storage.sqlite_audience import _as_condition
from services.storage.sqlite_store import SQLiteProfileStore
from tests.storage.audience_strategies import NOW, conditions, profile_lists
from tests.storage.conftest import mongomock_store

CONTEXTS: tuple[dict[str, Any], ...] = ({}, {"platform": "ios"}, {"platform": "android"})


def _stored(profiles: list[Profile]) -> tuple[Any, SQLiteProfileStore]:
    mongo = mongomock_store()
    sqlite = SQLiteProfileStore.in_memory()
    for profile in profiles:
        mongo.create(profile)
    sqlite.upsert_many(profiles)
    return mongo, sqlite


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles=profile_lists, where=conditions)
def test_mongodb_filter_count_equals_the_engine_count(
    profiles: list[Profile], where: dict[str, Any]
) -> None:
    condition = parse_condition(where)
    store_filter = condition.to_mongo_filter(NOW)
    docs = [profile_to_document(p) for p in profiles]
    mongo, sqlite = _stored(profiles)
    try:
        counted = mongo.count_audience(store_filter.filter, timeout=10).matched
        scanned = sqlite.count_audience(store_filter.filter, timeout=10).matched
    finally:
        mongo.close()
        sqlite.close()

    widened = parse_condition(_as_condition(store_filter.filter))
    assert counted == sum(widened.evaluate(doc, {}, NOW) for doc in docs)
    assert scanned == counted
    for context in CONTEXTS:
        engine = sum(condition.evaluate(doc, context, NOW) for doc in docs)
        if store_filter.unevaluable:
            assert counted >= engine
        else:
            assert counted == engine
