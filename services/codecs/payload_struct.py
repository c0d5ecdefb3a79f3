"""Payloads (JSON objects) as google.protobuf.Struct and back."""

from __future__ import annotations

from google.protobuf import struct_pb2

from services.codecs.struct_value import set_json_value
from services.domain.experiment import JSONObject
from services.domain.profile import JSONValue


def set_struct(msg: struct_pb2.Struct, payload: JSONObject) -> None:
    """Fills `msg` (a field of a message) with `payload`; an empty object is still set."""
    msg.SetInParent()
    for key, value in payload.items():
        set_json_value(msg.fields[key], value)


def struct_payload(msg: struct_pb2.Struct) -> dict[str, JSONValue]:
    return {key: _json(value) for key, value in msg.fields.items()}


def _json(value: struct_pb2.Value) -> JSONValue:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        # The catalog's integers (within 2**53, as validated) come back as integers.
        return int(number) if number.is_integer() and abs(number) <= 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [_json(item) for item in value.list_value.values]
    if kind == "struct_value":
        return struct_payload(value.struct_value)
    return None
