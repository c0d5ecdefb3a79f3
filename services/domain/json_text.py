"""JSON text from anyone: what Python's json module leaves to its caller.

The import reader and the catalog loader decode files written by hand or by other
tools. Three things in such text make `json` fail with no position, or give values
nothing downstream can hold; each is turned here into something a caller can reject
while naming the record or campaign and the field:

- An integer literal too long to convert (Python refuses past 4,300 digits, with a
  ValueError in mid-parse): `parse_int_literal` reads it as an `OversizedInt`,
  outside every range the product accepts, so the field is refused as out of range.
- Nesting deeper than the decoder can recurse (RecursionError, no position):
  `too_deep` finds where the text first nests deeper than MAX_NESTING.
- A `\\ud800` escape with no partner decodes to a string no UTF-8 writer can write
  (the stores, protobuf, a terminal): `lone_surrogate_path` finds the first one.

Nothing here costs anything on valid input: callers use these after a failure, or
when the text holds a surrogate escape at all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

# Past this many digits no integer fits anything we store (64-bit integers, doubles
# up to about 1.8e308), and converting one costs time quadratic in its length.
_MAX_INT_DIGITS = 400
# Where too_deep reports the nesting: deeper than any profile or campaign needs, and
# than protobuf accepts in a message (100 levels).
MAX_NESTING = 100
# Field paths in messages show this many steps, then "...".
_PATH_STEPS_SHOWN = 8

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{},:]')
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
LONE_SURROGATE = (
    "holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair), which is not text"
)
_UTF16_SURROGATES = re.compile("[\ud800-\udfff]")

PathStep = str | int


class OversizedInt(int):
    """Stands in for an integer literal of more than _MAX_INT_DIGITS digits.

    Its value is beyond 64 bits (with the literal's sign) and it converts to an
    infinite float, so every range check refuses it; it prints as its size, since
    its digits are too many to show."""

    digits: int

    def __new__(cls, literal: str) -> OversizedInt:
        negative = literal.startswith("-")
        value = super().__new__(cls, -(2**64) if negative else 2**64)
        value.digits = len(literal) - negative
        return value

    def __float__(self) -> float:
        return -math.inf if self < 0 else math.inf

    def __repr__(self) -> str:
        return f"a {self.digits:,}-digit {'negative ' if self < 0 else ''}integer"

    __str__ = __repr__


def parse_int_literal(literal: str) -> int:
    """json's `parse_int` hook that reads over-long integers as OversizedInt. It is a
    Python call per integer, so callers decode with it only after the plain decoder
    failed with a ValueError."""
    return int(literal) if len(literal) <= _MAX_INT_DIGITS else OversizedInt(literal)


def too_deep(
    text: str, start: int = 0, limit: int = MAX_NESTING
) -> tuple[int, list[PathStep]] | None:
    """Where the JSON value at `start` first opens a list or object nested more than
    `limit` deep: its offset in `text` and the path to it (keys and indices), or None.

    A scan of tokens with a stack, no recursion, so any depth is safe; for the
    error path only (it is a Python loop over every token)."""
    # Per open container: [is an object, the key or index being read].
    stack: list[list[Any]] = []
    expect_key = False
    for match in _TOKEN.finditer(text, start):
        token = match.group()
        if token in ("[", "{"):
            if len(stack) >= limit:
                return match.start(), [step for _, step in stack]
            stack.append([token == "{", "" if token == "{" else 0])
            expect_key = token == "{"
        elif token in ("]", "}"):
            if not stack:
                return None
            stack.pop()
            if not stack:
                return None
        elif token == ",":
            if stack and stack[-1][0]:
                expect_key = True
            elif stack:
                stack[-1][1] += 1
        elif token == ":":
            expect_key = False
        elif expect_key and stack:
            stack[-1][1] = _key(token)
    return None


def _key(token: str) -> str:
    try:
        key = json.loads(token)
    except ValueError:
        return token.strip('"')
    return key if isinstance(key, str) else token


def lone_surrogate_path(value: Any) -> str | None:
    """The path to the first string (or key) in `value` that holds a UTF-16
    surrogate, which no UTF-8 text can carry; None when there is none."""
    # (value, path) pairs, depth-first, without recursion.
    pending: list[tuple[Any, list[PathStep]]] = [(value, [])]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _UTF16_SURROGATES.search(item):
                return format_path(path)
        elif isinstance(item, Mapping):
            for key, child in reversed(list(item.items())):
                if isinstance(key, str) and _UTF16_SURROGATES.search(key):
                    return format_path([*path, key])
                pending.append((child, [*path, key]))
        elif isinstance(item, list):
            pending.extend((child, [*path, i]) for i, child in reversed(list(enumerate(item))))
    return None


def format_path(steps: list[PathStep]) -> str:
    """`a.b[2].c`, as field paths read in every message (indices from 0, as in JSON
    and protobuf paths); long paths end in "..." and odd characters are escaped."""
    text = ""
    for step in steps[:_PATH_STEPS_SHOWN]:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{printable(step)}" if text else printable(step)
    if len(steps) > _PATH_STEPS_SHOWN:
        text += "..."
    return text or "(the value itself)"


def printable(text: str) -> str:
    """`text` with anything a UTF-8 terminal cannot show (surrogates) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
