"""The matching rules of BRIEF.md, one function per rule, evaluated campaign by campaign.

This is the engine that is easy to check against the brief by reading it. The compiled
engine (`compiled.py`) must give exactly the same answers and is tested against this one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.domain.campaign import Campaign
from services.domain.experiment import Group
from services.domain.profile import Profile
from services.domain.profile_json import profile_to_document
from services.matching.experiments import apply_experiments, groups_by_name

RankKey = tuple[bool, float, str, str]


def require_aware(now: datetime) -> None:
    """Refuses a naive clock: comparing it with the catalog's zoned times would be a guess."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")


def considered(campaign: Campaign, game: str | None) -> bool:
    """Rule 6: with a `game` filter, only that game's campaigns; None or "" means all games."""
    return not game or campaign.game == game


def in_window(campaign: Campaign, now: datetime) -> bool:
    """Rule 1: enabled, and start_date <= now < end_date."""
    return campaign.is_live(now)


def level_holds(campaign: Campaign, profile: Profile) -> bool:
    """Rule 2: min <= level <= max, both inclusive; no level matcher, no condition."""
    if campaign.level is None:
        return True
    if profile.level is None:
        return False
    return campaign.level.min <= profile.level <= campaign.level.max


def country_holds(campaign: Campaign, profile: Profile) -> bool:
    """Rule 3: the profile's country is listed, ISO codes compared case-insensitively."""
    if not campaign.countries:
        return True
    if profile.country is None:
        return False
    wanted = profile.country.upper()
    return any(country.upper() == wanted for country in campaign.countries)


def has_items_holds(campaign: Campaign, profile: Profile) -> bool:
    """Rule 4: every listed item held with quantity > 0."""
    return all(profile.holds(item) for item in campaign.required_items)


def does_not_have_holds(campaign: Campaign, profile: Profile) -> bool:
    """Rule 5: none of the listed items held with quantity > 0."""
    return not any(profile.holds(item) for item in campaign.forbidden_items)


def where_holds(
    campaign: Campaign, document: Mapping[str, Any], context: Mapping[str, Any], now: datetime
) -> bool:
    """Targeting: the campaign's `where` holds for the profile's document and the
    request's context, evaluated clause by clause; no `where`, no condition."""
    return campaign.where is None or campaign.where.evaluate(document, context, now)


def matches(campaign: Campaign, profile: Profile, now: datetime) -> bool:
    """Rules 1 to 5 together."""
    return (
        in_window(campaign, now)
        and level_holds(campaign, profile)
        and country_holds(campaign, profile)
        and has_items_holds(campaign, profile)
        and does_not_have_holds(campaign, profile)
    )


def rank_key(campaign: Campaign) -> RankKey:
    """Answer order: highest priority first, then name, then game.

    A NaN priority has no place in a numeric order (it compares false with everything, so
    a sort would depend on input order); it ranks after every number instead, which keeps
    both engines in agreement even if a catalog lets one through.
    """
    priority = campaign.priority
    if math.isnan(priority):
        return (True, 0.0, campaign.name, campaign.game)
    return (False, -priority, campaign.name, campaign.game)


def match_reference(
    profile: Profile,
    campaigns: Iterable[Campaign],
    now: datetime,
    game: str | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    groups: Iterable[Group] = (),
) -> tuple[str, ...]:
    """Names of the campaigns that match `profile` at `now`, in answer order.

    Campaigns of the same name in different games are all kept; campaigns that tie on
    priority, name and game keep their catalog order. `context`: the request's, for
    `where` conditions (none: empty).
    """
    return tuple(
        c.name for c in active_reference(profile, campaigns, now, game, context, groups=groups)
    )


def active_reference(
    profile: Profile,
    campaigns: Iterable[Campaign],
    now: datetime,
    game: str | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    groups: Iterable[Group] = (),
) -> list[Campaign]:
    """The campaigns `profile` gets at `now`, in answer order: the matchers and `where`
    hold, then the experiments (services.matching.experiments) with `profile.player_id`
    as the player.

    Group limits count the player's campaigns of every game, so with groups the
    `game` filter narrows the result after them; without, it is applied first, which
    gives the same answer with less work.
    """
    require_aware(now)
    campaigns = tuple(campaigns)
    grouped = any(campaign.group for campaign in campaigns)
    document = profile_document(profile, campaigns)
    context = context or {}
    matched = [
        campaign
        for campaign in campaigns
        if (grouped or considered(campaign, game))
        and matches(campaign, profile, now)
        and where_holds(campaign, document, context, now)
    ]
    matched.sort(key=rank_key)
    kept = apply_experiments(matched, profile.player_id, groups_by_name(groups))
    return [campaign for campaign in kept if considered(campaign, game)]


def profile_document(profile: Profile, campaigns: tuple[Campaign, ...]) -> Mapping[str, Any]:
    """The profile as a document, built whole (the plain form, unlike serving's lazy
    views), when some campaign has a `where` to evaluate on it."""
    if any(campaign.where is not None for campaign in campaigns):
        return profile_to_document(profile)
    return {}
