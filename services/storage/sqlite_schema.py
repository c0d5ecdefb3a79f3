"""The embedded store's file layout: its table, its statements, and preparing a
database for them (checks, journal mode, upgrades from older layouts).

One table keyed by player_id, the profile as a serialized Profile message beside its
custom fields as JSON text (sqlite_rows says why). An ordinary rowid table with a
unique index on player_id, so a lookup is an index search then a rowid search: it
reads as fast as a WITHOUT ROWID table while filling in random key order faster and
taking less disk, because WITHOUT ROWID keeps whole rows in its interior pages and
rows this size split them.
"""

from __future__ import annotations

import sqlite3

from services.domain.errors import DependencyUnavailable, StoredProfileCorrupt
from services.storage import sqlite_rows

# 1: the whole profile as JSON text. 2: the Profile message and the custom fields as
# JSON (sqlite_rows); opening a version 1 file upgrades it in place.
SCHEMA_VERSION = 2

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
COUNT_ALL = "SELECT count(*) FROM profiles"


def prepare(conn: sqlite3.Connection, name: str, is_memory: bool) -> None:
    """Makes the database behind the write connection `conn` ready for this program's
    statements, or raises DependencyUnavailable saying why it cannot be.

    sqlite3's own errors are the caller's to map."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DependencyUnavailable(
            f"{name} has schema version {version}, newer than this program's {SCHEMA_VERSION}"
        )
    try:
        conn.execute("SELECT value FROM json_each('[1]')").fetchone()
    except sqlite3.OperationalError as exc:
        raise DependencyUnavailable(
            f"SQLite {sqlite3.sqlite_version} lacks the JSON functions this store uses"
        ) from exc
    if not is_memory:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise DependencyUnavailable(f"{name}: cannot switch to WAL ({mode})")
        # With WAL, NORMAL keeps the database consistent on a crash and only risks
        # the last commits on power loss; FULL would fsync every write.
        conn.execute("PRAGMA synchronous = NORMAL")
        # A larger page cache than the default keeps the upper index levels in
        # memory, which saves page reads on every lookup of a large table.
        conn.execute("PRAGMA cache_size = -65536")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process may have upgraded it.
        if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
            _upgrade_from_version_1(conn, name)
        conn.execute(CREATE_TABLE)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _upgrade_from_version_1(conn: sqlite3.Connection, name: str) -> None:
    """Rewrites every row in the current layout, inside the caller's transaction: a
    row that is not a valid profile stops the upgrade and changes nothing."""
    conn.execute("ALTER TABLE profiles RENAME TO profiles_version_1")
    conn.execute(CREATE_TABLE)
    for player_id, text in conn.execute("SELECT player_id, doc FROM profiles_version_1"):
        try:
            row = sqlite_rows.encode(sqlite_rows.v1_profile(player_id, text))
        except StoredProfileCorrupt as exc:
            raise DependencyUnavailable(
                f"cannot upgrade {name} from schema version 1, nothing was"
                f" changed: {exc}. Fix or delete that row and open it again."
            ) from None
        conn.execute(INSERT_NEW, row)
    conn.execute("DROP TABLE profiles_version_1")
