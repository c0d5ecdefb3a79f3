"""The aio server with the in-memory store runs matching inline on its loop; a match
that writes back a player's active_campaigns would wait there for the store's write
lock while an import batch holds it, and every call on the loop would wait with it.
So while the lock is held, matching runs on the match pool."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.domain.profile_json import profile_from_document
from services.matcher.aio_wiring import write_in_progress
from services.matcher.settings import IO_AIO
from services.storage.sqlite_store import SQLiteProfileStore
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore


class WatchedWriteBacks(SpyStore):
    """Notes when a write-back of active_campaigns begins (`entered`, on its thread)
    and when it is done (`done`)."""

    def __init__(self, inner: SQLiteProfileStore) -> None:
        super().__init__(inner)
        self.entered = threading.Event()
        self.done = threading.Event()
        self.threads: list[str] = []

    def set_active_campaigns(
        self, updates: Mapping[str, Sequence[str]], *, timeout: float | None = None
    ) -> None:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        try:
            super().set_active_campaigns(updates, timeout=timeout)
        finally:
            self.done.set()


def test_a_write_back_waiting_for_an_import_batch_does_not_hold_the_loop(
    campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    inner = SQLiteProfileStore.in_memory()
    inner.create(profile_from_document(sample_profile_doc))  # no active campaigns yet
    store = WatchedWriteBacks(inner)
    server = start(store, campaigns, io=IO_AIO, store="")  # in memory: matching inline
    request = pb.GetClientConfigRequest(player_id=sample_profile_doc["player_id"])
    batch = contextlib.ExitStack()  # closing it ends the batch; a second close does nothing
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            # What an import batch holds while it writes.
            batch.enter_context(inner._db.write("import a batch (test)", None))
            matched = matcher_service_pb2_grpc.ProfileMatcherServiceStub(
                channel
            ).GetClientConfig.future(request, timeout=30)
            assert store.entered.wait(10)  # its write-back waits for the batch...
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            assert not store.done.is_set()  # ...and the loop answered meanwhile
            batch.close()
            answer = matched.result(timeout=10)
        assert list(answer.profile.active_campaigns) == ["mycampaign"]
        assert store.threads[0].startswith("match-worker")
        stored = inner.get(sample_profile_doc["player_id"])
        assert stored is not None
        assert stored.active_campaigns == ("mycampaign",)
    finally:
        batch.close()
        server.stop(0)
        store.close()


def test_with_no_write_in_progress_matching_stays_on_the_loop(
    campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    inner = SQLiteProfileStore.in_memory()
    inner.create(profile_from_document(sample_profile_doc))
    store = WatchedWriteBacks(inner)
    server = start(store, campaigns, io=IO_AIO, store="")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel).GetClientConfig(
                pb.GetClientConfigRequest(player_id=sample_profile_doc["player_id"]), timeout=10
            )
    finally:
        server.stop(0)
        store.close()
    assert store.threads == ["grpc-aio-loop"]


def test_write_in_progress_looks_through_wrappers_at_the_embedded_store() -> None:
    inner = SQLiteProfileStore.in_memory()
    writing = write_in_progress(SpyStore(SpyStore(inner)))
    assert not writing()
    with inner._db.write("hold (test)", None):
        assert writing()
    assert not writing()
    assert not write_in_progress(object())()
    inner.close()
