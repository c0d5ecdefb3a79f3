"""Every problem in a condition is a ConditionError naming the clause; nothing else
escapes, whatever JSON comes in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.domain.conditions import ConditionError, parse_condition, parse_segments
from tests.json_strategies import VALUES, to_text
from tests.matching.conditions.helpers import NOW
from tests.matching.conditions.strategies import queries


@pytest.mark.parametrize(
    ("where", "clause", "problem"),
    [
        ([], "where", "must be a query document (an object), got an array"),
        ({"level": {"$gt": 1, "$foo": 2}}, "where.level.$foo", "unknown operator '$foo'"),
        ({"$where": "1"}, "where.$where", "unknown operator '$where'"),
        ({"level": {"$regex": "a"}}, "where.level.$regex", "unknown operator '$regex'"),
        ({"level": {"$gt": 1, "x": 2}}, "where.level.x", "holds only operators"),
        ({"level": {"a": 1, "$gt": 2}}, "where.level.$gt", "may not have keys starting with '$'"),
        ({"$and": []}, "where.$and", "non-empty array of query documents"),
        ({"$or": {"level": 1}}, "where.$or", "got an object"),
        ({"$nor": [{"level": 1}, 5]}, "where.$nor[1]", "got a number"),
        ({"country": {"$in": "US"}}, "where.country.$in", "must be an array of values"),
        ({"level": {"$exists": 1}}, "where.level.$exists", "must be true or false"),
        ({"level": {"$not": 5}}, "where.level.$not", "must be an operator document"),
        ({"level": {"$not": {}}}, "where.level.$not", "must be an operator document"),
        ({"_tags": {"$elemMatch": 3}}, "where._tags.$elemMatch", "must be an object"),
        ({"created": {"$gt": {"$ago": "14 days"}}}, "where.created.$gt.$ago", "bad duration"),
        ({"created": {"$gt": {"$ago": "-1d"}}}, "where.created.$gt.$ago", "bad duration"),
        ({"created": {"$gt": {"$ago": "1w"}}}, "where.created.$gt.$ago", "bad duration"),
        ({"created": {"$gt": {"$ago": 14}}}, "where.created.$gt.$ago", "bad duration"),
        ({"created": {"$gt": {"$ago": "999999999999d"}}}, "where.created.$gt.$ago", "at most"),
        (
            {"created": {"$in": [{"$ago": "1d"}]}},
            "where.created.$in[0].$ago",
            "only as the operand",
        ),
        (
            {"created": {"$gt": {"$date": "yesterday"}}},
            "where.created.$gt.$date",
            "not a timestamp",
        ),
        ({"created": {"$gt": {"$date": "2022-01-25"}}}, "where.created.$gt.$date", "no time zone"),
        ({"created": {"$gt": {"$date": 5}}}, "where.created.$gt.$date", "must be a time"),
        ({"context.v": {"$vgte": "1.02"}}, "where.context.v.$vgte", "bad version"),
        ({"context.v": {"$vgte": "x"}}, "where.context.v.$vgte", "bad version"),
        ({"context.v": {"$vlt": 2}}, "where.context.v.$vlt", "bad version"),
        ({"$segment": "whales"}, "where.$segment", "unknown segment 'whales'"),
        ({"$segment": 5}, "where.$segment", "must be a segment name"),
        ({"level": 2**63}, "where.level", "64 bits"),
        ({"level": float("nan")}, "where.level", "finite"),
        ({"level": {"$in": [1, float("inf")]}}, "where.level.$in[1]", "finite"),
        ({"_x": {"a.b": 1}}, "where._x.a.b", "may not hold '.'"),
        ({"_x": "\ud800"}, "where._x", "valid Unicode"),
        (
            {"_x": {"$elemMatch": {"a": 1, "$segment": "s"}}},
            "where._x.$elemMatch.$segment",
            "not allowed",
        ),
        (
            {"_x": {"$elemMatch": {"$segment": "s"}}},
            "where._x.$elemMatch.$segment",
            "unknown operator",
        ),
    ],
)
def test_problems_are_named(where: Any, clause: str, problem: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(where, segments={})
    assert caught.value.clause == clause
    assert problem in caught.value.problem
    assert str(caught.value) == f"{clause}: {caught.value.problem}"


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    where: dict[str, Any] = {"level": 1}
    for _ in range(200):
        where = {"$and": [where]}
    with pytest.raises(ConditionError, match="nest at most"):
        parse_condition(where)
    value: Any = 1
    for _ in range(200):
        value = [value]
    with pytest.raises(ConditionError, match="nest at most"):
        parse_condition({"_x": value})


def test_a_long_chain_of_segments_is_refused_not_a_recursion_error() -> None:
    chain: dict[str, Any] = {f"s{i}": {"$segment": f"s{i + 1}"} for i in range(2000)}
    chain["s2000"] = {"level": 1}
    with pytest.raises(ConditionError, match="nest at most 32 levels, segments included"):
        parse_segments(chain)
    short: dict[str, Any] = {f"s{i}": {"$segment": f"s{i + 1}"} for i in range(20)}
    short["s20"] = {"level": 1}
    assert parse_condition({"$segment": "s0"}, segments=short).evaluate({"level": 1}, {}, NOW)


def test_nesting_adds_up_across_segments() -> None:
    nested: dict[str, Any] = {"level": 1}
    for _ in range(20):
        nested = {"$and": [nested]}
    user: dict[str, Any] = {"$segment": "a"}
    for _ in range(15):
        user = {"$and": [user]}
    assert parse_condition(nested).depth == 20
    assert parse_condition(user, segments={"a": {"level": 1}}).depth == 16
    with pytest.raises(ConditionError, match="segments included") as caught:
        parse_condition(user, segments={"a": nested})
    assert caught.value.clause.startswith("segments.a.$and[0]")
    # Also when the segment was parsed before, for another user.
    with pytest.raises(ConditionError, match="segments included") as caught:
        parse_segments({"a": nested, "b": user})
    assert caught.value.clause.startswith("segments.b.$and[0]")
    assert caught.value.clause.endswith("$segment")


def test_segment_problems_name_the_segment() -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition({"$segment": "a"}, segments={"a": {"level": {"$gt": "x", "$bad": 1}}})
    assert caught.value.clause == "segments.a.level.$bad"
    with pytest.raises(ConditionError) as caught:
        parse_segments({"a": {"$segment": "b"}, "b": {"$or": [{"$segment": "a"}]}})
    assert caught.value.clause == "segments.b.$or[0].$segment"
    assert caught.value.problem == "segment cycle: a -> b -> a"
    with pytest.raises(ConditionError, match="segment cycle: a -> a"):
        parse_segments({"a": {"$segment": "a"}})
    with pytest.raises(ConditionError, match="unknown segment 'c'"):
        parse_segments({"a": {"$segment": "c"}})
    with pytest.raises(ConditionError, match="non-empty strings"):
        parse_segments({"": {}})


def _parse_any(value: Any) -> None:
    try:
        condition = parse_condition(value, segments={"s": {"level": 1}, "t": value})
    except ConditionError:
        return
    # What parses also evaluates, compiles, explains and translates without raising.
    for profile in ({}, {"level": 1, "_x": [1, {"a": None}], "context": 2}):
        verdict = condition.evaluate(profile, {"k": [1]}, NOW)
        assert condition.compile()(profile, {"k": [1]}, NOW) == verdict
        assert (condition.explain(profile, {"k": [1]}, NOW) is None) == verdict
    condition.to_mongo_filter(NOW)
    assert parse_condition(condition.to_document(), segments={"s": {"level": 1}, "t": value})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_any_json_is_a_condition_or_a_condition_error(raw: Any) -> None:
    try:
        value = json.loads(to_text(raw))
    except (ValueError, RecursionError):
        return
    _parse_any(value)


# Operator-shaped JSON reaches deeper than random JSON does.
_KEYS = st.sampled_from(
    [
        "level",
        "_x",
        "_x.a",
        "context.k",
        "devices",
        "$and",
        "$or",
        "$not",
        "$in",
        "$gt",
        "$elemMatch",
        "$exists",
        "$segment",
        "$date",
        "$ago",
        "$vgt",
        "a",
    ]
)
_SHAPES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["s", "t", "1.2", "2d"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _SHAPES, max_size=3))
def test_operator_shaped_json_is_a_condition_or_a_condition_error(value: Any) -> None:
    _parse_any(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries(wide=True))
def test_documents_round_trip(where: dict[str, Any]) -> None:
    condition = parse_condition(where)
    document = condition.to_document()
    assert document == where
    again = parse_condition(json.loads(json.dumps(document)))
    assert again.to_document() == document
    assert again.to_mongo_filter(NOW) == condition.to_mongo_filter(NOW)
