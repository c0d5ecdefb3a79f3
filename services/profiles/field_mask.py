"""UpdateProfile's field mask: which fields of the profile sent are set, which removed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.domain.errors import InvalidInput
from services.domain.profile import Profile
from services.domain.profile_fields import KNOWN_FIELDS
from services.domain.profile_json import (
    document_value,
    validate_custom_field_name,
    validate_custom_value,
)

# `custom_fields` in a mask sets every custom field the request carries (it is the
# only way to name them in a JSON FieldMask, which cannot spell a leading "_").
_MASKABLE = frozenset(KNOWN_FIELDS) - {"player_id"} | {"custom_fields"}


def changes_from_mask(profile: Profile, paths: Iterable[str]) -> tuple[dict[str, Any], set[str]]:
    """The document values to set, and the fields to remove (named but unset in
    `profile`), for the fields the mask's `paths` name; InvalidInput for a path that
    names no field, or one the caller may not set.

    Nested custom keys are checked here only in the custom fields the mask names, so a
    profile as GetProfile gave it (with `{"$oid": ...}` values from MongoDB) can be
    sent back with other fields changed.
    """
    values: dict[str, Any] = {}
    unset: set[str] = set()
    paths = list(paths)
    if not paths:
        raise InvalidInput("update_mask", "must name the fields to update")
    for path in paths:
        if path == "player_id":
            raise InvalidInput("update_mask", "player_id cannot be changed")
        if path == "active_campaigns":
            # The matcher owns it: the player's full list of matched campaigns, which
            # it writes only when that list changes.
            raise InvalidInput(
                "update_mask",
                "active_campaigns cannot be set: ProfileMatcherService maintains it",
            )
        if path == "custom_fields":
            values.update(profile.custom_fields)
            continue
        if path in _MASKABLE:
            value = document_value(profile, path)
            present = value is not None
        else:
            try:
                validate_custom_field_name(path)
            except InvalidInput:
                raise InvalidInput("update_mask", f"unknown field {path!r}") from None
            value = profile.custom_fields.get(path)
            present = path in profile.custom_fields
        if present:
            values[path] = value
        else:
            unset.add(path)
    _check_custom_values(values)
    return values, unset


def _check_custom_values(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key.startswith("_"):
            try:
                validate_custom_value(value, key)
            except InvalidInput as exc:
                raise InvalidInput(f"profile.{exc.field}", exc.problem) from None
