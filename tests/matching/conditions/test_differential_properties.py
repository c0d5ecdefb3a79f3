"""Three evaluators, one answer: the reference, the compiled predicate, and MongoDB's
own evaluation (mongomock) of `to_mongo_filter(now)` on the same documents.

When the filter dropped clauses it cannot run in a store (`unevaluable`: context,
versions), mongomock's answer may be wider, never narrower. Cases where mongomock
departs from MongoDB are left out of the mongomock comparison (see strategies.py) and
pinned against MongoDB's behaviour in test_mongomock_divergences.py.
"""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.domain.conditions import parse_condition
from tests.matching.conditions.helpers import NOW
from tests.matching.conditions.strategies import INSTANTS, contexts, corpus, profiles, queries

WIDE_CORPUS = corpus(wide=True)
CORPUS = corpus(wide=False)


@pytest.fixture(scope="module")
def corpus_store() -> Any:
    """The corpus in one mongomock collection, shared by every example (read only)."""
    store: Any = mongomock.MongoClient().db.corpus
    store.insert_many([{"_id": position, **doc} for position, doc in enumerate(CORPUS)])
    return store


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries(wide=True), st.lists(profiles(wide=True), max_size=4), contexts)
def test_compiled_agrees_with_reference(
    where: dict[str, Any], docs: list[dict[str, Any]], context: dict[str, Any]
) -> None:
    condition = parse_condition(where)
    predicate = condition.compile()
    for doc in [*docs, *WIDE_CORPUS]:
        for now in (NOW, INSTANTS[3]):
            assert predicate(doc, context, now) == condition.evaluate(doc, context, now), doc


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(queries(wide=False), st.lists(profiles(), max_size=3), contexts)
def test_mongodb_filter_agrees_with_reference(
    corpus_store: Any, where: dict[str, Any], docs: list[dict[str, Any]], context: dict[str, Any]
) -> None:
    condition = parse_condition(where)
    translated = condition.to_mongo_filter(NOW)
    generated: Any = mongomock.MongoClient().db.generated
    if docs:
        generated.insert_many([{"_id": position, **doc} for position, doc in enumerate(docs)])
    for store, stored in ((generated, docs), (corpus_store, CORPUS)):
        expected = {
            position for position, doc in enumerate(stored) if condition.evaluate(doc, context, NOW)
        }
        found = {doc["_id"] for doc in store.find(translated.filter, {"_id": 1})}
        if translated.unevaluable:
            assert expected <= found, translated
        else:
            assert found == expected, translated
