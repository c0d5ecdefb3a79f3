"""Experiments in the engines: the compiled engine equals the reference with every
feature mixed, rollouts only grow with their percentage, variants ignore the rollout,
groups never exceed their limit."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.codecs.profile_message import profile_to_message, serving_record
from services.domain.campaign import Campaign, Catalog
from services.domain.experiment import Group, Rollout, Variant
from services.domain.profile import Profile
from services.matching import CompiledCatalog, match_reference
from services.matching.experiments import assign, groups_by_name
from services.matching.reference import active_reference
from tests.matching.experiment_strategies import (
    catalog_with,
    experiment_campaign_lists,
    groups,
    player_ids,
    schedule_clocks,
)
from tests.matching.helpers import NOW, campaign, serving_id
from tests.matching.strategies import game_filters, profiles

PLAYERS = [f"player-{i}" for i in range(2_000)]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), campaigns=experiment_campaign_lists, group_list=groups)
def test_compiled_equals_reference_with_every_feature_mixed(
    data: st.DataObject, campaigns: list[Campaign], group_list: list[Group]
) -> None:
    player = replace(data.draw(profiles()), player_id=data.draw(player_ids))
    player_id = player.player_id
    game = data.draw(game_filters)
    in_horizon = data.draw(st.booleans())
    now = data.draw(schedule_clocks(campaigns))
    # Compiled around `now` (schedules come from the time index) or far from it (they
    # are checked one by one): both must give the reference's answer.
    compiled = CompiledCatalog(
        catalog_with(campaigns, group_list), at=now if in_horizon else now + timedelta(days=400)
    )
    expected = active_reference(player, campaigns, now, game, groups=group_list)

    names = tuple(c.name for c in expected)
    assert compiled.match(player, now, game) == names
    full, answer, assignments = compiled.evaluate(player, now, game)
    assert answer == names
    assert full == match_reference(player, campaigns, now, groups=group_list)
    assert assignments == tuple(assign(c, player_id) for c in expected)
    # What the matcher reads of a stored profile gives the same answer.
    fields = serving_record(profile_to_message(player))
    assert compiled.evaluate(fields, now, game) == (full, answer, assignments)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), campaigns=experiment_campaign_lists, group_list=groups)
def test_groups_never_exceed_max_active(
    data: st.DataObject, campaigns: list[Campaign], group_list: list[Group]
) -> None:
    # Unique names, so that each name in the answer is one campaign.
    campaigns = [replace(c, name=f"{c.name}{i}") for i, c in enumerate(campaigns)]
    group_of = {c.name: c.group for c in campaigns}
    now = data.draw(schedule_clocks(campaigns))
    player = replace(data.draw(profiles()), player_id=data.draw(player_ids))
    compiled = CompiledCatalog(catalog_with(campaigns, group_list), at=now)
    full, _, _ = compiled.evaluate(player, now)
    counted = Counter(group_of[name] for name in full)
    for group in group_list:
        assert counted[group.name] <= (group.max_active or len(campaigns))
        if group.holdout_threshold == 100_000:
            assert counted[group.name] == 0


@given(low=st.integers(0, 100_000), high=st.integers(0, 100_000), salt=st.sampled_from(("", "s")))
def test_rollout_is_monotonic(low: int, high: int, salt: str) -> None:
    low, high = min(low, high), max(low, high)

    def players_in(threshold: int) -> set[str]:
        compiled = CompiledCatalog(
            Catalog("v", (campaign("offer", rollout=Rollout(threshold, salt)),)), at=NOW
        )
        return {p for p in PLAYERS if compiled.match(serving_id(p), NOW)}

    assert players_in(low) <= players_in(high)


@given(threshold=st.integers(1, 100_000))
def test_variants_do_not_depend_on_the_rollout(threshold: int) -> None:
    split = (Variant("a", 1), Variant("b", 1), Variant("c", 2))
    plain = CompiledCatalog(Catalog("v", (campaign("offer", variants=split),)), at=NOW)
    rolled = CompiledCatalog(
        Catalog("v", (campaign("offer", variants=split, rollout=Rollout(threshold)),)), at=NOW
    )
    for player_id in PLAYERS[:300]:
        fields = serving_id(player_id)
        _, answer, assignments = rolled.evaluate(fields, NOW)
        if answer:
            assert assignments == plain.evaluate(fields, NOW)[2]


def test_variant_shares_inside_a_rollout_follow_the_weights() -> None:
    # Independence in numbers: among the players of a 25% rollout the split is still even.
    catalog = Catalog(
        "v",
        (campaign("offer", rollout=Rollout(25_000), variants=(Variant("a", 1), Variant("b", 1))),),
    )
    compiled = CompiledCatalog(catalog, at=NOW)
    chosen = Counter(
        a.variant for i in range(40_000) for a in compiled.evaluate(serving_id(f"id-{i}"), NOW)[2]
    )
    total = chosen["a"] + chosen["b"]
    assert total / 40_000 * 100 == pytest.approx(25, abs=1)
    assert chosen["a"] / total * 100 == pytest.approx(50, abs=1.5)


def test_a_holdout_and_a_limit_of_one_in_answer_order() -> None:
    big = campaign("big", priority=9, group="popup")
    small = campaign("small", priority=1, group="popup")
    alone = campaign("alone", priority=5)
    limited = Catalog("v", (small, alone, big), groups=(Group("popup", max_active=1),))
    held = Catalog("v", (small, alone, big), groups=(Group("popup", holdout_threshold=100_000),))
    player = serving_id("p")
    assert CompiledCatalog(limited, at=NOW).match(player, NOW) == ("big", "alone")
    assert CompiledCatalog(held, at=NOW).match(player, NOW) == ("alone",)


def test_a_player_outside_the_rollout_frees_the_group_place() -> None:
    first = campaign("first", priority=9, group="popup", rollout=Rollout(0))
    second = campaign("second", priority=1, group="popup")
    catalog = Catalog("v", (first, second), groups=(Group("popup", max_active=1),))
    assert CompiledCatalog(catalog, at=NOW).match(serving_id("p"), NOW) == ("second",)


def test_group_limits_count_every_game_and_the_game_filter_narrows_after() -> None:
    other = campaign("other_game_offer", game="g2", priority=9, group="popup")
    mine = campaign("my_offer", game="g1", priority=1, group="popup")
    catalog = Catalog("v", (mine, other), groups=(Group("popup", max_active=1),))
    compiled = CompiledCatalog(catalog, at=NOW)
    player = Profile(player_id="p")
    # g2's campaign takes the group's one place, so g1 answers nothing.
    assert compiled.match(player, NOW, "g1") == ()
    assert compiled.evaluate(player, NOW, "g1")[:2] == (("other_game_offer",), ())
    assert match_reference(player, [mine, other], NOW, "g1", groups=catalog.groups) == ()


def test_without_experiments_the_player_id_is_never_read() -> None:
    class NoPlayerId:
        level = None
        country = None
        inventory: ClassVar[dict[str, int]] = {}

        @property
        def player_id(self) -> str:
            raise AssertionError("read the player id")

    compiled = CompiledCatalog(Catalog("v", (campaign("plain", payload={"a": 1}),)), at=NOW)
    assert compiled.match(NoPlayerId(), NOW) == ("plain",)


def test_assignments_carry_variant_payloads_or_the_campaign_payload() -> None:
    split = campaign(
        "split",
        priority=2,
        variants=(Variant("a", 1, {"price": 1}), Variant("b", 0, {"price": 2})),
    )
    fixed = campaign("fixed", payload={"discount": 20})
    compiled = CompiledCatalog(Catalog("v", (fixed, split)), at=NOW)
    _, _, assignments = compiled.evaluate(serving_id("p"), NOW)
    assert [(a.campaign, a.variant, a.payload) for a in assignments] == [
        ("split", "a", {"price": 1}),
        ("fixed", "", {"discount": 20}),
    ]


def test_groups_by_name() -> None:
    assert groups_by_name([Group("a"), Group("b", 1)]) == {"a": Group("a"), "b": Group("b", 1)}
