"""A stored Profile message read as the profile's document, field by field.

Serving holds each player's stored Profile message. A campaign's `where` reads a few
fields of it as the document games store (datetimes aware, `inventory` a dict,
`devices` a list of dicts, custom fields under their `_name`); `MessageView` converts
only the fields asked for, each once per request, so a request whose conditions read
`level` and `_tier` converts those two and nothing else.

It reads as `profile_to_document(profile_from_message(msg))` would: a field the
message does not set is absent, `inventory` is always there (a dict, maybe empty),
and so is `active_campaigns` (a list). Custom values come from their
google.protobuf.Value as JSON (a whole number as an int).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.struct_value import json_from_value
from services.codecs.timestamps import datetime_from_timestamp
from services.domain.profile_fields import (
    CLAN_FIELDS,
    DEVICE_FIELDS,
    KIND_OF,
    KNOWN_FIELDS,
    FieldKind,
)
from services.domain.profile_view import ABSENT, LazyDocument

Message = profile_pb2.Profile


# The readers take Any: the stubs type HasField's argument as the literal field names.
def _plain(msg: Any, name: str) -> Any:
    return getattr(msg, name) if msg.HasField(name) else ABSENT


def _time(msg: Any, name: str) -> Any:
    return datetime_from_timestamp(getattr(msg, name), name) if msg.HasField(name) else ABSENT


def _names(msg: Any, name: str) -> Any:
    return list(getattr(msg, name))


_DEVICE_VALUES = attrgetter(*DEVICE_FIELDS)


def _devices(msg: Any, name: str) -> Any:
    devices = getattr(msg, name)
    if not devices:
        return ABSENT
    return [dict(zip(DEVICE_FIELDS, _DEVICE_VALUES(d), strict=True)) for d in devices]


def _inventory(msg: Any, name: str) -> Any:
    return dict(getattr(msg, name))


def _clan(msg: Any, name: str) -> Any:
    if not msg.HasField(name):
        return ABSENT
    clan = getattr(msg, name)
    return {field: getattr(clan, field) for field in CLAN_FIELDS}


_READ: dict[FieldKind, Callable[[Any, str], Any]] = {
    FieldKind.TIME: _time,
    FieldKind.WHOLE_NUMBER: _plain,
    FieldKind.NUMBER: _plain,
    FieldKind.TEXT: _plain,
    FieldKind.NAMES: _names,
    FieldKind.DEVICES: _devices,
    FieldKind.INVENTORY: _inventory,
    FieldKind.CLAN: _clan,
}
_READER_OF = {name: _READ[kind] for name, kind in KIND_OF.items()}


class MessageView(LazyDocument):
    """A Profile message as its document: a lazy, read-only Mapping, one per request."""

    __slots__ = ("_msg",)

    def __init__(self, msg: Message) -> None:
        super().__init__()
        self._msg = msg

    def _keys(self) -> Iterable[str]:
        return (*KNOWN_FIELDS, *sorted(self._msg.custom_fields))

    def _read(self, key: str) -> Any:
        msg = self._msg
        if key == "player_id":
            return msg.player_id
        read = _READER_OF.get(key)
        if read is not None:
            return read(msg, key)
        custom = msg.custom_fields
        # `in` first: indexing a message map with a missing key would add it.
        return json_from_value(custom[key]) if key in custom else ABSENT


def message_view(msg: Message) -> MessageView:
    return MessageView(msg)
