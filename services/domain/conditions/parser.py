"""Condition documents into nodes: every problem found before anything is evaluated.

A condition is a MongoDB query document (see the package's docstring). The parser
follows MongoDB's reading of one: an object whose first key starts with `$` is an
operator document, any other object is a value compared whole; `$elemMatch` takes a
query on the elements unless its first key is an operator other than `$and $or $nor`.
It is stricter where MongoDB is lenient: `$exists` takes a boolean, and an operator
document may not mix operators and fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from services.domain.conditions.condition import Condition
from services.domain.conditions.errors import ConditionError
from services.domain.conditions.literals import MAX_DEPTH, is_time_literal, kind, literal
from services.domain.conditions.nodes import (
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
    SegmentRef,
    Test,
    VersionCompare,
)
from services.domain.conditions.paths import Path, element_path, profile_path
from services.domain.conditions.values import COMPARISONS
from services.domain.conditions.versions import VERSION_OPERATORS, version_key, version_problem

_LOGICAL: Final = ("$and", "$or", "$nor")
_KNOWN: Final = (*COMPARISONS, "$in", "$nin", "$exists", "$not", "$elemMatch", *VERSION_OPERATORS)


def parse_condition(
    doc: object, *, segments: Mapping[str, object] | None = None, where: str = "where"
) -> Condition:
    """Parses and validates a whole condition; ConditionError names the first bad clause.

    `segments` maps names to segment definitions: query documents, or Conditions from
    `parse_segments` (parsed once and shared). Only the segments the condition uses
    (directly or through other segments) are read.
    """
    return _Parser(_Segments(segments), ()).condition(doc, where, None, 0)


def parse_segments(docs: Mapping[str, object]) -> Mapping[str, Condition]:
    """Parses every segment definition; an unknown name or a cycle is a ConditionError."""
    if not isinstance(docs, Mapping):
        raise ConditionError("segments", f"must be an object of named segments, got {kind(docs)}")
    for name in docs:
        if not isinstance(name, str) or not name:
            raise ConditionError("segments", "segment names must be non-empty strings")
    resolver = _Segments(docs)
    return {name: resolver.resolve(name, f"segments.{name}", (), 0) for name in docs}


class _Segments:
    """Resolves `$segment` names against their definitions, parsing each once."""

    def __init__(self, definitions: Mapping[str, object] | None) -> None:
        self._definitions = definitions if isinstance(definitions, Mapping) else {}
        self._parsed: dict[str, Condition] = {}

    def resolve(self, name: str, clause: str, stack: tuple[str, ...], depth: int) -> Condition:
        """The segment `name`, parsed (once) as if it stood at `depth` in the condition
        that uses it, so that nesting is bounded across segments too."""
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise ConditionError(clause, f"segment cycle: {cycle}")
        parsed = self._parsed.get(name)
        if parsed is not None:
            return parsed
        if name not in self._definitions:
            raise ConditionError(clause, f"unknown segment {name!r}")
        definition = self._definitions[name]
        if isinstance(definition, Condition):
            parsed = definition
        else:
            parser = _Parser(self, (*stack, name))
            parsed = parser.condition(definition, f"segments.{name}", name, depth)
        self._parsed[name] = parsed
        return parsed


class _Parser:
    def __init__(self, segments: _Segments, stack: tuple[str, ...]) -> None:
        self._segments = segments
        self._stack = stack
        self._deepest = 0

    def condition(self, doc: object, where: str, name: str | None, depth: int) -> Condition:
        self._deepest = depth
        root = self._document(doc, where, None, in_element=False, depth=depth)
        return Condition(root, name, self._deepest - depth)

    def _document(
        self,
        value: object,
        location: str,
        fields: frozenset[str] | None,
        *,
        in_element: bool,
        depth: int,
    ) -> Document:
        self._reached(depth, location)
        if not isinstance(value, Mapping):
            raise ConditionError(
                location, f"must be a query document (an object), got {kind(value)}"
            )
        entries: list[Clause] = []
        written: dict[str, Any] = {}
        for key, operand in value.items():
            if not isinstance(key, str):
                raise ConditionError(location, f"keys must be strings, got {kind(key)}")
            here = f"{location}.{key}"
            clause: Clause
            if key in _LOGICAL:
                clause = self._logical(
                    key, operand, here, fields=fields, in_element=in_element, depth=depth
                )
                written[key] = clause.written
            elif key == "$segment":
                if in_element:
                    raise ConditionError(here, "$segment is not allowed inside $elemMatch")
                if not isinstance(operand, str) or not operand:
                    raise ConditionError(here, f"must be a segment name, got {kind(operand)}")
                segment = self._segments.resolve(operand, here, self._stack, depth + 1)
                self._reached(depth + 1 + segment.depth, here)
                clause = SegmentRef(operand, segment, here)
                written[key] = operand
            elif key.startswith("$"):
                raise ConditionError(
                    here, f"unknown operator {key!r} (here: a field, $and, $or, $nor or $segment)"
                )
            else:
                path = element_path(key, here, fields) if in_element else profile_path(key, here)
                clause, written[key] = self._field(path, operand, here, depth)
            entries.append(clause)
        return Document(tuple(entries), written, location)

    def _reached(self, depth: int, location: str) -> None:
        """Records how deep the condition goes; past MAX_DEPTH (segments included) it is
        refused, so nothing that evaluates it can run out of stack."""
        if depth > MAX_DEPTH:
            raise ConditionError(
                location, f"conditions may nest at most {MAX_DEPTH} levels, segments included"
            )
        self._deepest = max(self._deepest, depth)

    def _logical(
        self,
        operator: str,
        operand: object,
        location: str,
        *,
        fields: frozenset[str] | None,
        in_element: bool,
        depth: int,
    ) -> Logical:
        if not isinstance(operand, list) or not operand:
            raise ConditionError(
                location, f"must be a non-empty array of query documents, got {kind(operand)}"
            )
        children = tuple(
            self._document(
                child, f"{location}[{i}]", fields, in_element=in_element, depth=depth + 1
            )
            for i, child in enumerate(operand)
        )
        return Logical(operator, children, [child.written for child in children], location)

    def _field(self, path: Path, operand: object, location: str, depth: int) -> tuple[Clause, Any]:
        if _is_operator_document(operand):
            assert isinstance(operand, Mapping)
            tests, written = self._tests(path, operand, location, depth)
            return FieldClause(path, tests, location), written
        value, written = literal(operand, location, allow_ago=True)
        test = Compare("$eq", value, written, location, implicit=True)
        return FieldClause(path, (test,), location), written

    def _tests(
        self, path: Path, operators: Mapping[Any, Any], location: str, depth: int
    ) -> tuple[tuple[Test, ...], dict[str, Any]]:
        self._reached(depth, location)
        tests: list[Test] = []
        written: dict[str, Any] = {}
        for operator, operand in operators.items():
            if not isinstance(operator, str):
                raise ConditionError(location, f"keys must be strings, got {kind(operator)}")
            here = f"{location}.{operator}"
            if not operator.startswith("$"):
                raise ConditionError(
                    here, "an operator document holds only operators (keys starting with '$')"
                )
            test = self._test(path, operator, operand, here, depth)
            tests.append(test)
            written[operator] = test.written
        return tuple(tests), written

    def _test(self, path: Path, operator: str, operand: object, here: str, depth: int) -> Test:
        if operator in COMPARISONS:
            value, written = literal(operand, here, allow_ago=True)
            return Compare(operator, value, written, here)
        if operator in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise ConditionError(here, f"must be an array of values, got {kind(operand)}")
            pairs = [
                literal(item, f"{here}[{i}]", allow_ago=False) for i, item in enumerate(operand)
            ]
            return InList(operator, tuple(v for v, _ in pairs), [w for _, w in pairs], here)
        if operator == "$exists":
            if not isinstance(operand, bool):
                raise ConditionError(here, f"must be true or false, got {kind(operand)}")
            return Exists(operand, here)
        if operator == "$not":
            if not _is_operator_document(operand):
                raise ConditionError(
                    here,
                    'must be an operator document, like {"$gt": 5}, got '
                    + ("a value" if operand is not None else "null"),
                )
            assert isinstance(operand, Mapping)
            tests, written = self._tests(path, operand, here, depth + 1)
            return Not(tests, written, here)
        if operator == "$elemMatch":
            return self._elem_match(path, operand, here, depth)
        if operator in VERSION_OPERATORS:
            problem = version_problem(operand)
            if problem is not None:
                raise ConditionError(here, f"bad version: {problem}")
            assert isinstance(operand, str)
            key = version_key(operand)
            assert key is not None
            return VersionCompare(operator, key, operand, here)
        raise ConditionError(here, f"unknown operator {operator!r} (known: {', '.join(_KNOWN)})")

    def _elem_match(self, path: Path, operand: object, here: str, depth: int) -> Test:
        if not path.may_be_array:
            raise ConditionError(here, f"$elemMatch applies to arrays; {path.text!r} is not one")
        if not isinstance(operand, Mapping):
            raise ConditionError(here, f"must be an object, got {kind(operand)}")
        first = next(iter(operand), None)
        if isinstance(first, str) and first.startswith("$") and first not in _LOGICAL:
            element = Path(path.text, "element", (), may_be_array=True)
            tests, written = self._tests(element, operand, here, depth + 1)
            return ElemMatchValue(tests, written, here)
        query = self._document(operand, here, path.element_fields, in_element=True, depth=depth + 1)
        return ElemMatchQuery(query, query.written, here)


def _is_operator_document(value: object) -> bool:
    if not isinstance(value, Mapping) or not value or is_time_literal(value):
        return False
    first = next(iter(value))
    return isinstance(first, str) and first.startswith("$")
