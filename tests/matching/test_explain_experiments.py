"""What explain says about rollouts, holdouts, group limits and variants, with the
buckets they were decided on; and the boundaries those decisions sit on."""

from __future__ import annotations

import pytest

from services.domain.campaign import Campaign, Catalog
from services.domain.experiment import Group, Rollout, Variant
from services.domain.profile import Profile
from services.matching import CompiledCatalog, Outcome, explain, match_reference
from services.matching.bucketing import bucket, holdout_salt, point, rollout_salt, variant_salt
from tests.matching.helpers import NOW, campaign, serving_id

PLAYER = Profile(player_id="player-7")
ROLLED = bucket(rollout_salt("g", "offer"), "player-7")
HELD = bucket(holdout_salt("popup"), "player-7")


def engines(campaigns: list[Campaign], groups: tuple[Group, ...] = ()) -> set[tuple[str, ...]]:
    """The answers of both engines for PLAYER (a set: one element when they agree)."""
    compiled = CompiledCatalog(Catalog("v", tuple(campaigns), groups=groups), at=NOW)
    fields = serving_id(PLAYER.player_id)
    return {
        compiled.match(fields, NOW),
        match_reference(PLAYER, campaigns, NOW, groups=groups),
    }


def test_a_bucket_equal_to_the_threshold_is_out_of_the_rollout() -> None:
    assert engines([campaign("offer", rollout=Rollout(ROLLED))]) == {()}
    assert engines([campaign("offer", rollout=Rollout(ROLLED + 1))]) == {("offer",)}
    assert engines([campaign("offer", rollout=Rollout(0))]) == {()}
    assert engines([campaign("offer", rollout=Rollout(100_000))]) == {("offer",)}


def test_a_custom_salt_replaces_the_default() -> None:
    custom = bucket("spring-2026", "player-7")
    assert engines([campaign("offer", rollout=Rollout(custom, "spring-2026"))]) == {()}
    assert engines([campaign("offer", rollout=Rollout(custom + 1, "spring-2026"))]) == {("offer",)}


def test_a_bucket_equal_to_the_holdout_is_not_held_out() -> None:
    offer = campaign("offer", group="popup")
    assert engines([offer], (Group("popup", holdout_threshold=HELD),)) == {("offer",)}
    assert engines([offer], (Group("popup", holdout_threshold=HELD + 1),)) == {()}


def test_not_in_rollout() -> None:
    threshold = ROLLED  # so the player is just out
    [e] = explain(PLAYER, [campaign("offer", rollout=Rollout(threshold))], NOW)
    assert (e.outcome, e.matcher) == (Outcome.NOT_MATCHED, "rollout")
    assert e.reason == f"rollout: not in rollout (bucket {ROLLED:,} >= {threshold:,})"
    assert e.actual == f"bucket {ROLLED:,}"
    assert e.rollout_bucket == ROLLED


def test_in_rollout_matched_with_its_bucket_and_variant() -> None:
    split = (Variant("control", 1), Variant("cheaper", 1))
    [e] = explain(PLAYER, [campaign("offer", rollout=Rollout(ROLLED + 1), variants=split)], NOW)
    at = point(variant_salt("g", "offer"), "player-7", 2)
    assert (e.outcome, e.reason) == (Outcome.MATCHED, "all matchers hold")
    assert e.rollout_bucket == ROLLED
    assert e.variant_bucket == at
    assert e.variant == ("control", "cheaper")[at]


def test_held_out_of_a_group() -> None:
    groups = (Group("popup", holdout_threshold=HELD + 1),)
    [e] = explain(PLAYER, [campaign("offer", group="popup")], NOW, groups=groups)
    assert (e.outcome, e.matcher) == (Outcome.NOT_MATCHED, "holdout")
    assert e.reason == f"holdout: in holdout of group popup (bucket {HELD:,} < {HELD + 1:,})"


def test_group_full_names_who_took_it_even_from_another_game() -> None:
    winner = campaign("big_sale", game="other", priority=9, group="popup")
    loser = campaign("offer", priority=1, group="popup")
    groups = (Group("popup", max_active=1),)
    explanations = explain(PLAYER, [loser, winner], NOW, "g", groups=groups)
    assert [(e.campaign, e.outcome, e.matcher) for e in explanations] == [
        ("offer", Outcome.NOT_MATCHED, "group"),
        ("big_sale", Outcome.NOT_CONSIDERED, "game"),
    ]
    assert explanations[0].reason == "group: group popup full (taken by big_sale)"
    assert explanations[0].expected == "at most 1 of group popup"


def test_matchers_fail_before_the_rollout_is_looked_at() -> None:
    [e] = explain(PLAYER, [campaign("offer", rollout=Rollout(0), countries=("US",))], NOW)
    assert e.matcher == "has.country"
    assert e.rollout_bucket is None


@pytest.mark.parametrize("player_id", ["", "player-7", "🎮"])
def test_explain_agrees_with_the_engines(player_id: str) -> None:
    campaigns = [
        campaign("a", priority=3, group="popup", rollout=Rollout(60_000)),
        campaign("b", priority=2, group="popup", variants=(Variant("x", 1), Variant("y", 3))),
        campaign("c", priority=1, group="popup"),
        campaign("d", rollout=Rollout(30_000)),
    ]
    groups = (Group("popup", max_active=1, holdout_threshold=10_000),)
    player = Profile(player_id=player_id)
    matched = {
        e.campaign
        for e in explain(player, campaigns, NOW, groups=groups)
        if e.outcome is Outcome.MATCHED
    }
    assert matched == set(match_reference(player, campaigns, NOW, groups=groups))
