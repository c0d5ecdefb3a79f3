"""The rule for changing some fields of a stored profile, whatever the store.

A store reads the stored document, asks `plan_field_update` what the change makes of
it, and writes what the plan says, inside whatever makes its read and write one
step (a transaction, or a write that names only the changed fields).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from services.domain.errors import InvalidInput
from services.domain.profile import Profile
from services.domain.profile_fields import KNOWN_FIELDS
from services.domain.profile_json import (
    document_value,
    profile_from_document,
    stored_profile,
    validate_custom_field_name,
    validate_custom_value,
)

_KNOWN = frozenset(KNOWN_FIELDS)


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """A validated change: the profile it produces and the minimal write.

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
    """Merges the change into `current` (the stored document) in memory and validates
    the result.

    Raises InvalidInput (before anything is written) when a key is not a field name,
    when a new custom value holds a key no store can keep, when a key is both set and
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

    set_values: dict[str, Any] = {}
    cleared: list[str] = []
    for key in values:
        if key == "player_id":
            continue
        if key not in _KNOWN:
            set_values[key] = profile.custom_fields[key]
        elif (value := document_value(profile, key)) is not None:
            set_values[key] = value
        else:
            cleared.append(key)
    return FieldUpdate(profile, set_values, unset_keys + tuple(cleared))


def _check_field_name(key: object) -> None:
    # Keys become field names in a store: a dotted path or an operator must never pass.
    if not isinstance(key, str):
        raise InvalidInput("values", f"field names must be strings, got {type(key).__name__}")
    if key not in _KNOWN:
        if not key.startswith("_"):
            raise InvalidInput(key, "unknown field (custom fields must start with '_')")
        validate_custom_field_name(key)
