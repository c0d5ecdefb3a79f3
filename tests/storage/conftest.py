"""Fixtures for the store tests: every backend behind one `any_store` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mongomock
import pytest

from services.storage.mongo_store import MongoProfileStore
from services.storage.sqlite_store import SQLiteProfileStore


def mongomock_store() -> MongoProfileStore:
    store = MongoProfileStore(mongomock.MongoClient(tz_aware=True).profilematcher.profiles)
    store.check_layout()
    return store


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "mongomock"])
def any_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[SQLiteProfileStore | MongoProfileStore]:
    store: SQLiteProfileStore | MongoProfileStore
    if request.param == "sqlite-memory":
        store = SQLiteProfileStore.in_memory()
    elif request.param == "sqlite-file":
        store = SQLiteProfileStore.open(tmp_path / "profiles.sqlite3")
    else:
        store = mongomock_store()
    yield store
    store.close()
