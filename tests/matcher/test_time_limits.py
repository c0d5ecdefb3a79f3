"""The store's time limit is a ceiling for every call, even against a locked file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from profilematcher.profiles.v1 import profile_service_pb2 as ppb
from profilematcher.profiles.v1 import profile_service_pb2_grpc
from services.codecs.profile_message import profile_to_message
from services.domain.profile_json import profile_from_document
from services.storage.sqlite_store import SQLiteProfileStore
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually

# The matcher's --timeout in these tests, and how long its answers may take at most:
# a write that queues behind another waiting one used to take twice the limit.
LIMIT = 3.0
ANSWERED_WITHIN = 1.8 * LIMIT


@pytest.fixture
def locked_file(tmp_path: Path) -> Iterator[tuple[SpyStore, sqlite3.Connection]]:
    """A file store, and another connection holding the file's write lock."""
    path = tmp_path / "profiles.db"
    store = SpyStore(SQLiteProfileStore.open(path, timeout=LIMIT))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield store, other
    other.execute("ROLLBACK")
    other.close()
    store.close()


def test_writes_against_a_locked_file_answer_within_the_limit_and_write_nothing(
    locked_file: tuple[SpyStore, sqlite3.Connection],
    campaigns: CampaignServer,
    sample_profile_doc: dict[str, Any],
) -> None:
    store, _ = locked_file
    sqlite = store.inner
    assert isinstance(sqlite, SQLiteProfileStore)
    server = start(store, campaigns)
    players = [f"player-{n}" for n in range(3)]
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = profile_service_pb2_grpc.ProfileServiceStub(channel)
            # No deadline of their own: only the matcher's limit can end these calls.
            calls = [_create(stub, sample_profile_doc, players[0])]
            # The others queue behind the first one, which waits for the file's lock.
            eventually(lambda: _assert(sqlite._db.write_lock.locked()))
            calls += [_create(stub, sample_profile_doc, player) for player in players[1:]]
            answered_by = time.monotonic() + ANSWERED_WITHIN
            for call in calls:
                try:
                    error = call.exception(timeout=max(0.0, answered_by - time.monotonic()))
                except grpc.FutureTimeoutError:
                    call.cancel()
                    pytest.fail("a write outlived the time limit")
                assert isinstance(error, grpc.Call)
                assert error.code() in (
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.UNAVAILABLE,
                ), error.details()
    finally:
        server.stop(0)
    for player in players:
        assert store.inner.get(player) is None


def _create(
    stub: profile_service_pb2_grpc.ProfileServiceStub, doc: dict[str, Any], player_id: str
) -> grpc.Future[Any]:
    profile = profile_to_message(profile_from_document({**doc, "player_id": player_id}))
    future: grpc.Future[Any] = stub.CreateProfile.future(ppb.CreateProfileRequest(profile=profile))
    return future


def _assert(condition: bool) -> None:
    assert condition
