"""Real in-process servers on port 0, built the way the processes build theirs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from services.transport.grpc_server import RunningServer, ServerOptions, create_server, start_server
from tests.security.pki import PKI, make_pki

# Registers servicers on a server and returns the names health and reflection announce.
Register = Callable[[grpc.Server], Sequence[str]]
Serve = Callable[..., RunningServer]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


def _nothing(_server: grpc.Server) -> Sequence[str]:
    return ()


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Starts a server (health and reflection always on); every one is stopped after."""
    started: list[RunningServer] = []

    def start(
        *,
        credentials: grpc.ServerCredentials | None = None,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
        register: Register = _nothing,
    ) -> RunningServer:
        options = ServerOptions(host="127.0.0.1", port=0, grace_seconds=0)
        server = create_server(options, interceptors=interceptors)
        names = register(server)
        running = start_server(server, options, names, credentials=credentials)
        running.set_serving(True)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(0)


def target(running: RunningServer) -> str:
    return f"127.0.0.1:{running.port}"
