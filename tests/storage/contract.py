"""What every ProfileStore must do, written once and run against every backend.

A test module subclasses ProfileStoreContract and provides a `store` fixture; the
class name has no `Test` prefix so pytest only collects the subclasses.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_to_message
from services.domain.errors import (
    DependencyTimeout,
    InvalidInput,
    ProfileAlreadyExists,
    ProfileNotFound,
    StoredProfileCorrupt,
)
from services.domain.profile import Profile
from services.domain.profile_json import profile_from_document, profile_to_document
from services.storage.base import BatchProfileStore, ServingStore
from tests.conftest import TEST_DATA

SAMPLE = TEST_DATA / "profile.json"
PLAYER = "97983be2-98b7-11e7-90cf-082e5f28d836"


class Store(ServingStore[profile_pb2.Profile], BatchProfileStore, Protocol):
    """Every port, as each backend provides them."""


def sample() -> Profile:
    return profile_from_document(json.loads(SAMPLE.read_text()))


def player(player_id: str, **changes: Any) -> Profile:
    return dataclasses.replace(sample(), player_id=player_id, **changes)


def only_profiles(found: Mapping[str, Profile | StoredProfileCorrupt]) -> dict[str, Profile]:
    """get_many's answer, checked to hold no corrupt entries."""
    assert all(isinstance(p, Profile) for p in found.values()), found
    return {k: p for k, p in found.items() if isinstance(p, Profile)}


class ProfileStoreContract:
    # --- round trip -------------------------------------------------------------

    def test_sample_profile_round_trips_verbatim(self, store: Store) -> None:
        doc = json.loads(SAMPLE.read_text())
        store.create(profile_from_document(doc))

        got = store.get(PLAYER)

        assert got == profile_from_document(doc)
        assert got is not None
        assert got.custom_fields == {"_customfield": "mycustom"}
        assert got.created == datetime(2021, 1, 10, 13, 37, 17, tzinfo=UTC)
        assert got.birthdate == datetime(2000, 1, 10, 13, 37, 17, tzinfo=UTC)
        assert got.last_purchase == datetime(2021, 1, 22, 13, 37, 17, tzinfo=UTC)
        assert got.inventory["item_55"] == 2
        assert profile_to_document(got) == profile_to_document(profile_from_document(doc))

    def test_sparse_profile_keeps_unset_fields_unset(self, store: Store) -> None:
        store.create(Profile(player_id="sparse"))

        got = store.get("sparse")

        assert got == Profile(player_id="sparse")

    def test_custom_fields_keep_nested_json(self, store: Store) -> None:
        custom = {"_prefs": {"sound": False, "tags": ["a", "b"], "ratio": 0.25, "none": None}}
        store.create(player("custom", custom_fields=custom))

        got = store.get("custom")

        assert got is not None
        assert got.custom_fields == custom

    def test_get_of_unknown_player_is_none(self, store: Store) -> None:
        assert store.get("nobody") is None

    def test_get_refuses_a_malformed_id(self, store: Store) -> None:
        with pytest.raises(InvalidInput) as err:
            store.get("")
        assert err.value.field == "player_id"

    def test_get_refuses_an_operator_in_place_of_an_id(self, store: Store) -> None:
        store.create(sample())
        smuggled: Any = {"$ne": ""}

        with pytest.raises(InvalidInput):
            store.get(smuggled)

    # --- create / upsert ----------------------------------------------------------

    def test_create_of_a_taken_id_fails_and_keeps_the_original(self, store: Store) -> None:
        store.create(sample())

        with pytest.raises(ProfileAlreadyExists) as err:
            store.create(dataclasses.replace(sample(), level=99))

        assert err.value.player_id == PLAYER
        got = store.get(PLAYER)
        assert got is not None
        assert got.level == 3

    def test_upsert_creates_then_replaces_wholly(self, store: Store) -> None:
        assert store.upsert(sample()) is True

        replacement = Profile(player_id=PLAYER, level=7, custom_fields={"_new": 1})
        assert store.upsert(replacement) is False

        assert store.get(PLAYER) == replacement

    def test_upsert_many_counts_created_and_last_repeat_wins(self, store: Store) -> None:
        store.create(player("old", level=1))

        created = store.upsert_many(
            [player("old", level=2), player("new-a", level=3), player("new-a", level=4)]
        )

        assert created == 1
        found = only_profiles(store.get_many(["old", "new-a"]))
        assert {pid: p.level for pid, p in found.items()} == {"old": 2, "new-a": 4}
        assert store.upsert_many([]) == 0

    # --- get_many -------------------------------------------------------------------

    def test_get_many_returns_known_ids_only(self, store: Store) -> None:
        store.create(player("a", level=1))
        store.create(player("b", level=2))

        found = only_profiles(store.get_many(["b", "unknown", "a", "b"]))

        assert set(found) == {"a", "b"}
        assert found["a"].level == 1
        assert found["b"] == player("b", level=2)
        assert store.get_many([]) == {}
        assert store.get_many(["unknown"]) == {}

    def test_get_many_beyond_sqlite_variable_limit_and_first_batch(self, store: Store) -> None:
        # More ids than SQLite's old 999-variable limit and MongoDB's 101-document
        # first batch.
        ids = [f"p{i:05d}" for i in range(1200)]
        store.upsert_many([Profile(player_id=pid, level=i) for i, pid in enumerate(ids)])

        found = only_profiles(store.get_many([*ids, "missing"]))

        assert len(found) == 1200
        assert found["p01199"].level == 1199

    @pytest.mark.parametrize("ids", [["a"], ["b", "unknown", "a"]])
    def test_read_for_serving_gives_get_manys_profiles_as_messages(
        self, store: Store, ids: list[str]
    ) -> None:
        custom = {"_big": 2**62 + 1, "_nested": {"list": [1, "two", None, {}]}}
        store.create(player("a", level=1, custom_fields=custom))
        store.create(Profile(player_id="b"))

        served = store.read_for_serving(ids)
        profiles = only_profiles(store.get_many(ids))

        assert set(served) == set(profiles)
        for player_id, record in served.items():
            assert not isinstance(record, StoredProfileCorrupt)
            profile = profiles[player_id]
            assert record.record == profile_to_message(profile)
            # What matching reads, beside the record: the profile's own fields.
            assert (record.level, record.country) == (profile.level, profile.country)
            assert dict(record.inventory) == profile.inventory
            assert record.active_campaigns == profile.active_campaigns
        # Each record is the caller's: changing one changes nothing stored.
        first = served["a"]
        assert not isinstance(first, StoredProfileCorrupt)
        first.record.active_campaigns.append("changed")
        again = store.read_for_serving(["a"])["a"]
        assert not isinstance(again, StoredProfileCorrupt)
        assert again.record == profile_to_message(player("a", level=1, custom_fields=custom))

    def test_an_empty_device_list_reads_back_as_none(self, store: Store) -> None:
        # As a Profile message, the only form gRPC clients see, carries it.
        store.upsert_many([profile_from_document({"player_id": "d", "devices": []})])
        assert store.get("d") == Profile(player_id="d")

    # --- set_active_campaigns -------------------------------------------------------

    def test_set_active_campaigns_sets_the_lists(self, store: Store) -> None:
        store.create(player("a"))
        store.create(player("b", active_campaigns=("old",)))

        store.set_active_campaigns({"a": ["x", "y"], "b": [], "gone": ["x"]})

        found = only_profiles(store.get_many(["a", "b", "gone"]))
        assert found["a"].active_campaigns == ("x", "y")
        assert found["b"].active_campaigns == ()
        assert "gone" not in found
        store.set_active_campaigns({})

    def test_set_active_campaigns_keeps_a_concurrent_change_to_another_field(
        self, store: Store
    ) -> None:
        store.create(sample())
        read = store.get(PLAYER)  # the matcher reads the profile...
        assert read is not None
        # ...another writer changes other fields meanwhile...
        store.update_fields(PLAYER, {"level": 42, "_customfield": "changed"})
        # ...and the matcher writes back what it computed from its (stale) read.
        store.set_active_campaigns({PLAYER: ["spring-sale"]})

        got = store.get(PLAYER)
        assert got is not None
        assert got.active_campaigns == ("spring-sale",)
        assert got.level == 42
        assert got.custom_fields == {"_customfield": "changed"}
        assert dataclasses.replace(
            got, active_campaigns=(), level=3, custom_fields={"_customfield": "mycustom"}
        ) == dataclasses.replace(read, active_campaigns=())

    def test_set_active_campaigns_refuses_a_bare_string(self, store: Store) -> None:
        store.create(sample())
        with pytest.raises(InvalidInput):
            store.set_active_campaigns({PLAYER: "spring-sale"})
        got = store.get(PLAYER)
        assert got is not None
        assert got.active_campaigns == ()

    # --- update_fields --------------------------------------------------------------

    def test_update_fields_sets_and_unsets(self, store: Store) -> None:
        store.create(sample())

        after = store.update_fields(
            PLAYER,
            {"level": 4, "country": "US", "_extra": {"k": [1, 2]}},
            unset=["_customfield", "clan"],
        )

        assert after == store.get(PLAYER)
        assert after.level == 4
        assert after.country == "US"
        assert after.clan is None
        assert after.custom_fields == {"_extra": {"k": [1, 2]}}
        assert after.xp == 1000  # untouched

    def test_update_fields_stores_times_given_as_text_as_times(self, store: Store) -> None:
        store.create(sample())

        after = store.update_fields(PLAYER, {"last_session": "2022-01-25 00:00:00Z"})

        expected = datetime(2022, 1, 25, tzinfo=UTC)
        assert after.last_session == expected
        got = store.get(PLAYER)
        assert got is not None
        assert got.last_session == expected

    def test_update_fields_null_for_a_known_field_removes_it(self, store: Store) -> None:
        store.create(sample())

        after = store.update_fields(PLAYER, {"gender": None})

        assert after.gender is None
        assert store.get(PLAYER) == after

    def test_update_fields_with_nothing_to_change_returns_the_profile(self, store: Store) -> None:
        store.create(sample())
        assert store.update_fields(PLAYER, {}) == sample()

    @pytest.mark.parametrize(
        ("values", "unset", "field"),
        [
            ({"level": "three"}, (), "level"),
            ({"inventory": {"cash": -1}}, (), "inventory.cash"),
            ({"created": "yesterday"}, (), "created"),
            ({"nickname": "x"}, (), "nickname"),
            ({"_id": 1}, (), "_id"),
            ({"_a.b": 1}, (), "_a.b"),
            ({"$set": {"level": 1}}, (), "$set"),
            ({"_x": {"$inc": {"level": 1}}}, (), "_x"),
            ({"_x": [{"a.b": 1}]}, (), "_x[0]"),
            ({}, ("inventory.cash",), "inventory.cash"),
            ({}, ("$where",), "$where"),
            ({"level": 4}, ("level",), "level"),
            ({"player_id": "someone-else"}, (), "player_id"),
            ({}, ("player_id",), "player_id"),
        ],
    )
    def test_invalid_update_changes_nothing(
        self,
        store: Store,
        values: dict[str, Any],
        unset: tuple[str, ...],
        field: str,
    ) -> None:
        store.create(sample())

        with pytest.raises(InvalidInput) as err:
            store.update_fields(PLAYER, {"xp": 5, **values}, unset)

        assert err.value.field == field
        assert store.get(PLAYER) == sample()

    def test_update_fields_of_unknown_player(self, store: Store) -> None:
        with pytest.raises(ProfileNotFound):
            store.update_fields("nobody", {"level": 1})

    # --- delete, ping, deadlines ----------------------------------------------------

    def test_delete(self, store: Store) -> None:
        store.create(sample())
        store.create(player("other"))

        assert store.delete(PLAYER) is True
        assert store.delete(PLAYER) is False
        assert store.get(PLAYER) is None
        assert store.get("other") is not None

    def test_ping(self, store: Store) -> None:
        store.ping()
        store.ping(timeout=1.0)

    def test_an_expired_deadline_is_a_timeout_with_nothing_written(self, store: Store) -> None:
        with pytest.raises(DependencyTimeout):
            store.create(sample(), timeout=0)
        with pytest.raises(DependencyTimeout):
            store.get(PLAYER, timeout=-1)
        assert store.get(PLAYER) is None
