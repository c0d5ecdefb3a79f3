"""Every rule edge of BRIEF.md, checked on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.domain.campaign import Campaign, LevelRange
from services.domain.profile_json import profile_from_document
from services.domain.timefmt import parse_timestamp
from tests.matching.helpers import END, ENGINES, NOW, START, Engine, campaign, minus, profile


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Engine:
    return ENGINES[request.param]


def matched(engine: Engine, c: Campaign, now: datetime = NOW, **profile_fields: Any) -> bool:
    return engine(profile(**profile_fields), [c], now, None) == (c.name,)


# Rule 2: level


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0, False), (1, True), (2, True), (3, True), (4, False), (None, False)],
)
def test_level_bounds_are_inclusive_and_unset_level_fails(
    engine: Engine, level: int | None, expected: bool
) -> None:
    assert matched(engine, campaign(level=LevelRange(1, 3)), level=level) is expected


@pytest.mark.parametrize("level", [None, -5, 0, 10**9])
def test_no_level_matcher_is_no_condition(engine: Engine, level: int | None) -> None:
    assert matched(engine, campaign(level=None), level=level)


def test_single_level_range(engine: Engine) -> None:
    assert matched(engine, campaign(level=LevelRange(7, 7)), level=7)
    assert not matched(engine, campaign(level=LevelRange(7, 7)), level=6)


def test_inverted_level_range_matches_nobody(engine: Engine) -> None:
    for level in (2, 3, 4):
        assert not matched(engine, campaign(level=LevelRange(4, 2)), level=level)


# Rule 3: has.country


@pytest.mark.parametrize(
    ("country", "countries"),
    [("ca", ("CA",)), ("CA", ("ca",)), ("cA", ("US", "Ca")), ("US", ("US", "RO", "CA"))],
)
def test_country_is_compared_case_insensitively(
    engine: Engine, country: str, countries: tuple[str, ...]
) -> None:
    assert matched(engine, campaign(countries=countries), country=country)


@pytest.mark.parametrize("country", ["DE", "de", "", None])
def test_country_not_listed_or_unset_fails(engine: Engine, country: str | None) -> None:
    assert not matched(engine, campaign(countries=("US", "RO", "CA")), country=country)


@pytest.mark.parametrize("country", ["DE", "", None])
def test_empty_country_list_is_no_condition(engine: Engine, country: str | None) -> None:
    assert matched(engine, campaign(countries=()), country=country)


# Rule 4: has.items


def test_required_items_must_all_be_held(engine: Engine) -> None:
    c = campaign(required_items=("item_1", "item_2"))
    assert matched(engine, c, inventory={"item_1": 1, "item_2": 5, "cash": 3})
    assert not matched(engine, c, inventory={"item_1": 1})
    assert not matched(engine, c, inventory={})


def test_required_item_with_quantity_zero_is_not_held(engine: Engine) -> None:
    c = campaign(required_items=("item_1",))
    assert not matched(engine, c, inventory={"item_1": 0})
    assert matched(engine, c, inventory={"item_1": 1})


def test_required_item_listed_twice_needs_holding_once(engine: Engine) -> None:
    assert matched(engine, campaign(required_items=("i", "i")), inventory={"i": 1})


def test_item_names_are_case_sensitive(engine: Engine) -> None:
    assert not matched(engine, campaign(required_items=("Item_1",)), inventory={"item_1": 1})


# Rule 5: does_not_have.items


def test_forbidden_item_held_fails(engine: Engine) -> None:
    c = campaign(forbidden_items=("item_4", "item_5"))
    assert not matched(engine, c, inventory={"item_5": 2})
    assert matched(engine, c, inventory={"item_1": 2})


def test_forbidden_item_with_quantity_zero_is_not_held(engine: Engine) -> None:
    assert matched(engine, campaign(forbidden_items=("item_4",)), inventory={"item_4": 0})


def test_item_both_required_and_forbidden_matches_nobody(engine: Engine) -> None:
    c = campaign(required_items=("i",), forbidden_items=("i",))
    assert not matched(engine, c, inventory={"i": 1})
    assert not matched(engine, c, inventory={})


# Rule 1: enabled and window


def test_window_start_is_inclusive(engine: Engine) -> None:
    assert matched(engine, campaign(), now=START)
    assert not matched(engine, campaign(), now=minus(START))


def test_window_end_is_exclusive(engine: Engine) -> None:
    assert not matched(engine, campaign(), now=END)
    assert matched(engine, campaign(), now=minus(END))


def test_window_compares_instants_across_time_zones(engine: Engine) -> None:
    east = timezone(timedelta(hours=3))
    assert matched(engine, campaign(), now=START.astimezone(east))
    assert not matched(engine, campaign(), now=END.astimezone(east))


@pytest.mark.parametrize("now", [START, NOW, minus(END)])
def test_disabled_never_matches(engine: Engine, now: datetime) -> None:
    assert not matched(engine, campaign(enabled=False), now=now)


def test_empty_window_never_matches(engine: Engine) -> None:
    assert not matched(engine, campaign(start_date=START, end_date=START), now=START)
    assert not matched(engine, campaign(start_date=END, end_date=START), now=NOW)


def test_naive_clock_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        engine(profile(), [campaign()], NOW.replace(tzinfo=None), None)


# Rule 6: game filter


def test_game_filter(engine: Engine) -> None:
    campaigns = [campaign("a", game="g1"), campaign("b", game="g2")]
    assert engine(profile(), campaigns, NOW, None) == ("a", "b")
    assert engine(profile(), campaigns, NOW, "") == ("a", "b")
    assert engine(profile(), campaigns, NOW, "g2") == ("b",)
    assert engine(profile(), campaigns, NOW, "G2") == ()
    assert engine(profile(), campaigns, NOW, "other") == ()


# Answer order


def test_order_is_priority_desc_then_name(engine: Engine) -> None:
    campaigns = [
        campaign("low", priority=1.0),
        campaign("b", priority=5.0),
        campaign("high", priority=10.5),
        campaign("a", priority=5.0),
    ]
    assert engine(profile(), campaigns, NOW, None) == ("high", "a", "b", "low")


def test_name_breaks_ties_before_game(engine: Engine) -> None:
    campaigns = [campaign("b", game="alpha"), campaign("a", game="zeta")]
    assert engine(profile(), campaigns, NOW, None) == ("a", "b")


def test_same_name_in_several_games_is_kept_and_ordered_by_game(engine: Engine) -> None:
    campaigns = [
        campaign("sale", game="zeta"),
        campaign("sale", game="alpha"),
        campaign("event", game="beta", priority=2.0),
    ]
    assert engine(profile(), campaigns, NOW, None) == ("event", "sale", "sale")
    assert engine(profile(), campaigns, NOW, "alpha") == ("sale",)


def test_empty_matchers_match_everyone_live(engine: Engine) -> None:
    c = campaign()
    assert matched(engine, c)
    assert matched(engine, c, level=99, country="ZZ", inventory={"x": 3})


def test_no_campaigns_no_matches(engine: Engine) -> None:
    assert engine(profile(level=1), [], NOW, None) == ()


def test_brief_samples_match(
    engine: Engine, sample_profile_doc: dict[str, Any], sample_campaign_doc: dict[str, Any]
) -> None:
    doc = sample_campaign_doc
    matchers = doc["matchers"]
    sample = Campaign(
        game=doc["game"],
        name=doc["name"],
        priority=doc["priority"],
        start_date=parse_timestamp(doc["start_date"]),
        end_date=parse_timestamp(doc["end_date"]),
        enabled=doc["enabled"],
        level=LevelRange(matchers["level"]["min"], matchers["level"]["max"]),
        countries=tuple(matchers["has"]["country"]),
        required_items=tuple(matchers["has"]["items"]),
        forbidden_items=tuple(matchers["does_not_have"]["items"]),
    )
    player = profile_from_document(sample_profile_doc)
    inside = parse_timestamp("2022-02-01 00:00:00Z")
    assert engine(player, [sample], inside, None) == ("mycampaign",)
    assert engine(player, [sample], inside, "mygame") == ("mycampaign",)
    assert engine(player, [sample], parse_timestamp("2022-02-25 00:00:00Z"), None) == ()
