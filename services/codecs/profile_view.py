"""A stored Profile message read as the document a condition evaluates, lazily.

Conditions read a profile through `Mapping.get`, one top-level key at a time, and most
read two or three keys. Building the whole document of every profile (every time
converted, every device copied, the custom fields' JSON parsed) would cost an audience
scan most of its time, so this view converts a field only when it is asked for.

What it shows is the document `profile_to_document` writes for the profile the row
holds, as the MongoDB store keeps it: unset scalars, times and clans absent;
`active_campaigns` and `inventory` always present (empty when empty); `devices` absent
when empty (the message cannot tell an empty list from none); custom fields by their
`_name`, from the row's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import orjson

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.timestamps import datetime_from_timestamp
from services.domain.profile_fields import CLAN_FIELDS, DEVICE_FIELDS, PROFILE_FIELDS, FieldKind

# Takes the Profile message; typed Any because it reads fields by name.
Getter = Callable[[Any], Any]


def _presence(name: str, convert: Callable[[Any], Any] | None = None) -> Getter:
    if convert is None:
        return lambda msg: getattr(msg, name) if msg.HasField(name) else None
    return lambda msg: convert(getattr(msg, name)) if msg.HasField(name) else None


def _time(name: str) -> Getter:
    return _presence(name, lambda value: datetime_from_timestamp(value, name))


def _names(name: str) -> Getter:
    return lambda msg: list(getattr(msg, name))


def _devices(name: str) -> Getter:
    def devices(msg: profile_pb2.Profile) -> list[dict[str, Any]] | None:
        listed = getattr(msg, name)
        if not listed:
            return None
        return [{field: getattr(d, field) for field in DEVICE_FIELDS} for d in listed]

    return devices


def _inventory(name: str) -> Getter:
    return lambda msg: dict(getattr(msg, name))


def _clan(name: str) -> Getter:
    return _presence(name, lambda clan: {field: getattr(clan, field) for field in CLAN_FIELDS})


_GETTER_OF_KIND: Final[dict[FieldKind, Callable[[str], Getter]]] = {
    FieldKind.TIME: _time,
    FieldKind.WHOLE_NUMBER: _presence,
    FieldKind.NUMBER: _presence,
    FieldKind.TEXT: _presence,
    FieldKind.NAMES: _names,
    FieldKind.DEVICES: _devices,
    FieldKind.INVENTORY: _inventory,
    FieldKind.CLAN: _clan,
}
_GETTERS: Final[dict[str, Getter]] = {
    "player_id": lambda msg: msg.player_id,
    **{f.name: _GETTER_OF_KIND[f.kind](f.name) for f in PROFILE_FIELDS},
}
# Fields whose document is built of many values: kept once built, as a condition may
# read several items or devices. Scalars cost less to read again than to keep.
_KEPT: Final = frozenset(
    f.name for f in PROFILE_FIELDS if f.kind in (FieldKind.DEVICES, FieldKind.INVENTORY)
)
_ABSENT: Final = object()


class StoredProfileView(Mapping[str, Any]):
    """The document of one stored profile (see the module's doc), built key by key.

    `message` is the row's Profile message without custom fields, `custom` the row's
    custom fields as JSON text (None: none). A custom field's JSON that does not parse raises
    orjson.JSONDecodeError when a custom field is first read.
    """

    __slots__ = ("_custom", "_custom_text", "_message", "_values")

    def __init__(self, message: profile_pb2.Profile, custom: str | None) -> None:
        self._message = message
        self._custom_text = custom
        self._custom: dict[str, Any] | None = None
        self._values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        if key[:1] == "_":
            # A custom field may hold null, which MongoDB tells from no field.
            return self._customs().get(key, default)
        getter = _GETTERS.get(key)
        if getter is None:
            return default
        if key in _KEPT:
            values = self._values
            value = values.get(key, _ABSENT)
            if value is _ABSENT:
                value = values[key] = getter(self._message)
        else:
            value = getter(self._message)
        return default if value is None else value

    def _customs(self) -> dict[str, Any]:
        custom = self._custom
        if custom is None:
            text = self._custom_text
            parsed = orjson.loads(text) if text is not None else {}
            custom = self._custom = parsed if isinstance(parsed, dict) else {}
        return custom

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        for key in _GETTERS:
            if self.get(key) is not None:
                yield key
        yield from self._customs()

    def __len__(self) -> int:
        return sum(1 for _ in self)
