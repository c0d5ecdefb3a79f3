"""`profile-matcher migrate-store`: its exit codes and messages, over mongomock (the
steps themselves: test_mongo_migration.py), MockupDB and a closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from mockupdb import OpMsg, go
from pymongo.errors import AutoReconnect

from services.cli import main
from services.commands import migrate_store
from services.domain.profile_json import profile_to_document
from tests.mockupdb_server import ID_INDEX, reply_indexes, running_mockupdb
from tests.storage.contract import player

SECRET = "pa55-w0rd"
URI = "mongodb://db.example:27017/game"


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The command's database is a mongomock one; returns it."""
    client: Any = mongomock.MongoClient(tz_aware=True)
    database = client.game

    def mongo_database(uri: str, **_: Any) -> tuple[Any, Any]:
        assert uri == URI
        return client, database

    monkeypatch.setattr(migrate_store, "mongo_database", mongo_database)
    return database


def previous_layout(database: Any, count: int) -> None:
    database.profiles.create_index("player_id", unique=True)
    for i in range(count):
        database.profiles.insert_one(profile_to_document(player(f"p{i:02d}")))


def test_migrates_printing_progress_then_has_nothing_to_do(
    database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    previous_layout(database, 5)

    assert main(["migrate-store", "--store", URI, "--batch", "2"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("copied")] == [
        "copied 2/5",
        "copied 4/5",
        "copied 5/5",
    ]
    assert out[-1].startswith(
        "MongoDB mongodb://db.example:27017/game: migrated 5 profiles: game.profiles keys"
        " profiles by player id; the previous collection is kept as profiles_pre_migration_"
    )
    assert database.profiles.find_one({"_id": "p03"})["player_id"] == "p03"

    assert main(["migrate-store", "--store", URI]) == 0
    assert "game.profiles is already in the new layout" in capsys.readouterr().out


def test_a_failure_mid_copy_is_exit_2_saying_a_rerun_resumes(
    database: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    previous_layout(database, 3)

    def fail(*_: Any, **__: Any) -> Any:
        raise AutoReconnect("connection reset by peer")

    monkeypatch.setattr(mongomock.collection.Collection, "bulk_write", fail)

    assert main(["migrate-store", "--store", URI]) == 2
    err = capsys.readouterr().err
    assert err.startswith("profile-matcher migrate-store: MongoDB mongodb://db.example:27017/game:")
    assert "copy profiles" in err
    assert "nothing was switched: run the same command again to resume the copy" in err
    assert "Traceback" not in err


def test_collections_an_operator_must_look_at_are_exit_1(
    database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    database.profiles.insert_one({"_id": "a", "player_id": "a"})
    database.profiles_migrating.insert_one({"_id": "b", "player_id": "b"})

    assert main(["migrate-store", "--store", URI]) == 1
    assert "compare the two" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--store: give the MongoDB store to migrate"),
        (["--store", "./profiles.db"], "the embedded store needs no migration"),
        (["--store", URI, "--batch", "0"], "--batch: must be at least 1, got 0"),
        (["--store", URI, "--timeout", "0"], "--timeout: must be more than 0 seconds, got 0"),
        (["--store", URI, "--timeout", "nan"], "--timeout: must be more than 0 seconds"),
        (["--store", f"mongodb://app:{SECRET}@host:99999/"], "invalid MongoDB URI"),
    ],
)
def test_bad_arguments_are_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate-store", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert SECRET not in err


def test_an_unreachable_server_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    code = main(["migrate-store", "--store", f"mongodb://app:{SECRET}@127.0.0.1:{port}/game",
                 "--timeout", "0.5"])  # fmt: skip

    assert code == 2
    err = capsys.readouterr().err
    assert "MongoDB unreachable, could not ping the server" in err
    assert SECRET not in err
    assert "Traceback" not in err


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


def test_on_the_wire_a_store_in_the_new_layout_is_found_so_and_left_alone(
    server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    future = go(main, ["migrate-store", "--store", f"mongodb://{server.address_string}/game"])

    server.receives(OpMsg("ping")).ok()
    listing = server.receives(OpMsg("listCollections"))
    assert listing.namespace == "game"
    listing.ok(cursor={"id": 0, "ns": "game.$cmd.listCollections",
                       "firstBatch": [{"name": "profiles", "type": "collection"}]})  # fmt: skip
    reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), [ID_INDEX])
    probe = server.receives(OpMsg("find", "profiles"))
    assert probe["filter"] == {"_id": {"$type": "objectId"}}
    probe.ok(cursor={"id": 0, "ns": "game.profiles", "firstBatch": []})

    assert future() == 0
    assert "game.profiles is already in the new layout" in capsys.readouterr().out
