"""Rules both stores share, so SQLite and MongoDB give the same answers to the same calls."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.domain.errors import InvalidInput, StoredProfileCorrupt
from services.domain.profile import Profile
from services.domain.profile_fields import KNOWN_FIELDS
from services.domain.profile_json import (
    profile_from_document,
    profile_to_document,
    validate_custom_field_name,
    validate_custom_value,
    validate_player_id,
)

_KNOWN = frozenset(KNOWN_FIELDS)


def stored_profile_or_error(doc: Mapping[str, Any]) -> Profile | StoredProfileCorrupt:
    """`stored_profile` for batch reads: the error is returned in place of the profile."""
    try:
        return stored_profile(doc)
    except StoredProfileCorrupt as exc:
        return exc


def stored_profile(doc: Mapping[str, Any]) -> Profile:
    """A profile read back from a store; one that fails validation is corrupt data,
    not the caller's mistake. Nested custom keys are not held to the rule for new
    input: other writers may use them, and `$` ones are how a MongoDB store shows
    its own types (Extended JSON)."""
    try:
        return profile_from_document(doc, strict_keys=False)
    except InvalidInput as exc:
        player_id = doc.get("player_id") if isinstance(doc, Mapping) else None
        raise StoredProfileCorrupt(f"player {player_id!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """A validated update_fields call: the profile it produces and the minimal write.

    `set_values` holds canonical document values (what profile_to_document makes), so
    a time given as a string is stored as a time, and a known field set to None is
    moved to `unset` instead of being stored as null.
    """

    profile: Profile
    set_values: dict[str, Any]
    unset: tuple[str, ...]


def plan_field_update(
    current: Mapping[str, Any],
    player_id: str,
    values: Mapping[str, Any],
    unset: Collection[str],
) -> FieldUpdate:
    """Merges the change into `current` in memory and validates the result.

    Raises InvalidInput (before anything is written) when a key is not a field name,
    when a new custom value holds a key MongoDB reserves, when a key is both set and
    unset, when player_id would change or vanish, or when the merged document is not a
    valid profile; StoredProfileCorrupt when the fault is in a stored field the update
    leaves alone (an update may still repair a bad field).
    """
    for key in values:
        _check_field_name(key)
        if key not in _KNOWN:
            # New custom values meet the rule for input; the stored ones beside them
            # are left as they are (see stored_profile).
            validate_custom_value(values[key], key)
    unset_keys = tuple(dict.fromkeys(unset))
    for key in unset_keys:
        _check_field_name(key)
        if key in values:
            raise InvalidInput(key, "cannot be both set and unset")
    if "player_id" in unset_keys:
        raise InvalidInput("player_id", "cannot be removed")
    if "player_id" in values and values["player_id"] != player_id:
        raise InvalidInput("player_id", "cannot be changed")

    merged = dict(current)
    merged.update(values)
    for key in unset_keys:
        merged.pop(key, None)
    try:
        profile = profile_from_document(merged, strict_keys=False)
    except InvalidInput:
        untouched = {k: v for k, v in current.items() if k not in values and k not in unset_keys}
        stored_profile({**untouched, "player_id": current.get("player_id")})
        raise

    canonical = profile_to_document(profile)
    set_values = {k: canonical[k] for k in values if k in canonical and k != "player_id"}
    cleared = tuple(k for k in values if k not in canonical)
    return FieldUpdate(profile, set_values, unset_keys + cleared)


def _check_field_name(key: object) -> None:
    # Keys end up as MongoDB field names: a dotted path or an operator must never pass.
    if not isinstance(key, str):
        raise InvalidInput("values", f"field names must be strings, got {type(key).__name__}")
    if key not in _KNOWN:
        if not key.startswith("_"):
            raise InvalidInput(key, "unknown field (custom fields must start with '_')")
        validate_custom_field_name(key)


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
