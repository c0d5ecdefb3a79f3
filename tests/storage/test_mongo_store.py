"""The queries MongoProfileStore sends, checked on mongomock, and its error mapping.

Every single-player operation filters on `_id` alone (the player id), so a cluster
sharded on `{_id: "hashed"}` sends it to one shard; test_mongo_wire.py shows the same
on the wire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import mongomock
import pytest
from pymongo import ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    InvalidOperation,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from services.domain.errors import (
    DependencyTimeout,
    DependencyUnavailable,
    InvalidInput,
    ProfileAlreadyExists,
    StoredProfileCorrupt,
)
from services.domain.profile import Profile
from services.domain.profile_json import profile_to_document
from services.storage.mongo_errors import mongo_errors
from services.storage.mongo_store import MongoProfileStore
from tests.storage.conftest import mongomock_store
from tests.storage.contract import PLAYER, player, sample


class Recorder:
    """Passes every call through to the collection and remembers it."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._collection, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return target(*args, **kwargs)

        return call

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def collection() -> Any:
    return mongomock.MongoClient(tz_aware=True).profilematcher.profiles


@pytest.fixture
def recorded(collection: Any) -> tuple[MongoProfileStore, Recorder]:
    recorder = Recorder(collection)
    store = MongoProfileStore(recorder)  # type: ignore[arg-type]
    store.check_layout()
    store.create(sample())
    recorder.calls.clear()
    return store, recorder


def test_documents_are_keyed_by_player_id_with_native_dates(collection: Any) -> None:
    store = MongoProfileStore(collection)
    store.create(sample())

    raw = collection.find_one({"_id": PLAYER})
    # The player id is the key, and stays a field beside it (conditions may read it).
    assert (raw["_id"], raw["player_id"]) == (PLAYER, PLAYER)
    assert raw["created"] == datetime(2021, 1, 10, 13, 37, 17, tzinfo=UTC)
    assert raw["_customfield"] == "mycustom"
    assert "custom_fields" not in raw
    assert store.get(PLAYER) == sample()
    # MongoDB's own `_id` index is the only one: none of ours on any write.
    assert list(collection.index_information()) == ["_id_"]


def test_a_taken_id_is_a_duplicate_id_without_any_index_of_ours(collection: Any) -> None:
    store = MongoProfileStore(collection)
    store.create(sample())

    with pytest.raises(ProfileAlreadyExists):
        store.create(player(PLAYER, level=99))
    assert collection.count_documents({}) == 1


def test_reads_filter_on_the_id_only(recorded: tuple[MongoProfileStore, Recorder]) -> None:
    store, recorder = recorded

    store.get(PLAYER)
    store.get_many([PLAYER, "other", PLAYER])
    store.get_many([PLAYER, PLAYER])

    (_, get_args, get_kwargs), (_, many_args, many_kwargs), (_, one_args, _) = recorder.calls
    assert recorder.names() == ["find_one", "find", "find_one"]
    assert get_args == one_args == ({"_id": PLAYER},)
    assert get_kwargs == {}
    assert many_args == ({"_id": {"$in": [PLAYER, "other"]}},)
    # A limit closes the cursor in the first batch (see test_mongo_wire.py).
    assert many_kwargs == {"limit": 2, "batch_size": 2}


def test_create_and_delete_use_the_id(recorded: tuple[MongoProfileStore, Recorder]) -> None:
    store, recorder = recorded

    store.create(player("fresh"))
    assert store.delete("fresh") is True

    (_, insert_args, _), (_, delete_args, _) = recorder.calls
    assert recorder.names() == ["insert_one", "delete_one"]
    assert insert_args == ({"_id": "fresh", **profile_to_document(player("fresh"))},)
    assert delete_args == ({"_id": "fresh"},)


def _stored_under_another_key(collection: Any) -> None:
    collection.insert_one({**profile_to_document(player("b", level=2)), "_id": "a"})


def test_a_document_whose_player_id_is_not_its_id_is_corrupt(collection: Any) -> None:
    # Another writer's mistake: it is never answered under the id asked for.
    _stored_under_another_key(collection)
    store = MongoProfileStore(collection)
    store.create(player("c"))

    with pytest.raises(StoredProfileCorrupt, match="player 'a': its player_id 'b' is not its _id"):
        store.get("a")
    found = store.get_many(["a", "c"])
    assert isinstance(found["a"], StoredProfileCorrupt)
    assert found["c"] == player("c")
    assert "b" not in found
    with pytest.raises(StoredProfileCorrupt):
        store.update_fields("a", {"level": 3})
    assert collection.find_one({"_id": "a"})["level"] == 2


def test_set_active_campaigns_is_one_unordered_bulk_of_single_field_sets(
    recorded: tuple[MongoProfileStore, Recorder],
) -> None:
    store, recorder = recorded

    store.set_active_campaigns({PLAYER: ("a", "b"), "other": []})

    # One write and no read: nothing else of the profile is read back or rewritten.
    assert recorder.names() == ["bulk_write"]
    (_, args, kwargs) = recorder.calls[0]
    assert args == (
        [
            UpdateOne({"_id": PLAYER}, {"$set": {"active_campaigns": ["a", "b"]}}),
            UpdateOne({"_id": "other"}, {"$set": {"active_campaigns": []}}),
        ],
    )
    assert kwargs == {"ordered": False}


def test_update_fields_sets_and_unsets_only_the_named_fields(
    recorded: tuple[MongoProfileStore, Recorder],
) -> None:
    store, recorder = recorded

    store.update_fields(
        PLAYER, {"level": 5.0, "modified": "2022-01-25 00:00:00Z", "gender": None}, ["_customfield"]
    )

    assert recorder.names() == ["find_one", "find_one_and_update"]
    _, args, kwargs = recorder.calls[1]
    update: Any = args[1]
    assert type(update["$set"]["level"]) is int
    assert args == (
        {"_id": PLAYER},
        {
            # Canonical values: an int level, a real date for the time given as text.
            "$set": {"level": 5, "modified": datetime(2022, 1, 25, tzinfo=UTC)},
            "$unset": {"_customfield": "", "gender": ""},
        },
    )
    assert recorder.calls[0][1] == ({"_id": PLAYER},)
    assert kwargs == {"return_document": ReturnDocument.AFTER}


def test_invalid_update_sends_no_write(recorded: tuple[MongoProfileStore, Recorder]) -> None:
    store, recorder = recorded

    with pytest.raises(InvalidInput):
        store.update_fields(PLAYER, {"level": 1, "xp": -0.5})

    assert recorder.names() == ["find_one"]


def test_upsert_replaces_by_id_and_reports_creation(
    recorded: tuple[MongoProfileStore, Recorder],
) -> None:
    store, recorder = recorded

    assert store.upsert(player("fresh")) is True
    assert store.upsert_many([player("fresh", level=9), player("newer")]) == 1

    assert recorder.names() == ["replace_one", "bulk_write"]
    assert recorder.calls[0][1] == ({"_id": "fresh"}, keyed(player("fresh")))
    _, args, kwargs = recorder.calls[1]
    assert args == (
        [
            ReplaceOne({"_id": "fresh"}, keyed(player("fresh", level=9)), upsert=True),
            ReplaceOne({"_id": "newer"}, keyed(player("newer")), upsert=True),
        ],
    )
    assert kwargs == {"ordered": False}


def keyed(profile: Profile) -> dict[str, Any]:
    return {"_id": profile.player_id, **profile_to_document(profile)}


def test_collection_of_a_client_without_tz_aware_still_reads_times() -> None:
    store = MongoProfileStore(mongomock.MongoClient().db.profiles)
    store.create(sample())

    assert store.get(PLAYER) == sample()


def test_close_closes_only_an_owned_client() -> None:
    shared = mongomock_store()
    shared.close()
    shared.ping()  # the client belongs to someone else and is still usable

    closed: list[bool] = []
    client: Any = mongomock.MongoClient()
    client.close = lambda: closed.append(True)
    MongoProfileStore.from_client(client, owns_client=True).close()
    assert closed == [True]


def test_from_client_uses_the_default_names() -> None:
    store = MongoProfileStore.from_client(mongomock.MongoClient())
    assert store.collection.full_name == "profilematcher.profiles"


def test_create_maps_any_duplicate_key_error(collection: Any) -> None:
    store = MongoProfileStore(collection)

    def duplicate(*_: Any, **__: Any) -> Any:
        raise DuplicateKeyError("E11000 duplicate key error", 11000)

    collection.insert_one = duplicate
    with pytest.raises(ProfileAlreadyExists):
        store.create(sample())


# --- the one error-mapping helper ------------------------------------------------------

SECRET = "s3cr3t-pw"


def _raise(exc: BaseException) -> Callable[[], None]:
    def run() -> None:
        with mongo_errors("read a profile"):
            raise exc

    return run


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NetworkTimeout("timed out"), DependencyTimeout),
        (ExecutionTimeout("operation exceeded time limit", 50), DependencyTimeout),
        (WTimeoutError("waiting for replication timed out", 64), DependencyTimeout),
        (OperationFailure("MaxTimeMSExpired", 50), DependencyTimeout),
        (
            ServerSelectionTimeoutError(f"mongodb://app:{SECRET}@db:27017 refused"),
            DependencyUnavailable,
        ),
        (AutoReconnect("connection reset"), DependencyUnavailable),
        (
            ConnectionFailure(f"could not connect to mongodb://app:{SECRET}@db"),
            DependencyUnavailable,
        ),
        (OperationFailure("not authorized on profilematcher", 13), DependencyUnavailable),
        (BulkWriteError({"writeErrors": [{"code": 2, "errmsg": "bad"}]}), DependencyUnavailable),
        (ConfigurationError("wire version too old"), DependencyUnavailable),
        (InvalidOperation("cannot use MongoClient after close"), DependencyUnavailable),
        (OverflowError("MongoDB can only handle up to 8-byte ints"), InvalidInput),
    ],
)
def test_mongo_errors_maps_each_driver_error(
    error: BaseException, expected: type[Exception]
) -> None:
    with pytest.raises(expected) as err:
        _raise(error)()

    assert type(err.value) is expected
    assert SECRET not in str(err.value)
    if expected is not InvalidInput:
        assert "read a profile" in str(err.value)


def test_server_selection_timeout_is_unavailable_not_a_timeout() -> None:
    # ServerSelectionTimeoutError.timeout is True, yet nobody answering is an outage.
    with pytest.raises(DependencyUnavailable) as err:
        _raise(ServerSelectionTimeoutError("no servers found"))()
    assert not isinstance(err.value, DependencyTimeout)


def test_operation_failure_message_is_the_server_errmsg() -> None:
    error = OperationFailure(
        "boom", 13, {"ok": 0, "errmsg": "not authorized on profilematcher", "code": 13}
    )
    with pytest.raises(DependencyUnavailable) as err:
        _raise(error)()
    assert str(err.value) == (
        "MongoDB refused to read a profile: not authorized on profilematcher (code 13)"
    )


def test_domain_errors_pass_through_unchanged() -> None:
    with pytest.raises(ProfileAlreadyExists):
        _raise(ProfileAlreadyExists("p"))()
