"""Values as MongoDB's query engine sees them: type brackets, order, and equality.

MongoDB compares two values only when they fall in the same bracket of its canonical type
order (numbers together, whatever their width; strings; objects; arrays; booleans;
dates); across brackets every comparison is false, with one exception the callers apply:
`null` equals a missing field. Inside objects and arrays it compares element by element:
bracket first, then (objects only) the key, then the value, the shorter one first when one
is a prefix of the other. This module is that order for the Python values profiles and
conditions are made of: None, bool, int, float, str, datetime, mappings, lists and tuples.

BSON dates hold milliseconds; these comparisons keep the microseconds Python has, so two
times within the same millisecond compare as MongoDB would not. Naive datetimes are read
as UTC, as pymongo writes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final


class _Missing:
    """What a path yields where the document has no value (BSON's EOO)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()

# MongoDB's canonical type numbers (BSONType canonicalization), for the types we meet.
RANK_MISSING: Final = 0
RANK_NULL: Final = 5
RANK_NUMBER: Final = 10
RANK_STRING: Final = 15
RANK_OBJECT: Final = 20
RANK_ARRAY: Final = 25
RANK_BOOL: Final = 40
RANK_DATE: Final = 45
# Anything else (bytes, ObjectId...): equal to nothing a condition can hold.
RANK_OTHER: Final = 100

_EXACT_RANKS: Final[dict[type, int]] = {
    str: RANK_STRING,
    int: RANK_NUMBER,
    float: RANK_NUMBER,
    bool: RANK_BOOL,
    type(None): RANK_NULL,
    dict: RANK_OBJECT,
    list: RANK_ARRAY,
    tuple: RANK_ARRAY,
    datetime: RANK_DATE,
    _Missing: RANK_MISSING,
}


def rank(value: Any) -> int:
    """The canonical type bracket of `value`."""
    exact = _EXACT_RANKS.get(type(value))
    if exact is not None:
        return exact
    if isinstance(value, bool):
        return RANK_BOOL
    if isinstance(value, int | float):
        return RANK_NUMBER
    if isinstance(value, str):
        return RANK_STRING
    if isinstance(value, datetime):
        return RANK_DATE
    if isinstance(value, Mapping):
        return RANK_OBJECT
    if isinstance(value, list | tuple):
        return RANK_ARRAY
    return RANK_OTHER


def is_array(value: Any) -> bool:
    return type(value) is list or type(value) is tuple or isinstance(value, list | tuple)


def is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sign(difference: int | float) -> int:
    return (difference > 0) - (difference < 0)


def _order(left: Any, right: Any) -> int:
    return int(left > right) - int(left < right)


def compare(left: Any, right: Any) -> int:
    """-1, 0 or 1: MongoDB's total order over any two values (brackets first).

    Used for whole objects and arrays; NaN sorts below every number and equals itself,
    as in BSON's order. Top-level comparisons with NaN follow other rules (see `holds`).
    """
    left_rank, right_rank = rank(left), rank(right)
    if left_rank != right_rank:
        return _sign(left_rank - right_rank)
    if left_rank == RANK_NUMBER:
        left_nan, right_nan = math.isnan(left), math.isnan(right)
        if left_nan or right_nan:
            return int(right_nan) - int(left_nan)
        return _order(left, right)
    if left_rank in (RANK_STRING, RANK_BOOL):
        return _order(left, right)
    if left_rank == RANK_DATE:
        return _order(aware(left), aware(right))
    if left_rank == RANK_OBJECT:
        return _compare_items(list(left.items()), list(right.items()), keyed=True)
    if left_rank == RANK_ARRAY:
        return _compare_items(list(enumerate(left)), list(enumerate(right)), keyed=False)
    if left_rank == RANK_OTHER:
        return 0 if left == right else -1
    return 0  # null with null, missing with missing


def _compare_items(
    left: list[tuple[Any, Any]], right: list[tuple[Any, Any]], *, keyed: bool
) -> int:
    for (left_key, left_value), (right_key, right_value) in zip(left, right, strict=False):
        brackets = _sign(rank(left_value) - rank(right_value))
        if brackets:
            return brackets
        if keyed and left_key != right_key:
            return -1 if str(left_key) < str(right_key) else 1
        order = compare(left_value, right_value)
        if order:
            return order
    return _sign(len(left) - len(right))


# The operators that compare one value with the operand.
COMPARISONS: Final = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def holds(operator: str, value: Any, operand: Any) -> bool:
    """MongoDB's verdict on one value for `$eq`, `$gt`, `$gte`, `$lt` or `$lte`.

    `$eq`, `$gte` and `$lte` with a null operand also take a missing value; across
    brackets nothing holds; a NaN value holds nothing (operands are never NaN).
    """
    if operand is None:
        return operator in ("$eq", "$gte", "$lte") and (value is None or value is MISSING)
    if rank(value) != rank(operand):
        return False
    if rank(value) == RANK_NUMBER and math.isnan(value):
        return False
    order = compare(value, operand)
    if operator == "$eq":
        return order == 0
    if operator == "$gt":
        return order > 0
    if operator == "$gte":
        return order >= 0
    if operator == "$lt":
        return order < 0
    return order <= 0


def render(value: Any) -> str:
    """Compact JSON for an explanation; times in RFC 3339, a missing value as `missing`."""
    if value is MISSING:
        return "missing"
    return json.dumps(_plain(value), ensure_ascii=False, separators=(", ", ": "))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is MISSING:
        return "missing"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
