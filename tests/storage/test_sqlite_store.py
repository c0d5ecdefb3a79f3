"""What only the SQLite store has: its file, its query plans, threads and processes."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_to_message
from services.domain.errors import (
    DependencyTimeout,
    DependencyUnavailable,
    InvalidInput,
    StoredProfileCorrupt,
)
from services.domain.profile import Profile
from services.domain.profile_json import document_to_json, profile_to_document
from services.storage import sqlite_schema
from services.storage.sqlite_store import SQLiteProfileStore
from tests.storage.contract import PLAYER, player, sample


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "profiles.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteProfileStore]:
    store = SQLiteProfileStore.open(path)
    yield store
    store.close()


def _plan(sql: str, *params: object) -> str:
    conn = sqlite3.connect(":memory:")
    conn.execute(sqlite_schema.CREATE_TABLE)
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    conn.close()
    return " | ".join(row[3] for row in rows)


def test_point_read_searches_the_player_id_index() -> None:
    assert _plan(sqlite_schema.SELECT_ONE, "p") == (
        "SEARCH profiles USING INDEX sqlite_autoindex_profiles_1 (player_id=?)"
    )


@pytest.mark.parametrize(
    "sql",
    [
        sqlite_schema.SELECT_MANY,
        sqlite_schema.COUNT_EXISTING,
        sqlite_schema.SELECT_MESSAGE,
        sqlite_schema.SET_MESSAGE,
        sqlite_schema.REPLACE,
        sqlite_schema.DELETE,
    ],
)
def test_no_statement_scans_the_table(sql: str) -> None:
    params = ('["p"]',) if "json_each" in sql else ("x",) * (sql.count("?") - 1) + ("p",)
    plan = _plan(sql, *params)
    assert re.search(
        r"SEARCH profiles USING (COVERING )?INDEX sqlite_autoindex_profiles_1 \(player_id=\?\)",
        plan,
    )
    assert "SCAN profiles" not in plan


def test_file_keeps_profiles_across_reopen_in_wal_mode(path: Path) -> None:
    first = SQLiteProfileStore.open(path)
    first.create(sample())
    first.close()

    again = SQLiteProfileStore.open(str(path))
    try:
        assert again.get(PLAYER) == sample()
        assert again.count() == 1
    finally:
        again.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_rows_hold_the_profile_message_and_the_custom_fields_as_json(
    store: SQLiteProfileStore, path: Path
) -> None:
    store.create(sample())

    conn = sqlite3.connect(path)
    wire, custom = conn.execute(
        "SELECT profile, custom FROM profiles WHERE player_id = ?", (PLAYER,)
    ).fetchone()
    conn.close()
    expected = profile_to_message(sample())
    expected.ClearField("custom_fields")
    assert profile_pb2.Profile.FromString(wire) == expected
    assert json.loads(custom) == {"_customfield": "mycustom"}


def test_set_active_campaigns_leaves_every_other_field_as_it_was(
    store: SQLiteProfileStore,
) -> None:
    # Integers beyond double precision, which a protobuf Value would round, and text
    # beyond ASCII must survive exactly.
    custom = {"_big": 2**62 + 1, "_name": "Zoë 😀", "_f": 0.1}
    before = player("p", custom_fields=custom)
    store.create(before)

    store.set_active_campaigns({"p": ["a"]})

    assert store.get("p") == dataclasses.replace(before, active_campaigns=("a",))
    (served,) = store.read_for_serving(["p"]).values()
    assert not isinstance(served, StoredProfileCorrupt)
    assert list(served.record.active_campaigns) == ["a"]
    assert served.active_campaigns == ("a",)


def _overwrite(store: SQLiteProfileStore, player_id: str, wire: object, custom: object) -> None:
    """A hand edit of the file, behind the store's back."""
    with store._db.write("corrupt", None) as conn:
        conn.execute(
            "UPDATE profiles SET profile = ?, custom = ? WHERE player_id = ?",
            (wire, custom, player_id),
        )


@pytest.mark.parametrize(
    ("wire", "custom", "problem"),
    [
        (b"\xff\xff\xff", None, "not a Profile message"),
        ("text, not bytes", None, "not a Profile message"),
        (
            profile_pb2.Profile(player_id="other").SerializeToString(),
            None,
            "belongs to player 'other'",
        ),
        (profile_pb2.Profile(player_id="bad").SerializeToString(), "{not json", "not JSON"),
        (profile_pb2.Profile(player_id="bad").SerializeToString(), "[1, 2]", "not a JSON object"),
    ],
)
def test_a_damaged_row_is_corrupt_data_for_that_player_only(
    store: SQLiteProfileStore, wire: object, custom: object, problem: str
) -> None:
    store.create(player("bad"))
    store.create(player("good"))
    _overwrite(store, "bad", wire, custom)

    for ids in (["bad"], ["bad", "good"]):  # one id takes a statement of its own
        found = store.get_many(ids)
        assert isinstance(found["bad"], StoredProfileCorrupt)
        assert problem in str(found["bad"])
        served = store.read_for_serving(ids)
        assert isinstance(served["bad"], StoredProfileCorrupt)
        assert problem in str(served["bad"])
    assert isinstance(store.get_many(["bad", "good"])["good"], Profile)
    with pytest.raises(StoredProfileCorrupt, match=re.escape(problem)):
        store.get("bad")
    with pytest.raises(StoredProfileCorrupt, match=re.escape(problem)):
        store.update_fields("bad", {"level": 2})
    store.set_active_campaigns({"bad": ["x"], "good": ["x"]})  # skips what it cannot read
    assert store.get("good") == player("good", active_campaigns=("x",))


def test_a_readable_row_with_a_bad_field_is_corrupt_for_domain_reads() -> None:
    # Rows are validated when written; a hand edit that parses but breaks a rule is
    # caught where every field is checked (GetProfile, UpdateProfile), while
    # answering the player trusts the write-time checks.
    store = SQLiteProfileStore.in_memory()
    store.create(player("bad"))
    edited = profile_pb2.Profile(player_id="bad")
    edited.inventory["sword"] = -1
    _overwrite(store, "bad", edited.SerializeToString(), None)

    with pytest.raises(StoredProfileCorrupt, match=re.escape("inventory.sword")):
        store.get("bad")
    served = store.read_for_serving(["bad"])["bad"]
    assert not isinstance(served, StoredProfileCorrupt)
    assert isinstance(served.record, profile_pb2.Profile)
    store.close()


def test_writers_in_many_threads_lose_nothing(store: SQLiteProfileStore) -> None:
    store.create(Profile(player_id="p"))
    rounds = 30

    def campaigns() -> None:
        for i in range(rounds):
            store.set_active_campaigns({"p": [f"c{i}"]})

    def fields(n: int) -> None:
        for i in range(rounds):
            store.update_fields("p", {f"_writer{n}": i})
            assert store.get("p") is not None

    threads = [threading.Thread(target=campaigns)]
    threads += [threading.Thread(target=fields, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    got = store.get("p")
    assert got is not None
    assert got.active_campaigns == (f"c{rounds - 1}",)
    assert got.custom_fields == {f"_writer{n}": rounds - 1 for n in range(4)}


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_readers_and_writers_in_many_threads_never_fail(path: Path, kind: str) -> None:
    # Readers have connections of their own; in memory they must never trip over the
    # writer's table lock (SQLITE_LOCKED), on a file never see a torn write.
    store = SQLiteProfileStore.in_memory() if kind == "memory" else SQLiteProfileStore.open(path)
    store.create(Profile(player_id="p", level=0))
    errors: list[BaseException] = []
    seen_levels: set[int] = set()

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:
                errors.append(exc)

        return run

    readers = 6
    # Every reader reads once before the writer starts and once after it is done, and
    # keeps reading in between: the levels seen span the writes however the threads
    # are scheduled.
    all_started = threading.Barrier(readers + 1, timeout=60)  # broken, not hung, by a failure
    writer_done = threading.Event()

    def read_once() -> None:
        got = store.get("p")
        assert got is not None
        seen_levels.add(got.level or 0)
        assert store.get_many(["p", "q"]).keys() == {"p"}

    def write() -> None:
        all_started.wait()
        try:
            for i in range(1, 200):
                store.update_fields("p", {"level": i})
                store.set_active_campaigns({"p": [f"c{i}"]})
        finally:
            writer_done.set()

    def read() -> None:
        read_once()
        all_started.wait()
        while not writer_done.is_set():
            read_once()
        read_once()

    threads = [threading.Thread(target=guarded(write))]
    threads += [threading.Thread(target=guarded(read)) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    assert errors == []
    assert {0, 199} <= seen_levels


def test_two_stores_on_one_file_keep_each_others_changes(path: Path) -> None:
    # Two processes, e.g. a running matcher and an import, on the same file.
    matcher = SQLiteProfileStore.open(path)
    other = SQLiteProfileStore.open(path)
    try:
        matcher.create(sample())
        assert matcher.get(PLAYER) is not None
        other.update_fields(PLAYER, {"level": 9})
        matcher.set_active_campaigns({PLAYER: ["x"]})

        got = other.get(PLAYER)
        assert got is not None
        assert (got.level, got.active_campaigns) == (9, ("x",))
    finally:
        matcher.close()
        other.close()


def test_write_lock_held_by_another_process_is_a_timeout(
    store: SQLiteProfileStore, path: Path
) -> None:
    store.create(sample())
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DependencyTimeout):
            store.update_fields(PLAYER, {"level": 1}, timeout=0.1)
        assert store.get(PLAYER) == sample()  # WAL: reads go on meanwhile
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # The failed write left no transaction open behind it.
    assert store.update_fields(PLAYER, {"level": 1}).level == 1


def test_busy_writer_is_a_timeout_after_the_callers_deadline_and_reads_go_on() -> None:
    store = SQLiteProfileStore.in_memory()
    store.create(sample())
    store._db.write_lock.acquire()  # another thread is mid-write
    try:
        with pytest.raises(DependencyTimeout):
            store.set_active_campaigns({PLAYER: ["x"]}, timeout=0.05)
        assert store.get(PLAYER) == sample()  # reads do not queue behind writes
    finally:
        store._db.write_lock.release()
    store.set_active_campaigns({PLAYER: ["x"]})
    stored = store.get(PLAYER)
    assert stored is not None
    assert stored.active_campaigns == ("x",)
    store.close()


def test_closed_store_is_unavailable() -> None:
    store = SQLiteProfileStore.in_memory()
    store.close()
    store.close()
    with pytest.raises(DependencyUnavailable, match="closed"):
        store.ping()


def test_in_memory_stores_are_separate() -> None:
    first, second = SQLiteProfileStore.in_memory(), SQLiteProfileStore.open(":memory:")
    first.create(sample())
    assert second.get(PLAYER) is None
    first.close()
    second.close()


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DependencyUnavailable, match="cannot open"):
        SQLiteProfileStore.open(tmp_path / "no" / "such" / "folder" / "db.sqlite3")


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some text that is long enough " * 40)
    with pytest.raises(DependencyUnavailable):
        SQLiteProfileStore.open(path)


def test_a_newer_schema_is_refused(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {sqlite_schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(DependencyUnavailable, match="newer"):
        SQLiteProfileStore.open(path)


def test_upsert_many_refuses_a_bad_batch_before_writing_any_of_it(
    store: SQLiteProfileStore,
) -> None:
    too_long = Profile(player_id="x" * 200)
    with pytest.raises(InvalidInput, match="player_id"):
        store.upsert_many([player("a"), too_long])
    assert store.count() == 0


VERSION_1 = "CREATE TABLE profiles (player_id TEXT NOT NULL PRIMARY KEY, doc TEXT NOT NULL)"


def _version_1_file(path: Path, rows: dict[str, str]) -> None:
    conn = sqlite3.connect(path)
    conn.execute(VERSION_1)
    conn.executemany("INSERT INTO profiles VALUES (?, ?)", rows.items())
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_version_1_file_is_upgraded_in_place(path: Path) -> None:
    big = player("p", custom_fields={"_big": 2**62 + 1}, active_campaigns=("a",))
    _version_1_file(
        path,
        {
            PLAYER: document_to_json(profile_to_document(sample())),
            "p": document_to_json(profile_to_document(big)),
        },
    )

    store = SQLiteProfileStore.open(path)
    try:
        assert store.get(PLAYER) == sample()
        assert store.get("p") == big
        assert store.count() == 2
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.SCHEMA_VERSION
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    assert tables == [("profiles",)]


def test_a_version_1_file_with_a_bad_row_is_left_as_it_was(path: Path) -> None:
    good = document_to_json(profile_to_document(sample()))
    _version_1_file(path, {PLAYER: good, "bad": '{"player_id": "bad", "level": "high"}'})
    with pytest.raises(DependencyUnavailable, match=r"nothing was changed: .*player 'bad': level"):
        SQLiteProfileStore.open(path)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM profiles").fetchone()[0] == 2
    conn.close()


@pytest.mark.parametrize(
    "profile",
    [
        Profile(player_id="a", country="\ud800"),
        Profile(player_id="b", custom_fields={"_x": ["\ud800"]}),
        Profile(player_id="\ud800"),
    ],
)
def test_text_that_is_not_valid_unicode_is_refused_before_writing(
    store: SQLiteProfileStore, profile: Profile
) -> None:
    # A JSON "\ud800" escape decodes to a lone surrogate, which no UTF-8 store can hold.
    with pytest.raises(InvalidInput, match="valid Unicode"):
        store.upsert(profile)
    assert store.count() == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (document_to_json(profile_to_document(player("b"))), "belongs to player 'b'"),
        ('{"player_id": "a", "country": "\\ud800"}', "not JSON: no low surrogate"),
    ],
)
def test_a_version_1_row_that_cannot_be_kept_stops_the_upgrade(
    path: Path, text: str, problem: str
) -> None:
    _version_1_file(path, {"a": text})
    with pytest.raises(DependencyUnavailable, match=f"player 'a': .*{problem}"):
        SQLiteProfileStore.open(path)
