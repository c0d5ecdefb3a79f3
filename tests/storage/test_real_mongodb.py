"""The ProfileStore contract against a real MongoDB server, when one is configured.

Set PROFILE_MATCHER_TEST_MONGODB_URI (e.g. mongodb://localhost:27017) to run it. Each
run works in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from services.storage.mongo_store import MongoProfileStore, mongo_client
from tests.storage.contract import ProfileStoreContract

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
