"""MetricsInterceptor on a real in-process server: the codes recorded are the ones
clients get, for every RPC shape, with the real ProfileService and a small raw-bytes
service whose handlers end every way a handler can."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.codecs.profile_message import profile_to_message
from services.domain.errors import StoredProfileCorrupt
from services.domain.profile import ServingRecord
from services.domain.profile_json import profile_from_document
from services.matcher.bootstrap import SERVICE_NAMES
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import GRPC_CODE_LABELS, Metrics
from services.observability.store import instrument_store
from services.profiles.servicer import ProfileServicer
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions, create_server, start_server
from tests.matcher.fakes import SpyStore, eventually
from tests.observability.conftest import value
from tests.rpc import code_of

PROFILES = "profilematcher.profiles.v1.ProfileService"
TEST = "test.v1.TestService"
HEALTH = "grpc.health.v1.Health"
Code = grpc.StatusCode


class BuggyStore(SpyStore):
    """Has a bug for player "bug": an exception no domain error explains."""

    def read_for_serving(
        self, player_ids: Sequence[str], *, timeout: float | None = None
    ) -> Mapping[str, ServingRecord[profile_pb2.Profile] | StoredProfileCorrupt]:
        if "bug" in player_ids:
            raise RuntimeError("a bug (test)")
        return super().read_for_serving(player_ids, timeout=timeout)


def _until_cancelled(context: grpc.ServicerContext) -> None:
    ended = threading.Event()
    context.add_callback(ended.set)
    ended.wait(timeout=10)


def _fail(request: bytes, context: grpc.ServicerContext) -> bytes:
    raise RuntimeError("escapes the handler (test)")


def _set_code(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.set_code(Code.FAILED_PRECONDITION)
    context.set_details("set, not aborted (test)")
    return b""


def _wait(request: bytes, context: grpc.ServicerContext) -> bytes:
    _until_cancelled(context)
    return b""


def _count(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    for i in range(int(request)):
        yield str(i).encode()


def _count_then_abort(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"0"
    context.abort(Code.RESOURCE_EXHAUSTED, "no more (test)")


def _count_then_fail(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"0"
    raise RuntimeError("mid-stream (test)")


def _forever(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"tick"
    _until_cancelled(context)
    yield b"never read"


def _sum(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    return str(sum(int(r) for r in requests)).encode()


def _chat(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
    yield from requests


def _test_service() -> grpc.GenericRpcHandler:
    singles: dict[str, Callable[..., Any]] = {"Fail": _fail, "SetCode": _set_code, "Wait": _wait}
    streams: dict[str, Callable[..., Any]] = {
        "Count": _count,
        "CountThenAbort": _count_then_abort,
        "CountThenFail": _count_then_fail,
        "Forever": _forever,
    }
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        name: grpc.unary_unary_rpc_method_handler(f) for name, f in singles.items()
    }
    handlers |= {name: grpc.unary_stream_rpc_method_handler(f) for name, f in streams.items()}
    handlers["Sum"] = grpc.stream_unary_rpc_method_handler(_sum)
    handlers["Chat"] = grpc.stream_stream_rpc_method_handler(_chat)
    return grpc.method_handlers_generic_handler(TEST, handlers)


@pytest.fixture
def store() -> Iterator[BuggyStore]:
    store = BuggyStore(SQLiteProfileStore.in_memory())
    yield store
    store.close()


@pytest.fixture
def channel(metrics: Metrics, store: BuggyStore) -> Iterator[grpc.Channel]:
    options = ServerOptions(host="127.0.0.1", port=0, grace_seconds=0)
    server = create_server(options, interceptors=[MetricsInterceptor(metrics)])
    profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(
        ProfileServicer(instrument_store(store, metrics)), server
    )
    server.add_generic_rpc_handlers((_test_service(),))
    running = start_server(server, options, SERVICE_NAMES)
    running.set_serving(True)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield channel
    running.stop(0)


@pytest.fixture
def profiles(channel: grpc.Channel) -> profile_service_pb2_grpc.ProfileServiceStub:
    return profile_service_pb2_grpc.ProfileServiceStub(channel)


@pytest.fixture
def sample(sample_profile_doc: dict[str, Any]) -> profile_pb2.Profile:
    return profile_to_message(profile_from_document(sample_profile_doc))


def handled(metrics: Metrics, service: str, method: str, code: Code | None = None) -> float:
    labels = {"grpc_service": service, "grpc_method": method}
    if code is not None:
        labels["grpc_code"] = GRPC_CODE_LABELS[code]
    return value(metrics.registry, "grpc_server_handled_total", **labels)


def started(metrics: Metrics, service: str, method: str) -> float:
    return value(
        metrics.registry, "grpc_server_started_total", grpc_service=service, grpc_method=method
    )


def timed(metrics: Metrics, service: str, method: str) -> float:
    """How many observations the latency histogram holds (never their values)."""
    return value(
        metrics.registry,
        "grpc_server_handling_seconds_count",
        grpc_service=service,
        grpc_method=method,
    )


def unary(channel: grpc.Channel, method: str) -> grpc.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(f"/{TEST}/{method}")


def server_stream(
    channel: grpc.Channel, method: str
) -> grpc.UnaryStreamMultiCallable[bytes, bytes]:
    return channel.unary_stream(f"/{TEST}/{method}")


def test_profile_service_codes(
    metrics: Metrics, profiles: profile_service_pb2_grpc.ProfileServiceStub, sample: Any
) -> None:
    profiles.CreateProfile(pb.CreateProfileRequest(profile=sample))
    profiles.GetProfile(pb.GetProfileRequest(player_id=sample.player_id))
    get = profiles.GetProfile
    assert code_of(lambda: get(pb.GetProfileRequest(player_id="nobody"))) == Code.NOT_FOUND
    assert code_of(lambda: get(pb.GetProfileRequest(player_id=""))) == Code.INVALID_ARGUMENT
    # mapped_errors turns the bug into INTERNAL with context.abort.
    assert code_of(lambda: get(pb.GetProfileRequest(player_id="bug"))) == Code.INTERNAL

    assert handled(metrics, PROFILES, "CreateProfile", Code.OK) == 1
    assert handled(metrics, PROFILES, "GetProfile", Code.OK) == 1
    assert handled(metrics, PROFILES, "GetProfile", Code.NOT_FOUND) == 1
    assert handled(metrics, PROFILES, "GetProfile", Code.INVALID_ARGUMENT) == 1
    assert handled(metrics, PROFILES, "GetProfile", Code.INTERNAL) == 1
    assert handled(metrics, PROFILES, "GetProfile") == 4
    assert value(metrics.registry, "grpc_server_handled_total", grpc_code="NotFound") == 1
    assert started(metrics, PROFILES, "GetProfile") == 4
    assert timed(metrics, PROFILES, "GetProfile") == 4
    assert (
        value(
            metrics.registry,
            "grpc_server_handled_total",
            grpc_type="unary",
            grpc_service=PROFILES,
            grpc_method="GetProfile",
            grpc_code="OK",
        )
        == 1
    )


def test_dependency_down_is_unavailable(
    metrics: Metrics,
    profiles: profile_service_pb2_grpc.ProfileServiceStub,
    store: BuggyStore,
) -> None:
    store.down = True
    request = pb.GetProfileRequest(player_id="p1")
    assert code_of(lambda: profiles.GetProfile(request)) == Code.UNAVAILABLE
    assert handled(metrics, PROFILES, "GetProfile", Code.UNAVAILABLE) == 1


def test_client_stream_import(
    metrics: Metrics, profiles: profile_service_pb2_grpc.ProfileServiceStub, sample: Any
) -> None:
    report = profiles.ImportProfiles(iter([pb.ImportProfilesRequest(profile=sample)] * 2))
    assert report.created + report.updated == 2
    assert handled(metrics, PROFILES, "ImportProfiles", Code.OK) == 1
    assert value(metrics.registry, "grpc_server_started_total", grpc_type="client_stream") == 1


def test_exception_escaping_the_handler_is_unknown(metrics: Metrics, channel: grpc.Channel) -> None:
    fail = unary(channel, "Fail")
    assert code_of(lambda: fail(b"")) == Code.UNKNOWN
    assert handled(metrics, TEST, "Fail", Code.UNKNOWN) == 1
    assert timed(metrics, TEST, "Fail") == 1


def test_code_set_without_abort(metrics: Metrics, channel: grpc.Channel) -> None:
    set_code = unary(channel, "SetCode")
    assert code_of(lambda: set_code(b"")) == Code.FAILED_PRECONDITION
    assert handled(metrics, TEST, "SetCode", Code.FAILED_PRECONDITION) == 1


def test_server_stream_is_recorded_when_it_ends(metrics: Metrics, channel: grpc.Channel) -> None:
    count = server_stream(channel, "Count")
    assert list(count(b"3")) == [b"0", b"1", b"2"]
    assert handled(metrics, TEST, "Count", Code.OK) == 1
    assert value(metrics.registry, "grpc_server_started_total", grpc_type="server_stream") == 1
    assert timed(metrics, TEST, "Count") == 1


def test_server_stream_abort_and_exception(metrics: Metrics, channel: grpc.Channel) -> None:
    aborting = server_stream(channel, "CountThenAbort")
    failing = server_stream(channel, "CountThenFail")
    assert code_of(lambda: list(aborting(b""))) == Code.RESOURCE_EXHAUSTED
    assert code_of(lambda: list(failing(b""))) == Code.UNKNOWN
    assert handled(metrics, TEST, "CountThenAbort", Code.RESOURCE_EXHAUSTED) == 1
    assert handled(metrics, TEST, "CountThenFail", Code.UNKNOWN) == 1


def test_client_and_bidi_streams(metrics: Metrics, channel: grpc.Channel) -> None:
    total: grpc.StreamUnaryMultiCallable[bytes, bytes] = channel.stream_unary(f"/{TEST}/Sum")
    chat: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(f"/{TEST}/Chat")
    assert total(iter([b"1", b"2"])) == b"3"
    assert list(chat(iter([b"a", b"b"]))) == [b"a", b"b"]
    assert handled(metrics, TEST, "Sum", Code.OK) == 1
    assert handled(metrics, TEST, "Chat", Code.OK) == 1
    assert value(metrics.registry, "grpc_server_started_total", grpc_type="bidi_stream") == 1


def test_stream_cancelled_by_the_client(metrics: Metrics, channel: grpc.Channel) -> None:
    forever = server_stream(channel, "Forever")
    call = forever(b"")
    assert next(call) == b"tick"
    call.cancel()
    eventually(lambda: _expect(handled(metrics, TEST, "Forever", Code.CANCELLED) == 1))
    assert handled(metrics, TEST, "Forever") == 1


def test_deadline_passing_while_the_handler_runs(metrics: Metrics, channel: grpc.Channel) -> None:
    wait = unary(channel, "Wait")
    # Connected first, so that the deadline passes in the handler, not before it runs.
    grpc.channel_ready_future(channel).result(timeout=10)
    assert code_of(lambda: wait(b"", timeout=1.0)) == Code.DEADLINE_EXCEEDED
    eventually(lambda: _expect(handled(metrics, TEST, "Wait", Code.DEADLINE_EXCEEDED) == 1))
    assert handled(metrics, TEST, "Wait") == 1


def test_health_check_and_non_blocking_watch(metrics: Metrics, channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    health.Check(health_pb2.HealthCheckRequest())
    assert handled(metrics, HEALTH, "Check", Code.OK) == 1
    # Watch is an experimental_non_blocking handler: this only works if the wrapper
    # kept that hint (grpc would call it with the wrong arguments otherwise).
    watch = health.Watch(health_pb2.HealthCheckRequest())
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
    eventually(lambda: _expect(handled(metrics, HEALTH, "Watch", Code.CANCELLED) == 1))


def test_unknown_methods_are_not_recorded(metrics: Metrics, channel: grpc.Channel) -> None:
    missing = unary(channel, "NoSuchMethod")
    assert code_of(lambda: missing(b"")) == Code.UNIMPLEMENTED
    assert value(metrics.registry, "grpc_server_started_total", grpc_method="NoSuchMethod") == 0


def _expect(condition: bool) -> None:
    assert condition
