"""Profiles as documents: the JSON format games already use, and MongoDB's.

A document is a plain dict with the sample `data/profile.json` keys. Times are
`datetime` objects in documents (so MongoDB stores real dates) and strings like
`2022-01-25 00:00:00Z` in JSON text; `profile_from_document` accepts both.
Unknown keys are errors unless they start with `_`: those are the game's own
custom fields and travel untouched.

Keys inside a custom field's objects may not start with `$` nor hold `.` or NUL, for
every store: MongoDB reads such keys as operators or paths, and a profile one store
accepts must fit the others (an export from one is an import into another). `$` keys
are also how a MongoDB store shows a value JSON has no type for (Extended JSON,
`{"$oid": ...}`), so documents read back from a store are checked without this rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.domain.errors import InvalidInput
from services.domain.profile import PLAYER_ID_MAX_LENGTH, Clan, Device, JSONValue, Profile
from services.domain.timefmt import format_timestamp, parse_timestamp, to_utc

TIME_FIELDS = ("created", "modified", "last_session", "last_purchase", "birthdate")
INT_FIELDS = ("total_transactions", "level", "xp", "total_playtime")
FLOAT_FIELDS = ("total_spent", "total_refund")
STR_FIELDS = ("credential", "country", "language", "gender")
# Every known top-level key, in the sample's order (documents are written in it).
KNOWN_FIELDS = (
    "player_id",
    "credential",
    "created",
    "modified",
    "last_session",
    "total_spent",
    "total_refund",
    "total_transactions",
    "last_purchase",
    "active_campaigns",
    "devices",
    "level",
    "xp",
    "total_playtime",
    "country",
    "language",
    "birthdate",
    "gender",
    "inventory",
    "clan",
)
_KNOWN = frozenset(KNOWN_FIELDS)
# Integers must fit MongoDB's 64 bits, so every store holds what one accepts.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Custom values nest at most this deep: a gRPC client refuses a message nested past
# protobuf's limit (100), and each level of JSON in a Struct takes up to three.
MAX_CUSTOM_NESTING = 20
# MongoDB owns `_id`; a custom field of that name would clash with it.
RESERVED_CUSTOM_FIELDS = frozenset({"_id"})


def validate_player_id(value: object, field: str = "player_id") -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {_kind(value)}")
    if not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > PLAYER_ID_MAX_LENGTH:
        raise InvalidInput(field, f"must be at most {PLAYER_ID_MAX_LENGTH} characters")
    return value


def validate_custom_field_name(name: str) -> str:
    """Custom names go into MongoDB as keys, so operators and paths are refused."""
    if not name.startswith("_") or len(name) < 2:
        raise InvalidInput(name, "custom field names start with '_' and have a name after it")
    if name in RESERVED_CUSTOM_FIELDS:
        raise InvalidInput(name, "is reserved by the store")
    if any(ch in name for ch in ".$\0"):
        raise InvalidInput(name, "custom field names may not contain '.', '$' or NUL")
    return name


def profile_from_document(
    doc: Mapping[str, Any], *, require_player_id: bool = True, strict_keys: bool = True
) -> Profile:
    """Builds a Profile from a document, raising InvalidInput naming the first bad field.

    `require_player_id=False` is for dry runs, where the profile is not stored.
    `strict_keys=False` accepts any nested custom key (see the module's doc): for
    documents read back from a store, and request fields an update ignores.

    Every stored profile is read through here, so it runs on the request path: each
    field costs one dict lookup and one check (see `_time` and friends), not a chain
    of calls per field.
    """
    if type(doc) is not dict and not isinstance(doc, Mapping):
        raise InvalidInput("profile", f"must be a JSON object, got {_kind(doc)}")
    custom: dict[str, JSONValue] = {}
    for key, value in doc.items():
        if key in _KNOWN:
            continue
        if isinstance(key, str) and key.startswith("_"):
            custom[validate_custom_field_name(key)] = _json_value(value, key, strict_keys)
        else:
            raise InvalidInput(str(key), "unknown field (custom fields must start with '_')")

    get = doc.get
    player_id = get("player_id")
    if require_player_id or player_id:
        player_id = validate_player_id(player_id)
    times = [None if (v := get(name)) is None else _time(v, name) for name in TIME_FIELDS]
    ints = [None if (v := get(name)) is None else _int(v, name) for name in INT_FIELDS]
    floats = [None if (v := get(name)) is None else _float(v, name) for name in FLOAT_FIELDS]
    strs = [None if (v := get(name)) is None else _str(v, name) for name in STR_FIELDS]
    created, modified, last_session, last_purchase, birthdate = times
    total_transactions, level, xp, total_playtime = ints
    total_spent, total_refund = floats
    credential, country, language, gender = strs

    campaigns = get("active_campaigns")
    if campaigns is None:
        active_campaigns: tuple[str, ...] = ()
    else:
        active_campaigns = tuple(_list(campaigns, "active_campaigns"))
        if not all(type(name) is str for name in active_campaigns):
            for i, name in enumerate(active_campaigns):
                _str(name, f"active_campaigns[{i}]")
    devices = get("devices")
    if devices is not None:
        # `or None`: an empty list says no more than no list, and a Profile message
        # cannot tell them apart, so every store and transport gives back the same.
        devices = (
            tuple(_device(d, f"devices[{i}]") for i, d in enumerate(_list(devices, "devices")))
            or None
        )
    inventory = get("inventory")
    clan = get("clan")
    return Profile(
        player_id=player_id or "",
        credential=credential,
        created=created,
        modified=modified,
        last_session=last_session,
        total_spent=total_spent,
        total_refund=total_refund,
        total_transactions=total_transactions,
        last_purchase=last_purchase,
        active_campaigns=active_campaigns,
        devices=devices,
        level=level,
        xp=xp,
        total_playtime=total_playtime,
        country=country,
        language=language,
        birthdate=birthdate,
        gender=gender,
        inventory={} if inventory is None else _inventory(_object(inventory, "inventory")),
        clan=None if clan is None else _clan(_object(clan, "clan")),
        custom_fields=custom,
    )


def profile_to_document(profile: Profile) -> dict[str, Any]:
    """The document for `profile`: known fields in the sample's order, unset ones left out."""
    doc: dict[str, Any] = {}
    for name in KNOWN_FIELDS:
        value = getattr(profile, name)
        if value is None:
            continue
        if name == "active_campaigns":
            value = list(value)
        elif name == "devices":
            value = [
                {"id": d.id, "model": d.model, "carrier": d.carrier, "firmware": d.firmware}
                for d in value
            ]
        elif name == "inventory":
            value = dict(value)
        elif name == "clan":
            value = {"id": value.id, "name": value.name}
        doc[name] = value
    doc.update(profile.custom_fields)
    return doc


def document_to_json(doc: Mapping[str, Any], *, indent: int | None = None) -> str:
    """JSON text for a document, times in the sample's `2022-01-25 00:00:00Z` style."""
    return json.dumps(doc, indent=indent, default=_json_default, ensure_ascii=False)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_timestamp(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _kind(value: object) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def _time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(field, "time has no time zone")
        if 1 < value.year < 9999:
            return value
        # At the ends of datetime's range an offset can carry the time past them.
        try:
            return to_utc(value, value.isoformat())
        except ValueError as exc:
            raise InvalidInput(field, str(exc)) from None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None


def _int(value: Any, field: str) -> int:
    if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a whole number, got {_kind(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInput(field, f"must be a whole number, got {value}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidInput(field, "is out of the 64-bit range")
    return int(value)


def _float(value: Any, field: str) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise InvalidInput(field, "must be a finite number")
    return float(value)


def _str(value: Any, field: str) -> str:
    if type(value) is str:
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {_kind(value)}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if type(value) is list:
        return value
    if not isinstance(value, list | tuple):
        raise InvalidInput(field, f"must be a list, got {_kind(value)}")
    return list(value)


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(field, f"must be an object, got {_kind(value)}")
    return value


def _only(doc: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> None:
    for key in doc:
        if key not in allowed:
            raise InvalidInput(f"{field}.{key}", "unknown field")


def _device(value: Any, field: str) -> Device:
    doc = _object(value, field)
    _only(doc, ("id", "model", "carrier", "firmware"), field)
    device_id, model, carrier, firmware = (
        doc.get("id"),
        doc.get("model"),
        doc.get("carrier"),
        doc.get("firmware"),
    )
    if device_id is None:
        raise InvalidInput(f"{field}.id", "is required")
    return Device(
        id=_int(device_id, f"{field}.id"),
        model="" if model is None else _str(model, f"{field}.model"),
        carrier="" if carrier is None else _str(carrier, f"{field}.carrier"),
        firmware="" if firmware is None else _str(firmware, f"{field}.firmware"),
    )


def _clan(doc: Mapping[str, Any]) -> Clan:
    _only(doc, ("id", "name"), "clan")
    clan_id, name = doc.get("id"), doc.get("name")
    return Clan(
        id="" if clan_id is None else _str(clan_id, "clan.id"),
        name="" if name is None else _str(name, "clan.name"),
    )


def _inventory(doc: Mapping[str, Any]) -> dict[str, int]:
    inventory: dict[str, int] = {}
    for item, quantity in doc.items():
        if not isinstance(item, str) or not item:
            raise InvalidInput("inventory", "item names must be non-empty strings")
        count = (
            quantity
            if type(quantity) is int and 0 <= quantity <= _INT64_MAX
            else _int(quantity, f"inventory.{item}")
        )
        if count < 0:
            raise InvalidInput(f"inventory.{item}", f"quantity must not be negative, got {count}")
        inventory[item] = count
    return inventory


def validate_custom_value(value: Any, field: str) -> JSONValue:
    """A custom field's value checked as new input: plain JSON, nested keys included."""
    return _json_value(value, field, True)


def _json_value(value: Any, field: str, strict_keys: bool, depth: int = 0) -> JSONValue:
    """Checks a custom value is plain JSON, so every store and transport can carry it."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(field, "numbers must be finite")
        if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidInput(field, "integers must fit in 64 bits")
        return value
    if isinstance(value, list | tuple | Mapping) and depth >= MAX_CUSTOM_NESTING:
        raise InvalidInput(field, f"nested more than {MAX_CUSTOM_NESTING} levels deep")
    if isinstance(value, list | tuple):
        return [
            _json_value(v, f"{field}[{i}]", strict_keys, depth + 1) for i, v in enumerate(value)
        ]
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for k, v in value.items():
            if not isinstance(k, str) or "\0" in k:
                raise InvalidInput(field, "object keys must be strings without NUL")
            if strict_keys and (k.startswith("$") or "." in k):
                raise InvalidInput(
                    field, f"object key {k!r} may not start with '$' nor contain '.' or NUL"
                )
            out[k] = _json_value(v, f"{field}.{k}", strict_keys, depth + 1)
        return out
    raise InvalidInput(field, f"must be plain JSON, got {type(value).__name__}")
