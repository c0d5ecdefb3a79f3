"""ProfileService CRUD and bulk import through real gRPC, on every store backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from bson import Decimal128, ObjectId
from google.protobuf import field_mask_pb2, json_format

from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.codecs.profile_message import profile_to_message
from services.domain.profile_json import profile_from_document
from services.storage.mongo_store import MongoProfileStore
from tests.matcher.fakes import SpyStore

Stub = profile_service_pb2_grpc.ProfileServiceStub


@pytest.fixture
def sample(sample_profile_doc: dict[str, Any]) -> profile_pb2.Profile:
    return profile_to_message(profile_from_document(sample_profile_doc))


def status(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), (info.value.details() or "")


def test_create_get_delete(profiles: Stub, sample: profile_pb2.Profile) -> None:
    created = profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    assert created.profile == sample
    got = profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id))
    assert got.profile == sample
    profiles.DeleteProfile(pb.DeleteProfileRequest(player_id=sample.player_id))
    code, _ = status(lambda: profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id)))
    assert code == grpc.StatusCode.NOT_FOUND


def test_create_twice_is_already_exists(profiles: Stub, sample: profile_pb2.Profile) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    code, details = status(lambda: profiles.CreateProfile(pb.CreateProfileRequest(profile=sample)))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert sample.player_id in details


def test_update_sets_and_clears_only_the_masked_fields(
    profiles: Stub, sample: profile_pb2.Profile
) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    change = profile_pb2.Profile(player_id=sample.player_id, level=7)
    change.custom_fields["_customfield"].string_value = "changed"
    updated = profiles.UpdateProfile(
        pb.UpdateProfileRequest(
            profile=change,
            update_mask=field_mask_pb2.FieldMask(paths=["level", "country", "_customfield"]),
        )
    ).profile
    assert updated.level == 7
    assert not updated.HasField("country")  # masked but unset: cleared
    assert updated.custom_fields["_customfield"].string_value == "changed"
    assert updated.xp == sample.xp  # not masked: kept
    assert updated.inventory == sample.inventory


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([], "update_mask: must name the fields to update"),
        (["player_id"], "update_mask: player_id cannot be changed"),
        (["nickname"], "update_mask: unknown field 'nickname'"),
    ],
)
def test_bad_update_masks_are_invalid_argument_and_change_nothing(
    profiles: Stub, sample: profile_pb2.Profile, paths: list[str], message: str
) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    request = pb.UpdateProfileRequest(
        profile=profile_pb2.Profile(player_id=sample.player_id, level=9),
        update_mask=field_mask_pb2.FieldMask(paths=paths),
    )
    code, details = status(lambda: profiles.UpdateProfile(request))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    assert profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id)).profile == sample


def test_update_refuses_active_campaigns_and_changes_nothing(
    profiles: Stub, sample: profile_pb2.Profile
) -> None:
    # The matcher maintains the list: a hand-set one would pass for a match.
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    change = profile_pb2.Profile(player_id=sample.player_id, level=9, active_campaigns=["forged"])
    request = pb.UpdateProfileRequest(
        profile=change, update_mask=field_mask_pb2.FieldMask(paths=["level", "active_campaigns"])
    )

    code, details = status(lambda: profiles.UpdateProfile(request))

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        details == "update_mask: active_campaigns cannot be set: ProfileMatcherService maintains it"
    )
    assert profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id)).profile == sample


def test_get_of_a_corrupt_stored_profile_is_data_loss(
    profiles: Stub, store: SpyStore, sample: profile_pb2.Profile
) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    store.corrupt(sample.player_id, "level", "high")

    code, details = status(
        lambda: profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id))
    )
    assert code == grpc.StatusCode.DATA_LOSS
    assert sample.player_id in details
    assert "level" in details


def test_update_over_a_corrupt_stored_field_is_data_loss_unless_it_repairs_it(
    profiles: Stub, store: SpyStore, sample: profile_pb2.Profile
) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    store.corrupt(sample.player_id, "level", "high")

    def update(field: str, **values: Any) -> Any:
        change = profile_pb2.Profile(player_id=sample.player_id, **values)
        mask = field_mask_pb2.FieldMask(paths=[field])
        return profiles.UpdateProfile(pb.UpdateProfileRequest(profile=change, update_mask=mask))

    # The request is fine; the stored record is not: the caller cannot fix it by
    # changing the request, so this is not INVALID_ARGUMENT.
    code, details = status(lambda: update("country", country="RO"))
    assert code == grpc.StatusCode.DATA_LOSS
    assert "level" in details
    repaired = update("level", level=5).profile
    assert repaired.level == 5
    assert repaired.country == sample.country  # the refused update changed nothing


def test_update_of_unknown_player_is_not_found(profiles: Stub) -> None:
    request = pb.UpdateProfileRequest(
        profile=profile_pb2.Profile(player_id="nobody", level=1),
        update_mask=field_mask_pb2.FieldMask(paths=["level"]),
    )
    code, _ = status(lambda: profiles.UpdateProfile(request))
    assert code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.GetProfile(pb.GetProfileRequest(player_id="")),
        lambda s: s.DeleteProfile(pb.DeleteProfileRequest(player_id="")),
        lambda s: s.CreateProfile(pb.CreateProfileRequest(profile=profile_pb2.Profile())),
    ],
)
def test_missing_player_id_is_invalid_argument(profiles: Stub, call: Any) -> None:
    code, details = status(lambda: call(profiles))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "player_id" in details


def test_delete_unknown_is_not_found(profiles: Stub) -> None:
    code, _ = status(lambda: profiles.DeleteProfile(pb.DeleteProfileRequest(player_id="nobody")))
    assert code == grpc.StatusCode.NOT_FOUND


def test_store_down_is_unavailable(profiles: Stub, store: SpyStore) -> None:
    store.down = True
    code, _ = status(lambda: profiles.GetProfile(pb.GetProfileRequest(player_id="p1")))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_import_round_trip_with_rejections(profiles: Stub, sample: profile_pb2.Profile) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=profile_pb2.Profile(player_id="old")))
    bad = profile_pb2.Profile(player_id="bad")
    bad.inventory["item_1"] = -5
    stream = [
        pb.ImportProfilesRequest(profile=sample),
        pb.ImportProfilesRequest(profile=bad),
        pb.ImportProfilesRequest(profile=profile_pb2.Profile(player_id="old", level=2)),
        pb.ImportProfilesRequest(profile=profile_pb2.Profile()),
    ]
    report = profiles.ImportProfiles(iter(stream))
    assert (report.created, report.updated, report.rejected) == (1, 1, 2)
    assert [(r.index, r.reason.split(":")[0]) for r in report.rejections] == [
        (1, "profile.inventory.item_1"),
        (3, "profile.player_id"),
    ]
    assert profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id)).profile == sample
    assert profiles.GetProfile(pb.GetProfileRequest(player_id="old")).profile.level == 2


OID = ObjectId("5f1d7a1f9b1e8b3a2c4d5e6f")


@pytest.mark.parametrize("store", ["mongodb"], indirect=True)
def test_bson_values_of_other_writers_read_as_extended_json_and_survive_an_update(
    profiles: Stub, store: SpyStore, sample: profile_pb2.Profile
) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    assert isinstance(store.inner, MongoProfileStore)
    collection = store.inner.collection
    bson_values = {
        "_oid": OID,
        "_price": Decimal128("1.10"),
        "_seen": datetime(2021, 1, 10, 13, 37, 17, tzinfo=UTC),
        "_refs": {"ids": [OID]},
    }
    collection.update_one({"player_id": sample.player_id}, {"$set": bson_values})

    got = profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id)).profile
    as_json = json_format.MessageToDict(got)["customFields"]
    assert as_json["_oid"] == {"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"}
    assert as_json["_price"] == {"$numberDecimal": "1.10"}
    assert as_json["_seen"] == {"$date": "2021-01-10T13:37:17Z"}
    assert as_json["_refs"] == {"ids": [{"$oid": "5f1d7a1f9b1e8b3a2c4d5e6f"}]}

    # The profile as read, sent back with another field changed: only that is written.
    got.level = 9
    mask = field_mask_pb2.FieldMask(paths=["level"])
    updated = profiles.UpdateProfile(pb.UpdateProfileRequest(profile=got, update_mask=mask))
    assert updated.profile.level == 9
    assert updated.profile.custom_fields == got.custom_fields
    raw = collection.find_one({"player_id": sample.player_id}, {"_id": 0})
    assert raw is not None
    assert {k: raw[k] for k in bson_values} == bson_values
    assert raw["level"] == 9


@pytest.mark.parametrize("key", ["$set", "$", "a.b", "."])
def test_nested_custom_keys_mongodb_reserves_are_invalid_argument_on_every_store(
    profiles: Stub, sample: profile_pb2.Profile, key: str
) -> None:
    bad = profile_pb2.Profile()
    bad.CopyFrom(sample)
    bad.custom_fields["_stats"].struct_value.update({"ok": [{key: 1}]})
    expected = f"profile._stats.ok[0]: object key {key!r} may not start with '$'"

    code, details = status(lambda: profiles.CreateProfile(pb.CreateProfileRequest(profile=bad)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith(expected)
    code, _ = status(lambda: profiles.GetProfile(pb.GetProfileRequest(player_id=bad.player_id)))
    assert code == grpc.StatusCode.NOT_FOUND

    report = profiles.ImportProfiles(iter([pb.ImportProfilesRequest(profile=bad)]))
    assert (report.created, report.rejected) == (0, 1)
    assert report.rejections[0].reason.startswith(expected)

    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    for paths in (["_stats"], ["custom_fields"]):
        request = pb.UpdateProfileRequest(
            profile=bad, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        code, details = status(lambda: profiles.UpdateProfile(request))  # noqa: B023
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.startswith(expected)
    assert profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id)).profile == sample
