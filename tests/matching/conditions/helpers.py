"""Evaluating a condition both ways, and insisting they agree."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.domain.conditions import parse_condition

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def holds(
    where: object,
    profile: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    *,
    segments: Mapping[str, object] | None = None,
    now: datetime = NOW,
) -> bool:
    """The reference answer, after checking the compiled predicate gives the same."""
    condition = parse_condition(where, segments=segments)
    context = context or {}
    reference = condition.evaluate(profile, context, now)
    compiled = condition.compile()(profile, context, now)
    assert reference == compiled, f"reference {reference}, compiled {compiled}"
    return reference


def matching(where: object, docs: list[dict[str, Any]], now: datetime = NOW) -> list[int]:
    """Positions of the documents `where` holds for."""
    return [i for i, doc in enumerate(docs) if holds(where, doc, now=now)]
