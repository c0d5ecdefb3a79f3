"""The catalog's original matchers (`level`, `has`, `does_not_have`) as a Condition, so
that audience counts, explanations and store filters treat every campaign alike.

- `level`: `{"level": {"$gte": min, "$lte": max}}` (a missing level fails, as in rule 2);
- `has.country`: the profile's country equals one of the codes case-insensitively (rule
  3 compares `str.upper()` of both). MongoDB has no such equality outside regular
  expressions and collations, so the condition lists every string whose upper case is a
  listed code's: `us`, `uS`, `Us`, `US` for `US`, and the few others Unicode maps there
  (U+017F, the long s, upper-cases to `S`);
- `has.items`: `{"inventory.<item>": {"$gt": 0}}` for each (held means quantity > 0);
- `does_not_have.items`: `{"inventory.<item>": {"$not": {"$gt": 0}}}` (absent or 0).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Final

from services.domain.conditions.condition import Condition
from services.domain.conditions.errors import ConditionError
from services.domain.conditions.parser import parse_condition

# A code with more spellings than this is no country code; 12 letters have 4096.
MAX_SPELLINGS: Final = 4096
# The longest string one character upper-cases to (`ΐ` gives three).
_LONGEST_UPPER: Final = 3


def legacy_matchers_condition(
    level_min: int | None,
    level_max: int | None,
    countries: Sequence[str],
    required_items: Sequence[str],
    forbidden_items: Sequence[str],
) -> Condition:
    """The matchers of one campaign as an equivalent Condition (empty: always holds).

    ConditionError (clause `matchers.has.country[i]`) for a country with more than
    MAX_SPELLINGS spellings.
    """
    doc: dict[str, Any] = {}
    level: dict[str, int] = {}
    if level_min is not None:
        level["$gte"] = level_min
    if level_max is not None:
        level["$lte"] = level_max
    if level:
        doc["level"] = level
    if countries:
        doc["country"] = {"$in": _spellings_of(countries)}
    items: dict[str, dict[str, Any]] = {}
    for item in required_items:
        items.setdefault(item, {})["$gt"] = 0
    for item in forbidden_items:
        items.setdefault(item, {})["$not"] = {"$gt": 0}
    for item, operators in items.items():
        doc[f"inventory.{item}"] = operators
    return parse_condition(doc, where="matchers")


def _spellings_of(countries: Sequence[str]) -> list[str]:
    found: dict[str, None] = {}
    for index, country in enumerate(countries):
        spellings = upper_case_preimages(country.upper())
        if spellings is None:
            raise ConditionError(
                f"matchers.has.country[{index}]",
                f"{country!r} has more than {MAX_SPELLINGS} spellings; not a country code",
            )
        found.update(dict.fromkeys(spellings))
    return sorted(found)


def upper_case_preimages(target: str) -> list[str] | None:
    """Every string whose `upper()` is `target` (None past MAX_SPELLINGS).

    `str.upper()` maps each character on its own, so these are the ways to cut `target`
    into pieces that are each some character's upper case.
    """
    sources = _upper_sources()
    # ways[i]: the spellings of target[i:].
    ways: list[list[str] | None] = [None] * len(target) + [[""]]
    for start in range(len(target) - 1, -1, -1):
        options: list[str] = []
        for length in range(1, _LONGEST_UPPER + 1):
            rest = ways[start + length] if start + length <= len(target) else None
            if not rest:
                continue
            piece = target[start : start + length]
            itself = (piece,) if length == 1 and piece.upper() == piece else ()
            for char in (*itself, *sources.get(piece, ())):
                options.extend(char + tail for tail in rest)
                if len(options) > MAX_SPELLINGS:
                    return None
        ways[start] = options
    return ways[0] or []


@cache
def _upper_sources() -> dict[str, tuple[str, ...]]:
    """Upper-case string -> the other characters that upper-case to it (a character
    that is its own upper case is left out: the table stays small)."""
    sources: defaultdict[str, list[str]] = defaultdict(list)
    for char in _characters():
        upper = char.upper()
        if upper != char:
            sources[upper].append(char)
    return {upper: tuple(chars) for upper, chars in sources.items()}


def _characters() -> Iterable[str]:
    for code in range(sys.maxunicode + 1):
        if not 0xD800 <= code <= 0xDFFF:
            yield chr(code)
