"""The matcher's two ports on each of its servers (--io aio and threads): the metrics
endpoint counts the gRPC server's calls and closes with it; a port that is taken
stops the start with its name, leaving nothing running."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.observability.http import MetricsSettings
from services.transport.grpc_server import ServerOptions
from tests.matcher.conftest import start
from tests.matcher.fakes import CampaignServer, SpyStore, eventually
from tests.matcher.test_operations import channel_to
from tests.ports import free_port


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port: int = listener.getsockname()[1]
        yield port


def test_the_metrics_endpoint_counts_the_calls_and_closes_with_the_server(
    store: SpyStore, campaigns: CampaignServer, sample_player: str
) -> None:
    server = start(store, campaigns, metrics=MetricsSettings(port=free_port(), host="127.0.0.1"))
    assert server.metrics_server is not None
    url = server.metrics_server.url
    try:
        with channel_to(server) as channel:
            stub = matcher_service_pb2_grpc.ProfileMatcherServiceStub(channel)
            stub.GetClientConfig(pb.GetClientConfigRequest(player_id=sample_player), timeout=10)
        counted = [
            line
            for line in fetch(url).splitlines()
            if line.startswith("grpc_server_handled_total{")
            and 'grpc_method="GetClientConfig"' in line
            and 'grpc_code="OK"' in line
        ]
        assert [line.rpartition(" ")[2] for line in counted] == ["1.0"]
    finally:
        server.stop(0)
    with pytest.raises(urllib.error.URLError):
        fetch(url)


def test_a_metrics_port_in_use_stops_the_start_leaving_nothing_running(
    store: SpyStore, campaigns: CampaignServer, taken: int
) -> None:
    before = set(threading.enumerate())
    with pytest.raises(OSError, match=f"cannot bind metrics endpoint .*{taken}"):
        start(store, campaigns, metrics=MetricsSettings(port=taken, host="127.0.0.1"))
    # Neither the gRPC server nor its pools outlive the failed start.
    eventually(lambda: _no_threads_since(before))


def test_a_grpc_port_in_use_stops_the_start_leaving_nothing_running(
    store: SpyStore, campaigns: CampaignServer, taken: int
) -> None:
    before = set(threading.enumerate())
    options = ServerOptions(host="127.0.0.1", port=taken, grace_seconds=0)
    with pytest.raises(OSError, match=f"cannot bind 127.0.0.1:{taken}"):
        start(store, campaigns, server=options)
    eventually(lambda: _no_threads_since(before))


def _no_threads_since(before: set[threading.Thread]) -> None:
    # grpc.aio's poller thread is grpc's, one per process for the process's life,
    # started by the first aio server made in it (this test's, when it runs first).
    left = {
        thread
        for thread in set(threading.enumerate()) - before
        if not thread.name.endswith("(_poll_wrapper)")
    }
    assert not left, sorted(thread.name for thread in left)
