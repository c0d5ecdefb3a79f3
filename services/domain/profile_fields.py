"""The profile's fields, declared once: the Profile dataclass, read here into a table.

Every codec (documents, Profile messages, the embedded store's rows) walks this table
rather than spelling the field list again. Adding a field to the profile is a typed
attribute on Profile, whose annotation picks its kind and so its validation rule,
plus the field in profile.proto; the message codec refuses to load while the two
disagree. A field of a new kind needs that kind's rule in each codec.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from services.domain.profile import Clan, Device, Profile


class FieldKind(Enum):
    """What a field holds; members are in the order documents are checked, kind by
    kind, so the first bad field reported is the same whatever the codec."""

    TIME = "a time"
    WHOLE_NUMBER = "a whole number"
    NUMBER = "a number"
    TEXT = "text"
    NAMES = "a list of names"
    DEVICES = "a list of devices"
    INVENTORY = "item quantities"
    CLAN = "a clan"


@dataclass(frozen=True, slots=True)
class ProfileField:
    name: str
    kind: FieldKind


# Profile's annotations (as written: `from __future__ import annotations` keeps them
# text) and the kind each one means. `player_id` and `custom_fields` have rules of
# their own and are not in the table.
_KIND_OF_ANNOTATION = {
    "datetime | None": FieldKind.TIME,
    "int | None": FieldKind.WHOLE_NUMBER,
    "float | None": FieldKind.NUMBER,
    "str | None": FieldKind.TEXT,
    "tuple[str, ...]": FieldKind.NAMES,
    "tuple[Device, ...] | None": FieldKind.DEVICES,
    "Mapping[str, int]": FieldKind.INVENTORY,
    "Clan | None": FieldKind.CLAN,
}
_OWN_RULES = ("player_id", "custom_fields")


def _table() -> tuple[ProfileField, ...]:
    table = []
    for attribute in dataclasses.fields(Profile):
        if attribute.name in _OWN_RULES:
            continue
        kind = _KIND_OF_ANNOTATION.get(str(attribute.type))
        if kind is None:
            raise TypeError(
                f"Profile.{attribute.name}: no field kind for {attribute.type!r};"
                " give it a rule in services/domain/profile_fields.py"
            )
        table.append(ProfileField(attribute.name, kind))
    return tuple(table)


# Every field but player_id and custom_fields, in the sample's order (Profile's).
PROFILE_FIELDS = _table()
# Every known top-level document key, in the sample's order (documents are written in it).
KNOWN_FIELDS = ("player_id", *(f.name for f in PROFILE_FIELDS))
KIND_OF = {f.name: f.kind for f in PROFILE_FIELDS}
# The fields of a device and of a clan, in their declared order.
DEVICE_FIELDS = tuple(f.name for f in dataclasses.fields(Device))
CLAN_FIELDS = tuple(f.name for f in dataclasses.fields(Clan))


def names_of(*kinds: FieldKind) -> tuple[str, ...]:
    """The names of the fields of `kinds`, in the sample's order."""
    return tuple(f.name for f in PROFILE_FIELDS if f.kind in kinds)
