"""Why a condition does not hold for a profile: the first clause that fails, in the
order the condition is written, descending into `$and`, documents and segments.

A failing `$or` is reported whole (none of its branches held: `found` lists why each
failed), as are `$nor` (a branch held) and `$not` (its tests held): no single field
decides those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.domain.conditions.evaluate import (
    clause_holds,
    document_holds,
    field_test_holds,
    operand_at,
)
from services.domain.conditions.nodes import Ago, Clause, Compare, Document, FieldClause, Logical
from services.domain.conditions.traversal import values_at
from services.domain.conditions.values import MISSING, render


@dataclass(frozen=True, slots=True)
class ClauseFailure:
    """The clause that failed.

    `path`: the field it reads (paths joined by ", " for `$or`/`$nor`); `operator`: the
    operator that failed (`$eq` for implicit equality); `wanted`: its operand as JSON;
    `found`: what the profile (or context) holds there, `missing` when nothing;
    `segment_chain`: the segments entered to reach the clause, outermost first; `clause`:
    the clause's location in the written document (`where.$or[1].level`, or
    `segments.<name>...` inside a segment).
    """

    path: str
    operator: str
    wanted: str
    found: str
    segment_chain: tuple[str, ...] = ()
    clause: str = ""


def explain_document(
    document: Document,
    doc: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
    chain: tuple[str, ...] = (),
) -> ClauseFailure | None:
    for clause in document.entries:
        failure = _explain_clause(clause, doc, context, now, chain)
        if failure is not None:
            return failure
    return None


def _explain_clause(
    clause: Clause,
    doc: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
    chain: tuple[str, ...],
) -> ClauseFailure | None:
    if isinstance(clause, FieldClause):
        return _explain_field(clause, doc, context, now, chain)
    if isinstance(clause, Logical):
        return _explain_logical(clause, doc, context, now, chain)
    return explain_document(clause.segment.root, doc, context, now, (*chain, clause.name))


def _explain_field(
    clause: FieldClause,
    doc: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
    chain: tuple[str, ...],
) -> ClauseFailure | None:
    for test in clause.tests:
        if field_test_holds(clause, test, doc, context, now):
            continue
        wanted = render(test.written)
        if isinstance(test, Compare) and isinstance(test.operand, Ago):
            wanted = f"{wanted} = {render(operand_at(test, now))}"
        return ClauseFailure(
            path=clause.path.text,
            operator=test.operator,
            wanted=wanted,
            found=found_at(clause, doc, context),
            segment_chain=chain,
            clause=test.location,
        )
    return None


def _explain_logical(
    clause: Logical,
    doc: Mapping[str, Any],
    context: Mapping[str, Any],
    now: datetime,
    chain: tuple[str, ...],
) -> ClauseFailure | None:
    if clause.operator == "$and":
        for child in clause.children:
            failure = explain_document(child, doc, context, now, chain)
            if failure is not None:
                return failure
        return None
    if clause_holds(clause, doc, context, now):
        return None
    if clause.operator == "$or":
        failures = [explain_document(child, doc, context, now) for child in clause.children]
        found = "; ".join(
            f"[{i}] {f.path} {f.operator} {f.wanted}: found {f.found}"
            for i, f in enumerate(failures)
            if f is not None
        )
        wanted = f"one of {render(clause.written)}"
    else:
        held = [
            i for i, child in enumerate(clause.children) if document_holds(child, doc, context, now)
        ]
        found = f"[{held[0]}] holds: " + ", ".join(
            f"{path}={value}" for path, value in _values_of(clause.children[held[0]], doc, context)
        )
        wanted = f"none of {render(clause.written)}"
    paths = ", ".join(
        dict.fromkeys(p for child in clause.children for p, _ in _values_of(child, doc, context))
    )
    return ClauseFailure(paths, clause.operator, wanted, found, chain, clause.location)


def found_at(clause: FieldClause, doc: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """What the clause's path holds, arrays at its end left whole."""
    root = context if clause.path.root == "context" else doc
    found = values_at(root, clause.path.keys, expand=False)
    present = [value for value in found if value is not MISSING]
    if not present:
        return render(MISSING)
    return render(present[0]) if len(found) == 1 else render(found)


def _values_of(
    document: Document, doc: Mapping[str, Any], context: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(path, what it holds) for the field clauses of a document, segments included."""
    pairs: list[tuple[str, str]] = []
    for clause in document.entries:
        if isinstance(clause, FieldClause):
            pairs.append((clause.path.text, found_at(clause, doc, context)))
        elif isinstance(clause, Logical):
            for child in clause.children:
                pairs.extend(_values_of(child, doc, context))
        else:
            pairs.extend(_values_of(clause.segment.root, doc, context))
    return pairs
