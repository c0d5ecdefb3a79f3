"""Checks on values decoded from JSON (or read from a store), shared by the profile
and catalog codecs so that both describe and bound a value the same way."""

from __future__ import annotations

from collections.abc import Mapping

# Whole numbers are 64-bit everywhere: the API's int64, and what every store holds.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_KINDS: Mapping[type, str] = {
    type(None): "null",
    bool: "a boolean",
    str: "a string",
    list: "a list",
    dict: "an object",
}


def fits_int64(value: float) -> bool:
    """True for a whole number (or a float standing for one) in the 64-bit range."""
    return INT64_MIN <= value <= INT64_MAX


def kind_of(value: object) -> str:
    """What a value is, as a message names it: "a string", "an object", "null"..."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return type(value).__name__
