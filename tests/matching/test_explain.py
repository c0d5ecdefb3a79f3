"""explain() agrees with the engines and names the first failing matcher precisely."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.domain.campaign import Campaign, LevelRange
from services.domain.profile import Profile
from services.matching import Explanation, Outcome, explain, match_reference
from services.matching.explain import UNSET
from tests.matching.helpers import END, NOW, START, campaign, minus, profile
from tests.matching.strategies import campaign_lists, clocks, game_filters, profiles


def one(c: Campaign, player: Profile | None = None, game: str | None = None) -> Explanation:
    [explanation] = explain(player or profile(), [c], NOW, game)
    return explanation


@given(data=st.data(), player=profiles(), campaigns=campaign_lists, game=game_filters)
def test_matched_exactly_when_the_engine_matches(
    data: st.DataObject, player: Profile, campaigns: list[Campaign], game: str | None
) -> None:
    now = data.draw(clocks(campaigns))
    explanations = explain(player, campaigns, now, game)

    assert [(e.game, e.campaign) for e in explanations] == [(c.game, c.name) for c in campaigns]
    matched = [
        c for c, e in zip(campaigns, explanations, strict=True) if e.outcome is Outcome.MATCHED
    ]
    # Same multiset of names as the engine's answer (the engine orders them, explain does not).
    assert Counter(c.name for c in matched) == Counter(
        match_reference(player, campaigns, now, game)
    )
    for c, e in zip(campaigns, explanations, strict=True):
        if e.outcome is Outcome.MATCHED:
            assert (e.matcher, e.expected, e.actual, e.reason) == ("", "", "", "all matchers hold")
        else:
            assert e.reason.startswith(f"{e.matcher}: ")
            assert e.expected
            assert e.actual
            # A campaign alone, or filtered out alone, gets the same verdict.
            assert explain(player, [c], now, game) == [e]
        if e.outcome is Outcome.NOT_MATCHED:
            # Clearing the named matcher and those after it makes the campaign match;
            # clearing only those after it does not: it is the first one that fails.
            k = PROFILE_MATCHERS.index(e.matcher)
            assert match_reference(player, [_without(c, k)], now, game)
            assert not match_reference(player, [_without(c, k + 1)], now, game)
        elif e.outcome is Outcome.NOT_CONSIDERED:
            assert e.matcher == _not_considered_because(c, now, game)


PROFILE_MATCHERS = ("level", "has.country", "has.items", "does_not_have.items")


def _without(c: Campaign, first: int) -> Campaign:
    """`c` with the profile matchers from index `first` on removed."""
    cleared: dict[str, Any] = {
        "level": None,
        "countries": (),
        "required_items": (),
        "forbidden_items": (),
    }
    return replace(c, **dict(list(cleared.items())[first:]))


def _not_considered_because(c: Campaign, now: datetime, game: str | None) -> str:
    # The order of decisions: enabled, then the window, then the game.
    if not c.enabled:
        return "enabled"
    if not c.start_date <= now < c.end_date:
        return "window"
    assert game
    assert c.game != game
    return "game"


def test_matched() -> None:
    assert one(campaign("m", game="g")) == Explanation(
        game="g",
        campaign="m",
        outcome=Outcome.MATCHED,
        matcher="",
        expected="",
        actual="",
        reason="all matchers hold",
    )


def test_other_game_is_not_considered() -> None:
    e = one(campaign(game="g1"), game="g2")
    assert (e.outcome, e.matcher, e.expected, e.actual) == (
        Outcome.NOT_CONSIDERED,
        "game",
        "g1",
        "g2",
    )
    assert e.reason == "game: campaign is for g1, request asks for g2"


def test_the_game_is_decided_after_enabled_and_the_window() -> None:
    # Issue 15's order of decisions: enabled -> window/schedule -> game -> matchers.
    assert one(campaign(game="g1", enabled=False), game="g2").matcher == "enabled"
    ended = campaign(game="g1", start_date=END, end_date=END)
    assert one(ended, game="g2").matcher == "window"


def test_disabled_is_reported_before_the_window() -> None:
    e = one(campaign(enabled=False, start_date=END, end_date=END))
    assert (e.outcome, e.matcher, e.expected, e.actual) == (
        Outcome.NOT_CONSIDERED,
        "enabled",
        "true",
        "false",
    )


@pytest.mark.parametrize(
    ("now", "actual", "why"),
    [
        (minus(START), "2022-01-24 23:59:59.999999Z", "not started yet"),
        (END, "2022-02-25 00:00:00Z", "already ended"),
    ],
)
def test_window(now: datetime, actual: str, why: str) -> None:
    [e] = explain(profile(), [campaign()], now)
    assert (e.outcome, e.matcher, e.expected, e.actual) == (
        Outcome.NOT_CONSIDERED,
        "window",
        "2022-01-25 00:00:00Z .. 2022-02-25 00:00:00Z",
        actual,
    )
    assert e.reason == f"window: want {e.expected}, now is {actual} ({why})"


def test_empty_window() -> None:
    e = one(campaign(start_date=END, end_date=START))
    assert e.matcher == "window"
    assert e.reason.endswith("(the window is empty)")


@pytest.mark.parametrize(("level", "actual"), [(7, "7"), (0, "0"), (None, UNSET)])
def test_level(level: int | None, actual: str) -> None:
    e = one(campaign(level=LevelRange(1, 3)), profile(level=level))
    assert (e.outcome, e.matcher, e.expected, e.actual) == (
        Outcome.NOT_MATCHED,
        "level",
        "1..3",
        actual,
    )
    assert e.reason == f"level: want 1..3, have {actual}"


@pytest.mark.parametrize(("country", "actual"), [("DE", "DE"), (None, UNSET)])
def test_country(country: str | None, actual: str) -> None:
    e = one(campaign(countries=("US", "RO", "CA")), profile(country=country))
    assert (e.matcher, e.expected, e.actual) == ("has.country", "US, RO, CA", actual)
    assert e.reason == f"has.country: want one of US, RO, CA, have {actual}"


def test_has_items_names_what_is_missing_and_zero_quantities() -> None:
    c = campaign(required_items=("item_1", "item_2", "item_3"))
    e = one(c, profile(inventory={"item_1": 4, "item_2": 0}))
    assert (e.matcher, e.expected, e.actual) == (
        "has.items",
        "item_1, item_2, item_3",
        "missing item_2 (quantity 0), item_3",
    )
    assert e.reason == (
        "has.items: want all of item_1, item_2, item_3, missing item_2 (quantity 0), item_3"
    )


def test_does_not_have_items_names_the_held_ones() -> None:
    c = campaign(forbidden_items=("item_4", "item_5", "item_6"))
    e = one(c, profile(inventory={"item_4": 2, "item_5": 0, "item_6": 1}))
    assert (e.matcher, e.expected, e.actual) == (
        "does_not_have.items",
        "item_4, item_5, item_6",
        "holds item_4 x2, item_6 x1",
    )


def test_first_failing_matcher_in_brief_order() -> None:
    everything_wrong = campaign(
        level=LevelRange(1, 3),
        countries=("US",),
        required_items=("a",),
        forbidden_items=("b",),
    )
    player = profile(level=9, country="DE", inventory={"b": 1})
    assert one(everything_wrong, player).matcher == "level"
    player = profile(level=2, country="DE", inventory={"b": 1})
    assert one(everything_wrong, player).matcher == "has.country"
    player = profile(level=2, country="us", inventory={"b": 1})
    assert one(everything_wrong, player).matcher == "has.items"
    player = profile(level=2, country="us", inventory={"a": 1, "b": 1})
    assert one(everything_wrong, player).matcher == "does_not_have.items"
    player = profile(level=2, country="us", inventory={"a": 1, "b": 0})
    assert one(everything_wrong, player).outcome is Outcome.MATCHED


def test_keeps_catalog_order_and_one_per_campaign() -> None:
    campaigns = [campaign("z", priority=0.0), campaign("a", priority=9.0, enabled=False)]
    assert [e.campaign for e in explain(profile(), campaigns, NOW)] == ["z", "a"]


def test_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        explain(profile(), [], NOW.replace(tzinfo=None))


def test_empty_country_is_shown_quoted() -> None:
    e = one(campaign(countries=("US",)), profile(country=""))
    assert (e.matcher, e.actual) == ("has.country", '""')
