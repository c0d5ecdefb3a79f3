"""Translation between protobuf messages and domain objects; nothing else.

Protobuf scalars marked `optional` map to `None` when unset, and Timestamps that
are unset map to `None`, so a profile round-trips without inventing zeros.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args

from google.protobuf import struct_pb2, timestamp_pb2

from profilematcher.campaigns.v1 import campaign_pb2
from profilematcher.profiles.v1 import profile_pb2
from services.domain.campaign import Campaign, LevelRange
from services.domain.errors import InvalidInput
from services.domain.profile import Clan, Device, JSONValue, Profile
from services.domain.profile_json import (
    profile_from_document,
    profile_to_document,
    validate_custom_field_name,
)

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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_from_datetime(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    _set_timestamp(ts, value)
    return ts


def _set_timestamp(ts: timestamp_pb2.Timestamp, value: datetime) -> None:
    # Plain arithmetic, set in place: Timestamp.FromDatetime, or building a Timestamp
    # and copying it in, costs several times more, per field, on every response.
    delta = value - _EPOCH
    ts.seconds = delta.days * 86_400 + delta.seconds
    ts.nanos = delta.microseconds * 1000


def datetime_from_timestamp(ts: timestamp_pb2.Timestamp, field: str) -> datetime:
    # Timestamp's valid range is years 1..9999; ToDatetime raises on anything else.
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(field, "timestamp out of range") from None


def profile_to_message(profile: Profile) -> profile_pb2.Profile:
    msg = profile_pb2.Profile()
    fill_profile_message(msg, profile)
    return msg


def fill_profile_message(msg: profile_pb2.Profile, profile: Profile) -> None:
    """`profile_to_message` into an empty message, such as a response's field: filling
    it in place saves copying the whole profile into the response."""
    msg.player_id = profile.player_id
    for name in _SCALAR_FIELDS:
        value = getattr(profile, name)
        if value is not None:
            setattr(msg, name, value)
    for time_field in _TIME_FIELDS:
        value = getattr(profile, time_field)
        if value is not None:
            _set_timestamp(getattr(msg, time_field), value)
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
        _set_value(msg.custom_fields[key], value)


def profile_from_message(msg: profile_pb2.Profile, *, require_player_id: bool = True) -> Profile:
    """Validates and converts; raises InvalidInput naming the field (as `profile.<field>`).

    The checks are the document codec's, so a profile is held to the same rules
    whether it arrives as JSON or as a message."""
    fields: dict[str, object] = {}
    for name in _SCALAR_FIELDS:
        if msg.HasField(name):
            fields[name] = getattr(msg, name)
    try:
        # Checked before the merge into one document below, where a key such as
        # "player_id" would otherwise overwrite the real field.
        for key in msg.custom_fields:
            validate_custom_field_name(key)
        for time_field in _TIME_FIELDS:
            if msg.HasField(time_field):
                fields[time_field] = datetime_from_timestamp(getattr(msg, time_field), time_field)
        unchecked = Profile(
            player_id=msg.player_id,
            active_campaigns=tuple(msg.active_campaigns),
            devices=tuple(
                Device(id=d.id, model=d.model, carrier=d.carrier, firmware=d.firmware)
                for d in msg.devices
            )
            or None,
            inventory=dict(msg.inventory),
            clan=Clan(id=msg.clan.id, name=msg.clan.name) if msg.HasField("clan") else None,
            custom_fields={key: _json_value(v) for key, v in msg.custom_fields.items()},
            **fields,  # type: ignore[arg-type]
        )
        return profile_from_document(
            profile_to_document(unchecked), require_player_id=require_player_id
        )
    except InvalidInput as exc:
        raise InvalidInput(f"profile.{exc.field}", exc.problem) from None


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


def _set_value(msg: struct_pb2.Value, value: JSONValue) -> None:
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
            _set_value(msg.list_value.values.add(), item)
    else:
        msg.struct_value.SetInParent()  # so an empty object is still an object
        for key, item in value.items():
            _set_value(msg.struct_value.fields[key], item)


def campaign_to_message(campaign: Campaign) -> campaign_pb2.Campaign:
    msg = campaign_pb2.Campaign(
        game=campaign.game,
        name=campaign.name,
        priority=campaign.priority,
        enabled=campaign.enabled,
        start_date=timestamp_from_datetime(campaign.start_date),
        end_date=timestamp_from_datetime(campaign.end_date),
    )
    if campaign.last_updated is not None:
        _set_timestamp(msg.last_updated, campaign.last_updated)
    if campaign.level is not None:
        msg.matchers.level.min, msg.matchers.level.max = campaign.level.min, campaign.level.max
    if campaign.countries or campaign.required_items:
        msg.matchers.has.countries.extend(campaign.countries)
        msg.matchers.has.items.extend(campaign.required_items)
    if campaign.forbidden_items:
        msg.matchers.does_not_have.items.extend(campaign.forbidden_items)
    return msg


def campaign_from_message(msg: campaign_pb2.Campaign) -> Campaign:
    """Campaigns come from our own campaign service, already validated there."""
    m = msg.matchers
    return Campaign(
        game=msg.game,
        name=msg.name,
        priority=msg.priority,
        enabled=msg.enabled,
        start_date=datetime_from_timestamp(msg.start_date, "start_date"),
        end_date=datetime_from_timestamp(msg.end_date, "end_date"),
        last_updated=(
            datetime_from_timestamp(msg.last_updated, "last_updated")
            if msg.HasField("last_updated")
            else None
        ),
        level=LevelRange(m.level.min, m.level.max) if m.HasField("level") else None,
        countries=tuple(m.has.countries),
        required_items=tuple(m.has.items),
        forbidden_items=tuple(m.does_not_have.items),
    )
