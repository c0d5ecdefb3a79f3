"""The embedded profile store: SQLite from the standard library, no server to run.

Serves the matcher with no MongoDB configured, tests, and single-node deployments
with millions of profiles. The rows' layout is sqlite_rows's, the table and its
statements sqlite_schema's, the connections and their locking sqlite_connections's;
this module is the store's operations over them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import ProfileAlreadyExists, ProfileNotFound, StoredProfileCorrupt
from services.domain.profile import Profile, ServingRecord
from services.domain.profile_json import validate_player_id
from services.domain.profile_update import plan_field_update
from services.storage import sqlite_rows
from services.storage.arguments import checked_campaigns, checked_ids, last_per_player
from services.storage.base import AudienceCount
from services.storage.sqlite_audience import count_matching_rows
from services.storage.sqlite_connections import SQLiteConnections
from services.storage.sqlite_schema import (
    COUNT_ALL,
    COUNT_EXISTING,
    DELETE,
    INSERT_NEW,
    REPLACE,
    SELECT_MANY,
    SELECT_MESSAGE,
    SELECT_ONE,
    SET_MESSAGE,
    UPSERT,
    prepare,
)


class SQLiteProfileStore:
    """ProfileStore and ServingReads on SQLite. Build it with `open(path)` or `in_memory()`.

    `timeout` is the default for calls that pass none: the longest a write waits for
    another thread's write, or for another process's write lock on the file, before
    raising DependencyTimeout. Reads never queue behind one another; writes go one at
    a time (sqlite_connections).
    """

    def __init__(self, database: str | os.PathLike[str], *, timeout: float = 2.0) -> None:
        self._db = SQLiteConnections(database, timeout=timeout, prepare=prepare)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, timeout: float = 2.0) -> SQLiteProfileStore:
        """A store kept in the file at `path` (created if missing; its folder must exist).

        ":memory:" gives a private in-memory database, like `in_memory()`.
        """
        if str(path) != ":memory:":
            path = Path(path).expanduser()
        return cls(path, timeout=timeout)

    @classmethod
    def in_memory(cls, *, timeout: float = 2.0) -> SQLiteProfileStore:
        """A store that lives and dies with this object; nothing touches the disk."""
        return cls(":memory:", timeout=timeout)

    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        key = validate_player_id(player_id)
        with self._db.read("read a profile", timeout) as conn:
            row = conn.execute(SELECT_ONE, (key,)).fetchone()
        return None if row is None else sqlite_rows.profile(key, *row)

    def get_many(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Profile | StoredProfileCorrupt]:
        return {
            row[0]: sqlite_rows.profile_or_error(*row) for row in self._rows(player_ids, timeout)
        }

    def read_for_serving(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, ServingRecord[profile_pb2.Profile] | StoredProfileCorrupt]:
        """The stored Profile messages, checked as sqlite_rows says: one parse each."""
        return {
            row[0]: sqlite_rows.serving_or_error(*row) for row in self._rows(player_ids, timeout)
        }

    def _rows(self, player_ids: Sequence[str], timeout: float | None) -> list[sqlite_rows.Row]:
        """(player_id, profile, custom) for each stored player among `player_ids`."""
        if len(player_ids) == 1:  # every GetClientConfig: SELECT_ONE is much the cheaper
            key = validate_player_id(player_ids[0])
            with self._db.read("read profiles", timeout) as conn:
                row = conn.execute(SELECT_ONE, (key,)).fetchone()
            return [] if row is None else [(key, *row)]
        keys = checked_ids(player_ids)
        if not keys:
            return []
        with self._db.read("read profiles", timeout) as conn:
            return conn.execute(SELECT_MANY, (json.dumps(keys),)).fetchall()

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        checked = [
            (validate_player_id(pid), checked_campaigns(pid, names))
            for pid, names in updates.items()
        ]
        if not checked:
            return
        # The message is read and written back inside one write transaction, so no
        # other writer, in this process or another, can change the profile in between.
        with self._db.write("set active campaigns", timeout) as conn:
            for key, names in checked:
                row = conn.execute(SELECT_MESSAGE, (key,)).fetchone()
                wire = (
                    None if row is None else sqlite_rows.with_active_campaigns(key, row[0], names)
                )
                if wire is not None:
                    conn.execute(SET_MESSAGE, (wire, key))

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        row = sqlite_rows.encode(profile)
        with self._db.write("create a profile", timeout) as conn:
            if conn.execute(INSERT_NEW, row).rowcount == 0:
                raise ProfileAlreadyExists(row[0])

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        row = sqlite_rows.encode(profile)
        with self._db.write("store a profile", timeout) as conn:
            if conn.execute(INSERT_NEW, row).rowcount == 1:
                return True
            key, wire, custom = row
            conn.execute(REPLACE, (wire, custom, key))
            return False

    def upsert_many(self, profiles: Sequence[Profile], *, timeout: float | None = None) -> int:
        """Writes the whole batch in one transaction: all of it or none of it."""
        rows = [sqlite_rows.encode(p) for p in last_per_player(profiles)]
        if not rows:
            return 0
        keys = json.dumps([key for key, *_ in rows])
        with self._db.write("store profiles", timeout) as conn:
            existing = conn.execute(COUNT_EXISTING, (keys,)).fetchone()[0]
            conn.executemany(UPSERT, rows)
        created: int = len(rows) - existing
        return created

    def update_fields(
        self,
        player_id: str,
        values: Mapping[str, Any],
        unset: Collection[str] = (),
        *,
        timeout: float | None = None,
    ) -> Profile:
        key = validate_player_id(player_id)
        # Read, merge, validate and write inside one write transaction: no other
        # writer, in this process or another, can slip in between.
        with self._db.write("update a profile", timeout) as conn:
            row = conn.execute(SELECT_ONE, (key,)).fetchone()
            if row is None:
                raise ProfileNotFound(key)
            plan = plan_field_update(sqlite_rows.document(key, *row), key, values, unset)
            if plan.set_values or plan.unset:
                _, wire, custom = sqlite_rows.encode(plan.profile)
                conn.execute(REPLACE, (wire, custom, key))
        return plan.profile

    def delete(self, player_id: str, *, timeout: float | None = None) -> bool:
        key = validate_player_id(player_id)
        with self._db.write("delete a profile", timeout) as conn:
            deleted: bool = conn.execute(DELETE, (key,)).rowcount > 0
        return deleted

    def ping(self, *, timeout: float | None = None) -> None:
        with self._db.read("ping", timeout) as conn:
            conn.execute("SELECT 1").fetchone()

    def writing(self) -> bool:
        """Whether a write (an import batch, say) holds this store's write lock now: a
        look that never waits, for a caller that must not wait for the lock itself."""
        return self._db.write_lock.locked()

    def count(self, *, timeout: float | None = None) -> int:
        """How many profiles are stored (a full count: for tools and tests, not serving)."""
        with self._db.read("count profiles", timeout) as conn:
            total: int = conn.execute(COUNT_ALL).fetchone()[0]
        return total

    def count_audience(
        self, query: Mapping[str, Any], *, timeout: float | None = None
    ) -> AudienceCount:
        """A scan of every row on this thread's read connection (sqlite_audience)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._db.read("count an audience", timeout) as conn:
            return count_matching_rows(conn, query, deadline=deadline, name=self._db.name)

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteProfileStore({self._db.name})"
