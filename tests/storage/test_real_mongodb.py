"""The ProfileStore contract against a real MongoDB server, when one is configured.

Set PROFILE_MATCHER_TEST_MONGODB_URI (e.g. mongodb://localhost:27017) to run it. Each
run works in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bson import Decimal128, Int64, ObjectId
from pymongo import MongoClient, monitoring

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
        store.ensure_indexes()
        yield store
        collection.drop()

    def test_unique_index_exists_on_the_server(self, store: MongoProfileStore) -> None:
        index = store.collection.index_information()["player_id_1"]
        assert index["unique"] is True
        assert index["key"] == [("player_id", 1)]

    def test_a_second_start_finds_the_index_and_builds_nothing(
        self, store: MongoProfileStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="services.storage.mongo_store")
        store.ensure_indexes()
        assert "unique player_id index found" in caplog.text
        assert "building" not in caplog.text

    def test_bson_values_of_other_writers_read_as_extended_json_and_stay_put(
        self, store: MongoProfileStore
    ) -> None:
        store.create(sample())
        bson_values = {
            "_oid": ObjectId("5f1d7a1f9b1e8b3a2c4d5e6f"),
            "_price": Decimal128("1.10"),
            "_count": Int64(2**62 + 1),
        }
        store.collection.update_one({"player_id": PLAYER}, {"$set": bson_values})

        got = store.get(PLAYER)
        assert got is not None
        assert got.custom_fields["_oid"] == {"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"}
        assert got.custom_fields["_price"] == {"$numberDecimal": "1.10"}
        assert got.custom_fields["_count"] == 2**62 + 1
        store.update_fields(PLAYER, {"level": 9})
        raw = store.collection.find_one({"player_id": PLAYER}, {"_id": 0})
        assert raw is not None
        assert {k: raw[k] for k in bson_values} == bson_values


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

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
        store.ensure_indexes()
        ids = [f"p{i}" for i in range(count)]
        store.upsert_many([player(pid) for pid in ids])
        commands.names.clear()

        assert sorted(store.get_many(ids)) == sorted(ids)
        assert commands.names == ["find"]
        store.collection.drop()
    finally:
        client.close()
