"""Where mongomock departs from MongoDB, MongoDB wins.

Each case gives a condition, documents, what MongoDB matches (and what the conditions
match), and what mongomock 4.3 matches instead, with the MongoDB source that decides:
- path traversal: `src/mongo/db/matcher/path.cpp` and its `path_test.cpp`;
- comparisons: `ComparisonMatchExpression::matchesSingleElement` in
  `src/mongo/db/matcher/expression_leaf.cpp` (canonical type brackets; null and missing
  equal for $eq, $lte, $gte);
- `$exists: false` is parsed as `$not: {$exists: true}`, and `$ne` as `$not: {$eq}`
  (expression_parser.cpp);
- `$elemMatch` with a query reads only object (and array) elements
  (`ElemMatchObjectMatchExpression`, expression_array.cpp);
- embedded objects compare field by field, names and order included (BSONObj::woCompare).

The mongomock answers are asserted too, so that a mongomock that mends its ways shows up
here and the case can join the differential tests (strategies.py keeps them out).
"""

from __future__ import annotations

from typing import Any

import mongomock
import pytest

from services.domain.conditions import parse_condition
from tests.matching.conditions.helpers import NOW, matching

CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[int], list[int]]] = [
    (
        "a scalar where the path goes deeper is a missing field (NestedPartialMatchScalar)",
        {"_o.a": None},
        [{"_o": 5}, {"_o": "s"}, {"_o": {"a": 1}}],
        [0, 1],
        [],
    ),
    (
        "booleans and numbers are different brackets",
        {"_v": 1},
        [{"_v": True}, {"_v": 1.0}, {"_v": [True]}],
        [1],
        [0, 1, 2],
    ),
    (
        "$nin: a boolean is not in a list of numbers",
        {"_v": {"$nin": [0]}},
        [{"_v": False}, {"_v": 0}],
        [0],
        [],
    ),
    (
        "embedded objects compare in key order",
        {"clan": {"id": "c1", "name": "A"}},
        [{"clan": {"name": "A", "id": "c1"}}, {"clan": {"id": "c1", "name": "A"}}],
        [1],
        [0, 1],
    ),
    (
        "a numeric part also reads the key of object elements (ArrayIndex3)",
        {"_o.1": 4},
        [{"_o": [5, {"1": 4}, 3]}],
        [0],
        [],
    ),
    (
        "an array at a numeric position is not expanded (ArrayIndex2)",
        {"_o.1": 2},
        [{"_o": [5, [2, 4], 3]}],
        [],
        [0],
    ),
    (
        "$elemMatch with a query does not look inside nested arrays",
        {"_o": {"$elemMatch": {"b": 1}}},
        [{"_o": [[{"b": 1}]]}, {"_o": [{"b": 1}]}],
        [1],
        [0, 1],
    ),
    (
        "$gte null and $lte null match a missing field, as $eq null does",
        {"_v": {"$gte": None}},
        [{}, {"_v": None}, {"_v": 0}],
        [0, 1],
        [1],
    ),
    (
        "$elemMatch: {} needs an object element",
        {"_v": {"$elemMatch": {}}},
        [{"_v": [1, 2]}, {"_v": [{"a": 1}]}],
        [1],
        [0, 1],
    ),
    (
        "$exists: false through an array holds only when no element has the key",
        {"_o.a": {"$exists": False}},
        [{"_o": [{"a": 1}, {"b": 2}]}, {"_o": [{"b": 2}]}, {"_o": []}],
        [1, 2],
        [0, 1, 2],
    ),
    (
        "$not: {$eq: x} is $ne: x, also where a path crosses an empty array",
        {"_o.a": {"$not": {"$eq": 5}}},
        [{"_o": []}, {"_o": [{"a": 5}]}, {}],
        [0, 2],
        [2],
    ),
    (
        "each operator of an operator document tests the path on its own",
        {"_o.a": {"$in": [1], "$ne": 5}},
        [{"_o": [{"a": 1}, {"b": 2}]}, {"_o": {"a": 1}}],
        [0, 1],
        [1],
    ),
    (
        "$in compares an array value with the whole array too, as $eq does",
        {"_v": {"$in": [[1, 5]]}},
        [{"_v": [1, 5]}, {"_v": [[1, 5], 2]}],
        [0, 1],
        [1],
    ),
    (
        "$eq with an array operand also matches an element equal to it",
        {"_v": {"$eq": [1, 5]}},
        [{"_v": [1, 5]}, {"_v": [[1, 5], 2]}],
        [0, 1],
        [0],
    ),
]


@pytest.mark.parametrize(
    ("where", "docs", "mongodb", "mongomock_answer"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_conditions_follow_mongodb_where_mongomock_departs(
    where: dict[str, Any],
    docs: list[dict[str, Any]],
    mongodb: list[int],
    mongomock_answer: list[int],
) -> None:
    assert matching(where, docs) == mongodb
    store: Any = mongomock.MongoClient().db.profiles
    store.insert_many([{"_id": i, **doc} for i, doc in enumerate(docs)])
    translated = parse_condition(where).to_mongo_filter(NOW)
    assert translated.unevaluable == ()
    found = sorted(doc["_id"] for doc in store.find(translated.filter))
    assert found == mongomock_answer != mongodb
