"""Segments (named conditions that use each other) and explanations of failures."""

from __future__ import annotations

from datetime import timedelta

from services.domain.conditions import (
    ClauseFailure,
    Condition,
    parse_condition,
    parse_segments,
)
from tests.matching.conditions.helpers import NOW, holds

SEGMENTS = {
    "spenders": {"total_spent": {"$gte": 50}},
    "whales": {"$segment": "spenders", "total_spent": {"$gte": 500}},
    "ios": {"context.platform": "ios"},
    "vip_ios": {"$and": [{"$segment": "whales"}, {"$segment": "ios"}]},
}


def test_segments_include_segments() -> None:
    where = {"$segment": "vip_ios", "level": {"$gte": 10}}
    profile = {"level": 12, "total_spent": 600.0}
    assert holds(where, profile, {"platform": "ios"}, segments=SEGMENTS)
    assert not holds(where, profile, {"platform": "android"}, segments=SEGMENTS)
    assert not holds(where, {**profile, "total_spent": 100}, {"platform": "ios"}, segments=SEGMENTS)
    condition = parse_condition(where, segments=SEGMENTS)
    assert condition.segments_used == {"vip_ios", "whales", "spenders", "ios"}
    assert condition.uses_context
    assert condition.paths == {"level", "total_spent", "context.platform"}
    assert condition.to_document() == where


def test_parsed_segments_are_shared_not_reparsed() -> None:
    parsed = parse_segments(SEGMENTS)
    assert set(parsed) == set(SEGMENTS)
    assert all(isinstance(segment, Condition) for segment in parsed.values())
    assert parsed["whales"].name == "whales"
    first = parse_condition({"$segment": "whales"}, segments=parsed)
    second = parse_condition({"$segment": "whales", "level": 1}, segments=parsed)
    assert first.root.entries[0].segment is parsed["whales"]  # type: ignore[union-attr]
    assert second.root.entries[0].segment is parsed["whales"]  # type: ignore[union-attr]
    assert parsed["spenders"].compile() is parsed["spenders"].compile()


def test_explain_names_the_first_failing_clause() -> None:
    condition = parse_condition(
        {"level": {"$gte": 10}, "country": {"$in": ["US", "CA"]}}, where="campaigns[3].where"
    )
    profile = {"level": 12, "country": "DE"}
    assert condition.explain(profile, {}, NOW) == ClauseFailure(
        path="country",
        operator="$in",
        wanted='["US", "CA"]',
        found='"DE"',
        segment_chain=(),
        clause="campaigns[3].where.country.$in",
    )
    assert condition.explain({"level": 12, "country": "US"}, {}, NOW) is None
    failure = condition.explain({}, {}, NOW)
    assert failure is not None
    assert (failure.path, failure.operator, failure.wanted, failure.found) == (
        "level",
        "$gte",
        "10",
        "missing",
    )


def test_explain_follows_segments_and_resolves_ago() -> None:
    condition = parse_condition(
        {"$segment": "vip_ios", "created": {"$lt": {"$ago": "14d"}}}, segments=SEGMENTS
    )
    failure = condition.explain({"total_spent": 80}, {"platform": "ios"}, NOW)
    assert failure == ClauseFailure(
        path="total_spent",
        operator="$gte",
        wanted="500",
        found="80",
        segment_chain=("vip_ios", "whales"),
        clause="segments.whales.total_spent.$gte",
    )
    failure = condition.explain(
        {"total_spent": 800, "created": NOW - timedelta(days=1)}, {"platform": "ios"}, NOW
    )
    assert failure is not None
    assert failure.wanted == '{"$ago": "14d"} = "2024-02-16T12:00:00Z"'
    assert failure.found == '"2024-02-29T12:00:00Z"'
    assert failure.segment_chain == ()


def test_explain_reports_or_nor_and_elem_match_whole() -> None:
    condition = parse_condition({"$or": [{"level": 5}, {"context.platform": "ios"}]})
    failure = condition.explain({"level": 4}, {}, NOW)
    assert failure is not None
    assert failure.operator == "$or"
    assert failure.path == "level, context.platform"
    assert failure.found == (
        '[0] level $eq 5: found 4; [1] context.platform $eq "ios": found missing'
    )
    condition = parse_condition({"$nor": [{"level": 5}, {"country": "US"}]})
    failure = condition.explain({"level": 4, "country": "US"}, {}, NOW)
    assert failure is not None
    assert (failure.operator, failure.found) == ("$nor", '[1] holds: country="US"')
    condition = parse_condition({"devices": {"$elemMatch": {"model": "x", "carrier": "y"}}})
    devices = [{"id": 1, "model": "x", "carrier": "z"}]
    failure = condition.explain({"devices": devices}, {}, NOW)
    assert failure is not None
    assert (failure.path, failure.operator) == ("devices", "$elemMatch")
    assert failure.found == '[{"id": 1, "model": "x", "carrier": "z"}]'
    failure = parse_condition({"devices.model": "y"}).explain({"devices": devices * 2}, {}, NOW)
    assert failure is not None
    assert failure.found == '["x", "x"]'
