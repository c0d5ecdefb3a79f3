"""Sync servicer calls on the aio server's thread pools: a call keeps its place under
the concurrency limit until its thread's work ends, however its client left; and a
call in flight when the server stops is answered. A health check is never refused for
the limit, on either server."""

from __future__ import annotations

import threading
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import MatcherServer
from services.matcher.settings import IO_AIO, IO_MODES
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions
from tests.matcher.conftest import HELD_READS, start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually
from tests.observability.conftest import value


class HeldReads:
    """Holds every read of `store` until `release`; `entered` is set by the first."""

    def __init__(self, store: SpyStore) -> None:
        self.entered = threading.Event()
        self._released = threading.Event()
        store.before_read.append(self._hold)

    def _hold(self) -> None:
        self.entered.set()
        assert self._released.wait(30)

    def release(self) -> None:
        self._released.set()


@pytest.fixture
def held_store(sample_profile_doc: dict[str, Any]) -> Any:
    store = SpyStore(SQLiteProfileStore.in_memory())
    store.inner.create(profile_from_document(sample_profile_doc))
    yield store
    store.close()


def _handled(server: MatcherServer, method: str, code: str) -> float:
    return value(
        server.metrics.registry, "grpc_server_handled_total", grpc_method=method, grpc_code=code
    )


def _health_code(channel: grpc.Channel) -> grpc.StatusCode:
    try:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return grpc.StatusCode.OK


def test_a_cancelled_pooled_call_keeps_its_place_until_its_thread_is_done(
    held_store: SpyStore, campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    options = ServerOptions(host="127.0.0.1", max_concurrent_rpcs=1, grace_seconds=0)
    server = start(held_store, campaigns, io=IO_AIO, server=options, **HELD_READS)
    reads = HeldReads(held_store)
    request = pb.GetClientConfigRequest(player_id=sample_profile_doc["player_id"])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            held = stub.GetClientConfig.future(request, timeout=30)
            assert reads.entered.wait(10)  # its thread works, in the store
            held.cancel()
            # The server has seen the client leave: the call is over for everyone...
            eventually(lambda: _assert(_handled(server, "GetClientConfig", "Canceled") == 1))
            # ...but its thread still works, and so it still holds the one place.
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetClientConfig(request, timeout=10)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            reads.release()  # the thread's work ends; its place is free again
            answer = eventually(lambda: stub.GetClientConfig(request, timeout=10))
            assert list(answer.profile.active_campaigns) == ["mycampaign"]
    finally:
        reads.release()
        server.stop(0)


def _assert(condition: bool) -> None:
    assert condition


@pytest.mark.parametrize("io", IO_MODES)
def test_a_health_check_is_answered_while_every_place_is_taken(
    io: str, held_store: SpyStore, campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    # A probe must tell a busy server from a dead one (limits.NEVER_SHED).
    options = ServerOptions(host="127.0.0.1", max_concurrent_rpcs=1, grace_seconds=0)
    server = start(held_store, campaigns, io=io, server=options, **HELD_READS)
    reads = HeldReads(held_store)
    request = pb.GetClientConfigRequest(player_id=sample_profile_doc["player_id"])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            held = stub.GetClientConfig.future(request, timeout=30)
            assert reads.entered.wait(10)  # the one place is taken
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetClientConfig(request, timeout=10)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert _health_code(channel) == grpc.StatusCode.OK
            reads.release()
            assert list(held.result(timeout=10).profile.active_campaigns) == ["mycampaign"]
    finally:
        reads.release()
        server.stop(0)


def test_a_pooled_call_in_flight_when_stop_begins_is_answered_ok(
    held_store: SpyStore, campaigns: CampaignServer, sample_profile_doc: dict[str, Any]
) -> None:
    options = ServerOptions(host="127.0.0.1", grace_seconds=30)
    server = start(held_store, campaigns, io=IO_AIO, server=options, **HELD_READS)
    reads = HeldReads(held_store)
    request = pb.GetClientConfigRequest(player_id=sample_profile_doc["player_id"])
    stopping = threading.Thread(target=server.stop, daemon=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            held = stub.GetClientConfig.future(request, timeout=30)
            assert reads.entered.wait(10)
            stopping.start()
            eventually(lambda: _assert(_refuses_new_calls(server)))  # the grace has begun
            reads.release()
            answer = held.result(timeout=30)
        assert list(answer.profile.active_campaigns) == ["mycampaign"]
        stopping.join(30)
        assert not stopping.is_alive()
    finally:
        reads.release()
        stopping.join(30)


def _refuses_new_calls(server: MatcherServer) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        return _health_code(channel) == grpc.StatusCode.UNAVAILABLE
