"""Profiles as documents: the JSON format games already use, and the stores' form.

A document is a plain dict with the sample `data/profile.json` keys. Times are
`datetime` objects in documents (so a store keeps real dates) and strings like
`2022-01-25 00:00:00Z` in JSON text; `profile_from_document` accepts both.
Unknown keys are errors unless they start with `_`: those are the game's own
custom fields and travel untouched. The known keys and their rules come from one
table (`profile_fields`).

A profile any store accepts must fit every other store and the API (an export from
one is an import into another), so these rules hold on every store and transport:
whole numbers fit in 64 bits; a custom field is not named `_id` (a store's own record
key) and its name holds no `.`, `$` or NUL; keys inside a custom field's objects may
not start with `$` nor hold `.` or NUL (a document store reads such keys as
operators or paths); custom values nest at most MAX_CUSTOM_NESTING deep. `$` keys
are also how the MongoDB store shows a value JSON has no type for (Extended JSON,
`{"$oid": ...}`), so documents read back from a store are checked without the rule
on nested keys (`stored_profile`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.domain.errors import InvalidInput, StoredProfileCorrupt
from services.domain.json_values import INT64_MAX, fits_int64, kind_of
from services.domain.profile import PLAYER_ID_MAX_LENGTH, Clan, Device, JSONValue, Profile
from services.domain.profile_fields import (
    CLAN_FIELDS,
    DEVICE_FIELDS,
    KNOWN_FIELDS,
    PROFILE_FIELDS,
    FieldKind,
)
from services.domain.timefmt import format_timestamp, parse_timestamp, to_utc

_KNOWN = frozenset(KNOWN_FIELDS)
# Custom values nest at most this deep: a gRPC client refuses a message nested past
# protobuf's limit (100), and each level of JSON in a Struct takes up to three.
MAX_CUSTOM_NESTING = 20
# A store's own record key; a custom field of that name would clash with it.
RESERVED_CUSTOM_FIELDS = frozenset({"_id"})


def validate_player_id(value: object, field: str = "player_id") -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {kind_of(value)}")
    if not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > PLAYER_ID_MAX_LENGTH:
        raise InvalidInput(field, f"must be at most {PLAYER_ID_MAX_LENGTH} characters")
    return value


def validate_custom_field_name(name: str) -> str:
    """Custom names become keys in every store, so operators and paths are refused."""
    if not name.startswith("_") or len(name) < 2:
        raise InvalidInput(name, "custom field names start with '_' and have a name after it")
    if name in RESERVED_CUSTOM_FIELDS:
        raise InvalidInput(name, "is reserved by the store")
    if "." in name or "$" in name or "\0" in name:
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
        raise InvalidInput("profile", f"must be a JSON object, got {kind_of(doc)}")
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
    fields = {name: read(v, name) for name, read in _READERS if (v := get(name)) is not None}
    return Profile(player_id=player_id or "", custom_fields=custom, **fields)


def stored_profile(doc: Mapping[str, Any]) -> Profile:
    """A profile read back from a store; one that fails validation is corrupt data,
    not the caller's mistake. Nested custom keys are not held to the rule for new
    input: other writers may use them, and `$` ones are how the MongoDB store shows
    its own types (Extended JSON)."""
    try:
        return profile_from_document(doc, strict_keys=False)
    except InvalidInput as exc:
        player_id = doc.get("player_id") if isinstance(doc, Mapping) else None
        raise StoredProfileCorrupt(f"player {player_id!r}: {exc}") from None


def stored_profile_or_error(doc: Mapping[str, Any]) -> Profile | StoredProfileCorrupt:
    """`stored_profile` for batch reads: the error is returned in place of the profile."""
    try:
        return stored_profile(doc)
    except StoredProfileCorrupt as exc:
        return exc


def profile_to_document(profile: Profile) -> dict[str, Any]:
    """The document for `profile`: known fields in the sample's order, unset ones left out."""
    doc: dict[str, Any] = {"player_id": profile.player_id}
    for name, write in _WRITERS:
        value = getattr(profile, name)
        if value is not None:
            doc[name] = write(value)
    doc.update(profile.custom_fields)
    return doc


def document_value(profile: Profile, name: str) -> Any:
    """What profile_to_document writes for the known field `name`; None when unset."""
    value = getattr(profile, name)
    return None if value is None else _WRITER_OF[name](value)


def document_to_json(doc: Mapping[str, Any], *, indent: int | None = None) -> str:
    """JSON text for a document, times in the sample's `2022-01-25 00:00:00Z` style."""
    return json.dumps(doc, indent=indent, default=_json_default, ensure_ascii=False)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_timestamp(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


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
    if type(value) is int and fits_int64(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a whole number, got {kind_of(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInput(field, f"must be a whole number, got {value}")
    if not fits_int64(value):
        raise InvalidInput(field, "is out of the 64-bit range")
    return int(value)


def _float(value: Any, field: str) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a number, got {kind_of(value)}")
    if not math.isfinite(value):
        raise InvalidInput(field, "must be a finite number")
    return float(value)


def _str(value: Any, field: str) -> str:
    if type(value) is str:
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, got {kind_of(value)}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if type(value) is list:
        return value
    if not isinstance(value, list | tuple):
        raise InvalidInput(field, f"must be a list, got {kind_of(value)}")
    return list(value)


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(field, f"must be an object, got {kind_of(value)}")
    return value


def _only(doc: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> None:
    for key in doc:
        if key not in allowed:
            raise InvalidInput(f"{field}.{key}", "unknown field")


def _names(value: Any, field: str) -> tuple[str, ...]:
    names = tuple(_list(value, field))
    if not all(type(name) is str for name in names):
        for i, name in enumerate(names):
            _str(name, f"{field}[{i}]")
    return names


def _devices(value: Any, field: str) -> tuple[Device, ...] | None:
    # `or None`: an empty list says no more than no list, and a Profile message
    # cannot tell them apart, so every store and transport gives back the same.
    return tuple(_device(d, f"{field}[{i}]") for i, d in enumerate(_list(value, field))) or None


def _device(value: Any, field: str) -> Device:
    doc = _object(value, field)
    _only(doc, DEVICE_FIELDS, field)
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


def _clan(value: Any, field: str) -> Clan:
    doc = _object(value, field)
    _only(doc, CLAN_FIELDS, field)
    clan_id, name = doc.get("id"), doc.get("name")
    return Clan(
        id="" if clan_id is None else _str(clan_id, f"{field}.id"),
        name="" if name is None else _str(name, f"{field}.name"),
    )


def _inventory(value: Any, field: str) -> dict[str, int]:
    inventory: dict[str, int] = {}
    for item, quantity in _object(value, field).items():
        if not isinstance(item, str) or not item:
            raise InvalidInput(field, "item names must be non-empty strings")
        count = (
            quantity
            if type(quantity) is int and 0 <= quantity <= INT64_MAX
            else _int(quantity, f"{field}.{item}")
        )
        if count < 0:
            raise InvalidInput(f"{field}.{item}", f"quantity must not be negative, got {count}")
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
        if isinstance(value, int) and not fits_int64(value):
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


def _as_is(value: Any) -> Any:
    return value


def _device_document(devices: tuple[Device, ...]) -> list[dict[str, Any]]:
    return [{name: getattr(d, name) for name in DEVICE_FIELDS} for d in devices]


def _clan_document(clan: Clan) -> dict[str, Any]:
    return {name: getattr(clan, name) for name in CLAN_FIELDS}


# Each kind's rule, reading a document's value (to the field's Python value) and
# writing one (to the value a document holds).
_READ: dict[FieldKind, Callable[[Any, str], Any]] = {
    FieldKind.TIME: _time,
    FieldKind.WHOLE_NUMBER: _int,
    FieldKind.NUMBER: _float,
    FieldKind.TEXT: _str,
    FieldKind.NAMES: _names,
    FieldKind.DEVICES: _devices,
    FieldKind.INVENTORY: _inventory,
    FieldKind.CLAN: _clan,
}
_WRITE: dict[FieldKind, Callable[[Any], Any]] = {
    FieldKind.TIME: _as_is,
    FieldKind.WHOLE_NUMBER: _as_is,
    FieldKind.NUMBER: _as_is,
    FieldKind.TEXT: _as_is,
    FieldKind.NAMES: list,
    FieldKind.DEVICES: _device_document,
    FieldKind.INVENTORY: dict,
    FieldKind.CLAN: _clan_document,
}
_KIND_ORDER = list(FieldKind)
# Checked kind by kind (FieldKind's order), each kind in the sample's order.
_READERS = tuple(
    (f.name, _READ[f.kind]) for f in sorted(PROFILE_FIELDS, key=lambda f: _KIND_ORDER.index(f.kind))
)
_WRITERS = tuple((f.name, _WRITE[f.kind]) for f in PROFILE_FIELDS)
_WRITER_OF = dict(_WRITERS)
