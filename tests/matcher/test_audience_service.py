"""AudienceService.EstimateAudience through real gRPC, on both stores (the embedded
store scans, MongoDB (mongomock) counts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from datetime import timedelta
from typing import Any

import grpc
import pytest

from profilematcher.campaigns.v1 import campaign_pb2, condition_pb2
from profilematcher.matcher.v1 import audience_service_pb2 as pb
from profilematcher.matcher.v1 import audience_service_pb2_grpc
from services.codecs.timestamps import timestamp_from_datetime
from services.domain.conditions import parse_condition
from services.domain.profile_json import profile_from_document
from services.matcher.audience import DEFAULT_MAX_AUDIENCE_COUNTS
from services.matcher.bootstrap import MatcherServer
from services.transport.campaign_messages import campaign_to_message
from services.transport.condition_messages import condition_to_message
from tests.matcher.conftest import start
from tests.matcher.fakes import NOW, CampaignServer, SpyStore, eventually, sample_campaign

Stub = audience_service_pb2_grpc.AudienceServiceStub

BIG_SPENDERS = parse_condition({"total_spent": {"$gte": 100}}, where="matchers.where")
ON_IOS = parse_condition(
    {"total_spent": {"$gte": 100}, "context.platform": "ios"}, where="matchers.where"
)


@pytest.fixture
def players(store: SpyStore, sample_profile_doc: dict[str, Any]) -> None:
    """Five players: the sample matches the sample campaign and spends 400; two more
    match it, one spending nothing; one is too high a level, one from elsewhere."""
    docs = [
        sample_profile_doc,
        {**sample_profile_doc, "player_id": "same"},
        {**sample_profile_doc, "player_id": "thrifty", "total_spent": 0},
        {**sample_profile_doc, "player_id": "too-high", "level": 9},
        {**sample_profile_doc, "player_id": "elsewhere", "country": "FR"},
    ]
    for doc in docs:
        store.inner.create(profile_from_document(doc))


@pytest.fixture
def stub(matcher: MatcherServer, campaigns: CampaignServer, players: None) -> Iterator[Stub]:
    campaigns.service.set_catalog(
        [
            sample_campaign(),
            sample_campaign(name="big_spenders", where=BIG_SPENDERS),
            sample_campaign(name="ios_spenders", where=ON_IOS, enabled=False),
        ],
        "v2",
    )
    eventually(lambda: _assert_version(matcher, "v2"))
    with grpc.insecure_channel(f"127.0.0.1:{matcher.port}") as channel:
        yield Stub(channel)


def _assert_version(matcher: MatcherServer, version: str) -> None:
    assert matcher.cache.current().version == version


def _of(name: str, game: str = "mygame") -> pb.EstimateAudienceRequest:
    return pb.EstimateAudienceRequest(catalog_campaign=pb.CampaignRef(game=game, name=name))


def _draft(**changes: Any) -> campaign_pb2.Campaign:
    return campaign_to_message(sample_campaign(**changes))


def test_a_catalog_campaign_counts_the_players_it_reaches(stub: Stub) -> None:
    response = stub.EstimateAudience(_of("mycampaign"))
    assert (response.matched, response.scanned, response.total) == (3, 5, 5)
    assert response.exact
    assert not response.unevaluable_clauses
    assert response.live
    assert response.catalog_version == "v2"
    assert response.at == timestamp_from_datetime(NOW)


def test_where_narrows_the_matchers(stub: Stub) -> None:
    response = stub.EstimateAudience(_of("big_spenders"))
    assert (response.matched, response.total) == (2, 5)
    assert response.exact


def test_context_clauses_are_reported_and_counted_as_if_they_held(stub: Stub) -> None:
    response = stub.EstimateAudience(_of("ios_spenders"))
    assert list(response.unevaluable_clauses) == ["matchers.where.context.platform"]
    assert not response.exact
    assert response.matched == 2  # as big_spenders: an upper bound
    assert not response.live  # disabled: reported, the count is the same


def test_at_sets_the_instant_and_liveness(stub: Stub) -> None:
    later = NOW + timedelta(days=60)
    response = stub.EstimateAudience(
        pb.EstimateAudienceRequest(
            catalog_campaign=pb.CampaignRef(game="mygame", name="mycampaign"),
            at=timestamp_from_datetime(later),
        )
    )
    assert not response.live
    assert response.at == timestamp_from_datetime(later)
    assert response.matched == 3


def test_a_draft_is_counted_with_the_segments_of_the_request(stub: Stub) -> None:
    draft = _draft(where=parse_condition({"$segment": "spenders"}, segments={"spenders": {}}))
    spenders = parse_condition({"total_spent": {"$gt": 0}})
    request = pb.EstimateAudienceRequest(
        draft=draft,
        segments=[condition_pb2.Segment(name="spenders", condition=condition_to_message(spenders))],
    )
    response = stub.EstimateAudience(request)
    assert (response.matched, response.total) == (2, 5)
    assert response.exact
    assert response.live
    assert response.catalog_version == "v2"


def test_a_draft_needs_no_name_and_reports_its_unevaluable_clauses(stub: Stub) -> None:
    draft = _draft(where=ON_IOS, enabled=False)
    draft.ClearField("name")
    draft.ClearField("game")
    response = stub.EstimateAudience(pb.EstimateAudienceRequest(draft=draft))
    assert list(response.unevaluable_clauses) == ["draft.where.context.platform"]
    assert response.matched == 2
    assert not response.live


def test_an_unknown_campaign_is_not_found(stub: Stub) -> None:
    for request in (_of("nope"), _of("mycampaign", game="othergame")):
        with pytest.raises(grpc.RpcError) as caught:
            stub.EstimateAudience(request)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "in the current catalog" in (caught.value.details() or "")


def _bad_where() -> campaign_pb2.Campaign:
    draft = _draft()
    clause = draft.where.clauses.add()
    clause.field.path = "level"
    test = clause.field.operators.tests.add(operator=condition_pb2.OPERATOR_GT)
    test.value.text = "x"
    clause = draft.where.clauses.add()
    clause.field.path = "credential"
    clause.field.equals.text = "secret"
    return draft


def _level_backwards() -> campaign_pb2.Campaign:
    draft = _draft()
    draft.matchers.level.min, draft.matchers.level.max = 5, 2
    return draft


def _no_end() -> campaign_pb2.Campaign:
    draft = _draft()
    draft.ClearField("end_date")
    return draft


def _unknown_segment() -> campaign_pb2.Campaign:
    draft = _draft()
    draft.where.clauses.add().segment = "nobody_defined_it"
    return draft


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.EstimateAudienceRequest(), "campaign"),
        (_of(name="x", game=""), "catalog_campaign.game"),
        (_of(name="", game="x"), "catalog_campaign.name"),
        (pb.EstimateAudienceRequest(draft=_bad_where()), "draft.where.credential"),
        (pb.EstimateAudienceRequest(draft=_level_backwards()), "draft.matchers.level"),
        (pb.EstimateAudienceRequest(draft=_no_end()), "draft.end_date"),
        (pb.EstimateAudienceRequest(draft=_unknown_segment()), "draft.where.$segment"),
    ],
)  # fmt: skip
def test_bad_input_is_invalid_argument_naming_the_field(
    stub: Stub, request_: pb.EstimateAudienceRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.EstimateAudience(request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith(f"{field}: ")


def test_a_store_that_cannot_count_is_unavailable(stub: Stub, store: SpyStore) -> None:
    store.down = True
    with pytest.raises(grpc.RpcError) as caught:
        stub.EstimateAudience(_of("mycampaign"))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_counts_beyond_the_limit_are_refused_at_once_and_the_slots_come_back(
    stub: Stub, store: SpyStore
) -> None:
    inside, release = threading.Semaphore(0), threading.Event()

    def hold() -> None:
        inside.release()
        release.wait(timeout=30)

    store.before_count.append(hold)
    with futures.ThreadPoolExecutor(max_workers=DEFAULT_MAX_AUDIENCE_COUNTS) as pool:
        running = [
            pool.submit(stub.EstimateAudience, _of("mycampaign"), timeout=30)
            for _ in range(DEFAULT_MAX_AUDIENCE_COUNTS)
        ]
        for _ in running:
            assert inside.acquire(timeout=30)
        try:
            with pytest.raises(grpc.RpcError) as caught:
                stub.EstimateAudience(_of("mycampaign"), timeout=30)
        finally:
            release.set()
        assert [f.result().matched for f in running] == [3] * DEFAULT_MAX_AUDIENCE_COUNTS
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-audience-counts" in (caught.value.details() or "")
    store.before_count.clear()
    assert stub.EstimateAudience(_of("mycampaign"), timeout=30).matched == 3


def test_it_is_a_read_that_needs_the_token(
    store: SpyStore, campaigns: CampaignServer, players: None
) -> None:
    server = start(store, campaigns, auth_token="s3cret-token-of-enough-length")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            guarded = Stub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                guarded.EstimateAudience(_of("mycampaign"))
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            response = guarded.EstimateAudience(
                _of("mycampaign"),
                metadata=(("authorization", "Bearer s3cret-token-of-enough-length"),),
            )
            assert response.matched == 3
    finally:
        server.stop(0)
