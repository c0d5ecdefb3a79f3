"""Checks every store makes on its arguments, so all give the same answers to the same calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.domain.errors import InvalidInput
from services.domain.profile import Profile
from services.domain.profile_json import validate_player_id


def checked_ids(player_ids: Iterable[str]) -> list[str]:
    """Validated ids without repeats, first occurrence first."""
    return list(dict.fromkeys(validate_player_id(pid) for pid in player_ids))


def checked_campaigns(player_id: str, names: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too; storing its characters would be a silent bug.
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise InvalidInput(f"active_campaigns[{player_id}]", "must be a list of strings")
    return list(names)


def last_per_player(profiles: Iterable[Profile]) -> list[Profile]:
    """One profile per player id, the last one given winning, in first-seen order."""
    latest: dict[str, Profile] = {}
    for profile in profiles:
        latest[validate_player_id(profile.player_id)] = profile
    return list(latest.values())
