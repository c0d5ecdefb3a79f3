"""The compiled engine's last stage: campaigns' `where` conditions, on the survivors.

Built once per catalog version beside the bitmask indexes (compiled.py), over the same
bit numbering. A request runs it only for the candidates every bitmask stage let
through, and only for those that have a `where`: a catalog or a request without any
pays one AND.

Two prefilters act on many campaigns at once, from what a condition's clauses that must
all hold say (`Condition.required_paths`, `required_strings`; see conditions/facts.py):
- presence: campaigns whose condition needs a value under a top-level key (`clan` for
  `clan.id`, `context.app_version`) fall together when the profile or the context does
  not have that key at all: one lookup per key for all of them;
- strings: campaigns whose condition needs a top-level key to equal one of some strings
  (`{"context.platform": "ios"}`, `{"_tier": {"$in": ["gold", "vip"]}}`) are indexed by
  string; when the value there is a plain string, one dict lookup keeps only the
  campaigns that accept it. Any other value (an array, whose elements could match) is
  left to the predicates.
The candidates left are tested one by one with their compiled predicate, most
important first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from services.domain.campaign import Campaign

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any], datetime], bool]
# (reads the context rather than the profile, the top-level key)
_Key = tuple[bool, str]
_MISSING: Final[Any] = object()


def _no_where(document: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
    """The predicate of a campaign without `where` (never called: its bit is not in the
    stage's mask)."""
    return True


def _top_key(path: str) -> _Key:
    if path.startswith("context."):
        return True, path[len("context.") :].split(".", 1)[0]
    return False, path.split(".", 1)[0]


class WhereStage:
    """The `where` conditions of `ordered` campaigns (bit `size - 1 - rank` each)."""

    __slots__ = ("_predicates", "_presence", "_strings", "mask")

    def __init__(self, ordered: Sequence[Campaign], size: int) -> None:
        predicates: list[Predicate] = [_no_where] * size
        presence: dict[_Key, int] = {}
        strings: dict[_Key, tuple[int, dict[str, int]]] = {}
        mask = 0
        for rank, campaign in enumerate(ordered):
            where = campaign.where
            if where is None:
                continue
            position = size - 1 - rank
            bit = 1 << position
            mask |= bit
            predicates[position] = where.compile()
            for path in where.required_paths:
                key = _top_key(path)
                presence[key] = presence.get(key, 0) | bit
            for path, wanted in where.required_strings.items():
                key = _top_key(path)
                if path != ("context." if key[0] else "") + key[1]:
                    continue  # a nested path: its value is not one lookup away
                constrained, by_string = strings.get(key, (0, {}))
                for text in wanted:
                    by_string[text] = by_string.get(text, 0) | bit
                strings[key] = (constrained | bit, by_string)
        self.mask = mask
        self._predicates = tuple(predicates)
        self._presence = tuple(presence.items())
        self._strings = tuple((key, constrained, by) for key, (constrained, by) in strings.items())

    def filter(
        self,
        candidates: int,
        document: Mapping[str, Any],
        context: Mapping[str, Any],
        now: datetime,
    ) -> int:
        """`candidates` without the campaigns whose `where` fails."""
        pending = candidates & self.mask
        rejected = 0
        for (from_context, key), mask in self._presence:
            if (
                pending & mask
                and (context if from_context else document).get(key, _MISSING) is _MISSING
            ):
                rejected |= mask
        for (from_context, key), constrained, by_string in self._strings:
            if pending & constrained & ~rejected:
                value = (context if from_context else document).get(key, _MISSING)
                if type(value) is str:
                    rejected |= constrained & ~by_string.get(value, 0)
        pending &= ~rejected
        candidates &= ~rejected
        predicates = self._predicates
        while pending:
            position = pending.bit_length() - 1
            bit = 1 << position
            pending ^= bit
            if not predicates[position](document, context, now):
                candidates ^= bit
        return candidates


def where_stage(ordered: Sequence[Campaign], size: int) -> WhereStage | None:
    """The stage for `ordered`, or None when no campaign has a `where`."""
    if any(campaign.where is not None for campaign in ordered):
        return WhereStage(ordered, size)
    return None
