"""Profiles as Profile messages: the API's form, and what the embedded store keeps.

Protobuf scalars marked `optional` map to `None` when unset, and Timestamps that
are unset map to `None`, so a profile round-trips without inventing zeros. Nothing
here imports grpc: the servicers and the embedded store both use it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from google.protobuf import struct_pb2, timestamp_pb2

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import InvalidInput
from services.domain.profile import JSONValue, MatchFields, Profile
from services.domain.profile_json import profile_from_document, validate_custom_field_name

TimeField = Literal["created", "modified", "last_session", "last_purchase", "birthdate"]
ScalarField = Literal[
    "credential",
    "total_spent",
    "total_refund",
    "total_transactions",
    "level",
    "xp",
    "total_playtime",
    "country",
    "language",
    "gender",
]
# The profile fields a message carries as Timestamps and as optional scalars; the
# Literals let mypy check each name against the generated message.
_TIME_FIELDS: tuple[TimeField, ...] = get_args(TimeField)
_SCALAR_FIELDS: tuple[ScalarField, ...] = get_args(ScalarField)
_TIME_FIELD_SET = frozenset(_TIME_FIELDS)
_PLAIN_FIELDS = frozenset({"player_id", *_SCALAR_FIELDS})


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_from_datetime(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    set_timestamp(ts, value)
    return ts


def set_timestamp(ts: timestamp_pb2.Timestamp, value: datetime) -> None:
    # Plain arithmetic, set in place: Timestamp.FromDatetime, or building a Timestamp
    # and copying it in, costs several times more, per field, on every response.
    delta = value - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1000


# Timestamp's valid range, years 1 to 9999 (as datetime's), in seconds from the epoch.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799


def datetime_from_timestamp(ts: timestamp_pb2.Timestamp, field: str) -> datetime:
    # Timestamp.ToDatetime's checks and result, by plain arithmetic at a quarter of
    # its cost: every stored profile read as a domain object converts five of these.
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_SECONDS <= seconds <= _MAX_SECONDS and 0 <= nanos < 1_000_000_000):
        raise InvalidInput(field, "timestamp out of range")
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def profile_to_message(profile: Profile) -> profile_pb2.Profile:
    msg = profile_pb2.Profile(player_id=profile.player_id)
    for name in _SCALAR_FIELDS:
        value = getattr(profile, name)
        if value is not None:
            setattr(msg, name, value)
    for time_field in _TIME_FIELDS:
        value = getattr(profile, time_field)
        if value is not None:
            set_timestamp(getattr(msg, time_field), value)
    msg.active_campaigns.extend(profile.active_campaigns)
    for device in profile.devices or ():
        msg.devices.add(
            id=device.id, model=device.model, carrier=device.carrier, firmware=device.firmware
        )
    inventory = msg.inventory
    for item, quantity in profile.inventory.items():  # a third cheaper than .update()
        inventory[item] = quantity
    if profile.clan is not None:
        msg.clan.id, msg.clan.name = profile.clan.id, profile.clan.name
    for key, value in profile.custom_fields.items():
        set_json_value(msg.custom_fields[key], value)
    return msg


def profile_from_message(
    msg: profile_pb2.Profile, *, require_player_id: bool = True, strict_keys: bool = True
) -> Profile:
    """Validates and converts; raises InvalidInput naming the field (as `profile.<field>`).

    The checks are the document codec's, so a profile is held to the same rules
    whether it arrives as JSON or as a message (`strict_keys` as there)."""
    try:
        return profile_from_document(
            message_to_document(msg), require_player_id=require_player_id, strict_keys=strict_keys
        )
    except InvalidInput as exc:
        raise InvalidInput(f"profile.{exc.field}", exc.problem) from None


def message_to_document(msg: profile_pb2.Profile) -> dict[str, Any]:
    """The document a message holds, for profile_from_document to check; InvalidInput
    already here for a Timestamp out of range or a custom key that is not a custom
    field name (merged into one document, "_x" is fine but "level" would overwrite)."""
    doc: dict[str, Any] = {"player_id": msg.player_id}
    # ListFields: the fields that are set, in one call, rather than a HasField each.
    for descriptor, value in msg.ListFields():
        name = descriptor.name
        if name in _PLAIN_FIELDS:
            doc[name] = value
        elif name in _TIME_FIELD_SET:
            doc[name] = datetime_from_timestamp(value, name)
        elif name == "active_campaigns":
            doc[name] = list(value)
        elif name == "devices":
            doc[name] = [
                {"id": d.id, "model": d.model, "carrier": d.carrier, "firmware": d.firmware}
                for d in value
            ]
        elif name == "inventory":
            doc[name] = dict(value)
        elif name == "clan":
            doc[name] = {"id": value.id, "name": value.name}
        elif name == "custom_fields":
            for key, custom in value.items():
                doc[validate_custom_field_name(key)] = _json_value(custom)
    return doc


def match_fields(msg: profile_pb2.Profile) -> MatchFields:
    """What matching reads of a message: reading only these, with no domain Profile,
    is what keeps GetClientConfig cheap (BENCHMARKS.md)."""
    return MatchFields(
        msg.level if msg.HasField("level") else None,
        msg.country if msg.HasField("country") else None,
        msg.inventory,
        msg.player_id,
    )


def _json_value(value: struct_pb2.Value) -> JSONValue:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        # JSON has one number type; whole numbers come back as ints, as they went in.
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [_json_value(v) for v in value.list_value.values]
    if kind == "struct_value":
        return {k: _json_value(v) for k, v in value.struct_value.fields.items()}
    return None


def set_json_value(msg: struct_pb2.Value, value: JSONValue) -> None:
    if value is None:
        msg.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        msg.bool_value = value
    elif isinstance(value, int | float):
        msg.number_value = value
    elif isinstance(value, str):
        msg.string_value = value
    elif isinstance(value, list):
        msg.list_value.SetInParent()  # so an empty list is still a list
        for item in value:
            set_json_value(msg.list_value.values.add(), item)
    else:
        msg.struct_value.SetInParent()  # so an empty object is still an object
        for key, item in value.items():
            set_json_value(msg.struct_value.fields[key], item)
