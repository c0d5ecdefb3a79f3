"""DedicatedPool: one service's unary calls on threads of their own, the rest untouched.

Also the guard on grpcio's `experimental_thread_pool` hook, which the pool relies on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from services.transport.grpc_server import ServerOptions, create_server
from services.transport.pools import DedicatedPool

OWN, OTHER = "test.Own", "test.Other"


def _thread_name(request: bytes, context: grpc.ServicerContext) -> bytes:
    return threading.current_thread().name.encode()


def _thread_names(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield threading.current_thread().name.encode()


def _service(name: str) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        name,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(_thread_name),
            "Stream": grpc.unary_stream_rpc_method_handler(_thread_names),
        },
    )


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    pool = DedicatedPool(OWN, 1, thread_name_prefix="own-pool")
    server = create_server(ServerOptions(host="127.0.0.1", port=0, max_workers=4), [pool])
    server.add_generic_rpc_handlers((_service(OWN), _service(OTHER)))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    server.stop(None).wait()
    pool.shutdown()


def _call(channel: grpc.Channel, service: str, method: str) -> Any:
    # No serializers: requests and responses travel as the raw bytes.
    call: Any = (channel.unary_unary if method == "Unary" else channel.unary_stream)(
        f"/{service}/{method}"
    )
    answer = call(b"", timeout=10)
    if method == "Unary":
        return answer.decode()
    return [part.decode() for part in answer]


def test_the_services_unary_calls_run_on_its_own_threads(channel: grpc.Channel) -> None:
    assert _call(channel, OWN, "Unary").startswith("own-pool")


def test_other_services_and_streams_stay_on_the_servers_pool(channel: grpc.Channel) -> None:
    assert _call(channel, OTHER, "Unary").startswith("grpc-worker")
    assert _call(channel, OWN, "Stream")[0].startswith("grpc-worker")


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        DedicatedPool(OWN, 0, thread_name_prefix="none")
