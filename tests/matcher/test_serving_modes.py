"""The two servers (--io aio and threads): choosing one, what both serve beside the
matcher's own services (health with its watch, the catalog health name, reflection),
and what the aio server refuses to run rather than run differently."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.matcher.aio_wiring import gates_of
from services.matcher.bootstrap import CATALOG_HEALTH, SERVICE_NAMES
from services.matcher.settings import IO_AIO, IO_THREADS, MatcherSettings, add_flags
from services.transport.aio_calls import CallWrapper
from services.transport.aio_server import Registrar
from services.transport.decoding import RequestDecodingInterceptor
from services.transport.grpc_server import ServerOptions
from services.transport.handlers import Handler
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore
from tests.rpc import bearer

TOKEN = "a-long-enough-test-token-123"
SERVING = health_pb2.HealthCheckResponse.SERVING


def _settings(*argv: str) -> MatcherSettings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return MatcherSettings.from_args(parser.parse_args(list(argv)))


def test_io_is_aio_by_default_and_set_by_flag_or_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _settings().io == IO_AIO
    assert _settings("--io", "threads").io == IO_THREADS
    monkeypatch.setenv("PROFILE_MATCHER_IO", "threads")
    assert _settings().io == IO_THREADS


def test_an_unknown_io_is_refused_naming_the_flag() -> None:
    with pytest.raises(ValueError, match=r"--io: want one of aio, threads, got 'uvloop'"):
        _settings("--io", "uvloop")


def test_health_watch_catalog_health_and_reflection_stay_open_with_a_token(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, auth_token=TOKEN)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", *SERVICE_NAMES, CATALOG_HEALTH):
                check = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
                assert check.status == SERVING, name
            watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=10)
            assert next(watch).status == SERVING
            watch.cancel()
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            answers = reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
            )
            listed = {s.name for s in next(answers).list_services_response.service}
            assert set(SERVICE_NAMES) <= listed
            # The matcher's own services want the token.
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            request = pb.GetClientConfigRequest(player_id=sample_player)
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetClientConfig(request, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            answer = stub.GetClientConfig(request, timeout=10, metadata=bearer(TOKEN))
            assert list(answer.profile.active_campaigns) == ["mycampaign"]
    finally:
        server.stop(0)


def test_the_aio_server_refuses_interceptors_it_cannot_apply() -> None:
    with pytest.raises(TypeError, match="cannot apply RequestDecodingInterceptor"):
        gates_of([RequestDecodingInterceptor()])


def _wrapper() -> CallWrapper:
    pool = ThreadPoolExecutor(1)
    return CallWrapper(lambda _method: pool, max_concurrent=4, max_message_bytes=1024)


def test_a_sync_response_stream_is_refused_on_the_aio_server() -> None:
    def stream(request: Any, context: Any) -> Any:
        yield request

    handler: Handler = grpc.unary_stream_rpc_method_handler(stream)
    with pytest.raises(TypeError, match=r"/s\.S/Stream: a sync server_stream needs a pool"):
        _wrapper().wrap("/s.S/Stream", handler)


def test_a_service_registered_only_as_a_generic_handler_is_refused() -> None:
    registrar = Registrar(_wrapper())
    method: Handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    registrar.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("s.S", {"M": method})])
    with pytest.raises(TypeError, match=r"'s\.S' was registered only as a generic handler"):
        registrar.check()


def _limited(store: SpyStore, campaigns: CampaignServer) -> Any:
    return start(
        store,
        campaigns,
        server=ServerOptions(
            host="127.0.0.1", port=0, grace_seconds=0, max_message_bytes=1024, max_concurrent_rpcs=2
        ),
    )


def test_a_streamed_request_over_the_limit_is_resource_exhausted_on_both_servers(
    store: SpyStore, campaigns: CampaignServer
) -> None:
    server = _limited(store, campaigns)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="x" * 1500)
            with pytest.raises(grpc.RpcError) as caught:
                list(reflection.ServerReflectionInfo(iter([request]), timeout=10))
    finally:
        server.stop(0)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "over this server's limit of 1024" in (caught.value.details() or "")


def test_health_watchers_never_take_the_places_of_calls_on_both_servers(
    store: SpyStore, campaigns: CampaignServer
) -> None:
    server = _limited(store, campaigns)  # two calls at once at most
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watches = []
            try:
                for _ in range(3):  # one after the other: each one set up, then the next
                    watches.append(health.Watch(health_pb2.HealthCheckRequest(), timeout=30))
                    assert next(watches[-1]).status == SERVING
                checked = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            finally:
                for watch in watches:
                    watch.cancel()
    finally:
        server.stop(0)
    assert checked.status == SERVING
