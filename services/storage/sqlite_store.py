"""The embedded profile store: SQLite from the standard library, no server to run.

One table keyed by player_id, the profile as a serialized Profile message beside its
custom fields as JSON text (sqlite_rows says why). Serves the matcher with no MongoDB
configured, tests, and single-node deployments with millions of profiles.

Layout: an ordinary rowid table with a unique index on player_id, so a lookup is an
index search then a rowid search. Measured with 1,000,000 profiles as schema version
1 stored them (~900 bytes of JSON each): reads as fast as a WITHOUT ROWID table
(13-15 us per raw lookup either way) while filling in random key order 3x faster and
taking 11% less disk, because WITHOUT ROWID keeps whole rows in its interior pages
and rows this size split them. Rows are now about 300 bytes; not re-measured.

Threads: each thread reads through a connection of its own; writes go through one
write connection under a lock (see SQLiteProfileStore). A single shared connection
was as fast in a microbenchmark (8 threads, no gRPC), but behind a gRPC server's 16
workers it halved throughput (BENCHMARKS.md). A file database uses WAL, so other
processes (an import next to a running server) can read while one writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from profilematcher.profiles.v1 import profile_pb2
from services.domain.errors import (
    DependencyTimeout,
    DependencyUnavailable,
    ProfileAlreadyExists,
    ProfileNotFound,
    StoredProfileCorrupt,
)
from services.domain.profile import Profile, ServingRecord
from services.domain.profile_json import validate_player_id
from services.domain.profile_update import plan_field_update
from services.storage import sqlite_rows
from services.storage.arguments import checked_campaigns, checked_ids, last_per_player

T = TypeVar("T")

# 1: the whole profile as JSON text. 2: the Profile message and the custom fields as
# JSON (sqlite_rows); opening a version 1 file upgrades it in place.
SCHEMA_VERSION = 2
# How much shorter than a write's time left its busy timeout may be (see _write).
_BUSY_SLACK_MS = 50

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS profiles (
    player_id TEXT NOT NULL PRIMARY KEY,
    profile BLOB NOT NULL,
    custom TEXT
)
"""
SELECT_ONE = "SELECT profile, custom FROM profiles WHERE player_id = ?"
# One statement for any number of ids: the ids travel as one JSON array parameter,
# so SQLite's bound-variable limit never applies and the statement cache keeps one
# entry; the planner still searches the player_id index once per id.
SELECT_MANY = (
    "SELECT player_id, profile, custom FROM profiles"
    " WHERE player_id IN (SELECT value FROM json_each(?))"
)
COUNT_EXISTING = "SELECT count(*) FROM profiles WHERE player_id IN (SELECT value FROM json_each(?))"
INSERT_NEW = (
    "INSERT INTO profiles (player_id, profile, custom) VALUES (?, ?, ?)"
    " ON CONFLICT (player_id) DO NOTHING"
)
UPSERT = (
    "INSERT INTO profiles (player_id, profile, custom) VALUES (?, ?, ?)"
    " ON CONFLICT (player_id) DO UPDATE SET profile = excluded.profile, custom = excluded.custom"
)
REPLACE = "UPDATE profiles SET profile = ?, custom = ? WHERE player_id = ?"
SELECT_MESSAGE = "SELECT profile FROM profiles WHERE player_id = ?"
SET_MESSAGE = "UPDATE profiles SET profile = ? WHERE player_id = ?"
DELETE = "DELETE FROM profiles WHERE player_id = ?"


class SQLiteProfileStore:
    """ProfileStore on SQLite. Build it with `open(path)` or `in_memory()`.

    `timeout` is the default for calls that pass none: the longest a write waits for
    another thread's write, or for another process's write lock on the file, before
    raising DependencyTimeout.

    Reads never queue behind one another: each thread reads through a connection of
    its own (under load, one shared connection behind a lock made gRPC workers hand
    the lock to each other through the GIL, and throughput halved). Writes go through
    the one write connection, one at a time. A file database is in WAL mode, so
    readers see committed snapshots; the in-memory database is one shared-cache
    database whose readers skip table locks (read_uncommitted), which could only
    show a write whose COMMIT then failed.
    """

    def __init__(self, database: str | os.PathLike[str], *, timeout: float = 2.0) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._closed = False
        self._is_memory = str(database) == ":memory:"
        self._name = "in-memory SQLite" if self._is_memory else f"SQLite file {database}"
        # A private name, so every connection of this store (and only of this store)
        # opens the same in-memory database; it lives while the write connection does.
        self._target = (
            f"file:profilematcher-{uuid.uuid4().hex}?mode=memory&cache=shared"
            if self._is_memory
            else f"file:{quote(str(Path(database).absolute()))}"
        )
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._local = threading.local()
        try:
            # check_same_thread=False: the lock below, not the sqlite3 module, serializes
            # use. isolation_level=None: transactions are begun and ended explicitly.
            self._conn = self._connect()
        except sqlite3.Error as exc:
            raise DependencyUnavailable(f"cannot open {self._name}: {exc}") from exc
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise
        self._busy_ms = round(timeout * 1000)

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

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self._target,
            uri=True,
            timeout=self._timeout,
            check_same_thread=False,
            isolation_level=None,
        )

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, opened on its first read."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            if self._is_memory:
                # Shared-cache readers would otherwise take table locks, and a write
                # meeting one fails at once (SQLITE_LOCKED) instead of waiting.
                conn.execute("PRAGMA read_uncommitted = true")
            else:
                conn.execute("PRAGMA cache_size = -65536")
            with self._readers_lock:
                if self._closed:
                    conn.close()
                    raise DependencyUnavailable(f"{self._name} is closed", public=_CLOSED)
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    def _read(self, action: str, timeout: float | None) -> _SQLiteErrors[sqlite3.Connection]:
        """`with` this thread's read connection, errors mapped."""
        if timeout is not None and timeout <= 0:
            raise DependencyTimeout(f"{self._name}: no time left to {action}", public=_late(action))
        if self._closed:
            raise DependencyUnavailable(f"{self._name} is closed, cannot {action}", public=_CLOSED)
        with _sqlite_errors(action, self._name):
            return _SQLiteErrors(action, self._reader(), self._name)

    def _prepare(self) -> None:
        with _sqlite_errors("open the profile store", self._name):
            conn = self._conn
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DependencyUnavailable(
                    f"{self._name} has schema version {version}, newer than this"
                    f" program's {SCHEMA_VERSION}"
                )
            try:
                conn.execute("SELECT value FROM json_each('[1]')").fetchone()
            except sqlite3.OperationalError as exc:
                raise DependencyUnavailable(
                    f"SQLite {sqlite3.sqlite_version} lacks the JSON functions this store uses"
                ) from exc
            if not self._is_memory:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise DependencyUnavailable(f"{self._name}: cannot switch to WAL ({mode})")
                # With WAL, NORMAL keeps the database consistent on a crash and only
                # risks the last commits on power loss; FULL would fsync every write.
                conn.execute("PRAGMA synchronous = NORMAL")
                # 64 MiB of page cache (default 2 MiB) keeps the upper index levels in
                # memory: about 4 us less per lookup with a million rows.
                conn.execute("PRAGMA cache_size = -65536")
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Read again under the write lock: another process may have upgraded it.
                if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
                    self._upgrade_from_version_1()
                conn.execute(CREATE_TABLE)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _upgrade_from_version_1(self) -> None:
        """Rewrites every row in the current layout, inside the caller's transaction:
        a row that is not a valid profile stops the upgrade and changes nothing."""
        conn = self._conn
        conn.execute("ALTER TABLE profiles RENAME TO profiles_version_1")
        conn.execute(CREATE_TABLE)
        for player_id, text in conn.execute("SELECT player_id, doc FROM profiles_version_1"):
            try:
                row = sqlite_rows.encode(sqlite_rows.v1_profile(player_id, text))
            except StoredProfileCorrupt as exc:
                raise DependencyUnavailable(
                    f"cannot upgrade {self._name} from schema version 1, nothing was"
                    f" changed: {exc}. Fix or delete that row and open it again."
                ) from None
            conn.execute(INSERT_NEW, row)
        conn.execute("DROP TABLE profiles_version_1")

    @contextmanager
    def _write(self, action: str, timeout: float | None) -> Iterator[sqlite3.Connection]:
        """The write connection, held for this thread alone, inside one transaction
        that commits on success and rolls back on any error."""
        # The configured limit, shortened (never lengthened) by the caller's deadline.
        # One deadline for the whole write: the wait for this process's other writers
        # and the wait for another connection's lock on the file share it, so a write
        # queued behind one that is itself waiting still answers in time.
        wait = self._timeout if timeout is None else min(self._timeout, timeout)
        if wait <= 0:
            raise DependencyTimeout(f"{self._name}: no time left to {action}", public=_late(action))
        deadline = time.monotonic() + wait
        if not self._lock.acquire(timeout=wait):
            raise DependencyTimeout(
                f"{self._name}: busy for {wait:g}s, could not {action}", public=_late(action)
            )
        try:
            if self._closed:
                raise DependencyUnavailable(
                    f"{self._name} is closed, cannot {action}", public=_CLOSED
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise DependencyTimeout(
                    f"{self._name}: busy for {wait:g}s, could not {action}", public=_late(action)
                )
            with _sqlite_errors(action, self._name):
                busy_ms = max(1, round(left * 1000))
                # Another process may hold the file's write lock: wait no longer than
                # what is left of this caller's time for it. A timeout set by an earlier
                # write and a little shorter is kept, which saves a statement per write.
                if not busy_ms - _BUSY_SLACK_MS <= self._busy_ms <= busy_ms:
                    self._conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
                    self._busy_ms = busy_ms
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    # Also after a failed COMMIT, so the next caller never finds an
                    # open transaction.
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
        finally:
            self._lock.release()

    def get(self, player_id: str, *, timeout: float | None = None) -> Profile | None:
        key = validate_player_id(player_id)
        with self._read("read a profile", timeout) as conn:
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
        keys = checked_ids(player_ids)
        if not keys:
            return []
        with self._read("read profiles", timeout) as conn:
            if len(keys) == 1:  # every GetClientConfig: SELECT_ONE costs a fifth as much
                return [(keys[0], *row) for row in conn.execute(SELECT_ONE, (keys[0],))]
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
        with self._write("set active campaigns", timeout) as conn:
            for key, names in checked:
                row = conn.execute(SELECT_MESSAGE, (key,)).fetchone()
                wire = (
                    None if row is None else sqlite_rows.with_active_campaigns(key, row[0], names)
                )
                if wire is not None:
                    conn.execute(SET_MESSAGE, (wire, key))

    def create(self, profile: Profile, *, timeout: float | None = None) -> None:
        row = sqlite_rows.encode(profile)
        with self._write("create a profile", timeout) as conn:
            if conn.execute(INSERT_NEW, row).rowcount == 0:
                raise ProfileAlreadyExists(row[0])

    def upsert(self, profile: Profile, *, timeout: float | None = None) -> bool:
        row = sqlite_rows.encode(profile)
        with self._write("store a profile", timeout) as conn:
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
        with self._write("store profiles", timeout) as conn:
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
        with self._write("update a profile", timeout) as conn:
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
        with self._write("delete a profile", timeout) as conn:
            deleted: bool = conn.execute(DELETE, (key,)).rowcount > 0
        return deleted

    def ping(self, *, timeout: float | None = None) -> None:
        with self._read("ping", timeout) as conn:
            conn.execute("SELECT 1").fetchone()

    def count(self, *, timeout: float | None = None) -> int:
        """How many profiles are stored (a full count: for tools and tests, not serving)."""
        with self._read("count profiles", timeout) as conn:
            total: int = conn.execute("SELECT count(*) FROM profiles").fetchone()[0]
        return total

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                with self._readers_lock:
                    self._closed = True
                    for reader in self._readers:
                        reader.close()
                self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteProfileStore({self._name})"


class _SQLiteErrors(Generic[T]):
    """Maps sqlite3's errors to the domain's, in one place; `with` gives `value`.

    A class rather than a @contextmanager generator: every read enters one, and this
    costs a sixth as much.
    """

    __slots__ = ("_action", "_name", "_value")

    def __init__(self, action: str, value: T, name: str) -> None:
        self._action = action
        self._value = value
        self._name = name

    def __enter__(self) -> T:
        return self._value

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if not isinstance(exc, sqlite3.Error):
            return
        # The file's path and SQLite's words are for the log (see DependencyUnavailable).
        problem = f"could not {self._action} in {self._name}: {exc}"
        if isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        ):
            raise DependencyTimeout(problem, public=_late(self._action)) from exc
        raise DependencyUnavailable(
            problem, public=f"could not {self._action}: the profile store failed"
        ) from exc


def _sqlite_errors(action: str, name: str) -> _SQLiteErrors[None]:
    return _SQLiteErrors(action, None, name)


# What a client is told (the detail, with the file's path, goes to the log).
_CLOSED = "the profile store is shutting down; retry later"


def _late(action: str) -> str:
    return f"could not {action}: the profile store did not answer in time"
