"""google.protobuf.Value to and from plain JSON values (custom profile fields)."""

from __future__ import annotations

from google.protobuf import struct_pb2

from services.domain.profile import JSONValue


def json_from_value(value: struct_pb2.Value) -> JSONValue:
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
        return [json_from_value(v) for v in value.list_value.values]
    if kind == "struct_value":
        return {k: json_from_value(v) for k, v in value.struct_value.fields.items()}
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
