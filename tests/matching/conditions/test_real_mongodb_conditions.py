"""The conditions against a real MongoDB server, when one is configured: MongoDB's own
answers for `to_mongo_filter` on the wide corpus (what mongomock gets wrong included)
and for every case of test_mongomock_divergences.py.

Set PROFILE_MATCHER_TEST_MONGODB_URI (e.g. mongodb://localhost:27017) to run it. The run
works in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pymongo import MongoClient

from services.domain.conditions import parse_condition
from services.storage.mongo_store import mongo_client
from tests.matching.conditions.helpers import NOW, matching
from tests.matching.conditions.strategies import WIDE_QUERIES, contexts, corpus
from tests.matching.conditions.test_mongomock_divergences import CASES

URI = os.environ.get("PROFILE_MATCHER_TEST_MONGODB_URI", "")
WIDE_CORPUS = corpus(wide=True)

pytestmark = [
    pytest.mark.mongodb,
    pytest.mark.skipif(
        not URI, reason="set PROFILE_MATCHER_TEST_MONGODB_URI to run against a real MongoDB"
    ),
]


@pytest.fixture(scope="module")
def database() -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = mongo_client(
        URI, server_selection_timeout=5.0, operation_timeout=10.0
    )
    name = f"profilematcher_conditions_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture(scope="module")
def corpus_collection(database: Any) -> Any:
    collection = database["corpus"]
    collection.insert_many([{"_id": i, **doc} for i, doc in enumerate(WIDE_CORPUS)])
    return collection


@pytest.mark.parametrize(
    ("where", "docs", "mongodb"), [case[1:4] for case in CASES], ids=[case[0] for case in CASES]
)
def test_mongodb_answers_the_divergent_cases_as_the_conditions_do(
    database: Any, where: dict[str, Any], docs: list[dict[str, Any]], mongodb: list[int]
) -> None:
    collection = database[f"case_{uuid.uuid4().hex[:8]}"]
    collection.insert_many([{"_id": i, **doc} for i, doc in enumerate(docs)])
    translated = parse_condition(where).to_mongo_filter(NOW)
    found = sorted(doc["_id"] for doc in collection.find(translated.filter))
    assert found == mongodb == matching(where, docs)


@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(WIDE_QUERIES, contexts)
def test_mongodb_agrees_on_the_wide_corpus(
    corpus_collection: Any, where: dict[str, Any], context: dict[str, Any]
) -> None:
    condition = parse_condition(where)
    translated = condition.to_mongo_filter(NOW)
    expected = {i for i, doc in enumerate(WIDE_CORPUS) if condition.evaluate(doc, context, NOW)}
    found = {doc["_id"] for doc in corpus_collection.find(translated.filter, {"_id": 1})}
    if translated.unevaluable:
        assert expected <= found, translated
    else:
        assert found == expected, translated
