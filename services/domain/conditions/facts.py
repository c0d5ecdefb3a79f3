"""What a condition reads, and what any profile it matches must have (prefilter hints).

`paths`: every path read, segments included; inside `$elemMatch` queries the element's
paths are joined to the array's (`devices.model`). `segments_used`: every segment
entered, directly or through other segments.

Prefilter hints come from the clauses that must all hold (the top document, `$and`,
segments, never under `$or`, `$nor` or `$not`):
- `required_paths`: paths that must reach some present value for the condition to hold
  (a comparison or `$in` without null, `$exists: true`, `$elemMatch`, a version test other
  than `$vne`). A profile lacking the first key of one (`profile.get(key) is None`)
  cannot match.
- `required_strings`: path -> strings, one of which some value at the path must equal
  (implicit equality, `$eq`, `$in` of strings only). Only strings: in Python `1 == 1.0 ==
  True`, which MongoDB's brackets keep apart, so numbers would need more care.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from services.domain.conditions.nodes import (
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


@dataclass(frozen=True, slots=True)
class Facts:
    paths: frozenset[str]
    segments_used: frozenset[str]
    required_paths: frozenset[str]
    required_strings: Mapping[str, frozenset[str]]

    @property
    def uses_context(self) -> bool:
        return any(path.startswith("context.") for path in self.paths)


def facts_of(root: Document) -> Facts:
    required: set[str] = set()
    strings: dict[str, frozenset[str]] = {}
    for clause in _conjuncts(root):
        for test in clause.tests:
            if _requires_presence(test):
                required.add(clause.path.text)
            wanted = _strings_wanted(test)
            if wanted is not None:
                # Two clauses on an array may hold through different elements, so each
                # one alone is the hint (the smaller), never their intersection.
                known = strings.get(clause.path.text)
                if known is None or len(wanted) < len(known):
                    strings[clause.path.text] = wanted
    return Facts(
        paths=frozenset(_paths(root, "")),
        segments_used=frozenset(_segments(root)),
        required_paths=frozenset(required),
        required_strings=strings,
    )


def _conjuncts(document: Document) -> Iterator[FieldClause]:
    for clause in document.entries:
        if isinstance(clause, FieldClause):
            yield clause
        elif isinstance(clause, SegmentRef):
            yield from _conjuncts(clause.segment.root)
        elif clause.operator == "$and":
            for child in clause.children:
                yield from _conjuncts(child)


def _requires_presence(test: Test) -> bool:
    if isinstance(test, Compare):
        return test.operator != "$ne" and test.operand is not None
    if isinstance(test, InList):
        return test.operator == "$in" and None not in test.values
    if isinstance(test, Exists):
        return test.present
    if isinstance(test, VersionCompare):
        return test.operator != "$vne"
    return isinstance(test, ElemMatchQuery | ElemMatchValue)


def _strings_wanted(test: Test) -> frozenset[str] | None:
    if isinstance(test, Compare) and test.operator == "$eq" and isinstance(test.operand, str):
        return frozenset((test.operand,))
    if (
        isinstance(test, InList)
        and test.operator == "$in"
        and all(isinstance(value, str) for value in test.values)
    ):
        return frozenset(test.values)
    return None


def _paths(document: Document, prefix: str) -> Iterator[str]:
    for clause in document.entries:
        if isinstance(clause, FieldClause):
            path = prefix + clause.path.text
            yield path
            yield from _test_paths(clause.tests, path)
        elif isinstance(clause, Logical):
            for child in clause.children:
                yield from _paths(child, prefix)
        else:
            yield from _paths(clause.segment.root, prefix)


def _test_paths(tests: tuple[Test, ...], path: str) -> Iterator[str]:
    for test in tests:
        if isinstance(test, ElemMatchQuery):
            yield from _paths(test.query, path + ".")
        elif isinstance(test, Not | ElemMatchValue):
            yield from _test_paths(test.tests, path)


def _segments(document: Document) -> Iterator[str]:
    for clause in document.entries:
        if isinstance(clause, SegmentRef):
            yield clause.name
            yield from _segments(clause.segment.root)
        elif isinstance(clause, Logical):
            for child in clause.children:
                yield from _segments(child)
        elif isinstance(clause, FieldClause):
            for test in clause.tests:
                if isinstance(test, ElemMatchQuery):
                    yield from _segments(test.query)
