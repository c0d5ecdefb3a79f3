"""How the embedded store lays a profile out in a row, and reads it back.

A row holds the profile as a serialized `profilematcher.profiles.v1.Profile`, the
API's own message, so answering a player is one parse in C (`message`) instead of
decoding, validating and rebuilding every field in Python, which would cost most of
a GetClientConfig's time. Custom fields are kept beside it as JSON text,
because google.protobuf.Value holds numbers as doubles and an integer such as
2**62 + 1 must come back as it went in.

Every profile is validated before it is written (`encode` takes a domain Profile,
which only exists valid), so a read that answers a player (`message`) checks what a
damaged file or a hand edit could break, no more: that the bytes parse, that they
are the player's, and that the custom fields are a JSON object of custom fields.
Reads that return a domain Profile (`profile`) validate every field as well.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

import orjson
from google.protobuf.message import DecodeError

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import (
    message_to_document,
    profile_to_message,
    serving_record,
)
from services.codecs.struct_value import set_json_value
from services.domain.errors import InvalidInput, StoredProfileCorrupt
from services.domain.profile import Profile, ServingRecord
from services.domain.profile_json import (
    stored_profile,
    validate_custom_field_name,
    validate_player_id,
)

# player_id, the Profile message without custom fields, the custom fields as JSON.
Row: TypeAlias = tuple[str, bytes, str | None]


def encode(profile: Profile) -> Row:
    key = validate_player_id(profile.player_id)
    try:
        msg = profile_to_message(profile)
        msg.ClearField("custom_fields")
        custom = None
        if profile.custom_fields:
            custom = json.dumps(profile.custom_fields, ensure_ascii=False)
            custom.encode()  # the check protobuf makes for the message's own strings
    except UnicodeEncodeError as exc:
        # Only a lone surrogate (from a JSON "\ud800" escape) gets this far.
        raise InvalidInput("profile", f"text must be valid Unicode: {exc.reason}") from None
    return key, msg.SerializeToString(), custom


def message(player_id: str, wire: bytes, custom: str | None) -> profile_pb2.Profile:
    """The row as a new Profile message; StoredProfileCorrupt if it cannot be one."""
    msg = _parse(player_id, wire)
    _check_owner(player_id, msg.player_id)
    if custom is not None:
        fields = msg.custom_fields
        for key, value in _custom_fields(player_id, custom).items():
            set_json_value(fields[key], value)
    return msg


def serving_or_error(
    player_id: str, wire: bytes, custom: str | None
) -> ServingRecord[profile_pb2.Profile] | StoredProfileCorrupt:
    """The row as a serving read hands it out, or the error in its place."""
    try:
        return serving_record(message(player_id, wire, custom))
    except StoredProfileCorrupt as exc:
        return exc


def document(player_id: str, wire: bytes, custom: str | None) -> dict[str, Any]:
    """The row as a document, unvalidated (as a MongoDB store reads one)."""
    try:
        doc = message_to_document(message(player_id, wire, None))
    except InvalidInput as exc:
        raise StoredProfileCorrupt(f"player {player_id!r}: {exc}") from None
    if custom is not None:
        # Unchecked like the rest: profile_from_document names a bad key or value.
        doc.update(_json_object(player_id, custom, "custom fields"))
    return doc


def profile(player_id: str, wire: bytes, custom: str | None) -> Profile:
    """The row as a validated domain Profile; StoredProfileCorrupt if it is not one."""
    return stored_profile(document(player_id, wire, custom))


def profile_or_error(
    player_id: str, wire: bytes, custom: str | None
) -> Profile | StoredProfileCorrupt:
    try:
        return profile(player_id, wire, custom)
    except StoredProfileCorrupt as exc:
        return exc


def with_active_campaigns(player_id: str, wire: bytes, names: Sequence[str]) -> bytes | None:
    """The stored message with its campaign list replaced; None if it does not parse
    (the record stays as it is, and reads keep reporting it)."""
    try:
        msg = _parse(player_id, wire)
    except StoredProfileCorrupt:
        return None
    msg.active_campaigns[:] = names
    return msg.SerializeToString()


def v1_profile(player_id: str, text: str) -> Profile:
    """A row of schema version 1, which held the whole document as JSON text."""
    profile = stored_profile(_json_object(player_id, text, "document"))
    _check_owner(player_id, profile.player_id)
    return profile


def _parse(player_id: str, wire: bytes) -> profile_pb2.Profile:
    msg = profile_pb2.Profile()
    try:
        msg.ParseFromString(wire)
    except (DecodeError, TypeError) as exc:  # TypeError: a hand edit stored text
        raise StoredProfileCorrupt(f"player {player_id!r}: not a Profile message: {exc}") from None
    return msg


def _check_owner(player_id: str, stored_id: str) -> None:
    if stored_id != player_id:
        raise StoredProfileCorrupt(
            f"player {player_id!r}: the stored profile belongs to player {stored_id!r}"
        )


def _custom_fields(player_id: str, text: str) -> dict[str, Any]:
    fields = _json_object(player_id, text, "custom fields")
    for name in fields:
        try:
            validate_custom_field_name(name)
        except InvalidInput as exc:
            raise StoredProfileCorrupt(f"player {player_id!r}: custom fields: {exc}") from None
    return fields


def _json_object(player_id: str, text: str, what: str) -> dict[str, Any]:
    try:
        # orjson: much cheaper than json.loads, on every read of a custom field.
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StoredProfileCorrupt(f"player {player_id!r}: {what} not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StoredProfileCorrupt(f"player {player_id!r}: {what} not a JSON object")
    return value
