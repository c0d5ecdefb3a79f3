"""MongoProfileStore on the wire: real pymongo talking to MockupDB, a scripted server.

The server is tests/mockupdb_server.py's (a handshake pymongo 4.20 accepts).
Each blocking store call runs on a thread (mockupdb's `go`) while the test plays
the server's part.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import Binary, Decimal128, Int64, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from mockupdb import OpMsg, go

from services.domain.errors import (
    DependencyTimeout,
    DependencyUnavailable,
    InvalidInput,
    ProfileAlreadyExists,
)
from services.domain.profile import Profile
from services.domain.profile_json import profile_to_document
from services.storage.mongo_store import MongoProfileStore, mongo_client
from tests.mockupdb_server import ScriptedProfiles, running_mockupdb
from tests.storage.contract import PLAYER, player, sample

SELECTION_TIMEOUT = 0.5
OPERATION_TIMEOUT = 1.0
# pymongo 4.20 waits for a usable server for the operation's remaining time (timeoutMS,
# or a pymongo.timeout block) rather than serverSelectionTimeoutMS, so an outage shows
# after the operation timeout. Slack on top of it for a loaded machine.
OUTAGE_REPORTED_WITHIN = OPERATION_TIMEOUT + 5


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from running_mockupdb(monkeypatch)


def _store(uri: str) -> MongoProfileStore:
    client = mongo_client(
        uri, server_selection_timeout=SELECTION_TIMEOUT, operation_timeout=OPERATION_TIMEOUT
    )
    return MongoProfileStore(client["profilematcher"]["profiles"], owns_client=True)


@pytest.fixture
def store(server: Any) -> Iterator[MongoProfileStore]:
    store = _store(server.uri)
    yield store
    store.close()


def test_get_sends_a_find_on_the_id_alone(server: Any, store: MongoProfileStore) -> None:
    future = go(store.get, PLAYER)

    request = server.receives(OpMsg("find", "profiles"))
    assert request["filter"] == {"_id": PLAYER}
    assert "projection" not in request  # `_id` is read, to check it is the player_id
    request.ok(cursor={"id": 0, "ns": "profilematcher.profiles", "firstBatch": [sample_document()]})
    assert future() == sample()


def sample_document() -> dict[str, Any]:
    return {"_id": PLAYER, **profile_to_document(sample())}


def test_set_active_campaigns_sends_single_field_updates(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.set_active_campaigns, {PLAYER: ["a"], "other": []})

    request = server.receives(OpMsg("update", "profiles"))
    assert request["ordered"] is False
    assert [(u["q"], u["u"]) for u in request["updates"]] == [
        ({"_id": PLAYER}, {"$set": {"active_campaigns": ["a"]}}),
        ({"_id": "other"}, {"$set": {"active_campaigns": []}}),
    ]
    assert not any(u.get("upsert") for u in request["updates"])
    request.ok(n=1, nModified=1)
    future()


def test_error_reply_is_unavailable_with_the_server_message(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.get, PLAYER)

    server.receives(OpMsg("find", "profiles")).replies(
        {"ok": 0, "errmsg": "not authorized on profilematcher to execute command", "code": 13}
    )
    with pytest.raises(DependencyUnavailable) as err:
        future()
    assert not isinstance(err.value, DependencyTimeout)
    assert str(err.value) == (
        "MongoDB refused to read a profile:"
        " not authorized on profilematcher to execute command (code 13)"
    )


def test_max_time_expired_reply_is_a_timeout(server: Any, store: MongoProfileStore) -> None:
    future = go(store.get, PLAYER)

    server.receives(OpMsg("find", "profiles")).replies(
        {"ok": 0, "errmsg": "operation exceeded time limit", "code": 50}
    )
    with pytest.raises(DependencyTimeout):
        future()


def test_duplicate_key_write_error_is_profile_already_exists(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.create, sample())

    request = server.receives(OpMsg("insert", "profiles"))
    # A BSON date, not text (mockupdb decodes dates as naive UTC).
    assert request["documents"][0]["created"] == datetime(2021, 1, 10, 13, 37, 17)
    request.ok(
        n=0,
        writeErrors=[{"index": 0, "code": 11000, "errmsg": "E11000 duplicate key error"}],
    )
    with pytest.raises(ProfileAlreadyExists):
        future()


def test_bulk_write_error_is_unavailable(server: Any, store: MongoProfileStore) -> None:
    future = go(store.set_active_campaigns, {PLAYER: ["a"]})

    server.receives(OpMsg("update", "profiles")).ok(
        n=0,
        nModified=0,
        writeErrors=[{"index": 0, "code": 121, "errmsg": "Document failed validation"}],
    )
    with pytest.raises(DependencyUnavailable, match="Document failed validation"):
        future()


def test_server_that_never_answers_times_out_at_the_deadline(
    server: Any, store: MongoProfileStore
) -> None:
    started = time.monotonic()
    future = go(store.get, PLAYER, timeout=0.5)

    server.receives(OpMsg("find", "profiles"))  # ...and never replies
    with pytest.raises(DependencyTimeout):
        future(timeout=10)
    assert time.monotonic() - started < 3


def test_stopped_server_is_unavailable_within_the_operation_timeout(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.ping)
    server.receives(OpMsg("ping")).ok()
    future()

    server.stop()
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as err:
        store.get(PLAYER)
    assert time.monotonic() - started < OUTAGE_REPORTED_WITHIN
    assert not isinstance(err.value, DependencyTimeout)


def test_closed_port_is_unavailable_within_the_operation_timeout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = _store(f"mongodb://app:pw-not-shown@127.0.0.1:{port}/?directConnection=true")
    try:
        started = time.monotonic()
        with pytest.raises(DependencyUnavailable) as err:
            store.get(PLAYER)
        assert time.monotonic() - started < OUTAGE_REPORTED_WITHIN
        assert not isinstance(err.value, DependencyTimeout)
        assert "read a profile" in str(err.value)
        assert "pw-not-shown" not in str(err.value)
    finally:
        store.close()


def test_value_bson_cannot_hold_is_invalid_input_and_never_sent(
    server: Any, store: MongoProfileStore
) -> None:
    with pytest.raises(InvalidInput, match="cannot be stored in MongoDB"):
        store.create(player("big", custom_fields={"_huge": 2**70}))

    future = go(store.ping)
    # The next thing the server sees is the ping: no insert went out before it.
    server.receives(OpMsg("ping")).ok()
    future()


def test_the_scripted_server_leaves_a_cursor_open_on_an_exactly_full_batch(
    server: Any, store: MongoProfileStore
) -> None:
    # What a real server does, and why a read must not ask for a bare batch size.
    scripted = ScriptedProfiles(server, [player_document(f"p{i}") for i in range(2)])

    found = list(store.collection.find({"_id": {"$in": ["p0", "p1"]}}, batch_size=2))

    assert len(found) == 2
    assert scripted.commands == ["find", "getMore"]


@pytest.mark.parametrize("count", [1, 3, 150])
def test_reading_players_is_one_find_and_no_get_more(
    server: Any, store: MongoProfileStore, count: int
) -> None:
    ids = [f"p{i}" for i in range(count)]
    scripted = ScriptedProfiles(server, [player_document(pid) for pid in ids])

    found = store.read_for_serving(ids)

    assert sorted(found) == sorted(ids)
    assert scripted.commands == ["find"]


def player_document(player_id: str) -> dict[str, Any]:
    return {"_id": player_id, **profile_to_document(player(player_id, level=3))}


OID = ObjectId("5f1d7a1f9b1e8b3a2c4d5e6f")
BSON_CUSTOM_FIELDS: dict[str, Any] = {
    "_oid": OID,
    "_price": Decimal128("1.10"),
    "_seen": datetime(2021, 1, 10, 13, 37, 17, 123000, tzinfo=UTC),
    "_blob": Binary(b"\x01\x02", 0),
    "_count": Int64(2**62 + 1),
    "_stamp": Timestamp(1_600_000_000, 7),
    "_pattern": Regex("^a", "i"),
    "_ratio": float("nan"),
    "_nested": {"ids": [OID, Int64(5)], "plain": "text"},
}
# Relaxed Extended JSON, as bson.json_util writes it.
BSON_CUSTOM_FIELDS_AS_JSON: dict[str, Any] = {
    "_oid": {"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"},
    "_price": {"$numberDecimal": "1.10"},
    "_seen": {"$date": "2021-01-10T13:37:17.123Z"},
    "_blob": {"$binary": {"base64": "AQI=", "subType": "00"}},
    "_count": 2**62 + 1,
    "_stamp": {"$timestamp": {"t": 1_600_000_000, "i": 7}},
    "_pattern": {"$regularExpression": {"pattern": "^a", "options": "i"}},
    "_ratio": {"$numberDouble": "NaN"},
    "_nested": {"ids": [{"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"}, 5], "plain": "text"},
}


def test_bson_custom_values_are_read_as_relaxed_extended_json(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.get, PLAYER)

    server.receives(OpMsg("find", "profiles")).ok(
        cursor={
            "id": 0,
            "ns": "profilematcher.profiles",
            "firstBatch": [{**sample_document(), **BSON_CUSTOM_FIELDS}],
        }
    )
    got = future()
    assert got is not None
    assert dict(got.custom_fields) == {"_customfield": "mycustom", **BSON_CUSTOM_FIELDS_AS_JSON}
    assert type(got.custom_fields["_count"]) is int


def test_a_date_beyond_what_python_holds_is_read_not_a_failed_read(
    server: Any, store: MongoProfileStore
) -> None:
    future = go(store.get_many, [PLAYER])

    beyond_year_9999 = DatetimeMS(300_000_000_000_000)
    server.receives(OpMsg("find", "profiles")).ok(
        cursor={
            "id": 0,
            "ns": "profilematcher.profiles",
            "firstBatch": [{**sample_document(), "_far": beyond_year_9999}],
        }
    )
    got = future()[PLAYER]
    assert isinstance(got, Profile)
    assert got.custom_fields["_far"] == {"$date": {"$numberLong": "300000000000000"}}


def test_update_sets_only_the_named_field_and_leaves_bson_values_as_they_are(
    server: Any, store: MongoProfileStore
) -> None:
    stored = {**sample_document(), **BSON_CUSTOM_FIELDS}
    future = go(store.update_fields, PLAYER, {"level": 7})

    server.receives(OpMsg("find", "profiles")).ok(
        cursor={"id": 0, "ns": "profilematcher.profiles", "firstBatch": [stored]}
    )
    write = server.receives(OpMsg("findAndModify", "profiles"))
    assert write["update"] == {"$set": {"level": 7}}
    write.ok(value={**stored, "level": 7})

    updated = future()
    assert updated.level == 7
    assert updated.custom_fields["_oid"] == {"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"}
