"""Experiments end to end: a catalog file with a rollout, a variant split, a group and
schedules, served by the real campaign service, matched by the real matcher; the
answers carry assignments with payloads, and explanations the buckets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2
from services.campaigns.bootstrap import CampaignServer, start_campaign_server
from services.campaigns.settings import CampaignSettings
from services.domain.profile import Profile
from services.domain.timefmt import format_timestamp
from services.matcher.bootstrap import MatcherServer, start_matcher
from services.matcher.settings import MatcherSettings
from services.matching.bucketing import bucket, point, rollout_salt, variant_salt
from services.transport.grpc_server import ServerOptions
from tests.matcher.conftest import io_settings
from tests.matcher.fakes import NOW, SpyStore

WINDOW = {
    "start_date": format_timestamp(NOW - timedelta(days=1)),
    "end_date": format_timestamp(NOW + timedelta(days=30)),
    "enabled": True,
    "matchers": {},
}
CATALOG = {
    "groups": {"popup": {"max_active": 1}},
    "campaigns": [
        {
            "game": "mygame",
            "name": "starter_pack",
            "priority": 40,
            "rollout": {"percent": 50},
            "variants": [
                {"name": "control", "weight": 50, "payload": {"price": 4.99}},
                {"name": "cheaper", "weight": 50, "payload": {"price": 2.99}},
            ],
            "group": "popup",
            **WINDOW,
        },
        {
            "game": "mygame",
            "name": "daily_deal",
            "priority": 25,
            "payload": {"discount_percent": 20, "tags": ["deal"]},
            "group": "popup",
            **WINDOW,
        },
        {
            # NOW is 12:00 UTC, 14:00 in Paris: inside 13:00..16:00 Paris.
            "game": "spacegame",
            "name": "happy_hour",
            "priority": 9,
            "payload": {"xp_multiplier": 2},
            "schedule": {"cron": "0 13 * * *", "duration": "3h", "timezone": "Europe/Paris"},
            **WINDOW,
        },
        {
            "game": "spacegame",
            "name": "night_raid",
            "priority": 8,
            "schedule": {"cron": "0 22 * * *", "duration": "1h", "timezone": "Europe/Paris"},
            **WINDOW,
        },
    ],
}


def _in_rollout(player_id: str) -> bool:
    return bucket(rollout_salt("mygame", "starter_pack"), player_id) < 50_000


# The first generated ids on each side of starter_pack's rollout.
IN = next(f"player-{i}" for i in range(100) if _in_rollout(f"player-{i}"))
OUT = next(f"player-{i}" for i in range(100) if not _in_rollout(f"player-{i}"))


def _variant(player_id: str) -> tuple[str, float]:
    at = point(variant_salt("mygame", "starter_pack"), player_id, 100)
    return ("control", 4.99) if at < 50 else ("cheaper", 2.99)


@pytest.fixture
def campaign_service(tmp_path: Path) -> Iterator[CampaignServer]:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(CATALOG))
    server = start_campaign_server(
        CampaignSettings(catalog=path, host="127.0.0.1", port=0, grace_seconds=0, drain_seconds=0)
    )
    yield server
    server.stop(0)


@pytest.fixture
def matcher(store: SpyStore, campaign_service: CampaignServer) -> Iterator[MatcherServer]:
    for player_id in (IN, OUT):
        store.inner.create(Profile(player_id=player_id, level=3))
    server = start_matcher(
        MatcherSettings(
            **io_settings(store),
            server=ServerOptions(host="127.0.0.1", port=0, grace_seconds=0),
            campaigns_target=f"127.0.0.1:{campaign_service.port}",
            allow_unauthenticated_writes=True,
        ),
        store,
        clock=lambda: NOW,
    )
    yield server
    server.stop(0)


@pytest.fixture
def stub(matcher: MatcherServer) -> Iterator[matcher_service_pb2_grpc.ProfileMatcherServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{matcher.port}") as channel:
        yield matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)


def _assignments(message: Any) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    return [
        (
            a.game,
            a.campaign,
            a.variant,
            json_format.MessageToDict(a.payload) if a.HasField("payload") else None,
        )
        for a in message.assignments
    ]


def test_get_client_config_answers_assignments_with_payloads(
    stub: matcher_service_pb2_grpc.ProfileMatcherServiceStub, store: SpyStore
) -> None:
    variant, price = _variant(IN)
    inside = stub.GetClientConfig(pb.GetClientConfigRequest(player_id=IN), timeout=10)
    assert list(inside.profile.active_campaigns) == ["starter_pack", "happy_hour"]
    assert _assignments(inside) == [
        ("mygame", "starter_pack", variant, {"price": price}),
        ("spacegame", "happy_hour", "", {"xp_multiplier": 2.0}),
    ]

    outside = stub.GetClientConfig(pb.GetClientConfigRequest(player_id=OUT), timeout=10)
    # Out of starter_pack's rollout, the player gets the group's next campaign.
    assert list(outside.profile.active_campaigns) == ["daily_deal", "happy_hour"]
    assert _assignments(outside)[0] == (
        "mygame",
        "daily_deal",
        "",
        {"discount_percent": 20.0, "tags": ["deal"]},
    )
    # What is stored is the names, as always.
    stored = store.inner.get(OUT)
    assert stored is not None
    assert stored.active_campaigns == ("daily_deal", "happy_hour")


def test_a_game_filter_narrows_the_answer_and_its_assignments(
    stub: matcher_service_pb2_grpc.ProfileMatcherServiceStub, store: SpyStore
) -> None:
    answer = stub.GetClientConfig(
        pb.GetClientConfigRequest(player_id=IN, game="spacegame"), timeout=10
    )
    assert list(answer.profile.active_campaigns) == ["happy_hour"]
    assert [a[1] for a in _assignments(answer)] == ["happy_hour"]
    stored = store.inner.get(IN)
    assert stored is not None
    assert stored.active_campaigns == ("starter_pack", "happy_hour")


def test_batch_results_carry_their_assignments(
    stub: matcher_service_pb2_grpc.ProfileMatcherServiceStub,
) -> None:
    response = stub.BatchGetClientConfig(
        pb.BatchGetClientConfigRequest(player_ids=[OUT, "nobody", IN]), timeout=10
    )
    by_player = {r.player_id: r for r in response.results}
    assert [a[1] for a in _assignments(by_player[OUT])] == ["daily_deal", "happy_hour"]
    assert _assignments(by_player["nobody"]) == []
    assert by_player["nobody"].error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert _assignments(by_player[IN])[0][:3] == ("mygame", "starter_pack", _variant(IN)[0])


def test_match_profile_explains_with_buckets(
    stub: matcher_service_pb2_grpc.ProfileMatcherServiceStub,
) -> None:
    response = stub.MatchProfile(
        pb.MatchProfileRequest(profile=profile_pb2.Profile(player_id=OUT)), timeout=10
    )
    assert list(response.active_campaigns) == ["daily_deal", "happy_hour"]
    assert [a[1] for a in _assignments(response)] == ["daily_deal", "happy_hour"]
    explained = {e.campaign: e for e in response.explanations}
    rolled = bucket(rollout_salt("mygame", "starter_pack"), OUT)
    starter = explained["starter_pack"]
    assert (starter.outcome, starter.matcher) == (pb.OUTCOME_NOT_MATCHED, "rollout")
    assert starter.HasField("rollout_bucket")
    assert starter.rollout_bucket == rolled
    assert starter.reason == f"rollout: not in rollout (bucket {rolled:,} >= 50,000)"
    assert explained["night_raid"].reason == (
        "schedule: not live now, next live 2026-06-01 22:00 Europe/Paris"
    )
    assert not explained["daily_deal"].HasField("rollout_bucket")

    inside = stub.MatchProfile(
        pb.MatchProfileRequest(profile=profile_pb2.Profile(player_id=IN)), timeout=10
    )
    explained = {e.campaign: e for e in inside.explanations}
    starter = explained["starter_pack"]
    assert starter.outcome == pb.OUTCOME_MATCHED
    assert starter.variant == _variant(IN)[0]
    assert starter.variant_bucket == point(variant_salt("mygame", "starter_pack"), IN, 100)
    assert explained["daily_deal"].reason == "group: group popup full (taken by starter_pack)"


def test_a_dry_run_without_a_player_id_buckets_the_empty_string(
    stub: matcher_service_pb2_grpc.ProfileMatcherServiceStub,
) -> None:
    response = stub.MatchProfile(pb.MatchProfileRequest(profile=profile_pb2.Profile()), timeout=10)
    starter = next(e for e in response.explanations if e.campaign == "starter_pack")
    assert starter.rollout_bucket == bucket(rollout_salt("mygame", "starter_pack"), "")


def test_list_campaigns_sends_the_groups_and_every_new_field(
    campaign_service: CampaignServer,
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{campaign_service.port}") as channel:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        response = stub.ListCampaigns(campaign_service_pb2.ListCampaignsRequest(), timeout=10)
        page = stub.ListCampaigns(
            campaign_service_pb2.ListCampaignsRequest(game="spacegame", page_size=1), timeout=10
        )
    assert [(g.name, g.max_active, g.holdout_percent) for g in response.groups] == [
        ("popup", 1, 0.0)
    ]
    starter = next(c for c in response.campaigns if c.name == "starter_pack")
    assert starter.rollout.percent == 50
    assert [(v.name, v.weight) for v in starter.variants] == [("control", 50), ("cheaper", 50)]
    assert starter.group == "popup"
    happy = next(c for c in response.campaigns if c.name == "happy_hour")
    assert happy.schedule.cron == "0 13 * * *"
    assert happy.schedule.duration.ToTimedelta() == timedelta(hours=3)
    assert json_format.MessageToDict(happy.payload) == {"xp_multiplier": 2.0}
    # Paging and filters still work; every page carries the groups.
    assert [c.name for c in page.campaigns] == ["happy_hour"]
    assert page.next_page_token
    assert [g.name for g in page.groups] == ["popup"]
