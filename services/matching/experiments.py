"""The experiment rules after matching, campaign by campaign: the reference post-stage.

A campaign that matched a player (enabled, live, its game, every matcher holding)
still has to pass, in this order:
1. rollout: bucket(rollout salt, player) < percent * 1000;
2. group holdout: the player's bucket with the salt "group/<name>/holdout" is not
   under the group's holdout_percent * 1000 (held out: no campaign of that group);
3. group limit: of the group's campaigns that got this far, in answer order (priority
   desc, then name), the player gets the first max_active.
Then each active campaign is assigned: its variant (the first whose cumulative weight
exceeds (h * W) >> 32 with the variant salt) and that variant's payload, or the
campaign's own payload.

Groups are counted over everything the player matched, across games: a request's
`game` narrows the answer afterwards. A campaign naming a group the catalog does not
define (the campaign service refuses such a catalog) competes in a group with no limit
and no holdout.

The compiled engine (compiled_experiments.py) does the same on bitmasks and is tested
against this module.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from services.domain.campaign import Campaign
from services.domain.experiment import Group, JSONObject, Variant
from services.matching.bucketing import (
    bucket,
    holdout_salt,
    pick,
    point,
    rollout_salt,
    variant_salt,
)


@dataclass(frozen=True, slots=True)
class Assignment:
    """What an active campaign means for one player: which variant, with which payload."""

    game: str
    campaign: str
    # Empty for a campaign without variants.
    variant: str = ""
    payload: JSONObject | None = field(default=None, hash=False)


class Verdict(enum.Enum):
    KEPT = "kept"
    NOT_IN_ROLLOUT = "rollout"
    HELD_OUT = "holdout"
    GROUP_FULL = "group"


@dataclass(frozen=True, slots=True)
class Decision:
    campaign: Campaign
    verdict: Verdict
    # Set when the campaign has a rollout: the bucket it was decided on.
    rollout_bucket: int | None = None
    # Set when the campaign's group has a holdout.
    holdout_bucket: int | None = None
    # For GROUP_FULL: the group's campaigns the player got instead, in answer order.
    taken_by: tuple[Campaign, ...] = ()


def groups_by_name(groups: Iterable[Group]) -> dict[str, Group]:
    return {group.name: group for group in groups}


def rollout_bucket(campaign: Campaign, player_id: str) -> int:
    """The player's bucket for the campaign's rollout (its salt, or the default one)."""
    rollout = campaign.rollout
    salt = rollout.salt if rollout is not None and rollout.salt else None
    return bucket(salt or rollout_salt(campaign.game, campaign.name), player_id)


def holdout_bucket(group: str, player_id: str) -> int:
    return bucket(holdout_salt(group), player_id)


def decide(
    matched: Sequence[Campaign], player_id: str, groups: Mapping[str, Group]
) -> list[Decision]:
    """One decision per matched campaign; `matched` must be in answer order."""
    decisions: list[Decision] = []
    taken: dict[str, list[Campaign]] = {}
    for campaign in matched:
        rolled = None
        if campaign.rollout is not None:
            rolled = rollout_bucket(campaign, player_id)
            if rolled >= campaign.rollout.threshold:
                decisions.append(Decision(campaign, Verdict.NOT_IN_ROLLOUT, rolled))
                continue
        if not campaign.group:
            decisions.append(Decision(campaign, Verdict.KEPT, rolled))
            continue
        group = groups.get(campaign.group, Group(campaign.group))
        held = None
        if group.holdout_threshold:
            held = holdout_bucket(group.name, player_id)
            if held < group.holdout_threshold:
                decisions.append(Decision(campaign, Verdict.HELD_OUT, rolled, held))
                continue
        winners = taken.setdefault(group.name, [])
        if group.max_active and len(winners) >= group.max_active:
            decisions.append(Decision(campaign, Verdict.GROUP_FULL, rolled, held, tuple(winners)))
            continue
        winners.append(campaign)
        decisions.append(Decision(campaign, Verdict.KEPT, rolled, held))
    return decisions


def apply_experiments(
    matched: Sequence[Campaign], player_id: str, groups: Mapping[str, Group]
) -> list[Campaign]:
    """The matched campaigns (in answer order) the player actually gets."""
    return [d.campaign for d in decide(matched, player_id, groups) if d.verdict is Verdict.KEPT]


def variant_point(campaign: Campaign, player_id: str) -> int | None:
    """(h * W) >> 32 with the variant salt; None without variants (or weights)."""
    total = sum(v.weight for v in campaign.variants)
    if total <= 0:
        return None
    return point(variant_salt(campaign.game, campaign.name), player_id, total)


def choose_variant(campaign: Campaign, player_id: str) -> Variant | None:
    at = variant_point(campaign, player_id)
    if at is None:
        return None
    return campaign.variants[pick([v.weight for v in campaign.variants], at)]


def assign(campaign: Campaign, player_id: str) -> Assignment:
    variant = choose_variant(campaign, player_id)
    if variant is None:
        return Assignment(campaign.game, campaign.name, "", campaign.payload)
    return Assignment(campaign.game, campaign.name, variant.name, variant.payload)
