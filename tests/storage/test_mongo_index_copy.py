"""The indexes the migration recreates on the copy, and the one it reads through
(services/storage/mongo_index_copy.py): listIndexes entries as MongoDB 7.0/8.0 return
them (the shape pymongo's index_information() is built from), the createIndexes
command built from each, and that command on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bson import ObjectId
from mockupdb import OpMsg, go

from services.domain.errors import DependencyUnavailable
from services.storage.mongo_index_copy import (
    UncopyableIndex,
    index_copy,
    indexes_to_copy,
    player_id_order_index,
)
from services.storage.mongo_migration import Migration
from services.storage.mongo_store import mongo_client
from tests.mockupdb_server import ID_INDEX, PLAYER_ID_INDEX, reply_indexes, running_mockupdb

# As MongoDB lists a text index: the internal key, the fields in `weights`.
TEXT = {
    "v": 2,
    "key": {"_fts": "text", "_ftsx": 1},
    "name": "bio_text_nickname_text",
    "weights": {"bio": 1, "nickname": 5},
    "default_language": "english",
    "language_override": "language",
    "textIndexVersion": 3,
}
# A compound text index: a prefix field before the text part, a suffix field after it.
COMPOUND_TEXT = {
    "v": 2,
    "key": {"country": 1, "_fts": "text", "_ftsx": 1, "level": -1},
    "name": "country_1_bio_text_level_-1",
    "weights": {"bio": 1},
    "default_language": "none",
    "language_override": "lang",
    "textIndexVersion": 3,
}
WILDCARD_TEXT = {
    "v": 2,
    "key": {"_fts": "text", "_ftsx": 1},
    "name": "$**_text",
    "weights": {"$**": 1},
    "default_language": "english",
    "language_override": "language",
    "textIndexVersion": 3,
}
SPHERE = {"v": 2, "key": {"home": "2dsphere"}, "name": "home_2dsphere", "2dsphereIndexVersion": 3}
WILDCARD = {
    "v": 2,
    "key": {"custom.$**": 1},
    "name": "custom.$**_1",
    "wildcardProjection": {"custom.secret": 0},
}
HIDDEN_PARTIAL = {
    "v": 2,
    "key": {"level": -1},
    "name": "level_-1",
    "hidden": True,
    "partialFilterExpression": {"level": {"$gt": 5}},
}
TTL = {"v": 2, "key": {"last_seen": 1}, "name": "last_seen_1", "expireAfterSeconds": 86400}
COLLATED = {
    "v": 2,
    "key": {"nickname": 1},
    "name": "nickname_1",
    "collation": {
        "locale": "fr",
        "caseLevel": False,
        "caseFirst": "off",
        "strength": 2,
        "numericOrdering": False,
        "alternate": "non-ignorable",
        "maxVariable": "punct",
        "normalization": False,
        "backwards": False,
        "version": "57.1",
    },
}


@pytest.mark.parametrize(
    ("listed", "created"),
    [
        (TEXT, {"key": {"bio": "text", "nickname": "text"}, "weights": {"bio": 1, "nickname": 5},
                "default_language": "english", "language_override": "language",
                "textIndexVersion": 3}),
        (COMPOUND_TEXT, {"key": {"country": 1, "bio": "text", "level": -1},
                         "weights": {"bio": 1}, "default_language": "none",
                         "language_override": "lang", "textIndexVersion": 3}),
        (WILDCARD_TEXT, {"key": {"$**": "text"}, "weights": {"$**": 1},
                         "default_language": "english", "language_override": "language",
                         "textIndexVersion": 3}),
        (SPHERE, {"key": {"home": "2dsphere"}, "2dsphereIndexVersion": 3}),
        (WILDCARD, {"key": {"custom.$**": 1}, "wildcardProjection": {"custom.secret": 0}}),
        (HIDDEN_PARTIAL, {"key": {"level": -1}, "hidden": True,
                          "partialFilterExpression": {"level": {"$gt": 5}}}),
        (TTL, {"key": {"last_seen": 1}, "expireAfterSeconds": 86400}),
        (COLLATED, {"key": {"nickname": 1}, "collation": COLLATED["collation"]}),
        # The legacy mongo shell sent 1 and -1 as doubles; pymongo takes integers.
        ({"v": 1, "key": {"country": 1.0, "level": -1.0}, "name": "country_1_level_-1",
          "ns": "game.profiles", "background": True},
         {"key": {"country": 1, "level": -1}}),
    ],
)  # fmt: skip
def test_each_index_is_created_as_create_index_takes_it(
    listed: dict[str, Any], created: dict[str, Any]
) -> None:
    copy = index_copy(listed)

    assert copy.model.document == {"name": listed["name"], **created}
    assert list(copy.model.document["key"].items()) == list(created["key"].items())
    assert copy.left_out == ()


def test_a_listed_field_create_index_does_not_take_is_left_out_and_named() -> None:
    copy = index_copy({**TTL, "someFutureField": True})

    assert copy.left_out == ("someFutureField",)
    assert "someFutureField" not in copy.model.document


def test_the_id_index_and_the_unique_player_id_one_are_not_copied() -> None:
    clustered = {"v": 2, "key": {"_id": 1}, "name": "by_id", "unique": True, "clustered": True}
    plain_player_id = {"v": 2, "key": {"player_id": 1}, "name": "player_id_1"}

    copies = indexes_to_copy([ID_INDEX, clustered, PLAYER_ID_INDEX, plain_player_id, TEXT])

    assert [copy.name for copy in copies] == ["player_id_1", "bio_text_nickname_text"]


def test_a_text_index_listed_without_weights_is_named() -> None:
    with pytest.raises(UncopyableIndex, match="text index 'broken' is listed without the weights"):
        index_copy({"v": 2, "key": {"_fts": "text", "_ftsx": 1}, "name": "broken"})


@pytest.mark.parametrize(
    ("indexes", "found"),
    [
        ([ID_INDEX, PLAYER_ID_INDEX], "player_id_1"),
        ([{"key": {"player_id": -1}, "name": "desc"}], "desc"),
        ([{"key": {"player_id": 1.0, "level": 1}, "name": "compound"}], "compound"),
        ([{"key": {"player_id": 1}, "name": "sparse", "sparse": True}], "sparse"),
        ([{"key": {"player_id": 1}, "name": "c", "collation": {"locale": "simple"}}], "c"),
        ([ID_INDEX], None),
        ([{"key": {"level": 1, "player_id": 1}, "name": "second"}], None),
        ([{"key": {"player_id": "hashed"}, "name": "hashed"}], None),
        ([{"key": {"player_id": 1}, "name": "p", "partialFilterExpression": {"x": 1}}], None),
        ([{"key": {"player_id": 1}, "name": "h", "hidden": True}], None),
        ([{"key": {"player_id": 1}, "name": "fr", "collation": {"locale": "fr"}}], None),
    ],
)
def test_the_index_the_copy_reads_player_ids_in_order_through(
    indexes: list[dict[str, Any]], found: str | None
) -> None:
    assert player_id_order_index(indexes) == found


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


def test_on_the_wire_the_create_indexes_command_recreates_text_and_other_indexes(
    server: Any,
) -> None:
    client = mongo_client(server.uri, server_selection_timeout=5.0, operation_timeout=5.0)
    migration = Migration(client.game, "profiles")
    future = go(migration.run, lambda _: None)
    listed = [ID_INDEX, PLAYER_ID_INDEX, TEXT, SPHERE, WILDCARD]
    try:
        server.receives(OpMsg("listCollections")).ok(
            cursor={"id": 0, "ns": "game.$cmd.listCollections",
                    "firstBatch": [{"name": "profiles", "type": "collection"}]}
        )  # fmt: skip
        reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), listed)
        server.receives(OpMsg("find", "profiles")).ok(
            cursor={"id": 0, "ns": "game.profiles", "firstBatch": [{"_id": ObjectId()}]}
        )
        reply_indexes(server.receives(OpMsg("listIndexes", "profiles")), listed)
        server.receives(OpMsg("listIndexes", "profiles_migrating")).command_err(
            code=26, errmsg="ns does not exist: game.profiles_migrating"
        )
        create = server.receives(OpMsg("createIndexes", "profiles_migrating"))
        assert create["indexes"] == [
            {"name": "bio_text_nickname_text", "key": {"bio": "text", "nickname": "text"},
             "weights": {"bio": 1, "nickname": 5}, "default_language": "english",
             "language_override": "language", "textIndexVersion": 3},
            {"name": "home_2dsphere", "key": {"home": "2dsphere"}, "2dsphereIndexVersion": 3},
            {"name": "custom.$**_1", "key": {"custom.$**": 1},
             "wildcardProjection": {"custom.secret": 0}},
        ]  # fmt: skip
        create.command_err(code=67, errmsg="scripted: stop here")
        with pytest.raises(DependencyUnavailable, match="create the indexes on the copy"):
            future()
        assert migration.phase == "indexes"
    finally:
        client.close()
