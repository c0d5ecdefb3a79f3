"""The compiled engine's last stage: campaigns' `where` conditions, on the survivors.

Built once per catalog version beside the bitmask indexes (compiled.py), over the same
bit numbering. A request runs it only for the candidates every bitmask stage let
through, and only for those that have a `where`: a catalog or a request without any
pays one AND.

Each condition is split into the conjuncts that must all hold (the entries of its query
document, `$and` opened, a segment whole). Campaigns share conjuncts (`{"context.platform":
"ios"}`, `{"$segment": "lapsed"}`), so each distinct one is compiled once per catalog and
tested at most once per request, and its failure drops every candidate needing it in one
AND. The string tests (`{"_tier": "gold"}`, `{"context.platform": {"$in": ["ios",
"android"]}}` on a key of the profile or the context) are indexed by string: when the
first test on a key comes up in the conjuncts' order (cheap reads first), the value under
the key is read, and if it is a plain string one dict lookup drops the campaigns that do
not accept it, however many distinct strings the catalog targets, and the key's tests are
not run. Any other value (an array, whose elements could match, or none) leaves them to
be run as conjuncts. A condition that cannot be split (it uses a segment the catalog does
not name) is tested whole with its compiled predicate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from services.domain.campaign import Campaign
from services.domain.conditions import Condition, ConditionError, parse_condition
from services.domain.profile_fields import KIND_OF, FieldKind

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
    """The `where` conditions of `ordered` campaigns (bit `size - 1 - rank` each);
    `segments` by name, for the conditions that use them."""

    __slots__ = ("_conjuncts", "_opaque", "_predicates", "_strings", "mask")

    def __init__(
        self, ordered: Sequence[Campaign], size: int, segments: Mapping[str, Condition]
    ) -> None:
        predicates: list[Predicate] = [_no_where] * size
        # Conjunct as written -> (its predicate, the campaigns needing it, its string
        # test, what reading its values costs).
        shared: dict[str, tuple[Predicate, int, _StringTest | None, int]] = {}
        # Top-level key -> campaign bit -> the strings all its string tests there accept.
        accepted: dict[_Key, dict[int, frozenset[str]]] = {}
        mask = opaque = 0
        for rank, campaign in enumerate(ordered):
            where = campaign.where
            if where is None:
                continue
            position = size - 1 - rank
            bit = 1 << position
            mask |= bit
            parts = conjuncts(where, segments)
            if parts is None:
                opaque |= bit
                predicates[position] = where.compile()
            for written, document, part in parts or ():
                known = shared.get(written)
                if known is None:
                    known = (part.compile(), 0, _string_test(document), _read_cost(part))
                predicate, users, test, cost = known
                shared[written] = (predicate, users | bit, test, cost)
                if test is not None:
                    key, texts = test
                    by_campaign = accepted.setdefault(key, {})
                    by_campaign[bit] = by_campaign.get(bit, texts) & texts
        self.mask = mask
        self._opaque = opaque
        self._predicates = tuple(predicates)
        # Cheap reads first (a failure there can spare converting a time or a device
        # list), then the conjuncts most campaigns share: each failure drops the most.
        self._conjuncts = tuple(
            (predicate, users, None if test is None else test[0])
            for predicate, users, test, _ in sorted(
                shared.values(), key=lambda entry: (entry[3], -entry[1].bit_count())
            )
        )
        self._strings = {key: _string_index(by) for key, by in accepted.items()}

    def filter(
        self,
        candidates: int,
        document: Mapping[str, Any],
        context: Mapping[str, Any],
        now: datetime,
    ) -> int:
        """`candidates` without the campaigns whose `where` fails."""
        pending = candidates & self.mask
        # The keys whose string tests were looked at: True when the value under the key
        # was a plain string, and the key's index then decided all of them. A key is
        # looked at when the first of its tests comes up in the conjuncts' order, so a
        # costly field is not read when cheaper conjuncts already failed every campaign.
        decided: dict[_Key, bool] = {}
        for predicate, users, tested in self._conjuncts:
            if not pending:
                return candidates
            if not pending & users:
                continue
            if tested is not None:
                by_index = decided.get(tested)
                if by_index is None:
                    rejected = self._rejected_by_string(tested, document, context)
                    by_index = decided[tested] = rejected is not None
                    if rejected:
                        candidates &= ~rejected
                        pending &= ~rejected
                if by_index:
                    continue
            if not predicate(document, context, now):
                candidates &= ~users
                pending &= ~users
        # Left: the campaigns whose every conjunct held, and those not split into any.
        pending &= self._opaque
        predicates = self._predicates
        while pending:
            position = pending.bit_length() - 1
            bit = 1 << position
            pending ^= bit
            if not predicates[position](document, context, now):
                candidates ^= bit
        return candidates

    def _rejected_by_string(
        self, key: _Key, document: Mapping[str, Any], context: Mapping[str, Any]
    ) -> int | None:
        """The campaigns whose string tests on `key` refuse the plain string under it;
        None when the value there is not one (an array, whose elements could match, or
        none): then each test is run as the conjunct it is."""
        from_context, name = key
        value = (context if from_context else document).get(name, _MISSING)
        if type(value) is not str:
            return None
        constrained, by_string = self._strings[key]
        return constrained & ~by_string.get(value, 0)


# What reading a field costs a lazy view, roughly: nothing for the context (a dict), a
# lookup for the plain fields, a conversion for times, custom values, a clan, and most
# for the device list.
_COSTLY: Final = {FieldKind.TIME: 2, FieldKind.CLAN: 2, FieldKind.DEVICES: 3}


def _read_cost(condition: Condition) -> int:
    cost = 0
    for path in condition.paths:
        head = path.split(".", 1)[0]
        if head == "context":
            continue
        kind = KIND_OF.get(head)
        cost = max(cost, 2 if kind is None else _COSTLY.get(kind, 1))
    return cost


# (the top-level key, the strings accepted): a conjunct that holds exactly when the
# value under the key, if a plain string, is one of the strings.
_StringTest = tuple[_Key, frozenset[str]]


def _string_test(document: Mapping[str, Any]) -> _StringTest | None:
    """The string test `{path: "s"}`, `{path: {"$eq": "s"}}` or `{path: {"$in": ["s",
    ...]}}` is, for a path that is one key of the profile or the context; else None."""
    [(path, operand)] = document.items()
    key = _top_key(path)
    if path.startswith("$") or path != ("context." if key[0] else "") + key[1]:
        return None
    if isinstance(operand, str):
        return key, frozenset((operand,))
    if isinstance(operand, Mapping) and len(operand) == 1:
        [(operator, value)] = operand.items()
        if operator == "$eq" and isinstance(value, str):
            return key, frozenset((value,))
        if (
            operator == "$in"
            and isinstance(value, list)
            and value
            and all(isinstance(item, str) for item in value)
        ):
            return key, frozenset(value)
    return None


def _string_index(by_campaign: Mapping[int, frozenset[str]]) -> _StringIndex:
    constrained = 0
    by_string: dict[str, int] = {}
    for bit, texts in by_campaign.items():
        constrained |= bit
        for text in texts:
            by_string[text] = by_string.get(text, 0) | bit
    return constrained, by_string


# (the campaigns with string tests on a key, string -> the campaigns accepting it)
_StringIndex = tuple[int, dict[str, int]]


def conjuncts(
    where: Condition, segments: Mapping[str, Condition]
) -> list[tuple[str, dict[str, Any], Condition]] | None:
    """`where` as the conditions that must all hold, each with a key naming it (its
    document as written), so that campaigns sharing one evaluate it once per request:
    the entries of its query document, `$and` opened. None when one cannot be parsed
    alone (a segment this catalog does not define): then `where` is tested whole."""
    parts = []
    for document in _entries(where.to_document()):
        try:
            part = parse_condition(document, segments=segments)
        except ConditionError:
            return None
        parts.append((json.dumps(document, default=str), document, part))
    return parts


def _entries(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for key, value in document.items():
        if key == "$and":
            for child in value:
                yield from _entries(child)
        else:
            yield {key: value}


def where_stage(
    ordered: Sequence[Campaign], size: int, segments: Mapping[str, Condition]
) -> WhereStage | None:
    """The stage for `ordered`, or None when no campaign has a `where`."""
    if any(campaign.where is not None for campaign in ordered):
        return WhereStage(ordered, size, segments)
    return None
