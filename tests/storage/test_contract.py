"""The ProfileStore contract on SQLite (memory and file) and on MongoDB via mongomock."""

from __future__ import annotations

import pytest

from services.storage.mongo_store import MongoProfileStore
from services.storage.sqlite_store import SQLiteProfileStore
from tests.storage.contract import ProfileStoreContract


class TestContract(ProfileStoreContract):
    @pytest.fixture
    def store(
        self, any_store: SQLiteProfileStore | MongoProfileStore
    ) -> SQLiteProfileStore | MongoProfileStore:
        return any_store
