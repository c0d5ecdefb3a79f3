"""BatchGetClientConfig and MatchProfile through real gRPC."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_to_message
from services.codecs.timestamps import timestamp_from_datetime
from services.domain.profile_json import profile_from_document
from services.matcher.client_config import BATCH_LIMIT
from tests.matcher.fakes import NOW, SpyStore

Stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub


@pytest.fixture
def players(store: SpyStore, sample_profile_doc: dict[str, Any]) -> list[str]:
    """Three players: two match the sample campaign (one of them already knows), one does not."""
    docs = [
        {**sample_profile_doc, "player_id": "match-1"},
        {**sample_profile_doc, "player_id": "match-2", "active_campaigns": ["mycampaign"]},
        {**sample_profile_doc, "player_id": "too-high", "level": 9},
    ]
    for doc in docs:
        store.inner.create(profile_from_document(doc))
    return [doc["player_id"] for doc in docs]


def test_batch_keeps_request_order_and_reports_unknown_players_in_their_slot(
    stub: Stub, store: SpyStore, players: list[str]
) -> None:
    ids = ["too-high", "nobody", "match-2", "match-1"]
    response = stub.BatchGetClientConfig(pb.BatchGetClientConfigRequest(player_ids=ids))
    assert [r.player_id for r in response.results] == ids
    by_id = {r.player_id: r for r in response.results}
    assert by_id["nobody"].WhichOneof("result") == "error"
    assert by_id["nobody"].error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert "nobody" in by_id["nobody"].error.message
    assert list(by_id["match-1"].profile.active_campaigns) == ["mycampaign"]
    assert list(by_id["match-2"].profile.active_campaigns) == ["mycampaign"]
    assert list(by_id["too-high"].profile.active_campaigns) == []
    # One batched write, only for the player whose list changed.
    assert store.active_writes == [{"match-1": ("mycampaign",)}]


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        ([], "player_ids"),
        (["a", ""], "player_ids[1]"),
        (["a", "b", "a"], "player_ids[2]"),
        (["x" * 129], "player_ids[0]"),
        ([f"p{i}" for i in range(BATCH_LIMIT + 1)], "player_ids"),
    ],
)
def test_batch_errors_are_invalid_argument_naming_the_field(
    stub: Stub, store: SpyStore, players: list[str], ids: list[str], field: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.BatchGetClientConfig(pb.BatchGetClientConfigRequest(player_ids=ids))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"{field}:")
    assert store.active_writes == []


def test_batch_at_the_limit_is_accepted(stub: Stub, players: list[str]) -> None:
    ids = [f"p{i}" for i in range(BATCH_LIMIT)]
    response = stub.BatchGetClientConfig(pb.BatchGetClientConfigRequest(player_ids=ids))
    assert len(response.results) == BATCH_LIMIT


def test_a_corrupt_stored_profile_fails_only_its_own_slot(
    stub: Stub, store: SpyStore, players: list[str]
) -> None:
    store.corrupt("match-1", "level", "high")
    response = stub.BatchGetClientConfig(
        pb.BatchGetClientConfigRequest(player_ids=["match-1", "match-2"])
    )
    corrupt, fine = response.results
    assert corrupt.error.code == grpc.StatusCode.DATA_LOSS.value[0]
    assert "level" in corrupt.error.message
    assert list(fine.profile.active_campaigns) == ["mycampaign"]
    with pytest.raises(grpc.RpcError) as info:
        stub.GetClientConfig(pb.GetClientConfigRequest(player_id="match-1"))
    assert info.value.code() == grpc.StatusCode.DATA_LOSS


def test_batch_store_down_is_unavailable(stub: Stub, store: SpyStore, players: list[str]) -> None:
    store.down = True
    with pytest.raises(grpc.RpcError) as info:
        stub.BatchGetClientConfig(pb.BatchGetClientConfigRequest(player_ids=players))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_match_profile_explains_and_stores_nothing(
    stub: Stub, store: SpyStore, sample_profile_doc: dict[str, Any]
) -> None:
    message = profile_to_message(profile_from_document({**sample_profile_doc, "level": 7}))
    response = stub.MatchProfile(pb.MatchProfileRequest(profile=message))
    assert list(response.active_campaigns) == []
    assert response.catalog_version == "v1"
    [explanation] = response.explanations
    assert explanation.campaign == "mycampaign"
    assert explanation.outcome == pb.OUTCOME_NOT_MATCHED
    assert (explanation.matcher, explanation.expected, explanation.actual) == ("level", "1..3", "7")
    assert store.active_writes == []
    assert store.inner.get(sample_profile_doc["player_id"]) is None


def test_match_profile_at_a_given_time(stub: Stub, sample_profile_doc: dict[str, Any]) -> None:
    message = profile_to_message(profile_from_document(sample_profile_doc))
    matched = stub.MatchProfile(pb.MatchProfileRequest(profile=message))
    assert list(matched.active_campaigns) == ["mycampaign"]
    assert matched.explanations[0].outcome == pb.OUTCOME_MATCHED
    years_later = timestamp_from_datetime(NOW.replace(year=NOW.year + 5))
    later = stub.MatchProfile(pb.MatchProfileRequest(profile=message, at=years_later))
    assert list(later.active_campaigns) == []
    assert later.explanations[0].outcome == pb.OUTCOME_NOT_CONSIDERED
    assert later.explanations[0].matcher == "window"


def test_match_profile_needs_no_player_id(stub: Stub) -> None:
    response = stub.MatchProfile(
        pb.MatchProfileRequest(profile=profile_pb2.Profile(level=2, country="us"))
    )
    assert response.explanations[0].matcher == "has.items"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (
            pb.MatchProfileRequest(profile=profile_pb2.Profile(inventory={"item_1": -1})),
            "profile.inventory.item_1",
        ),
        (
            pb.MatchProfileRequest(at=timestamp_pb2.Timestamp(seconds=-(10**12))),
            "at",
        ),
    ],
)
def test_match_profile_bad_input_is_invalid_argument(
    stub: Stub, request_: pb.MatchProfileRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.MatchProfile(request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"{field}:")
