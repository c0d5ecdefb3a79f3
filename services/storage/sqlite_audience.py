"""The embedded store's audience count: every row read once, in chunks, and tested by
the compiled condition; nothing but the counts leaves this module.

The query is a MongoDB query document (what the MongoDB store would count with), read
back as a condition and compiled, so both stores count the same query alike. Each row
is parsed into its Profile message and seen through a lazy document view
(sqlite_row_view.py), so only the fields the query reads are converted. The scan
runs in one read transaction: `total` and the rows scanned are one snapshot, while
writers go on. A row that cannot be read as a profile is not counted as matched (it is
logged). Progress goes to the log every PROGRESS_EVERY rows; past the deadline the
count stops with DependencyTimeout, saying how far it got.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from google.protobuf.message import DecodeError

from profilematcher.profiles.v1 import profile_pb2
from services.domain.conditions import ConditionError, parse_condition
from services.domain.errors import DependencyTimeout, DomainError, InvalidInput
from services.storage.base import AudienceCount
from services.storage.sqlite_row_view import StoredRowView
from services.storage.sqlite_schema import COUNT_ALL

log = logging.getLogger(__name__)

# Rows fetched per round: enough to make fetching cheap, few enough to check the
# deadline often.
CHUNK_ROWS: Final = 2_000
PROGRESS_EVERY: Final = 200_000
SCAN_ALL: Final = "SELECT player_id, profile, custom FROM profiles"
_NO_CONTEXT: Final[Mapping[str, Any]] = {}


def count_matching_rows(
    conn: sqlite3.Connection,
    query: Mapping[str, Any],
    *,
    deadline: float | None,
    name: str,
    progress_every: int = PROGRESS_EVERY,
    clock: Callable[[], float] = time.monotonic,
) -> AudienceCount:
    """Counts the rows of `conn`'s profiles table that `query` holds for.

    `deadline` is an instant of `clock` (None: no limit). InvalidInput names the
    clause of a query that is not a condition; sqlite3's errors are the caller's to map.
    """
    try:
        predicate = parse_condition(_as_condition(query), where="query").compile()
    except ConditionError as exc:
        raise InvalidInput(exc.clause, exc.problem) from None
    conn.execute("BEGIN")
    try:
        total: int = conn.execute(COUNT_ALL).fetchone()[0]
        if not query:  # every profile: no need to read one
            return AudienceCount(total, total, total)
        return _scan(
            conn, predicate, total, deadline=deadline, name=name, every=progress_every, clock=clock
        )
    finally:
        conn.execute("COMMIT")


def _scan(
    conn: sqlite3.Connection,
    predicate: Any,
    total: int,
    *,
    deadline: float | None,
    name: str,
    every: int,
    clock: Callable[[], float],
) -> AudienceCount:
    now = datetime.now(UTC)  # the query holds instants; the predicate takes one anyway
    parse = profile_pb2.Profile.FromString
    matched = scanned = unreadable = 0
    next_report = every
    started = clock()
    cursor = conn.execute(SCAN_ALL)
    while rows := cursor.fetchmany(CHUNK_ROWS):
        for player_id, wire, custom in rows:
            try:
                if predicate(StoredRowView(parse(wire), custom), _NO_CONTEXT, now):
                    matched += 1
            except (DecodeError, TypeError, orjson.JSONDecodeError, DomainError) as exc:
                unreadable += 1
                if unreadable == 1:
                    log.warning(
                        "audience count in %s: player %r unreadable: %s", name, player_id, exc
                    )
        scanned += len(rows)
        if deadline is not None and clock() > deadline:
            raise DependencyTimeout(
                f"{name}: audience count stopped at its deadline after {scanned} of"
                f" {total} profiles",
                public=(
                    "could not count the audience in time: "
                    f"{scanned} of {total} profiles scanned, {matched} matched so far"
                ),
            )
        if scanned >= next_report:
            next_report += every
            log.info(
                "audience count in %s: %d of %d profiles scanned, %d matched (%.0f/s)",
                name,
                scanned,
                total,
                matched,
                scanned / max(clock() - started, 1e-9),
            )
    if unreadable:
        log.warning("audience count in %s: %d rows unreadable, not counted", name, unreadable)
    return AudienceCount(matched, scanned, max(total, scanned))


def _as_condition(value: Any) -> Any:
    """The query with its times written as a condition writes them ({"$date": ...})."""
    if isinstance(value, datetime):
        return {"$date": value.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    if isinstance(value, Mapping):
        return {key: _as_condition(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_condition(item) for item in value]
    return value
