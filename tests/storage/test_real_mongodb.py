"""The ProfileStore contract against a real MongoDB server, when one is configured,
with the layout keyed by player id and the migration to it.

Set PROFILE_MATCHER_TEST_MONGODB_URI (e.g. mongodb://localhost:27017) to run it. Each
run works in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bson import Decimal128, Int64, ObjectId
from pymongo import MongoClient, monitoring

from services.domain.profile_json import profile_to_document
from services.storage.mongo_layout import StoreLayoutError
from services.storage.mongo_migration import Migration
from services.storage.mongo_store import MongoProfileStore, mongo_client
from tests.storage.contract import PLAYER, ProfileStoreContract, player, sample

URI = os.environ.get("PROFILE_MATCHER_TEST_MONGODB_URI", "")

pytestmark = [
    pytest.mark.mongodb,
    pytest.mark.skipif(
        not URI, reason="set PROFILE_MATCHER_TEST_MONGODB_URI to run against a real MongoDB"
    ),
]


@pytest.fixture(scope="module")
def client() -> Iterator[MongoClient[dict[str, Any]]]:
    client = mongo_client(URI, server_selection_timeout=5.0, operation_timeout=10.0)
    yield client
    client.close()


@pytest.fixture(scope="module")
def database(client: MongoClient[dict[str, Any]]) -> Iterator[str]:
    name = f"profilematcher_test_{uuid.uuid4().hex[:12]}"
    yield name
    client.drop_database(name)


class TestRealMongoDB(ProfileStoreContract):
    @pytest.fixture
    def store(
        self, client: MongoClient[dict[str, Any]], database: str
    ) -> Iterator[MongoProfileStore]:
        # A collection per test keeps the tests independent inside the run's database.
        collection = client[database][f"profiles_{uuid.uuid4().hex[:8]}"]
        store = MongoProfileStore(collection)
        store.check_layout()
        yield store
        collection.drop()

    def test_profiles_are_keyed_by_player_id_with_no_index_of_ours(
        self, store: MongoProfileStore
    ) -> None:
        store.create(sample())
        raw = store.collection.find_one({"_id": PLAYER})
        assert raw is not None
        assert raw["player_id"] == PLAYER
        assert list(store.collection.index_information()) == ["_id_"]
        store.check_layout()  # a second start finds the new layout too

    def test_a_collection_in_the_previous_layout_is_refused(
        self, client: MongoClient[dict[str, Any]], database: str
    ) -> None:
        collection = client[database][f"previous_{uuid.uuid4().hex[:8]}"]
        previous_layout(collection, ["a", "b"])
        try:
            with pytest.raises(StoreLayoutError, match="profile-matcher migrate-store"):
                MongoProfileStore(collection).check_layout()
        finally:
            collection.drop()

    def test_bson_values_of_other_writers_read_as_extended_json_and_stay_put(
        self, store: MongoProfileStore
    ) -> None:
        store.create(sample())
        bson_values = {
            "_oid": ObjectId("5f1d7a1f9b1e8b3a2c4d5e6f"),
            "_price": Decimal128("1.10"),
            "_count": Int64(2**62 + 1),
        }
        store.collection.update_one({"_id": PLAYER}, {"$set": bson_values})

        got = store.get(PLAYER)
        assert got is not None
        assert got.custom_fields["_oid"] == {"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"}
        assert got.custom_fields["_price"] == {"$numberDecimal": "1.10"}
        assert got.custom_fields["_count"] == 2**62 + 1
        store.update_fields(PLAYER, {"level": 9})
        raw = store.collection.find_one({"_id": PLAYER}, {"_id": 0})
        assert raw is not None
        assert {k: raw[k] for k in bson_values} == bson_values


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)
        self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.parametrize("count", [1, 3, 150])
def test_reading_players_is_one_find_on_a_real_server(database: str, count: int) -> None:
    commands = _Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(
        URI, tz_aware=True, event_listeners=[commands], timeoutMS=10_000
    )
    try:
        store = MongoProfileStore(client[database][f"reads_{uuid.uuid4().hex[:8]}"])
        store.check_layout()
        ids = [f"p{i}" for i in range(count)]
        store.upsert_many([player(pid) for pid in ids])
        commands.names.clear()

        assert sorted(store.get_many(ids)) == sorted(ids)
        assert commands.names == ["find"]
        store.collection.drop()
    finally:
        client.close()


def previous_layout(collection: Any, ids: list[str]) -> None:
    """Profiles as the previous version stored them: ObjectId `_id`s, unique player_id."""
    collection.create_index("player_id", unique=True)
    collection.insert_many(
        [{**profile_to_document(player(pid)), "_oid": ObjectId(), "_n": Int64(7)} for pid in ids]
    )


def _filters(command: dict[str, Any]) -> list[Any]:
    """The filters a command sends, whatever its kind."""
    name = next(iter(command))
    if name == "find":
        return [command["filter"]]
    if name == "findAndModify":
        return [command["query"]]
    if name == "update":
        return [u["q"] for u in command["updates"]]
    if name == "delete":
        return [d["q"] for d in command["deletes"]]
    if name == "insert":
        return [{"_id": d["_id"]} for d in command["documents"]]
    raise AssertionError(f"unexpected command {name}")


def test_every_single_player_operation_filters_on_the_id_alone(database: str) -> None:
    commands = _Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(
        URI, tz_aware=True, event_listeners=[commands], timeoutMS=10_000
    )
    try:
        store = MongoProfileStore(client[database][f"ops_{uuid.uuid4().hex[:8]}"])
        store.check_layout()
        commands.commands.clear()
        store.create(player("a"))
        store.upsert(player("b"))
        store.upsert_many([player("c"), player("a", level=5)])
        store.get("a")
        store.get_many(["a", "b"])
        store.read_for_serving(["c"])
        store.set_active_campaigns({"a": ["x"], "b": []})
        store.update_fields("a", {"level": 6})
        store.delete("c")

        filters = [f for command in commands.commands for f in _filters(command)]
        assert len(filters) == 12
        assert all(list(f) == ["_id"] for f in filters), filters
        store.collection.drop()
    finally:
        client.close()


def test_the_migration_copies_switches_and_is_idempotent(
    client: MongoClient[dict[str, Any]], database: str
) -> None:
    name = f"mig_{uuid.uuid4().hex[:8]}"
    db = client[database]
    ids = [f"p{i:03d}" for i in range(25)]
    previous_layout(db[name], ids)
    db[name].create_index("country")
    before = {d["player_id"]: d for d in db[name].find()}

    lines: list[str] = []
    outcome = Migration(db, name, batch=10).run(lines.append)

    assert outcome.kind == "migrated"
    assert [line for line in lines if line.startswith("copied")] == [
        "copied 10/25",
        "copied 20/25",
        "copied 25/25",
    ]
    MongoProfileStore(db[name]).check_layout()
    after = {d["_id"]: d for d in db[name].find()}
    assert sorted(after) == ids
    assert all(
        {k: v for k, v in after[p].items() if k != "_id"}
        == {k: v for k, v in before[p].items() if k != "_id"}
        for p in ids
    )
    assert sorted(db[name].index_information()) == ["_id_", "country_1"]
    (backup,) = [n for n in db.list_collection_names() if n.startswith(f"{name}_pre_migration_")]
    assert db[backup].count_documents({}) == 25
    assert Migration(db, name).run(lines.append).kind == "nothing to do"

    # The state between the two renames, which a rerun finishes.
    db[name].rename(f"{name}_migrating")
    assert Migration(db, name).run(lines.append).kind == "finished the switch"
    assert db[name].count_documents({}) == 25
    for leftover in (name, backup):
        db[leftover].drop()


def test_the_migration_recreates_text_geo_wildcard_and_optioned_indexes(
    client: MongoClient[dict[str, Any]], database: str
) -> None:
    name = f"mig_{uuid.uuid4().hex[:8]}"
    db = client[database]
    previous_layout(db[name], ["a", "b", "c"])
    db[name].create_index(
        [("country", 1), ("bio", "text"), ("nickname", "text")],
        weights={"nickname": 5},
        default_language="none",
    )
    db[name].create_index([("home", "2dsphere")])
    db[name].create_index([("custom.$**", 1)])
    db[name].create_index("level", partialFilterExpression={"level": {"$gt": 5}}, hidden=True)
    db[name].create_index("nickname", collation={"locale": "fr", "strength": 2})
    listed = {i["name"]: i for i in db[name].list_indexes() if i["name"] != "player_id_1"}

    assert Migration(db, name).run(lambda _: None).kind == "migrated"

    # Every index as the original was listed, the player_id one aside.
    assert {i["name"]: i for i in db[name].list_indexes()} == listed
    (backup,) = [n for n in db.list_collection_names() if n.startswith(f"{name}_pre_migration_")]
    for leftover in (name, backup):
        db[leftover].drop()
