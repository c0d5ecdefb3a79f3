"""Real in-process servers on port 0, built the way the processes build theirs, on
each of the matcher's servers (--io aio and threads): every test that takes `serve`
runs on both, which is what shows that both apply the same TLS and token gates. The
campaign service has one server (threads): its tests take `serve_threads`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import grpc
import pytest

from services.matcher.aio_wiring import gates_of, placement
from services.matcher.bootstrap import MATCHER_SERVICE
from services.matcher.settings import IO_AIO, IO_MODES, IO_THREADS
from services.transport.aio_calls import CallWrapper
from services.transport.aio_server import AioRunningServer, Registrar
from services.transport.grpc_server import RunningServer, ServerOptions, create_server, start_server
from tests.security.pki import PKI, make_pki

# Registers servicers on a server and returns the names health and reflection announce.
Register = Callable[[grpc.Server], Sequence[str]]
Running = RunningServer | AioRunningServer
Serve = Callable[..., Running]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


def _nothing(_server: grpc.Server) -> Sequence[str]:
    return ()


def _options() -> ServerOptions:
    return ServerOptions(host="127.0.0.1", port=0, grace_seconds=0)


def _threaded(
    credentials: grpc.ServerCredentials | None,
    interceptors: Sequence[grpc.ServerInterceptor],
    register: Register,
) -> RunningServer:
    options = _options()
    server = create_server(options, interceptors=interceptors)
    names = register(server)
    return start_server(server, options, names, credentials=credentials)


def _aio(
    credentials: grpc.ServerCredentials | None,
    interceptors: Sequence[grpc.ServerInterceptor],
    register: Register,
) -> AioRunningServer:
    """As services/matcher/aio_wiring.py places the matcher's methods with the
    embedded store in memory: ProfileMatcherService inline on the loop, every other
    sync method on a pool; the interceptors become the wrapper's token gates."""
    options = _options()
    pool = ThreadPoolExecutor(options.max_workers, thread_name_prefix="grpc-worker")
    wrapper = CallWrapper(
        placement(MATCHER_SERVICE, None, pool),
        max_concurrent=options.max_concurrent_rpcs,
        max_message_bytes=options.max_message_bytes,
        gates=gates_of(interceptors),
    )
    # The generated registration functions want a grpc.Server; the registrar has the
    # two methods they call. A first registration only learns the names.
    names = register(cast(grpc.Server, Registrar(wrapper)))

    def registering(registrar: Registrar) -> None:
        register(cast(grpc.Server, registrar))

    running = AioRunningServer(options, names, [pool])
    running.start(options, wrapper, registering, credentials)
    return running


def _serving(io: str) -> Iterator[Serve]:
    started: list[Running] = []

    def start(
        *,
        credentials: grpc.ServerCredentials | None = None,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
        register: Register = _nothing,
    ) -> Running:
        build = _aio if io == IO_AIO else _threaded
        running = build(credentials, interceptors, register)
        running.set_serving(True)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(0)


@pytest.fixture(params=IO_MODES)
def io(request: pytest.FixtureRequest) -> str:
    """The matcher's server a test runs on (--io)."""
    mode: str = request.param
    return mode


@pytest.fixture
def serve(io: str) -> Iterator[Serve]:
    """Starts a server of the kind `io` names (health and reflection always on);
    every one is stopped after."""
    yield from _serving(io)


@pytest.fixture
def serve_threads() -> Iterator[Serve]:
    """As `serve`, on the threaded server only (the campaign service's one kind)."""
    yield from _serving(IO_THREADS)


def target(running: Running) -> str:
    return f"127.0.0.1:{running.port}"
