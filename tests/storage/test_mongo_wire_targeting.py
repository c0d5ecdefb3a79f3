"""On the wire (real pymongo, MockupDB playing the server): every single-player
operation filters on `_id` alone, so a cluster sharded on `{_id: "hashed"}` routes it
to one shard; and the start-up layout check reads what a real server answers.

test_mongo_wire.py covers get and set_active_campaigns the same way, and the errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from bson import ObjectId
from mockupdb import OpMsg, go

from services.domain.profile_json import profile_to_document
from services.storage.mongo_layout import StoreLayoutError
from services.storage.mongo_store import MongoProfileStore, mongo_client
from tests.mockupdb_server import ID_INDEX, PLAYER_ID_INDEX, reply_indexes, running_mockupdb
from tests.storage.contract import player

NS = "profilematcher.profiles"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


@pytest.fixture
def store(server: Any) -> Iterator[MongoProfileStore]:
    client = mongo_client(server.uri, server_selection_timeout=1.0, operation_timeout=2.0)
    store = MongoProfileStore(client["profilematcher"]["profiles"], owns_client=True)
    yield store
    store.close()


def stored(player_id: str, **changes: Any) -> dict[str, Any]:
    return {"_id": player_id, **profile_to_document(player(player_id, **changes))}


def batch(*docs: dict[str, Any]) -> dict[str, Any]:
    return {"id": 0, "ns": NS, "firstBatch": list(docs)}


def test_get_many_finds_by_id_in(server: Any, store: MongoProfileStore) -> None:
    future = go(store.get_many, ["a", "b", "a"])

    request = server.receives(OpMsg("find", "profiles"))
    assert request["filter"] == {"_id": {"$in": ["a", "b"]}}
    request.ok(cursor=batch(stored("b", level=2)))
    found = future()
    assert list(found) == ["b"]
    assert found["b"] == player("b", level=2)


@pytest.mark.parametrize("read", ["get_many", "read_for_serving"])
def test_one_player_is_a_find_by_id(server: Any, store: MongoProfileStore, read: str) -> None:
    future = go(getattr(store, read), ["a"])

    request = server.receives(OpMsg("find", "profiles"))
    assert request["filter"] == {"_id": "a"}
    request.ok(cursor=batch(stored("a")))
    assert list(future()) == ["a"]


def test_create_inserts_the_document_keyed_by_player_id(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.create, player("a"))

    request = server.receives(OpMsg("insert", "profiles"))
    (document,) = request["documents"]
    assert (document["_id"], document["player_id"]) == ("a", "a")
    assert next(iter(document)) == "_id"
    request.ok(n=1)
    future()


def test_upsert_replaces_by_id(server: Any, store: MongoProfileStore) -> None:
    future = go(store.upsert, player("a", level=4))

    request = server.receives(OpMsg("update", "profiles"))
    (update,) = request["updates"]
    assert update["q"] == {"_id": "a"}
    assert update["upsert"] is True
    assert (update["u"]["_id"], update["u"]["level"]) == ("a", 4)
    request.ok(n=1, nModified=0, upserted=[{"index": 0, "_id": "a"}])
    assert future() is True


def test_upsert_many_replaces_each_by_id(server: Any, store: MongoProfileStore) -> None:
    future = go(store.upsert_many, [player("a"), player("b"), player("a", level=9)])

    request = server.receives(OpMsg("update", "profiles"))
    assert request["ordered"] is False
    assert [(u["q"], u["upsert"], u["u"]["level"]) for u in request["updates"]] == [
        ({"_id": "a"}, True, 9),
        ({"_id": "b"}, True, 3),
    ]
    request.ok(n=2, nModified=0, upserted=[{"index": 1, "_id": "b"}])
    assert future() == 1


def test_update_reads_and_writes_by_id(server: Any, store: MongoProfileStore) -> None:
    future = go(store.update_fields, "a", {"level": 7}, ["_customfield"])

    read = server.receives(OpMsg("find", "profiles"))
    assert read["filter"] == {"_id": "a"}
    read.ok(cursor=batch(stored("a")))
    write = server.receives(OpMsg("findAndModify", "profiles"))
    assert write["query"] == {"_id": "a"}
    assert write["update"] == {"$set": {"level": 7}, "$unset": {"_customfield": ""}}
    after = stored("a", level=7)
    del after["_customfield"]
    write.ok(value=after)
    assert future().level == 7


def test_delete_deletes_by_id(server: Any, store: MongoProfileStore) -> None:
    future = go(store.delete, "a")

    request = server.receives(OpMsg("delete", "profiles"))
    assert [(d["q"], d["limit"]) for d in request["deletes"]] == [({"_id": "a"}, 1)]
    request.ok(n=1)
    assert future() is True


# --- the layout check at start-up ---------------------------------------------------


def answer_probe(server: Any, *docs: dict[str, Any]) -> None:
    probe = server.receives(OpMsg("find", "profiles"))
    assert probe["filter"] == {"_id": {"$type": "objectId"}}
    assert probe["limit"] == 1
    probe.ok(cursor=batch(*docs))


def assert_next_command_is_a_ping(server: Any, store: MongoProfileStore) -> None:
    ping = go(store.ping)
    server.receives(OpMsg("ping")).ok()
    ping()


def test_a_collection_not_yet_created_is_the_new_layout(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.check_layout)

    # What a server answers for a collection that does not exist; pymongo reads it
    # as no indexes.
    server.receives(OpMsg("listIndexes", "profiles")).replies(
        {"ok": 0, "errmsg": "ns does not exist: profilematcher.profiles", "code": 26}
    )
    answer_probe(server)
    future()
    assert_next_command_is_a_ping(server, store)


def test_documents_keyed_by_player_id_are_the_new_layout(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.check_layout)

    listing = server.receives(OpMsg("listIndexes", "profiles"))
    # An ordinary call, under the operation timeout: nothing is built any more.
    assert listing["maxTimeMS"] <= 2000
    reply_indexes(listing, [ID_INDEX, {"v": 2, "key": {"country": 1}, "name": "country_1"}])
    answer_probe(server)
    future()
    assert_next_command_is_a_ping(server, store)


@pytest.mark.parametrize(
    "indexes", [[ID_INDEX, PLAYER_ID_INDEX], [ID_INDEX]], ids=["with-index", "index-dropped"]
)
def test_objectid_documents_are_the_previous_layout(
    server: Any, store: MongoProfileStore, indexes: list[dict[str, Any]]
) -> None:
    future = go(store.check_layout)

    reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), indexes)
    answer_probe(server, {"_id": ObjectId("5f1d7a1f9b1e8b3a2c4d5e6f")})
    with pytest.raises(StoreLayoutError) as err:
        future()
    message = str(err.value)
    assert "profilematcher.profiles is in the previous layout" in message
    assert "documents with an ObjectId _id" in message
    assert "run `profile-matcher migrate-store --store <the same URI>`" in message


def test_the_unique_index_beside_other_keys_is_the_previous_layout(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.check_layout)

    reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), [ID_INDEX, PLAYER_ID_INDEX])
    answer_probe(server)
    sample = server.receives(OpMsg("find", "profiles"))
    assert sample["filter"] == {}
    assert sample["projection"] == {"_id": 1, "player_id": 1}
    sample.ok(cursor=batch({"_id": 17, "player_id": "a"}))
    with pytest.raises(StoreLayoutError, match=r"whose _id is 17 \(int\), not its player_id"):
        future()


def test_a_leftover_unique_index_is_served_with_a_warning(
    server: Any, store: MongoProfileStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.storage.mongo_store")
    future = go(store.check_layout)

    reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), [ID_INDEX, PLAYER_ID_INDEX])
    answer_probe(server)
    server.receives(OpMsg("find", "profiles")).ok(cursor=batch({"_id": "a", "player_id": "a"}))
    future()
    assert "dropIndex('player_id_1')" in caplog.text
    assert_next_command_is_a_ping(server, store)
