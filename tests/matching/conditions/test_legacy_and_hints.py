"""The catalog's original matchers as a condition agree with the rule functions of
services/matching/reference.py; prefilter hints never exclude a profile that matches."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from services.domain.campaign import Campaign
from services.domain.conditions import (
    Condition,
    ConditionError,
    legacy_matchers_condition,
    parse_condition,
)
from services.domain.conditions.legacy import upper_case_preimages
from services.domain.profile import Profile
from services.domain.profile_json import profile_to_document
from services.matching import reference
from tests.matching.conditions.helpers import NOW
from tests.matching.conditions.strategies import WIDE_QUERIES, contexts, corpus
from tests.matching.strategies import campaigns, profiles

# Characters whose upper case is ASCII: the long s and the dotless i.
LONG_S = "\u017f"
DOTLESS_I = "\u0131"


def _legacy(campaign: Campaign) -> Condition:
    level = campaign.level
    return legacy_matchers_condition(
        level.min if level else None,
        level.max if level else None,
        campaign.countries,
        campaign.required_items,
        campaign.forbidden_items,
    )


def _rules_hold(campaign: Campaign, profile: Profile) -> bool:
    return (
        reference.level_holds(campaign, profile)
        and reference.country_holds(campaign, profile)
        and reference.has_items_holds(campaign, profile)
        and reference.does_not_have_holds(campaign, profile)
    )


@settings(max_examples=300, deadline=None)
@given(campaigns(), profiles())
def test_legacy_condition_agrees_with_the_reference_rules(
    campaign: Campaign, profile: Profile
) -> None:
    condition = _legacy(campaign)
    doc = profile_to_document(profile)
    expected = _rules_hold(campaign, profile)
    assert condition.evaluate(doc, {}, NOW) == expected
    assert condition.compile()(doc, {}, NOW) == expected
    assert (condition.explain(doc, {}, NOW) is None) == expected
    assert condition.to_mongo_filter(NOW).unevaluable == ()


@pytest.mark.parametrize(
    ("code", "country"),
    [("US", f"u{LONG_S}"), ("KI", f"k{DOTLESS_I}"), ("SS", "ß"), ("de", "DE"), ("É", "é")],
)
def test_countries_compare_as_str_upper_does(code: str, country: str) -> None:
    campaign = Campaign("g", "c", 0.0, NOW, NOW, True, countries=(code,))
    profile = Profile("p", country=country)
    assert reference.country_holds(campaign, profile)
    assert _legacy(campaign).evaluate(profile_to_document(profile), {}, NOW)
    assert not _legacy(campaign).evaluate({"country": "XX"}, {}, NOW)


def test_spellings_are_exactly_the_upper_case_preimages() -> None:
    spellings = upper_case_preimages("US")
    assert spellings is not None
    assert sorted(spellings) == sorted(["US", "Us", "uS", "us", f"U{LONG_S}", f"u{LONG_S}"])
    assert all(spelling.upper() == "US" for spelling in spellings)
    assert upper_case_preimages("A" * 13) is None
    with pytest.raises(ConditionError) as caught:
        legacy_matchers_condition(None, None, ["US", "B" * 13], [], [])
    assert caught.value.clause == "matchers.has.country[1]"


def test_legacy_document() -> None:
    condition = legacy_matchers_condition(2, 9, ["us"], ["sword", "shield"], ["shield", "a.b"])
    assert condition.to_document() == {
        "level": {"$gte": 2, "$lte": 9},
        "country": {"$in": ["US", "Us", f"U{LONG_S}", "uS", "us", f"u{LONG_S}"]},
        "inventory.sword": {"$gt": 0},
        "inventory.shield": {"$gt": 0, "$not": {"$gt": 0}},
        "inventory.a.b": {"$not": {"$gt": 0}},
    }
    assert legacy_matchers_condition(None, None, [], [], []).to_document() == {}
    # An item name with a dot is one item to the conditions, a nested path to MongoDB.
    assert condition.to_mongo_filter(NOW).unevaluable == ("matchers.inventory.a.b",)


WIDE_CORPUS = corpus(wide=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WIDE_QUERIES, contexts)
def test_prefilter_hints_never_exclude_a_match(where: dict[str, Any], context: Any) -> None:
    condition = parse_condition(where)
    for doc in WIDE_CORPUS:
        if not condition.evaluate(doc, context, NOW):
            continue
        for path in condition.required_paths:
            root, _, rest = path.partition(".")
            source = context if root == "context" else doc
            key = rest.split(".")[0] if root == "context" else root
            assert source.get(key) is not None, (path, doc)
        for path, strings in condition.required_strings.items():
            assert parse_condition({path: {"$in": sorted(strings)}}).evaluate(doc, context, NOW)


def test_hints() -> None:
    condition = parse_condition(
        {
            "country": {"$in": ["US", "CA"]},
            "level": {"$gte": 3},
            "_vip": {"$exists": True},
            "clan.id": {"$ne": "x"},
            "$or": [{"language": "en"}, {"gender": "f"}],
            "$and": [{"context.platform": "ios"}, {"country": "US"}],
        }
    )
    assert condition.required_paths == {"country", "level", "_vip", "context.platform"}
    assert condition.required_strings == {"country": {"US"}, "context.platform": {"ios"}}
