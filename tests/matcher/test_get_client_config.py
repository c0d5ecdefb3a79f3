"""GetClientConfig end to end through real gRPC, on every store backend."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import grpc
import pytest

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import MatcherServer
from tests.matcher.conftest import start
from tests.matcher.fakes import NOW, CampaignServer, SpyStore, eventually, sample_campaign
from tests.rpc import code_of

Stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub


def get(stub: Stub, player_id: str, game: str = "") -> list[str]:
    response = stub.GetClientConfig(pb.GetClientConfigRequest(player_id=player_id, game=game))
    return list(response.profile.active_campaigns)


def test_sample_player_gets_the_live_sample_campaign(stub: Stub, sample_player: str) -> None:
    response = stub.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player))
    assert list(response.profile.active_campaigns) == ["mycampaign"]
    assert response.profile.custom_fields["_customfield"].string_value == "mycustom"
    assert response.profile.level == 3


def test_the_new_list_is_stored_and_other_fields_are_untouched(
    stub: Stub, store: SpyStore, sample_player: str, sample_profile_doc: dict[str, Any]
) -> None:
    assert get(stub, sample_player) == ["mycampaign"]
    stored = store.inner.get(sample_player)
    assert stored is not None
    assert stored.active_campaigns == ("mycampaign",)
    before = profile_from_document(sample_profile_doc)
    assert stored == type(before)(**{**_fields(before), "active_campaigns": ("mycampaign",)})


def test_an_unchanged_list_is_not_written(stub: Stub, store: SpyStore, sample_player: str) -> None:
    get(stub, sample_player)
    get(stub, sample_player)
    get(stub, sample_player)
    assert store.active_writes == [{sample_player: ("mycampaign",)}]


def test_a_campaign_that_stops_matching_is_removed(
    stub: Stub, store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    assert get(stub, sample_player) == ["mycampaign"]
    campaigns.service.set_catalog([sample_campaign(enabled=False)], "v2")

    def removed() -> None:
        assert get(stub, sample_player) == []

    eventually(removed)  # the watch stream brings the change
    stored = store.inner.get(sample_player)
    assert stored is not None
    assert stored.active_campaigns == ()


def test_a_concurrent_change_to_another_field_is_not_lost(
    stub: Stub, store: SpyStore, sample_player: str
) -> None:
    # Another writer changes level between the matcher's read and its write-back.
    store.before_write.append(lambda: store.inner.update_fields(sample_player, {"level": 42}))
    assert get(stub, sample_player) == ["mycampaign"]
    stored = store.inner.get(sample_player)
    assert stored is not None
    assert (stored.level, stored.active_campaigns) == (42, ("mycampaign",))


@pytest.mark.parametrize(
    ("changes", "matches"),
    [
        ({"level": 1}, True),
        ({"level": 3}, True),  # both bounds inclusive
        ({"level": 0}, False),
        ({"level": 4}, False),
        ({"country": "ca"}, True),  # ISO codes compare case-insensitively
        ({"country": "DE"}, False),
        ({"inventory": {"item_1": 0}}, False),  # quantity 0: not held
        ({"inventory": {"item_1": 1, "item_4": 0}}, True),  # forbidden item at 0 is fine
        ({"inventory": {"item_1": 1, "item_4": 2}}, False),
    ],
)
def test_each_matcher_edge(
    stub: Stub,
    store: SpyStore,
    sample_profile_doc: dict[str, Any],
    changes: dict[str, Any],
    matches: bool,
) -> None:
    store.inner.create(profile_from_document({**sample_profile_doc, **changes}))
    assert get(stub, sample_profile_doc["player_id"]) == (["mycampaign"] if matches else [])


@pytest.mark.parametrize(
    ("window", "matches"),
    [
        ((NOW, NOW + timedelta(days=1)), True),  # start inclusive
        ((NOW - timedelta(days=1), NOW), False),  # end exclusive
        ((NOW + timedelta(seconds=1), NOW + timedelta(days=1)), False),
    ],
)
def test_window_edges(
    store: SpyStore,
    campaigns: CampaignServer,
    sample_player: str,
    window: tuple[Any, Any],
    matches: bool,
) -> None:
    campaigns.service.set_catalog([sample_campaign(start_date=window[0], end_date=window[1])], "w")
    with _matcher(store, campaigns) as stub:
        assert get(stub, sample_player) == (["mycampaign"] if matches else [])


def test_disabled_game_filter_and_ordering(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    campaigns.service.set_catalog(
        [
            sample_campaign(name="b_low", priority=1),
            sample_campaign(name="a_low", priority=1),  # ties by name
            sample_campaign(name="top", priority=99, level=None),
            sample_campaign(name="off", priority=50, enabled=False),
            sample_campaign(name="other_game", game="othergame", priority=70),
        ],
        "ordering",
    )
    with _matcher(store, campaigns) as stub:
        assert get(stub, sample_player) == ["top", "other_game", "a_low", "b_low"]
        assert get(stub, sample_player, game="mygame") == ["top", "a_low", "b_low"]
        assert get(stub, sample_player, game="othergame") == ["other_game"]
        assert get(stub, sample_player, game="nosuchgame") == []


def test_unknown_player_is_not_found(stub: Stub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.GetClientConfig(pb.GetClientConfigRequest(player_id="nobody"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nobody" in (info.value.details() or "")


@pytest.mark.parametrize("player_id", ["", "x" * 129])
def test_bad_player_id_is_invalid_argument(stub: Stub, player_id: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.GetClientConfig(pb.GetClientConfigRequest(player_id=player_id))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "player_id" in (info.value.details() or "")


def test_store_down_is_unavailable(stub: Stub, store: SpyStore, sample_player: str) -> None:
    store.down = True
    code = code_of(lambda: stub.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_campaign_service_down_at_cold_start_is_unavailable(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    campaigns.stop()
    with _matcher(store, campaigns, campaigns_timeout=0.5) as stub:
        code = code_of(
            lambda: stub.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player))
        )
        assert code == grpc.StatusCode.UNAVAILABLE
        campaigns.start()
        # Recovers by itself once the campaign service is back (after the retry pause).
        assert eventually(lambda: get(stub, sample_player)) == ["mycampaign"]


def test_campaign_service_down_with_a_cached_catalog_keeps_serving(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    with _matcher(store, campaigns, catalog_ttl=0.0) as stub:
        assert get(stub, sample_player) == ["mycampaign"]
        campaigns.stop()
        assert get(stub, sample_player) == ["mycampaign"]


def test_concurrent_requests_share_one_catalog_fetch(
    stub: Stub, matcher: MatcherServer, campaigns: CampaignServer, sample_player: str
) -> None:
    fetched_at_start = campaigns.service.list_calls
    errors: list[BaseException] = []

    def call() -> None:
        try:
            get(stub, sample_player)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert campaigns.service.list_calls == fetched_at_start  # served from the cache


# -- helpers ---------------------------------------------------------------------------


def _fields(profile: Any) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in profile.__slots__}


class _matcher:  # noqa: N801 - used as a context manager, reads like a function
    def __init__(self, store: SpyStore, campaigns: CampaignServer, **settings: Any) -> None:
        self._server = start(store, campaigns, **settings)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self._server.port}")

    def __enter__(self) -> Stub:
        return Stub(self._channel)

    def __exit__(self, *exc: object) -> None:
        self._channel.close()
        self._server.stop(0)
