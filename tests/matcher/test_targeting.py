"""Targeting end to end: the real campaign service reads a catalog with segments and
`where` (context included), the matcher follows it over gRPC and serves it, on every
store: GetClientConfig, the batch and MatchProfile (with the failing clause explained);
bad contexts and bad catalogs are refused and change nothing."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from profilematcher.campaigns.v1 import campaign_service_pb2, campaign_service_pb2_grpc
from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.campaigns import bootstrap as campaigns_bootstrap
from services.campaigns.bootstrap import start_campaign_server
from services.campaigns.errors import CatalogError
from services.campaigns.settings import CampaignSettings
from services.codecs.profile_message import profile_to_message
from services.domain.conditions import parse_condition
from services.domain.errors import DependencyUnavailable
from services.domain.profile_json import profile_from_document
from services.domain.timefmt import format_timestamp
from services.matcher.bootstrap import MatcherServer, start_matcher
from services.matcher.campaign_client import CampaignClient
from services.matcher.settings import MatcherSettings
from services.transport.grpc_server import ServerOptions
from tests.campaigns.conftest import POLL_INTERVAL, wait_until, write_atomically
from tests.matcher.conftest import io_settings
from tests.matcher.fakes import (
    NOW,
    CampaignServer,
    FakeCampaignService,
    SpyStore,
    sample_campaign,
)

Stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub
PLAYER = "97983be2-98b7-11e7-90cf-082e5f28d836"
LIVE = {
    "start_date": format_timestamp(NOW - timedelta(days=1)),
    "end_date": format_timestamp(NOW + timedelta(days=30)),
    "enabled": True,
}
# The sample player: level 3, CA, spent 400, last session in 2021, clan 123456,
# _customfield "mycustom", an iPhone.
CATALOG: dict[str, Any] = {
    "segments": {
        "spenders": {"total_spent": {"$gte": 100}},
        "lapsed": {"last_session": {"$lt": {"$ago": "14d"}}},
        "lapsed_spenders": {"$segment": "lapsed", "total_spent": {"$gte": 1000}},
    },
    "campaigns": [
        {
            "game": "mygame",
            "name": "come_back_offer",
            "priority": 30,
            "matchers": {
                "level": {"min": 1, "max": 30},
                "has": {"country": ["CA", "US"]},
                "where": {
                    "$segment": "lapsed",
                    "_customfield": {"$in": ["mycustom", "vip"]},
                    "context.app_version": {"$vgte": "2.3.0"},
                    "$or": [
                        {"clan.id": {"$exists": True}},
                        {"total_transactions": {"$gte": 3}},
                    ],
                },
            },
            **LIVE,
        },
        {
            "game": "mygame",
            "name": "whale_offer",
            "priority": 20,
            "matchers": {"where": {"$segment": "lapsed_spenders"}},
            **LIVE,
        },
        {
            "game": "mygame",
            "name": "everyone",
            "priority": 10,
            "matchers": {},
            **LIVE,
        },
    ],
}


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.json"
    write_atomically(path, CATALOG)
    return path


@pytest.fixture
def campaign_service(catalog_path: Path) -> Iterator[campaigns_bootstrap.CampaignServer]:
    running = start_campaign_server(
        CampaignSettings(
            catalog=catalog_path,
            host="127.0.0.1",
            port=0,
            poll_interval=POLL_INTERVAL,
            max_workers=8,
            max_watchers=4,
            grace_seconds=1.0,
        )
    )
    yield running
    running.stop(grace=0)


@pytest.fixture
def matcher(
    store: SpyStore, campaign_service: campaigns_bootstrap.CampaignServer
) -> Iterator[MatcherServer]:
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
def stub(matcher: MatcherServer) -> Iterator[Stub]:
    with grpc.insecure_channel(f"127.0.0.1:{matcher.port}") as channel:
        yield Stub(channel)


@pytest.fixture
def player(store: SpyStore, sample_profile_doc: dict[str, Any]) -> str:
    store.inner.create(profile_from_document(sample_profile_doc))
    return PLAYER


def _context(**values: Any) -> dict[str, struct_pb2.Value]:
    context: dict[str, struct_pb2.Value] = {}
    for key, value in values.items():
        context[key] = json_format.ParseDict(value, struct_pb2.Value())
    return context


def test_a_where_segment_and_context_campaign_is_served(stub: Stub, player: str) -> None:
    response = stub.GetClientConfig(
        pb.GetClientConfigRequest(player_id=player, context=_context(app_version="2.3.1"))
    )
    assert list(response.profile.active_campaigns) == ["come_back_offer", "everyone"]
    # An older app version, or none: the context clause fails.
    for context in (_context(app_version="2.2.9"), {}):
        response = stub.GetClientConfig(
            pb.GetClientConfigRequest(player_id=player, context=context)
        )
        assert list(response.profile.active_campaigns) == ["everyone"]


def test_the_context_never_reaches_the_stored_list(
    stub: Stub, player: str, store: SpyStore
) -> None:
    # Game servers on different app versions answer differently, and the stored list
    # stays what the profile alone qualifies for: written once, never again.
    for version in ("2.3.1", "2.2.9", "2.3.1", "v3", "1.0.0"):
        stub.GetClientConfig(
            pb.GetClientConfigRequest(player_id=player, context=_context(app_version=version))
        )
    stub.BatchGetClientConfig(
        pb.BatchGetClientConfigRequest(player_ids=[player], context=_context(app_version="v3"))
    )

    assert store.active_writes == [{player: ("everyone",)}]
    stored = store.inner.get(player)
    assert stored is not None
    assert stored.active_campaigns == ("everyone",)


def test_the_batch_takes_one_context_for_every_player(stub: Stub, player: str) -> None:
    response = stub.BatchGetClientConfig(
        pb.BatchGetClientConfigRequest(
            player_ids=[player, "nobody"], game="mygame", context=_context(app_version="v3")
        )
    )
    first, second = response.results
    assert list(first.profile.active_campaigns) == ["come_back_offer", "everyone"]
    assert second.error.code == grpc.StatusCode.NOT_FOUND.value[0]


def test_match_profile_explains_the_failing_clause(
    stub: Stub, sample_profile_doc: dict[str, Any]
) -> None:
    profile = profile_to_message(profile_from_document(sample_profile_doc))
    response = stub.MatchProfile(
        pb.MatchProfileRequest(profile=profile, context=_context(app_version="2.2"))
    )
    by_name = {e.campaign: e for e in response.explanations}
    offer = by_name["come_back_offer"]
    assert offer.outcome == pb.OUTCOME_NOT_MATCHED
    assert offer.matcher == "where"
    failure = offer.clause_failure
    assert (failure.path, failure.operator, failure.wanted, failure.found) == (
        "context.app_version",
        "$vgte",
        '"2.3.0"',
        '"2.2"',
    )
    assert failure.clause == "matchers.where.context.app_version.$vgte"
    assert "context.app_version $vgte" in offer.reason
    # Inside a segment inside a segment: the chain says which.
    whale = by_name["whale_offer"].clause_failure
    assert list(whale.segment_chain) == ["lapsed_spenders"]
    assert (whale.path, whale.operator, whale.found) == ("total_spent", "$gte", "400.0")
    assert by_name["everyone"].outcome == pb.OUTCOME_MATCHED
    assert not by_name["everyone"].HasField("clause_failure")
    assert list(response.active_campaigns) == ["everyone"]


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"app version": "1"}, 'context["app version"]'),
        ({"a.b": "1"}, 'context["a.b"]'),
        ({"": "1"}, 'context[""]'),
        ({"k" * 65: "1"}, f'context["{"k" * 65}"]'),
        ({"big": "x" * 2000}, 'context["big"]'),
        ({f"k{i}": i for i in range(33)}, "context"),
    ],
)
def test_a_bad_context_is_invalid_argument_naming_the_key(
    stub: Stub, store: SpyStore, player: str, context: dict[str, Any], field: str
) -> None:
    calls: list[Callable[[dict[str, struct_pb2.Value]], object]] = [
        lambda c: stub.GetClientConfig(pb.GetClientConfigRequest(player_id=player, context=c)),
        lambda c: stub.BatchGetClientConfig(
            pb.BatchGetClientConfigRequest(player_ids=[player], context=c)
        ),
        lambda c: stub.MatchProfile(pb.MatchProfileRequest(context=c)),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as info:
            call(_context(**context))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (info.value.details() or "").startswith(f"{field}: "), info.value.details()
    # Nothing was read, so nothing was written.
    assert store.inner.get(player).active_campaigns == ()  # type: ignore[union-attr]


def test_a_non_finite_context_number_is_refused(stub: Stub, player: str) -> None:
    context = {"score": struct_pb2.Value(number_value=float("nan"))}
    with pytest.raises(grpc.RpcError) as info:
        stub.GetClientConfig(pb.GetClientConfigRequest(player_id=player, context=context))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'context["score"]: numbers must be finite' in (info.value.details() or "")


def test_list_campaigns_sends_the_segments_in_use(
    campaign_service: campaigns_bootstrap.CampaignServer,
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{campaign_service.port}") as channel:
        stub = campaign_service_pb2_grpc.CampaignServiceStub(channel)
        response = stub.ListCampaigns(campaign_service_pb2.ListCampaignsRequest())
        assert [s.name for s in response.segments] == ["lapsed", "lapsed_spenders"]
        page = stub.ListCampaigns(campaign_service_pb2.ListCampaignsRequest(page_size=1))
        assert [c.name for c in page.campaigns] == ["come_back_offer"]
        assert [s.name for s in page.segments] == ["lapsed"]
        watch = stub.WatchCampaigns(campaign_service_pb2.WatchCampaignsRequest(), timeout=5)
        first = next(watch)
        watch.cancel()
        assert [s.name for s in first.segments] == ["lapsed", "lapsed_spenders"]


def _bad_catalog() -> dict[str, Any]:
    bad = copy.deepcopy(CATALOG)
    bad["campaigns"][2]["matchers"]["where"] = {"level": {"$gte": "3", "$foo": 1}}
    return bad


def test_a_catalog_with_a_bad_clause_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    write_atomically(path, _bad_catalog())
    settings = CampaignSettings(catalog=path, host="127.0.0.1", port=0)
    with pytest.raises(CatalogError) as info:
        start_campaign_server(settings)
    assert info.value.problems == [
        f"{path}: campaign #3 'everyone': matchers.where.level.$foo: unknown operator '$foo'"
        " (known: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $not, $elemMatch,"
        " $veq, $vne, $vgt, $vgte, $vlt, $vlte)"
    ]


def test_a_reload_with_a_bad_clause_keeps_the_last_good_catalog(
    stub: Stub,
    player: str,
    catalog_path: Path,
    campaign_service: campaigns_bootstrap.CampaignServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = pb.GetClientConfigRequest(player_id=player, context=_context(app_version="3"))
    before = stub.GetClientConfig(request).profile.active_campaigns
    version = stub.MatchProfile(pb.MatchProfileRequest()).catalog_version
    with caplog.at_level(logging.ERROR):
        write_atomically(catalog_path, _bad_catalog())
        wait_until(lambda: "not reloaded" in caplog.text)
    assert "campaign #3 'everyone': matchers.where.level.$foo" in caplog.text
    assert stub.MatchProfile(pb.MatchProfileRequest()).catalog_version == version
    assert stub.GetClientConfig(request).profile.active_campaigns == before


def test_a_catalog_the_matcher_cannot_read_fails_as_the_campaign_service() -> None:
    # A campaign whose `where` uses a segment the response does not carry (a campaign
    # service of another version, say): the matcher refuses the catalog whole, so the
    # cache keeps the last good one.
    where = parse_condition({"$segment": "x"}, segments={"x": {"level": 1}})
    server = CampaignServer(FakeCampaignService([sample_campaign(where=where)]))
    server.start()
    try:
        with (
            grpc.insecure_channel(server.target) as channel,
            pytest.raises(DependencyUnavailable) as info,
        ):
            CampaignClient(channel).fetch(None)
    finally:
        server.stop()
    assert info.value.public == "the campaign service sent a catalog this matcher cannot read"
    assert "unknown segment 'x'" in str(info.value)
