"""The values a path reaches in a document, by MongoDB's rules (its `ElementPath`).

Descending a path, MongoDB steps through objects; where it meets an array with path left
over, it looks into each element: an object element is searched for the rest of the path
(and yields "missing" when it lacks it), a numeric path part also selects the element at
that position, and other elements are skipped. A path that ends on an array yields each
element and then the array itself (so `{tags: "a"}` and `{tags: ["a", "b"]}` both match
an array holding them); `$elemMatch` asks for arrays unexpanded. A path that stops at a
missing key or at a scalar with path left over yields one "missing".

Documents are read through `Mapping.get` one key at a time, so a lazy view computes only
what a clause asks for.

`values_at` lists everything (the reference and explanations use it); `any_at` stops at
the first value a predicate accepts and builds no list (the compiled predicates use it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.domain.conditions.values import MISSING, is_array, is_object


def _offset(key: str) -> int:
    """The array position a path part names, or -1 (MongoDB: ASCII digits only)."""
    return int(key) if key.isascii() and key.isdigit() else -1


def _descend(doc: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[Any, int]:
    """Steps through objects: the value where the walk stops and the index of its key
    (MongoDB's getFieldDottedOrArray)."""
    current: Any = doc
    last = len(keys) - 1
    for index, key in enumerate(keys):
        value = current.get(key, MISSING)
        if value is MISSING or index == last or is_array(value):
            return value, index
        if not is_object(value):
            return MISSING, index
        current = value
    return MISSING, last  # keys is never empty


def values_at(doc: Mapping[str, Any], keys: tuple[str, ...], *, expand: bool = True) -> list[Any]:
    """Every value `keys` reaches in `doc`; MISSING where MongoDB yields nothing found.

    `expand=False` leaves an array at the end of the path whole ($elemMatch).
    """
    value, index = _descend(doc, keys)
    if not is_array(value):
        return [value]
    rest = keys[index + 1 :]
    if not rest:
        return [*value, value] if expand else [value]
    found: list[Any] = []
    _in_array(value, rest, expand, found)
    return found


def _in_array(array: Any, rest: tuple[str, ...], expand: bool, found: list[Any]) -> None:
    offset = _offset(rest[0])
    for position, element in enumerate(array):
        if is_object(element):
            found.extend(values_at(element, rest, expand=expand))
            if position == offset:
                if len(rest) == 1:
                    found.append(element)
                else:
                    found.extend(values_at(element, rest[1:], expand=expand))
        elif position == offset:
            if len(rest) == 1:
                found.append(element)
            elif is_array(element):
                _in_array(element, rest[1:], expand, found)


def any_at(
    doc: Mapping[str, Any],
    keys: tuple[str, ...],
    accept: Callable[[Any, datetime], bool],
    now: datetime,
    expand: bool = True,
) -> bool:
    """Whether `accept(value, now)` holds for any value `values_at(doc, keys)` lists."""
    value, index = _descend(doc, keys)
    if not is_array(value):
        return accept(value, now)
    rest = keys[index + 1 :]
    if not rest:
        return any_value(value, accept, now, expand)
    return _any_in_array(value, rest, accept, now, expand)


def any_value(
    value: Any, accept: Callable[[Any, datetime], bool], now: datetime, expand: bool
) -> bool:
    """Whether `accept` holds for a value found at the end of a path: for an array and
    `expand`, any element or the array itself."""
    if expand and is_array(value):
        for element in value:
            if accept(element, now):
                return True
    return accept(value, now)


def _any_in_array(
    array: Any,
    rest: tuple[str, ...],
    accept: Callable[[Any, datetime], bool],
    now: datetime,
    expand: bool,
) -> bool:
    offset = _offset(rest[0])
    for position, element in enumerate(array):
        if is_object(element):
            if any_at(element, rest, accept, now, expand):
                return True
            if position == offset and (
                accept(element, now)
                if len(rest) == 1
                else any_at(element, rest[1:], accept, now, expand)
            ):
                return True
        elif position == offset:
            if len(rest) == 1:
                if accept(element, now):
                    return True
            elif is_array(element) and _any_in_array(element, rest[1:], accept, now, expand):
                return True
    return False
