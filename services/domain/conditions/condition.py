"""`Condition`: one parsed condition, and everything callers do with one."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.domain.conditions.compiler import Predicate, compile_document
from services.domain.conditions.evaluate import document_holds
from services.domain.conditions.explain import ClauseFailure, explain_document
from services.domain.conditions.facts import Facts, facts_of
from services.domain.conditions.mongo_filter import MongoFilter, to_mongo_filter
from services.domain.conditions.nodes import Document


class Condition:
    """A validated condition (build one with `parse_condition`). Immutable; any number of
    threads may share one.

    `profile` arguments are the profile as a document (the JSON/MongoDB format games
    keep: datetimes as aware `datetime`, `inventory` a mapping, `devices` a list of
    mappings, custom fields under their `_name`); any Mapping will do, and only the keys
    the condition reads are asked for (`profile.get(key)`, then down). `context` is the
    request's context, a flat mapping of JSON values; `now` is the moment of the match.
    """

    __slots__ = ("_compiled", "_facts", "depth", "name", "root")

    def __init__(self, root: Document, name: str | None = None, depth: int = 0) -> None:
        self.root = root
        # The segment's name when this condition defines one.
        self.name = name
        # How deep its clauses nest, segments included (bounded by the parser).
        self.depth = depth
        self._facts: Facts | None = None
        self._compiled: Predicate | None = None

    def evaluate(
        self, profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime
    ) -> bool:
        """The reference answer, clause by clause (see evaluate.py)."""
        return document_holds(self.root, profile, context, now)

    def compile(self) -> Predicate:
        """A fast predicate `(profile, context, now) -> bool`, the same answers as
        `evaluate`; built once, then cached."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = compile_document(self.root)
        return compiled

    def explain(
        self, profile: Mapping[str, Any], context: Mapping[str, Any], now: datetime
    ) -> ClauseFailure | None:
        """None when the condition holds; otherwise the first clause that fails."""
        return explain_document(self.root, profile, context, now)

    def to_mongo_filter(self, now: datetime) -> MongoFilter:
        """One MongoDB filter equivalent to the condition at `now`, or wider when some
        clauses cannot run in the store (listed in `unevaluable`; see mongo_filter.py)."""
        return to_mongo_filter(self.root, now)

    def to_document(self) -> dict[str, Any]:
        """The condition as written (segments by name); `parse_condition` reads it back."""
        written: dict[str, Any] = copy.deepcopy(self.root.written)
        return written

    @property
    def facts(self) -> Facts:
        facts = self._facts
        if facts is None:
            facts = self._facts = facts_of(self.root)
        return facts

    @property
    def paths(self) -> frozenset[str]:
        """Every path the condition reads, segments included."""
        return self.facts.paths

    @property
    def uses_context(self) -> bool:
        return self.facts.uses_context

    @property
    def segments_used(self) -> frozenset[str]:
        """Every segment it enters, directly or through other segments."""
        return self.facts.segments_used

    @property
    def required_paths(self) -> frozenset[str]:
        """Paths that must hold a value for the condition to hold (prefilter hint)."""
        return self.facts.required_paths

    @property
    def required_strings(self) -> Mapping[str, frozenset[str]]:
        """Path -> strings one of which a value there must equal (prefilter hint)."""
        return self.facts.required_strings

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Condition{label} {self.root.written!r}>"
