"""open_store picks the backend from one URI; describe_store never shows secrets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from mockupdb import OpMsg, go

from services.domain.errors import DependencyTimeout, DependencyUnavailable
from services.storage.factory import describe_store, open_store
from services.storage.mongo_layout import StoreLayoutError
from services.storage.mongo_store import MongoProfileStore
from services.storage.sqlite_store import SQLiteProfileStore
from tests.mockupdb_server import ID_INDEX, PLAYER_ID_INDEX, reply_indexes, running_mockupdb
from tests.storage.contract import PLAYER, sample

SECRET = "pa55-w0rd"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


@pytest.mark.parametrize("uri", [None, "", ":memory:"])
def test_no_uri_gives_an_in_memory_sqlite_store(uri: str | None) -> None:
    store = open_store(uri)
    try:
        assert isinstance(store, SQLiteProfileStore)
        store.create(sample())
        assert store.get(PLAYER) == sample()
    finally:
        store.close()


def test_a_path_gives_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.db"
    store = open_store(str(path))
    store.create(sample())
    store.close()

    again = open_store(str(path))
    try:
        assert isinstance(again, SQLiteProfileStore)
        assert again.get(PLAYER) == sample()
    finally:
        again.close()


@pytest.mark.parametrize(
    ("path", "database"), [("/game_a", "game_a"), ("/", "profilematcher"), ("", "profilematcher")]
)
def test_mongodb_uri_uses_its_database_and_checks_the_layout(
    server: Any, path: str, database: str
) -> None:
    uri = f"mongodb://{server.address_string}{path}"
    future = go(open_store, uri, timeout=2.0)

    listing = server.receives(OpMsg("listIndexes", "profiles"))
    assert listing.namespace == database
    reply_indexes(listing, [ID_INDEX])
    probe = server.receives(OpMsg("find", "profiles"))
    assert probe["filter"] == {"_id": {"$type": "objectId"}}
    probe.ok(cursor={"id": 0, "ns": f"{database}.profiles", "firstBatch": []})
    store = future()
    try:
        assert isinstance(store, MongoProfileStore)
        assert store.collection.full_name == f"{database}.profiles"
        # Nothing was built: the next command the server sees is the ping.
        ping = go(store.ping)
        server.receives(OpMsg("ping")).ok()
        ping()
    finally:
        store.close()


def test_a_collection_in_the_previous_layout_fails_open_store_naming_the_migration(
    server: Any,
) -> None:
    future = go(open_store, f"mongodb://{server.address_string}/game", timeout=2.0)

    reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), [ID_INDEX, PLAYER_ID_INDEX])
    server.receives(OpMsg("find", "profiles")).ok(
        cursor={"id": 0, "ns": "game.profiles", "firstBatch": [{"_id": ObjectId()}]}
    )
    with pytest.raises(StoreLayoutError) as err:
        future()
    assert isinstance(err.value, ValueError)
    assert "profile-matcher migrate-store --store" in str(err.value)
    assert "game.profiles is in the previous layout" in str(err.value)


def test_unreachable_mongodb_fails_open_store_without_showing_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(DependencyUnavailable) as err:
        open_store(f"mongodb://app:{SECRET}@127.0.0.1:{port}/db", timeout=0.3)

    assert not isinstance(err.value, DependencyTimeout)
    assert "check the collection's layout" in str(err.value)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    "uri",
    [
        f"mongodb://app:{SECRET}",  # no host: pymongo reads the password as a port
        f"mongodb://app:{SECRET}@unescaped@host/db",
        f"mongodb://app:{SECRET}@host/?w=0&journal=true",
        f"mongodb://app:{SECRET}@host:99999/",
    ],
)
def test_malformed_mongodb_uri_is_a_value_error_without_the_password(uri: str) -> None:
    with pytest.raises(ValueError, match="invalid MongoDB URI") as err:
        open_store(uri)
    assert SECRET not in str(err.value)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported") as err:
        open_store(f"postgres://app:{SECRET}@host/db")
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("uri", "description"),
    [
        (None, "in-memory SQLite"),
        ("", "in-memory SQLite"),
        (":memory:", "in-memory SQLite"),
        ("/var/lib/pm/profiles.db", "SQLite file /var/lib/pm/profiles.db"),
        (
            f"mongodb://app:{SECRET}@db1:27017,db2:27018/game?authSource=admin&tls=true",
            "MongoDB mongodb://db1:27017,db2:27018/game",
        ),
        (
            f"mongodb+srv://app:{SECRET}@cluster0.example.net/",
            "MongoDB mongodb+srv://cluster0.example.net/profilematcher",
        ),
        ("mongodb://[::1]:27017", "MongoDB mongodb://[::1]:27017/profilematcher"),
        # Malformed: whatever is not clearly a host list or a name is withheld.
        (f"mongodb://app:{SECRET}", "MongoDB mongodb://<redacted>"),
        (f"mongodb://app:p/{SECRET}@db/x", "MongoDB mongodb://db/x"),
        (
            f"mongodb://db/?appName=a@b&tlsCertificateKeyFilePassword={SECRET}",
            "MongoDB mongodb://<redacted>",
        ),
        (f"postgres://app:{SECRET}@db/x", "unsupported store postgres://<redacted>"),
    ],
)
def test_describe_store(uri: str | None, description: str) -> None:
    assert describe_store(uri) == description
