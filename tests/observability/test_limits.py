"""The concurrency and message size limits refuse with RESOURCE_EXHAUSTED inside the
interceptors, so grpc_server_* counts the refusals; every way a call ends gives its
slot back, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.matcher.bootstrap import SERVICE_NAMES
from services.observability.interceptor import MetricsInterceptor
from services.observability.metrics import Metrics
from services.profiles.servicer import ProfileServicer
from services.storage.sqlite_store import SQLiteProfileStore
from services.transport.grpc_server import ServerOptions, create_server, start_server
from tests.matcher.fakes import eventually
from tests.observability.test_interceptor import (
    PROFILES,
    TEST,
    Code,
    _test_service,
    handled,
    server_stream,
    started,
    unary,
)
from tests.rpc import code_of

LIMIT = 2
MAX_BYTES = 1024
DEADLINE = 10


@pytest.fixture
def channel(metrics: Metrics) -> Iterator[grpc.Channel]:
    # As many worker threads as the limit: a refusal must not wait for a free one.
    options = ServerOptions(
        host="127.0.0.1",
        port=0,
        max_workers=LIMIT,
        max_concurrent_rpcs=LIMIT,
        max_message_bytes=MAX_BYTES,
        grace_seconds=0,
    )
    store = SQLiteProfileStore.in_memory()
    server = create_server(options, interceptors=[MetricsInterceptor(metrics)])
    profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(ProfileServicer(store), server)
    server.add_generic_rpc_handlers((_test_service(),))
    running = start_server(server, options, SERVICE_NAMES)
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield channel
    running.stop(0)
    store.close()


def hold(channel: grpc.Channel, count: int) -> list[Any]:
    """`count` calls that stay in flight until cancelled."""
    return [unary(channel, "Wait").future(b"", timeout=DEADLINE) for _ in range(count)]


def refused_at_the_limit(channel: grpc.Channel, metrics: Metrics) -> bool:
    """Fills the limit with held calls; True if one more call is then refused."""
    before = handled(metrics, TEST, "Wait")
    held = hold(channel, LIMIT)
    try:
        eventually(lambda: _assert(started(metrics, TEST, "Wait") >= before + LIMIT))
        return code_of(lambda: unary(channel, "Wait")(b"", timeout=DEADLINE)) == (
            Code.RESOURCE_EXHAUSTED
        )
    finally:
        for call in held:
            call.cancel()
        eventually(lambda: _assert(handled(metrics, TEST, "Wait") == before + LIMIT + 1))


def total(channel: grpc.Channel) -> grpc.StreamUnaryMultiCallable[bytes, bytes]:
    return channel.stream_unary(f"/{TEST}/Sum")


def chat(channel: grpc.Channel) -> grpc.StreamStreamMultiCallable[bytes, bytes]:
    return channel.stream_stream(f"/{TEST}/Chat")


def _assert(condition: bool) -> None:
    assert condition


def test_a_call_over_the_limit_is_refused_at_once_and_counted(
    channel: grpc.Channel, metrics: Metrics
) -> None:
    held = hold(channel, LIMIT)
    eventually(lambda: _assert(started(metrics, TEST, "Wait") == LIMIT))
    with pytest.raises(grpc.RpcError) as info:
        next(server_stream(channel, "Count")(b"3", timeout=DEADLINE))
    assert info.value.code() == Code.RESOURCE_EXHAUSTED
    assert "limit" in (info.value.details() or "")
    assert handled(metrics, TEST, "Count", Code.RESOURCE_EXHAUSTED) == 1
    assert started(metrics, TEST, "Count") == 1
    for call in held:
        call.cancel()
    # The cancelled calls gave their slots back.
    assert eventually(lambda: list(server_stream(channel, "Count")(b"3", timeout=DEADLINE))) == [
        b"0",
        b"1",
        b"2",
    ]


def test_every_way_a_call_ends_gives_its_slot_back_once(
    channel: grpc.Channel, metrics: Metrics
) -> None:
    for _ in range(LIMIT + 1):
        code_of(lambda: unary(channel, "SetCode")(b"", timeout=DEADLINE))
        code_of(lambda: unary(channel, "Fail")(b"", timeout=DEADLINE))
        assert list(server_stream(channel, "Count")(b"2", timeout=DEADLINE)) == [b"0", b"1"]
        code_of(lambda: list(server_stream(channel, "CountThenAbort")(b"", timeout=DEADLINE)))
        code_of(lambda: list(server_stream(channel, "CountThenFail")(b"", timeout=DEADLINE)))
        forever = server_stream(channel, "Forever")(b"", timeout=DEADLINE)
        assert next(forever) == b"tick"
        forever.cancel()  # the client walks away from a stream
        assert total(channel)(iter([b"1", b"2"]), timeout=DEADLINE) == b"3"
        assert list(chat(channel)(iter([b"a"]), timeout=DEADLINE)) == [b"a"]
        code_of(lambda: unary(channel, "Count")(b"x" * (MAX_BYTES + 1), timeout=DEADLINE))
        # Cut off by grpc itself: the handler never runs, yet the slot comes back.
        code_of(lambda: unary(channel, "Count")(b"x" * (3 * MAX_BYTES), timeout=DEADLINE))
    eventually(lambda: _assert(handled(metrics, TEST, "Forever") == LIMIT + 1))
    # Neither leaked (a call would be refused early) nor given back twice (more
    # calls than the limit would be let in).
    assert refused_at_the_limit(channel, metrics)
    assert refused_at_the_limit(channel, metrics)


def test_an_oversized_request_is_refused_naming_the_limit_and_counted(
    channel: grpc.Channel, metrics: Metrics
) -> None:
    big = b"1" * (MAX_BYTES + 1)
    with pytest.raises(grpc.RpcError) as info:
        list(server_stream(channel, "Count")(big, timeout=DEADLINE))
    assert info.value.code() == Code.RESOURCE_EXHAUSTED
    assert info.value.details() == (
        f"request message is {MAX_BYTES + 1} bytes, over this server's limit of {MAX_BYTES}"
    )
    assert handled(metrics, TEST, "Count", Code.RESOURCE_EXHAUSTED) == 1
    # Within a request stream, with and without the servicers' error mapping.
    assert code_of(lambda: total(channel)(iter([b"1", big]), timeout=DEADLINE)) == (
        Code.RESOURCE_EXHAUSTED
    )
    assert handled(metrics, TEST, "Sum", Code.RESOURCE_EXHAUSTED) == 1
    assert code_of(lambda: list(chat(channel)(iter([big]), timeout=DEADLINE))) == (
        Code.RESOURCE_EXHAUSTED
    )
    assert handled(metrics, TEST, "Chat", Code.RESOURCE_EXHAUSTED) == 1
    profiles = profile_service_pb2_grpc.ProfileServiceStub(channel)
    profile = profile_pb2.Profile(player_id="big")
    profile.custom_fields["_blob"].string_value = "x" * MAX_BYTES
    with pytest.raises(grpc.RpcError) as error:
        profiles.ImportProfiles(iter([pb.ImportProfilesRequest(profile=profile)]), timeout=DEADLINE)
    assert error.value.code() == Code.RESOURCE_EXHAUSTED
    assert "over this server's limit" in (error.value.details() or "")
    assert handled(metrics, PROFILES, "ImportProfiles", Code.RESOURCE_EXHAUSTED) == 1
