"""Operand values as a condition writes them: JSON, with two kinds of times.

A time in a condition is written `{"$date": "2022-01-25T00:00:00Z"}` (MongoDB's Extended
JSON; the sample's `2022-01-25 00:00:00Z` and `{"$date": {"$numberLong": "<ms>"}}` are
read too) or `{"$ago": "14d"}` (a whole number of days, hours, minutes or seconds, `d h m
s`, before the moment of the match). A plain string is a string, as in MongoDB: it never
equals nor orders against a time, so `{"created": {"$gt": "2022-01-25"}}` matches
nothing. `$ago` stands alone as the operand of a comparison; `$date` may appear anywhere
a value may, in `$in` lists and inside objects too.

What MongoDB could not store or compare is refused here, with the clause named:
integers beyond 64 bits, NaN and infinities, keys starting with `$` or holding `.` or NUL
inside objects, strings that are not valid Unicode, nesting past MAX_DEPTH.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from services.domain.conditions.errors import ConditionError
from services.domain.conditions.nodes import Ago
from services.domain.timefmt import parse_timestamp

MAX_DEPTH: Final = 32
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DURATION: Final = re.compile(r"([0-9]{1,12})([dhms])")
_UNIT_SECONDS: Final = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
# Two centuries: every age a profile's times can express, far from datetime's limits.
MAX_AGO: Final = timedelta(days=73_050)
_TIME_KEYS: Final = frozenset({"$date", "$ago"})


def kind(value: object) -> str:
    """A JSON name for `value`'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def is_time_literal(value: object) -> bool:
    """True for `{"$date": ...}` and `{"$ago": ...}`: values, not operator documents."""
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in _TIME_KEYS


def literal(value: object, clause: str, *, allow_ago: bool, depth: int = 0) -> tuple[Any, Any]:
    """(the operand to compare with, the operand as written) for `value`."""
    if depth > MAX_DEPTH:
        raise ConditionError(clause, f"values may nest at most {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value, value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ConditionError(clause, "integers must fit in 64 bits")
        return value, value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConditionError(clause, f"numbers must be finite, got {value}")
        return value, value
    if isinstance(value, str):
        _check_text(value, clause)
        return value, value
    if isinstance(value, list):
        pairs = [
            literal(item, f"{clause}[{i}]", allow_ago=False, depth=depth + 1)
            for i, item in enumerate(value)
        ]
        return [operand for operand, _ in pairs], [written for _, written in pairs]
    if isinstance(value, Mapping):
        return _object(value, clause, allow_ago=allow_ago, depth=depth)
    raise ConditionError(clause, f"must be a JSON value, got {kind(value)}")


def _object(
    value: Mapping[Any, Any], clause: str, *, allow_ago: bool, depth: int
) -> tuple[Any, Any]:
    if is_time_literal(value):
        key, operand = next(iter(value.items()))
        here = f"{clause}.{key}"
        if key == "$date":
            return _date(operand, here), {key: _written_date(operand)}
        if not allow_ago:
            raise ConditionError(here, "$ago is allowed only as the operand of a comparison")
        return Ago(duration(operand, here)), {key: operand}
    operands: dict[str, Any] = {}
    written: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ConditionError(clause, f"object keys must be strings, got {kind(key)}")
        here = f"{clause}.{key}"
        if key.startswith("$"):
            raise ConditionError(
                here,
                "unknown operator in a value (objects compared as values may not have keys "
                "starting with '$'; operators go first in an operator document)",
            )
        if "." in key or "\0" in key:
            raise ConditionError(here, "keys of objects compared as values may not hold '.' or NUL")
        _check_text(key, here)
        operands[key], written[key] = literal(item, here, allow_ago=False, depth=depth + 1)
    return operands, written


def _check_text(text: str, clause: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ConditionError(clause, "strings must be valid Unicode") from None


def _date(operand: object, clause: str) -> datetime:
    if isinstance(operand, str):
        try:
            return parse_timestamp(operand)
        except ValueError as error:
            raise ConditionError(clause, str(error)) from None
    if isinstance(operand, Mapping) and list(operand) == ["$numberLong"]:
        millis = operand["$numberLong"]
        if isinstance(millis, str) and re.fullmatch(r"-?[0-9]{1,19}", millis):
            try:
                return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(millis))
            except OverflowError:
                pass
        raise ConditionError(
            f"{clause}.$numberLong", "must be milliseconds since 1970 as a string, years 1 to 9999"
        )
    raise ConditionError(
        clause,
        'must be a time like \'2022-01-25T00:00:00Z\' or {"$numberLong": "<ms>"}, '
        f"got {kind(operand)}",
    )


def _written_date(operand: Any) -> Any:
    return dict(operand) if isinstance(operand, Mapping) else operand


def duration(text: object, clause: str) -> timedelta:
    """`14d`, `6h`, `30m`, `90s` as a timedelta; ConditionError naming `clause` otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ConditionError(
            clause,
            f"bad duration {text!r}: a whole number and a unit, d h m or s (like '14d')",
        )
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds > MAX_AGO.total_seconds():
        raise ConditionError(clause, f"bad duration {text!r}: at most {MAX_AGO.days}d")
    return timedelta(seconds=seconds)
