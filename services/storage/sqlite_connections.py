"""The embedded store's connections to one SQLite database, and its error mapping.

Each thread reads through a connection of its own; writes go through one write
connection, one at a time, under a lock. One shared connection behind a lock made
gRPC's worker threads hand the lock to each other through the GIL under load, and
throughput fell. A file database is in WAL mode, so readers see committed snapshots
and other processes (an import next to a running server) can read while one writes;
the in-memory database is one shared-cache database whose readers skip table locks
(read_uncommitted), which could only show a write whose COMMIT then failed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import quote

from services.domain.errors import DependencyTimeout, DependencyUnavailable

T = TypeVar("T")

# How much shorter than a write's time left its busy timeout may be (see `write`).
_BUSY_SLACK_MS = 50
# What a client is told (the detail, with the file's path, goes to the log).
_CLOSED = "the profile store is shutting down; retry later"


class SQLiteConnections:
    """The connections of one database: `read` and `write` hand them out.

    `timeout` is the longest a write waits for another thread's write, or for another
    process's write lock on the file, before raising DependencyTimeout. `prepare` runs
    on the write connection once it is open, before anything else (the schema's job).
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        timeout: float,
        prepare: Callable[[sqlite3.Connection, str, bool], None],
    ) -> None:
        self._timeout = timeout
        self.write_lock = threading.Lock()
        self._closed = False
        self._is_memory = str(database) == ":memory:"
        self.name = "in-memory SQLite" if self._is_memory else f"SQLite file {database}"
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
            self._conn = self._connect()
        except sqlite3.Error as exc:
            raise DependencyUnavailable(f"cannot open {self.name}: {exc}") from exc
        try:
            with sqlite_errors("open the profile store", self.name):
                prepare(self._conn, self.name, self._is_memory)
        except BaseException:
            self._conn.close()
            raise
        self._busy_ms = round(timeout * 1000)

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: the lock, not the sqlite3 module, serializes use.
        # isolation_level=None: transactions are begun and ended explicitly.
        return sqlite3.connect(
            self._target,
            uri=True,
            timeout=self._timeout,
            check_same_thread=False,
            isolation_level=None,
        )

    def _open_reader(self) -> sqlite3.Connection:
        """A read connection for this thread, opened on its first read."""
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
                raise DependencyUnavailable(f"{self.name} is closed", public=_CLOSED)
            self._readers.append(conn)
        self._local.conn = conn
        return conn

    def read(self, action: str, timeout: float | None) -> SQLiteErrors[sqlite3.Connection]:
        """`with` this thread's read connection, errors mapped."""
        if timeout is not None and timeout <= 0:
            raise DependencyTimeout(f"{self.name}: no time left to {action}", public=_late(action))
        if self._closed:
            raise DependencyUnavailable(f"{self.name} is closed, cannot {action}", public=_CLOSED)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Only opening one can fail here: a thread's later reads skip the mapping.
            with sqlite_errors(action, self.name):
                conn = self._open_reader()
        return SQLiteErrors(action, conn, self.name)

    @contextmanager
    def write(self, action: str, timeout: float | None) -> Iterator[sqlite3.Connection]:
        """The write connection, held for this thread alone, inside one transaction
        that commits on success and rolls back on any error."""
        # The configured limit, shortened (never lengthened) by the caller's deadline.
        # One deadline for the whole write: the wait for this process's other writers
        # and the wait for another connection's lock on the file share it, so a write
        # queued behind one that is itself waiting still answers in time.
        wait = self._timeout if timeout is None else min(self._timeout, timeout)
        if wait <= 0:
            raise DependencyTimeout(f"{self.name}: no time left to {action}", public=_late(action))
        deadline = time.monotonic() + wait
        if not self.write_lock.acquire(timeout=wait):
            raise DependencyTimeout(
                f"{self.name}: busy for {wait:g}s, could not {action}", public=_late(action)
            )
        try:
            if self._closed:
                raise DependencyUnavailable(
                    f"{self.name} is closed, cannot {action}", public=_CLOSED
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise DependencyTimeout(
                    f"{self.name}: busy for {wait:g}s, could not {action}", public=_late(action)
                )
            with sqlite_errors(action, self.name):
                self._wait_for_file_lock_at_most(left)
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
            self.write_lock.release()

    def _wait_for_file_lock_at_most(self, seconds: float) -> None:
        # Another process may hold the file's write lock: wait no longer than what is
        # left of this caller's time for it. A timeout set by an earlier write and a
        # little shorter is kept, which saves a statement per write.
        busy_ms = max(1, round(seconds * 1000))
        if not busy_ms - _BUSY_SLACK_MS <= self._busy_ms <= busy_ms:
            self._conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._busy_ms = busy_ms

    def close(self) -> None:
        with self.write_lock:
            if not self._closed:
                with self._readers_lock:
                    self._closed = True
                    for reader in self._readers:
                        reader.close()
                self._conn.close()


class SQLiteErrors(Generic[T]):
    """Maps sqlite3's errors to the domain's, in one place; `with` gives `value`.

    A class rather than a @contextmanager generator: every read enters one, and a
    plain class is cheaper to enter and leave.
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


def sqlite_errors(action: str, name: str) -> SQLiteErrors[None]:
    return SQLiteErrors(action, None, name)


def _late(action: str) -> str:
    return f"could not {action}: the profile store did not answer in time"
