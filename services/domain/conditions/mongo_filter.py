"""A condition as one MongoDB filter, for audience counts and queries in the store.

The filter is the condition at one instant (`$ago` becomes that instant minus the
duration, `$date` a datetime; BSON keeps milliseconds of either), with segments inlined.
Two kinds of clause cannot run in the store:
- clauses on `context.` (a request's context is not in the profile), and
- version comparisons (`$veq`...: MongoDB orders strings, not versions);
item names holding `.` or starting with `$` cannot be addressed by a MongoDB path either.

Such clauses are dropped conservatively: the filter then matches every profile the
condition matches, and possibly more (an over-approximation, exact when `unevaluable` is
empty). Dropping a clause from a conjunction (a document, `$and`, an operator document,
`$elemMatch`) leaves the other clauses; an `$or` with a dropped branch is dropped whole
(that branch could hold for anyone); `$nor` keeps only its exactly translated branches
(`$nor: [A, B]` implies `$nor: [A]`); `$not` over a dropped test is dropped whole (its
negation would need an under-approximation). `unevaluable` lists the locations of the
clauses that could not be translated, in document order; a caller counting an audience
reports the count as an upper bound when it is not empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.domain.conditions.nodes import (
    Ago,
    Clause,
    Compare,
    Document,
    ElemMatchQuery,
    ElemMatchValue,
    Exists,
    FieldClause,
    InList,
    Logical,
    Not,
    Test,
    VersionCompare,
)

# A translation and whether it is exact (False: it may also match more).
Translation = tuple[dict[str, Any], bool]


@dataclass(frozen=True, slots=True)
class MongoFilter:
    filter: dict[str, Any]
    unevaluable: tuple[str, ...]


def to_mongo_filter(root: Document, now: datetime) -> MongoFilter:
    dropped: list[str] = []
    translated, _ = _document(root, now, dropped)
    return MongoFilter(translated, tuple(dict.fromkeys(dropped)))


def _document(document: Document, now: datetime, dropped: list[str]) -> Translation:
    parts = [_clause(clause, now, dropped) for clause in document.entries]
    exact = all(is_exact for _, is_exact in parts)
    filters = [part for part, _ in parts if part]
    keys = [key for part in filters for key in part]
    if len(set(keys)) == len(keys):
        return {key: value for part in filters for key, value in part.items()}, exact
    return {"$and": filters}, exact


def _clause(clause: Clause, now: datetime, dropped: list[str]) -> Translation:
    if isinstance(clause, FieldClause):
        return _field(clause, now, dropped)
    if isinstance(clause, Logical):
        return _logical(clause, now, dropped)
    return _document(clause.segment.root, now, dropped)


def _logical(clause: Logical, now: datetime, dropped: list[str]) -> Translation:
    parts = [_document(child, now, dropped) for child in clause.children]
    exact = all(is_exact for _, is_exact in parts)
    if clause.operator == "$and":
        filters = [part for part, _ in parts if part]
        if not filters:
            return {}, exact
        return (filters[0] if len(filters) == 1 else {"$and": filters}), exact
    if clause.operator == "$or":
        if any(not part for part, _ in parts):
            return {}, exact
        return {"$or": [part for part, _ in parts]}, exact
    kept = [part for part, is_exact in parts if is_exact]
    return ({"$nor": kept} if kept else {}), exact


def _field(clause: FieldClause, now: datetime, dropped: list[str]) -> Translation:
    path = clause.path
    if path.root == "context" or any(
        "." in key or key.startswith("$") or "\0" in key for key in path.keys
    ):
        dropped.append(clause.location)
        return {}, False
    tests = clause.tests
    if len(tests) == 1 and isinstance(tests[0], Compare) and tests[0].implicit:
        value = _operand(tests[0], now)
        return {path.text: {"$eq": value} if isinstance(value, dict) else value}, True
    operators, exact = _tests(tests, now, dropped)
    return ({path.text: operators} if operators else {}), exact


def _tests(tests: tuple[Test, ...], now: datetime, dropped: list[str]) -> Translation:
    operators: dict[str, Any] = {}
    exact = True
    for test in tests:
        translated = _test(test, now, dropped)
        if translated is None:
            exact = False
            continue
        operand, is_exact = translated
        operators[test.operator] = operand
        exact = exact and is_exact
    return operators, exact


def _test(test: Test, now: datetime, dropped: list[str]) -> tuple[Any, bool] | None:
    """(the operand in the filter, exact), or None when the test is dropped."""
    if isinstance(test, Compare):
        return _operand(test, now), True
    if isinstance(test, InList):
        return list(test.values), True
    if isinstance(test, Exists):
        return test.present, True
    if isinstance(test, VersionCompare):
        dropped.append(test.location)
        return None
    if isinstance(test, Not):
        operators, exact = _tests(test.tests, now, dropped)
        return (operators, True) if exact else None
    if isinstance(test, ElemMatchValue):
        operators, exact = _tests(test.tests, now, dropped)
        return (operators, exact) if operators else None
    assert isinstance(test, ElemMatchQuery)
    return _document(test.query, now, dropped)


def _operand(test: Compare, now: datetime) -> Any:
    return test.operand.at(now) if isinstance(test.operand, Ago) else test.operand
