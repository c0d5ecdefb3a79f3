"""In-process matcher on port 0 with real channels, over each store backend and on
each server (--io threads and aio): every test that takes `store` runs on both, which
is what shows the two serve alike."""

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
from services.matcher.settings import IO_AIO, IO_MODES, MatcherSettings
from services.storage.mongo_store import MongoProfileStore
from services.storage.sqlite_store import SQLiteProfileStore
from services.storage.wrapper import StoreWrapper
from services.transport.grpc_server import ServerOptions
from tests.matcher.fakes import NOW, CampaignServer, SpyStore

# The server `start` builds when a test names none; the `io` fixture sets it.
_io = [IO_MODES[0]]


@pytest.fixture(params=IO_MODES)
def io(request: pytest.FixtureRequest) -> Iterator[str]:
    mode: str = request.param
    _io[0] = mode
    yield mode
    _io[0] = IO_MODES[0]


def store_uri(store: Any) -> str:
    """The URI `store` would have been opened from, as far as the aio server cares:
    it runs reads of the in-memory store (empty) inline, others on a pool."""
    while isinstance(store, StoreWrapper):
        store = store.inner
    if isinstance(store, MongoProfileStore):
        return "mongodb://mongomock.test/profiles"
    if isinstance(store, SQLiteProfileStore) and not store._db._is_memory:
        return "profiles.db"
    return ""


@pytest.fixture(params=["sqlite", "mongodb"])
def store(request: pytest.FixtureRequest, io: str) -> Iterator[SpyStore]:
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


# For tests that hold reads inside the store: a store that can wait, which the aio
# server reads on its pool (inline, one held read would hold its whole loop).
HELD_READS = {"store": "held-reads.db"}


def io_settings(store: Any) -> dict[str, Any]:
    """The settings that put a matcher over `store` on the server the `io` fixture
    picked."""
    if _io[0] == IO_AIO:
        return {"io": IO_AIO, "store": store_uri(store)}
    return {"io": _io[0]}


def start(backend: SpyStore, campaigns: CampaignServer, /, **settings: Any) -> MatcherServer:
    """A matcher over `backend`, on the server the `io` fixture picked unless `io` is
    given; with aio, `backend` is described by its URI unless a test names `store`."""
    settings = {**io_settings(backend), **settings}
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
        backend,
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
