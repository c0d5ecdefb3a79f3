"""The reference engine against an oracle written straight from BRIEF.md's matching rules."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from services.domain.campaign import Campaign
from services.domain.profile import Profile
from services.matching import match_reference
from tests.matching.strategies import (
    INSTANTS,
    campaign_lists,
    clocks,
    everyone_campaigns,
    game_filters,
    profiles,
)


def oracle(
    profile: Profile, campaigns: list[Campaign], now: datetime, game: str | None
) -> tuple[str, ...]:
    """BRIEF.md, rule by rule, as plainly as it reads."""
    held = {item for item, quantity in profile.inventory.items() if quantity > 0}
    found = []
    for c in campaigns:
        # 6. Optional request filter `game`: only campaigns of that game are considered.
        if game and c.game != game:
            continue
        # 1. `enabled` is true, and now is within [start_date, end_date).
        if not (c.enabled and c.start_date <= now < c.end_date):
            continue
        # 2. `level`: min <= profile.level <= max, both inclusive. Absent: no condition.
        if c.level is not None and not (
            profile.level is not None and c.level.min <= profile.level <= c.level.max
        ):
            continue
        # 3. `has.country`: profile.country in the list, case-insensitively. Empty: no condition.
        if c.countries and not (
            profile.country is not None
            and profile.country.upper() in [code.upper() for code in c.countries]
        ):
            continue
        # 4. `has.items`: the player holds every listed item with quantity > 0.
        if not set(c.required_items) <= held:
            continue
        # 5. `does_not_have.items`: the player holds none of the listed items.
        if set(c.forbidden_items) & held:
            continue
        found.append(c)
    # Highest priority first, ties by name (then game, for the same name in several games).
    found.sort(key=lambda c: (-c.priority, c.name, c.game))
    return tuple(c.name for c in found)


@given(data=st.data(), profile=profiles(), campaigns=campaign_lists, game=game_filters)
def test_reference_agrees_with_the_brief(
    data: st.DataObject,
    profile: Profile,
    campaigns: list[Campaign],
    game: str | None,
) -> None:
    now = data.draw(clocks(campaigns))
    assert match_reference(profile, campaigns, now, game) == oracle(profile, campaigns, now, game)


@given(campaigns=everyone_campaigns, game=game_filters)
def test_reference_orders_like_the_brief(campaigns: list[Campaign], game: str | None) -> None:
    player = Profile(player_id="p")
    now = INSTANTS[1]
    assert match_reference(player, campaigns, now, game) == oracle(player, campaigns, now, game)
