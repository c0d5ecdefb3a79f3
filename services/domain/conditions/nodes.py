"""The parsed form of a condition: a tree of immutable nodes, close to the document.

A query document is a `Document` (all its entries hold); its entries are field clauses,
logical operators and segment references. A field clause holds a path and the tests its
value must pass (implicit equality is one `$eq` test). Every node keeps `location`, the
clause's JSON path in the written document, for errors and explanations, and tests keep
the operand as written, for explanations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from services.domain.conditions.paths import Path
from services.domain.conditions.versions import VersionKey

if TYPE_CHECKING:
    from services.domain.conditions.condition import Condition


@dataclass(frozen=True, slots=True)
class Ago:
    """`{"$ago": "14d"}`: the instant `delta` before the moment of the match."""

    delta: timedelta

    def at(self, now: datetime) -> datetime:
        """The instant; a naive `now` is read as UTC, as profile times are."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        try:
            return now - self.delta
        except OverflowError:
            # Before year 1: earlier than any time a profile can hold.
            return datetime.min.replace(tzinfo=now.tzinfo)


@dataclass(frozen=True, slots=True)
class Compare:
    """`$eq $ne $gt $gte $lt $lte`; `implicit` for `{"level": 5}`. The operand is a
    plain value (JSON with datetimes for `$date`) or an `Ago`."""

    operator: str
    operand: Any
    written: Any
    location: str
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class InList:
    """`$in` / `$nin`: equal (or not) to one of `values`."""

    operator: str
    values: tuple[Any, ...]
    written: Any
    location: str


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool
    location: str

    @property
    def operator(self) -> str:
        return "$exists"

    @property
    def written(self) -> bool:
        return self.present


@dataclass(frozen=True, slots=True)
class Not:
    """`$not`: the tests together do not hold."""

    tests: tuple[Test, ...]
    written: Any
    location: str

    @property
    def operator(self) -> str:
        return "$not"


@dataclass(frozen=True, slots=True)
class ElemMatchQuery:
    """`$elemMatch` with a query document: some element (an object) matches it."""

    query: Document
    written: Any
    location: str

    @property
    def operator(self) -> str:
        return "$elemMatch"


@dataclass(frozen=True, slots=True)
class ElemMatchValue:
    """`$elemMatch` with operators: some element passes all the tests."""

    tests: tuple[Test, ...]
    written: Any
    location: str

    @property
    def operator(self) -> str:
        return "$elemMatch"


@dataclass(frozen=True, slots=True)
class VersionCompare:
    """`$veq $vne $vgt $vgte $vlt $vlte` against a semantic version."""

    operator: str
    version: VersionKey
    written: str
    location: str


Test: TypeAlias = Compare | InList | Exists | Not | ElemMatchQuery | ElemMatchValue | VersionCompare


@dataclass(frozen=True, slots=True)
class FieldClause:
    path: Path
    tests: tuple[Test, ...]
    location: str


@dataclass(frozen=True, slots=True)
class Logical:
    """`$and` / `$or` / `$nor` over query documents."""

    operator: str
    children: tuple[Document, ...]
    written: Any
    location: str


@dataclass(frozen=True, slots=True)
class SegmentRef:
    """`$segment`: the named segment's condition holds."""

    name: str
    segment: Condition
    location: str


Clause: TypeAlias = FieldClause | Logical | SegmentRef


@dataclass(frozen=True, slots=True)
class Document:
    entries: tuple[Clause, ...]
    written: Any
    location: str
