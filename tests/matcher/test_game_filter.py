"""The `game` filter narrows the answer, never the stored list, through real gRPC.

The catalog has five games with one campaign each that the sample player matches, and
a sixth game whose only campaign the player does not match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_to_message
from services.domain.campaign import LevelRange
from services.domain.profile_json import profile_from_document
from tests.matcher.fakes import CampaignServer, FakeCampaignService, SpyStore, sample_campaign

Stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub

GAMES = ("g1", "g2", "g3", "g4", "g5")
# Highest priority first: g5's offer has the highest.
FULL = ("g5_offer", "g4_offer", "g3_offer", "g2_offer", "g1_offer")
VETERANS_ONLY = "g6"


@pytest.fixture
def campaigns() -> Iterator[CampaignServer]:
    """Replaces the shared fixture: the matcher starts with the five-game catalog."""
    catalog = [
        sample_campaign(game=game, name=f"{game}_offer", priority=float(rank))
        for rank, game in enumerate(GAMES, start=1)
    ]
    catalog.append(sample_campaign(game="g1", name="g1_veteran", level=LevelRange(50, 60)))
    catalog.append(sample_campaign(game=VETERANS_ONLY, name="g6_veteran", level=LevelRange(50, 60)))
    server = CampaignServer(FakeCampaignService(catalog))
    server.start()
    yield server
    server.stop()


def get(stub: Stub, player_id: str, game: str = "") -> pb.GetClientConfigResponse:
    response: pb.GetClientConfigResponse = stub.GetClientConfig(
        pb.GetClientConfigRequest(player_id=player_id, game=game)
    )
    return response


def stored_list(store: SpyStore, player_id: str) -> tuple[str, ...]:
    stored = store.inner.get(player_id)
    assert stored is not None
    return stored.active_campaigns


def test_calls_for_different_games_store_the_full_list_once(
    stub: Stub, store: SpyStore, sample_player: str
) -> None:
    for game in GAMES:
        assert list(get(stub, sample_player, game).profile.active_campaigns) == [f"{game}_offer"]

    assert store.active_writes == [{sample_player: FULL}]
    assert stored_list(store, sample_player) == FULL


def test_a_filtered_answer_is_the_stored_profile_with_that_games_campaigns(
    stub: Stub, store: SpyStore, sample_player: str
) -> None:
    answer = get(stub, sample_player, "g1").profile

    expected = profile_pb2.Profile()
    expected.CopyFrom(answer)
    expected.active_campaigns[:] = FULL
    stored = store.inner.get(sample_player)
    assert stored is not None
    assert expected == profile_to_message(stored)
    assert list(answer.active_campaigns) == ["g1_offer"]  # not g1_veteran: level 3
    # An unfiltered call then finds the list stored and writes nothing.
    assert tuple(get(stub, sample_player).profile.active_campaigns) == FULL
    assert store.active_writes == [{sample_player: FULL}]


def test_a_game_the_player_matches_nothing_in_still_stores_the_full_list(
    stub: Stub, store: SpyStore, sample_player: str
) -> None:
    assert list(get(stub, sample_player, VETERANS_ONLY).profile.active_campaigns) == []

    assert store.active_writes == [{sample_player: FULL}]


@pytest.mark.parametrize("game", ["g7", "G1", "g1 "])
def test_an_unknown_game_answers_empty_and_changes_nothing(
    stub: Stub, store: SpyStore, sample_profile_doc: dict[str, Any], game: str
) -> None:
    # Stored list out of date on purpose: a typo must not wipe it, nor rewrite it.
    store.inner.create(profile_from_document({**sample_profile_doc, "active_campaigns": ["old"]}))
    player_id = sample_profile_doc["player_id"]

    assert list(get(stub, player_id, game).profile.active_campaigns) == []

    assert store.active_writes == []
    assert stored_list(store, player_id) == ("old",)


def test_batch_with_a_game_stores_full_lists_and_answers_that_game(
    stub: Stub, store: SpyStore, sample_profile_doc: dict[str, Any]
) -> None:
    store.inner.create(profile_from_document({**sample_profile_doc, "player_id": "fresh"}))
    store.inner.create(
        profile_from_document(
            {**sample_profile_doc, "player_id": "known", "active_campaigns": list(FULL)}
        )
    )
    ids = ["fresh", "known"]

    for game in GAMES:
        response = stub.BatchGetClientConfig(
            pb.BatchGetClientConfigRequest(player_ids=ids, game=game)
        )
        answers = [list(r.profile.active_campaigns) for r in response.results]
        assert answers == [[f"{game}_offer"]] * 2
    typo = stub.BatchGetClientConfig(pb.BatchGetClientConfigRequest(player_ids=ids, game="g7"))

    assert [list(r.profile.active_campaigns) for r in typo.results] == [[], []]
    assert store.active_writes == [{"fresh": FULL}]
    assert [stored_list(store, player_id) for player_id in ids] == [FULL, FULL]
