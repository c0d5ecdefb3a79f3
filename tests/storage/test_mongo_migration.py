"""The migration to the layout keyed by player id, on mongomock: copy, resume, verify,
switch, and each interrupted state a rerun meets (services/storage/mongo_migration.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import mongomock
import pytest
from bson import Decimal128, Int64, ObjectId
from pymongo.errors import AutoReconnect

from services.domain.errors import DependencyUnavailable
from services.domain.profile_json import profile_to_document
from services.storage.mongo_migration import Migration, MigrationRefused
from services.storage.mongo_store import MongoProfileStore
from tests.storage.contract import PLAYER, player, sample

AT = datetime(2026, 6, 1, 12, 0, 5, tzinfo=UTC)
BACKUP = "profiles_pre_migration_20260601T120005Z"
IDS = [f"p{i}" for i in range(5)]
OTHER_WRITERS: dict[str, Any] = {
    "_oid": ObjectId("5f1d7a1f9b1e8b3a2c4d5e6f"),
    "_price": Decimal128("1.10"),
    "_count": Int64(2**62 + 1),
}


@pytest.fixture
def database() -> Any:
    return mongomock.MongoClient(tz_aware=True).profilematcher


def previous_layout(database: Any, ids: list[str] = IDS) -> list[dict[str, Any]]:
    """Profiles as the previous version stored them: ObjectId `_id`s, unique player_id."""
    profiles = database.profiles
    profiles.create_index("player_id", unique=True)
    profiles.create_index("country")
    for player_id in reversed(ids):  # stored in another order than the copy's
        profiles.insert_one({**profile_to_document(player(player_id)), **OTHER_WRITERS})
    profiles.insert_one(profile_to_document(sample()))
    return list(profiles.find({}, sort=[("player_id", 1)]))


def migrate(database: Any, batch: int = 2) -> tuple[str, list[str]]:
    lines: list[str] = []
    outcome = Migration(database, "profiles", batch=batch, clock=lambda: AT).run(lines.append)
    return outcome.kind, lines


def without_id(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


def test_copies_every_profile_keyed_by_player_id_then_switches(database: Any) -> None:
    before = previous_layout(database)

    kind, lines = migrate(database)

    assert kind == "migrated"
    assert [line for line in lines if line.startswith("copied")] == [
        "copied 2/6",
        "copied 4/6",
        "copied 6/6",
    ]
    assert sorted(database.list_collection_names()) == ["profiles", BACKUP]
    after = list(database.profiles.find({}, sort=[("_id", 1)]))
    # Each document as stored (other writers' BSON values too), with `_id` its player id.
    assert [d["_id"] for d in after] == [d["player_id"] for d in before]
    assert [without_id(d) for d in after] == [without_id(d) for d in before]
    assert all(isinstance(d["_id"], ObjectId) for d in database[BACKUP].find())
    assert database[BACKUP].count_documents({}) == len(before)
    store = MongoProfileStore(database.profiles)
    store.check_layout()
    assert store.get(PLAYER) == sample()


def test_the_other_indexes_are_copied_and_the_unique_player_id_one_is_not(
    database: Any,
) -> None:
    previous_layout(database)

    _, lines = migrate(database)

    assert sorted(database.profiles.index_information()) == ["_id_", "country_1"]
    assert "indexes created on profilematcher.profiles_migrating: country_1" in lines


def fail_second_bulk_write(monkeypatch: pytest.MonkeyPatch, *, applied: bool) -> list[int]:
    """Makes the second bulk write fail, before MongoDB applies it or after (the answer
    lost on the way back); returns the sizes of the bulk writes made."""
    calls: list[int] = []
    original: Any = mongomock.collection.Collection.bulk_write

    def bulk_write(self: Any, requests: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(requests))
        if len(calls) != 2:
            return original(self, requests, *args, **kwargs)
        if applied:
            original(self, requests, *args, **kwargs)
        raise AutoReconnect("connection reset by peer")

    monkeypatch.setattr(mongomock.collection.Collection, "bulk_write", bulk_write)
    return calls


@pytest.mark.parametrize(("applied", "copied"), [(False, 2), (True, 4)])
def test_an_interrupted_copy_resumes_after_the_last_player_copied(
    database: Any, monkeypatch: pytest.MonkeyPatch, applied: bool, copied: int
) -> None:
    before = previous_layout(database)
    ids = [d["player_id"] for d in before]
    migration = Migration(database, "profiles", batch=2, clock=lambda: AT)
    with monkeypatch.context() as patch:
        calls = fail_second_bulk_write(patch, applied=applied)
        with pytest.raises(DependencyUnavailable, match="copy profiles"):
            migration.run(lambda _: None)

    assert migration.phase == "copy"
    # Nothing switched: the previous collection is as it was, the copy holds a prefix.
    assert list(database.profiles.find({}, sort=[("player_id", 1)])) == before
    assert [d["_id"] for d in database.profiles_migrating.find({}, sort=[("_id", 1)])] == ids[
        :copied
    ]

    kind, lines = migrate(database)

    assert kind == "migrated"
    assert f"resuming after player id {ids[copied - 1]!r}: {copied} already copied" in lines
    progress = [line for line in lines if line.startswith("copied")]
    assert progress == [f"copied {n}/6" for n in range(copied + 2, 7, 2)]
    assert calls == [2, 2]
    after = list(database.profiles.find({}, sort=[("_id", 1)]))
    assert [d["_id"] for d in after] == ids
    assert [without_id(d) for d in after] == [without_id(d) for d in before]


def test_a_store_already_in_the_new_layout_is_left_alone(database: Any) -> None:
    previous_layout(database)
    migrate(database)
    snapshot = list(database.profiles.find())

    kind, lines = migrate(database)

    assert (kind, lines) == ("nothing to do", [])
    assert list(database.profiles.find()) == snapshot


def test_no_collection_at_all_is_nothing_to_do(database: Any) -> None:
    assert migrate(database) == ("nothing to do", [])
    assert database.list_collection_names() == []


def test_a_document_without_a_string_player_id_stops_before_the_switch(database: Any) -> None:
    previous_layout(database)
    stray = database.profiles.insert_one({"player_id": 7, "level": 1}).inserted_id

    with pytest.raises(MigrationRefused) as err:
        migrate(database)

    message = str(err.value)
    assert "profiles holds 7 documents, profilematcher.profiles_migrating 6:" in message
    assert f"without a string player_id (_id {stray!r}" in message
    assert "Nothing was switched" in message
    assert "profiles_pre_migration" not in " ".join(database.list_collection_names())
    assert database.profiles.find_one({"_id": stray}) is not None


def test_a_switch_interrupted_between_the_renames_is_finished_by_a_rerun(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous_layout(database)
    original: Any = mongomock.collection.Collection.rename
    with monkeypatch.context() as patch:

        def rename(self: Any, new_name: str, *args: Any, **kwargs: Any) -> Any:
            if self.name.endswith("_migrating"):
                raise AutoReconnect("primary stepped down")
            return original(self, new_name, *args, **kwargs)

        patch.setattr(mongomock.collection.Collection, "rename", rename)
        migration = Migration(database, "profiles", batch=2, clock=lambda: AT)
        with pytest.raises(DependencyUnavailable, match="rename the copy"):
            migration.run(lambda _: None)
    assert migration.phase == "switch"
    assert sorted(database.list_collection_names()) == ["profiles_migrating", BACKUP]

    kind, lines = migrate(database)

    assert kind == "finished the switch"
    assert lines == [f"finishing an interrupted switch-over: 6 profiles, as in {BACKUP}"]
    assert sorted(database.list_collection_names()) == ["profiles", BACKUP]
    MongoProfileStore(database.profiles).check_layout()


def test_a_copy_beside_a_new_layout_collection_is_for_an_operator(database: Any) -> None:
    database.profiles.insert_one({"_id": "a", "player_id": "a"})
    database.profiles_migrating.insert_one({"_id": "b", "player_id": "b"})

    with pytest.raises(MigrationRefused, match="compare the two"):
        migrate(database)
    assert database.profiles.count_documents({}) == 1


@pytest.mark.parametrize("backup_count", [None, 3])
def test_a_copy_alone_is_switched_only_beside_a_backup_of_as_many(
    database: Any, backup_count: int | None
) -> None:
    database.profiles_migrating.insert_many([{"_id": p, "player_id": p} for p in IDS])
    if backup_count is not None:
        database[BACKUP].insert_many([{"player_id": p} for p in IDS[:backup_count]])

    with pytest.raises(MigrationRefused):
        migrate(database)
    assert "profiles" not in database.list_collection_names()


def test_a_batch_must_hold_a_profile(database: Any) -> None:
    with pytest.raises(ValueError, match="batch must be at least 1"):
        Migration(database, "profiles", batch=0)


def test_without_an_index_on_player_id_it_names_the_one_to_create(database: Any) -> None:
    before = previous_layout(database)
    database.profiles.drop_index("player_id_1")

    with pytest.raises(MigrationRefused) as err:
        migrate(database)

    assert "profilematcher.profiles has no index on player_id" in str(err.value)
    assert "db.profiles.createIndex({player_id: 1}), then run the command again" in str(err.value)
    assert database.list_collection_names() == ["profiles"]
    assert list(database.profiles.find({}, sort=[("player_id", 1)])) == before

    database.profiles.create_index("player_id")  # not unique: enough to read in order
    kind, _ = migrate(database)

    assert kind == "migrated"
    assert [d["_id"] for d in database.profiles.find({}, sort=[("_id", 1)])] == [
        d["player_id"] for d in before
    ]


def test_an_index_the_copy_already_has_by_name_is_left_as_it_is(database: Any) -> None:
    previous_layout(database)
    # Made by hand on the copy, under the name of the original (`country_1`).
    database.profiles_migrating.create_index([("country", -1)], name="country_1")

    _, lines = migrate(database)

    assert not any(line.startswith("indexes created") for line in lines)
    assert database.profiles.index_information()["country_1"]["key"] == [("country", -1)]


def test_an_index_no_create_index_call_can_repeat_stops_before_the_copy(database: Any) -> None:
    previous_layout(database)
    database.profiles.create_index([("_fts", "text"), ("_ftsx", 1)], name="no_weights")

    with pytest.raises(MigrationRefused) as err:
        migrate(database)

    assert str(err.value).startswith(
        "text index 'no_weights' is listed without the weights of its fields: create it on"
        " profilematcher.profiles_migrating by hand under the same name"
    )
    assert database.profiles_migrating.count_documents({}) == 0
