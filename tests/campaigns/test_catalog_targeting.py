"""Catalog files with targeting: the object form with segments, `matchers.where`, and
every problem named by file, campaign (or segment) and clause."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import parse_catalog, parse_catalog_parts
from services.campaigns.catalog_writer import catalog_to_json
from services.campaigns.errors import CatalogError

Doc = dict[str, Any]
SOURCE = "catalog.json"

# The issue's example, verbatim but for the dates.
ISSUE_EXAMPLE: Doc = {
    "segments": {
        "spenders": {"total_spent": {"$gte": 100}},
        "lapsed": {"last_session": {"$lt": {"$ago": "14d"}}},
    },
    "campaigns": [
        {
            "game": "mygame",
            "name": "come_back_offer",
            "priority": 30,
            "matchers": {
                "level": {"min": 1, "max": 30},
                "has": {"country": ["CA", "US"]},
                "where": {
                    "$segment": "lapsed",
                    "_customfield": {"$in": ["mycustom", "vip"]},
                    "context.app_version": {"$vgte": "2.3.0"},
                    "$or": [
                        {"clan.id": {"$exists": True}},
                        {"total_transactions": {"$gte": 3}},
                    ],
                },
            },
            "start_date": "2022-01-25 00:00:00Z",
            "end_date": "2032-01-25 00:00:00Z",
            "enabled": True,
        }
    ],
}


def _catalog(**changes: Any) -> Doc:
    doc = copy.deepcopy(ISSUE_EXAMPLE)
    doc.update(changes)
    return doc


def _problems(doc: object) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(json.dumps(doc), SOURCE)
    return info.value.problems


def _with_where(where: object) -> Doc:
    doc = _catalog()
    doc["campaigns"][0]["matchers"]["where"] = where
    return doc


def test_the_issue_example_loads() -> None:
    parts = parse_catalog_parts(json.dumps(ISSUE_EXAMPLE), SOURCE)
    [campaign] = parts.campaigns
    assert campaign.where is not None
    assert campaign.where.to_document() == ISSUE_EXAMPLE["campaigns"][0]["matchers"]["where"]
    assert campaign.where.segments_used == {"lapsed"}
    assert campaign.where.uses_context
    assert [s.name for s in parts.segments] == ["lapsed", "spenders"]


def test_the_bare_list_still_loads_as_before(sample_campaign_doc: Doc) -> None:
    campaigns = parse_catalog(json.dumps([sample_campaign_doc]), SOURCE)
    assert campaigns[0].where is None
    # The object form with no segments is the same catalog, with the same version.
    same = parse_catalog_parts(json.dumps({"campaigns": [sample_campaign_doc]}), SOURCE)
    assert build_catalog(*same).version == build_catalog(campaigns).version


def test_the_file_written_back_reads_the_same() -> None:
    parts = parse_catalog_parts(json.dumps(ISSUE_EXAMPLE), SOURCE)
    again = parse_catalog_parts(catalog_to_json(*parts), SOURCE)
    assert build_catalog(*again).version == build_catalog(*parts).version
    assert [c.where.to_document() for c in again.campaigns if c.where] == [
        c.where.to_document() for c in parts.campaigns if c.where
    ]
    assert [s.to_document() for s in again.segments] == [s.to_document() for s in parts.segments]


def test_the_version_follows_segments_and_where() -> None:
    base = build_catalog(*parse_catalog_parts(json.dumps(ISSUE_EXAMPLE), SOURCE)).version
    segment = _catalog()
    segment["segments"]["lapsed"] = {"last_session": {"$lt": {"$ago": "15d"}}}
    where = _with_where({"level": 3})
    for changed in (segment, where):
        assert build_catalog(*parse_catalog_parts(json.dumps(changed), SOURCE)).version != base


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (
            {"level": {"$foo": 1}},
            "matchers.where.level.$foo: unknown operator '$foo'",
        ),
        (
            {"level": {"$in": 3}},
            "matchers.where.level.$in: must be an array of values, got a number",
        ),
        (
            {"last_session": {"$lt": {"$ago": "2w"}}},
            "matchers.where.last_session.$lt.$ago: bad duration '2w'",
        ),
        (
            {"context.app_version": {"$vgte": "2.x"}},
            "matchers.where.context.app_version.$vgte: bad version",
        ),
        ({"$segment": "whales"}, "matchers.where.$segment: unknown segment 'whales'"),
        ({"levle": 3}, "matchers.where.levle: unknown field 'levle'"),
        ({"credential": "x"}, "matchers.where.credential: credential is a secret"),
        ({"$or": []}, "matchers.where.$or: must be a non-empty array"),
        ([], "matchers.where: must be a query document (an object), got an array"),
    ],
)
def test_a_bad_where_names_file_campaign_and_clause(where: object, problem: str) -> None:
    [message] = _problems(_with_where(where))
    assert message.startswith(f"{SOURCE}: campaign #1 'come_back_offer': {problem}"), message


def test_every_bad_campaign_is_reported_with_its_own_clause() -> None:
    doc = _with_where({"level": {"$foo": 1}})
    second = copy.deepcopy(doc["campaigns"][0])
    second["name"] = "other"
    second["matchers"]["where"] = {"_x": {"$exists": "yes"}}
    doc["campaigns"].append(second)
    problems = _problems(doc)
    assert [p.split(": ")[1] for p in problems] == [
        "campaign #1 'come_back_offer'",
        "campaign #2 'other'",
    ]
    assert "matchers.where._x.$exists: must be true or false" in problems[1]


@pytest.mark.parametrize(
    ("segments", "problems"),
    [
        (
            {"lapsed": {"last_session": {"$lt": {"$ago": "14 days"}}}},
            ["catalog.json: segments.lapsed.last_session.$lt.$ago: bad duration '14 days'"],
        ),
        (
            {"lapsed": {"$segment": "gone"}},
            ["catalog.json: segments.lapsed.$segment: unknown segment 'gone'"],
        ),
        (
            {"lapsed": {"$segment": "a"}, "a": {"$segment": "lapsed"}},
            [
                "catalog.json: segments.a.$segment: segment cycle: lapsed -> a -> lapsed",
                "catalog.json: segments.lapsed.$segment: segment cycle: a -> lapsed -> a",
            ],
        ),
        ([], ["catalog.json: segments: must be an object of named conditions, got a list"]),
    ],
)
def test_a_bad_segment_is_named_and_fails_the_catalog(
    segments: object, problems: list[str]
) -> None:
    found = _problems(_catalog(segments=segments))
    for problem in problems:
        assert any(p.startswith(problem) for p in found), (problem, found)
    # A campaign using a bad segment says so, rather than that it does not exist.
    if isinstance(segments, dict) and "lapsed" in segments:
        assert any("uses a segment that is not valid" in p for p in found), found


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"segments": {}}, "catalog.json: campaigns: is required (a list of campaigns)"),
        (
            {"campaigns": {}, "segments": {}},
            "catalog.json: campaigns: must be a list of campaigns, got an object",
        ),
        (
            {"campaigns": [], "segmnets": {}},
            "catalog.json: unknown top-level field 'segmnets' (expected: campaigns, segments",
        ),
    ],
)
def test_the_object_form_names_its_own_problems(doc: Doc, problem: str) -> None:
    found = _problems(doc)
    assert any(p.startswith(problem) for p in found), found


def test_where_null_is_no_condition() -> None:
    [campaign] = parse_catalog(json.dumps(_with_where(None)), SOURCE)
    assert campaign.where is None


def test_a_too_deep_segment_is_named_as_a_segment() -> None:
    deep = "[" * 3000 + "1" + "]" * 3000
    text = json.dumps(_catalog(segments={"s": {"_x": "DEEP"}})).replace('"DEEP"', deep)
    [problem] = _problems_text(text)
    assert problem.startswith("catalog.json: segments.s._x[0]"), problem


def _problems_text(text: str) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, SOURCE)
    return info.value.problems
