"""Profiles as Profile messages: the API's form, and what the embedded store keeps.

Driven by the domain's field table (`profile_fields`), which this module checks
against the message's descriptor when it is imported: a field in profile.proto but
not on Profile (or the other way round, or of another kind) stops the program at
start-up rather than being dropped on the way. Scalars marked `optional` map to
None when unset, and so do unset Timestamps, so a profile round-trips without
inventing zeros.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.struct_value import json_from_value, set_json_value
from services.codecs.timestamps import datetime_from_timestamp, set_timestamp
from services.domain.errors import InvalidInput
from services.domain.profile import Profile, ServingRecord
from services.domain.profile_fields import (
    CLAN_FIELDS,
    DEVICE_FIELDS,
    KIND_OF,
    PROFILE_FIELDS,
    FieldKind,
    names_of,
)
from services.domain.profile_json import profile_from_document, validate_custom_field_name

_PLAIN_KINDS = (FieldKind.TEXT, FieldKind.WHOLE_NUMBER, FieldKind.NUMBER)
_SCALARS = names_of(*_PLAIN_KINDS)
_TIMES = names_of(FieldKind.TIME)
_NAME_LISTS = names_of(FieldKind.NAMES)
_DEVICE_LISTS = names_of(FieldKind.DEVICES)
_INVENTORIES = names_of(FieldKind.INVENTORY)
_CLANS = names_of(FieldKind.CLAN)
_PLAIN_FIELDS = frozenset({"player_id", *_SCALARS})

_F = FieldDescriptor
# The proto type each plain kind must have (with presence, so unset stays unset).
_SCALAR_TYPES = {
    FieldKind.TEXT: _F.TYPE_STRING,
    FieldKind.WHOLE_NUMBER: _F.TYPE_INT64,
    FieldKind.NUMBER: _F.TYPE_DOUBLE,
}


def profile_to_message(profile: Profile) -> profile_pb2.Profile:
    msg = profile_pb2.Profile(player_id=profile.player_id)
    for name in _SCALARS:
        value = getattr(profile, name)
        if value is not None:
            setattr(msg, name, value)
    for name in _TIMES:
        value = getattr(profile, name)
        if value is not None:
            set_timestamp(getattr(msg, name), value)
    for name in _NAME_LISTS:
        getattr(msg, name).extend(getattr(profile, name))
    for name in _DEVICE_LISTS:
        devices = getattr(msg, name)
        for device in getattr(profile, name) or ():
            devices.add(**{field: getattr(device, field) for field in DEVICE_FIELDS})
    for name in _INVENTORIES:
        inventory = getattr(msg, name)
        for item, quantity in getattr(profile, name).items():  # cheaper than .update()
            inventory[item] = quantity
    for name in _CLANS:
        clan = getattr(profile, name)
        if clan is not None:
            getattr(msg, name).SetInParent()
            for field in CLAN_FIELDS:
                setattr(getattr(msg, name), field, getattr(clan, field))
    for key, value in profile.custom_fields.items():
        set_json_value(msg.custom_fields[key], value)
    return msg


def profile_from_message(
    msg: profile_pb2.Profile, *, require_player_id: bool = True, strict_keys: bool = True
) -> Profile:
    """Validates and converts; raises InvalidInput naming the field (as `profile.<field>`).

    The checks are the document codec's, so a profile is held to the same rules
    whether it arrives as JSON or as a message (`strict_keys` as there); the message's
    fields are read straight into them."""
    try:
        return profile_from_document(
            message_to_document(msg), require_player_id=require_player_id, strict_keys=strict_keys
        )
    except InvalidInput as exc:
        raise InvalidInput(f"profile.{exc.field}", exc.problem) from None


def message_to_document(msg: profile_pb2.Profile) -> dict[str, Any]:
    """The fields a message holds, as a document for profile_from_document to check;
    InvalidInput already here for a Timestamp out of range or a custom key that is not
    a custom field name (merged into one document, "_x" is fine but "level" would
    overwrite)."""
    doc: dict[str, Any] = {"player_id": msg.player_id}
    # ListFields: the fields that are set, in one call, rather than a HasField each.
    for descriptor, value in msg.ListFields():
        name = descriptor.name
        if name in _PLAIN_FIELDS:
            doc[name] = value
        elif name == "custom_fields":
            for key, custom in value.items():
                doc[validate_custom_field_name(key)] = json_from_value(custom)
        else:
            doc[name] = _READ_FIELD[KIND_OF[name]](value, name)
    return doc


def serving_record(msg: profile_pb2.Profile) -> ServingRecord[profile_pb2.Profile]:
    """The message as a serving read hands it out, with what matching reads of it
    taken straight from its fields: no Profile is built to answer a player."""
    return ServingRecord(
        msg,
        msg.player_id,
        msg.level if msg.HasField("level") else None,
        msg.country if msg.HasField("country") else None,
        msg.inventory,
        tuple(msg.active_campaigns),
    )


def _device_documents(devices: Any, name: str) -> list[dict[str, Any]]:
    return [{field: getattr(d, field) for field in DEVICE_FIELDS} for d in devices]


def _clan_document(clan: Any, name: str) -> dict[str, Any]:
    return {field: getattr(clan, field) for field in CLAN_FIELDS}


def _list(value: Any, name: str) -> list[Any]:
    return list(value)


def _dict(value: Any, name: str) -> dict[str, Any]:
    return dict(value)


_READ_FIELD = {
    FieldKind.TIME: datetime_from_timestamp,
    FieldKind.NAMES: _list,
    FieldKind.DEVICES: _device_documents,
    FieldKind.INVENTORY: _dict,
    FieldKind.CLAN: _clan_document,
}


def check_descriptor(descriptor: Descriptor) -> list[str]:
    """How the Profile message `descriptor` disagrees with the domain's field table;
    empty when every field matches in name, order and kind."""
    expected = ["player_id", *(f.name for f in PROFILE_FIELDS), "custom_fields"]
    found = [f.name for f in descriptor.fields]
    problems = [
        f"{n}: in profile.proto but not a Profile attribute" for n in found if n not in expected
    ]
    problems += [
        f"{n}: a Profile attribute but not in profile.proto" for n in expected if n not in found
    ]
    if problems:
        return problems
    if found != expected:
        return [f"fields in another order than Profile's: {found}"]
    fields = descriptor.fields_by_name
    if not _is(fields["player_id"], _F.TYPE_STRING, presence=False):
        problems.append("player_id: must be a plain string")
    if not _is_map(fields["custom_fields"], "google.protobuf.Value"):
        problems.append("custom_fields: must be a map of string to google.protobuf.Value")
    for field in PROFILE_FIELDS:
        if not _matches(fields[field.name], field.kind):
            problems.append(f"{field.name}: does not hold {field.kind.value} as Profile does")
    return problems


def _matches(field: FieldDescriptor, kind: FieldKind) -> bool:
    if kind in _SCALAR_TYPES:
        return _is(field, _SCALAR_TYPES[kind], presence=True)
    if kind is FieldKind.TIME:
        return _message_name(field) == "google.protobuf.Timestamp" and not field.is_repeated
    if kind is FieldKind.NAMES:
        return field.type == _F.TYPE_STRING and field.is_repeated
    if kind is FieldKind.DEVICES:
        return field.is_repeated and _fields_of(field) == DEVICE_FIELDS
    if kind is FieldKind.INVENTORY:
        return _is_map(field, None)
    return not field.is_repeated and _fields_of(field) == CLAN_FIELDS


def _is(field: FieldDescriptor, proto_type: int, *, presence: bool) -> bool:
    return field.type == proto_type and not field.is_repeated and field.has_presence == presence


def _is_map(field: FieldDescriptor, value_message: str | None) -> bool:
    entry = field.message_type
    if entry is None or not entry.GetOptions().map_entry:
        return False
    key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
    if value_message is None:
        return key.type == _F.TYPE_STRING and value.type == _F.TYPE_INT64
    return key.type == _F.TYPE_STRING and _message_name(value) == value_message


def _message_name(field: FieldDescriptor) -> str | None:
    return None if field.message_type is None else str(field.message_type.full_name)


def _fields_of(field: FieldDescriptor) -> tuple[str, ...] | None:
    entry = field.message_type
    if entry is None or entry.GetOptions().map_entry:
        return None
    return tuple(f.name for f in entry.fields)


_PROBLEMS = check_descriptor(profile_pb2.Profile.DESCRIPTOR)
if _PROBLEMS:
    raise ImportError(
        "profilematcher.profiles.v1.Profile does not match services.domain.profile.Profile: "
        + "; ".join(_PROBLEMS)
    )
