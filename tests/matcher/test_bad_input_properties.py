"""Any request, however malformed: a deliberate status, never UNKNOWN or INTERNAL,
and a rejected call leaves every stored profile exactly as it was."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2, timestamp_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from profilematcher.matcher.v1 import matcher_service_pb2 as mpb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import MatcherServer
from services.matcher.settings import IO_MODES
from services.storage.sqlite_store import SQLiteProfileStore
from tests.conftest import TEST_DATA
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, FakeCampaignService, SpyStore, sample_campaign

FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
EXISTING = "97983be2-98b7-11e7-90cf-082e5f28d836"

ids = st.one_of(
    st.just(EXISTING),
    st.just(""),
    st.text(max_size=140),
    st.text(alphabet="$.{}\x00_a", max_size=5),
    st.just("x" * 129),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
timestamps = st.builds(
    timestamp_pb2.Timestamp,
    seconds=st.integers(min_value=-(2**40), max_value=2**40),
    nanos=st.integers(min_value=0, max_value=999_999_999),
)
json_values: st.SearchStrategy[struct_pb2.Value] = st.one_of(
    st.builds(struct_pb2.Value, string_value=st.text(max_size=10)),
    st.builds(struct_pb2.Value, number_value=floats),
    st.builds(struct_pb2.Value, bool_value=st.booleans()),
    st.builds(struct_pb2.Value, null_value=st.just(struct_pb2.NULL_VALUE)),
)
field_names = st.sampled_from(
    ["level", "country", "inventory", "player_id", "custom_fields", "_x", "_id", "$set",
     "a.b", "", "active_campaigns", "total_spent", "clan", "devices", "created"]
)  # fmt: skip


@st.composite
def profiles(draw: st.DrawFn) -> profile_pb2.Profile:
    message = profile_pb2.Profile(player_id=draw(ids))
    if draw(st.booleans()):
        message.level = draw(ints)
    if draw(st.booleans()):
        message.total_spent = draw(floats)
    if draw(st.booleans()):
        message.country = draw(st.text(max_size=4))
    if draw(st.booleans()):
        message.created.CopyFrom(draw(timestamps))
    for item, quantity in draw(st.dictionaries(st.text(max_size=6), ints, max_size=3)).items():
        message.inventory[item] = quantity
    custom_keys = st.one_of(st.text(max_size=6), st.text(max_size=6).map(lambda k: "_" + k))
    for key, value in draw(st.dictionaries(custom_keys, json_values, max_size=3)).items():
        message.custom_fields[key].CopyFrom(value)
    for campaign in draw(st.lists(st.text(max_size=5), max_size=2)):
        message.active_campaigns.append(campaign)
    if draw(st.booleans()):
        message.devices.add(id=draw(ints), model=draw(st.text(max_size=5)))
    return message


@pytest.fixture(scope="module", params=IO_MODES)
def world(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[MatcherServer, SQLiteProfileStore, grpc.Channel]]:
    campaigns = CampaignServer(FakeCampaignService([sample_campaign()]))
    campaigns.start()
    store = SQLiteProfileStore.in_memory()
    store.create(profile_from_document(json.loads((TEST_DATA / "profile.json").read_text())))
    server = start(SpyStore(store), campaigns, io=request.param)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield server, store, channel
    channel.close()
    server.stop(0)
    campaigns.stop()


def snapshot(store: SQLiteProfileStore) -> Any:
    return store.get(EXISTING)


World = tuple[MatcherServer, SQLiteProfileStore, grpc.Channel]


def check(world: World, call: Callable[[], Any]) -> None:
    """Calls; a refusal must be deliberate, explained, and leave the store untouched."""
    _, store, _ = world
    before = snapshot(store)
    try:
        call()
    except grpc.RpcError as exc:
        assert exc.code() not in FORBIDDEN, (exc.code(), exc.details())
        assert exc.details(), "every refusal says why"
        assert snapshot(store) == before


@settings(max_examples=150)
@given(request=st.builds(mpb.GetClientConfigRequest, player_id=ids, game=st.text(max_size=5)))
def test_get_client_config(world: Any, request: mpb.GetClientConfigRequest) -> None:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(world[2])
    check(world, lambda: stub.GetClientConfig(request, timeout=10))


@settings(max_examples=100)
@given(player_ids=st.lists(ids, max_size=6))
def test_batch_get_client_config(world: Any, player_ids: list[str]) -> None:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(world[2])
    request = mpb.BatchGetClientConfigRequest(player_ids=player_ids)
    check(world, lambda: stub.BatchGetClientConfig(request, timeout=10))


@settings(max_examples=150)
@given(profile=profiles(), at=st.one_of(st.none(), timestamps))
def test_match_profile(world: Any, profile: profile_pb2.Profile, at: Any) -> None:
    stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(world[2])
    request = mpb.MatchProfileRequest(profile=profile, at=at)
    check(world, lambda: stub.MatchProfile(request, timeout=10))


@settings(max_examples=150)
@given(profile=profiles())
def test_create_profile(world: Any, profile: profile_pb2.Profile) -> None:
    stub = profile_service_pb2_grpc.ProfileServiceStub(world[2])
    check(world, lambda: stub.CreateProfile(ppb.CreateProfileRequest(profile=profile), timeout=10))
    _cleanup(world, profile.player_id)


@settings(max_examples=150)
@given(profile=profiles(), paths=st.lists(field_names, max_size=4))
def test_update_profile(world: Any, profile: profile_pb2.Profile, paths: list[str]) -> None:
    stub = profile_service_pb2_grpc.ProfileServiceStub(world[2])
    profile.player_id = EXISTING
    request = ppb.UpdateProfileRequest(
        profile=profile, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )
    _, store, _ = world
    before = snapshot(store)
    try:
        stub.UpdateProfile(request, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() not in FORBIDDEN, (exc.code(), exc.details())
        assert snapshot(store) == before
    else:
        _restore(store, before)


@settings(max_examples=60)
@given(batch=st.lists(profiles(), max_size=4))
def test_import_profiles(world: Any, batch: list[profile_pb2.Profile]) -> None:
    stub = profile_service_pb2_grpc.ProfileServiceStub(world[2])
    for profile in batch:
        if profile.player_id == EXISTING:
            profile.player_id = "other"
    requests = [ppb.ImportProfilesRequest(profile=p) for p in batch]
    check(world, lambda: stub.ImportProfiles(iter(requests), timeout=10))
    for profile in batch:
        _cleanup(world, profile.player_id)


@settings(max_examples=100)
@given(player_id=ids)
def test_get_and_delete_profile(world: Any, player_id: str) -> None:
    stub = profile_service_pb2_grpc.ProfileServiceStub(world[2])
    check(world, lambda: stub.GetProfile(ppb.GetProfileRequest(player_id=player_id), timeout=10))
    if player_id != EXISTING:
        request = ppb.DeleteProfileRequest(player_id=player_id)
        check(world, lambda: stub.DeleteProfile(request, timeout=10))


def _cleanup(world: Any, player_id: str) -> None:
    _, store, _ = world
    if player_id and player_id != EXISTING and len(player_id) <= 128:
        store.delete(player_id)


def _restore(store: SQLiteProfileStore, profile: Any) -> None:
    store.upsert(profile)


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (profile_pb2.Profile(player_id="p", total_spent=math.nan), "profile.total_spent"),
        (profile_pb2.Profile(player_id="p", total_refund=-math.inf), "profile.total_refund"),
        (
            profile_pb2.Profile(
                player_id="p", custom_fields={"_x": struct_pb2.Value(number_value=math.inf)}
            ),
            "profile._x",
        ),
        (
            profile_pb2.Profile(player_id="p", created=timestamp_pb2.Timestamp(seconds=-(2**40))),
            "profile.created",
        ),
    ],
)
def test_non_finite_and_out_of_range_values_are_refused(
    world: Any, profile: profile_pb2.Profile, field: str
) -> None:
    stub = profile_service_pb2_grpc.ProfileServiceStub(world[2])
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateProfile(ppb.CreateProfileRequest(profile=profile), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"{field}:")
    assert world[1].get("p") is None
