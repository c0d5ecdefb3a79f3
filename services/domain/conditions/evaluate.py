"""The reference evaluator: MongoDB's query semantics read straight off the tree.

Every value a path reaches is listed (traversal.values_at) and each test asks MongoDB's
question of that list: a comparison, `$in`, `$exists: true`, a version comparison and
`$elemMatch` hold when some value passes; `$ne`, `$nin`, `$exists: false` and `$vne` are
the negations of `$eq`, `$in`, `$exists: true` and `$veq` over the whole list (so a missing
field satisfies them); `$not` negates its tests together. Inside `$elemMatch` with
operators, each test is asked of one element at a time, as MongoDB does.

Slow and plain on purpose: the compiled predicates (compiler.py) must agree with it.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    SegmentRef,
    Test,
    VersionCompare,
)
from services.domain.conditions.traversal import values_at
from services.domain.conditions.values import MISSING, holds, is_array, is_object
from services.domain.conditions.versions import version_holds


def document_holds(
    document: Document, doc: Mapping[str, Any], context: Mapping[str, Any], now: datetime
) -> bool:
    return all(clause_holds(clause, doc, context, now) for clause in document.entries)


def clause_holds(
    clause: Clause, doc: Mapping[str, Any], context: Mapping[str, Any], now: datetime
) -> bool:
    if isinstance(clause, FieldClause):
        return all(field_test_holds(clause, test, doc, context, now) for test in clause.tests)
    if isinstance(clause, Logical):
        verdicts = [document_holds(child, doc, context, now) for child in clause.children]
        if clause.operator == "$and":
            return all(verdicts)
        if clause.operator == "$or":
            return any(verdicts)
        return not any(verdicts)
    assert isinstance(clause, SegmentRef)
    return document_holds(clause.segment.root, doc, context, now)


def field_test_holds(
    clause: FieldClause,
    test: Test,
    doc: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
) -> bool:
    """`test` on the values `clause.path` reaches."""
    root = context if clause.path.root == "context" else doc
    if isinstance(test, Not):
        return not all(field_test_holds(clause, inner, doc, context, now) for inner in test.tests)
    expand = not isinstance(test, ElemMatchQuery | ElemMatchValue)
    found = values_at(root, clause.path.keys, expand=expand)
    if negated(test):
        return not any(value_passes(positive(test), value, context, now) for value in found)
    return any(value_passes(test, value, context, now) for value in found)


def negated(test: Test) -> bool:
    """Whether the test is the negation of a positive test over all the values."""
    if isinstance(test, Compare | VersionCompare):
        return test.operator in ("$ne", "$vne")
    if isinstance(test, InList):
        return test.operator == "$nin"
    return isinstance(test, Exists) and not test.present


def positive(test: Test) -> Test:
    """The positive test a negated one negates ($ne -> $eq, $nin -> $in, ...)."""
    if isinstance(test, Compare):
        return Compare("$eq", test.operand, test.written, test.location)
    if isinstance(test, VersionCompare):
        return VersionCompare("$veq", test.version, test.written, test.location)
    if isinstance(test, InList):
        return InList("$in", test.values, test.written, test.location)
    assert isinstance(test, Exists)
    return Exists(True, test.location)


def operand_at(test: Compare, now: datetime) -> Any:
    operand = test.operand
    return operand.at(now) if isinstance(operand, Ago) else operand


def value_passes(test: Test, value: Any, context: Mapping[str, Any], now: datetime) -> bool:
    """MongoDB's verdict on one value (matchesSingleElement)."""
    if negated(test):
        return not value_passes(positive(test), value, context, now)
    if isinstance(test, Compare):
        return holds(test.operator, value, operand_at(test, now))
    if isinstance(test, InList):
        return any(holds("$eq", value, candidate) for candidate in test.values)
    if isinstance(test, Exists):
        return value is not MISSING
    if isinstance(test, VersionCompare):
        return version_holds(test.operator, value, test.version)
    if isinstance(test, Not):
        return not all(value_passes(inner, value, context, now) for inner in test.tests)
    if not is_array(value):
        return False
    if isinstance(test, ElemMatchValue):
        return any(
            all(value_passes(inner, element, context, now) for inner in test.tests)
            for element in value
        )
    return any(
        document_holds(test.query, as_document(element), context, now)
        for element in value
        if is_object(element) or is_array(element)
    )


def as_document(element: Any) -> Mapping[str, Any]:
    """An element `$elemMatch` queries as a document: an object, or an array read as an
    object keyed "0", "1"... (as BSON stores it)."""
    if is_object(element):
        return element  # type: ignore[no-any-return]
    return {str(position): item for position, item in enumerate(element)}
