"""Conditions compiled into closures: the same answers as evaluate.py, built for speed.

Compiling does all the reading of the tree once: each clause becomes a closure holding
its keys, operand and operator function, and each test a one-value check specialized
on the operand's type, so that the common case (a profile field holding a plain value of
the operand's type) costs one `get`, one type check and one comparison. Everything else
(arrays, nested paths, values of another type) falls back to the general traversal and
to `values.holds`, MongoDB's rules in full. Nothing is parsed, split or allocated per
call beyond what a clause's values need.

A segment compiles once (its Condition caches the closure) and is shared by every
condition that uses it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from services.domain.conditions.evaluate import as_document, negated, positive
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
from services.domain.conditions.paths import Path
from services.domain.conditions.traversal import any_at, any_value
from services.domain.conditions.values import MISSING, holds, is_array, is_object
from services.domain.conditions.versions import version_holds, version_key

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any], datetime], bool]
# One value (and the moment of the match, for `$ago`).
Accept = Callable[[Any, datetime], bool]

_OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "$eq": operator.eq,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$veq": operator.eq,
    "$vgt": operator.gt,
    "$vgte": operator.ge,
    "$vlt": operator.lt,
    "$vlte": operator.le,
}
# Types whose values a path ends on without anything to expand.
_PLAIN: Final = frozenset({str, int, float, bool, type(None), datetime, type(MISSING)})
_NO_CONTEXT: Final[Mapping[str, Any]] = MappingProxyType({})
_NEVER: Final = datetime(1970, 1, 1, tzinfo=UTC)
_VERDICTS_KEPT: Final = 1024


def compile_document(document: Document) -> Predicate:
    return _all_of([_clause(clause) for clause in document.entries])


def _clause(clause: Clause) -> Predicate:
    if isinstance(clause, FieldClause):
        fallback = _all_of([_field_test(clause.path, test) for test in clause.tests])
        return _fused(clause, fallback) or fallback
    if isinstance(clause, Logical):
        children = [compile_document(child) for child in clause.children]
        if clause.operator == "$and":
            return _all_of(children)
        either = _any_of(children)
        return either if clause.operator == "$or" else _negate(either)
    return clause.segment.compile()


def _field_test(path: Path, test: Test) -> Predicate:
    if isinstance(test, Not):
        return _negate(_all_of([_field_test(path, inner) for inner in test.tests]))
    if isinstance(test, ElemMatchQuery | ElemMatchValue):
        return _path_any(path, _accept(test), expand=False)
    if negated(test):
        return _negate(_path_any(path, _accept(positive(test)), expand=True))
    return _path_any(path, _accept(test), expand=True)


def _fused(clause: FieldClause, fallback: Predicate) -> Predicate | None:
    """For a field read with one key and tests of one value each (comparisons, `$in`,
    `$exists`, versions, and their negations): one `get` for all the tests, which then
    run straight on a plain value; anything else (arrays, objects) takes `fallback`."""
    path, tests = clause.path, clause.tests
    if len(path.keys) != 1 or not all(
        isinstance(test, Compare | InList | Exists | VersionCompare) for test in tests
    ):
        return None
    if len(tests) == 1 and not negated(tests[0]):
        return None  # _path_any is already one get and one check
    key = path.keys[0]
    from_context = path.root == "context"
    plain = _PLAIN
    checks = tuple(
        (_accept(positive(test)), True) if negated(test) else (_accept(test), False)
        for test in tests
    )

    if len(checks) == 1:
        check = checks[0][0]

        def negated_one(
            profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime
        ) -> bool:
            value = (context if from_context else profile).get(key, MISSING)
            if type(value) not in plain:
                return fallback(profile, context, now)
            return not check(value, now)

        return negated_one
    if len(checks) == 2:
        (first, first_negative), (second, second_negative) = checks

        def fused_two(
            profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime
        ) -> bool:
            value = (context if from_context else profile).get(key, MISSING)
            if type(value) not in plain:
                return fallback(profile, context, now)
            return bool(first(value, now)) != first_negative and (
                bool(second(value, now)) != second_negative
            )

        return fused_two

    def fused(profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
        value = (context if from_context else profile).get(key, MISSING)
        if type(value) not in plain:
            return fallback(profile, context, now)
        return all(bool(accept(value, now)) != negative for accept, negative in checks)

    return fused


def _path_any(path: Path, accept: Accept, *, expand: bool) -> Predicate:
    """Whether `accept` holds for a value the path reaches (MongoDB's "any")."""
    keys = path.keys
    from_context = path.root == "context"
    plain = _PLAIN
    if len(keys) == 1:
        key = keys[0]

        def one_key(profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
            value = (context if from_context else profile).get(key, MISSING)
            if type(value) in plain:
                return accept(value, now)
            return any_value(value, accept, now, expand)

        return one_key
    if len(keys) == 2:
        first, second = keys

        by_position = second.isascii() and second.isdigit()

        def two_keys(profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
            doc = context if from_context else profile
            outer = doc.get(first, MISSING)
            if type(outer) is dict:
                value = outer.get(second, MISSING)
                if type(value) in plain:
                    return accept(value, now)
            elif type(outer) is list and not by_position:
                # An array of objects (devices.model): each object's value, its arrays
                # expanded; other elements hold nothing for a key that is no position.
                for element in outer:
                    if type(element) is dict:
                        value = element.get(second, MISSING)
                        if (
                            accept(value, now)
                            if type(value) in plain
                            else any_value(value, accept, now, expand)
                        ):
                            return True
                    elif is_object(element) and any_at(element, (second,), accept, now, expand):
                        return True
                return False
            return any_at(doc, keys, accept, now, expand)

        return two_keys

    def many_keys(profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
        return any_at(context if from_context else profile, keys, accept, now, expand)

    return many_keys


def _accept(test: Test) -> Accept:
    """The one-value check of `test` (MongoDB's matchesSingleElement)."""
    if negated(test):
        check = _accept(positive(test))
        return lambda value, now: not check(value, now)
    if isinstance(test, Compare):
        return _accept_compare(test.operator, test.operand)
    if isinstance(test, InList):
        return _accept_in(test.values)
    if isinstance(test, Exists):
        return lambda value, now: value is not MISSING
    if isinstance(test, VersionCompare):
        return _accept_version(test)
    if isinstance(test, Not):
        inner = _all_accept([_accept(t) for t in test.tests])
        return lambda value, now: not inner(value, now)
    if isinstance(test, ElemMatchValue):
        return _some_element(_all_accept([_accept(t) for t in test.tests]))
    query = compile_document(test.query)

    def element_matches(element: Any, now: datetime) -> bool:
        if is_object(element):
            return query(element, _NO_CONTEXT, now)
        return is_array(element) and query(as_document(element), _NO_CONTEXT, now)

    return _some_element(element_matches)


def _accept_compare(name: str, operand: Any) -> Accept:
    compare = _OPERATORS[name]
    if isinstance(operand, Ago):
        ago = operand
        # The instant for the last `now` seen: a caller matching many conditions passes
        # the same `now` to each. One tuple, replaced whole, so threads may share it.
        last: list[tuple[datetime, datetime]] = [(_NEVER, ago.at(_NEVER))]

        def relative(value: Any, now: datetime) -> bool:
            seen, when = last[0]
            if seen is not now:
                when = ago.at(now)
                last[0] = (now, when)
            if type(value) is datetime and value.tzinfo is not None:
                return compare(value, when)
            return holds(name, value, when)

        return relative
    if operand is None:
        nullish = name in ("$eq", "$gte", "$lte")
        return lambda value, now: nullish and (value is None or value is MISSING)
    kind = type(operand)
    if kind is int or kind is float:
        if name == "$eq":
            return lambda value, now: (
                value == operand
                if type(value) is int or type(value) is float
                else holds(name, value, operand)
            )
        return lambda value, now: (
            compare(value, operand)
            if type(value) is int or type(value) is float
            else holds(name, value, operand)
        )
    if kind is str or kind is bool:
        if name == "$eq":
            return lambda value, now: (
                value == operand if type(value) is kind else holds(name, value, operand)
            )
        return lambda value, now: (
            compare(value, operand) if type(value) is kind else holds(name, value, operand)
        )
    if kind is datetime:
        return lambda value, now: (
            compare(value, operand)
            if type(value) is datetime and value.tzinfo is not None
            else holds(name, value, operand)
        )
    return lambda value, now: holds(name, value, operand)


def _accept_in(values: tuple[Any, ...]) -> Accept:
    strings = frozenset(v for v in values if type(v) is str)
    numbers = frozenset(v for v in values if type(v) is int or type(v) is float)
    has_null = any(v is None for v in values)

    def is_in(value: Any, now: datetime) -> bool:
        kind = type(value)
        if kind is str:
            return value in strings
        if kind is int or kind is float:
            return value in numbers
        if value is None or value is MISSING:
            return has_null
        return any(holds("$eq", value, candidate) for candidate in values)

    return is_in


def _accept_version(test: VersionCompare) -> Accept:
    name, wanted = test.operator, test.version
    compare = _OPERATORS[name]
    # Verdicts by version string: profiles share a few versions. Bounded, and emptied
    # when full; a dict's get and set are atomic, so threads may share it.
    verdicts: dict[str, bool] = {}

    def version(value: Any, now: datetime) -> bool:
        if type(value) is str:
            verdict = verdicts.get(value)
            if verdict is None:
                key = version_key(value)
                verdict = key is not None and compare(key, wanted)
                if len(verdicts) >= _VERDICTS_KEPT:
                    verdicts.clear()
                verdicts[value] = verdict
            return verdict
        return version_holds(name, value, wanted)

    return version


def _some_element(check: Accept) -> Accept:
    def some(value: Any, now: datetime) -> bool:
        return is_array(value) and any(check(element, now) for element in value)

    return some


def _all_accept(checks: list[Accept]) -> Accept:
    if len(checks) == 1:
        return checks[0]
    return lambda value, now: all(check(value, now) for check in checks)


def _negate(predicate: Predicate) -> Predicate:
    return lambda profile, context, now: not predicate(profile, context, now)


def _always(profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime) -> bool:
    return True


def _all_of(predicates: list[Predicate]) -> Predicate:
    """The conjunction, unrolled for the short lists conditions are made of."""
    if not predicates:
        return _always
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda p, c, n: a(p, c, n) and b(p, c, n)
    if len(predicates) == 3:
        a, b, d = predicates
        return lambda p, c, n: a(p, c, n) and b(p, c, n) and d(p, c, n)
    every = tuple(predicates)
    return lambda p, c, n: all(predicate(p, c, n) for predicate in every)


def _any_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        a, b = predicates
        return lambda p, c, n: a(p, c, n) or b(p, c, n)
    every = tuple(predicates)
    return lambda p, c, n: any(predicate(p, c, n) for predicate in every)
