"""In-process matcher on port 0 with real channels, over each store backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import mongomock
import pytest

from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2_grpc
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import MatcherServer, start_matcher
from services.matcher.settings import MatcherSettings
from services.storage.mongo_store import MongoProfileStore
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions
from tests.matcher.fakes import NOW, CampaignServer, FakeCampaignService, SpyStore, sample_campaign


@pytest.fixture
def campaigns() -> Iterator[CampaignServer]:
    server = CampaignServer(FakeCampaignService([sample_campaign()]))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "mongodb"])
def store(request: pytest.FixtureRequest) -> Iterator[SpyStore]:
    if request.param == "sqlite":
        inner: Any = SQLiteProfileStore.in_memory()
    else:
        inner = MongoProfileStore(mongomock.MongoClient().db.profiles)
        inner.check_layout()
    spy = SpyStore(inner)
    yield spy
    spy.close()


@pytest.fixture
def sample_player(store: SpyStore, sample_profile_doc: dict[str, Any]) -> str:
    store.inner.create(profile_from_document(sample_profile_doc))
    player_id: str = sample_profile_doc["player_id"]
    return player_id


def start(store: SpyStore, campaigns: CampaignServer, **settings: Any) -> MatcherServer:
    return start_matcher(
        MatcherSettings(
            **{
                "server": ServerOptions(host="127.0.0.1", port=0, grace_seconds=0),
                "campaigns_target": campaigns.target,
                # Tests write without a token unless they are about the token.
                "allow_unauthenticated_writes": True,
                **settings,
            }
        ),
        store,
        clock=lambda: NOW,
    )


@pytest.fixture
def matcher(store: SpyStore, campaigns: CampaignServer) -> Iterator[MatcherServer]:
    server = start(store, campaigns)
    yield server
    server.stop(0)


@pytest.fixture
def channel(matcher: MatcherServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{matcher.port}") as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> matcher_service_pb2_grpc.ProfileMatcherServiceStub:
    return matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)


@pytest.fixture
def profiles(channel: grpc.Channel) -> profile_service_pb2_grpc.ProfileServiceStub:
    return profile_service_pb2_grpc.ProfileServiceStub(channel)
